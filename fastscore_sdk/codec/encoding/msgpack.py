"""The ``msgpack`` encoding: MessagePack through msgspec (streams of datums through ``msgpack``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from ...errors import MissingDependencyError, RecordError
from .._common import MsgspecEncoding, enc_hook, validator
from ..base import BrokenStream, DatumStream
from ..control import JSON_MARKER, control_from_mapping

__all__ = ["MsgpackEncoding"]


class MsgpackEncoding(MsgspecEncoding):
    """MessagePack datums; self-delimiting, so a byte stream needs no envelope.

    Control records are the map ``{"$fastscore": "end"}`` (plus ``id``, ``timestamp``, ``misc``), as
    for json.

    Examples
    --------
    >>> enc = MsgpackEncoding()
    >>> enc.decode_batch(enc.encode_batch([{"x": 1}, False]))
    [{'x': 1}, False]
    """

    name = "msgpack"
    self_delimiting = True
    marker = JSON_MARKER  # "$fastscore" occurs in the map's key whatever the string header

    def __init__(self, options: Any = None, schema: Any = None, **kw: Any) -> None:
        super().__init__(options, schema, **kw)
        self._dec = self._plain = msgspec.msgpack.Decoder().decode
        self._encoder = msgspec.msgpack.Encoder(enc_hook=enc_hook)
        self._enc = self._encoder.encode
        self._check = validator(schema)

    def decode_batch(self, frames: list[bytes]) -> list[Any]:
        dec = self._dec
        out = [dec(f) for f in frames]
        if self._check is not None:
            self._check(out)
        return out

    def frame_decoder(self) -> Callable[[bytes], Any]:
        if self.schema is None:
            return self._dec
        return self.decode_frame

    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:
        try:
            value = self._dec(frame)
        except msgspec.DecodeError as exc:
            raise RecordError(f"invalid msgpack: {exc}") from None
        return self.check(value, index)

    def check(self, value: Any, index: int | None = None) -> Any:
        """``value`` if it matches the schema (raises SchemaError otherwise)."""
        if self.schema is not None:
            self.schema.validate(value, record_index=index, slot=self.slot)
        return value

    def encode_joined(self, records: list[Any], separator: bytes) -> bytes | None:
        return separator.join(self.encode_batch(records)) + separator if records else b""

    def encode_record(self, record: Any, index: int | None = None) -> bytes:
        self.check(record, index)
        try:
            return self._enc(record)
        except (TypeError, ValueError, OverflowError) as exc:
            raise RecordError(f"cannot encode as msgpack: {exc}") from None

    def datum_stream(self) -> DatumStream:
        return _MsgpackStream()


def _control_or_value(value: Any) -> Any:
    try:
        return control_from_mapping(value) or value
    except RecordError:
        return value  # a "$fastscore" map that is no valid control record: leave it to the schema


class _MsgpackStream(DatumStream):
    """Successive msgpack datums from a byte stream, through ``msgpack.Unpacker`` (C, incremental).

    Control maps are looked for only while datums come from bytes up to the last place the
    ``$fastscore`` marker was seen, so a stream without control records pays nothing for them.
    """

    def __init__(self) -> None:
        try:
            import msgpack
        except ImportError as exc:  # pragma: no cover - msgpack is installed with the SDK
            raise MissingDependencyError("reading msgpack from a byte stream", package="msgpack") from exc
        self._msgpack = msgpack
        self.reset()

    def reset(self) -> None:
        # timestamp=3 gives datetime, as msgspec does for messages.
        self._unpacker = self._msgpack.Unpacker(raw=False, strict_map_key=False, timestamp=3)
        self._fed = 0
        self._mark = -1  # stream offset where the last marker seen ends
        self._emitted = 0  # stream offset where the last datum returned ends
        self._edge = b""

    def feed(self, chunk: bytes) -> list[Any]:
        unpacker = self._unpacker
        seam = self._edge + chunk[: len(JSON_MARKER) - 1]
        if JSON_MARKER in seam or (b"$" in chunk and JSON_MARKER in chunk):
            self._mark = self._fed + len(chunk)
        self._edge = (self._edge + chunk)[-(len(JSON_MARKER) - 1) :]
        unpacker.feed(chunk)
        self._fed += len(chunk)
        out: list[Any] = []
        try:
            if self._mark > self._emitted:
                # Datums from bytes that held a marker: look at each, and where it ends.
                tell = unpacker.tell
                for value in unpacker:
                    if type(value) is dict and "$fastscore" in value:
                        value = _control_or_value(value)
                    out.append(value)
                    self._emitted = tell()
            else:
                out.extend(unpacker)
                self._emitted = unpacker.tell()
        except (ValueError, self._msgpack.UnpackException) as exc:
            raw = self._rest()
            consumed = self._fed - len(raw)
            self.reset()
            detail = str(exc) or type(exc).__name__
            raise BrokenStream(f"invalid msgpack at byte {consumed}: {detail}", out, raw) from None
        return out

    def _rest(self) -> bytes:
        left = self._fed - self._unpacker.tell()
        if left <= 0:
            return b""
        try:
            return self._unpacker.read_bytes(left)
        except (ValueError, self._msgpack.UnpackException):  # pragma: no cover - defensive
            return b""

    def finish(self) -> list[Any]:
        left = self._fed - self._emitted
        self.reset()
        if left > 0:
            raise BrokenStream(f"truncated msgpack datum at the end of the input ({left} bytes)", [], None)
        return []
