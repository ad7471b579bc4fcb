"""The ``fixed`` envelope: records of exactly ``Size`` bytes.

On input, a short last frame is rejected. On output, records are truncated or zero-padded to
``Size``. For text encodings (json, utf-8, csv) the zero padding is not part of the record.
"""

from __future__ import annotations

from typing import Any

from ...errors import DescriptorError
from .._common import FrameDecoder, FrameEncoder, option
from ..base import Decoder, Encoder, Encoding, Envelope

__all__ = ["Fixed", "FixedDecoder", "FixedEncoder"]


class Fixed(Envelope):
    """``{"Type": "fixed", "Size": 8}``.

    Examples
    --------
    >>> from fastscore_sdk.codec import decoder
    >>> dec = decoder({"type": "fixed", "size": 4}, None)
    >>> dec.feed(b"abcdefghij"), dec.finish(), dec.rejected[0].reason
    ([b'abcd', b'efgh'], [], 'short fixed frame: got 2 of 4 bytes')
    """

    name = "fixed"

    def __init__(self, options: Any, encoding: Encoding) -> None:
        super().__init__(options, encoding)
        size = option(self.options, "size")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise DescriptorError(
                f"the fixed envelope needs a positive integer Size, not {size!r}",
                field="Envelope.Size",
                fix='e.g. {"Type": "fixed", "Size": 8}',
            )
        self.size = size

    def decoder(self, **kw: Any) -> Decoder:
        return FixedDecoder(self.size, self.encoding, **kw)

    def encoder(self, **kw: Any) -> Encoder:
        return FixedEncoder(self.size, self.encoding, **kw)


class FixedDecoder(FrameDecoder):
    def __init__(self, size: int, encoding: Encoding, **kw: Any) -> None:
        super().__init__(encoding, **kw)
        self._size = size
        self._strip = encoding.textual
        self._tail = b""

    def _frames(self, buf: bytes) -> tuple[list[bytes], bytes]:
        n = self._size
        end = len(buf) - len(buf) % n
        frames = [buf[i : i + n] for i in range(0, end, n)]
        if self._strip:
            frames = [f.rstrip(b"\0") for f in frames]
        return frames, buf[end:]

    def feed(self, chunk: bytes) -> list[Any]:
        self.bytes_read += len(chunk)
        buf = self._tail + chunk if self._tail else chunk
        frames, self._tail = self._frames(buf)
        return self._decode(frames, self._careful(buf)) if frames else []

    def _short(self, rest: bytes, out: list[Any]) -> list[Any]:
        index = self.count
        self.count += 1
        self._reject_raw(
            f"short fixed frame: got {len(rest)} of {self._size} bytes",
            index,
            rest,
            out,
            hint="the input length is not a multiple of Size",
        )
        return out

    def feed_message(self, message: bytes) -> list[Any]:
        self.bytes_read += len(message)
        frames, rest = self._frames(message)
        out = self._decode(frames, self._careful(message)) if frames else []
        return self._short(rest, out) if rest else out

    def finish(self) -> list[Any]:
        rest, self._tail = self._tail, b""
        return self._short(rest, []) if rest else []

    def reset(self) -> None:
        self._tail = b""


class FixedEncoder(FrameEncoder):
    def __init__(self, size: int, encoding: Encoding, **kw: Any) -> None:
        super().__init__(encoding, **kw)
        self._size = size

    def _pad(self, frames: list[bytes]) -> list[bytes]:
        n = self._size
        return [f[:n].ljust(n, b"\0") for f in frames]

    def encode(self, records: list[Any]) -> bytes:
        data = b"".join(self._pad(self._frames(records)))
        self.bytes_written += len(data)
        return data

    def encode_messages(self, records: list[Any]) -> list[bytes]:
        frames = self._pad(self._frames(records))
        self.bytes_written += len(frames) * self._size
        return frames
