"""The ``http`` transport: the body of an HTTP(S) GET, read as it arrives (input only).

``{"type": "http", "url": "https://host/data.jsons"}`` streams the response body with requests
(TLS certificates are verified; a private CA is trusted through ``$REQUESTS_CA_BUNDLE``, and
``user:password@`` in the URL becomes basic auth). Two modes:

* byte stream (``Chunked`` false, the default): the body arrives in chunks of whatever size the network
  delivers, which the stream's envelope cuts into records. ``SkipTo`` asks for the rest of the body
  with a ``Range`` request (a server that ignores ``Range`` is skipped into locally), and ``Loop``
  requests the URL again from its beginning;
* ``Chunked`` true: the response must be ``Transfer-Encoding: chunked`` and each HTTP chunk is one
  record, whatever bytes it holds (a record may contain newlines). The source then preserves message
  boundaries; ``SkipToRecord`` skips that many chunks, ``SkipTo`` does not apply.

The body is read by a background thread, so :meth:`HTTPSource.read` honours its timeout however
slowly the server sends, and closing a source never waits on the server. The response must be a
2xx; anything else is a :class:`~fastscore_sdk.errors.TransportError` with the status and the URL.
URLs in messages and logs never show a password: ``user:*****@`` (a URL from a ``secret://`` reference
is shown as its scheme and host only).

Examples
--------
>>> from fastscore_sdk.testing.network import HTTPFileServer
>>> with HTTPFileServer() as srv:
...     url = srv.serve("/in.jsons", b'{"x": 1}\\n{"x": 2}\\n')
...     with HTTPTransport({"type": "http", "url": url}, stream="in").source() as src:
...         b"".join(src)
b'{"x": 1}\\n{"x": 2}\\n'
"""

from __future__ import annotations

import collections
import logging
import re
import socket
import threading
import time
from typing import Any, ClassVar
from urllib.parse import SplitResult, parse_qsl, urlsplit

import requests

from ..secrets import REDACTED, Secret, redact_url, scrub
from .base import Source, Transport
from .registry import direction_error

__all__ = ["HTTPSource", "HTTPTransport"]

logger = logging.getLogger(__name__)

#: Largest piece of body handed over at once (a read returns what has arrived, up to this).
DEFAULT_CHUNK_SIZE = 1 << 18
#: Bytes the reader thread may hold ahead of the consumer (bounds memory with a fast server).
_QUEUED_BYTES = 8 << 20
#: Most pieces one read returns.
_MOST_ITEMS = 4096
#: Seconds a closing source waits for its reader thread.
_GRACE = 1.0
_EOF = object()
# Query parameters whose values are credentials (signed URLs, API tokens): hidden in messages.
_SECRET_PARAM = re.compile(r"(?i)(token|signature|sig|secret|password|passwd|pwd|key|credential|auth)")
_STATUS_HINTS = {
    401: "the server wants credentials: put them in the URL (https://user:secret://NAME@host/...)",
    403: "the credentials were refused or do not allow reading this URL",
    404: "check the path in Transport.Url",
    407: "a proxy wants credentials: set them in $HTTPS_PROXY / $HTTP_PROXY",
}


