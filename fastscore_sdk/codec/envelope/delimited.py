"""The ``delimited`` envelope: records separated by a byte sequence (``Separator``, default ``\\n``).

Zero-length records are records (an empty line is an empty string for utf-8), except that an empty
record just before the end of the input is dropped, so a trailing separator adds nothing. A separator
may be several bytes, and a chunk boundary may fall inside it.
"""

from __future__ import annotations

from typing import Any

from ...errors import DescriptorError
from .._common import FrameDecoder, FrameEncoder, split_at_controls, text_option
from ..base import Control, Decoder, Encoder, Encoding, Envelope

__all__ = ["Delimited", "DelimitedDecoder", "DelimitedEncoder"]


class Delimited(Envelope):
    """``{"Type": "delimited", "Separator": "\\n"}``.

    Examples
    --------
    >>> from fastscore_sdk.codec import decoder
    >>> dec = decoder({"type": "delimited", "separator": "\\r\\n"}, "utf-8")
    >>> dec.feed(b"a\\r\\nb\\r"), dec.feed(b"\\nc"), dec.finish()
    (['a'], ['b'], ['c'])
    """

    name = "delimited"

    def __init__(self, options: Any, encoding: Encoding) -> None:
        super().__init__(options, encoding)
        self.separator = text_option(self.options, "separator", "\n", "Envelope.Separator")
        if encoding.self_delimiting:
            raise DescriptorError(
                f"the delimited envelope cannot frame {encoding.name}: its bytes may contain the separator",
                field="Envelope",
                fix=f"remove the Envelope: {encoding.name} finds its own record boundaries (restriction 4)",
            )

    def decoder(self, **kw: Any) -> Decoder:
        return DelimitedDecoder(self.separator, self.encoding, **kw)

    def encoder(self, **kw: Any) -> Encoder:
        return DelimitedEncoder(self.separator, self.encoding, **kw)


class DelimitedDecoder(FrameDecoder):
    """Splits with ``bytes.split`` and keeps the unfinished last frame for the next chunk."""

    def __init__(self, separator: bytes, encoding: Encoding, **kw: Any) -> None:
        super().__init__(encoding, **kw)
        self._sep = separator
        self._multi = len(separator) > 1
        #: Whether the encoding decodes joined frames itself (json on "\n"); cleared when it says no.
        self._joined = type(encoding).decode_joined is not Encoding.decode_joined
        # Pieces of the unfinished frame (a list, so a long frame over many chunks is joined once).
        self._tail: list[bytes] = []

    def feed(self, chunk: bytes) -> list[Any]:
        self.bytes_read += len(chunk)
        sep = self._sep
        tail = self._tail
        if tail and self._multi:
            # The separator may straddle the chunk boundary: join the tail to the chunk if it ends
            # with the start of a separator.
            last = b"".join(tail) if len(tail) > 1 else tail[0]
            if any(last.endswith(sep[:k]) for k in range(1, len(sep))):
                chunk = last + chunk
                tail = []
            else:
                tail = [last]
        if self._joined:
            return self._feed_joined(chunk, tail)
        frames = chunk.split(sep)
        rest = frames.pop()
        if not frames:
            if rest:
                tail.append(rest)
            self._tail = tail
            return []
        careful = self._careful(chunk)
        if tail:
            tail.append(frames[0])
            frames[0] = b"".join(tail)
            careful = careful or self._careful(frames[0])
        self._tail = [rest] if rest else []
        return self._decode(frames, careful)

    def _feed_joined(self, chunk: bytes, tail: list[bytes]) -> list[Any]:
        # The encoding decodes all complete frames of the chunk in one call, without a split.
        sep = self._sep
        end = chunk.rfind(sep)
        if end < 0:
            if chunk:
                tail.append(chunk)
            self._tail = tail
            return []
        rest = chunk[end + len(sep) :]
        self._tail = [rest] if rest else []
        part = b"".join([*tail, chunk[:end]]) if tail else chunk[:end]
        careful = self._careful(part)
        count = part.count(sep) + 1
        if not careful:
            try:
                values = self.encoding.decode_joined(part, sep, count)
            except Exception:  # noqa: BLE001 - whatever failed, the per-frame pass finds and classifies it
                values = []
            if values is None:
                self._joined = False
            elif len(values) == count:
                self.count += count
                return values
        return self._decode(part.split(sep), careful)

    def feed_message(self, message: bytes) -> list[Any]:
        self.bytes_read += len(message)
        frames = message.split(self._sep)
        if not frames[-1]:
            frames.pop()
        if not frames:
            return []
        return self._decode(frames, self._careful(message))

    def finish(self) -> list[Any]:
        tail, self._tail = self._tail, []
        frame = b"".join(tail)
        if not frame:
            return []  # the empty record after a final separator is no record
        return self._decode([frame], self._careful(frame))

    def reset(self) -> None:
        self._tail = []


class DelimitedEncoder(FrameEncoder):
    """Each record followed by the separator; a record that contains the separator is rejected."""

    def __init__(self, separator: bytes, encoding: Encoding, **kw: Any) -> None:
        super().__init__(encoding, **kw)
        self._sep = separator

    def _no_separator(self, frame: bytes) -> str | None:
        if self._sep in frame:
            return f"the encoded record contains the separator {self._sep!r}"
        return None

    def encode(self, records: list[Any]) -> bytes:
        if records and Control in set(map(type, records)):
            # A recordset ends with a `set` marker: encode the records around it in bulk all the same.
            return b"".join([self._encode_run(run) for run in split_at_controls(records)])
        return self._encode_run(records)

    def _encode_run(self, records: list[Any]) -> bytes:
        sep = self._sep
        data = None
        if records and type(records[0]) is not Control:
            try:
                data = self.encoding.encode_joined(records, sep)
                if data is None:
                    data = sep.join(self._batch(records)) + sep
            except Exception:  # noqa: BLE001 - whatever failed, the per-record pass finds and classifies it
                data = None
            else:
                # A record holding the separator would read back as two.
                if data.count(sep) != len(records):
                    data = None
                else:
                    self.count += len(records)
        if data is None:
            frames = self._frames_slowly(records, check=self._no_separator)
            data = b"".join([f + sep for f in frames])
        self.bytes_written += len(data)
        return data
