"""The remote client: an engine served over the FastScore REST API, driven with the same Engine interface.

``fs.connect(url)`` opens a :class:`Connection` to a server (``fastscore engine serve``,
``fs.Engine().serve()``, or anything that speaks the FastScore 1.10 engine API);
``.engine(name)`` returns a :class:`RemoteEngine` whose methods are those of the local engine.

One :class:`requests.Session` per connection keeps HTTP connections alive between calls. Every
request has a timeout. Failed *connection attempts* are retried a few times with a short backoff (no
byte of the request was sent, so a retry cannot repeat an action); an error after the request was
sent is reported at once.

Examples
--------
>>> import fastscore_sdk as fs
>>> srv = fs.Engine().serve(port=0)
>>> eng = fs.connect(srv.url).engine("engine-1")
>>> m = fs.Model("multiplier", "def action(datum):\\n    yield datum * 5\\n")
>>> eng.run(m, "rest:", "rest:").roundtrip("20")
b'100'
>>> eng.reset(); srv.stop()
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets as _random
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from ..errors import (
    DescriptorError,
    EngineError,
    FastScoreError,
    FastScoreTimeoutError,
    ModelError,
    NotSupportedError,
    Rejected,
    TransportError,
    _rebuild_error,
)
from .base import FINAL_STATES, BaseEngine, EngineState

if TYPE_CHECKING:
    import pandas as pd
    import requests

    from ..model import Model
    from ..stream import Stream

__all__ = ["ActiveModel", "AuthenticationError", "Connection", "RemoteEngine", "connect"]

log = logging.getLogger(__name__)

#: Base path of every service behind a FastScore proxy (reference §3.1).
SERVICE_PATH = "/api/1/service"
DEFAULT_ENGINE = "engine-1"
DEFAULT_TIMEOUT = 30.0
#: Connection attempts retried after the first one fails (connect errors only).
CONNECT_RETRIES = 3

_MODEL_MIME = "application/vnd.fastscore.model-"
_SCHEMA_MIME = "application/vnd.fastscore.schema-avro"
_ATTACHMENT_MIME = {".zip": "application/zip", ".tgz": "application/gzip", ".gz": "application/gzip"}
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_POLL_FIRST, _POLL_MAX = 0.02, 0.25  # seconds between state polls in wait(), growing
_LONG_POLL = 10.0  # longest wait one output request asks the server for


@dataclass(frozen=True)
class ActiveModel:
    """The model loaded in a remote engine, as the engine reports it (``GET /2/active/model``).

    Attributes
    ----------
    name, mtype, source : str
    slots : list of dict
        ``{"slot", "schema", "recordsets", "action"}`` per in-use slot (schemas by name).
    attachments : list of str
        Attachment file names.
    """

    name: str
    mtype: str
    source: str
    slots: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)


class AuthenticationError(TransportError, PermissionError):
    """The server refused the user and password (HTTP 401). The message never shows the password."""


# -- connecting ------------------------------------------------------------------------------------
def connect(
    url: str,
    *,
    auth: tuple[str, str] | None = None,
    verify: bool | str = True,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = CONNECT_RETRIES,
    check: bool = True,
) -> Connection:
    """Connect to a FastScore server (a served engine, or a FastScore proxy).

    Parameters
    ----------
    url
        The server's base URL, e.g. ``http://127.0.0.1:8000`` or ``https://host:8000`` (as the
        original's ``Connect(proxy_prefix)``). A ``user:password@`` part is taken out of the URL and
        used as ``auth``, so it never shows in messages.
    auth
        ``(user, password)`` for HTTP basic authentication. The password may be a ``secret://NAME``
        reference (resolved from the secrets folder or the environment).
    verify
        Check the server's TLS certificate (default). ``False`` accepts a self-signed certificate (as
        ``curl -k`` does); a path names a CA bundle to check it against.
    timeout
        Seconds to wait for the server to connect and to answer each request.
    retries
        How many more times a refused or timed-out *connection* is tried (after pauses of 0, 0.2, 0.4 s
        pauses) before :class:`~fastscore_sdk.errors.TransportError` is raised.
    check
        Ask the server's health now, so that a wrong URL, user or password fails here.

    Returns
    -------
    Connection

    Raises
    ------
    AuthenticationError
        The server answered 401: wrong user or password.
    TransportError
        The server could not be reached (the message names the host and port).

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> srv = fs.Engine().serve(port=0)
    >>> conn = fs.connect(srv.url)
    >>> [e["name"] for e in conn.fleet()]
    ['engine-1']
    >>> conn.engine().state
    <EngineState.INIT: 'INIT'>
    >>> srv.stop()
    """
    conn = Connection(url, auth=auth, verify=verify, timeout=timeout, retries=retries)
    if check:
        conn.health()
    return conn


class Connection:
    """A connection to a FastScore server: one HTTP session, its authentication and timeouts.

    Made by :func:`connect`; see there for the parameters.

    Attributes
    ----------
    url : str
        The server's base URL (without any user or password).
    user : str or None
        The basic-auth user, if any.
    """

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        verify: bool | str = True,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = CONNECT_RETRIES,
    ) -> None:
        import requests
        from requests.adapters import HTTPAdapter
        from urllib3.util.retry import Retry

        base, url_auth = _split_url(url)
        auth = auth if auth is not None else url_auth
        self.url = base
        self.user: str | None = None
        self.timeout = float(timeout)
        self.session: requests.Session = requests.Session()
        self.verify = verify
        self.session.verify = verify
        self.session.headers["User-Agent"] = f"fastscore_sdk/{_version()}"
        if auth is not None:
            user, password = auth
            self.user = str(user)
            self.session.auth = requests.auth.HTTPBasicAuth(self.user, _resolve_password(password))
            host = urlsplit(self.url).hostname or ""
            if self.url.startswith("http://") and host not in ("localhost", "127.0.0.1", "::1"):
                log.warning(
                    "the password for %s travels unencrypted: use https:// for a remote server", self.url
                )
        # Only connection attempts are retried: nothing reached the server, so nothing is repeated.
        # read=False re-raises a read failure as it is (a ReadTimeout stays a ReadTimeout).
        retry = Retry(
            total=None,
            connect=retries,
            read=False,
            redirect=0,
            status=0,
            other=0,
            backoff_factor=0.1,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.retries = retries
        if verify is False:
            import urllib3

            # The user chose an unverified certificate (curl -k): say so once, not at every request.
            log.warning("the TLS certificate of %s is not verified (verify=False)", self.url)
            self._silence_insecure = urllib3.exceptions.InsecureRequestWarning
        else:
            self._silence_insecure = None

    # -- requests ----------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        error: type[FastScoreError] = EngineError,
        ok: Iterable[int] = (200, 201, 202, 204),
        timeout: float | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send one request to ``{url}/api/1/service{path}``; return the response or raise.

        ``what`` says what the call was for ("load the model"), for error messages; ``error`` is the
        class raised for a 400 answer. Other answers map to the SDK's errors: 401
        :class:`AuthenticationError`, 409 :class:`EngineError`, 501 :class:`NotSupportedError`,
        504 :class:`FastScoreTimeoutError`, connection failures :class:`TransportError`.
        """
        import requests

        url = f"{self.url}{SERVICE_PATH}{path}"
        wait = self.timeout if timeout is None else timeout
        try:
            # verify per request: a session's verify=False loses to $REQUESTS_CA_BUNDLE otherwise.
            if self._silence_insecure is None:
                resp = self.session.request(method, url, timeout=wait, verify=self.verify, **kwargs)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", self._silence_insecure)
                    resp = self.session.request(method, url, timeout=wait, verify=self.verify, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise TransportError(
                f"TLS failed with {self._where()} while trying to {what}: {_reason(exc)}",
                hint="for a self-signed certificate pass verify=False (or `fastscore connect --insecure`); "
                "to check it against a CA bundle, verify=PATH",
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if isinstance(exc, requests.exceptions.ConnectTimeout) or _is_connect_failure(exc):
                attempts = self.retries + 1
                raise TransportError(
                    f"cannot reach {self._where()} to {what}: {_reason(exc)} "
                    f"({attempts} attempt{'s' if attempts > 1 else ''})",
                    hint="check the URL, and that the server runs, e.g. `fastscore engine serve`",
                ) from None
            raise TransportError(
                f"the connection to {self._where()} failed while trying to {what}: {_reason(exc)}",
            ) from None
        except requests.exceptions.Timeout:
            raise FastScoreTimeoutError(
                f"{self._where()} did not answer within {wait:g} s while trying to {what}",
                hint="pass a larger timeout to fs.connect()",
            ) from None
        except requests.exceptions.RequestException as exc:
            raise TransportError(
                f"request to {self._where()} failed while trying to {what}: {_reason(exc)}"
            ) from None
        if resp.status_code in ok:
            return resp
        raise self._error(resp, what, error)

    def _error(self, resp: requests.Response, what: str, error: type[FastScoreError]) -> FastScoreError:
        status = resp.status_code
        text = _text(resp)
        if status == 401:
            return AuthenticationError(f"authentication failed for {self.url} (check the user and password)")
        named = _named_error(resp.headers.get("X-FastScore-Error"))
        if named is not None and status != 504:
            return _rebuild(named, text, {})
        if status == 400:
            return error(text)
        if status == 403:
            return EngineError(f"{self._where()} refused to {what}: {text}")
        if status == 404:
            return EngineError(f"not found at {self._where()} ({resp.request.path_url}): {text}")
        if status == 409:
            return EngineError(text)
        if status == 413:
            return EngineError(f"{self._where()} refused to {what}: the request is too large ({text})")
        if status == 501:
            return NotSupportedError(text)
        if status == 504:
            return FastScoreTimeoutError(text or f"{self._where()} timed out while trying to {what}")
        return EngineError(f"{self._where()} failed to {what}: HTTP {status} {text}")

    def _where(self) -> str:
        parts = urlsplit(self.url)
        return f"the server at {parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"

    # -- the Connect service -----------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The Connect service's health; raises when the server is unreachable or refuses the login.

        Examples
        --------
        >>> import fastscore_sdk as fs
        >>> srv = fs.Engine().serve(port=0)
        >>> isinstance(fs.connect(srv.url).health(), dict)
        True
        >>> srv.stop()
        """
        resp = self.request("GET", "/connect/1/health", what="check its health")
        return _json(resp, default={})

    def fleet(self, *, api: str | None = None) -> list[dict[str, Any]]:
        """The services behind this server: ``[{"name", "api", "health", "host", "port"}, ...]``."""
        params = {"api": api} if api else None
        resp = self.request("GET", "/connect/1/connect", what="list its engines", params=params)
        return list(_json(resp, default=[]))

    def engine(self, name: str | None = None) -> RemoteEngine:
        """The engine called ``name``; without a name, the first healthy engine of the fleet.

        Raises
        ------
        EngineError
            No engine of that name (the message lists the engines there are).
        """
        if name is None:
            engines = self.fleet(api="engine")
            healthy = [e for e in engines if e.get("health", "ok") == "ok"]
            if not healthy:
                raise EngineError(
                    f"no healthy engine at {self.url}"
                    + (f" ({', '.join(e.get('name', '?') for e in engines)} unhealthy)" if engines else "")
                )
            name = str(healthy[0]["name"])
        else:
            resp = self.request("GET", "/connect/1/connect", what="look up the engine", params={"name": name})
            found = _json(resp, default=[])
            if not found:
                names = [e.get("name") for e in self.fleet(api="engine")]
                raise EngineError(
                    f"no engine named {name!r} at {self.url}",
                    hint=f"engines there: {', '.join(map(str, names))}" if names else None,
                )
        return RemoteEngine(self, name)

    def close(self) -> None:
        """Close the pooled HTTP connections."""
        self.session.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        who = f" user={self.user!r}" if self.user else ""
        return f"<Connection {self.url}{who}>"


# -- the engine ------------------------------------------------------------------------------------
class RemoteEngine(BaseEngine):
    """An engine behind the FastScore REST API, with the methods of the local engine.

    Get one from :meth:`Connection.engine`. Streams and models are sent to the server: a stream's
    descriptor as written (``secret://NAME`` references are sent as references and resolved by the
    server, never by this client), a model's source with its schemas and attachments.

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> srv = fs.Engine().serve(port=0)
    >>> eng = fs.connect(srv.url).engine()
    >>> m = fs.Model("plus1", "def action(x):\\n    yield x + 1\\n")
    >>> eng.run(m, "inline:1,2,3", "discard:").wait(10)
    <EngineState.FINISHED: 'FINISHED'>
    >>> int(eng.stats().loc[1, "records"])
    3
    >>> eng.reset(); srv.stop()
    """

    def __init__(self, connection: Connection, name: str = DEFAULT_ENGINE) -> None:
        self.connection = connection
        self.name = name
        self._base = f"/{quote(name, safe='')}"

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> requests.Response:
        return self.connection.request(method, self._base + path, what=what, **kwargs)

    # -- state -------------------------------------------------------------------------------------
    @property
    def state(self) -> EngineState:
        state = _json(self._call("GET", "/2/engine/state", "read the engine state"), default={})
        return EngineState(str(state.get("state", "")).upper())

    @property
    def model(self) -> ActiveModel | None:
        """The loaded model as the server describes it (name, type, source, slots), or None."""
        resp = self._call("GET", "/2/active/model", "read the active model", ok=(200, 404))
        if resp.status_code == 404:
            return None
        info = _json(resp, default={})
        return ActiveModel(
            name=str(info.get("name", "")),
            mtype=str(info.get("mtype") or info.get("type") or ""),
            source=str(info.get("source", "")),
            slots=list(info.get("slots") or []),
            attachments=list(info.get("attachments") or []),
        )

    @property
    def active_streams(self) -> dict[int, dict[str, Any]]:
        """The attached streams by slot: ``{slot: {"slot", "name", "descriptor", "eof"}}`` (read anew each time)."""
        rows = _json(self._call("GET", "/2/active/stream", "list the attached streams"), default=[])
        return {int(r["slot"]): r for r in rows}

    @property
    def last_error(self) -> ModelError | None:
        resp = self._call("GET", "/2/engine/error", "read the last error", ok=(200, 204))
        if resp.status_code == 204 or not resp.content:
            return None
        info = _json(resp, default={})
        fields = {
            "slot": info.get("slot"),
            "record_index": info.get("record_index"),
            "input": info.get("input"),
            "traceback": info.get("traceback"),
            "line": info.get("line"),
            "model": info.get("model"),
        }
        cls = _named_error(info.get("type")) or ModelError
        return _rebuild(cls, str(info.get("message", "")), fields)  # type: ignore[return-value]

    @property
    def console(self) -> list[str]:
        """Lines the model printed, in order (read anew each time)."""
        return list(_json(self._call("GET", "/2/engine/console", "read the model console"), default=[]))

    # -- loading -----------------------------------------------------------------------------------
    def load_model(self, model: Model | str, *, dry_run: bool = False) -> dict[str, Any]:
        """Send a model to the engine (or with ``dry_run`` have the engine check it).

        The model's source goes with the Avro schemas its smart comments name (``x-schema`` parts)
        and its attachments (``attachment`` parts), in a ``multipart/mixed`` body as the original
        SDK sent them; a model with neither is sent as its source alone.

        Returns
        -------
        dict
            ``{"name", "slots": [...]}``; on a dry run, what the engine reported.

        Raises
        ------
        ModelError
            The engine refused the model (bad smart comment, missing module, ...).
        EngineError
            The engine's state forbids loading now.
        """
        from ..model import Model
        from ..model.model import MODEL_TYPES

        if isinstance(model, (str, os.PathLike)):
            model = Model.load(model)
        if not isinstance(model, Model):
            raise TypeError(f"load_model needs a Model or a model file path, not {type(model).__name__}")
        mime = _MODEL_MIME + MODEL_TYPES.get(model.mtype, model.mtype)
        parts = []
        for path in model.attachments:
            suffix = Path(path).suffix.lower()
            parts.append(
                (
                    f"attachment; {_disposition_param('filename', Path(path).name)}",
                    _ATTACHMENT_MIME.get(suffix, "application/octet-stream"),
                    Path(path).read_bytes(),
                )
            )
        sent: set[str] = set()
        for info in model.slots:
            schema = info.schema
            name = getattr(schema, "name", None)
            if schema is None or not name or name in _PRIMITIVES or name in sent:
                continue
            sent.add(name)
            parts.append(
                (
                    f"x-schema; {_disposition_param('name', name)}",
                    _SCHEMA_MIME,
                    json.dumps(schema.avro).encode("utf-8"),
                )
            )
        disposition = f"x-model; {_disposition_param('name', model.name)}"
        source = model.source.encode("utf-8")
        if parts:
            parts.append((disposition, mime, source))
            body, content_type = _multipart(parts)
            headers = {"Content-Type": content_type}
        else:
            body = source
            headers = {"Content-Type": mime, "Content-Disposition": disposition}
        resp = self._call(
            "PUT",
            "/1/job/model",
            f"load model {model.name!r}",
            params={"dry-run": "true"} if dry_run else None,
            data=body,
            headers=headers,
            error=ModelError,
        )
        if dry_run and resp.content:
            info = _json(resp, default={})
            info.setdefault("name", model.name)
            return info
        return {"name": model.name, "slots": [s.as_dict() for s in model.slots]}

    def unload_model(self) -> None:
        """Unload the model (only in INIT)."""
        self._call("DELETE", "/2/active/model", "unload the model")

    def attach_stream(self, stream: Stream | str, slot: int, *, dry_run: bool = False) -> dict[str, Any]:
        """Attach ``stream`` (a Stream, a library name or a literal) to ``slot`` of the engine.

        The descriptor is checked here first (every rule; a bad descriptor raises
        :class:`~fastscore_sdk.errors.DescriptorError` without a request), then sent as written:
        ``secret://NAME`` references stay references, resolved by the server. A ``{"$ref": NAME}``
        schema is replaced by the schema itself, which the server's library may not have.

        Returns
        -------
        dict
            The interpreted descriptor (secrets shown as ``*****``); on a dry run, the server's.
        """
        from .. import descriptor
        from ..stream import Stream

        if not isinstance(stream, Stream):
            stream = Stream(stream)
        if not isinstance(slot, int) or isinstance(slot, bool) or slot < 0:
            raise EngineError(f"slot must be a whole number >= 0, not {slot!r}")
        desc = _sendable_desc(stream)
        interpreted = descriptor.interpret(desc, slot=slot, check_secrets=False, stream=stream.name)
        resp = self._call(
            "PUT",
            f"/2/active/stream/{slot}",
            f"attach stream {stream.name!r} to slot {slot}",
            params={"dry-run": "true"} if dry_run else None,
            data=json.dumps(desc).encode("utf-8"),
            headers={
                "Content-Type": "application/json",
                "Content-Disposition": f"x-stream; {_disposition_param('name', stream.name)}",
            },
            error=EngineError,
        )
        if dry_run:
            return _json(resp, default=interpreted) if resp.content else interpreted
        if slot % 2 == 0 and interpreted.get("loop"):
            warnings.warn(
                f'input slot {slot} loops ("Loop": true), so this run will not end on its own; '
                'call stop() when you have enough, or set "Loop": false',
                stacklevel=2,
            )
        return interpreted

    def detach_stream(self, slot: int) -> None:
        self._call("DELETE", f"/2/active/stream/{int(slot)}", f"detach the stream on slot {slot}")

    # -- run control -------------------------------------------------------------------------------
    def wait(self, timeout: float | None = None, *, progress: bool = False) -> EngineState:
        """Poll the engine until FINISHED or ERROR (or ``timeout`` seconds); returns the state.

        Never raises for a model error (read :attr:`last_error`). ``progress=True`` shows a
        progress bar of records read; Ctrl-C stops waiting, not the engine.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress_bar(self.name) if progress else None
        pause = _POLL_FIRST
        state = self.state
        try:
            while state not in FINAL_STATES and state is not EngineState.INIT:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                time.sleep(pause if left is None else min(pause, left))
                pause = min(pause * 1.5, _POLL_MAX)
                if bar is not None:
                    bar.n = self._records_read()
                    bar.refresh()
                state = self.state
        except KeyboardInterrupt:
            pass
        finally:
            if bar is not None:
                bar.n = self._records_read()
                bar.set_postfix_str(str(state))
                bar.close()
        return state

    def _records_read(self) -> int:
        stats = self._stats_rows()
        return sum(int(r.get("records", 0)) for r in stats if int(r.get("slot", 1)) % 2 == 0)

    def pause(self) -> None:
        self._call("POST", "/2/engine/pause", "pause the engine")

    def unpause(self) -> None:
        self._call("POST", "/2/engine/unpause", "unpause the engine")

    def reset(self) -> None:
        self._call("POST", "/2/engine/reset", "reset the engine")

    def stop(self) -> None:
        self._call("POST", "/2/engine/stop", "stop the run")

    def scale(self, n: int) -> None:
        """Run ``n`` instances of the model (if the engine can)."""
        self._call(
            "POST",
            "/2/active/model/scale",
            f"scale the model to {n}",
            data=str(int(n)).encode(),
            headers={"Content-Type": "application/json"},
            error=NotSupportedError,
        )

    # -- REST streams ------------------------------------------------------------------------------
    def input(self, data: bytes | str | None, slot: int = 0) -> None:
        """Send ``data`` (encoded bytes or text, as a REST body) to the REST stream on ``slot``.

        ``None`` ends the stream: the encoding's ``end`` control record is sent (framed as the
        stream frames records), so the output drains and then reports its end.
        """
        if data is None:
            codec = self._codec(slot)
            from ..codec import END

            for body in codec.bodies([END]):
                self._post_input(body, slot, f"end the input on slot {slot}")
            return
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self._post_input(body, slot, f"send input to slot {slot}")

    def _post_input(self, body: bytes, slot: int, what: str) -> None:
        self._call(
            "POST",
            f"/1/job/input/{int(slot)}",
            what,
            data=body,
            headers={"Content-Type": "application/octet-stream"},
        )

    def _codec(self, slot: int) -> _RestCodec:
        streams = self.active_streams
        if slot not in streams:
            raise EngineError(f"no stream is attached to slot {slot} of {self.name}")
        return _RestCodec(streams[slot], slot)

    def output(self, slot: int = 1, timeout: float | None = 0.0) -> bytes | None:
        """The next output of the REST stream on ``slot``: bytes, or None when nothing is ready.

        ``timeout`` is how many seconds to wait for output (0: do not wait; None: until output or
        the end of the stream).

        Raises
        ------
        EOFError
            The stream ended and everything was collected (HTTP 204).
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        pause = _POLL_FIRST
        while True:
            left = _LONG_POLL if deadline is None else max(0.0, deadline - time.monotonic())
            wait = min(left, _LONG_POLL)
            resp = self._call(
                "GET",
                f"/1/job/output/{int(slot)}",
                f"read output slot {slot}",
                # The served engine waits up to ?timeout= for output (a server that ignores the
                # parameter answers 202 at once, and this loop asks again after a pause).
                params={"timeout": f"{wait:.3f}"} if wait > 0 else None,
                timeout=self.connection.timeout + wait,
                ok=(200, 202, 204),
            )
            if resp.status_code == 204:
                raise EOFError(f"the REST output on slot {slot} of {self.name} has ended")
            if resp.status_code == 200:
                return resp.content
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, _POLL_MAX)

    def roundtrip(
        self, data: bytes | str, in_slot: int = 0, out_slot: int = 1, timeout: float | None = 5.0
    ) -> bytes:
        """Send ``data`` to ``in_slot`` and return what the model wrote for it on ``out_slot``.

        ``POST .../2/active/model/roundtrip/IN/OUT``, as the seed's ``curl`` does.

        Raises
        ------
        TimeoutError
            No answer within ``timeout`` seconds (HTTP 504).
        SchemaError, RecordError
            The input (or its output) was rejected.
        ModelError
            The model raised on it.
        """
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        wait = 3600.0 * 24 if timeout is None else float(timeout)
        resp = self._call(
            "POST",
            f"/2/active/model/roundtrip/{int(in_slot)}/{int(out_slot)}",
            f"round-trip a record through slots {in_slot} and {out_slot}",
            params={"timeout": f"{wait:g}"},
            data=body,
            headers={"Content-Type": "application/octet-stream"},
            timeout=wait + self.connection.timeout,
            ok=(200,),
        )
        return resp.content

    def score(
        self,
        records: Any,
        *,
        in_slot: int = 0,
        out_slot: int = 1,
        timeout: float | None = 30.0,
        errors: str = "raise",
    ) -> Any:
        """Encode ``records``, send them to the REST stream on ``in_slot`` and return the decoded
        outputs of ``out_slot``, in order (the local engine's ``score`` over HTTP).

        The records travel with a ``pig`` control record behind them (the original SDK's protocol):
        when the pig comes back on the output, every output of these records is in. The engine keeps
        running, so ``score`` can be called again. When the input stream frames records (an
        envelope, as chunked REST has) and the answer can be split (chunked output, or simple JSON
        output), this takes one round-trip request; otherwise the records are posted and the output
        is collected until the pig is back.

        Parameters
        ----------
        records
            A list of records, or a DataFrame (one record per row; a DataFrame comes back).
        timeout
            Seconds to wait for the outputs (None: no limit).
        errors
            ``"raise"``: a record the input stream rejected raises (SchemaError / RecordError);
            ``"reject"``: it is skipped and listed in ``eng.rejected(in_slot)``.

        Raises
        ------
        ModelError
            The engine went to ERROR (the model failed on one of these records).
        TimeoutError
            The outputs did not all come back within ``timeout`` seconds.
        """
        from ..codec import Control

        if errors not in ("raise", "reject"):
            raise ValueError(f'errors must be "raise" or "reject", not {errors!r}')
        frame = None
        if type(records).__name__ == "DataFrame" and hasattr(records, "to_dict"):
            from ..model.runner import frame_records

            frame, records = records, frame_records(records, None)
        else:
            records = list(records)
        streams = self.active_streams
        for slot in (in_slot, out_slot):
            if slot not in streams:
                raise EngineError(
                    f"no stream is attached to slot {slot} of {self.name}",
                    hint='score() needs REST streams, e.g. eng.run(model, "rest:", "rest:")',
                )
        source, sink = _RestCodec(streams[in_slot], in_slot), _RestCodec(streams[out_slot], out_slot)
        fast = errors == "raise" and source.framed and sink.decode_answer(b"") is not None
        if fast:
            # One request: the server's round trip sends the records and a pig, and raises for a
            # rejected record as errors="raise" asks.
            answer = self.roundtrip(source.bodies(records)[0], in_slot, out_slot, timeout=timeout)
            outputs = [r for r in sink.decode_answer(answer) or () if type(r) is not Control]
        else:
            outputs = self._score_with_pig(records, source, sink, in_slot, out_slot, timeout, errors)
        if frame is not None:
            import pandas as pd

            return pd.DataFrame(outputs)
        return outputs

    def _score_with_pig(
        self,
        records: list[Any],
        source: _RestCodec,
        sink: _RestCodec,
        in_slot: int,
        out_slot: int,
        timeout: float | None,
        errors: str,
    ) -> list[Any]:
        """Send the records and a pig of our own, then collect outputs until the pig comes back."""
        from ..codec import Control

        seen = len(self.rejected(in_slot)) if errors == "raise" else 0
        pig = Control("pig", id=_random.randbelow(1 << 52))
        for body in source.bodies([*records, pig]):
            self._post_input(body, in_slot, f"send records to slot {in_slot}")
        outputs: list[Any] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        done = False
        while not done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise FastScoreTimeoutError(
                    f"the outputs of {len(records)} record(s) did not come back from {self.name} on slot "
                    f"{out_slot} within {timeout:g} s",
                    hint="pass a larger timeout, or check eng.inspect() and eng.rejected()",
                )
            try:
                chunk = self.output(out_slot, timeout=min(1.0, left) if left is not None else 1.0)
            except EOFError:
                error = self.last_error
                if error is not None:
                    raise error from None
                raise EngineError(
                    f"the output on slot {out_slot} ended before the answers came back", state=str(self.state)
                ) from None
            if chunk is None:
                if self.state is EngineState.ERROR:
                    raise self.last_error or EngineError("the engine failed while scoring", state="ERROR")
                continue
            for item in sink.decode(chunk):
                if type(item) is Control:
                    done = done or (item.kind == "pig" and item.id == pig.id)
                elif not done:
                    outputs.append(item)
        if errors == "raise":
            fresh = self.rejected(in_slot)[seen:]
            if fresh:
                raise _rejection_error(fresh[0], in_slot)
        return outputs

    def sample_stream(self, stream: Stream | str, n: int = 10) -> list[bytes]:
        """Have the engine read ``n`` records of ``stream``; returns their raw bytes."""
        from ..stream import Stream

        if not isinstance(stream, Stream):
            stream = Stream(stream)
        resp = self._call(
            "POST",
            "/1/stream/sample",
            f"sample stream {stream.name!r}",
            params={"n": int(n)},
            data=json.dumps(_sendable_desc(stream)).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            error=DescriptorError,
        )
        return [base64.b64decode(x) for x in _json(resp, default=[])]

    # -- inspection --------------------------------------------------------------------------------
    def inspect(self) -> dict[str, Any]:
        info = _json(self._call("GET", "/2/engine/inspect", "inspect the engine"), default={})
        streams = info.get("streams")
        if isinstance(streams, dict):
            # JSON object keys are strings; the local engine's are slot numbers.
            info["streams"] = {int(k): v for k, v in streams.items()}
        return info

    def _stats_rows(self) -> list[dict[str, Any]]:
        return list(_json(self._call("GET", "/2/engine/stats", "read the engine statistics"), default=[]))

    def stats(self) -> pd.DataFrame:
        """Per-slot counters as a DataFrame indexed by slot, as the local engine's."""
        import pandas as pd

        columns = ["slot", "stream", "records", "bytes", "rejected_by_schema", "rejected_by_encoding"]
        return pd.DataFrame(self._stats_rows(), columns=columns).set_index("slot")

    def rejected(self, slot: int) -> list[Rejected]:
        rows = _json(
            self._call(
                "GET", f"/2/active/stream/{int(slot)}/rejected", f"read the records rejected on slot {slot}"
            ),
            default=[],
        )
        return [_rejected(r, slot) for r in rows]

    # -- files -------------------------------------------------------------------------------------
    def put(self, path: str | os.PathLike[str], name: str | None = None) -> Path:
        """Upload a local file into the engine's file area; returns its path *on the engine's host*."""
        src = Path(path)
        if not src.is_file():
            raise EngineError(f"cannot put {str(src)!r}: no such file")
        dst = name or src.name
        with src.open("rb") as f:
            resp = self._call(
                "PUT",
                f"/2/engine/file/{quote(dst, safe='')}",
                f"upload {src.name!r}",
                data=f,
                headers={"Content-Type": "application/octet-stream"},
            )
        return Path(_json(resp, default={})["path"])

    def health(self) -> dict[str, Any]:
        """The engine's health: ``{"id", "release", "built_on"}``."""
        return _json(self._call("GET", "/1/health", "check the engine's health"), default={})

    def __repr__(self) -> str:
        return f"<RemoteEngine {self.name!r} at {self.connection.url}>"


# -- helpers ---------------------------------------------------------------------------------------
def _version() -> str:
    from .._version import __version__

    return __version__


def _split_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """The URL without ``user:password@`` (and without a trailing ``/``), and that auth if present."""
    if "://" not in url:
        raise EngineError(
            f"{url!r} is not a URL", hint="write the scheme, host and port, e.g. http://127.0.0.1:8000"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise EngineError(f"unsupported URL scheme {parts.scheme!r}; use http:// or https://")
    auth = None
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        auth = (unquote(user), unquote(password))
    path = parts.path.rstrip("/")
    if path.endswith(SERVICE_PATH):
        path = path[: -len(SERVICE_PATH)]
    return urlunsplit((parts.scheme, netloc, path, "", "")), auth


def _resolve_password(password: Any) -> str:
    from ..secrets import Secret, is_reference, resolve

    text = str(password)
    return resolve(text, field="password") if is_reference(text) else Secret(text)


def _reason(exc: BaseException) -> str:
    """A short cause for a requests failure, e.g. ``[Errno 111] Connection refused``."""
    import ssl

    seen: BaseException | None = exc
    last: BaseException = exc
    for _ in range(8):  # requests wraps urllib3, which wraps the socket error
        if seen is None:
            break
        last = seen
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError):
            return str(seen.reason or seen)
        if type(seen).__module__ == "builtins" and isinstance(seen, OSError) and seen.strerror:
            return f"[Errno {seen.errno}] {seen.strerror}" if seen.errno else seen.strerror
        reason = getattr(seen, "reason", None)
        nested = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = reason if isinstance(reason, BaseException) else seen.__cause__ or seen.__context__ or nested
    text = str(last)
    for marker in ("Failed to establish a new connection: ", "Connection aborted.', "):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip("'\" ") or type(last).__name__


def _is_connect_failure(exc: BaseException) -> bool:
    import urllib3

    inner = exc.args[0] if exc.args else None
    reason = getattr(inner, "reason", None)
    return isinstance(reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


def _text(resp: requests.Response) -> str:
    text = resp.text.strip() if resp.content else ""
    if text.startswith("{"):
        try:
            body = json.loads(text)
        except ValueError:
            return text
        if isinstance(body, dict) and isinstance(body.get("message") or body.get("error"), str):
            return body.get("message") or body["error"]
    return text or (resp.reason or f"HTTP {resp.status_code}")


def _json(resp: requests.Response, *, default: Any) -> Any:
    if not resp.content:
        return default
    try:
        return resp.json()
    except ValueError:
        raise EngineError(
            f"the server answered {resp.request.method} {resp.request.path_url} with something that is not "
            f"JSON: {resp.text[:80]!r}"
        ) from None


_ERRORS: dict[str, type[FastScoreError]] = {}


def _named_error(name: Any) -> type[FastScoreError] | None:
    """The SDK error class of that name (as the server reports it), or None."""
    if not _ERRORS:
        from .. import errors

        for attr in errors.__all__:
            cls = getattr(errors, attr)
            if isinstance(cls, type) and issubclass(cls, FastScoreError):
                _ERRORS[attr] = cls
    return _ERRORS.get(str(name)) if name else None


def _rebuild(cls: type[FastScoreError], message: str, fields: dict[str, Any]) -> FastScoreError:
    """An error of ``cls`` with the server's message as it is (not composed a second time)."""
    state: dict[str, Any] = {
        "message": message,
        "hint": None,
        # attributes each class offers, so that reading one never raises AttributeError
        "slot": None,
        "record_index": None,
        "stream": None,
        "transport": None,
        "state": None,
        "problems": [],
        "code": None,
        "field": None,
        "path": None,
        "value": None,
        "reason": message,
        "raw": None,
        "model": None,
        "input": None,
        "traceback": None,
        "line": None,
        "extra": None,
        "package": None,
    }
    state.update({k: v for k, v in fields.items() if v is not None})
    return _rebuild_error(cls, state)


def _rejection_error(r: Rejected, slot: int) -> FastScoreError:
    from ..errors import RecordError, SchemaError

    if r.kind == "schema":
        return SchemaError(f"input record rejected by schema: {r.reason}", record_index=r.index, slot=slot)
    raw = r.raw if isinstance(r.raw, bytes) else None
    return RecordError(
        f"input record rejected by its encoding: {r.reason}", record_index=r.index, slot=slot, raw=raw
    )


def _rejected(row: dict[str, Any], slot: int) -> Rejected:
    raw = row.get("raw")
    if row.get("raw_encoding") == "base64" and isinstance(raw, str):
        raw = base64.b64decode(raw)
    return Rejected(
        index=int(row.get("index", 0)),
        reason=str(row.get("reason", "")),
        raw=raw,
        kind=str(row.get("kind", "encoding")),
        slot=int(row["slot"]) if row.get("slot") is not None else slot,
    )


def _disposition_param(key: str, value: str) -> str:
    """``name="value"``; RFC 5987 ``name*=UTF-8''...`` when the value is not plain ASCII."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'{key}="{value}"'
    return f"{key}*=UTF-8''{quote(value, safe='')}"


def _multipart(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    """A ``multipart/mixed`` body of (Content-Disposition, Content-Type, body) parts, in order."""
    while True:
        boundary = _random.token_hex(16)
        if all(boundary.encode() not in body for _d, _t, body in parts):
            break
    chunks = []
    for disposition, content_type, body in parts:
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
        chunks += [head.encode("ascii"), body, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"


def _sendable_desc(stream: Stream) -> dict[str, Any]:
    """The descriptor as written, with a ``{"$ref": NAME}`` schema replaced by the schema it names."""
    import copy

    desc = stream.desc
    if not isinstance(desc, dict):
        return desc
    schema = desc.get("Schema")
    if isinstance(schema, dict) and set(schema) == {"$ref"}:
        try:
            avro = stream.library.schemas[schema["$ref"]].avro
        except KeyError:
            return desc  # perhaps the server's library has it; its answer will say if not
        desc = copy.deepcopy(desc)
        desc["Schema"] = avro
    return desc


def _progress_bar(name: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(desc=name, unit=" records", leave=True)


class _RestCodec:
    """Encodes records into REST bodies and decodes REST bodies, as the stream on a slot does."""

    def __init__(self, entry: dict[str, Any], slot: int) -> None:
        from .. import descriptor

        self.name = str(entry.get("name") or f"slot {slot}")
        self.slot = slot
        interpreted = descriptor.interpret(entry.get("descriptor") or {}, check_secrets=False, warn=False)
        self.envelope = interpreted.get("envelope")
        self.encoding = interpreted.get("encoding")
        self.framed = self.envelope is not None
        self.chunked = str(interpreted.get("transport", {}).get("mode", "")).lower() == "chunked"
        avro = interpreted.get("schema")
        self.schema = None
        if avro is not None and avro != "$inherit":
            from ..schema import Schema

            self.schema = Schema(None, avro)
        self._decoder = self._new_decoder()

    def _new_decoder(self) -> Any:
        from .. import codec

        return codec.decoder(self.envelope, self.encoding, self.schema, stream=self.name, slot=self.slot)

    def bodies(self, records: list[Any]) -> list[bytes]:
        """One body with an envelope (it frames the records); else one body per record."""
        from .. import codec

        enc = codec.encoder(
            self.envelope, self.encoding, self.schema, errors="raise", stream=self.name, slot=self.slot
        )
        if self.framed:
            return [enc.encode(records) + enc.finish()]
        return enc.encode_messages(records)

    def decode(self, body: bytes) -> list[Any]:
        """Records of one REST body, in a stream of bodies (a frame may span two bodies)."""
        if self.framed:
            return self._decoder.feed(body)
        return self._decoder.feed_messages([body])

    def decode_answer(self, data: bytes) -> list[Any] | None:
        """Records of a round trip's answer; None when its form cannot be split reliably."""
        if self.chunked and self.framed:
            dec = self._new_decoder()
            return [*dec.feed(data), *dec.finish()]
        if not self.chunked and not self.framed and str(self.encoding).lower() == "json":
            # Several simple-mode answers come joined by newlines; compact JSON has none inside.
            return self._new_decoder().feed_messages([line for line in data.split(b"\n") if line])
        return None