class HTTPTransport(Transport):
    """An HTTP(S) URL read with GET (``{"type": "http", "url": ..., "chunked": false}``).

    Parameters
    ----------
    spec
        The interpreted transport section: ``url`` (required, ``http://`` or ``https://``) and
        ``chunked`` (one HTTP chunk per record; default false).
    stream
        The stream's name, for error messages.
    chunk_size
        Largest piece of body returned by one read.
    connect_timeout
        Seconds to wait for the connection to be made.
    response_timeout
        Seconds to wait for the response headers once connected. The body itself may take as long
        as it takes: a stream can be slow.
    verify
        TLS verification: ``True`` (default), a CA bundle path, or ``False`` (not recommended).

    Attributes
    ----------
    preserves_boundaries : bool
        True in chunked mode (each chunk is one record).

    Examples
    --------
    >>> t = HTTPTransport({"type": "http", "url": "https://me:pw@example.com/x.jsons"}, stream="in")
    >>> t.shown_url, t.host, t.port
    ('https://me:*****@example.com/x.jsons', 'example.com', 443)
    """

    type_name: ClassVar[str] = "http"

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        connect_timeout: float = 10.0,
        response_timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        super().__init__(spec, stream=stream)
        url = spec.get("url")
        if not isinstance(url, str) or not url:
            raise self.error("no URL given", hint='set Transport.Url, e.g. "Url": "https://host/data.jsons"')
        parts = urlsplit(url)
        self.url = url
        self.shown_url = _shown_url(url, parts)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise self.error(
                f"Url must be an http:// or https:// URL with a host, not {self.shown_url!r}",
                hint='e.g. "Url": "https://host/data.jsons"',
            )
        try:
            port = parts.port
        except ValueError:
            raise self.error(f"the port in Url {self.shown_url!r} is not a number from 1 to 65535") from None
        self.host: str = parts.hostname
        self.port: int = port or (443 if parts.scheme.lower() == "https" else 80)
        chunked = spec.get("chunked", False)
        if not isinstance(chunked, bool):
            raise self.error(f"Chunked must be true or false, not {chunked!r}")
        self.chunked = chunked
        self.preserves_boundaries = chunked
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be a positive number of bytes, not {chunk_size!r}")
        self.chunk_size = chunk_size
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.verify = verify
        # Resolved secrets (the URL's password, or the whole URL) are scrubbed from any message
        # that quotes a library's exception text.
        self._secrets = [parts.password] if parts.password else []
        if isinstance(url, Secret):
            self._secrets.append(url)

    @property
    def where(self) -> str:
        """``host:port`` as shown in messages (``[::1]:8080`` for IPv6)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def scrub(self, text: str) -> str:
        """``text`` without the URL's secrets."""
        return redact_url(scrub(text, self._secrets))

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> HTTPSource:
        """Send the GET and return a source reading its body.

        ``skip_to`` (a byte offset) applies in byte-stream mode, ``skip_to_record`` (a number of
        chunks) in chunked mode.

        Raises
        ------
        TransportError
            The connection failed, or the server answered with a status other than 2xx.
        """
        offset = 0
        records = 0
        if self.chunked:
            if skip_to is not None:
                raise self.error(
                    "SkipTo counts bytes, but a chunked HTTP stream is read one chunk per record",
                    hint="use SkipToRecord (a number of chunks), or set Chunked false",
                )
            records = _check_skip_records(self, skip_to_record)
        else:
            if skip_to_record is not None:
                raise self.error(
                    "an HTTP body is a byte stream, it cannot skip to a record by itself",
                    hint="use SkipTo (a byte offset), or Chunked true for one record per chunk",
                )
            offset = _check_offset(self, skip_to)
        return HTTPSource(self, offset=offset, skip_records=records)

    def sink(self) -> Any:
        """Refused: the http transport only reads (to send records over HTTP, serve the engine and
        use a REST stream)."""
        raise direction_error(self, "output")


def _check_offset(transport: Transport, skip_to: Any) -> int:
    if skip_to is None:
        return 0
    if isinstance(skip_to, bool) or not isinstance(skip_to, int) or skip_to < 0:
        raise transport.error(
            f"SkipTo must be a byte offset (an integer >= 0), not {skip_to!r}", hint="e.g. SkipTo: 1024"
        )
    return skip_to


def _check_skip_records(transport: Transport, skip_to_record: Any) -> int:
    if skip_to_record is None or skip_to_record == "earliest":
        return 0
    if isinstance(skip_to_record, bool) or not isinstance(skip_to_record, int) or skip_to_record < 0:
        raise transport.error(
            f'SkipToRecord must be a number of records (an integer >= 0) or "earliest" for an HTTP '
            f"stream, not {skip_to_record!r}",
            hint="e.g. SkipToRecord: 10",
        )
    return skip_to_record


def _shown_url(url: str, parts: SplitResult) -> str:
    """The URL as messages show it: no password, no credential-like query values."""
    if isinstance(url, Secret):
        # The whole URL came from a secret: any part of it may be the secret, so show only where it
        # points to.
        host = parts.hostname or "?"
        return f"{parts.scheme}://{host}/... (URL from a secret)"
    shown = redact_url(url)
    if parts.query and any(_SECRET_PARAM.search(k) for k, _ in parse_qsl(parts.query)):
        query = "&".join(
            f"{k}={REDACTED if _SECRET_PARAM.search(k) else v}"
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        )
        shown = shown.split("?", 1)[0] + "?" + query
    return shown


