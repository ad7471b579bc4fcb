"""The ``null`` encoding: each frame is the record, as raw bytes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._common import schema_is, to_bytes
from ..base import Control, Encoding
from ..control import NULL_MARKER, null_control, parse_null_control

__all__ = ["NullEncoding"]


class NullEncoding(Encoding):
    """Raw bytes in, raw bytes out. Its schema, if any, must be ``"bytes"`` (restriction 6).

    Examples
    --------
    >>> NullEncoding().decode_batch([b"a", b"b"])
    [b'a', b'b']
    """

    name = "null"
    marker = NULL_MARKER

    def __init__(self, options: Any = None, schema: Any = None, **kw: Any) -> None:
        super().__init__(options, schema, **kw)
        # Any schema other than "bytes" (rule 6) is checked per record; "bytes" always holds.
        self._checked = schema is not None and not schema_is(schema, "bytes")

    def decode_batch(self, frames: list[bytes]) -> list[Any]:
        if self._checked:
            return [self.decode_frame(f) for f in frames]
        return frames

    def frame_decoder(self) -> Callable[[bytes], Any]:
        if self._checked:
            return self.decode_frame
        return bytes

    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:
        if self._checked:
            self.schema.validate(frame, record_index=index, slot=self.slot)
        return frame

    def parse_control(self, frame: bytes) -> Control | None:
        return parse_null_control(frame)

    def encode_batch(self, records: list[Any]) -> list[bytes]:
        if self._checked:
            return [self.encode_record(r) for r in records]
        for r in records:
            if type(r) is not bytes:
                raise TypeError("not bytes")
        return records

    def encode_record(self, record: Any, index: int | None = None) -> bytes:
        if self._checked:
            self.schema.validate(record, record_index=index, slot=self.slot)
        return to_bytes(record)

    def control_bytes(self, control: Control) -> bytes | None:
        return null_control(control)
