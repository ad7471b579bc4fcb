"""Envelopes and encodings: transport bytes <-> records, with control records and rejections.

Build a :class:`Decoder` or an :class:`Encoder` from the *interpreted* ``envelope`` and ``encoding`` of
a stream descriptor (snake_case keys) and an optional :class:`fastscore_sdk.schema.Schema`:

>>> from fastscore_sdk import codec
>>> dec = codec.decoder({"type": "delimited", "separator": "\\n"}, "json")
>>> dec.feed(b'{"x": 1}\\n{"x": 2}\\nnot json\\n{"$fastscore": "end"}\\n')
[{'x': 1}, {'x': 2}, Control(kind='end', id=None, timestamp=None, misc=None)]
>>> dec.rejected[0].index, dec.rejected[0].kind
(2, 'encoding')
>>> codec.encoder(None, "json").encode_messages([{"x": 1}, codec.SET])
[b'{"x":1}', b'{"$fastscore":"set"}']

Byte streams go through ``feed(chunk)``; message transports through ``feed_messages(messages)``,
which decodes a whole list in one batch (one ``feed_message`` call per message costs a few hundred
nanoseconds of Python calls more per record). ``finish()`` ends the input.

Envelopes (:data:`envelopes`): ``delimited``, ``fixed``, ``ocf-block``, ``delimited-csv`` and ``none``
(a descriptor's ``null``). Encodings (:data:`encodings`): ``null``, ``utf-8``, ``json``, ``csv``,
``msgpack``, ``avro-binary``, ``soap-rpc`` (registered; not supported yet). Plugins add more through
the ``fastscore_sdk.envelopes`` and ``fastscore_sdk.encodings`` entry-point groups, with classes that
implement :class:`~fastscore_sdk.codec.base.Envelope` and :class:`~fastscore_sdk.codec.base.Encoding`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._registry import Entry, Registry
from ..errors import DescriptorError, NotSupportedError
from .base import END, PIG, SET, Control, Decoder, Encoder, Encoding, Envelope

__all__ = [
    "END",
    "PIG",
    "SET",
    "Control",
    "Decoder",
    "Encoder",
    "Encoding",
    "Envelope",
    "control_record",
    "decoder",
    "encoder",
    "encodings",
    "envelopes",
]

_PKG = "fastscore_sdk.codec"

#: Envelope name -> class (:class:`~fastscore_sdk.codec.base.Envelope`); ``none`` is "no envelope".
envelopes = Registry(
    "envelope",
    {
        "none": Entry(f"{_PKG}.envelope.none:NoEnvelope"),
        "delimited": Entry(f"{_PKG}.envelope.delimited:Delimited"),
        "fixed": Entry(f"{_PKG}.envelope.fixed:Fixed"),
        "ocf-block": Entry(f"{_PKG}.envelope.ocf:OcfBlock"),
        "delimited-csv": Entry(f"{_PKG}.envelope.csv:DelimitedCsv"),
    },
    group="fastscore_sdk.envelopes",
)

#: Encoding name -> class (:class:`~fastscore_sdk.codec.base.Encoding`); ``null`` is raw bytes.
encodings = Registry(
    "encoding",
    {
        "null": Entry(f"{_PKG}.encoding.null:NullEncoding"),
        "utf-8": Entry(f"{_PKG}.encoding.utf8:Utf8Encoding"),
        "json": Entry(f"{_PKG}.encoding.json:JsonEncoding"),
        "csv": Entry(f"{_PKG}.encoding.csv:CsvEncoding"),
        "msgpack": Entry(f"{_PKG}.encoding.msgpack:MsgpackEncoding"),
        "avro-binary": Entry(f"{_PKG}.encoding.avro:AvroEncoding"),
        "soap-rpc": Entry(f"{_PKG}.encoding.soap:SoapRpcEncoding"),
    },
    group="fastscore_sdk.encodings",
)

# Old spellings the descriptor layer accepts (and warns about) before they reach the codecs.
_ALIASES = {"utf8": "utf-8", "deliminated": "delimited", "avro": "avro-binary"}


def _split(spec: str | Mapping[str, Any] | None, default: str, what: str) -> tuple[str, dict[str, Any]]:
    """``(name, options)`` of an interpreted envelope or encoding."""
    if spec is None:
        return default, {}
    if isinstance(spec, str):
        name, options = spec, {}
    elif isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("type", options.pop("Type", None))
        if not isinstance(name, str):
            raise DescriptorError(
                f"the {what} needs a type, got {dict(spec)!r}",
                field=what.capitalize(),
                fix=f'write e.g. {{"Type": "{"delimited" if what == "envelope" else "csv"}"}}',
            )
    else:
        raise DescriptorError(
            f"the {what} must be a string, an object or null, not {type(spec).__name__}",
            field=what.capitalize(),
        )
    name = name.strip().lower()
    if name == "null":
        name = default
    return _ALIASES.get(name, name), options


def _load(registry: Registry, name: str, what: str) -> type:
    try:
        return registry.load(name)
    except KeyError:
        known = ", ".join(sorted(registry))
        raise DescriptorError(
            f"unknown {what} {name!r}", field=what.capitalize(), fix=f"use one of: {known}"
        ) from None


def _bind(
    envelope: str | Mapping[str, Any] | None,
    encoding: str | Mapping[str, Any] | None,
    schema: Any,
    stream: str | None,
    slot: int | None,
) -> Envelope:
    env_name, env_options = _split(envelope, "none", "envelope")
    enc_name, enc_options = _split(encoding, "null", "encoding")
    enc_cls = _load(encodings, enc_name, "encoding")
    env_cls = _load(envelopes, env_name, "envelope")
    bound: Encoding = enc_cls(enc_options, schema, stream=stream, slot=slot)
    return env_cls(env_options, bound)


def decoder(
    envelope: str | Mapping[str, Any] | None,
    encoding: str | Mapping[str, Any] | None,
    schema: Any = None,
    *,
    errors: str = "reject",
    stream: str | None = None,
    slot: int | None = None,
    end_marker: str | None = None,
) -> Decoder:
    """A decoder for one input stream.

    Parameters
    ----------
    envelope
        The interpreted envelope: None (no envelope), a name, or e.g.
        ``{"type": "delimited", "separator": "\\n"}``, ``{"type": "fixed", "size": 8}``,
        ``{"type": "ocf-block", "sync_marker": None, "compress": "deflate", "skip_header": True}``,
        ``{"type": "delimited-csv", "separator": "\\r\\n", "skip_header": True, "skip_blank_lines": True}``.
    encoding
        None (raw bytes), ``"utf-8"``, ``"json"``, ``"msgpack"``, ``"avro-binary"``, or
        ``{"type": "csv", "quote_character": '"', "delimiter": ","}``.
    schema
        A :class:`fastscore_sdk.schema.Schema` every record is checked against, or None.
    errors
        ``"reject"``: a bad record is appended to ``decoder.rejected`` and skipped. ``"raise"``: it
        raises :class:`~fastscore_sdk.errors.RecordError` or :class:`~fastscore_sdk.errors.SchemaError`.
    stream, slot
        Names for error messages and :class:`~fastscore_sdk.errors.Rejected` entries.
    end_marker
        The legacy ``EndMarker`` (e.g. ``"$end-of-stream"``): a frame equal to it becomes :data:`END`.

    Returns
    -------
    Decoder
        ``feed(chunk)`` for byte streams, ``feed_message(msg)`` / ``feed_messages(msgs)`` for message
        transports, ``finish()`` at the end; each returns records with :class:`Control` items in place.

    Raises
    ------
    DescriptorError
        The envelope or encoding is unknown or its options are invalid.
    NotSupportedError
        The encoding is ``soap-rpc``.

    Examples
    --------
    >>> dec = decoder({"type": "fixed", "size": 8}, None)
    >>> len(dec.feed(bytes(40)))
    5
    >>> dec = decoder("delimited", "utf-8", end_marker="$end-of-stream")
    >>> dec.feed(b"a\\n$end-of-stream\\nb\\n")
    ['a', Control(kind='end', id=None, timestamp=None, misc=None), 'b']
    """
    bound = _bind(envelope, encoding, schema, stream, slot)
    return bound.decoder(errors=errors, stream=stream, slot=slot, end_marker=end_marker)


def encoder(
    envelope: str | Mapping[str, Any] | None,
    encoding: str | Mapping[str, Any] | None,
    schema: Any = None,
    *,
    errors: str = "reject",
    stream: str | None = None,
    slot: int | None = None,
) -> Encoder:
    """An encoder for one output stream.

    Parameters are those of :func:`decoder` (less ``end_marker``). ``encode(records)`` returns framed
    bytes for a byte-stream sink (a header first for ``ocf-block`` and ``delimited-csv``);
    ``encode_messages(records)`` returns one message per record; ``finish()`` returns trailing bytes.
    :class:`Control` items are written as the encoding's control record (see
    :mod:`fastscore_sdk.codec.control`); records that fail the schema are rejected or raised.

    Examples
    --------
    >>> enc = encoder("delimited", "json")
    >>> enc.encode([{"x": 1}, END])
    b'{"x":1}\\n{"$fastscore":"end"}\\n'
    >>> encoder(None, "utf-8").encode_messages(["a", SET])
    [b'a', b'\\xe2\\x98\\xaefastscore.set']
    """
    bound = _bind(envelope, encoding, schema, stream, slot)
    return bound.encoder(errors=errors, stream=stream, slot=slot)


def control_record(
    encoding: str | Mapping[str, Any] | None,
    kind: str | Control,
    *,
    id: int | None = None,
    timestamp: int | None = None,
    misc: str | None = None,
) -> bytes:
    """The bytes of a control record (reference §1.6) in ``encoding``.

    Parameters
    ----------
    encoding
        The interpreted encoding (None is the null encoding).
    kind
        ``"end"``, ``"set"`` or ``"pig"``, or a :class:`Control`.
    id, timestamp, misc
        Optional properties (timestamp in ms).

    Raises
    ------
    NotSupportedError
        The encoding cannot carry control records.

    Examples
    --------
    >>> control_record("json", "end")
    b'{"$fastscore":"end"}'
    >>> control_record("utf-8", "set", id=1)
    b'\\xe2\\x98\\xaefastscore.set|1||'
    >>> control_record(None, "pig")
    b'\\xfastscore.pig'
    """
    control = kind if isinstance(kind, Control) else Control(kind, id, timestamp, misc)
    name, options = _split(encoding, "null", "encoding")
    cls = _load(encodings, name, "encoding")
    if getattr(cls, "name", "") == "avro-binary":
        from .control import avro_control

        data = avro_control(control)  # needs no schema: the control datum has its own
    else:
        data = cls(options, None).control_bytes(control)
    if data is None:
        raise NotSupportedError(f"the {name} encoding has no control records")
    return data
