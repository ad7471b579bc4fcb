"""Control records (reference §1.6) as each encoding writes them.

``end`` is a soft EOF, ``set`` ends a record set, ``pig`` is a barrier that travels the whole pipeline.
Each may carry an ``id`` (int), a ``timestamp`` (ms) and a ``misc`` string.

========== ======================================================================================
encoding   control record
========== ======================================================================================
json       ``{"$fastscore": "end"}``, plus ``"id"``, ``"timestamp"``, ``"misc"`` keys when set
msgpack    the same map, msgpack-encoded
utf-8      ``☮fastscore.end`` (U+262E), plus ``|id|timestamp|misc`` when any is set (empty = unset)
csv        the utf-8 form, as a line of its own
null       0xFA + ``stscore.end`` (12 bytes: the original's Python 2 literal ``'\\xfastscore.end'``),
           then ``!Q`` id, ``!Q`` timestamp and UTF-8 misc, each only when it or a later one is set
           (an unset id before a set timestamp is written as 0)
avro-binary the Avro datum of the record ``{kind: string, id: long, timestamp: long, misc: string}``
           with kind ``"$fastscore.end"`` and 0 / ``""`` for unset properties. For ``set`` with no
           properties this is ``\\x1c$fastscore.set\\x00\\x00\\x00``, the marker the original SDK
           hard-coded. A datum that starts with ``\\x1c$fastscore.`` is taken as a control record.
ocf-block  none: OCF blocks are decoded in bulk; control records are dropped on output (logged)
========== ======================================================================================
"""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any

from ..errors import RecordError
from .base import Control

__all__ = [
    "AVRO_MARKER",
    "JSON_MARKER",
    "KINDS",
    "NULL_MARKER",
    "UTF8_MARKER",
    "avro_control",
    "control_from_mapping",
    "control_mapping",
    "null_control",
    "parse_avro_control",
    "parse_null_control",
    "parse_utf8_control",
    "utf8_control",
]

KINDS = ("end", "set", "pig")

JSON_MARKER = b"$fastscore"
UTF8_PREFIX = "\u262efastscore."
UTF8_MARKER = UTF8_PREFIX.encode("utf-8")
# The original wrote the Python 2 literal '\xfastscore.end': '\xfa' is one byte, so 12 bytes in all.
NULL_MARKER = b"\xfastscore."
# zigzag(14) then "$fastscore." : every control datum starts with these 12 bytes.
AVRO_MARKER = b"\x1c$fastscore."

_AVRO_CONTROL_SCHEMA: Any = None


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise RecordError(
            f"unknown control record kind {kind!r}",
            hint="a control record is one of 'end', 'set' or 'pig'",
        )
    return kind


def control_mapping(control: Control) -> dict[str, Any]:
    """The JSON / msgpack map of a control record.

    Examples
    --------
    >>> control_mapping(Control("end", id=3))
    {'$fastscore': 'end', 'id': 3}
    """
    out: dict[str, Any] = {"$fastscore": _kind(control.kind)}
    if control.id is not None:
        out["id"] = control.id
    if control.timestamp is not None:
        out["timestamp"] = control.timestamp
    if control.misc is not None:
        out["misc"] = control.misc
    return out


def control_from_mapping(value: Any) -> Control | None:
    """The control record a decoded JSON / msgpack value stands for, or None for plain data.

    Examples
    --------
    >>> control_from_mapping({"$fastscore": "pig", "id": 4})
    Control(kind='pig', id=4, timestamp=None, misc=None)
    >>> control_from_mapping({"x": 1}) is None
    True
    """
    if type(value) is not dict or "$fastscore" not in value:
        return None
    kind = value["$fastscore"]
    if not isinstance(kind, str):
        raise RecordError(f"control record kind must be a string, not {kind!r}")
    ident, ts, misc = value.get("id"), value.get("timestamp"), value.get("misc")
    if ident is not None and type(ident) is not int:
        raise RecordError(f"control record id must be an integer, not {ident!r}")
    if ts is not None and type(ts) is not int:
        raise RecordError(f"control record timestamp must be an integer (ms), not {ts!r}")
    if misc is not None and not isinstance(misc, str):
        misc = str(misc)
    return Control(_kind(kind), ident, ts, misc)


def utf8_control(control: Control) -> str:
    """The utf-8 text of a control record.

    Examples
    --------
    >>> utf8_control(Control("set"))
    '☮fastscore.set'
    >>> utf8_control(Control("end", id=7, misc="bye"))
    '☮fastscore.end|7||bye'
    """
    text = UTF8_PREFIX + _kind(control.kind)
    if control.id is None and control.timestamp is None and control.misc is None:
        return text
    parts = ["" if v is None else str(v) for v in (control.id, control.timestamp, control.misc)]
    return text + "|" + "|".join(parts)


