"""The ``console`` transport: output records shown to the user. Output only.

Each item written (one encoded record) goes to a *target*, and its text is also kept in a bounded
buffer, :attr:`ConsoleSink.lines`, so an engine can show a run's console afterwards (``eng.console``).

The target is, in order of precedence:

1. the ``target`` given to :class:`ConsoleTransport` (a callable taking the item's bytes);
2. the module-wide target set with :func:`set_console_target` or :func:`redirect_console` (how an engine
   sends console output to a notebook cell or a log while it runs);
3. otherwise ``sys.stdout`` as it is at the time of the write, one line per item, decoded as UTF-8
   (bytes that are not UTF-8 show as U+FFFD).

Examples
--------
>>> t = ConsoleTransport({"type": "console"})
>>> with t.sink() as sink:
...     sink.write([b'{"a":1}', b"2"])
{"a":1}
2
>>> list(sink.lines)
['{"a":1}', '2']
"""

from __future__ import annotations

import collections
import contextlib
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from .base import Sink, Source, Transport
from .registry import direction_error

__all__ = ["ConsoleSink", "ConsoleTransport", "redirect_console", "set_console_target"]

logger = logging.getLogger(__name__)

ConsoleTarget = Callable[[bytes], None]

#: Lines a sink keeps by default (older lines are dropped first).
DEFAULT_MAX_LINES = 1000

_lock = threading.Lock()
_default_target: ConsoleTarget | None = None


def set_console_target(target: ConsoleTarget | None) -> ConsoleTarget | None:
    """Send the output of every console sink without its own target to ``target`` (``None``: stdout).

    Returns the previous target, so a caller can put it back.

    Examples
    --------
    >>> seen = []
    >>> previous = set_console_target(seen.append)
    >>> ConsoleTransport({"type": "console"}).sink().write([b"hi"])
    >>> _ = set_console_target(previous)
    >>> seen
    [b'hi']
    """
    global _default_target
    with _lock:
        previous, _default_target = _default_target, target
    return previous


@contextlib.contextmanager
def redirect_console(target: ConsoleTarget | None) -> Iterator[None]:
    """:func:`set_console_target` for the duration of a ``with`` block.

    Examples
    --------
    >>> seen = []
    >>> with redirect_console(seen.append):
    ...     ConsoleTransport({"type": "console"}).sink().write([b"x"])
    >>> seen
    [b'x']
    """
    previous = set_console_target(target)
    try:
        yield
    finally:
        set_console_target(previous)


class ConsoleTransport(Transport):
    """Shows output records (``{"type": "console"}``).

    Parameters
    ----------
    spec
        The interpreted transport section (it has no fields besides ``type``).
    stream
        The stream's name, for error messages.
    target
        Where items go (a callable taking each item's bytes); default: see the module docstring.
    max_lines
        How many lines :attr:`ConsoleSink.lines` keeps.

    Examples
    --------
    >>> got = []
    >>> ConsoleTransport({"type": "console"}, target=got.append).sink().write([b"1"])
    >>> got
    [b'1']
    """

    type_name: ClassVar[str] = "console"

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        target: ConsoleTarget | None = None,
        max_lines: int = DEFAULT_MAX_LINES,
    ) -> None:
        super().__init__(spec, stream=stream)
        self.target = target
        self.max_lines = max_lines

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> Source:
        raise direction_error(self, "input")

    def sink(self) -> ConsoleSink:
        """A sink showing each item and keeping the last ``max_lines`` of them."""
        return ConsoleSink(self)


class ConsoleSink(Sink):
    """Shows each item and keeps its text.

    Attributes
    ----------
    lines
        The text of the last items written (a bounded :class:`collections.deque`, trailing newline removed).
    items_written, bytes_written
        How many items and bytes were written.
    """

    preserves_boundaries = True

    def __init__(self, transport: ConsoleTransport) -> None:
        self.transport = transport
        self.lines: collections.deque[str] = collections.deque(maxlen=transport.max_lines)
        self.items_written = 0
        self.bytes_written = 0
        self._closed = False

    def write(self, items: list[bytes]) -> None:
        if self._closed:
            raise self.transport.error("the console was written after it was closed")
        target = self.transport.target or _default_target
        texts = []
        for item in items:
            text = bytes(item).decode("utf-8", "replace")
            if text.endswith("\n"):
                text = text[:-1]
            texts.append(text)
            if target is not None:
                target(bytes(item))
        self.lines.extend(texts)
        self.items_written += len(items)
        self.bytes_written += sum(map(len, items))
        if target is None and texts:
            # Looked up at each write, so output follows a notebook's or a test's redirection of stdout.
            out = sys.stdout
            if out is not None:
                out.write("".join(f"{t}\n" for t in texts))
                out.flush()

    def close(self) -> None:
        self._closed = True

    def abort(self) -> None:
        self._closed = True
