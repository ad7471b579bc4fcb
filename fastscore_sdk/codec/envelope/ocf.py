"""The ``ocf-block`` envelope: Avro Object Container File blocks (avro-binary records only).

``SkipHeader`` true (the default): the input starts with an OCF header, which is read and checked
against the descriptor (schema, ``SyncMarker`` if given, ``Compress`` if given) and then used.
``SkipHeader`` false: the input is blocks only; ``SyncMarker`` is required and the codec comes from
``Compress`` (null or deflate).

Blocks are framed here (count, size, data, sync marker) and decoded by fastavro's C reader, several at
a time. A broken block (wrong sync marker, bad deflate data, a truncated block) is rejected with the
index of its first record and the reason, and reading resumes after the next sync marker. A block
whose framing is intact but whose data does not decode counts as its declared number of records; a
stretch of bytes skipped to resynchronise counts as one.

On output, the header comes first (when ``SkipHeader`` is true), then one block per ``encode`` call.
Control records cannot be carried inside OCF blocks: they are dropped on output (logged at debug).
"""

from __future__ import annotations

import base64
import binascii
import os
from io import BytesIO
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from ...errors import DescriptorError, RecordError, Rejected, SchemaError
from .._avro_io import MAGIC, NO_SYNC_INTERVAL, SYNC_SIZE, header_bytes, header_schema, read_header, read_long
from .._common import RECORD_ERRORS, FrameEncoder, logger, option, relocated
from ..base import Control, Decoder, Encoder, Encoding, Envelope

__all__ = ["OcfBlock", "OcfDecoder", "OcfEncoder"]

#: Bytes searched for a sync marker before a broken stream is given up.
_MAX_RESYNC = 64 << 20
#: Bytes scanned one by one for the start of a good block after junk.
_MAX_SCAN = 64 << 10


class OcfBlock(Envelope):
    """``{"Type": "ocf-block", "SyncMarker": <base64>, "Compress": null | "deflate", "SkipHeader": true}``.

    Examples
    --------
    >>> import fastavro, io
    >>> from types import SimpleNamespace
    >>> from fastscore_sdk.codec import decoder
    >>> schema = SimpleNamespace(avro="long", parsed=fastavro.parse_schema("long"), name="n")
    >>> out = io.BytesIO()
    >>> fastavro.writer(out, schema.parsed, [1, 2, 3], codec="deflate")
    >>> decoder({"type": "ocf-block"}, "avro-binary", schema).feed(out.getvalue())
    [1, 2, 3]
    """

    name = "ocf-block"

    def __init__(self, options: Any, encoding: Encoding) -> None:
        super().__init__(options, encoding)
        if encoding.name != "avro-binary":
            raise DescriptorError(
                f"the ocf-block envelope needs the avro-binary encoding, not {encoding.name}",
                field="Encoding",
                fix='set "Encoding": "avro-binary" (restriction 5)',
            )
        marker = option(self.options, "sync_marker")
        self.sync: bytes | None = None
        if marker is not None:
            try:
                self.sync = base64.b64decode(marker, validate=True)
            except (binascii.Error, ValueError, TypeError):
                self.sync = None
            if self.sync is None or len(self.sync) != SYNC_SIZE:
                raise DescriptorError(
                    f"SyncMarker must be 16 bytes in base64 (24 characters), not {marker!r}",
                    field="Envelope.SyncMarker",
                    fix="copy the 16-byte sync marker from the file header, base64-encoded",
                )
        compress = option(self.options, "compress")
        if compress not in (None, "null", "deflate"):
            raise DescriptorError(
                f'Compress must be null or "deflate", not {compress!r}',
                field="Envelope.Compress",
                fix='use "deflate", or null for uncompressed blocks',
            )
        #: None: not set in the descriptor (take the header's codec).
        self.codec: str | None = compress
        skip = option(self.options, "skip_header", True)
        self.skip_header = True if skip is None else bool(skip)
        if not self.skip_header and self.sync is None:
            raise DescriptorError(
                "ocf-block without a header (SkipHeader false) needs a SyncMarker",
                field="Envelope.SyncMarker",
                fix="add the 16-byte sync marker, base64-encoded, or set SkipHeader true if the input has a header",
            )

    def decoder(self, **kw: Any) -> Decoder:
        kw.pop("end_marker", None)  # OCF data is binary: no text end marker
        return OcfDecoder(self, **kw)

    def encoder(self, **kw: Any) -> Encoder:
        return OcfEncoder(self, **kw)


