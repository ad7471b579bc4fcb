"""The ``json`` encoding: one JSON document per frame, through msgspec.

Records decode to plain Python (dict, list, str, int, float, bool, None). With a schema, frames go
through the schema's own decoder, which decodes and checks in one pass. On output, NumPy scalars and
arrays, pandas Timestamps/Series/DataFrames and bytes (base64) are encoded too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import msgspec

from ...errors import RecordError
from .._common import MsgspecEncoding, enc_hook, validator
from ..control import JSON_MARKER

__all__ = ["JsonEncoding"]

logger = logging.getLogger("fastscore_sdk.codec")


def json_error(exc: Exception, frame: bytes) -> RecordError:
    """A RecordError that says why ``frame`` is not JSON."""
    if not frame.strip():
        return RecordError(
            "empty record: a blank line is not a JSON document",
            hint="remove blank lines from the input, or use the utf-8 encoding",
        )
    message = str(exc)
    if "JSON" not in message:
        message = f"invalid JSON: {message}"
    return RecordError(message)


class JsonEncoding(MsgspecEncoding):
    """JSON documents, one per frame.

    Examples
    --------
    >>> enc = JsonEncoding()
    >>> enc.decode_batch([b'{"x": 1}', b"[1, 2]"])
    [{'x': 1}, [1, 2]]
    >>> enc.encode_joined([{"x": 1}, 2], b"\\n")
    b'{"x":1}\\n2\\n'
    """

    name = "json"
    textual = True
    marker = JSON_MARKER

    def __init__(self, options: Any = None, schema: Any = None, **kw: Any) -> None:
        super().__init__(options, schema, **kw)
        plain = msgspec.json.Decoder()
        self._plain = plain.decode
        self._lines = plain.decode_lines
        self._fast = schema.json_decoder() if schema is not None else self._plain
        # decode_lines + the schema's predicate is what json_decoder() does per frame, in one call.
        self._ok = getattr(schema, "predicate", None) if schema is not None else None
        self._encoder = msgspec.json.Encoder(enc_hook=enc_hook)
        self._enc = self._encoder.encode
        self._check = validator(schema)

    def decode_batch(self, frames: list[bytes]) -> list[Any]:
        dec = self._fast
        return [dec(f) for f in frames]

    def frame_decoder(self) -> Callable[[bytes], Any]:
        return self._fast

    def decode_joined(self, data: bytes, separator: bytes, count: int) -> list[Any] | None:
        if separator != b"\n" or (self.schema is not None and self._ok is None):
            return None
        values = self._lines(data)
        # decode_lines skips blank lines and reads "1 2" as two documents: either changes the count,
        # and the caller then splits and finds the bad frame.
        if len(values) != count:
            raise ValueError("a frame did not hold exactly one JSON document")
        ok = self._ok
        if ok is not None and not all(map(ok, values)):
            raise ValueError("a record does not match the schema")
        return values

    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:
        schema = self.schema
        if schema is not None:
            try:
                return self._fast(frame)
            except Exception:  # noqa: BLE001 - the schema decoder may raise anything; classified below
                pass
        try:
            value = self._plain(frame)
        except msgspec.DecodeError as exc:
            raise json_error(exc, frame) from None
        if schema is not None:
            schema.validate(value, record_index=index, slot=self.slot)
            logger.debug("record %s: the schema's JSON decoder refused a record that validates", index)
        return value

    def encode_joined(self, records: list[Any], separator: bytes) -> bytes | None:
        if self._check is not None:
            self._check(records)
        # msgspec never writes a raw newline inside a document, so each "\n" is a record end.
        data = self._encoder.encode_lines(records)
        return data if separator == b"\n" else data.replace(b"\n", separator)

    def encode_record(self, record: Any, index: int | None = None) -> bytes:
        if self.schema is not None:
            self.schema.validate(record, record_index=index, slot=self.slot)
        try:
            return self._enc(record)
        except (TypeError, ValueError, OverflowError) as exc:
            raise RecordError(f"cannot encode as JSON: {exc}") from None
