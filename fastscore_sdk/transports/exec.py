"""The ``exec`` transport: a program's standard output (input) or standard input (output).

``{"type": "exec", "run": "/bin/sh", "args": ["-c", "printf '1\\n2\\n'"]}`` runs ``run`` with ``args``
directly, without a shell (pass ``/bin/sh -c`` yourself when you want one), in a process group of its
own so that stopping it also stops whatever it started.

* As input, its stdout is read in chunks by a background thread, so :meth:`ExecSource.read` honours
  its timeout however slowly the program writes. The stream ends when the program closes its stdout
  and exits; a non-zero exit status is a :class:`~fastscore_sdk.errors.TransportError` carrying the
  status and the last lines the program wrote on stderr.
* As output, records are written to its stdin; :meth:`ExecSink.close` closes stdin, waits for the
  program to exit (``close_timeout`` seconds, then stops it) and reports a failure exit status. What the
  program writes on its stdout is not part of the stream: it is logged at DEBUG level (logger
  ``fastscore_sdk.transports.exec``) and its last lines kept in :attr:`ExecSink.output_tail`.

Closing or aborting stops a program that is still running (SIGTERM, then SIGKILL after a second) and
always reaps it, so no zombie is left behind; a source or sink dropped without being closed is stopped
when it is garbage collected. Being in its own session, the program does not receive the terminal's
Ctrl-C: the interrupted reader closes it instead. Error messages name the program, never its arguments
(which may hold resolved secrets).

Examples
--------
>>> t = ExecTransport({"type": "exec", "run": "/bin/sh", "args": ["-c", "printf '1\\\\n2\\\\n'"]})
>>> with t.source() as src:
...     b"".join(src)
b'1\\n2\\n'
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from typing import IO, Any, ClassVar

from .base import Sink, Source, Transport

__all__ = ["ExecSink", "ExecSource", "ExecTransport"]

logger = logging.getLogger(__name__)

_POSIX = os.name == "posix"
#: Lines of stderr shown in an error message (more are kept, and all are logged at DEBUG level).
SHOWN_STDERR_LINES = 5
_KEPT_LINES = 50
_MAX_LINE = 4096
#: Seconds a program gets to exit after SIGTERM before it is killed.
_GRACE = 1.0
#: Chunks the reader thread may queue ahead of the consumer (bounds memory with a fast producer).
_QUEUE_DEPTH = 64
_EOF = object()
# SIGKILL is POSIX only; elsewhere terminate() is the strongest stop there is.
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)


class ExecTransport(Transport):
    """A program run without a shell: ``run`` (path, or a name looked up on ``PATH``) and ``args``.

    Parameters
    ----------
    spec
        The interpreted transport section: ``run`` (required), ``args`` (a list of strings, default ``[]``).
    stream
        The stream's name, for error messages.
    chunk_size
        Largest chunk read from the program's stdout at once.
    close_timeout
        Seconds :meth:`ExecSink.close` waits for the program to exit after its stdin is closed.

    Examples
    --------
    >>> ExecTransport({"type": "exec", "run": "cat"}).argv
    ['cat']
    """

    type_name: ClassVar[str] = "exec"
    #: Runs commands on the host: a served engine refuses it unless allowed (DESIGN §8).
    host_access: ClassVar[bool] = True

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        chunk_size: int = 1 << 16,
        close_timeout: float = 10.0,
    ) -> None:
        super().__init__(spec, stream=stream)
        run = spec.get("run")
        if not isinstance(run, (str, os.PathLike)) or not os.fspath(run):
            raise self.error("no program given", hint="set Transport.Run to the program to run")
        args = spec.get("args") or []
        if not isinstance(args, (list, tuple)) or not all(isinstance(a, (str, os.PathLike)) for a in args):
            raise self.error(
                "Transport.Args must be a list of strings", hint='e.g. "Args": ["-c", "cat data.jsons"]'
            )
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
        self.run = os.fspath(run)
        self.argv = [self.run, *(os.fspath(a) for a in args)]
        self.chunk_size = chunk_size
        self.close_timeout = close_timeout

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> ExecSource:
        """Start the program and read its stdout (not seekable: ``skip_to``/``skip_to_record`` refused)."""
        if skip_to is not None or skip_to_record is not None:
            raise self.error(
                "a program's output cannot be skipped into: exec is not seekable",
                hint="remove SkipTo/SkipToRecord, or have the program skip (e.g. tail -c +N)",
            )
        return ExecSource(self)

    def sink(self) -> ExecSink:
        """Start the program and write to its stdin."""
        return ExecSink(self)


class _Child:
    """One running program: its process (group), a thread keeping its stderr tail, stop and reap."""

    def __init__(self, transport: ExecTransport, *, stdin: Any, stdout: Any) -> None:
        self.transport = transport
        try:
            self.proc = subprocess.Popen(
                transport.argv,
                stdin=stdin,
                stdout=stdout,
                stderr=subprocess.PIPE,
                # Its own process group, so stopping it also stops the children a script starts
                # (and which would otherwise keep our pipes open).
                start_new_session=_POSIX,
            )
        except FileNotFoundError as exc:
            raise transport.error(
                f"cannot run {transport.run!r}: no such program",
                hint="give the program's absolute path or put it on PATH; a script also needs the "
                "interpreter named on its #! line",
            ) from exc
        except PermissionError as exc:
            raise transport.error(
                f"cannot run {transport.run!r}: permission denied",
                hint=f"make it executable: chmod +x {transport.run}",
            ) from exc
        except OSError as exc:
            raise transport.error(f"cannot run {transport.run!r}: {exc.strerror or exc}") from exc
        logger.debug(
            "stream %r: started %s (pid %d, %d args)",
            transport.stream,
            transport.run,
            self.proc.pid,
            len(transport.argv) - 1,
        )
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
        assert self.proc.stderr is not None
        self._stderr_thread = _start_line_collector(
            self.proc.stderr.fileno(), self.stderr_tail, f"{transport.run} stderr"
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _signal(self, sig: int) -> None:
        try:
            if _POSIX:
                os.killpg(self.proc.pid, sig)
            else:
                self.proc.send_signal(sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self) -> bool:
        """Stop the program if it still runs (TERM, then KILL) and reap it; True if it had to be stopped."""
        stopped = False
        if self.proc.poll() is None:
            stopped = True
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(_GRACE)
            except subprocess.TimeoutExpired:
                self._signal(_KILL)
                self.proc.wait()
        self._stderr_thread.join(_GRACE)
        if self._stderr_thread.is_alive():
            # A grandchild still holds stderr open: the group outlives its leader, so stop it too.
            self._signal(_KILL)
            self._stderr_thread.join(_GRACE)
        return stopped

    def wait(self, timeout: float | None) -> bool:
        """Wait for the program to exit; False if it is still running after ``timeout`` seconds."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self._stderr_thread.join(_GRACE)
        return True

    def status(self) -> str:
        code = self.proc.returncode
        if code is None:
            return "is still running"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            return f"was killed by signal {name}"
        return f"exited with status {code}"

    def failure(self, what: str = "") -> Exception | None:
        """The error for a non-zero exit status (``None`` after a clean exit)."""
        if self.proc.returncode == 0 and not what:
            return None
        return self.transport.error(f"{self.transport.run!r} {what}{self.status()}{self.stderr_text()}")

    def stderr_text(self) -> str:
        lines = [line if len(line) <= 300 else line[:300] + "..." for line in list(self.stderr_tail)]
        if not lines:
            return "; it wrote nothing on stderr"
        shown = "\n  ".join(lines[-SHOWN_STDERR_LINES:])
        return f"; the last lines of its stderr:\n  {shown}"

    def close_pipes(self, *, stdout_reader: threading.Thread | None = None) -> None:
        """Close the pipes, except one a reader thread still reads from.

        A thread blocked in ``os.read`` on a closed descriptor could later read whatever file reuses
        its number; so a pipe held open by a stray grandchild is left to that (daemon) thread instead.
        """
        pipes: list[IO[bytes] | None] = [self.proc.stdin]
        if stdout_reader is None or not stdout_reader.is_alive():
            pipes.append(self.proc.stdout)
        if not self._stderr_thread.is_alive():
            pipes.append(self.proc.stderr)
        for pipe in pipes:
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    # A pipe whose reader has gone fails to flush on close; the program is already reaped.
                    pass