class OcfDecoder(Decoder):
    """Frames OCF blocks, decodes verified ones in bulk with fastavro, resynchronises after bad ones."""

    def __init__(
        self,
        envelope: OcfBlock,
        *,
        errors: str = "reject",
        stream: str | None = None,
        slot: int | None = None,
    ) -> None:
        super().__init__(errors=errors, stream=stream, slot=slot)
        self.envelope = envelope
        self.schema = envelope.encoding.schema
        self._buf = b""
        #: The header fastavro reads the blocks with (the input's own, or one made from the descriptor).
        self._header: bytes | None = None
        self._sync: bytes | None = None
        if not envelope.skip_header:
            self._header = header_bytes(envelope.encoding.parsed, envelope.codec or "null", envelope.sync)
            self._sync = envelope.sync

    # -- the Decoder API ------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> list[Any]:
        self.bytes_read += len(chunk)
        buf = self._buf + chunk if self._buf else chunk
        out, self._buf = self._consume(buf, final=False)
        return out

    def feed_message(self, message: bytes) -> list[Any]:
        # A message is a whole OCF file (header first) or, after one, more blocks.
        self.bytes_read += len(message)
        if self.envelope.skip_header and message.startswith(MAGIC):
            self._header = None
        return self._consume(message, final=True)[0]

    def finish(self) -> list[Any]:
        buf, self._buf = self._buf, b""
        if not buf:
            return []
        return self._consume(buf, final=True)[0]

    def reset(self) -> None:
        self._buf = b""
        if self.envelope.skip_header:
            self._header = None
            self._sync = None

    # -- framing --------------------------------------------------------------------------------------

    def _error(self, message: str, hint: str | None = None) -> RecordError:
        return RecordError(message, stream=self.stream, slot=self.slot, hint=hint)

    def _read_header(self, buf: bytes, final: bool) -> int | None:
        try:
            got = read_header(buf)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._error(
                f"cannot read the Avro file header: {exc}",
                hint="set SkipHeader false (with a SyncMarker) if the input is blocks only",
            ) from None
        if got is None:
            if final:
                raise self._error(f"the input ended inside the Avro file header ({len(buf)} bytes)")
            return None
        meta, sync, end = got
        self._check_header(meta, sync)
        self._header = bytes(buf[:end])
        self._sync = sync
        return end

    def _check_header(self, meta: dict[str, bytes], sync: bytes) -> None:
        env = self.envelope
        codec = meta.get("avro.codec", b"null").decode("utf-8", "replace") or "null"
        if codec not in ("null", "deflate"):
            raise self._error(
                f"the Avro file uses the {codec!r} codec; only null and deflate are supported",
                hint="rewrite the file with codec 'deflate' or 'null'",
            )
        if env.codec is not None and (env.codec or "null") != codec:
            raise self._error(
                f"the descriptor says Compress {env.codec!r} but the Avro file header says {codec!r}",
                hint="make Compress match the file, or remove it to take the header's codec",
            )
        if env.sync is not None and env.sync != sync:
            raise self._error(
                "the descriptor's SyncMarker differs from the Avro file header's "
                f"({base64.b64encode(sync).decode()})",
                hint="fix SyncMarker, or remove it: with a header it is optional",
            )
        try:
            written = header_schema(meta)
            same = to_parsing_canonical_form(written) == to_parsing_canonical_form(self.schema.avro)
        except (KeyError, ValueError, TypeError) as exc:
            raise self._error(f"the Avro file header has no usable schema: {exc}") from None
        if not same:
            raise SchemaError(
                "the Avro file was written with another schema than the stream's: "
                f"file {to_parsing_canonical_form(written)}, stream {to_parsing_canonical_form(self.schema.avro)}",
                schema=getattr(self.schema, "name", None),
                hint="give the stream the schema the file was written with",
            )

    def _block_at(self, buf: bytes, pos: int, n: int) -> tuple[str, Any, int]:
        """``("ok", count, end)``, ``("short", None, 0)`` or ``("bad", reason, 0)`` for the block at ``pos``."""
        try:
            got = read_long(buf, pos)
            if got is None:
                return "short", None, 0
            count, p = got
            got = read_long(buf, p)
            if got is None:
                return "short", None, 0
            size, p = got
        except ValueError as exc:
            return "bad", f"corrupt block header: {exc}", 0
        if count < 0 or size < 0:
            return "bad", f"corrupt block header (count {count}, size {size})", 0
        end = p + size + SYNC_SIZE
        sync = self._sync
        if end > n:
            # A real block holds no sync marker: one before its claimed end means the size is wrong.
            if buf.find(sync, p, n) >= 0:  # type: ignore[arg-type]
                return "bad", f"block size {size} runs past the next sync marker", 0
            return "short", None, 0
        if buf[end - SYNC_SIZE : end] != sync:
            # The end is still worth a try: if a good block follows there, only this one is broken.
            return "bad", (f"no sync marker after the block of {count} records ({size} bytes)", count), end
        return "ok", count, end

    def _scan(self, buf: bytes, start: int, stop: int) -> int | None:
        """The first position in ``[start, stop)`` where a whole, well-framed block begins.

        Junk between blocks leaves the next block intact but unannounced: look for it byte by byte
        (a false match needs the 16-byte sync marker at the right place). Bounded, as it is slow.
        """
        sync, n = self._sync, len(buf)
        for p in range(start, min(stop, start + _MAX_SCAN)):
            try:
                got = read_long(buf, p)
                if got is None:
                    return None
                count, q = got
                got = read_long(buf, q)
                if got is None:
                    return None
                size, q = got
            except ValueError:
                continue
            end = q + size + SYNC_SIZE
            if count >= 0 and size >= 0 and end <= n and buf[end - SYNC_SIZE : end] == sync:
                return p
        return None

    def _consume(self, buf: bytes, final: bool) -> tuple[list[Any], bytes]:
        pos = 0
        if self._header is None:
            got = self._read_header(buf, final)
            if got is None:
                return [], buf
            pos = got
        out: list[Any] = []
        blocks: list[tuple[int, int, int]] = []
        n = len(buf)
        while pos < n:
            status, value, end = self._block_at(buf, pos, n)
            if status == "ok":
                blocks.append((pos, end, value))
                pos = end
                continue
            out.extend(self._decode_blocks(buf, blocks, out))
            blocks = []
            if status == "short":
                if not final:
                    break
                self._reject_block(
                    f"truncated OCF block at the end of the input ({n - pos} bytes)", buf[pos:], 1, out
                )
                pos = n
                break
            reason, declared = value if isinstance(value, tuple) else (value, 1)
            if end:
                # The block's own header said where it ends: resume there if a good block follows.
                after = self._block_at(buf, end, n)[0] if end < n else ("short" if not final else "end")
                if after == "short" and not final:
                    break  # decide when more input has come
                if after in ("ok", "end"):
                    self._reject_block(f"broken OCF block: {reason}", buf[pos:end], declared, out)
                    pos = end
                    continue
            value = reason
            nxt = buf.find(self._sync, pos)  # type: ignore[arg-type]
            start = self._scan(buf, pos + 1, nxt if nxt >= 0 else n)
            if start is not None:
                self._reject_block(
                    f"broken OCF block: {value}; {start - pos} bytes skipped to the next good block",
                    buf[pos:start],
                    1,
                    out,
                )
                pos = start
                continue
            if nxt < 0:
                if not final and n - pos <= _MAX_RESYNC:
                    break  # the next sync marker may be in the next chunk
                self._reject_block(
                    f"broken OCF block ({value}) and no sync marker after it: {n - pos} bytes skipped",
                    buf[pos:],
                    1,
                    out,
                )
                if not final:
                    err = self._error(
                        f"cannot resynchronise: no sync marker in the {n - pos} bytes after a broken block",
                        hint="the input is not an OCF block stream with this sync marker",
                    )
                    err.records = out  # type: ignore[attr-defined]
                    raise err
                pos = n
                break
            end = nxt + SYNC_SIZE
            self._reject_block(
                f"broken OCF block: {value}; resynchronised at the next sync marker", buf[pos:end], 1, out
            )
            pos = end
        out.extend(self._decode_blocks(buf, blocks, out))
        return out, buf[pos:]

    def _reject_block(self, reason: str, raw: bytes, records: int, done: list[Any]) -> None:
        index = self.count
        self.count += max(records, 1)
        exc = RecordError(reason)
        if self.errors == "raise":
            err = relocated(exc, index, slot=self.slot, stream=self.stream, raw=raw)
            err.records = list(done)  # type: ignore[union-attr]
            raise err
        self.rejected.append(Rejected(index, reason, raw, "encoding", self.slot))
        logger.debug("stream %s: rejected OCF block at record %d: %s", self.stream, index, reason)

    def _decode_blocks(self, buf: bytes, blocks: list[tuple[int, int, int]], done: list[Any]) -> list[Any]:
        if not blocks:
            return []
        header = self._header
        total = sum(c for _, _, c in blocks)
        start, end = blocks[0][0], blocks[-1][1]
        try:
            records = list(fastavro.reader(BytesIO(header + buf[start:end])))  # type: ignore[operator]
            if len(records) != total:
                raise ValueError(f"{len(records)} records where the block headers say {total}")
        except Exception:  # noqa: BLE001 - a bad block fails the batch; find it block by block below
            pass
        else:
            self.count += total
            return records
        out: list[Any] = []
        for s, e, count in blocks:
            try:
                got = list(fastavro.reader(BytesIO(header + buf[s:e])))  # type: ignore[operator]
                if len(got) != count:
                    raise ValueError(f"it holds {len(got)} records where its header says {count}")
            except Exception as exc:  # noqa: BLE001 - fastavro and zlib raise many types on corrupt data
                detail = str(exc) or type(exc).__name__
                self._reject_block(
                    f"broken OCF block of {count} records: {detail}", buf[s:e], count, done + out
                )
            else:
                self.count += count
                out.extend(got)
        return out


