"""The ``file`` transport: a local file, read in large chunks or written as a byte stream.

Input reads the file in chunks of ``chunk_size`` bytes (1 MiB by default), which the stream's envelope
cuts into records; ``SkipTo`` seeks to a byte offset and ``Loop`` rewinds to the start of the file.

Output truncates the file when it is opened (a run replaces the previous output, it never appends to
it) and writes into it directly. The folder must exist: a missing folder is an error naming it rather
than being created, so a typo in a path does not silently grow a new directory tree. Because the file is
written in place, :meth:`FileSink.abort` keeps what was written so far (and logs how much), it cannot
take it back.

Relative paths resolve against the current directory when the transport is built (the ``file:``
literal accepts them, unlike the original FastScore).

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "out.jsons")
>>> t = FileTransport({"type": "file", "path": path}, stream="out")
>>> with t.sink() as sink:
...     sink.write([b"1\\n", b"2\\n"])
>>> with t.source() as src:
...     b"".join(src)
b'1\\n2\\n'
"""

from __future__ import annotations

import logging
import os
from typing import IO, Any, ClassVar

from .base import Sink, Source, Transport

__all__ = ["DEFAULT_CHUNK_SIZE", "FileSink", "FileSource", "FileTransport"]

logger = logging.getLogger(__name__)

#: Bytes per read: large enough that per-chunk overhead vanishes, small enough to sample quickly.
DEFAULT_CHUNK_SIZE = 1 << 20


class FileTransport(Transport):
    """A local file (``{"type": "file", "path": "/data/in.jsons"}``).

    Parameters
    ----------
    spec
        The interpreted transport section; ``path`` is required.
    stream
        The stream's name, for error messages.
    chunk_size
        Bytes per :meth:`FileSource.read` and the write buffer's size.

    Examples
    --------
    >>> FileTransport({"type": "file", "path": "in.jsons"}).path == os.path.abspath("in.jsons")
    True
    """

    type_name: ClassVar[str] = "file"
    #: Reads and writes the host's files: a served engine refuses it unless allowed (DESIGN §8).
    host_access: ClassVar[bool] = True

    def __init__(
        self, spec: dict[str, Any], *, stream: str | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE
    ) -> None:
        super().__init__(spec, stream=stream)
        raw = spec.get("path")
        if not isinstance(raw, (str, os.PathLike)) or not os.fspath(raw):
            raise self.error("no path given", hint="set Transport.Path to the file to read or write")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
        self.given_path = os.fspath(raw)
        # Resolved once, here, so a later change of directory cannot change which file is meant.
        self.path = os.path.abspath(os.path.expanduser(self.given_path))
        self.chunk_size = chunk_size

    def _where(self) -> str:
        if os.path.isabs(self.given_path):
            return repr(self.path)
        return f"{self.given_path!r} ({self.path})"

    def _open_error(self, exc: OSError, action: str) -> Exception:
        hint: str | None
        if isinstance(exc, FileNotFoundError):
            # Said in the message, not as a hint, so the parenthesis reads naturally.
            reason = f"no such file; check the path (relative paths resolve against {os.getcwd()})"
            hint = None
        elif isinstance(exc, IsADirectoryError):
            reason = "it is a directory"
            hint = "give the path of a file inside it"
        elif isinstance(exc, PermissionError):
            reason = "permission denied"
            hint = "check the file's and its folder's permissions"
        else:
            reason = exc.strerror or str(exc)
            hint = None
        return self.error(f"cannot open {self._where()} for {action}: {reason}", hint=hint)

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> FileSource:
        """Open the file for reading, at byte ``skip_to`` when given.

        ``skip_to_record`` is refused: a file is a byte stream, and records are counted by the stream
        after framing.
        """
        if skip_to_record is not None:
            raise self.error(
                "a file is a byte stream, it cannot skip to a record by itself",
                hint="use SkipTo (a byte offset), or skip records after framing",
            )
        offset = _check_offset(self, skip_to)
        try:
            fh = open(self.path, "rb", buffering=0)  # noqa: SIM115 (the Source owns it)
        except OSError as exc:
            raise self._open_error(exc, "reading") from exc
        if offset:
            fh.seek(offset)
        logger.debug("stream %r: reading %s from byte %d", self.stream, self.path, offset)
        return FileSource(self, fh)

    def sink(self) -> FileSink:
        """Create (or truncate) the file for writing; its folder must exist."""
        folder = os.path.dirname(self.path)
        if not os.path.isdir(folder):
            raise self.error(
                f"cannot write {self._where()}: the folder {folder!r} does not exist",
                hint="create the folder first; the file transport does not create folders",
            )
        try:
            fh = open(self.path, "wb", buffering=self.chunk_size)  # noqa: SIM115 (the Sink owns it)
        except OSError as exc:
            raise self._open_error(exc, "writing") from exc
        logger.debug("stream %r: writing %s", self.stream, self.path)
        return FileSink(self, fh)


