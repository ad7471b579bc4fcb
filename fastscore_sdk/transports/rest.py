"""The ``REST`` transport: records that arrive in HTTP request bodies and leave in responses.

A REST stream has no server of its own: it is an in-process queue between the engine and whoever
talks to it, the served engine's HTTP API (``POST .../1/job/input/0``, ``GET .../1/job/output/1``,
``POST .../2/active/model/roundtrip/0/1``) or a script calling ``eng.input`` / ``eng.output`` /
``eng.roundtrip`` directly.

* ``"Mode": "simple"`` (the default): one body is one message (boundary-preserving), so one request
  carries one record (or several, framed within the body when the stream has an envelope);
* ``"Mode": "chunked"``: the bodies form one byte stream that the envelope (``delimited`` by
  default) cuts into records; a record may even span two requests.

The source side (:class:`RestSource`) gets bodies from :meth:`RestSource.push` and ends on
:meth:`RestSource.end` (``eng.input(None)``) or when the stream's ``end`` control record arrives
(``{"$fastscore":"end"}`` for JSON). The sink side (:class:`RestSink`) queues what the engine writes
until :meth:`RestSink.pop` collects it; :meth:`RestSink.expect` lets a round trip claim every output
up to a marker (the ``pig`` control record it sent behind its input).

Examples
--------
>>> t = RestTransport({"type": "rest", "mode": "simple"}, stream="trip")
>>> src = t.source()
>>> src.push(b"1"); src.push(b"2"); src.end()
>>> src.read(timeout=0), src.read(timeout=0)
([b'1', b'2'], None)
>>> sink = t.sink()
>>> sink.write([b"10", b"20"]); sink.pending()
2
>>> sink.pop(), sink.pop(), sink.pop()
(b'10', b'20', None)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from .base import Sink, Source, Transport

__all__ = ["RestClaim", "RestSink", "RestSource", "RestTransport"]

logger = logging.getLogger(__name__)

_BYTES = (bytes, bytearray, memoryview)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError(f"a REST body must be bytes or str, not {type(data).__name__}")


class RestTransport(Transport):
    """REST input and output (``{"type": "rest", "mode": "simple" | "chunked"}``).

    Examples
    --------
    >>> RestTransport({"type": "rest", "mode": "chunked"}).source().preserves_boundaries
    False
    """

    type_name: ClassVar[str] = "rest"

    def __init__(self, spec: dict[str, Any], *, stream: str | None = None) -> None:
        super().__init__(spec, stream=stream)
        mode = str(spec.get("mode") or "simple").lower()
        if mode not in ("simple", "chunked"):
            raise self.error(f"unknown REST mode {spec.get('mode')!r}", hint='use "simple" or "chunked"')
        self.mode = mode
        self.chunked = mode == "chunked"

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> RestSource:
        """The input side: bodies pushed by :meth:`RestSource.push` come out of ``read``."""
        if skip_to is not None or skip_to_record is not None:
            raise self.error(
                "a REST input cannot skip ahead: records arrive as they are posted",
                hint="remove SkipTo / SkipToRecord from the descriptor",
            )
        return RestSource(self)

    def sink(self) -> RestSink:
        """The output side: what the engine writes waits for :meth:`RestSink.pop`."""
        return RestSink(self)


class RestSource(Source):
    """Bodies posted to a REST input, in order. Thread-safe: any thread may push, one reads.

    Attributes
    ----------
    items_pushed, bytes_pushed : int
        Bodies (and bytes) pushed so far.
    """

    def __init__(self, transport: RestTransport) -> None:
        self.transport = transport
        self.preserves_boundaries = not transport.chunked
        self._items: deque[bytes] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._ended = False
        self._closed = False
        # Absolute indexes of bodies a read must not hand out together with the ones before them.
        self._breaks: deque[int] = deque()
        self._taken = 0
        self.items_pushed = 0
        self.bytes_pushed = 0

    @property
    def ended(self) -> bool:
        """True once the input was ended (``end()``, an ``end`` control record, or ``close()``)."""
        return self._ended or self._closed

    def push(self, data: bytes | str) -> None:
        """Queue one body (bytes, or text sent as UTF-8).

        Raises
        ------
        TransportError
            The input has ended: nothing more can be sent on it in this run.
        """
        self.push_many((data,))

    def push_many(self, items: Iterable[bytes | str], *, last_apart: bool = False) -> None:
        """Queue several bodies at once: no other push can come between them.

        With ``last_apart``, ``read`` hands out the last body in a later call than the ones before
        it (a round trip's pig: the records ahead of it then decode as a plain batch, the cheap way).
        """
        batch = [_as_bytes(i) for i in items]
        with self._cond:
            if self._ended or self._closed:
                raise self.transport.error(
                    "the REST input has ended; nothing more can be sent in this run",
                    hint="reset the engine and run the model again",
                )
            if last_apart and len(batch) > 1:
                self._breaks.append(self.items_pushed + len(batch) - 1)
            self._items.extend(batch)
            self.items_pushed += len(batch)
            self.bytes_pushed += sum(map(len, batch))
            self._cond.notify()

    def end(self) -> None:
        """End the input: ``read`` returns what is queued, then ``None``."""
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        with self._cond:
            if not self._items:
                if self._ended or self._closed:
                    return None
                if timeout is not None and timeout <= 0:
                    return []
                deadline = None if timeout is None else time.monotonic() + timeout
                while not self._items and not (self._ended or self._closed):
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return []
                    self._cond.wait(left)
                if not self._items:
                    return None
            breaks = self._breaks
            while breaks and breaks[0] <= self._taken:
                breaks.popleft()
            if breaks and breaks[0] - self._taken < len(self._items):
                take = self._items.popleft
                items = [take() for _ in range(breaks[0] - self._taken)]
            else:
                items = list(self._items)
                self._items.clear()
            self._taken += len(items)
            return items

    def rewind(self) -> None:
        raise self.transport.error(
            "a REST input cannot loop: what was posted is not kept", hint='set "Loop": false'
        )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()


class RestClaim:
    """A claim on the outputs of a REST sink up to (not including) a marker message.

    Made by :meth:`RestSink.expect`; ``callback(items)`` is called once, from the writing thread, with
    the messages (simple mode) or byte pieces (chunked mode) written before the marker, or with
    ``None`` when the sink closed before the marker came.
    """

    __slots__ = ("abandoned", "callback", "marker", "needle")

    def __init__(self, marker: bytes, needle: bytes, callback: Callable[[list[bytes] | None], None]) -> None:
        self.marker = marker
        self.needle = needle
        self.callback = callback
        self.abandoned = False


class RestSink(Sink):
    """Output waiting to be collected over REST. Thread-safe: the engine writes, any thread pops.

    In simple mode every item written is one message and :meth:`pop` returns one message per call;
    in chunked mode the items are pieces of a byte stream and :meth:`pop` returns everything queued,
    joined.

    Attributes
    ----------
    items_written, bytes_written : int
    """

    def __init__(self, transport: RestTransport) -> None:
        self.transport = transport
        self.preserves_boundaries = not transport.chunked
        self._queue: deque[bytes] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        # Round trips waiting for their marker, oldest first, and what was written since the last
        # marker (it belongs to the next claim whose marker arrives).
        self._claims: list[RestClaim] = []
        self._by_marker: dict[bytes, RestClaim] = {}
        self._held: list[bytes] = []
        self.items_written = 0
        self.bytes_written = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, items: list[bytes]) -> None:
        done: list[tuple[RestClaim, list[bytes]]] = []
        with self._cond:
            if self._closed:
                raise self.transport.error("the REST output was written after it was closed")
            self.items_written += len(items)
            self.bytes_written += sum(map(len, items))
            if self._claims:
                for item in items:
                    self._route(bytes(item), done)
            else:
                self._queue.extend(items)
            self._cond.notify_all()
        for claim, got in done:
            if not claim.abandoned:
                claim.callback(got)

    def _route(self, item: bytes, done: list[tuple[RestClaim, list[bytes]]]) -> None:
        # Called with the lock held: hand what precedes each claimed marker to its claim.
        if not self.transport.chunked:
            claim = self._by_marker.get(item)
            if claim is None:
                (self._held if self._claims else self._queue).append(item)
                return
            self._settle(claim, done)
            return
        while item:
            if not self._claims:
                self._queue.append(item)
                return
            found = None
            for claim in self._claims:
                pos = item.find(claim.needle)
                if pos >= 0 and (found is None or pos < found[0]):
                    found = (pos, claim)
            if found is None:
                self._held.append(item)
                return
            pos, claim = found
            if pos:
                self._held.append(item[:pos])
            self._settle(claim, done)
            item = item[pos + len(claim.needle) :]

    def _settle(self, claim: RestClaim, done: list[tuple[RestClaim, list[bytes]]]) -> None:
        held, self._held = self._held, []
        self._claims.remove(claim)
        del self._by_marker[claim.marker]
        if claim.abandoned:
            logger.debug(
                "stream %r: %d outputs of a timed-out round trip dropped", self.transport.stream, len(held)
            )
        else:
            done.append((claim, held))

    def expect(
        self, marker: bytes, callback: Callable[[list[bytes] | None], None], *, separator: bytes = b""
    ) -> RestClaim:
        """Claim everything written from now up to ``marker`` (followed by ``separator`` in chunked mode).

        The marker itself is dropped; what comes after it is queued as usual (or goes to the next
        claim). Register the claim before sending the input that makes the marker come back.
        """
        claim = RestClaim(marker, marker + separator if self.transport.chunked else marker, callback)
        with self._cond:
            if self._closed:
                closed = True
            else:
                closed = False
                self._claims.append(claim)
                self._by_marker[marker] = claim
        if closed:
            callback(None)
        return claim

    def abandon(self, claim: RestClaim) -> None:
        """Stop waiting for a claim (a round trip timed out): what it would get is dropped on arrival."""
        claim.abandoned = True

    def pending(self) -> int:
        """Messages (or byte pieces) written and not collected yet."""
        return len(self._queue)

    def pop(self, timeout: float | None = 0.0) -> bytes | None:
        """The next output: one message (simple) or all queued bytes (chunked).

        Waits up to ``timeout`` seconds (``None``: until output or the end); returns ``None`` when
        nothing is ready.

        Raises
        ------
        EOFError
            The output is complete (the run ended) and everything was collected.
        """
        with self._cond:
            if not self._queue:
                if self._closed:
                    raise EOFError(f"the REST output of stream {self.transport.stream!r} has ended")
                if timeout is not None and timeout <= 0:
                    return None
                deadline = None if timeout is None else time.monotonic() + timeout
                while not self._queue and not self._closed:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return None
                    self._cond.wait(left)
                if not self._queue:
                    raise EOFError(f"the REST output of stream {self.transport.stream!r} has ended")
            if self.transport.chunked:
                data = b"".join(self._queue)
                self._queue.clear()
                return data
            return self._queue.popleft()

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            claims, self._claims = self._claims, []
            self._by_marker.clear()
            # Outputs nobody claimed in the end stay available to pop().
            self._queue.extend(self._held)
            self._held = []
            self._cond.notify_all()
        for claim in claims:
            if not claim.abandoned:
                claim.callback(None)

    def abort(self) -> None:
        # What the model produced stays available: over REST there is no partial object to remove.
        self.close()
