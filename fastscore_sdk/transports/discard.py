"""The ``discard`` transport: drops every output record, counting them. Output only.

Useful as the output of a benchmark or of a model run only for its side effects.

Examples
--------
>>> with DiscardTransport({"type": "discard"}).sink() as sink:
...     sink.write([b"1", b"22"])
>>> sink.items_written, sink.bytes_written
(2, 3)
"""

from __future__ import annotations

import logging
from typing import ClassVar

from .base import Sink, Source, Transport
from .registry import direction_error

__all__ = ["DiscardSink", "DiscardTransport"]

logger = logging.getLogger(__name__)


class DiscardTransport(Transport):
    """Drops output (``{"type": "discard"}``).

    Examples
    --------
    >>> DiscardTransport({"type": "discard"}).sink().write([b"gone"])
    """

    type_name: ClassVar[str] = "discard"

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> Source:
        raise direction_error(self, "input")

    def sink(self) -> DiscardSink:
        """A sink that counts and drops."""
        return DiscardSink(self)


class DiscardSink(Sink):
    """Counts items and bytes, keeps nothing.

    Attributes
    ----------
    items_written, bytes_written
        How many items and bytes were written (and dropped).
    """

    preserves_boundaries = True

    def __init__(self, transport: DiscardTransport) -> None:
        self.transport = transport
        self.items_written = 0
        self.bytes_written = 0
        self._closed = False

    def write(self, items: list[bytes]) -> None:
        if self._closed:
            raise self.transport.error("discard was written after it was closed")
        self.items_written += len(items)
        self.bytes_written += sum(map(len, items))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            logger.debug(
                "stream %r: discarded %d items (%d bytes)",
                self.transport.stream,
                self.items_written,
                self.bytes_written,
            )

    def abort(self) -> None:
        self.close()
