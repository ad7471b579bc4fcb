"""Local HTTP, TCP and UDP servers for testing the ``http``, ``tcp`` and ``udp`` transports.

Everything listens on 127.0.0.1 with a port the operating system picks, runs in daemon threads and
is stopped when the test ends. Nothing needs to be installed: these are stdlib servers.

Fixtures
--------
``http_file_server``
    An :class:`HTTPFileServer`: ``url = http_file_server.serve("/data.jsons", b"...")`` serves bytes at
    a path, optionally as ``Transfer-Encoding: chunked`` with one HTTP chunk per record, with or
    without ``Range`` support, behind basic auth, or slowly.
``tcp_server``
    A factory of :class:`TCPTestServer`: ``srv = tcp_server(send=b"1\\n2\\n")`` sends those bytes to
    every client, then ends the connection; whatever a client writes is collected
    (``srv.wait_received()``).
``udp_sender``
    A :class:`UDPSender`: ``udp_sender.send(port, [b'{"a":1}'])`` sends one datagram per item,
    ``udp_sender.send_when_bound(port, ...)`` first waits until something listens on the port.
``udp_port``
    A free UDP port on 127.0.0.1.

Examples
--------
A test of a user's own HTTP stream::

    import fastscore_sdk as fs

    def test_my_stream(http_file_server):
        url = http_file_server.serve("/in.jsons", b'{"x": 1}\\n{"x": 2}\\n')
        assert fs.Stream(url).sample(5).records == [{"x": 1}, {"x": 2}]
"""

from __future__ import annotations

import base64
import contextlib
import errno
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from . import free_port as _free_port

__all__ = ["http_file_server", "tcp_server", "udp_port", "udp_sender"]

logger = logging.getLogger(__name__)

LOCALHOST = "127.0.0.1"


# ------------------------------------------------------------------------------------------------ HTTP


@dataclass
class Route:
    """What :class:`HTTPFileServer` answers at one path (see :meth:`HTTPFileServer.serve`)."""

    data: bytes | list[bytes]
    chunked: bool = False
    ranges: bool = True
    status: int = 200
    content_type: str = "application/octet-stream"
    auth: tuple[str, str] | None = None
    hold: float = 0.0
    interval: float = 0.0
    truncate: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """One request the server received: method, path (with query) and headers (lower-case names)."""

    method: str
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK stall every response by 40 ms (spec/infra.md §5).
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http %s: " + format, self.address_string(), *args)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, *, body: bool) -> None:
        owner = self.server.owner
        owner.requests.append(
            Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        )
        route = owner.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self._plain(404, b"not found\n")
            return
        if route.auth is not None and not self._authorized(route.auth):
            self._plain(401, b"unauthorized\n", {"WWW-Authenticate": 'Basic realm="test"'})
            return
        if route.status >= 300 or route.status < 200:
            self._plain(route.status, f"status {route.status}\n".encode())
            return
        if route.chunked:
            self._chunked(route, body)
        else:
            self._whole(route, body)

    def _authorized(self, auth: tuple[str, str]) -> bool:
        expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        return self.headers.get("Authorization") == expected

    def _plain(self, status: int, text: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(text)

    def _hold(self, seconds: float) -> None:
        if seconds > 0:
            self.wfile.flush()
            self.server.owner.stopped.wait(seconds)

    def _chunked(self, route: Route, body: bool) -> None:
        items = route.data if isinstance(route.data, list) else ([route.data] if route.data else [])
        self.send_response(200)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in route.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not body:
            return
        self._hold(route.hold)
        if route.truncate is not None:
            items = items[: route.truncate]
        for i, item in enumerate(items):
            if self.server.owner.stopped.is_set():
                return
            if i and route.interval:
                self._hold(route.interval)
            # One write per chunk, so each record leaves in its own TCP segments as it is ready.
            self.wfile.write(b"%x\r\n%b\r\n" % (len(item), item))
        if route.truncate is not None:
            self.close_connection = True
            return
        self.wfile.write(b"0\r\n\r\n")

    def _whole(self, route: Route, body: bool) -> None:
        data = b"".join(route.data) if isinstance(route.data, list) else route.data
        status, start, end = 200, 0, len(data)
        asked = self.headers.get("Range") if route.ranges else None
        headers = dict(route.headers)
        if route.ranges:
            headers["Accept-Ranges"] = "bytes"
        if asked:
            match = re.fullmatch(r"\s*bytes=(\d+)-(\d*)\s*", asked)
            if match:
                first = int(match.group(1))
                last = int(match.group(2)) if match.group(2) else len(data) - 1
                if first >= len(data):
                    self._plain(416, b"range not satisfiable\n", {"Content-Range": f"bytes */{len(data)}"})
                    return
                status, start, end = 206, first, min(last, len(data) - 1) + 1
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(end - start))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if not body:
            return
        self._hold(route.hold)
        payload = data[start:end]
        if route.truncate is not None:
            self.wfile.write(payload[: route.truncate])
            self.close_connection = True
            return
        if route.interval:
            # Trickle it out in lines: a streaming server, for latency tests.
            for line in payload.splitlines(keepends=True):
                self.wfile.write(line)
                self._hold(route.interval)
            return
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: HTTPFileServer


