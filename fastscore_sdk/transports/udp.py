"""The ``udp`` transport: datagrams received on a port, one record each (input only).

``{"type": "udp", "bind_to": "0.0.0.0", "port": 9099}`` (the ``udp::9099`` literal) listens on the port;
every datagram that arrives is one message, so UDP preserves boundaries and takes no envelope.

UDP has no end of its own: :meth:`UDPSource.read` returns ``[]`` when nothing arrived in time and never
``None``. A UDP stream ends when a datagram holds the encoding's ``end`` control record (for json,
``{"$fastscore":"end"}``) or when the engine is stopped. Datagrams sent before the source is open, or
while its receive buffer is full, are lost: that is UDP. The buffer is enlarged (``receive_buffer``
bytes, as far as the system allows) to make the second case rare.

UDP is not seekable (no ``SkipTo``, ``SkipToRecord`` or ``Loop``) and cannot be written: it is input only.

Examples
--------
>>> import socket
>>> t = UDPTransport({"type": "udp", "bind_to": "127.0.0.1", "port": 0}, stream="in")
>>> with t.source() as src:
...     with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
...         _ = tx.sendto(b'{"a":1}', src.address)
...     src.read(timeout=2)
[b'{"a":1}']
"""

from __future__ import annotations

import errno
import logging
import selectors
import socket
import time
from typing import Any, ClassVar

from .base import Source, Transport
from .registry import direction_error
from .tcp import _check_port, _host_port

__all__ = ["UDPSource", "UDPTransport"]

logger = logging.getLogger(__name__)

#: Receive buffer asked for (the kernel may cap it, e.g. at net.core.rmem_max on Linux).
DEFAULT_RECEIVE_BUFFER = 4 << 20
#: Most datagrams one read returns.
DEFAULT_MAX_DATAGRAMS = 4096
_MAX_DATAGRAM = 65535


