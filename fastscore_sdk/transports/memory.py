"""The ``memory`` transport: output collected in this process, for notebooks and tests. Output only.

Every message the sink receives (one encoded record) is kept in a process-local store under the
transport's ``Name`` (the stream's name when ``Name`` is not given), so what a model wrote can be
read back without a file or a server: ``fs.Stream.collect()`` builds such a stream and its
``to_pandas()`` decodes the collection. Opening a sink starts the collection afresh (like opening a
file for writing); the messages stay until the next sink of that name opens or :func:`clear` is
called. The engine runs in this process (also when served over REST), so its outputs land here;
an engine in another process or on another host has its own store.

Descriptor: ``{"Transport": {"Type": "memory", "Name": "scores"}, "Encoding": "json"}``.

Examples
--------
>>> with MemoryTransport({"type": "memory", "name": "doc-example"}).sink() as sink:
...     sink.write([b'{"x":1}', b'{"x":2}'])
>>> collected("doc-example")
[b'{"x":1}', b'{"x":2}']
>>> clear("doc-example")
>>> collected("doc-example")
[]
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import ClassVar

from ..descriptor.traits import Traits
from .base import Sink, Source, Transport
from .registry import direction_error

__all__ = [
    "FIELDS",
    "TRAITS",
    "Collection",
    "MemorySink",
    "MemoryTransport",
    "clear",
    "collected",
    "collection",
    "names",
]

logger = logging.getLogger(__name__)

#: The descriptor traits of ``memory`` (for :data:`fastscore_sdk.descriptor.traits.TRAITS`): one
#: message per record, like Kafka, so an envelope does not apply.
TRAITS = Traits(input=False, output=True, seekable=False, preserves_boundaries=True, framed=False)
#: The written fields of its ``Transport`` section (for ``fastscore_sdk.descriptor.fields.TRANSPORT_FIELDS``).
FIELDS: tuple[str, ...] = ("Name",)


@dataclass
class Collection:
    """What one memory sink collected.

    Attributes
    ----------
    messages
        The encoded messages, in the order written.
    complete
        True once the sink was closed normally; False while it is open or after an abort.
    runs
        How many sinks of this name were opened so far in this process.
    """

    messages: list[bytes] = field(default_factory=list)
    complete: bool = False
    runs: int = 0


_lock = threading.Lock()
_store: dict[str, Collection] = {}


def collection(name: str) -> Collection:
    """The :class:`Collection` kept under ``name`` (an empty one if nothing was written yet).

    Examples
    --------
    >>> collection("never-written").messages
    []
    """
    with _lock:
        found = _store.get(name)
        if found is None:
            return Collection()
        return Collection(list(found.messages), found.complete, found.runs)


def collected(name: str) -> list[bytes]:
    """A copy of the messages kept under ``name``, in the order written (empty if none)."""
    return collection(name).messages


def clear(name: str | None = None) -> None:
    """Forget what was collected under ``name`` (every name when ``None``), freeing the memory."""
    with _lock:
        if name is None:
            _store.clear()
        else:
            _store.pop(name, None)


def names() -> list[str]:
    """The names something was collected under, sorted."""
    with _lock:
        return sorted(_store)


class MemoryTransport(Transport):
    """Collects output messages in this process (``{"type": "memory", "name": "scores"}``).

    Parameters
    ----------
    spec
        The interpreted transport section; ``name`` is the key of the collection (default: the
        stream's name).
    stream
        The stream's name, for error messages and as the default key.

    Examples
    --------
    >>> MemoryTransport({"type": "memory"}, stream="scores").key
    'scores'
    """

    type_name: ClassVar[str] = "memory"

    def __init__(self, spec: dict[str, object], *, stream: str | None = None) -> None:
        super().__init__(spec, stream=stream)
        key = spec.get("name") or stream
        if not isinstance(key, str) or not key:
            raise self.error(
                "no collection name: Transport.Name is missing and the stream has no name",
                hint='set Transport.Name, e.g. {"Type": "memory", "Name": "scores"}',
            )
        self.key = key

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> Source:
        raise direction_error(self, "input")

    def sink(self) -> MemorySink:
        """A sink that replaces what was collected under this name."""
        return MemorySink(self)


class MemorySink(Sink):
    """Appends each message to the process-local collection of its name.

    A closed sink's collection is marked complete; an aborted one keeps what was delivered (a
    notebook user wants to see how far a failed run got) and stays marked incomplete.
    """

    preserves_boundaries = True

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self._closed = False
        with _lock:
            runs = _store[transport.key].runs if transport.key in _store else 0
            self._collection = _store[transport.key] = Collection(runs=runs + 1)

    def write(self, items: list[bytes]) -> None:
        if self._closed:
            raise self.transport.error(f"collection {self.transport.key!r} was written after it was closed")
        with _lock:
            self._collection.messages.extend(items)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with _lock:
            self._collection.complete = True
            count = len(self._collection.messages)
        logger.debug(
            "stream %r: collected %d messages under %r", self.transport.stream, count, self.transport.key
        )

    def abort(self) -> None:
        if not self._closed:
            self._closed = True
            logger.debug("stream %r: collection %r aborted", self.transport.stream, self.transport.key)
