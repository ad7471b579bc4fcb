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
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, NamedTuple

from ..errors import Rejected

__all__ = [
    "END",
    "PIG",
    "SET",
    "BrokenStream",
    "Control",
    "DatumStream",
    "Decoder",
    "Encoder",
    "Encoding",
    "Envelope",
]


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

    With ``errors="raise"`` a bad record raises :class:`~fastscore_sdk.errors.RecordError` or
    :class:`~fastscore_sdk.errors.SchemaError` (carrying ``record_index``); the records that the same
    call decoded before it are on the exception's ``records`` attribute, so a reader can deliver them
    before it stops.

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

    def feed_messages(self, messages: list[bytes]) -> list[Any]:
        """Records in several messages of a boundary-preserving transport, in order.

        Same as calling :meth:`feed_message` on each, but decoders without an envelope decode the
        whole list in one batch (the fast path for Kafka and inline lists).
        """
        out: list[Any] = []
        for message in messages:
            out.extend(self.feed_message(message))
        return out

    @abstractmethod
    def finish(self) -> list[Any]:
        """At the end of the input: the last records (a partial frame is completed or rejected)."""

    def reset(self) -> None:
        """Forget any partial frame (the stream loops back to its start)."""


class Encoder(ABC):
    """Records -> bytes for one output stream.

    ``encode`` returns the framed bytes of a batch for a byte-stream sink; ``encode_messages`` returns
    one message per record for a message transport (with ``ocf-block``, one OCF message per call; with
    ``delimited-csv``, each message a CSV document with its header). :class:`Control` items are
    written as the encoding's control record. Records that fail the schema are rejected like input
    records; ``count`` counts every record and control item given, so a rejection's index is its
    position in the output stream.
    """

    def __init__(self, *, errors: str = "reject", stream: str | None = None, slot: int | None = None) -> None:
        if errors not in ("reject", "raise"):
            raise ValueError(f'errors must be "reject" or "raise", not {errors!r}')
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


class Encoding(ABC):
    """One encoding, bound to its options and schema: datum <-> bytes, for frames an envelope cut.

    This is the plugin interface of the ``fastscore_sdk.encodings`` entry-point group. The envelopes
    call :meth:`decode_batch` on a whole list of frames (the hot path: one comprehension, may raise
    anything) and fall back to :meth:`decode_frame` frame by frame only when the batch fails, to find
    and classify the bad frames.

    Parameters
    ----------
    options
        The interpreted encoding's fields other than ``type`` (``{"delimiter": ","}`` for csv).
    schema
        A :class:`fastscore_sdk.schema.Schema`, or None for untyped records.
    stream, slot
        Where the records travel, for error messages.
    """

    #: Canonical name, as in the interpreted descriptor.
    name: ClassVar[str] = ""
    #: True when a datum finds its own end (msgpack, avro-binary): no envelope needed on byte streams.
    self_delimiting: ClassVar[bool] = False
    #: True when frames are text, so the NUL padding of ``fixed`` frames is not part of the record.
    textual: ClassVar[bool] = False
    #: Bytes that every in-band control record of this encoding contains (None: no control records).
    marker: ClassVar[bytes | None] = None
    #: True when a datum decoded with the schema matches it by construction (avro-binary).
    typed: ClassVar[bool] = False

    def __init__(
        self,
        options: Mapping[str, Any] | None = None,
        schema: Any = None,
        *,
        stream: str | None = None,
        slot: int | None = None,
    ) -> None:
        self.options = dict(options or {})
        self.schema = schema
        self.stream = stream
        self.slot = slot

    def decode_batch(self, frames: list[bytes]) -> list[Any]:
        """Decode (and check) every frame; may raise anything: the caller then goes frame by frame."""
        return [self.decode_frame(f) for f in frames]

    def frame_decoder(self) -> Callable[[bytes], Any]:
        """A function that decodes and checks one frame, as fast as possible; may raise anything.

        Used for one message at a time (``feed_message``), where a batch would only add layers.
        """
        batch = self.decode_batch
        return lambda frame: batch([frame])[0]

    def decode_joined(self, data: bytes, separator: bytes, count: int) -> list[Any] | None:
        """Decode ``count`` frames joined by ``separator`` in one call; may raise anything.

        An optional fast path for the ``delimited`` envelope (json decodes NDJSON with one
        ``decode_lines`` call, skipping the split); None means "split and use :meth:`decode_batch`".
        It must raise (or return a list of another length) unless every frame held exactly one datum.
        """
        return None

    @abstractmethod
    def decode_frame(self, frame: bytes, index: int | None = None) -> Any:
        """Decode and check one frame; raises RecordError (bad encoding) or SchemaError (bad datum)."""

    def parse_control(self, frame: bytes) -> Control | None:
        """The control record in ``frame``, or None when it holds data (called only if it has the marker)."""
        return None

    def encode_batch(self, records: list[Any]) -> list[bytes]:
        """Check and encode records (no :class:`Control` among them); may raise anything."""
        return [self.encode_record(r) for r in records]

    @abstractmethod
    def encode_record(self, record: Any, index: int | None = None) -> bytes:
        """Check and encode one record; raises RecordError or SchemaError."""

    def encode_joined(self, records: list[Any], separator: bytes) -> bytes | None:
        """All records encoded, each followed by ``separator``; may raise anything.

        An optional fast path for the ``delimited`` envelope (json writes NDJSON in one call); None
        means "no faster than :meth:`encode_batch`". The envelope checks that the separator occurs
        exactly once per record.
        """
        return None

    def control_bytes(self, control: Control) -> bytes | None:
        """The encoded control record, or None when this encoding cannot carry one in band."""
        return None

    def datum_stream(self) -> DatumStream:
        """A reader of successive datums from a byte stream (self-delimiting encodings only)."""
        raise NotImplementedError(f"the {self.name} encoding cannot find record boundaries itself")