class HTTPFileServer:
    """A stdlib HTTP/1.1 server on 127.0.0.1 (a thread per connection) serving bytes at paths.

    Parameters
    ----------
    ssl_context
        Serve HTTPS with this server-side context (the URL then starts with ``https://``).

    Attributes
    ----------
    url : str
        The base URL, ``http://127.0.0.1:PORT``.
    port : int
    requests : list of Request
        Every request received, in order (to check the headers a client sent).

    Examples
    --------
    >>> import urllib.request
    >>> with HTTPFileServer() as srv:
    ...     url = srv.serve("/hello.txt", b"hi\\n")
    ...     urllib.request.urlopen(url).read()
    b'hi\\n'
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self.stopped = threading.Event()
        self._httpd = _Server((LOCALHOST, 0), _Handler)
        self._httpd.owner = self
        if ssl_context is not None:
            self._httpd.socket = ssl_context.wrap_socket(self._httpd.socket, server_side=True)
        self.port: int = self._httpd.server_address[1]
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{LOCALHOST}:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="http-test"
        )
        self._thread.start()

    def serve(
        self,
        path: str,
        data: bytes | list[bytes] = b"",
        *,
        chunked: bool = False,
        ranges: bool = True,
        status: int = 200,
        content_type: str = "application/octet-stream",
        auth: tuple[str, str] | None = None,
        hold: float = 0.0,
        interval: float = 0.0,
        truncate: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> str:
        """Serve ``data`` at ``path`` and return its URL.

        Parameters
        ----------
        path
            Absolute path, e.g. ``"/data/in.jsons"`` (a query string in a request is ignored).
        data
            The body. A list is one HTTP chunk per item when ``chunked`` (otherwise it is joined).
        chunked
            Send ``Transfer-Encoding: chunked``, one chunk per item of ``data``.
        ranges
            Honour ``Range: bytes=N-`` (206, or 416 past the end); ``False`` ignores it (always 200).
        status
            Answer this status instead (e.g. 500) with a short text body.
        auth
            ``(user, password)``: answer 401 unless the request carries that basic auth.
        hold
            Seconds to stay silent after the headers, before the body (an idle server).
        interval
            Seconds between chunks (or between lines of a whole body): a slowly streaming server.
        truncate
            Close the connection after this many body bytes (or this many chunks), leaving the
            response incomplete.
        headers
            Extra response headers.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', not {path!r}")
        self.routes[path] = Route(
            data,
            chunked=chunked,
            ranges=ranges,
            status=status,
            content_type=content_type,
            auth=auth,
            hold=hold,
            interval=interval,
            truncate=truncate,
            headers=dict(headers or {}),
        )
        return self.url + path

    def close(self) -> None:
        """Stop serving (ends held connections too); safe to call twice."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(2.0)

    def __enter__(self) -> HTTPFileServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@pytest.fixture
def http_file_server() -> Iterator[HTTPFileServer]:
    """A local HTTP server serving bytes at paths (:class:`HTTPFileServer`), stopped after the test."""
    with HTTPFileServer() as srv:
        yield srv


# ------------------------------------------------------------------------------------------------- TCP


class TCPTestServer:
    """A TCP server on 127.0.0.1: sends ``send`` to every client, collects what clients write.

    Each connection is served by its own thread: the server waits ``hold`` seconds (silent, an idle
    server), sends ``send``, then ends its side of the connection (the client reads EOF) and keeps
    reading what the client writes until the client closes.

    Parameters
    ----------
    send
        Bytes sent to every client.
    hold
        Seconds to stay silent before sending (and before ending the connection).

    Attributes
    ----------
    port : int
    address : tuple of (str, int)
    received : list of bytes
        What each finished connection wrote, in the order the connections ended.
    resets : int
        Connections the client reset (closed abnormally) instead of ending them.

    Examples
    --------
    >>> import socket
    >>> with TCPTestServer(send=b"1\\n2\\n") as srv:
    ...     with socket.create_connection(srv.address) as s:
    ...         s.sendall(b"x\\n"); s.shutdown(socket.SHUT_WR); data = s.recv(100)
    ...     data, srv.wait_received(1)
    (b'1\\n2\\n', [b'x\\n'])
    """

    def __init__(self, send: bytes = b"", *, hold: float = 0.0) -> None:
        self.send = send
        self.hold = hold
        self.received: list[bytes] = []
        self.resets = 0
        self.connections = 0
        self._stopped = threading.Event()
        self._done = threading.Condition()
        self._sock = socket.create_server((LOCALHOST, 0))
        self._sock.settimeout(0.05)
        self.address: tuple[str, int] = self._sock.getsockname()[:2]
        self.port = self.address[1]
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tcp-test")
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._clients.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True, name="tcp-test-conn").start()

    def _serve(self, conn: socket.socket) -> None:
        got = bytearray()
        reset = False
        try:
            conn.settimeout(0.05)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            deadline = time.monotonic() + self.hold
            while not self._stopped.is_set() and time.monotonic() < deadline:
                try:
                    chunk = conn.recv(1 << 16)
                except TimeoutError:
                    continue
                if not chunk:
                    break  # the client has gone while the server held back
                got += chunk
            if self.send:
                conn.sendall(self.send)
            conn.shutdown(socket.SHUT_WR)
            while not self._stopped.is_set():
                try:
                    chunk = conn.recv(1 << 16)
                except TimeoutError:
                    continue
                if not chunk:
                    break
                got += chunk
        except OSError as exc:
            # A client that resets the connection before this thread starts makes even shutdown
            # fail (ENOTCONN): that is a reset too.
            reset = exc.errno in (errno.ECONNRESET, errno.ENOTCONN, errno.EPIPE)
            logger.debug("tcp test server: connection ended: %s", exc)
        finally:
            conn.close()
            with self._done:
                if reset:
                    self.resets += 1
                self.received.append(bytes(got))
                self._done.notify_all()

    def wait_received(self, count: int = 1, timeout: float = 5.0) -> list[bytes]:
        """What the first ``count`` finished connections wrote; waits up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._done:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"{len(self.received)} of {count} TCP connections to port {self.port} ended "
                        f"within {timeout} s"
                    )
                self._done.wait(left)
            return list(self.received[:count])

    def close(self) -> None:
        """Stop accepting and end every connection; safe to call twice."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._sock.close()
        self._thread.join(2.0)
        for conn in self._clients:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> TCPTestServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@pytest.fixture
def tcp_server() -> Iterator[Callable[..., TCPTestServer]]:
    """A factory of local TCP servers (:class:`TCPTestServer`); all are stopped after the test.

    ``tcp_server(send=b"...", hold=0.0)`` returns a started server.
    """
    made: list[TCPTestServer] = []

    def factory(send: bytes = b"", *, hold: float = 0.0) -> TCPTestServer:
        srv = TCPTestServer(send, hold=hold)
        made.append(srv)
        return srv

    yield factory
    for srv in made:
        srv.close()


# ------------------------------------------------------------------------------------------------- UDP


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port on 127.0.0.1 free at the time of the call (UDP by default).

    Examples
    --------
    >>> 0 < free_port() < 65536
    True
    """
    return _free_port(kind)


