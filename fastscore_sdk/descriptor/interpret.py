"""The interpreted descriptor (reference §1.9): snake_case, every default applied, every rule checked.

This is what ``stream verify`` prints and what the code that opens transports and builds codecs reads:

.. code-block:: python

    {"transport": {"type": "file", "path": "/data/in.jsons"},   # type lowercase, keys snake_case
     "loop": True, "skip_to": None, "skip_to_record": None, "end_marker": "$end-of-stream",
     "envelope": {"type": "delimited", "separator": "\\n"},     # None or a dict
     "encoding": "json",                                        # None, a name, or the csv dict
     "schema": None,                                            # None, Avro, {"$ref": ...}, "$inherit"
     "batching": {"watermark": 1000, "nagle_time": 500},
     "linger_time": 3000}

Any other top-level field as written (``Version``, ``Description``, ``Rotate``, ...) follows, snake_cased,
with its value as written. Secrets show as ``*****`` unless asked for with ``reveal_secrets=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import secrets
from ..errors import DescriptorError, Problem
from . import defaults as dflt
from .fields import ENVELOPES, TOP_FIELDS, TRANSPORT_FIELDS, snake_case
from .jsonio import copy_json, from_json
from .literal import from_literal
from .normalize import canonical_transport_type, normalize
from .rules import evaluate
from .traits import TRAITS, Traits, traits_of

__all__ = ["check", "interpret", "parse"]

#: A function from a schema name to its Avro schema (a JSON value); it raises KeyError or returns None
#: when there is no such schema.
SchemaResolver = Callable[[str], Any]


def parse(text: str) -> dict[str, Any]:
    """A descriptor from text: a literal (``kafka:b:9092/t.json``) or JSON (``{"Transport": ...}``).

    Raises
    ------
    DescriptorError
        ``FS-L00x`` for a bad literal, ``FS-D033``/``FS-D030`` for bad JSON.

    Examples
    --------
    >>> parse("rest:")
    {'Transport': 'REST', 'Encoding': 'json'}
    >>> parse('{"Transport": "discard"}')
    {'Transport': 'discard'}
    """
    # No literal starts with a JSON opening character, so the first one decides.
    if isinstance(text, str) and text.strip()[:1] in ("{", "[", '"'):
        return from_json(text)
    return from_literal(text)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _rest_keys(value: Mapping[Any, Any], skip: set[Any], out: dict[Any, Any]) -> None:
    """Copy the keys of ``value`` that are not in ``skip`` to ``out``, snake_cased (unknown fields)."""
    for key, item in value.items():
        if key in skip:
            continue
        name = snake_case(key) if isinstance(key, str) else key
        out.setdefault(name, copy_json(item))


def _transport(value: Any) -> tuple[Any, str | None]:
    """(interpreted transport, known interpreted type or None)."""
    if not isinstance(value, Mapping):
        return copy_json(value), None
    written_type = value.get("Type")
    kind = canonical_transport_type(written_type)
    known = kind if isinstance(kind, str) and kind in TRAITS else None
    out: dict[Any, Any] = {"type": kind.lower() if isinstance(kind, str) else copy_json(kind)}
    fields = TRANSPORT_FIELDS.get(known, ()) if known else ()
    defaults = dflt.TRANSPORT_DEFAULTS.get(known, {}) if known else {}
    for name in fields:
        key = snake_case(name)
        if name in value:
            out[key] = copy_json(value[name])
        elif key in defaults:
            out[key] = copy_json(defaults[key])
    _rest_keys(value, {"Type", *fields}, out)
    if known == "rest":
        out["mode"] = _lower(out.get("mode"))
    if known in ("kafka", "kafka-offset") and isinstance(out.get("bootstrap_servers"), str):
        # A comma-separated string (the pre-1.2 form, and what Kafka clients take) is read as a list.
        out["bootstrap_servers"] = [s.strip() for s in out["bootstrap_servers"].split(",") if s.strip()]
    if known == "hdfs" and isinstance(value.get("Authentication"), Mapping):
        auth: dict[Any, Any] = {}
        _rest_keys(value["Authentication"], set(), auth)
        for key, default in dflt.HDFS_AUTH_DEFAULTS.items():
            auth.setdefault(key, default)
        out["authentication"] = auth
    return out, known


def _encoding(value: Any) -> Any:
    if isinstance(value, str):
        if value == "csv":
            return {"type": "csv", **dflt.CSV_ENCODING_DEFAULTS}
        return value
    if isinstance(value, Mapping):
        kind = value.get("Type")
        if kind == "csv":
            out: dict[Any, Any] = {"type": "csv"}
            out["quote_character"] = copy_json(
                value.get("QuoteCharacter", dflt.CSV_ENCODING_DEFAULTS["quote_character"])
            )
            out["delimiter"] = copy_json(value.get("Delimiter", dflt.CSV_ENCODING_DEFAULTS["delimiter"]))
            _rest_keys(value, {"Type", "QuoteCharacter", "Delimiter"}, out)
            return out
        if isinstance(kind, str) and set(value) == {"Type"}:
            return kind
        out = {"type": copy_json(kind)} if "Type" in value else {}
        _rest_keys(value, {"Type"}, out)
        return out
    return copy_json(value)


def _envelope(value: Any) -> Any:
    if isinstance(value, str):
        # Known names were expanded to objects by normalize; this one is unknown (reported by the rules).
        return {"type": value}
    if not isinstance(value, Mapping):
        return copy_json(value)
    kind = value.get("Type")
    fields: dict[Any, Any] = {}
    _rest_keys(value, {"Type"}, fields)
    if "compress" in fields:
        fields["compress"] = _lower(fields["compress"])
    if isinstance(kind, str) and kind in ENVELOPES:
        return dflt.envelope_with_defaults(kind, fields)
    return {"type": copy_json(kind), **fields} if "Type" in value else fields


def _batching(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return copy_json(value)
    out: dict[Any, Any] = {
        "watermark": copy_json(value.get("Watermark", dflt.BATCHING_NORMAL["watermark"])),
        "nagle_time": copy_json(value.get("NagleTime", dflt.BATCHING_NORMAL["nagle_time"])),
    }
    _rest_keys(value, {"Watermark", "NagleTime"}, out)
    return out


def _schema(value: Any, resolve_schema: SchemaResolver | None, problems: list[Problem]) -> Any:
    if not (isinstance(value, Mapping) and "$ref" in value):
        return copy_json(value)
    name = value["$ref"]
    if not isinstance(name, str) or not name:
        problems.append(
            Problem(
                "FS-D018",
                "Schema.$ref",
                "Schema.$ref must be a schema name (a non-empty string)",
                'write e.g. "Schema": {"$ref": "iris_input"}',
            )
        )
        return copy_json(value)
    if resolve_schema is None:
        return copy_json(value)
    try:
        resolved = resolve_schema(name)
    except LookupError:
        resolved = None
    if resolved is None:
        problems.append(
            Problem(
                "FS-D027",
                "Schema.$ref",
                f"schema reference not found: {name!r}",
                f"add a schema named {name!r} to the library, or correct the name",
            )
        )
        return copy_json(value)
    return resolved


def _skip_to_record(value: Any) -> Any:
    return value.lower() if isinstance(value, str) and value.lower() in ("earliest", "latest") else value


def _build(
    norm: Mapping[str, Any], slot: Any, resolve_schema: SchemaResolver | None, problems: list[Problem]
) -> dict[str, Any]:
    transport, kind = _transport(norm.get("Transport"))
    encoding = _encoding(norm.get("Encoding"))
    valid_slot = slot if isinstance(slot, int) and not isinstance(slot, bool) and slot >= 0 else None
    traits: Traits | None = traits_of(transport) if kind is not None else None
    loop = copy_json(norm["Loop"]) if "Loop" in norm else dflt.default_loop(kind, valid_slot)
    encoding_name = encoding.get("type") if isinstance(encoding, Mapping) else encoding
    form: dict[str, Any] = {
        "transport": transport,
        "loop": loop,
        "skip_to": copy_json(norm.get("SkipTo")),
        "skip_to_record": _skip_to_record(copy_json(norm["SkipToRecord"]))
        if "SkipToRecord" in norm
        else dflt.default_skip_to_record(kind, loop),
        "end_marker": copy_json(norm["EndMarker"])
        if "EndMarker" in norm
        else dflt.default_end_marker(encoding_name),
        "envelope": _envelope(norm["Envelope"])
        if "Envelope" in norm
        else dflt.default_envelope(traits, encoding),
        "encoding": encoding,
        "schema": _schema(norm.get("Schema"), resolve_schema, problems),
        "batching": _batching(norm["Batching"]) if "Batching" in norm else dict(dflt.BATCHING_NORMAL),
        "linger_time": copy_json(norm["LingerTime"]) if "LingerTime" in norm else dflt.LINGER_TIME,
    }
    handled = set(TOP_FIELDS) - {"Version", "Description"}
    _rest_keys(norm, handled, form)
    return form


def _reveal(transport: Any) -> Any:
    """The transport with references resolved and plaintext secrets wrapped so their repr hides them."""
    resolved = secrets.resolve_tree(transport)

    def wrap(value: Any, key: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: wrap(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [wrap(v, None) for v in value]
        if isinstance(value, str) and not isinstance(value, secrets.Secret):
            hidden = secrets.is_secret_key(key) or secrets.redact_connection_string(value) != value
            if hidden or secrets.redact_url(value) != value:
                return secrets.Secret(value)
        return value

    return wrap(resolved, None)


def _scrubbed(problems: list[Problem], hidden: list[str]) -> list[Problem]:
    if not hidden:
        return problems
    return [
        Problem(p.code, p.field, secrets.scrub(p.message, hidden), secrets.scrub(p.fix, hidden))
        for p in problems
    ]


def _run(
    desc: Mapping[str, Any] | str,
    *,
    slot: Any,
    resolve_schema: SchemaResolver | None,
    reveal_secrets: bool,
    check_secrets: bool,
    warn: bool,
    stream: str | None,
) -> dict[str, Any]:
    try:
        return _interpret(
            desc,
            slot=slot,
            resolve_schema=resolve_schema,
            reveal_secrets=reveal_secrets,
            check_secrets=check_secrets,
            warn=warn,
        )
    except DescriptorError as exc:
        if stream is None or exc.stream is not None:
            raise
        raise DescriptorError(problems=exc.problems, stream=stream) from None


def _interpret(
    desc: Mapping[str, Any] | str,
    *,
    slot: Any,
    resolve_schema: SchemaResolver | None,
    reveal_secrets: bool,
    check_secrets: bool,
    warn: bool,
) -> dict[str, Any]:
    written = parse(desc) if isinstance(desc, str) else desc
    norm = normalize(written, warn=warn)
    hidden = secrets.secret_values(norm)
    problems: list[Problem] = []
    try:
        form = _build(norm, slot, resolve_schema, problems)
    except DescriptorError as exc:
        raise DescriptorError(problems=_scrubbed(exc.problems, hidden)) from None
    problems.extend(evaluate(form, slot=slot))
    transport = norm.get("Transport")
    if (check_secrets or reveal_secrets) and isinstance(transport, Mapping):
        problems.extend(secrets.check_references(transport, "Transport"))
    if problems:
        raise DescriptorError(problems=_scrubbed(problems, hidden))
    if reveal_secrets:
        form["transport"] = _reveal(form["transport"])
    else:
        # Every section but the schema may carry secrets (unknown top-level fields included).
        form = {
            key: value if key == "schema" else secrets.redact({key: value}, mask_references=True)[key]
            for key, value in form.items()
        }
    return form


def interpret(
    desc: Mapping[str, Any] | str,
    *,
    slot: int | None = None,
    resolve_schema: SchemaResolver | None = None,
    reveal_secrets: bool = False,
    check_secrets: bool = False,
    warn: bool = True,
    stream: str | None = None,
) -> dict[str, Any]:
    """The interpreted form of a descriptor: snake_case, defaults applied, every rule checked.

    Defaults (reference §1.1, §1.3, §1.5, §1.7): ``Loop`` true for a file input (a ``file:`` literal
    says false), ``EndMarker`` ``"$end-of-stream"`` (null for avro-binary), ``SkipToRecord``
    ``"latest"`` for Kafka, the envelope from the transport's traits and the encoding (``csv`` brings
    ``delimited-csv``), batching ``normal`` (1000 records, 500 ms), ``LingerTime`` 3000, and each
    transport's field defaults. An explicit null is kept.

    Parameters
    ----------
    desc
        The descriptor as written (a dict), or a literal or JSON text.
    slot
        The slot the stream is meant for: adds the direction checks (even is input, odd is output).
    resolve_schema
        Turns ``{"$ref": NAME}`` into the named Avro schema; without it the reference is kept.
    reveal_secrets
        Resolve ``secret://NAME`` references in the transport and show secret values (as
        :class:`~fastscore_sdk.secrets.Secret`, whose ``repr`` still hides them): the form for the code
        that opens transports. By default secret fields show as ``*****`` (the form is for display).
    check_secrets
        Also report each ``secret://`` reference that cannot be resolved (``FS-S001``): what ``verify``
        asks for. Off by default, so the form can be shown where the secrets are not provided;
        ``reveal_secrets`` always resolves them.
    warn
        Emit deprecation warnings for old spellings.
    stream
        The stream's name, to open the error message with.

    Returns
    -------
    dict
        Keys ``transport``, ``loop``, ``skip_to``, ``skip_to_record``, ``end_marker``, ``envelope``,
        ``encoding``, ``schema``, ``batching``, ``linger_time``, then any other top-level field.

    Raises
    ------
    DescriptorError
        One error whose ``problems`` lists every violation (code, field, message, fix); the codes are
        documented in :mod:`fastscore_sdk.descriptor.rules`. No message shows a secret.

    Examples
    --------
    >>> form = interpret({"Transport": "REST", "Schema": None})
    >>> form["transport"], form["loop"], form["batching"], form["linger_time"]
    ({'type': 'rest', 'mode': 'simple'}, False, {'watermark': 1000, 'nagle_time': 500}, 3000)
    >>> interpret({"Transport": {"Type": "file", "Path": "/d/in.jsons"}, "Encoding": "csv"})["envelope"]
    {'type': 'delimited-csv', 'separator': '\\r\\n', 'skip_header': True, 'skip_blank_lines': True}
    """
    return _run(
        desc,
        slot=slot,
        resolve_schema=resolve_schema,
        reveal_secrets=reveal_secrets,
        check_secrets=check_secrets,
        warn=warn,
        stream=stream,
    )


def check(
    desc: Mapping[str, Any] | str,
    *,
    slot: int | None = None,
    resolve_schema: SchemaResolver | None = None,
    check_secrets: bool = False,
    warn: bool = True,
    stream: str | None = None,
) -> list[Problem]:
    """Every problem of a descriptor, as a list (empty when it is valid); nothing is raised.

    Takes the same arguments as :func:`interpret`.

    Examples
    --------
    >>> [p.code for p in check({"Transport": {"Type": "file", "Path": "/x"}, "Encoding": "avro-binary"})]
    ['FS-D003']
    >>> check("rest:")
    []
    """
    try:
        _run(
            desc,
            slot=slot,
            resolve_schema=resolve_schema,
            reveal_secrets=False,
            check_secrets=check_secrets,
            warn=warn,
            stream=stream,
        )
    except DescriptorError as exc:
        return list(exc.problems)
    return []