class DatumStream(ABC):
    """Successive datums of a self-delimiting encoding, read from a byte stream with no envelope.

    :meth:`Encoding.datum_stream` returns one for msgpack and avro-binary. It keeps a partial datum
    across chunks and returns control records as :class:`Control` items in their place. When the
    bytes cannot be decoded it raises :class:`BrokenStream`: these encodings have no sync marker, so
    reading cannot resume after a corrupt datum.
    """

    @abstractmethod
    def feed(self, chunk: bytes) -> list[Any]:
        """Datums completed by ``chunk``, as decoded (not yet checked against the schema)."""

    @abstractmethod
    def finish(self) -> list[Any]:
        """The datums left at the end of the input; raises BrokenStream if a partial one is left."""

    @abstractmethod
    def reset(self) -> None:
        """Forget any partial datum."""


class BrokenStream(Exception):
    """Raised by :meth:`DatumStream.feed` when the bytes cannot be decoded and reading cannot resume.

    ``values`` are the datums decoded before the bad one, ``raw`` the bytes from the bad one on.
    """

    def __init__(self, reason: str, values: list[Any], raw: bytes | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values
        self.raw = raw


class Envelope(ABC):
    """One envelope (framing), bound to its options and an :class:`Encoding`.

    This is the plugin interface of the ``fastscore_sdk.envelopes`` entry-point group.

    Parameters
    ----------
    options
        The interpreted envelope's fields other than ``type`` (``{"separator": "\\n"}``).
    encoding
        The bound encoding that turns each frame into a datum.
    """

    name: ClassVar[str] = ""

    def __init__(self, options: Mapping[str, Any] | None, encoding: Encoding) -> None:
        self.options = dict(options or {})
        self.encoding = encoding

    @abstractmethod
    def decoder(
        self,
        *,
        errors: str = "reject",
        stream: str | None = None,
        slot: int | None = None,
        end_marker: str | None = None,
    ) -> Decoder:
        """A new decoder for one input stream."""

    @abstractmethod
    def encoder(
        self, *, errors: str = "reject", stream: str | None = None, slot: int | None = None
    ) -> Encoder:
        """A new encoder for one output stream."""
