"""The ``utf-8`` encoding: each frame is a UTF-8 string."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import RecordError
from .._common import schema_is
from ..base import Control, Encoding
from ..control import UTF8_MARKER, parse_utf8_control, utf8_control

__all__ = ["Utf8Encoding"]

_decode = bytes.decode


class Utf8Encoding(Encoding):
    """UTF-8 text; invalid UTF-8 is rejected. Its schema, if any, must be ``"string"`` (restriction 7).

    Examples
    --------
    >>> Utf8Encoding().decode_batch(["π".encode(), b"x"])
    ['π', 'x']
    """

    name = "utf-8"
    textual = True
    marker = UTF8_MARKER

    def __init__(self, options: Any = None, schema: Any = None, **kw: Any) -> None:
        super().__init__(options, schema, **kw)
        self._checked = schema is not None and not schema_is(schema, "string")

    def decode_batch(self, frames: list[bytes]) -> list[Any]:
        if self._checked:
            return [self.decode_frame(f) for f in frames]
        return list(map(_decode, frames))

    def frame_decoder(self) -> Callable[[bytes], Any]:
        if self._checked:
            return self.decode_frame
        return _decode

    def decode_joined(self, data: bytes, separator: bytes, count: int) -> list[Any] | None:
        if self._checked:
            return None
        # UTF-8 never encodes part of a character as bytes that spell the separator, so decoding the
        # joined frames once and splitting the text is the same as splitting first: one call, not n.
        lines = data.decode("utf-8").split(separator.decode("utf-8"))
        if len(lines) != count:
            raise ValueError("frame count")
        return lines

    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(
                f"invalid UTF-8 at byte {exc.start}: {exc.reason}",
                hint="use the null encoding for binary data, or fix the producer's character set",
            ) from None
        if self._checked:
            self.schema.validate(text, record_index=index, slot=self.slot)
        return text

    def parse_control(self, frame: bytes) -> Control | None:
        try:
            text = frame.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return parse_utf8_control(text)

    def encode_batch(self, records: list[Any]) -> list[bytes]:
        if self._checked:
            return [self.encode_record(r) for r in records]
        return [r.encode() for r in records]

    def encode_record(self, record: Any, index: int | None = None) -> bytes:
        if self._checked:
            self.schema.validate(record, record_index=index, slot=self.slot)
        if isinstance(record, str):
            try:
                return record.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise RecordError(f"cannot encode as UTF-8: {exc.reason} at {exc.start}") from None
        if isinstance(record, (bytes, bytearray)):
            try:
                bytes(record).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RecordError(f"invalid UTF-8 at byte {exc.start}: {exc.reason}") from None
            return bytes(record)
        raise RecordError(
            f"the utf-8 encoding writes strings, got {type(record).__name__}",
            hint="return str from the model, or use the json encoding for structured records",
        )

    def control_bytes(self, control: Control) -> bytes | None:
        return utf8_control(control).encode("utf-8")