def udp_bound(port: int) -> bool | None:
    """Whether a UDP socket is bound to ``port`` on this host (Linux ``/proc/net/udp*``); ``None``
    when that cannot be told here.

    Asking by binding the port would race with the program about to bind it, so this only looks.
    """
    hexport = f":{port:04X}"
    found = False
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 1 and parts[1].endswith(hexport):
                        return True
            found = True
        except OSError:
            continue
    return False if found else None


class UDPSender:
    """Sends datagrams to 127.0.0.1 (or another host), one per item.

    Examples
    --------
    >>> with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
    ...     rx.bind(("127.0.0.1", 0))
    ...     with UDPSender() as tx:
    ...         _ = tx.send(rx.getsockname()[1], [b'{"a":1}'])
    ...     rx.recv(100)
    b'{"a":1}'
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0

    def send(
        self, port: int, datagrams: Iterable[bytes | str], *, host: str = LOCALHOST, interval: float = 0.0
    ) -> int:
        """Send each item as one datagram (``str`` as UTF-8); returns how many were sent."""
        n = 0
        for i, item in enumerate(datagrams):
            if i and interval:
                time.sleep(interval)
            data = item.encode() if isinstance(item, str) else bytes(item)
            self._sock.sendto(data, (host, port))
            n += 1
        self.sent += n
        return n

    def wait_bound(self, port: int, timeout: float = 5.0) -> None:
        """Wait until something listens on UDP ``port`` (a datagram sent earlier would be lost).

        Where that cannot be observed (no ``/proc``), it waits half a second instead.
        """
        deadline = time.monotonic() + timeout
        while True:
            bound = udp_bound(port)
            if bound is None:
                time.sleep(0.5)
                return
            if bound:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listened on UDP port {port} within {timeout} s")
            time.sleep(0.01)

    def send_when_bound(
        self,
        port: int,
        datagrams: Iterable[bytes | str],
        *,
        host: str = LOCALHOST,
        interval: float = 0.0,
        timeout: float = 5.0,
        background: bool = False,
    ) -> threading.Thread | int:
        """:meth:`wait_bound`, then :meth:`send`; with ``background=True`` in a thread (returned)."""
        items = list(datagrams)

        def run() -> int:
            self.wait_bound(port, timeout)
            try:
                return self.send(port, items, host=host, interval=interval)
            except OSError:
                if self._sock.fileno() == -1:
                    return 0  # the test ended and closed the sender while this thread was sending
                raise

        if not background:
            return run()
        thread = threading.Thread(target=run, daemon=True, name="udp-test-sender")
        thread.start()
        return thread

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> UDPSender:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


@pytest.fixture
def udp_sender() -> Iterator[UDPSender]:
    """A :class:`UDPSender`, closed after the test."""
    with UDPSender() as sender:
        yield sender


@pytest.fixture
def udp_port() -> int:
    """A UDP port on 127.0.0.1 that was free when the test started."""
    return free_port(socket.SOCK_DGRAM)
