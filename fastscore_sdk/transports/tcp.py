"""The ``tcp`` transport: a TCP client connection, read or written as a byte stream.

``{"type": "tcp", "host": "127.0.0.1", "port": 5678}`` connects to a server listening there (the
transport is a client; a ``Host`` of ``0.0.0.0``, as the ``tcp::PORT`` literal writes it, means this
machine).

* As input, it reads whatever the server sends until the server ends the connection (EOF); the
  stream's envelope cuts the bytes into records. :meth:`TCPSource.read` waits on the socket itself,
  so its timeout holds however slowly the server sends.
* As output, framed records are written as they come. :meth:`TCPSink.close` ends the connection
  cleanly (the server reads EOF after the last record); :meth:`TCPSink.abort` resets it, so the
  server can tell an output that stopped early from a complete one.

TCP is neither seekable (no ``SkipTo``, ``SkipToRecord`` or ``Loop``) nor boundary-preserving.

Examples
--------
>>> from fastscore_sdk.testing.network import TCPTestServer
>>> with TCPTestServer(send=b'{"x": 1}\\n') as srv:
...     t = TCPTransport({"type": "tcp", "host": "127.0.0.1", "port": srv.port}, stream="in")
...     with t.source() as src:
...         b"".join(src)
b'{"x": 1}\\n'
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import struct
import time
from typing import Any, ClassVar

from .base import Sink, Source, Transport

__all__ = ["TCPSink", "TCPSource", "TCPTransport"]

logger = logging.getLogger(__name__)

#: Largest piece returned by one read.
DEFAULT_CHUNK_SIZE = 1 << 18
# A listening address names "this machine" when a client connects to it.
_ANY = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "*": "127.0.0.1"}


def _check_port(transport: Transport, port: Any, *, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if isinstance(port, bool) or not isinstance(port, int) or not low <= port <= 65535:
        raise transport.error(
            f"Port must be a number from {low} to 65535, not {port!r}", hint='e.g. "Port": 8765'
        )
    return port


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TCPTransport(Transport):
    """A TCP server to connect to (``{"type": "tcp", "host": ..., "port": ...}``).

    Parameters
    ----------
    spec
        The interpreted transport section: ``host`` and ``port`` (both required).
    stream
        The stream's name, for error messages.
    chunk_size
        Largest piece returned by one :meth:`TCPSource.read`.
    connect_timeout
        Seconds to wait for the connection.
    write_timeout
        Seconds one write may wait for a server that stops reading before it is an error.

    Examples
    --------
    >>> TCPTransport({"type": "tcp", "host": "0.0.0.0", "port": 5678}).address
    ('127.0.0.1', 5678)
    """

    type_name: ClassVar[str] = "tcp"

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        connect_timeout: float = 10.0,
        write_timeout: float = 60.0,
    ) -> None:
        super().__init__(spec, stream=stream)
        host = spec.get("host")
        if not isinstance(host, str):
            raise self.error("no Host given", hint='set Transport.Host, e.g. "Host": "127.0.0.1"')
        self.host = host.strip().strip("[]")
        self.port = _check_port(self, spec.get("port"))
        self.address = (_ANY.get(self.host, self.host), self.port)
        self.where = _host_port(self.host or "0.0.0.0", self.port)
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
        self.chunk_size = chunk_size
        self.connect_timeout = connect_timeout
        self.write_timeout = write_timeout

    def connect(self) -> socket.socket:
        """Open a connection to the server (TCP_NODELAY set: writes are already batched).

        Raises
        ------
        TransportError
            Refused, unknown host, unreachable, or no answer within ``connect_timeout``.
        """
        try:
            sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        except ConnectionRefusedError:
            raise self.error(
                f"cannot connect to {self.where}: connection refused",
                hint=f"the TCP transport is a client: start the server listening on port {self.port} "
                "first, or check Transport.Host and Transport.Port",
            ) from None
        except socket.gaierror as exc:
            raise self.error(
                f"cannot connect to {self.where}: unknown host {self.host!r} ({exc.strerror or exc})",
                hint="check Transport.Host",
            ) from None
        except TimeoutError:
            raise self.error(
                f"cannot connect to {self.where}: no answer within {self.connect_timeout:g} s",
                hint="check the host and port, and that no firewall drops the connection",
            ) from None
        except OSError as exc:
            raise self.error(
                f"cannot connect to {self.where}: {exc.strerror or exc}",
                hint="check Transport.Host and Transport.Port",
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        logger.debug("stream %r: connected to %s", self.stream, self.where)
        return sock

    def _not_seekable(self, what: str) -> Exception:
        return self.error(
            f"a TCP connection cannot {what}: it is not seekable",
            hint='remove SkipTo/SkipToRecord and set "Loop": false',
        )

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> TCPSource:
        """Connect and read what the server sends (``skip_to``/``skip_to_record`` are refused)."""
        if skip_to is not None or skip_to_record is not None:
            raise self._not_seekable("skip ahead")
        return TCPSource(self, self.connect())

    def sink(self) -> TCPSink:
        """Connect and write to the server."""
        return TCPSink(self, self.connect())


class TCPSource(Source):
    """What a TCP server sends, until it ends the connection.

    Attributes
    ----------
    bytes_read : int
    """

    preserves_boundaries = False

    def __init__(self, transport: TCPTransport, sock: socket.socket) -> None:
        self.transport = transport
        self._sock = sock
        sock.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._ended = False
        self._error: Exception | None = None
        self._closed = False
        self.bytes_read = 0

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """What arrived within ``timeout`` seconds (one piece), or ``None`` once the server has ended
        the connection.

        Raises
        ------
        TransportError
            The connection was reset (raised again by later calls).
        """
        t = self.transport
        if self._closed:
            raise t.error(f"the connection to {t.where} was read after it was closed")
        if self._error is not None:
            raise self._error
        if self._ended:
            return None
        data = self._recv()
        if data is None and (timeout is None or timeout > 0):
            deadline = None if timeout is None else time.monotonic() + timeout
            while data is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                # A connection is readable at EOF and on error too, so recv tells what happened.
                self._selector.select(left)
                data = self._recv()
        if data is None:
            return []
        if not data:
            self._ended = True
            logger.debug("stream %r: %s ended after %d bytes", t.stream, t.where, self.bytes_read)
            return None
        self.bytes_read += len(data)
        return [data]

    def _recv(self) -> bytes | None:
        """What has arrived (``b""`` at EOF), ``None`` when nothing is there yet."""
        try:
            return self._sock.recv(self.transport.chunk_size)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            t = self.transport
            reason = (
                "the server reset the connection" if isinstance(exc, ConnectionResetError) else exc.strerror
            )
            self._error = t.error(
                f"the connection to {t.where} broke after {self.bytes_read} bytes: {reason or exc}",
                hint="the server stopped before ending the stream cleanly; check the server",
            )
            raise self._error from None

    def rewind(self) -> None:
        raise self.transport._not_seekable("start again")

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._selector.close()
        self._sock.close()


class TCPSink(Sink):
    """Writes framed bytes to a TCP server.

    Attributes
    ----------
    bytes_written : int
        Bytes the operating system accepted for sending so far.
    """

    preserves_boundaries = False

    def __init__(self, transport: TCPTransport, sock: socket.socket) -> None:
        self.transport = transport
        self._sock = sock
        sock.settimeout(transport.write_timeout)
        self._closed = False
        self.bytes_written = 0

    def write(self, items: list[bytes]) -> None:
        t = self.transport
        if self._closed:
            raise t.error(f"the connection to {t.where} was written after it was closed")
        data = items[0] if len(items) == 1 else b"".join(items)
        try:
            self._sock.sendall(data)
        except TimeoutError:
            self._fail()
            raise t.error(
                f"the server at {t.where} stopped reading: a write waited {t.write_timeout:g} s "
                f"after {self.bytes_written} bytes",
                hint="check that the server reads its input",
            ) from None
        except OSError as exc:
            self._fail()
            if isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                reason = "the server closed the connection"
            else:
                reason = exc.strerror or str(exc)
            raise t.error(
                f"cannot write to {t.where} after {self.bytes_written} bytes: {reason}",
                hint="check that the server keeps the connection open until the stream ends",
            ) from None
        self.bytes_written += len(data)

    def _fail(self) -> None:
        self._closed = True
        self._sock.close()

    def close(self) -> None:
        """End the connection cleanly: the server reads EOF after the last byte; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        t = self.transport
        try:
            self._sock.shutdown(socket.SHUT_WR)
            # Unread input at close makes the kernel reset the connection, which can drop the
            # tail of what was sent; read what the server has sent so far first.
            self._sock.setblocking(False)
            while self._sock.recv(1 << 16):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            if exc.errno not in (errno.ENOTCONN, errno.ECONNRESET, errno.EPIPE):
                raise t.error(
                    f"cannot end the connection to {t.where} after {self.bytes_written} bytes: "
                    f"{exc.strerror or exc}"
                ) from None
            raise t.error(
                f"the server at {t.where} reset the connection; it may not have received the last "
                f"of the {self.bytes_written} bytes written",
                hint="check that the server reads until the end of the stream",
            ) from None
        finally:
            self._sock.close()
        logger.debug("stream %r: wrote %d bytes to %s", t.stream, self.bytes_written, t.where)

    def abort(self) -> None:
        """Reset the connection, so the server sees the output did not complete; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            # The connection is already gone; closing is all that is left.
            pass
        self._sock.close()
        logger.warning(
            "stream %r: output to %s stopped early after %d bytes (connection reset)",
            self.transport.stream,
            self.transport.where,
            self.bytes_written,
        )
