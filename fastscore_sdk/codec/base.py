"""The contract between streams and codecs.

A stream turns transport bytes into records with a :class:`Decoder`, and records into transport bytes
with an :class:`Encoder`. Both are built by :func:`fastscore_sdk.codec.decoder` /
:func:`fastscore_sdk.codec.encoder` from the interpreted ``envelope`` and ``encoding`` of a descriptor
and an optional :class:`fastscore_sdk.schema.Schema`; the schema check happens inside them, so a JSON
record is decoded and checked in one pass.

Records come out as plain Python values (dict, list, str, bytes, numbers); control records come out
as :class:`Control` items in their place in the stream. A record that cannot be framed, decoded or
checked is either rejected (appended to ``rejected`` with its index and reason, and skipped) or, with
``errors="raise"``, raised as :class:`~fastscore_sdk.errors.RecordError` /
:class:`~fastscore_sdk.errors.SchemaError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, NamedTuple

from ..errors import Rejected

__all__ = ["Control", "Decoder", "Encoder"]


class Control(NamedTuple):
    """A control record (reference §1.6): ``end`` (soft EOF), ``set`` (end of a record set) or ``pig``.

    ``id``, ``timestamp`` (ms) and ``misc`` are the optional properties the encodings can carry.
    """

    kind: str
    id: int | None = None
    timestamp: int | None = None
    misc: str | None = None


END = Control("end")
SET = Control("set")
PIG = Control("pig")


class Decoder(ABC):
    """Bytes of one input stream -> records, with rejection bookkeeping.

    Attributes
    ----------
    count
        Number of frames seen so far; the index the next record will get.
    rejected
        Records rejected so far (with ``errors="reject"``).
    bytes_read
        Bytes consumed so far.
    """

    def __init__(self, *, errors: str = "reject", stream: str | None = None, slot: int | None = None) -> None:
        if errors not in ("reject", "raise"):
            raise ValueError(f'errors must be "reject" or "raise", not {errors!r}')
        self.errors = errors
        self.stream = stream
        self.slot = slot
        self.count = 0
        self.bytes_read = 0
        self.rejected: list[Rejected] = []

    @abstractmethod
    def feed(self, chunk: bytes) -> list[Any]:
        """Records (and :class:`Control` items) completed by one chunk of a byte stream."""

    @abstractmethod
    def feed_message(self, message: bytes) -> list[Any]:
        """Records in one message of a boundary-preserving transport (one, or several with an envelope)."""

    @abstractmethod
    def finish(self) -> list[Any]:
        """At the end of the input: the last records (a partial frame is completed or rejected)."""

    def reset(self) -> None:
        """Forget any partial frame (the stream loops back to its start)."""


class Encoder(ABC):
    """Records -> bytes for one output stream.

    ``encode`` returns the framed bytes of a batch for a byte-stream sink; ``encode_messages`` returns
    one message per record for a message transport. :class:`Control` items are written as the
    encoding's control record. Records that fail the schema are rejected like input records.
    """

    def __init__(self, *, errors: str = "reject", stream: str | None = None, slot: int | None = None) -> None:
        self.errors = errors
        self.stream = stream
        self.slot = slot
        self.count = 0
        self.bytes_written = 0
        self.rejected: list[Rejected] = []

    @abstractmethod
    def encode(self, records: list[Any]) -> bytes:
        """Framed bytes for a byte-stream sink (a header first, for envelopes that have one)."""

    @abstractmethod
    def encode_messages(self, records: list[Any]) -> list[bytes]:
        """One message per record for a message transport."""

    def finish(self) -> bytes:
        """Trailing bytes at the end of the output (e.g. the last OCF block); usually empty."""
        return b""
