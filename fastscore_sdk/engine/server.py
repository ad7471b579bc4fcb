"""The served engine: the FastScore REST API (reference §3.2-3.4) over local engines.

:func:`serve` starts an aiohttp server with its own event loop in a background thread, so a notebook
stays usable while it runs; :func:`serve_forever` blocks until Ctrl-C (the ``fastscore engine serve``
command). Every path lives under ``/api/1/service/<engine-name>``, as behind the original dashboard
proxy, so the seed's ``curl .../api/1/service/engine-1/2/active/model/roundtrip/0/1`` works as written.

Blocking engine calls (loading a model, attaching, sampling, reset) run on a thread pool; the REST
data path (input, output, roundtrip) runs on the event loop itself and never waits there: a round
trip's answer arrives through a callback from the engine's thread.

Errors answer with a plain-text reason (and the exception class in ``X-FastScore-Error``): 400 for a
bad request (wrong slot, malformed record, bad descriptor or model), 401 when basic auth fails, 403
for ``file``/``exec`` streams unless ``allow_local_streams``, 404 for an unknown engine or object,
409 when the engine's state forbids the call, 413 for a body over ``max_body``, 500 when the model
failed while scoring, 504 when a round trip timed out.

Examples
--------
>>> import fastscore_sdk as fs, requests
>>> m = fs.Model("times5", "def action(x):\\n    yield x * 5\\n")
>>> trip = fs.Stream("rest-trip", {"Transport": "REST", "Encoding": "json",
...                                "Batching": {"NagleTime": 0, "Watermark": None}})
>>> eng = fs.Engine().run(m, trip, trip)
>>> with eng.serve(port=0) as srv:
...     r = requests.post(f"{srv.url}/api/1/service/engine-1/2/active/model/roundtrip/0/1", data="20")
>>> r.status_code, r.text
(200, '100')
>>> eng.reset()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import datetime
import email.parser
import email.policy
import functools
import hmac
import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web

from .._version import __version__
from ..errors import (
    DescriptorError,
    EngineError,
    FastScoreError,
    FastScoreTimeoutError,
    MissingDependencyError,
    ModelError,
    NotSupportedError,
    RecordError,
    SchemaError,
    TransportError,
)
from .local import LocalEngine, _NotReady

__all__ = ["ServerHandle", "make_app", "serve", "serve_forever"]

log = logging.getLogger(__name__)

#: Seconds a round trip waits when the request names no ``?timeout=`` (the seed's curl does not; the
#: first request may also wait for the model to load).
DEFAULT_ROUNDTRIP_TIMEOUT = 30.0
#: Threads for blocking engine calls (model load, attach, sample, reset).
_WORKERS = 16
_BASE = "/api/1/service/{engine}"
_API_KEY: web.AppKey[Any] = web.AppKey("fastscore_api", object)
_MIME = {"json": "application/json", "utf-8": "text/plain; charset=utf-8", "csv": "text/csv; charset=utf-8"}


class _Forbidden(FastScoreError):
    """A request asked the server to touch its own files or run commands (403)."""


class _NotFound(FastScoreError):
    """An engine, model or schema id that does not exist (404)."""


def _status(exc: BaseException, *, scoring: bool = False) -> int:
    if isinstance(exc, _Forbidden):
        return 403
    if isinstance(exc, _NotFound):
        return 404
    if isinstance(exc, (FastScoreTimeoutError, TimeoutError)):
        return 504
    if isinstance(exc, EngineError):
        return 409 if exc.state is not None else 400
    if isinstance(exc, ModelError):
        return 500 if scoring else 400
    if isinstance(
        exc,
        (
            DescriptorError,
            SchemaError,
            RecordError,
            TransportError,
            NotSupportedError,
            MissingDependencyError,
            ValueError,
            TypeError,
            KeyError,
        ),
    ):
        return 400
    return 500


def _error(exc: BaseException, *, scoring: bool = False) -> web.Response:
    status = _status(exc, scoring=scoring)
    if status == 500 and not isinstance(exc, FastScoreError):
        log.error("request failed", exc_info=exc)
    text = str(exc) if isinstance(exc, FastScoreError) else f"{type(exc).__name__}: {exc}"
    return web.Response(
        status=status, text=text, headers={"X-FastScore-Error": type(exc).__name__}, content_type="text/plain"
    )


@web.middleware
async def _errors(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except (FastScoreError, ValueError, TypeError, KeyError, TimeoutError) as exc:
        return _error(exc)


def _basic_auth(user: str, password: str) -> Callable[..., Any]:
    want_user = user.encode("utf-8")
    want_password = password.encode("utf-8")

    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        ok = False
        if header[:6].lower() == "basic ":
            try:
                given = base64.b64decode(header[6:].strip(), validate=True)
            except (binascii.Error, ValueError):
                given = b""
            got_user, sep, got_password = given.partition(b":")
            # Both comparisons always run, in constant time, so timing tells nothing.
            ok = (
                bool(sep)
                & hmac.compare_digest(got_user, want_user)
                & hmac.compare_digest(got_password, want_password)
            )
        if not ok:
            return web.Response(
                status=401,
                text="401: Unauthorized",
                headers={"WWW-Authenticate": 'Basic realm="fastscore"'},
                content_type="text/plain",
            )
        return await handler(request)

    return check


def _flag(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _slot(text: str) -> int:
    named = {"in": 0, "out": 1}
    if text in named:
        return named[text]
    if not re.fullmatch(r"\d+", text or ""):
        raise ValueError(f"slot must be a whole number >= 0, not {text!r}")
    return int(text)


def _disposition_name(header: str | None, kind: str) -> str | None:
    """``name="X"`` of a ``Content-Disposition: KIND; name="X"`` header."""
    if not header:
        return None
    msg = email.message_from_string(f"Content-Disposition: {header}\n\n", policy=email.policy.HTTP)
    if (msg.get_content_disposition() or "").lower() != kind:
        return None
    name = msg.get_param("name", header="content-disposition")
    return str(name) if name else None


def _text(body: bytes, what: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the {what} is not UTF-8 text (byte {exc.start})") from None


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def _mime(interpreted: dict[str, Any]) -> str:
    encoding = interpreted.get("encoding")
    name = encoding.get("type") if isinstance(encoding, dict) else encoding
    return _MIME.get(str(name or "").lower(), "application/octet-stream")


def _resolve(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(False)


def _expire(fut: asyncio.Future[bool]) -> None:
    if not fut.done():
        fut.set_result(True)


def _built_on() -> str:
    stamp = os.path.getmtime(Path(__file__).resolve().parent.parent / "_version.py")
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class _Api:
    """The request handlers, bound to the engines they serve."""

    def __init__(
        self,
        engines: dict[str, LocalEngine],
        *,
        allow_local_streams: bool,
        executor: concurrent.futures.Executor,
    ) -> None:
        self.engines = engines
        self.allow_local_streams = allow_local_streams
        self.executor = executor
        self.id = str(uuid.uuid4())
        self.built_on = _built_on()
        self.host = "127.0.0.1"
        self.port = 0
        self._schemas: dict[str, dict[int, Any]] = {name: {} for name in engines}
        self._next_sid = 0
        self._workdirs: list[str] = []

    # -- helpers -------------------------------------------------------------------------------
    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def engine(self, request: web.Request) -> LocalEngine:
        name = request.match_info["engine"]
        eng = self.engines.get(name)
        if eng is None:
            raise _NotFound(
                f"no engine named {name!r} here; this server has: {', '.join(sorted(self.engines))}"
            )
        return eng

    def health(self) -> dict[str, Any]:
        return {"id": self.id, "release": __version__, "built_on": self.built_on}

    def check_local(self, stream: Any) -> dict[str, Any]:
        """Refuse streams that read the server's files or run commands on it (DESIGN §8)."""
        from ..transports.registry import touches_host

        interpreted = stream.verify()
        kind = interpreted["transport"]["type"]
        if touches_host(interpreted["transport"]) and not self.allow_local_streams:
            raise _Forbidden(
                f"stream {stream.name!r}: {kind} streams read this server's files or run commands on it, "
                "so the server refuses them",
                hint="start the server with allow_local_streams=True to allow them",
            )
        return interpreted

    def close(self) -> None:
        for path in self._workdirs:
            shutil.rmtree(path, ignore_errors=True)
        self._workdirs.clear()

    # -- connect -------------------------------------------------------------------------------
    async def fleet(self, request: web.Request) -> web.Response:
        entries = [
            {
                "name": name,
                "api": "engine",
                "health": "ok",
                "host": self.host,
                "port": self.port,
                "release": __version__,
            }
            for name in sorted(self.engines)
        ]
        want_name, want_api = request.query.get("name"), request.query.get("api")
        entries = [
            e
            for e in entries
            if (want_name is None or e["name"] == want_name) and (want_api is None or e["api"] == want_api)
        ]
        return web.json_response(entries)

    async def connect_health(self, request: web.Request) -> web.Response:
        return web.json_response(self.health())

    # -- v1 ------------------------------------------------------------------------------------
    async def engine_health(self, request: web.Request) -> web.Response:
        self.engine(request)
        return web.json_response(self.health())

    async def put_model(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        dry_run = _flag(request.query.get("dry-run"))
        body = await request.read()
        model = await self.call(
            self._build_model, request.headers.get("Content-Type", ""), request.headers, body
        )
        info = await self.call(eng.load_model, model, dry_run=dry_run)
        if not dry_run:
            return web.Response(status=204)
        return web.json_response(
            {
                "name": info["name"],
                "slots": [
                    {k: s[k] for k in ("slot", "schema", "recordsets", "action", "direction") if k in s}
                    for s in info["slots"]
                ],
                "install_libs": [],
                "warn_libs": [],
                "attach_libs": [p.name for p in model.attachments],
                "snapshots": model.annotations.snapshots,
            }
        )

    def _build_model(self, content_type: str, headers: Any, body: bytes) -> Any:
        from ..model import Model

        if content_type.lower().startswith("multipart/"):
            parts = _multipart(content_type, body)
        else:
            parts = [(_part_kind(headers.get("Content-Disposition"), "x-model"), headers, body)]
        source = None
        name, mtype = "model", "python3"
        schemas: dict[str, Any] = {}
        archives: list[str] = []
        workdir = None
        for kind, part_headers, data in parts:
            disposition = part_headers.get("Content-Disposition")
            if kind == "x-schema":
                schema_name = _disposition_name(disposition, "x-schema")
                if not schema_name:
                    raise ValueError(
                        'an x-schema part needs a name: Content-Disposition: x-schema; name="NAME"'
                    )
                text = _text(data, f"schema {schema_name!r}")
                try:
                    schemas[schema_name] = json.loads(text)
                except json.JSONDecodeError:
                    schemas[schema_name] = text.strip()  # a bare primitive name such as double
            elif kind == "attachment":
                filename = _attachment_name(disposition)
                if workdir is None:
                    workdir = tempfile.mkdtemp(prefix="fastscore-upload-")
                    self._workdirs.append(workdir)
                path = os.path.join(workdir, filename)
                with open(path, "wb") as fh:
                    fh.write(data)
                archives.append(path)
            elif kind == "x-model":
                name = _disposition_name(disposition, "x-model") or name
                ctype = (part_headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if ctype.startswith("application/vnd.fastscore.model-"):
                    mtype = ctype
                source = _text(data, "model source")
            else:
                raise ValueError(
                    f"unknown part {kind!r} in the model upload; use attachment, x-schema and x-model parts"
                )
        if source is None:
            raise ValueError("the model upload has no x-model part (the model source)")
        return Model(name, source, mtype, schemas=schemas, attachments=archives)

    async def delete_model(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        if eng.model is None:
            raise _NotFound("no model is loaded")
        eng.unload_model()
        return web.Response(status=204)

    async def put_stream(self, request: web.Request) -> web.Response:
        from ..stream import Stream

        eng = self.engine(request)
        slot = _slot(request.match_info["slot"])
        dry_run = _flag(request.query.get("dry-run"))
        text = _text(await request.read(), "stream descriptor")
        name = _disposition_name(request.headers.get("Content-Disposition"), "x-stream")
        if name is None:
            name = text.strip() if not text.lstrip().startswith("{") else f"slot-{slot}"
        stream = Stream(name, text)
        self.check_local(stream)
        interpreted = await self.call(eng.attach_stream, stream, slot, dry_run=dry_run)
        if dry_run:
            return web.json_response(interpreted)
        return web.Response(status=204)

    async def delete_stream(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        slot = _slot(request.match_info["slot"])
        if slot not in eng.inspect()["streams"]:
            raise _NotFound(f"no stream is attached to slot {slot}")
        eng.detach_stream(slot)
        return web.Response(status=204)

    async def delete_job(self, request: web.Request) -> web.Response:
        await self.call(self.engine(request).reset)
        return web.Response(status=204)

    async def status(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        model = eng.model
        streams = eng.inspect()["streams"]
        slots = []
        for s in [] if model is None else model.slots:
            info = s.as_dict()
            stream = streams.get(s.slot)
            info["stream"] = (
                None if stream is None else {"descriptor": stream["descriptor"], "eof": stream["eof"]}
            )
            slots.append(info)
        return web.json_response(
            {
                "model": None if model is None else _model_info(model),
                "slots": slots,
                "jets": [] if model is None else [{"pid": os.getpid(), "sandbox": eng.name, "busy": False}],
                "snapshots": None if model is None else model.annotations.snapshots,
                "state": str(eng.state).lower(),
            }
        )

    async def job_scale(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        n = request.query.get("n")
        if n is None or not n.isdigit():
            raise ValueError(f"scale needs ?n=N, a whole number, not {n!r}")
        await self.call(eng.scale, int(n))
        return web.Response(status=204)

    async def input(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        slot = _slot(request.match_info.get("slot", "0"))
        body = await request.read()
        try:
            eng._input(body, slot, wait=False)
        except _NotReady:
            await self.call(eng._input, body, slot, wait=True)
        return web.Response(status=204)

    async def output(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        slot = _slot(request.match_info.get("slot", "1"))
        timeout = float(request.query.get("timeout", 0) or 0)
        try:
            if timeout > 0:
                data = await self.call(eng._output, slot, timeout, wait=True)
            else:
                try:
                    data = eng._output(slot, 0, wait=False)
                except _NotReady:
                    data = await self.call(eng._output, slot, 0, wait=True)
        except EOFError:
            return web.Response(status=204)
        if data is None:
            return web.Response(status=202)
        return web.Response(body=data, content_type="application/octet-stream")

    async def sample(self, request: web.Request) -> web.Response:
        from ..stream import Stream

        self.engine(request)
        n = int(request.query.get("n", 10))
        timeout = float(request.query.get("timeout", 10.0))
        stream = Stream("sample", _text(await request.read(), "stream descriptor"))
        self.check_local(stream)
        sample = await self.call(stream.sample, n, timeout=timeout)
        raw = await self.call(lambda: sample.raw)
        return web.json_response([base64.b64encode(r).decode("ascii") for r in raw])

    async def rate(self, request: web.Request) -> web.Response:
        from ..stream import Stream

        self.engine(request)
        seconds = float(request.query.get("seconds", 5.0))
        stream = Stream("rate", _text(await request.read(), "stream descriptor"))
        self.check_local(stream)
        result = await self.call(stream.rate, seconds=seconds)
        return web.json_response([result])

    # -- v2 ------------------------------------------------------------------------------------
    async def state(self, request: web.Request) -> web.Response:
        return web.json_response({"state": str(self.engine(request).state).lower()})

    async def control(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        verb = request.match_info["verb"]
        actions = {"pause": eng.pause, "unpause": eng.unpause, "reset": eng.reset, "stop": eng.stop}
        if verb not in actions:
            raise web.HTTPNotFound(text=f"unknown engine command {verb!r}; use pause, unpause, reset or stop")
        await self.call(actions[verb])
        return web.Response(status=204)

    async def inspect(self, request: web.Request) -> web.Response:
        return web.json_response(self.engine(request).inspect(), dumps=_dumps)

    async def stats(self, request: web.Request) -> web.Response:
        frame = self.engine(request).stats()
        return web.json_response(json.loads(frame.reset_index().to_json(orient="records")))

    async def rejected(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        slot = _slot(request.match_info["slot"])
        rows = []
        for r in eng.rejected(slot):
            is_bytes = isinstance(r.raw, (bytes, bytearray))
            rows.append(
                {
                    "index": r.index,
                    "reason": r.reason,
                    "raw": base64.b64encode(bytes(r.raw)).decode("ascii") if is_bytes else _jsonable(r.raw),
                    "raw_encoding": "base64" if is_bytes else "json",
                    "kind": r.kind,
                    "slot": r.slot,
                }
            )
        return web.json_response(rows)

    async def console(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.engine(request).console))

    async def last_error(self, request: web.Request) -> web.Response:
        err = self.engine(request).last_error
        if err is None:
            return web.Response(status=204)
        return web.json_response(
            {
                "type": type(err).__name__,
                "message": str(err),
                "slot": getattr(err, "slot", None),
                "record_index": getattr(err, "record_index", None),
                "input": _jsonable(getattr(err, "input", None)),
                "traceback": getattr(err, "traceback", None),
                "line": getattr(err, "line", None),
            }
        )

    async def put_file(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        name = request.match_info["name"]
        body = await request.read()

        def store() -> str:
            with tempfile.TemporaryDirectory(prefix="fastscore-put-") as tmp:
                src = Path(tmp) / "upload"
                src.write_bytes(body)
                return str(eng.put(src, name))

        return web.json_response({"path": await self.call(store)})

    async def active_model(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        model = eng.model
        if model is None:
            raise _NotFound("no model is loaded")
        info = _model_info(model)
        info["slots"] = [s.as_dict() for s in model.slots]
        info["snapshots"] = model.annotations.snapshots
        info["jets"] = [{"pid": os.getpid(), "sandbox": eng.name}]
        return web.json_response(info)

    async def scale(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        text = (await request.text()).strip()
        if not text.isdigit():
            raise ValueError(f"the scale factor must be a whole number, not {text!r}")
        await self.call(eng.scale, int(text))
        return web.Response(status=204)

    async def roundtrip(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        in_slot = _slot(request.match_info["in"])
        out_slot = _slot(request.match_info["out"])
        timeout = float(request.query.get("timeout", DEFAULT_ROUNDTRIP_TIMEOUT))
        body = await request.read()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool] = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(_resolve, fut)

        try:
            try:
                trip = eng._start_trip([body], in_slot, out_slot, roundtrip=True, wait=False, on_done=done)
            except _NotReady:
                trip = await self.call(
                    eng._start_trip, [body], in_slot, out_slot, roundtrip=True, wait=True, on_done=done
                )
            if not trip.event.is_set():
                # A timer on the future itself: lighter than asyncio.wait_for on this hot path.
                timer = loop.call_later(timeout, _expire, fut)
                try:
                    expired = await fut
                finally:
                    timer.cancel()
                if expired:
                    raise trip.timed_out(timeout)
            if trip.items is None:  # the run ended: let it settle off the event loop
                data = await self.call(eng._finish_trip, trip)
            else:
                data = eng._finish_trip(trip)
        except (FastScoreError, ValueError, TypeError, TimeoutError) as exc:
            return _error(exc, scoring=True)
        out = eng._slots.get(out_slot)
        mime = _mime(out.interpreted) if out is not None else "application/octet-stream"
        return web.Response(body=data, headers={"Content-Type": mime})

    async def streams(self, request: web.Request) -> web.Response:
        eng = self.engine(request)
        out = [
            {"slot": slot, "name": s["name"], "descriptor": s["descriptor"], "eof": s["eof"]}
            for slot, s in sorted(eng.inspect()["streams"].items())
        ]
        return web.json_response(out)

    async def verify_schema(self, request: web.Request) -> web.Response:
        from ..schema import Schema

        eng = self.engine(request)
        text = _text(await request.read(), "schema")
        try:
            avro: Any = json.loads(text)
        except json.JSONDecodeError:
            avro = text.strip()
        self._next_sid += 1
        sid = self._next_sid
        self._schemas[eng.name][sid] = Schema(f"schema-{sid}", avro)
        return web.json_response({"id": sid})

    def _schema(self, request: web.Request) -> tuple[dict[int, Any], int]:
        eng = self.engine(request)
        bag = self._schemas[eng.name]
        sid_text = request.match_info["sid"]
        sid = int(sid_text) if sid_text.isdigit() else -1
        if sid not in bag:
            raise _NotFound(
                f"no schema with id {sid_text!r}; post the schema to /2/active/schema/verify first"
            )
        return bag, sid

    async def verify_data(self, request: web.Request) -> web.Response:
        bag, sid = self._schema(request)
        try:
            payload = json.loads(_text(await request.read(), "record"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"the body is not JSON: {exc}") from None
        if not isinstance(payload, dict) or "data" not in payload:
            raise ValueError('the body must be {"data": RECORD}')
        bag[sid].validate(payload["data"])
        return web.Response(status=204)

    async def unverify_schema(self, request: web.Request) -> web.Response:
        bag, sid = self._schema(request)
        del bag[sid]
        return web.Response(status=204)


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def _model_info(model: Any) -> dict[str, Any]:
    return {
        "name": model.name,
        "mtype": model.mtype,
        "type": model.mtype,
        "source": model.source,
        "attachments": [p.name for p in model.attachments],
    }


def _part_kind(disposition: str | None, default: str) -> str:
    if not disposition:
        return default
    return disposition.split(";", 1)[0].strip().lower() or default


def _attachment_name(disposition: str | None) -> str:
    msg = email.message_from_string(f"Content-Disposition: {disposition or ''}\n\n", policy=email.policy.HTTP)
    name = msg.get_filename() or msg.get_param("name", header="content-disposition")
    name = os.path.basename(str(name or "")).strip()
    if not name or name in (".", ".."):
        raise ValueError(
            'an attachment part needs a file name: Content-Disposition: attachment; filename="x.tar.gz"'
        )
    return name


def _multipart(content_type: str, body: bytes) -> list[tuple[str, Any, bytes]]:
    """The parts of a ``multipart/mixed`` model upload: (kind, headers, bytes)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise ValueError("the multipart model upload could not be read: check its boundary")
    parts = []
    for part in msg.iter_parts():
        disposition = part.get("Content-Disposition")
        data = part.get_payload(decode=True) or b""
        parts.append((_part_kind(disposition, "x-model"), part, data))
    return parts


# -- TLS ---------------------------------------------------------------------------------------


def _self_signed(host: str) -> tuple[bytes, bytes]:
    """A certificate and key (PEM) for ``localhost``, 127.0.0.1, ::1 and ``host``, valid a year."""
    names = {"localhost"}
    addresses = {"127.0.0.1", "::1"}
    try:
        ipaddress.ip_address(host)
        addresses.add(host)
    except ValueError:
        if host:
            names.add(host)
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return _self_signed_openssl(sorted(names), sorted(addresses))
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    alt = [x509.DNSName(n) for n in sorted(names)] + [
        x509.IPAddress(ipaddress.ip_address(a)) for a in sorted(addresses)
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _self_signed_openssl(names: list[str], addresses: list[str]) -> tuple[bytes, bytes]:
    binary = shutil.which("openssl")
    if binary is None:
        raise MissingDependencyError("tls=True (a self-signed certificate)", package="cryptography")
    alt = ",".join([f"DNS:{n}" for n in names] + [f"IP:{a}" for a in addresses])
    with tempfile.TemporaryDirectory(prefix="fastscore-tls-") as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        cmd = [binary, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        cmd += ["-keyout", key, "-out", cert, "-days", "365", "-subj", "/CN=localhost", "-addext"]
        cmd += [f"subjectAltName={alt}"]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
        if done.returncode != 0:
            raise TransportError(f"openssl could not make a self-signed certificate: {done.stderr.strip()}")
        return Path(cert).read_bytes(), Path(key).read_bytes()


def _ssl_context(tls: Any, host: str) -> tuple[ssl.SSLContext | None, bytes | None]:
    """The server's SSL context, and the certificate (PEM) when it was made here."""
    if tls is None or tls is False:
        return None, None
    if isinstance(tls, ssl.SSLContext):
        return tls, None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if tls is True:
        cert, key = _self_signed(host)
        # ssl loads certificates from files only: write them to a private folder, then remove it.
        with tempfile.TemporaryDirectory(prefix="fastscore-tls-") as tmp:
            certfile, keyfile = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            Path(certfile).write_bytes(cert)
            fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(key)
            ctx.load_cert_chain(certfile, keyfile)
        return ctx, cert
    if isinstance(tls, (tuple, list)) and len(tls) == 2:
        certfile, keyfile = (os.fspath(p) for p in tls)
        try:
            ctx.load_cert_chain(certfile, keyfile)
        except (OSError, ssl.SSLError) as exc:
            raise TransportError(
                f"cannot load the TLS certificate {certfile!r} and key {keyfile!r}: {exc}",
                hint="pass (certfile, keyfile) paths of PEM files",
            ) from exc
        return ctx, None
    raise TypeError(f"tls must be True, (certfile, keyfile) or an ssl.SSLContext, not {type(tls).__name__}")


# -- the app and the server thread -------------------------------------------------------------


def make_app(
    engines: LocalEngine | Iterable[LocalEngine],
    *,
    auth: tuple[str, str] | None = None,
    allow_local_streams: bool = False,
    max_body: int = 16 * 2**20,
    executor: concurrent.futures.Executor | None = None,
) -> web.Application:
    """The aiohttp application serving ``engines`` (for embedding in a server of your own).

    Examples
    --------
    >>> import fastscore_sdk as fs
    >>> app = make_app(fs.Engine())
    >>> sorted({r.method for r in app.router.routes()})
    ['DELETE', 'GET', 'POST', 'PUT']
    """
    engs = _engine_map(engines)
    middlewares: list[Any] = [_errors]
    if auth is not None:
        user, password = auth
        middlewares.insert(0, _basic_auth(str(user), str(password)))
    app = web.Application(middlewares=middlewares, client_max_size=max_body)
    api = _Api(
        engs,
        allow_local_streams=allow_local_streams,
        executor=executor
        or concurrent.futures.ThreadPoolExecutor(_WORKERS, thread_name_prefix="fastscore-http"),
    )
    app[_API_KEY] = api
    add = app.router.add_route
    connect = "/api/1/service/connect"
    add("GET", f"{connect}/1/connect", api.fleet)
    add("GET", f"{connect}/1/health", api.connect_health)
    b = _BASE
    add("GET", f"{b}/1/health", api.engine_health)
    add("PUT", f"{b}/1/job/model", api.put_model)
    add("DELETE", f"{b}/1/job/model", api.delete_model)
    add("PUT", f"{b}/1/job/stream/{{slot}}", api.put_stream)
    add("DELETE", f"{b}/1/job", api.delete_job)
    add("GET", f"{b}/1/job/status", api.status)
    add("POST", f"{b}/1/job/scale", api.job_scale)
    add("POST", f"{b}/1/job/input", api.input)
    add("POST", f"{b}/1/job/input/{{slot}}", api.input)
    add("GET", f"{b}/1/job/output", api.output)
    add("GET", f"{b}/1/job/output/{{slot}}", api.output)
    add("POST", f"{b}/1/stream/sample", api.sample)
    add("POST", f"{b}/1/stream/rate", api.rate)
    add("GET", f"{b}/2/engine/state", api.state)
    add("GET", f"{b}/2/engine/inspect", api.inspect)
    add("GET", f"{b}/2/engine/stats", api.stats)
    add("GET", f"{b}/2/engine/console", api.console)
    add("GET", f"{b}/2/engine/error", api.last_error)
    add("PUT", f"{b}/2/engine/file/{{name}}", api.put_file)
    add("POST", f"{b}/2/engine/{{verb}}", api.control)
    add("GET", f"{b}/2/active/model", api.active_model)
    add("DELETE", f"{b}/2/active/model", api.delete_model)
    add("POST", f"{b}/2/active/model/scale", api.scale)
    add("POST", f"{b}/2/active/model/roundtrip/{{in}}/{{out}}", api.roundtrip)
    add("GET", f"{b}/2/active/stream", api.streams)
    add("PUT", f"{b}/2/active/stream/{{slot}}", api.put_stream)
    add("DELETE", f"{b}/2/active/stream/{{slot}}", api.delete_stream)
    add("GET", f"{b}/2/active/stream/{{slot}}/rejected", api.rejected)
    add("POST", f"{b}/2/active/schema/verify", api.verify_schema)
    add("POST", f"{b}/2/active/schema/verify/{{sid}}", api.verify_data)
    add("DELETE", f"{b}/2/active/schema/verify/{{sid}}", api.unverify_schema)
    return app


def _engine_map(engines: LocalEngine | Iterable[LocalEngine]) -> dict[str, LocalEngine]:
    if isinstance(engines, LocalEngine):
        items = [engines]
    elif isinstance(engines, dict):
        items = list(engines.values())
    else:
        items = list(engines)
    if not items:
        raise ValueError("serve needs at least one engine")
    out: dict[str, LocalEngine] = {}
    for eng in items:
        if not isinstance(eng, LocalEngine):
            raise TypeError(f"only local engines can be served, not {type(eng).__name__}")
        if eng.name in out:
            raise ValueError(f"two engines are named {eng.name!r}; give each a name of its own")
        out[eng.name] = eng
    return out


class ServerHandle:
    """A running served engine: where it listens, and how to stop it.

    Attributes
    ----------
    url : str
        ``http://127.0.0.1:PORT`` (``https://`` with TLS); engine paths are under
        ``{url}/api/1/service/{engine-name}``.
    host, port : str, int
        Where the server listens (the port actually bound when 0 was asked for).
    engines : dict
        The served engines by name.
    certificate : bytes or None
        The self-signed certificate (PEM) made for ``tls=True``, for clients that want to verify it.
    """

    def __init__(
        self,
        engines: dict[str, LocalEngine],
        app: web.Application,
        *,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        certificate: bytes | None,
        auth: bool,
        shutdown_timeout: float,
    ) -> None:
        self.engines = engines
        self.host = host
        self.port = port
        self.certificate = certificate
        self._app = app
        self._ssl = ssl_context
        self._auth = auth
        self._shutdown_timeout = shutdown_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._main, name=f"fastscore-server-{port}", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl is not None else "http"
        host = self.host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{scheme}://{host}:{self.port}"

    def engine_url(self, name: str = "engine-1") -> str:
        """The base URL of one served engine: ``{url}/api/1/service/{name}``."""
        return f"{self.url}/api/1/service/{name}"

    def _start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that called serve()
            self._failure = _bind_error(exc, self.host, self.port)
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        runner = web.AppRunner(
            self._app, handle_signals=False, access_log=None, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self._ssl)
        await site.start()
        self._runner = runner
        for address in runner.addresses:  # the bound port, when 0 was asked for
            self.port = address[1]
            break
        api: _Api = self._app[_API_KEY]
        api.host, api.port = self.host, self.port

    def stop(self, timeout: float | None = None) -> None:
        """Stop listening, let requests in flight finish (up to ``timeout`` s), and shut down."""
        if self._stopped:
            return
        self._stopped = True
        loop, runner = self._loop, self._runner
        if loop is None or runner is None or loop.is_closed():
            return
        wait = self._shutdown_timeout if timeout is None else timeout
        runner._shutdown_timeout = wait  # type: ignore[attr-defined]  # this stop's own patience
        done = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
        try:
            done.result(wait + 5.0)
        except (concurrent.futures.TimeoutError, RuntimeError) as exc:
            log.warning("server %s did not shut down cleanly: %r", self.url, exc)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10.0)
        api: _Api = self._app[_API_KEY]
        api.executor.shutdown(wait=False)
        api.close()
        log.info("stopped serving %s", self.url)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        auth = " basic-auth" if self._auth else ""
        return f"<ServerHandle {self.url} engines={sorted(self.engines)}{auth} {state}>"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<li><code>{html.escape(self.engine_url(n))}</code></li>" for n in sorted(self.engines)
        )
        state = "running" if self.running else "stopped"
        return f"<div><b>FastScore engine server</b> ({state})<ul>{rows}</ul></div>"


def _bind_error(exc: BaseException, host: str, port: int) -> BaseException:
    if isinstance(exc, OSError) and not isinstance(exc, FastScoreError):
        return TransportError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pick another port (port=0 picks a free one)",
        )
    return exc


def serve(
    engines: LocalEngine | Iterable[LocalEngine],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tls: Any = None,
    auth: tuple[str, str] | None = None,
    allow_local_streams: bool = False,
    max_body: int = 16 * 2**20,
    shutdown_timeout: float = 10.0,
) -> ServerHandle:
    """Serve one or more local engines over the FastScore REST API, in a background thread.

    Parameters
    ----------
    engines
        A :class:`~fastscore_sdk.engine.LocalEngine`, or several (each under its own name).
    host, port
        Where to listen (loopback by default; port 0 picks a free port).
    tls
        ``True`` (a self-signed certificate made now), ``(certfile, keyfile)``, or an ``ssl.SSLContext``.
    auth
        ``(user, password)``: HTTP basic authentication on every request.
    allow_local_streams
        Accept ``file`` and ``exec`` streams in requests (refused with 403 otherwise).
    max_body
        Largest request body in bytes (413 above it).
    shutdown_timeout
        Seconds :meth:`ServerHandle.stop` lets requests in flight finish.

    Returns
    -------
    ServerHandle

    Raises
    ------
    TransportError
        The address is in use or cannot be bound.

    Examples
    --------
    >>> import fastscore_sdk as fs, requests
    >>> with serve([fs.Engine("engine-1"), fs.Engine("engine-2")], port=0) as srv:
    ...     [e["name"] for e in requests.get(f"{srv.url}/api/1/service/connect/1/connect").json()]
    ['engine-1', 'engine-2']
    """
    engs = _engine_map(engines)
    ctx, certificate = _ssl_context(tls, host)
    app = make_app(engs, auth=auth, allow_local_streams=allow_local_streams, max_body=max_body)
    handle = ServerHandle(
        engs,
        app,
        host=host,
        port=port,
        ssl_context=ctx,
        certificate=certificate,
        auth=auth is not None,
        shutdown_timeout=shutdown_timeout,
    )
    handle._start()
    log.info("serving %s at %s", ", ".join(sorted(engs)), handle.url)
    return handle


def serve_forever(
    engine: LocalEngine | Iterable[LocalEngine],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tls: Any = None,
    auth: tuple[str, str] | None = None,
    allow_local_streams: bool = False,
    max_body: int = 16 * 2**20,
    on_ready: Callable[[ServerHandle], None] | None = None,
    until: threading.Event | None = None,
) -> None:
    """Serve until Ctrl-C (or SIGTERM, or ``until`` is set), then stop, letting requests in flight finish.

    This is what ``fastscore engine serve`` runs. Parameters are those of :func:`serve`, and:

    Parameters
    ----------
    on_ready
        Called with the :class:`ServerHandle` once the server listens (e.g. to print its URL).
    until
        An event that stops the server when set (from another thread).
    """
    handle = serve(
        engine,
        host=host,
        port=port,
        tls=tls,
        auth=auth,
        allow_local_streams=allow_local_streams,
        max_body=max_body,
    )
    previous = None
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:

        def _terminate(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if on_ready is not None:
            on_ready(handle)
        (until or threading.Event()).wait()
    except KeyboardInterrupt:
        log.info("interrupted: stopping the server")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        handle.stop()