def _start_line_collector(fd: int, tail: collections.deque[str], label: str) -> threading.Thread:
    """A thread keeping the last lines written on ``fd`` (each at most ``_MAX_LINE`` bytes)."""

    def add(raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        tail.append(line)
        logger.debug("%s: %s", label, line)

    def collect() -> None:
        # Raw reads, not readline: a program writing megabytes without a newline must not fill memory.
        partial = b""
        try:
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()[-_MAX_LINE:]
                for raw in lines:
                    add(raw[-_MAX_LINE:])
        except OSError:
            # The pipe failed while the program was being stopped: nothing more to collect.
            pass
        if partial:
            add(partial)

    thread = threading.Thread(target=collect, name=f"fastscore-exec-{label}", daemon=True)
    thread.start()
    return thread


def _pump(fd: int, chunks: queue.Queue[Any], chunk_size: int, stop: threading.Event) -> None:
    """Reader thread: stdout chunks into ``chunks``, then an exception or ``_EOF``."""

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                chunks.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    try:
        while True:
            chunk = os.read(fd, chunk_size)
            if not chunk or not put(chunk):
                break
    except OSError as exc:
        if not stop.is_set():
            put(exc)
    finally:
        put(_EOF)


class ExecSource(Source):
    """A running program's stdout, read by a background thread.

    Attributes
    ----------
    pid
        The program's process id.
    process
        Its :class:`subprocess.Popen` (``returncode`` is set once it has been reaped).
    bytes_read
        Bytes returned so far.
    """

    preserves_boundaries = False

    def __init__(self, transport: ExecTransport) -> None:
        self.transport = transport
        self._child = _Child(transport, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        self.process = self._child.proc
        self.pid = self._child.pid
        self.bytes_read = 0
        self._chunks: queue.Queue[Any] = queue.Queue(_QUEUE_DEPTH)
        self._stop = threading.Event()
        assert self.process.stdout is not None
        self._reader = threading.Thread(
            target=_pump,
            args=(self.process.stdout.fileno(), self._chunks, transport.chunk_size, self._stop),
            name=f"fastscore-exec-{transport.run} stdout",
            daemon=True,
        )
        self._reader.start()
        self._stdout_done = False
        self._ended = False
        self._error: Exception | None = None
        self._closed = False

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """Chunks of stdout that arrived within ``timeout`` seconds; ``None`` once the program has exited.

        Raises
        ------
        TransportError
            The program exited with a non-zero status (raised again by later calls).
        """
        if self._closed:
            raise self.transport.error(f"the output of {self.transport.run!r} was read after it was closed")
        if self._error is not None:
            raise self._error
        if self._ended:
            return None
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        if not self._stdout_done:
            try:
                if timeout is None:
                    first = self._chunks.get()
                elif timeout <= 0:
                    first = self._chunks.get_nowait()
                else:
                    first = self._chunks.get(timeout=timeout)
            except queue.Empty:
                return []
            items: list[bytes] = []
            item = first
            while True:
                if item is _EOF:
                    self._stdout_done = True
                    break
                if isinstance(item, OSError):
                    self._error = self.transport.error(
                        f"cannot read the output of {self.transport.run!r}: {item.strerror or item}"
                    )
                    raise self._error
                items.append(item)
                if len(items) >= _QUEUE_DEPTH:
                    break
                try:
                    item = self._chunks.get_nowait()
                except queue.Empty:
                    break
            if items:
                self.bytes_read += sum(map(len, items))
                return items
        # Its stdout is closed: the stream ends when the program exits, and how it exits matters.
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._child.wait(remaining):
            return []
        error = self._child.failure()
        if error is not None:
            self._error = error
            raise error
        logger.debug(
            "stream %r: %s exited after %d bytes", self.transport.stream, self.transport.run, self.bytes_read
        )
        self._ended = True
        return None

    def rewind(self) -> None:
        raise self.transport.error(
            "a program's output cannot loop: exec is not seekable", hint='set "Loop": false'
        )

    def close(self) -> None:
        """Stop the program if it still runs, reap it and release the pipes; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._child.stop():
            logger.debug(
                "stream %r: stopped %s before it finished", self.transport.stream, self.transport.run
            )
        self._reader.join(_GRACE)
        self._child.close_pipes(stdout_reader=self._reader)

    def __del__(self) -> None:
        # A source dropped without close() must not leave its program running or unreaped.
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except OSError:
                pass


class ExecSink(Sink):
    """A running program's stdin.

    Attributes
    ----------
    pid, process
        The program's process id and :class:`subprocess.Popen`.
    bytes_written
        Bytes delivered to its stdin so far.
    output_tail
        The last lines the program wrote on its stdout (which is not part of the stream).
    """

    preserves_boundaries = False

    def __init__(self, transport: ExecTransport) -> None:
        self.transport = transport
        self._child = _Child(transport, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.process = self._child.proc
        self.pid = self._child.pid
        self.bytes_written = 0
        self.output_tail: collections.deque[str] = collections.deque(maxlen=_KEPT_LINES)
        assert self.process.stdout is not None and self.process.stdin is not None
        # Drained even though nobody reads it: a full stdout pipe would block the program, then us.
        self._stdout_thread = _start_line_collector(
            self.process.stdout.fileno(), self.output_tail, f"{transport.run} stdout"
        )
        self._stdin = self.process.stdin
        self._closed = False

    def _broken(self, exc: OSError) -> Exception:
        """The program stopped reading: wait briefly for its exit status and describe it."""
        self._closed = True
        self._child.wait(_GRACE)
        self._child.stop()
        self._stdout_thread.join(_GRACE)
        self._child.close_pipes(stdout_reader=self._stdout_thread)
        if isinstance(exc, BrokenPipeError):
            what = f"stopped reading its input after {self.bytes_written} bytes and "
        else:
            what = f"could not be written to ({exc.strerror or exc}) after {self.bytes_written} bytes and "
        error = self._child.failure(what)
        assert error is not None
        return error

    def write(self, items: list[bytes]) -> None:
        if self._closed:
            raise self.transport.error(f"the input of {self.transport.run!r} was written after it was closed")
        try:
            self._stdin.writelines(items)
        except OSError as exc:
            raise self._broken(exc) from exc
        self.bytes_written += sum(map(len, items))

    def flush(self) -> None:
        if self._closed:
            return
        try:
            self._stdin.flush()
        except OSError as exc:
            raise self._broken(exc) from exc

    def close(self) -> None:
        """Close the program's stdin, wait for it to exit and report a failure; safe to call twice.

        Raises
        ------
        TransportError
            It exited with a non-zero status, stopped reading early, or did not exit within
            ``close_timeout`` seconds (it is then stopped).
        """
        if self._closed:
            return
        try:
            self._stdin.close()
        except OSError as exc:
            raise self._broken(exc) from exc
        self._closed = True
        if not self._child.wait(self.transport.close_timeout):
            self._child.stop()
            self._stdout_thread.join(_GRACE)
            self._child.close_pipes(stdout_reader=self._stdout_thread)
            raise self.transport.error(
                f"{self.transport.run!r} did not exit within {self.transport.close_timeout:g} s after its input "
                "ended, so it was stopped",
                hint="make the program exit at the end of its input, or raise close_timeout",
            )
        self._child.stop()
        self._stdout_thread.join(_GRACE)
        self._child.close_pipes(stdout_reader=self._stdout_thread)
        error = self._child.failure()
        if error is not None:
            raise error
        logger.debug(
            "stream %r: %s took %d bytes", self.transport.stream, self.transport.run, self.bytes_written
        )

    def abort(self) -> None:
        """Stop the program at once (it may have acted on part of its input) and reap it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stdin.close()
        except OSError:
            # It already stopped reading; it is stopped below anyway.
            pass
        if self._child.stop():
            logger.warning(
                "stream %r: stopped %s after %d bytes of input",
                self.transport.stream,
                self.transport.run,
                self.bytes_written,
            )
        self._stdout_thread.join(_GRACE)
        self._child.close_pipes(stdout_reader=self._stdout_thread)

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            try:
                self.abort()
            except OSError:
                pass
