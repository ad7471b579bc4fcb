"""Stream descriptors: parse, normalise, interpret, check and redact them. Pure code, no I/O.

A descriptor travels in three forms:

* **as written**: the JSON a user wrote, aliases and typos included (``Stream.desc``), or a literal
  such as ``kafka:broker:9092/input.json`` expanded by :func:`from_literal`;
* **normalised** (:func:`normalize`): the same descriptor with canonical names and expanded shortcuts;
* **interpreted** (:func:`interpret`): reference §1.9's snake_case form with every default applied and
  every rule checked, what ``verify`` returns and what transports and codecs are built from.

Examples
--------
>>> from fastscore_sdk import descriptor
>>> desc = descriptor.from_literal("udp::9099")
>>> desc["Transport"]
{'Type': 'UDP', 'BindTo': '0.0.0.0', 'Port': 9099}
>>> descriptor.interpret(desc)["envelope"] is None
True
>>> [p.code for p in descriptor.check({"Transport": "REST", "Loop": True})]
['FS-D001']
"""

from __future__ import annotations

from .fields import TRANSPORT_TYPES, snake_case
from .interpret import check, interpret, parse
from .jsonio import from_json, to_json
from .legacy import from_legacy, is_legacy
from .literal import LITERAL_EXAMPLES, from_literal, is_literal
from .normalize import normalize
from .redact import REDACTED, has_plaintext_secrets, has_redacted_values, redact
from .rules import FIELD_RULES, RULES, evaluate
from .traits import TRAITS, Traits, traits_of

__all__ = [
    "FIELD_RULES",
    "LITERAL_EXAMPLES",
    "REDACTED",
    "RULES",
    "TRAITS",
    "TRANSPORT_TYPES",
    "Traits",
    "check",
    "evaluate",
    "from_json",
    "from_legacy",
    "from_literal",
    "has_plaintext_secrets",
    "has_redacted_values",
    "interpret",
    "is_legacy",
    "is_literal",
    "normalize",
    "parse",
    "redact",
    "snake_case",
    "to_json",
    "traits_of",
]
