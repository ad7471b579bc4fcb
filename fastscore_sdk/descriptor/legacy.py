"""The pre-1.2 descriptor format, read-only: recognise it and convert it to 1.2 (reference §1.12).

Before 1.2 a descriptor was lowercase, with the transport's fields under ``connect``::

    {"type": "kafka", "loop": true, "schema": "int",
     "connect": {"bootstrap-servers": "localhost:9092", "topic": "t", "commit": false}}

It is accepted with a deprecation warning and converted; it is never written back. A pre-1.2
descriptor with no encoding is read as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import FastScoreDeprecationWarning
from .deprecation import _stacklevel
from .fields import TOP_FIELDS, TRANSPORT_FIELDS, TRANSPORT_TYPE_ALIASES, fold, lookup
from .jsonio import copy_json

__all__ = ["from_legacy", "is_legacy"]

# Pre-1.2 ``connect`` keys whose 1.2 name is not just the key in CamelCase.
_CONNECT_RENAMES = {"commit": "CommitOffset", "servers": "BootstrapServers", "command": "Run"}


def is_legacy(desc: Any) -> bool:
    """Whether ``desc`` is a pre-1.2 descriptor (a top-level ``type`` or ``connect``, no ``Transport``).

    Examples
    --------
    >>> is_legacy({"type": "file", "connect": {"path": "/d/x.jsons"}})
    True
    >>> is_legacy({"Transport": {"Type": "file", "Path": "/d/x.jsons"}})
    False
    """
    if not isinstance(desc, Mapping):
        return False
    keys = {fold(k) for k in desc}
    return "transport" not in keys and bool(keys & {"type", "connect"})


def _camel(key: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in key.replace("_", "-").split("-") if part)


def from_legacy(desc: Mapping[str, Any], *, warn: bool = True) -> dict[str, Any]:
    """Convert a pre-1.2 descriptor to the 1.2 form (a new dict; ``desc`` is not changed).

    Examples
    --------
    >>> from_legacy({"type": "kafka", "loop": True, "schema": "int",
    ...              "connect": {"bootstrap-servers": "localhost:9092", "topic": "t", "commit": False}},
    ...             warn=False)  # doctest: +NORMALIZE_WHITESPACE
    {'Transport': {'Type': 'kafka', 'BootstrapServers': ['localhost:9092'], 'Topic': 't',
                   'CommitOffset': False}, 'Loop': True, 'Schema': 'int', 'Encoding': 'json'}
    """
    if warn:
        import warnings

        warnings.warn(
            "stream descriptor: the pre-1.2 format (lowercase 'type' and 'connect') is deprecated; "
            "it was converted to 1.2: write {'Transport': {'Type': ..., <fields>}, ...}",
            FastScoreDeprecationWarning,
            stacklevel=_stacklevel(),
        )
    transport: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for key, value in desc.items():
        folded = fold(key)
        if folded == "type":
            transport = {"Type": copy_json(value), **transport}
        elif folded == "connect" and isinstance(value, Mapping):
            kind = fold(desc.get("type") or desc.get("Type"))
            kind = TRANSPORT_TYPE_ALIASES.get(kind, kind)
            known = TRANSPORT_FIELDS.get(kind, ())
            for ckey, cvalue in value.items():
                if not isinstance(ckey, str):
                    transport[ckey] = copy_json(cvalue)
                    continue
                name = _CONNECT_RENAMES.get(fold(ckey)) or lookup(ckey, known) or _camel(ckey)
                if name == "BootstrapServers" and isinstance(cvalue, str):
                    cvalue = [s.strip() for s in cvalue.split(",") if s.strip()]
                transport[name] = copy_json(cvalue)
        else:
            name = lookup(key, TOP_FIELDS) if isinstance(key, str) else None
            rest[name or key] = copy_json(value)
    if "Encoding" not in rest:
        # Pre-1.2 streams carried JSON (encodings came with 1.2); without this, a schema such as "int"
        # would fall foul of the rule for raw-bytes streams.
        rest["Encoding"] = "json"
    return {"Transport": transport, **rest}
