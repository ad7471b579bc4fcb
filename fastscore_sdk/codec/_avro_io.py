"""Avro Object Container File pieces: zigzag longs, headers and blocks (the spec's binary layout).

fastavro decodes and encodes whole files in C; these helpers let the codecs frame blocks themselves
(to find a broken block and resynchronise at the next sync marker) and hand fastavro complete files:
a header followed by verified blocks.
"""

from __future__ import annotations

import json
from io import BytesIO
from typing import Any

import fastavro

__all__ = ["MAGIC", "header_bytes", "read_header", "read_long", "write_long"]

MAGIC = b"Obj\x01"
SYNC_SIZE = 16
#: One block per writer call: the writer's own size limit must never split a batch.
NO_SYNC_INTERVAL = 1 << 62


def write_long(n: int) -> bytes:
    """Avro's zigzag varint of ``n``.

    Examples
    --------
    >>> write_long(0), write_long(-1), write_long(7), write_long(64)
    (b'\\x00', b'\\x01', b'\\x0e', b'\\x80\\x01')
    """
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_long(buf: bytes, pos: int) -> tuple[int, int] | None:
    """``(value, next position)`` of the zigzag varint at ``pos``, or None if the buffer ends first.

    Raises ValueError for a varint longer than 10 bytes (corrupt data).
    """
    shift = 0
    acc = 0
    n = len(buf)
    while True:
        if pos >= n:
            return None
        b = buf[pos]
        pos += 1
        acc |= (b & 0x7F) << shift
        if not b & 0x80:
            return (acc >> 1) ^ -(acc & 1), pos
        shift += 7
        if shift > 63:
            raise ValueError("corrupt varint (longer than 10 bytes)")


def header_bytes(parsed_schema: Any, codec: str, sync: bytes) -> bytes:
    """The OCF header fastavro writes for ``parsed_schema``, ``codec`` and ``sync``."""
    out = BytesIO()
    fastavro.writer(out, parsed_schema, [], codec=codec, sync_marker=sync)
    return out.getvalue()


def _read_bytes(buf: bytes, pos: int) -> tuple[bytes, int] | None:
    got = read_long(buf, pos)
    if got is None:
        return None
    size, pos = got
    if size < 0:
        raise ValueError(f"negative length {size}")
    if pos + size > len(buf):
        return None
    return buf[pos : pos + size], pos + size


def read_header(buf: bytes) -> tuple[dict[str, bytes], bytes, int] | None:
    """``(metadata, sync marker, header length)`` of the OCF header at the start of ``buf``.

    None when ``buf`` ends inside the header; ValueError when it is not an Avro file.
    """
    if len(buf) < len(MAGIC):
        if MAGIC.startswith(bytes(buf)):
            return None
        raise ValueError("not an Avro object container file (no 'Obj\\x01' magic)")
    if not buf.startswith(MAGIC):
        raise ValueError(
            f"not an Avro object container file: it starts with {bytes(buf[:4])!r}, not b'Obj\\x01'"
        )
    pos = len(MAGIC)
    meta: dict[str, bytes] = {}
    while True:
        got = read_long(buf, pos)
        if got is None:
            return None
        count, pos = got
        if count == 0:
            break
        if count < 0:  # a negative count is followed by the block's byte size
            count = -count
            got = read_long(buf, pos)
            if got is None:
                return None
            pos = got[1]
        for _ in range(count):
            key = _read_bytes(buf, pos)
            if key is None:
                return None
            value = _read_bytes(buf, key[1])
            if value is None:
                return None
            meta[key[0].decode("utf-8")] = value[0]
            pos = value[1]
    if pos + SYNC_SIZE > len(buf):
        return None
    return meta, bytes(buf[pos : pos + SYNC_SIZE]), pos + SYNC_SIZE


def header_schema(meta: dict[str, bytes]) -> Any:
    """The writer schema (JSON) in an OCF header's metadata."""
    return json.loads(meta["avro.schema"].decode("utf-8"))