def _check_offset(transport: Transport, skip_to: Any) -> int:
    if skip_to is None:
        return 0
    if isinstance(skip_to, bool) or not isinstance(skip_to, int) or skip_to < 0:
        raise transport.error(
            f"SkipTo must be a byte offset (an integer >= 0), not {skip_to!r}", hint="e.g. SkipTo: 1024"
        )
    return skip_to


class FileSource(Source):
    """Reads a file in chunks; seekable.

    Attributes
    ----------
    bytes_read
        Bytes returned so far (counting again after a rewind).
    """

    preserves_boundaries = False

    def __init__(self, transport: FileTransport, fh: IO[bytes]) -> None:
        self.transport = transport
        self._fh = fh
        self._eof = False
        self._closed = False
        self.bytes_read = 0

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """The next chunk, or ``None`` at the end of the file (a disk read never waits for data)."""
        if self._closed:
            raise self.transport.error(f"{self.transport.path!r} was read after it was closed")
        if self._eof:
            return None
        try:
            chunk = self._fh.read(self.transport.chunk_size)
        except OSError as exc:
            raise self.transport.error(f"cannot read {self.transport.path!r}: {exc.strerror or exc}") from exc
        if not chunk:
            self._eof = True
            return None
        self.bytes_read += len(chunk)
        return [chunk]

    def rewind(self) -> None:
        """Start again at byte 0 (not at ``SkipTo``: a loop restarts the file from its beginning)."""
        if self._closed:
            raise self.transport.error(f"{self.transport.path!r} was rewound after it was closed")
        self._fh.seek(0)
        self._eof = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._fh.close()


class FileSink(Sink):
    """Writes a file (truncated when opened) through a buffer of ``chunk_size`` bytes.

    Attributes
    ----------
    bytes_written
        Bytes handed to :meth:`write` so far.
    """

    preserves_boundaries = False

    def __init__(self, transport: FileTransport, fh: IO[bytes]) -> None:
        self.transport = transport
        self._fh = fh
        self._closed = False
        self.bytes_written = 0

    def _failed(self, exc: OSError, action: str) -> Exception:
        hint = "free some disk space" if exc.errno == 28 else None  # ENOSPC
        return self.transport.error(
            f"cannot {action} {self.transport.path!r} after {self.bytes_written} bytes: {exc.strerror or exc}",
            hint=hint,
        )

    def write(self, items: list[bytes]) -> None:
        if self._closed:
            raise self.transport.error(f"{self.transport.path!r} was written after it was closed")
        try:
            self._fh.writelines(items)
        except OSError as exc:
            raise self._failed(exc, "write") from exc
        self.bytes_written += sum(map(len, items))

    def flush(self) -> None:
        if self._closed:
            return
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._failed(exc, "write") from exc

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._fh.close()
        except OSError as exc:
            raise self._failed(exc, "complete") from exc
        logger.debug(
            "stream %r: wrote %d bytes to %s", self.transport.stream, self.bytes_written, self.transport.path
        )

    def abort(self) -> None:
        """Close the file, keeping what was written: a file written in place cannot be taken back."""
        if self._closed:
            return
        self._closed = True
        try:
            self._fh.close()
        except OSError as exc:
            logger.warning(
                "stream %r: closing %s after a failure: %s", self.transport.stream, self.transport.path, exc
            )
        logger.warning(
            "stream %r: output stopped early; %s holds the first %d bytes",
            self.transport.stream,
            self.transport.path,
            self.bytes_written,
        )
