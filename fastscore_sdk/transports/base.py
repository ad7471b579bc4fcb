"""The contract every transport implements.

A transport moves bytes; it knows nothing of envelopes, encodings, schemas or models. It is built from
the *interpreted* transport section of a descriptor (snake_case keys, defaults applied, ``secret://``
values already resolved) and hands out a :class:`Source` (input) and/or a :class:`Sink` (output).

Two kinds of transport exist, and the stream composes codecs differently for each:

* byte streams (``preserves_boundaries`` false: file, exec, HTTP, TCP, S3, inline ``Data`` string):
  ``Source.read`` returns arbitrary chunks that an envelope cuts into records, and ``Sink.write`` gets
  already framed bytes;
* message transports (``preserves_boundaries`` true: Kafka, UDP, REST simple, inline list): each item
  ``Source.read`` returns is one message (one record, or one body an envelope frames within), and
  ``Sink.write`` gets one item per message.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

from ..errors import TransportError

__all__ = ["Sink", "Source", "Transport"]


class Source(ABC):
    """Reads from one transport. Not thread-safe: one reader at a time."""

    #: True when every item of :meth:`read` is a whole message (see the module docstring).
    preserves_boundaries: bool = False
    #: True when the items are records already (database rows), not bytes: no envelope, no encoding.
    records: bool = False

    @abstractmethod
    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """Return what is available now.

        Blocks up to ``timeout`` seconds (``None``: until something arrives or the end) and returns a
        list of chunks or messages; an empty list means nothing arrived in time; ``None`` means the
        end of the stream (it stays ended: later calls return ``None`` too).
        """

    def rewind(self) -> None:
        """Start again from the beginning (``Loop``); only seekable transports support it."""
        raise TransportError("this transport cannot loop: it is not seekable", hint='set "Loop": false')

    def close(self) -> None:
        """Release the transport's resources; safe to call twice."""

    def position(self) -> Any:
        """An opaque token for "everything :meth:`read` returned so far", or None (nothing to commit).

        The engine passes it back to :meth:`commit` once every record up to it was processed and
        the outputs they produced were delivered: at-least-once delivery for transports that keep
        a read position on the server side (Kafka consumer groups).
        """
        return None

    def commit(self, position: Any) -> None:
        """Record that everything up to ``position`` (from :meth:`position`) is done."""

    def __iter__(self) -> Iterator[bytes]:
        while True:
            items = self.read(None)
            if items is None:
                return
            yield from items

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Sink(ABC):
    """Writes to one transport. ``close`` completes the output; ``abort`` discards what it can."""

    preserves_boundaries: bool = False
    #: True when :meth:`write` takes the records themselves (database rows), not encoded bytes.
    records: bool = False

    @abstractmethod
    def write(self, items: list[bytes]) -> None:
        """Write framed chunks (byte streams) or one message per item (message transports)."""

    def flush(self) -> None:
        """Push buffered data to the transport."""

    def close(self) -> None:
        """Flush and complete the output (an upload completes, a file is closed); safe to call twice."""

    def abort(self) -> None:
        """Stop after a failure, leaving no partial output where the transport allows it."""
        self.close()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class Transport(ABC):
    """A configured transport: the interpreted ``transport`` section plus the stream's name.

    Parameters
    ----------
    spec
        The interpreted transport (``{"type": "file", "path": "/data/in.jsons"}``), secrets resolved.
    stream
        The stream's name, used in error messages.
    """

    #: Canonical type name, as in the interpreted descriptor (``"file"``, ``"rest"``, ``"kafka"``).
    type_name: ClassVar[str] = ""

    def __init__(self, spec: dict[str, Any], *, stream: str | None = None) -> None:
        self.spec = spec
        self.stream = stream

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> Source:
        """Open for reading. ``skip_to`` is a byte offset, ``skip_to_record`` a record/offset keyword."""
        raise TransportError(
            "this transport cannot be read: it is output only", stream=self.stream, transport=self.type_name
        )

    def sink(self) -> Sink:
        """Open for writing."""
        raise TransportError(
            "this transport cannot be written: it is input only", stream=self.stream, transport=self.type_name
        )

    def error(self, message: str, *, hint: str | None = None) -> TransportError:
        """A :class:`TransportError` naming this stream and transport."""
        return TransportError(message, stream=self.stream, transport=self.type_name, hint=hint)