def parse_utf8_control(text: str) -> Control | None:
    """The control record in a utf-8 frame (str), or None when it is plain text.

    Examples
    --------
    >>> parse_utf8_control("☮fastscore.end|1||note")
    Control(kind='end', id=1, timestamp=None, misc='note')
    """
    if not text.startswith(UTF8_PREFIX):
        return None
    head, _, rest = text.partition("|")
    kind = head[len(UTF8_PREFIX) :].rstrip("\r\n")
    if not rest:
        return Control(_kind(kind))
    parts = [*rest.split("|", 2), "", ""]
    try:
        ident = int(parts[0]) if parts[0] else None
        ts = int(parts[1]) if parts[1] else None
    except ValueError:
        raise RecordError(
            f"bad control record {text!r}: id and timestamp must be integers",
            hint="write ☮fastscore.KIND|ID|TIMESTAMP|MISC",
        ) from None
    misc = parts[2] if len(parts) > 2 and parts[2] != "" else None
    return Control(_kind(kind), ident, ts, misc)


def null_control(control: Control) -> bytes:
    """The null-encoding bytes of a control record.

    Examples
    --------
    >>> null_control(Control("end"))
    b'\\xfastscore.end'
    >>> len(null_control(Control("pig", id=1)))
    20
    """
    out = NULL_MARKER + _kind(control.kind).encode("ascii")
    for name, value in (("id", control.id), ("timestamp", control.timestamp)):
        if value is not None and not (type(value) is int and 0 <= value < 2**64):
            raise RecordError(
                f"control record {name} {value!r} does not fit the null encoding's unsigned 64-bit field",
                hint="use a non-negative integer",
            )
    if control.misc is not None:
        return (
            out + struct.pack("!QQ", control.id or 0, control.timestamp or 0) + control.misc.encode("utf-8")
        )
    if control.timestamp is not None:
        return out + struct.pack("!QQ", control.id or 0, control.timestamp)
    if control.id is not None:
        return out + struct.pack("!Q", control.id)
    return out


def parse_null_control(frame: bytes) -> Control | None:
    """The control record in a null-encoding frame, or None when it is plain data.

    Examples
    --------
    >>> parse_null_control(b"\\xfastscore.set")
    Control(kind='set', id=None, timestamp=None, misc=None)
    """
    if not frame.startswith(NULL_MARKER) or len(frame) < 12:
        return None
    kind = frame[9:12].decode("ascii", "replace")
    if kind not in KINDS:
        return None
    rest = frame[12:]
    if not rest:
        return Control(kind)
    if len(rest) < 8 or 8 < len(rest) < 16:
        raise RecordError(
            f"bad control record {frame!r}: expected 8 bytes of id and 8 of timestamp after the kind",
            hint="write 0xFA 'stscore.KIND', then struct.pack('!QQ', id, timestamp), then misc",
        )
    (ident,) = struct.unpack_from("!Q", rest)
    ts = struct.unpack_from("!Q", rest, 8)[0] if len(rest) >= 16 else None
    misc = rest[16:].decode("utf-8", "replace") if len(rest) > 16 else None
    return Control(kind, ident, ts, misc)


def _avro_control_schema() -> Any:
    global _AVRO_CONTROL_SCHEMA
    if _AVRO_CONTROL_SCHEMA is None:
        from fastavro import parse_schema

        _AVRO_CONTROL_SCHEMA = parse_schema(
            {
                "type": "record",
                "name": "fastscore_control",
                "fields": [
                    {"name": "kind", "type": "string"},
                    {"name": "id", "type": "long"},
                    {"name": "timestamp", "type": "long"},
                    {"name": "misc", "type": "string"},
                ],
            }
        )
    return _AVRO_CONTROL_SCHEMA


def avro_control(control: Control) -> bytes:
    """The avro-binary datum of a control record.

    Examples
    --------
    >>> avro_control(Control("set"))
    b'\\x1c$fastscore.set\\x00\\x00\\x00'
    """
    from fastavro import schemaless_writer

    out = BytesIO()
    try:
        schemaless_writer(
            out,
            _avro_control_schema(),
            {
                "kind": "$fastscore." + _kind(control.kind),
                "id": control.id or 0,
                "timestamp": control.timestamp or 0,
                "misc": control.misc or "",
            },
        )
    except (ValueError, TypeError, OverflowError) as exc:
        raise RecordError(f"cannot write the control record {control!r} in avro-binary: {exc}") from None
    return out.getvalue()


def read_avro_control(fo: Any) -> Control:
    """Read one control datum from a file-like object positioned at :data:`AVRO_MARKER`."""
    from fastavro import schemaless_reader

    datum = schemaless_reader(fo, _avro_control_schema(), None)
    kind = datum["kind"][len("$fastscore.") :]
    return Control(_kind(kind), datum["id"] or None, datum["timestamp"] or None, datum["misc"] or None)


def parse_avro_control(frame: bytes) -> Control | None:
    """The control record in an avro-binary frame, or None when it is plain data.

    Examples
    --------
    >>> parse_avro_control(b"\\x1c$fastscore.set\\x00\\x00\\x00")
    Control(kind='set', id=None, timestamp=None, misc=None)
    """
    if not frame.startswith(AVRO_MARKER):
        return None
    fo = BytesIO(frame)
    try:
        control = read_avro_control(fo)
    except (EOFError, ValueError) as exc:
        raise RecordError(f"bad avro-binary control record: {exc}") from exc
    if fo.tell() != len(frame):
        return None  # a datum of the stream's own schema that happens to start like a marker
    return control
