"""No envelope: one record per message, or successive self-delimiting datums on a byte stream.

On a message transport (Kafka, UDP, REST simple, inline lists) each message is one record. On a byte
stream the encoding must find its own record boundaries: msgpack and avro-binary datums are decoded
one after the other from the buffer, a partial datum kept across chunks. Any other encoding on a byte
stream with no envelope reads the whole stream as one record (a file holding one image, one JSON
document), emitted at the end.
"""

from __future__ import annotations

from typing import Any

from ...errors import RecordError, SchemaError
from .._common import FrameDecoder, FrameEncoder, validator
from ..base import BrokenStream, Control, Decoder, Encoder, Envelope

__all__ = ["NoEnvelope", "NoEnvelopeDecoder", "NoEnvelopeEncoder"]


class NoEnvelope(Envelope):
    """``"Envelope": null``.

    Examples
    --------
    >>> from fastscore_sdk.codec import decoder
    >>> dec = decoder(None, "json")
    >>> dec.feed_messages([b'{"a": 1}', b"2"])
    [{'a': 1}, 2]
    """

    name = "none"

    def decoder(self, **kw: Any) -> Decoder:
        return NoEnvelopeDecoder(self.encoding, **kw)

    def encoder(self, **kw: Any) -> Encoder:
        return NoEnvelopeEncoder(self.encoding, **kw)


class NoEnvelopeDecoder(FrameDecoder):
    """Messages as frames; byte streams through the encoding's :class:`DatumStream` (or whole)."""

    def __init__(self, encoding: Any, **kw: Any) -> None:
        super().__init__(encoding, **kw)
        self._stream: Any = None
        self._whole: list[bytes] = []
        self._broken = False
        self._check = None if encoding.typed else validator(encoding.schema)
        self._one = encoding.frame_decoder()

    def feed_message(self, message: bytes) -> list[Any]:
        self.bytes_read += len(message)
        probe = self._probe
        if probe is None or not probe(message):
            try:
                value = self._one(message)
            except Exception:  # noqa: BLE001 - whatever failed, the per-frame pass classifies it
                pass
            else:
                self.count += 1
                return [value]
        return self._decode_slowly([message])

    def feed_messages(self, messages: list[bytes]) -> list[Any]:
        if not messages:
            return []
        joined = b"".join(messages)
        self.bytes_read += len(joined)
        return self._decode(list(messages), self._careful(joined))

    def feed(self, chunk: bytes) -> list[Any]:
        self.bytes_read += len(chunk)
        if not self.encoding.self_delimiting:
            self._whole.append(chunk)
            return []
        if self._broken or not chunk:
            return []
        if self._stream is None:
            self._stream = self.encoding.datum_stream()
        try:
            values = self._stream.feed(chunk)
        except BrokenStream as exc:
            out, index = self._broke(exc)
            reason = f"{exc.reason}; the rest of the stream cannot be read"
            err = RecordError(
                reason, record_index=index, slot=self.slot, stream=self.stream, hint=self._hint()
            )
            err.records = out  # type: ignore[attr-defined]
            raise err from None
        return self._values(values)

    def _hint(self) -> str:
        return (
            f"{self.encoding.name} has no sync markers to resume from; "
            "fix the producer, or use the ocf-block envelope"
        )

    def _broke(self, exc: BrokenStream) -> tuple[list[Any], int]:
        """Deliver what decoded before a corrupt datum and reject the rest of the stream."""
        out = self._values(exc.values)
        index = self.count
        self.count += 1
        self._broken = True
        self._reject_raw(exc.reason, index, exc.raw, out, hint=self._hint())
        return out, index

    def _values(self, values: list[Any]) -> list[Any]:
        check = self._check
        if check is None:
            self.count += len(values)
            return values
        try:
            check(values)
        except (ValueError, RecursionError):
            pass
        else:
            self.count += len(values)
            return values
        out: list[Any] = []
        schema = self.encoding.schema
        for value in values:
            index = self.count
            self.count = index + 1
            if type(value) is Control:
                out.append(value)
                continue
            try:
                schema.validate(value, record_index=index, slot=self.slot)
            except SchemaError as exc:
                self._reject(exc, index, value, out)
            else:
                out.append(value)
        return out

    def finish(self) -> list[Any]:
        if self._whole:
            data = b"".join(self._whole)
            self._whole = []
            return self._decode([data], self._careful(data)) if data else []
        if self._stream is None or self._broken:
            return []
        try:
            return self._values(self._stream.finish())
        except BrokenStream as exc:
            return self._broke(exc)[0]

    def reset(self) -> None:
        self._whole = []
        self._broken = False
        if self._stream is not None:
            self._stream.reset()


class NoEnvelopeEncoder(FrameEncoder):
    """One message per record; on a byte stream, the encoded records back to back."""

    def encode(self, records: list[Any]) -> bytes:
        data = None
        if records and Control not in map(type, records):
            try:
                data = self.encoding.encode_joined(records, b"")
            except Exception:  # noqa: BLE001 - whatever failed, the per-record pass finds and classifies it
                data = None
            else:
                if data is not None:
                    self.count += len(records)
        if data is None:
            data = b"".join(self._frames(records))
        self.bytes_written += len(data)
        return data