class UDPTransport(Transport):
    """A UDP port to listen on (``{"type": "udp", "bind_to": "0.0.0.0", "port": 9099}``).

    Parameters
    ----------
    spec
        The interpreted transport section: ``port`` (required; 0 picks a free port, see
        :attr:`UDPSource.address`) and ``bind_to`` (the address to listen on, default ``0.0.0.0``:
        every interface).
    stream
        The stream's name, for error messages.
    receive_buffer
        Bytes of kernel receive buffer to ask for.
    max_datagrams
        Most datagrams one :meth:`UDPSource.read` returns.

    Examples
    --------
    >>> UDPTransport({"type": "udp", "port": 9099}).where
    '0.0.0.0:9099'
    """

    type_name: ClassVar[str] = "udp"

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        receive_buffer: int = DEFAULT_RECEIVE_BUFFER,
        max_datagrams: int = DEFAULT_MAX_DATAGRAMS,
    ) -> None:
        super().__init__(spec, stream=stream)
        bind_to = spec.get("bind_to") or "0.0.0.0"
        if not isinstance(bind_to, str):
            raise self.error(
                f"BindTo must be an address such as 0.0.0.0, not {bind_to!r}", hint='e.g. "BindTo": "0.0.0.0"'
            )
        self.bind_to = bind_to.strip().strip("[]")
        self.port = _check_port(self, spec.get("port"), allow_zero=True)
        self.where = _host_port(self.bind_to, self.port)
        if max_datagrams <= 0:
            raise ValueError(f"max_datagrams must be positive, not {max_datagrams!r}")
        self.receive_buffer = receive_buffer
        self.max_datagrams = max_datagrams

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> UDPSource:
        """Bind the port and return a source of its datagrams.

        Raises
        ------
        TransportError
            ``skip_to``/``skip_to_record`` given (UDP is not seekable), the port is in use, or
            ``bind_to`` is not an address of this machine.
        """
        if skip_to is not None or skip_to_record is not None:
            raise self.error(
                "UDP cannot skip ahead: datagrams are not kept, so it is not seekable",
                hint="remove SkipTo/SkipToRecord",
            )
        return UDPSource(self, self._bind())

    def sink(self) -> Any:
        """Refused: UDP is input only."""
        raise direction_error(self, "output")

    def _bind(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(
                self.bind_to, self.port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
            )
        except socket.gaierror as exc:
            raise self.error(
                f"cannot listen on {self.where}: unknown address {self.bind_to!r} ({exc.strerror or exc})",
                hint='set Transport.BindTo to an address of this machine, or "0.0.0.0" for all of them',
            ) from None
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            except OSError as exc:
                logger.debug("stream %r: cannot enlarge the UDP receive buffer: %s", self.stream, exc)
            sock.bind(address)
        except OSError as exc:
            sock.close()
            raise self._bind_error(exc) from None
        sock.setblocking(False)
        logger.debug("stream %r: listening on UDP %s", self.stream, _host_port(*sock.getsockname()[:2]))
        return sock

    def _bind_error(self, exc: OSError) -> Exception:
        if exc.errno == errno.EADDRINUSE:
            return self.error(
                f"cannot listen on {self.where}: the port is already in use",
                hint="another program or stream is bound to it; stop it, or choose another Port",
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            return self.error(
                f"cannot listen on {self.where}: {self.bind_to} is not an address of this machine",
                hint='set Transport.BindTo to one of its addresses, or "0.0.0.0" for all of them',
            )
        if exc.errno == errno.EACCES:
            return self.error(
                f"cannot listen on {self.where}: permission denied",
                hint="ports below 1024 need privileges; choose a Port of 1024 or more",
            )
        return self.error(f"cannot listen on {self.where}: {exc.strerror or exc}")


class UDPSource(Source):
    """Datagrams received on a bound UDP port, one message each.

    Attributes
    ----------
    address : tuple
        The address and port actually bound (the port the system picked when ``port`` was 0).
    datagrams_read, bytes_read : int
    """

    preserves_boundaries = True

    def __init__(self, transport: UDPTransport, sock: socket.socket) -> None:
        self.transport = transport
        self._sock = sock
        self.address: tuple[Any, ...] = sock.getsockname()
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._closed = False
        self.datagrams_read = 0
        self.bytes_read = 0

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """The datagrams that arrived within ``timeout`` seconds (``[]`` if none; never ``None``: UDP
        does not end by itself).

        With ``timeout=None`` it waits until at least one datagram arrives.
        """
        t = self.transport
        if self._closed:
            raise t.error(f"UDP {t.where} was read after it was closed")
        items = self._drain()
        if items or (timeout is not None and timeout <= 0):
            return items
        deadline = None if timeout is None else time.monotonic() + timeout
        while not items:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self._selector.select(left)
            items = self._drain()
        return items

    def _drain(self) -> list[bytes]:
        items: list[bytes] = []
        append = items.append
        recv = self._sock.recv
        for _ in range(self.transport.max_datagrams):
            try:
                append(recv(_MAX_DATAGRAM))
            except BlockingIOError:
                break
            except ConnectionRefusedError:
                # An ICMP "port unreachable" for an earlier send from this port; not about input.
                continue
            except OSError as exc:
                t = self.transport
                raise t.error(f"cannot receive on UDP {t.where}: {exc.strerror or exc}") from None
        if items:
            self.datagrams_read += len(items)
            self.bytes_read += sum(map(len, items))
        return items

    def rewind(self) -> None:
        raise self.transport.error(
            "UDP cannot start again: datagrams are not kept, so it is not seekable",
            hint='set "Loop": false',
        )

    def close(self) -> None:
        """Stop listening (the port is free again); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._selector.close()
        self._sock.close()
        logger.debug(
            "stream %r: UDP %s closed after %d datagrams",
            self.transport.stream,
            self.transport.where,
            self.datagrams_read,
        )
