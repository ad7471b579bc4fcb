"""Canonical spelling: old names and case variants to canonical names, shortcuts to objects.

:func:`normalize` rewrites a descriptor as written into the same descriptor with canonical field and type
names and expanded shortcuts (reference §1.2, §1.14). It adds no defaults (that is
:func:`~fastscore_sdk.descriptor.interpret`'s job) and judges no values: a value it does not understand is
kept as written, for the restriction rules to report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import DescriptorError
from .deprecation import warn_renamed
from .fields import (
    BATCHING_FIELDS,
    BATCHING_SHORTCUTS,
    CSV_FIELDS,
    ENCODING_ALIASES,
    ENCODINGS,
    ENVELOPE_ALIASES,
    ENVELOPE_FIELD_ALIASES,
    ENVELOPE_FIELDS,
    ENVELOPES,
    HDFS_AUTH_FIELDS,
    TOP_FIELDS,
    TRANSPORT_FIELD_ALIASES,
    TRANSPORT_FIELDS,
    TRANSPORT_SHORTCUTS,
    TRANSPORT_TYPE_ALIASES,
    TRANSPORT_TYPES,
    fold,
    lookup,
)
from .jsonio import copy_json
from .legacy import from_legacy, is_legacy

__all__ = ["canonical_encoding", "canonical_envelope", "canonical_transport_type", "normalize"]


class _Renamer:
    """Collects the renames of one normalize call and warns (once each) if asked to."""

    def __init__(self, warn: bool) -> None:
        self.warn = warn

    def renamed(self, old: str, new: str, where: str) -> None:
        if self.warn:
            warn_renamed(old, new, where)


def canonical_transport_type(
    name: Any, renamer: _Renamer | None = None, where: str = "Transport.Type"
) -> Any:
    """The interpreted name (``kafka``) of a transport type as written, or ``name`` when unknown.

    Examples
    --------
    >>> canonical_transport_type("Kafka"), canonical_transport_type("Exec"), canonical_transport_type("x")
    ('kafka', 'exec', 'x')
    """
    key = fold(name)
    if key in TRANSPORT_TYPE_ALIASES:
        new = TRANSPORT_TYPE_ALIASES[key]
        if renamer:
            renamer.renamed(name, TRANSPORT_TYPES[new], where)
        return new
    for kind in TRANSPORT_TYPES:
        if fold(kind) == key:
            return kind
    return name


def canonical_envelope(name: Any, renamer: _Renamer | None = None, where: str = "Envelope") -> Any:
    """The canonical name of an envelope type as written, or ``name`` when unknown.

    Examples
    --------
    >>> canonical_envelope("Delimited-CSV"), canonical_envelope("OCF-block")
    ('delimited-csv', 'ocf-block')
    """
    key = fold(name)
    if key in ENVELOPE_ALIASES:
        if renamer:
            renamer.renamed(name, ENVELOPE_ALIASES[key], where)
        return ENVELOPE_ALIASES[key]
    return lookup(name, ENVELOPES) or name


def canonical_encoding(name: Any, renamer: _Renamer | None = None, where: str = "Encoding") -> Any:
    """The canonical name of an encoding as written, or ``name`` when unknown.

    Examples
    --------
    >>> canonical_encoding("JSON"), canonical_encoding("Avro-Binary")
    ('json', 'avro-binary')
    """
    if not isinstance(name, str):
        return name
    key = fold(name)
    if key in ENCODING_ALIASES and name.lower() != ENCODING_ALIASES[key]:
        if renamer:
            renamer.renamed(name, ENCODING_ALIASES[key], where)
        return ENCODING_ALIASES[key]
    return lookup(name, ENCODINGS) or name


def _fields(
    obj: Mapping[Any, Any],
    known: tuple[str, ...],
    aliases: Mapping[str, str],
    where: str,
    renamer: _Renamer,
    values: Mapping[str, Any] | None = None,
) -> dict[Any, Any]:
    """Rename the keys of ``obj`` to canonical names, keeping unknown keys and the order."""
    out: dict[Any, Any] = {}
    origin: dict[Any, Any] = {}
    for key, value in obj.items():
        name = lookup(key, known)
        if name is None:
            alias = next((a for a in aliases if fold(a) == fold(key)), None) if isinstance(key, str) else None
            if alias is not None:
                name = aliases[alias]
                renamer.renamed(key, name, f"{where}.{key}")
            else:
                name = key
        if name in out:
            place = where or "the descriptor"
            raise DescriptorError(
                f"{place}: {origin[name]!r} and {key!r} both give the field {name!r}",
                code="FS-D031",
                field=f"{where}.{name}" if where else str(name),
                fix=f"keep only {name!r}",
            )
        origin[name] = key
        fix = (values or {}).get(name)
        out[name] = fix(value) if fix is not None else copy_json(value)
    return out


def _transport(value: Any, renamer: _Renamer) -> Any:
    if isinstance(value, str):
        shortcut = TRANSPORT_SHORTCUTS.get(fold(value))
        if shortcut is not None:
            return dict(shortcut)
        # Any other string is read as a bare type name; an unknown one is reported by the rules.
        kind = canonical_transport_type(value, renamer, "Transport")
        return {"Type": TRANSPORT_TYPES.get(kind, kind)} if isinstance(kind, str) else {"Type": value}
    if not isinstance(value, Mapping):
        return copy_json(value)
    type_key = next((k for k in value if fold(k) == "type"), None)
    kind = canonical_transport_type(value[type_key], renamer) if type_key is not None else None
    table_key = kind if isinstance(kind, str) else ""
    known = ("Type", *TRANSPORT_FIELDS.get(table_key, ()))
    aliases = TRANSPORT_FIELD_ALIASES.get(table_key, {})

    def type_value(v: Any) -> Any:
        return TRANSPORT_TYPES.get(kind, copy_json(v)) if isinstance(kind, str) else copy_json(v)

    def auth_value(v: Any) -> Any:
        if isinstance(v, Mapping):
            return _fields(v, HDFS_AUTH_FIELDS, {}, "Transport.Authentication", renamer)
        return copy_json(v)

    return _fields(
        value, known, aliases, "Transport", renamer, {"Type": type_value, "Authentication": auth_value}
    )


def _envelope(value: Any, renamer: _Renamer) -> Any:
    if isinstance(value, str):
        name = canonical_envelope(value, renamer)
        if name == "delimited":
            return {"Type": "delimited", "Separator": "\n"}
        return {"Type": name} if name in ENVELOPES else value
    if isinstance(value, Mapping):
        return _fields(
            value,
            ENVELOPE_FIELDS,
            ENVELOPE_FIELD_ALIASES,
            "Envelope",
            renamer,
            {"Type": lambda v: canonical_envelope(copy_json(v), renamer, "Envelope.Type")},
        )
    return copy_json(value)


def _encoding(value: Any, renamer: _Renamer) -> Any:
    if isinstance(value, Mapping):
        return _fields(
            value,
            CSV_FIELDS,
            {},
            "Encoding",
            renamer,
            {"Type": lambda v: canonical_encoding(copy_json(v), renamer, "Encoding.Type")},
        )
    return canonical_encoding(copy_json(value), renamer)


def _batching(value: Any, renamer: _Renamer) -> Any:
    if value is None:
        # Null batching means every record is its own batch (reference §1.2).
        return {"Watermark": 1, "NagleTime": None}
    if isinstance(value, str):
        shortcut = BATCHING_SHORTCUTS.get(fold(value))
        return dict(shortcut) if shortcut is not None else value
    if isinstance(value, Mapping):
        return _fields(value, BATCHING_FIELDS, {}, "Batching", renamer)
    return copy_json(value)


_SECTIONS = {"Transport": _transport, "Envelope": _envelope, "Encoding": _encoding, "Batching": _batching}


def normalize(desc: Mapping[str, Any], *, warn: bool = True) -> dict[str, Any]:
    """The descriptor with canonical names and expanded shortcuts, as a new dict.

    * field names are matched ignoring case (``loop``, ``bootstrapservers``); types and encodings too
      (``kafka``, ``Exec``, ``JSON``): these are accepted silently and written canonically;
    * old spellings (``deliminated``, ``Seperator``, ``Bind``/``Host`` on UDP, ``debug``, ``utf8``) are
      accepted with a :class:`~fastscore_sdk.errors.FastScoreDeprecationWarning` naming the old and new
      spelling;
    * shortcuts are expanded: ``"Transport": "REST"`` (``{"Type": "REST", "Mode": "simple"}``),
      ``"discard"``, ``"console"``; ``"Envelope": "delimited"`` (``{"Type": "delimited", "Separator":
      "\\n"}``) and the other envelope names; ``"Batching": "normal"``/``"explicit"``/``null``;
    * a pre-1.2 descriptor (lowercase ``type``, ``connect``) is converted, with a warning;
    * unknown keys (``Rotate``, ``AssumeRoleWithSAML``, ...) are kept, in their place.

    Parameters
    ----------
    desc
        The descriptor as written; it is never modified.
    warn
        Emit deprecation warnings for old spellings.

    Returns
    -------
    dict
        A new descriptor; nested objects are copies too.

    Raises
    ------
    DescriptorError
        ``FS-D030`` when ``desc`` is not an object, ``FS-D031`` when a field is given twice under two
        spellings (``Bind`` and ``BindTo``).

    Examples
    --------
    >>> normalize({"Transport": "REST", "Encoding": "JSON", "Batching": "explicit"})
    {'Transport': {'Type': 'REST', 'Mode': 'simple'}, 'Encoding': 'json', 'Batching': {'Watermark': None, 'NagleTime': None}}
    """
    if not isinstance(desc, Mapping):
        raise DescriptorError(
            f"a stream descriptor must be an object (a dict), not {type(desc).__name__}",
            code="FS-D030",
            field="",
            fix='write an object such as {"Transport": "REST", "Encoding": "json"}, or a literal such as "rest:"',
        )
    renamer = _Renamer(warn)
    if is_legacy(desc):
        desc = from_legacy(desc, warn=warn)
    return _fields(
        desc, TOP_FIELDS, {}, "", renamer, {k: (lambda v, f=f: f(v, renamer)) for k, f in _SECTIONS.items()}
    )