def _innermost(exc: BaseException) -> BaseException:
    """The root cause of a requests/urllib3 exception (they wrap it several levels deep)."""
    seen = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        following = current.__cause__ or current.__context__ or nested
        if following is None:
            break
        current = following
    return current


def _socket_of(response: Any) -> socket.socket | None:
    """The socket under a streaming requests response, if it can be found."""
    conn = getattr(getattr(response, "raw", None), "connection", None)
    sock = getattr(conn, "sock", None)
    return sock if isinstance(sock, socket.socket) else None


class _Handoff:
    """Body pieces handed from the reader thread to the consumer, bounded by bytes.

    One producer, one consumer. Cheaper per item than :class:`queue.Queue` (a deque append and a
    flag check, no lock and notify per item), which counts in chunked mode at one item per record.
    Each counter is written by one thread only, so their difference is a safe estimate of what is
    waiting.
    """

    def __init__(self, limit: int, stop: threading.Event) -> None:
        self.items: collections.deque[Any] = collections.deque()
        self.limit = limit
        self.stop = stop
        self.ready = threading.Event()
        self.room = threading.Event()
        self.produced = 0
        self.consumed = 0

    def put(self, item: Any, size: int) -> bool:
        """Producer: add ``item`` (waiting while too much is queued); False once stopped."""
        while self.produced - self.consumed > self.limit:
            self.room.clear()
            # Checked again after clearing: the consumer may have made room in between.
            if self.produced - self.consumed <= self.limit:
                break
            if self.stop.is_set():
                return False
            self.room.wait(0.1)
        if self.stop.is_set():
            return False
        self.items.append(item)
        self.produced += size
        if not self.ready.is_set():
            self.ready.set()
        return True

    def take(self, timeout: float | None, most: int) -> list[Any]:
        """Consumer: up to ``most`` items, waiting up to ``timeout`` seconds for the first."""
        items = self.items
        if not items:
            if timeout is not None and timeout <= 0:
                return []
            self.ready.clear()
            # Checked again after clearing: the producer may have added one in between.
            if not items and not self.ready.wait(timeout):
                return []
        out = []
        size = 0
        while items and len(out) < most:
            item = items.popleft()
            out.append(item)
            if type(item) is bytes:
                size += len(item)
        self.consumed += size
        self.room.set()
        return out


def _pump(
    response: Any,
    out: _Handoff,
    *,
    chunked: bool,
    chunk_size: int,
    skip_bytes: int,
    skip_chunks: int,
) -> None:
    """Reader thread: body pieces (or chunks) into ``out``, then ``_EOF`` or the exception."""
    raw = response.raw
    put = out.put
    try:
        if chunked:
            for chunk in raw.read_chunked(decode_content=True):
                if skip_chunks:
                    skip_chunks -= 1
                    continue
                if not put(chunk, len(chunk)):
                    return
        else:
            while True:
                piece = raw.read1(chunk_size, decode_content=True)
                if not piece:
                    break
                if skip_bytes:
                    if len(piece) <= skip_bytes:
                        skip_bytes -= len(piece)
                        continue
                    piece, skip_bytes = piece[skip_bytes:], 0
                if not put(piece, len(piece)):
                    return
    except Exception as exc:  # noqa: BLE001 (handed to the reading thread, which raises it)
        if not out.stop.is_set():
            put(exc, 0)
        return
    put(_EOF, 0)