class OcfEncoder(FrameEncoder):
    """The header once (when ``SkipHeader``), then one block per :meth:`encode` call."""

    def __init__(self, envelope: OcfBlock, **kw: Any) -> None:
        super().__init__(envelope.encoding, **kw)
        self.envelope = envelope
        self._parsed = envelope.encoding.parsed
        self._codec = envelope.codec or "null"
        self._sync = envelope.sync or os.urandom(SYNC_SIZE)
        self._header = header_bytes(self._parsed, self._codec, self._sync)
        self._header_due = envelope.skip_header
        self._check = getattr(envelope.encoding, "_check", None)

    def _records(self, records: list[Any]) -> list[Any]:
        """The records to write: controls dropped, records that fail the schema rejected."""
        if Control in map(type, records):
            logger.debug("stream %s: control records cannot be written in OCF blocks; dropped", self.stream)
            kept = [r for r in records if type(r) is not Control]
            self.count += len(records) - len(kept)
            records = kept
        if self._check is not None:
            try:
                self._check(records)
            except (ValueError, RecursionError):
                return self._records_slowly(records)
        return records

    def _records_slowly(self, records: list[Any]) -> list[Any]:
        good = []
        start = self.count
        for i, record in enumerate(records):
            try:
                self.encoding.encode_record(record, start + i)
            except RECORD_ERRORS as exc:
                self._reject(exc, start + i, record)
            else:
                good.append(record)
        # encode() counts len(good); the rejected ones are counted here.
        self.count += len(records) - len(good)
        return good

    def _block(self, records: list[Any]) -> bytes:
        out = BytesIO()
        try:
            fastavro.writer(
                out,
                self._parsed,
                records,
                codec=self._codec,
                sync_marker=self._sync,
                sync_interval=NO_SYNC_INTERVAL,
            )
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            records = self._records_slowly(records)
            out = BytesIO()
            fastavro.writer(
                out,
                self._parsed,
                records,
                codec=self._codec,
                sync_marker=self._sync,
                sync_interval=NO_SYNC_INTERVAL,
            )
        self.count += len(records)
        return out.getvalue()[len(self._header) :]

    def encode(self, records: list[Any]) -> bytes:
        records = self._records(records)
        data = self._block(records) if records else b""
        if self._header_due:
            self._header_due = False
            data = self._header + data
        self.bytes_written += len(data)
        return data

    def encode_messages(self, records: list[Any]) -> list[bytes]:
        data = self.encode(records)
        return [data] if data else []

    def finish(self) -> bytes:
        # An output with no records is still a valid (empty) Avro file.
        if self._header_due:
            self._header_due = False
            self.bytes_written += len(self._header)
            return self._header
        return b""