class HTTPSource(Source):
    """The body of one GET (again from the start after :meth:`rewind`); see the module docstring.

    Attributes
    ----------
    status : int
        The HTTP status of the current response (206 after a Range request).
    bytes_read : int
        Bytes returned so far (counting again after a rewind).
    """

    def __init__(self, transport: HTTPTransport, *, offset: int = 0, skip_records: int = 0) -> None:
        self.transport = transport
        self.preserves_boundaries = transport.chunked
        self._session = requests.Session()
        self._closed = False
        self.bytes_read = 0
        self.status = 0
        self._response: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._handoff = _Handoff(_QUEUED_BYTES, self._stop)
        self._ended = False
        self._error: Exception | None = None
        try:
            self._open(offset, skip_records)
        except BaseException:
            self._session.close()
            raise

    # ------------------------------------------------------------------------------------- opening

    def _open(self, offset: int, skip_records: int) -> None:
        t = self.transport
        headers = {}
        if t.chunked or offset:
            # Chunks are records and offsets count bytes of the file itself: neither survives a
            # compressed body.
            headers["Accept-Encoding"] = "identity"
        if offset:
            headers["Range"] = f"bytes={offset}-"
        logger.debug("stream %r: GET %s (from byte %d)", t.stream, t.shown_url, offset)
        try:
            response = self._session.get(
                t.url,
                headers=headers,
                stream=True,
                timeout=(t.connect_timeout, t.response_timeout),
                verify=t.verify,
            )
        except requests.RequestException as exc:
            raise self._request_error(exc) from None
        self.status = response.status_code
        self._ended = False
        self._error = None
        if offset and response.status_code == 416:
            # Range Not Satisfiable: the body is shorter than SkipTo, so nothing is left to read.
            logger.debug("stream %r: SkipTo %d is past the end of %s", t.stream, offset, t.shown_url)
            response.close()
            self._ended = True
            return
        if not 200 <= response.status_code < 300:
            error = self._status_error(response)
            response.close()
            raise error
        if t.chunked and not response.raw.chunked:
            length = response.headers.get("Content-Length")
            response.close()
            raise t.error(
                f"Chunked is true, but {t.shown_url} was not sent with Transfer-Encoding: chunked"
                + (f" (it has a Content-Length of {length} bytes)" if length else ""),
                hint="set Chunked false and frame the records with an Envelope",
            )
        skip_bytes = offset - _range_start(response) if offset else 0
        if skip_bytes < 0:
            response.close()
            raise t.error(
                f"{t.where} answered a request for the bytes of {t.shown_url} from {offset} on with a "
                f"range that starts later ({response.headers.get('Content-Range')})",
                hint="the server's Range support looks broken; remove SkipTo",
            )
        if skip_bytes:
            logger.debug(
                "stream %r: %s ignored the Range request; skipping %d bytes here",
                t.stream,
                t.where,
                skip_bytes,
            )
        sock = _socket_of(response)
        if sock is not None:
            # The headers had response_timeout; the body may be as slow as the data it carries.
            # A closing source wakes the reader thread by shutting the socket down.
            sock.settimeout(None)
        self._response = response
        self._stop = threading.Event()
        self._handoff = _Handoff(_QUEUED_BYTES, self._stop)
        self._thread = threading.Thread(
            target=_pump,
            args=(response, self._handoff),
            kwargs={
                "chunked": t.chunked,
                "chunk_size": t.chunk_size,
                "skip_bytes": skip_bytes,
                "skip_chunks": skip_records,
            },
            name=f"fastscore-http-{t.where}",
            daemon=True,
        )
        self._thread.start()

    def _request_error(self, exc: Exception) -> Exception:
        t = self.transport
        req = requests
        root = _innermost(exc)
        get = f"GET {t.shown_url}"
        if isinstance(root, ConnectionRefusedError):
            return t.error(
                f"cannot connect to {t.where} ({get}): connection refused",
                hint="is the server running and listening on that port? check the host and port in Transport.Url",
            )
        if isinstance(root, socket.gaierror):
            return t.error(
                f"cannot resolve the host {t.host!r} ({get}): {root.strerror or root}",
                hint="check the host name in Transport.Url",
            )
        if isinstance(exc, req.exceptions.SSLError):
            return t.error(
                f"TLS with {t.where} failed ({get}): {t.scrub(str(root))}",
                hint="if the server's certificate comes from a private CA, point $REQUESTS_CA_BUNDLE at "
                "the CA's certificate file",
            )
        if isinstance(exc, req.exceptions.ConnectTimeout):
            return t.error(
                f"cannot connect to {t.where} ({get}): no answer within {t.connect_timeout:g} s",
                hint="check the host and port, and that no firewall drops the connection",
            )
        if isinstance(exc, req.exceptions.ReadTimeout):
            return t.error(
                f"{t.where} accepted the connection but sent no response within "
                f"{t.response_timeout:g} s ({get})",
                hint="the server may be overloaded; try again",
            )
        if isinstance(exc, req.exceptions.InvalidURL | req.exceptions.InvalidSchema):
            return t.error(f"Url {t.shown_url!r} is not a valid URL: {t.scrub(str(root))}")
        reason = getattr(root, "strerror", None) or str(root) or type(root).__name__
        return t.error(f"cannot {get} from {t.where}: {t.scrub(reason)}")

    def _status_error(self, response: Any) -> Exception:
        t = self.transport
        detail = ""
        try:
            head = response.raw.read(300, decode_content=True) or b""
            text = head.decode("utf-8", "replace").strip().splitlines()
            if text and "<" not in text[0]:
                detail = f": {t.scrub(text[0][:200])}"
        except (OSError, ValueError, requests.RequestException):
            # Only decoration for the message: a body that cannot be read is left out.
            pass
        return t.error(
            f"GET {t.shown_url} answered {response.status_code} {response.reason or ''}".rstrip() + detail,
            hint=_STATUS_HINTS.get(response.status_code, "check Transport.Url and the server's logs"),
        )

    # ------------------------------------------------------------------------------------- reading

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """Body pieces (chunks in chunked mode) that arrived within ``timeout`` seconds; ``None`` at the
        end of the body.

        Raises
        ------
        TransportError
            The connection broke before the body was complete (raised again by later calls; what
            arrived before the break is returned first).
        """
        t = self.transport
        if self._closed:
            raise t.error(f"{t.shown_url} was read after it was closed")
        if self._error is not None:
            raise self._error
        if self._ended:
            return None
        items = self._handoff.take(timeout, _MOST_ITEMS)
        if not items:
            return []
        last = items[-1]
        if type(last) is not bytes:
            # The reader thread ends with the end of the body or a failure, always last.
            items.pop()
            if last is _EOF:
                self._ended = True
                logger.debug("stream %r: read %d bytes from %s", t.stream, self.bytes_read, t.shown_url)
            else:
                self._error = self._broken(last)
            self._release()
            if not items:
                if self._error is not None:
                    raise self._error
                return None
        self.bytes_read += sum(map(len, items))
        return items

    def _broken(self, exc: BaseException) -> Exception:
        t = self.transport
        root = _innermost(exc)
        reason = getattr(root, "strerror", None) or str(root) or type(root).__name__
        return t.error(
            f"the connection to {t.where} broke after {self.bytes_read} bytes of {t.shown_url}, "
            f"before the response was complete: {t.scrub(reason)}",
            hint="the server closed the connection early; try again, or check the server's logs",
        )

    def rewind(self) -> None:
        """Request the URL again, from its first byte (or first chunk)."""
        t = self.transport
        if self._closed:
            raise t.error(f"{t.shown_url} was rewound after it was closed")
        self._release()
        self._open(0, 0)

    def _release(self) -> None:
        """Stop the reader thread and drop the current response (the session stays)."""
        self._stop.set()
        response, self._response = self._response, None
        if response is not None:
            sock = _socket_of(response)
            if sock is not None:
                try:
                    # The base class's shutdown works on the file descriptor alone; a TLS socket's
                    # own shutdown would unwrap it under the reader thread's feet.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    # Already shut down or closed by the server: the reader has ended anyway.
                    pass
            response.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(_GRACE)
            if thread.is_alive():
                logger.debug("stream %r: the HTTP reader thread is still ending", self.transport.stream)

    def close(self) -> None:
        """Drop the connection (the server may still be sending); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        started = time.monotonic()
        self._release()
        self._session.close()
        logger.debug(
            "stream %r: closed %s after %d bytes (%.3f s to close)",
            self.transport.stream,
            self.transport.shown_url,
            self.bytes_read,
            time.monotonic() - started,
        )

    def __del__(self) -> None:
        # A source dropped without close() must not keep a connection and a thread alive.
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except OSError:
                pass


def _range_start(response: Any) -> int:
    """The byte the body starts at: the start of a 206's Content-Range, 0 when Range was ignored."""
    if response.status_code != 206:
        return 0
    match = re.match(r"\s*bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else 0
