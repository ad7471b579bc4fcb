"""The served engine: every endpoint of the REST API over real HTTP, TLS, basic auth, limits, the
local-stream refusal, graceful stop, and the seed's curl command."""

from __future__ import annotations

import base64
import io
import json
import logging
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

import fastscore_sdk as fs
from fastscore_sdk.engine.server import ServerHandle, serve, serve_forever
from fastscore_sdk.testing import unavailable

REPO = Path(__file__).resolve().parents[1]
TIMES5 = "def action(datum):\n    yield datum * 5\n"
TRIP = {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}
XY = {"type": "record", "name": "xy", "fields": [{"name": "x", "type": "double"}]}
MODEL_MIME = "application/vnd.fastscore.model-python3"
IRIS_RECORD = {"sepal_length": 6.9, "sepal_width": 3.1, "petal_length": 5.4, "petal_width": 2.1}


@pytest.fixture
def served():
    eng = fs.Engine(echo_console=False)
    srv = eng.serve(port=0)
    yield eng, srv
    srv.stop()
    eng.reset()


def url(srv: ServerHandle, path: str, engine: str = "engine-1") -> str:
    return f"{srv.engine_url(engine)}{path}"


def put_model(srv: ServerHandle, source: str, name: str = "m", **params: Any) -> requests.Response:
    return requests.put(
        url(srv, "/1/job/model"),
        data=source.encode(),
        params=params,
        headers={"Content-Type": MODEL_MIME, "Content-Disposition": f'x-model; name="{name}"'},
        timeout=30,
    )


def put_stream(
    srv: ServerHandle, slot: int, desc: Any, name: str = "rest-trip", **params: Any
) -> requests.Response:
    body = desc if isinstance(desc, str) else json.dumps(desc)
    return requests.put(
        url(srv, f"/2/active/stream/{slot}"),
        data=body.encode(),
        params=params,
        headers={"Content-Type": "application/json", "Content-Disposition": f'x-stream; name="{name}"'},
        timeout=30,
    )


def multipart(parts: list[tuple[str, str, bytes]]) -> tuple[bytes, str]:
    boundary = "fastscore-test-boundary-7d1f"
    out = b""
    for disposition, ctype, data in parts:
        head = f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {ctype}\r\n\r\n"
        out += head.encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/mixed; boundary={boundary}"


def run_times5(srv: ServerHandle) -> None:
    assert put_model(srv, TIMES5, "times5").status_code == 204
    assert put_stream(srv, 0, TRIP).status_code == 204
    assert put_stream(srv, 1, TRIP).status_code == 204


def roundtrip(srv: ServerHandle, body: str | bytes, **params: Any) -> requests.Response:
    return requests.post(url(srv, "/2/active/model/roundtrip/0/1"), data=body, params=params, timeout=60)


# -- connect and health ------------------------------------------------------------------------------


def test_fleet_and_health() -> None:
    engines = [fs.Engine("engine-1", echo_console=False), fs.Engine("engine-2", echo_console=False)]
    with serve(engines, port=0) as srv:
        fleet = requests.get(f"{srv.url}/api/1/service/connect/1/connect", timeout=10).json()
        assert [(e["name"], e["api"], e["health"], e["port"]) for e in fleet] == [
            ("engine-1", "engine", "ok", srv.port),
            ("engine-2", "engine", "ok", srv.port),
        ]
        one = requests.get(
            f"{srv.url}/api/1/service/connect/1/connect", params={"name": "engine-2"}, timeout=10
        )
        assert [e["name"] for e in one.json()] == ["engine-2"]
        assert (
            requests.get(f"{srv.url}/api/1/service/connect/1/connect", params={"api": "x"}, timeout=10).json()
            == []
        )
        health = requests.get(url(srv, "/1/health", "engine-2"), timeout=10).json()
        assert set(health) == {"id", "release", "built_on"} and health["release"] == fs.__version__
        assert requests.get(f"{srv.url}/api/1/service/connect/1/health", timeout=10).status_code == 200
        assert requests.get(url(srv, "/2/engine/state", "engine-2"), timeout=10).json() == {"state": "init"}


def test_unknown_engine_and_path_are_404(served) -> None:
    _, srv = served
    r = requests.get(url(srv, "/2/engine/state", "engine-9"), timeout=10)
    assert r.status_code == 404 and "engine-9" in r.text and "engine-1" in r.text
    assert requests.get(url(srv, "/2/no/such/thing"), timeout=10).status_code == 404


def test_port_in_use_is_a_clear_error(served) -> None:
    _, srv = served
    with pytest.raises(fs.TransportError, match=rf"cannot listen on 127\.0\.0\.1:{srv.port}"):
        fs.Engine(echo_console=False).serve(port=srv.port)


# -- models ------------------------------------------------------------------------------------------


def test_model_put_dry_run_get_delete(served) -> None:
    eng, srv = served
    r = put_model(srv, TIMES5, "times5", **{"dry-run": "true"})
    assert r.status_code == 200
    assert [(s["slot"], s["schema"]) for s in r.json()["slots"]] == [(0, None), (1, None)]
    assert eng.model is None
    assert requests.get(url(srv, "/2/active/model"), timeout=10).status_code == 404
    assert put_model(srv, TIMES5, "times5").status_code == 204
    info = requests.get(url(srv, "/2/active/model"), timeout=10).json()
    assert (info["name"], info["mtype"], info["source"]) == ("times5", "python3", TIMES5)
    assert [s["slot"] for s in info["slots"]] == [0, 1]
    assert requests.delete(url(srv, "/2/active/model"), timeout=10).status_code == 204
    assert eng.model is None
    assert requests.delete(url(srv, "/1/job/model"), timeout=10).status_code == 404


def test_bad_model_is_400_naming_the_line(served) -> None:
    _, srv = served
    r = put_model(srv, "# fastscore.schema.0: no_such_schema_here\ndef action(x):\n    yield x\n")
    assert r.status_code == 400
    assert "no_such_schema_here" in r.text and "line 1" in r.text
    assert r.headers["X-FastScore-Error"] == "ModelError"


def test_multipart_model_with_schema_and_attachment(served, tmp_path) -> None:
    eng, srv = served
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        data = b"7\n"
        info = tarfile.TarInfo("offset.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    source = (
        "# fastscore.schema.0: xy\n"
        "OFFSET = float(open('offset.txt').read())\n"
        "def action(r):\n"
        "    yield r['x'] + OFFSET\n"
    )
    body, ctype = multipart(
        [
            ('attachment; filename="offset.tar.gz"', "application/gzip", archive.getvalue()),
            ('x-schema; name="xy"', "application/json", json.dumps(XY).encode()),
            ('x-model; name="offsetter"', MODEL_MIME, source.encode()),
        ]
    )
    r = requests.put(url(srv, "/1/job/model"), data=body, headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == 204, r.text
    assert eng.model.name == "offsetter" and [a.name for a in eng.model.attachments] == ["offset.tar.gz"]
    assert put_stream(srv, 0, TRIP).status_code == 204
    assert put_stream(srv, 1, TRIP).status_code == 204
    r = roundtrip(srv, '{"x": 1.5}')
    assert (r.status_code, r.text) == (200, "8.5")
    assert r.headers["Content-Type"].startswith("application/json")


# -- streams -----------------------------------------------------------------------------------------


def test_streams_attach_list_detach(served) -> None:
    _, srv = served
    r = put_stream(srv, 0, TRIP, **{"dry-run": "true"})
    assert r.status_code == 200 and r.json()["batching"] == {"watermark": None, "nagle_time": 0}
    assert requests.get(url(srv, "/2/active/stream"), timeout=10).json() == []
    assert put_stream(srv, 0, TRIP, name="trip-in").status_code == 204
    listed = requests.get(url(srv, "/2/active/stream"), timeout=10).json()
    assert [(s["slot"], s["name"], s["eof"]) for s in listed] == [(0, "trip-in", False)]
    assert listed[0]["descriptor"]["Transport"] == "REST"
    assert requests.delete(url(srv, "/2/active/stream/0"), timeout=10).status_code == 204
    assert requests.delete(url(srv, "/2/active/stream/0"), timeout=10).status_code == 404
    r = put_stream(srv, 0, {"Transport": {"Type": "REST"}, "Envelope": "fixd"})
    assert r.status_code == 400 and "Envelope" in r.text


def test_legacy_job_stream_and_status(served) -> None:
    eng, srv = served
    assert put_model(srv, TIMES5, "times5").status_code == 204
    for slot in ("in", "out"):
        r = requests.put(url(srv, f"/1/job/stream/{slot}"), data=json.dumps(TRIP), timeout=10)
        assert r.status_code == 204
    status = requests.get(url(srv, "/1/job/status"), timeout=10).json()
    assert status["state"] == "running" and status["model"]["name"] == "times5"
    assert [s["slot"] for s in status["slots"]] == [0, 1] and status["slots"][0]["stream"]["eof"] is False
    assert requests.delete(url(srv, "/1/job"), timeout=30).status_code == 204
    assert eng.state == "INIT"


def test_local_streams_are_refused(served, tmp_path) -> None:
    _, srv = served
    secret = tmp_path / "secret.jsons"
    secret.write_text('{"card": 1}\n')
    file_desc = {"Transport": {"Type": "file", "Path": str(secret)}, "Encoding": "json"}
    for r in (
        put_stream(srv, 0, file_desc),
        requests.post(url(srv, "/1/stream/sample"), data=json.dumps(file_desc), timeout=10),
        requests.post(url(srv, "/1/stream/sample"), data="exec:/bin/cat /etc/hostname", timeout=10),
        requests.post(url(srv, "/1/stream/rate"), data=f"file:{secret}", timeout=10),
    ):
        assert r.status_code == 403
        assert "allow_local_streams=True" in r.text
        assert "card" not in r.text


def test_local_streams_when_allowed(tmp_path) -> None:
    data = tmp_path / "in.jsons"
    data.write_text('{"x": 1}\n{"x": 2}\n{"x": 3}\n')
    eng = fs.Engine(echo_console=False)
    with eng.serve(port=0, allow_local_streams=True) as srv:
        r = requests.post(url(srv, "/1/stream/sample"), params={"n": 2}, data=f"file:{data}", timeout=30)
        assert r.status_code == 200
        assert [base64.b64decode(x) for x in r.json()] == [b'{"x": 1}', b'{"x": 2}']
        assert put_stream(srv, 0, f"file:{data}", name="in").status_code == 204
    eng.reset()


def test_sample_and_rate_of_inline_streams(served) -> None:
    _, srv = served
    r = requests.post(url(srv, "/1/stream/sample"), params={"n": 2}, data="inline:1,2,3", timeout=10)
    assert r.status_code == 200 and [base64.b64decode(x) for x in r.json()] == [b"1", b"2"]
    r = requests.post(url(srv, "/1/stream/rate"), data="inline:1,2,3", timeout=30)
    assert r.status_code == 200 and set(r.json()[0]) == {"rps", "mbps"}
    r = requests.post(url(srv, "/1/stream/sample"), data='{"Transport": {"Type": "inline"}}', timeout=10)
    assert r.status_code == 400


# -- REST data ----------------------------------------------------------------------------------------


def test_input_output_codes(served) -> None:
    eng, srv = served
    assert put_model(srv, TIMES5, "times5").status_code == 204
    r = requests.post(url(srv, "/1/job/input/0"), data="1", timeout=10)
    assert r.status_code == 400 and "no stream is attached to slot 0" in r.text
    assert put_stream(srv, 0, "rest:", name="in").status_code == 204
    r = requests.post(url(srv, "/1/job/input/0"), data="1", timeout=10)
    assert r.status_code == 409 and "INIT" in r.text  # slot 1 still missing: not running yet
    assert put_stream(srv, 1, "rest:", name="out").status_code == 204
    assert requests.get(url(srv, "/1/job/output/1"), timeout=10).status_code == 202
    assert requests.post(url(srv, "/1/job/input/0"), data="2", timeout=10).status_code == 204
    assert requests.post(url(srv, "/1/job/input"), data="3", timeout=10).status_code == 204
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 2 and time.monotonic() < deadline:
        r = requests.get(url(srv, "/1/job/output"), timeout=10)
        if r.status_code == 200:
            got.append(r.content)
        else:
            assert r.status_code == 202
            time.sleep(0.05)
    assert got == [b"10", b"15"]
    r = requests.post(url(srv, "/1/job/input/1"), data="2", timeout=10)
    assert r.status_code == 400 and "slot 1 is an output slot" in r.text
    r = requests.get(url(srv, "/1/job/output/0"), timeout=10)
    assert r.status_code == 400 and "slot 0 is an input slot" in r.text
    r = requests.post(url(srv, "/1/job/input/x"), data="2", timeout=10)
    assert r.status_code == 400 and "slot" in r.text
    assert (
        requests.post(url(srv, "/1/job/input/0"), data='{"$fastscore":"end"}', timeout=10).status_code == 204
    )
    assert eng.wait(10) == "FINISHED"
    assert requests.get(url(srv, "/1/job/output/1"), timeout=10).status_code == 204


def test_roundtrip_codes(served) -> None:
    eng, srv = served
    assert (
        put_model(srv, "# fastscore.schema.0: xy\ndef action(r):\n    yield r['x'] * 5\n", "m").status_code
        == 400
    )
    src = "def action(r):\n    if r['x'] == 13:\n        raise ValueError('unlucky')\n    yield r['x'] * 5\n"
    body, ctype = multipart(
        [
            ('x-schema; name="xy"', "application/json", json.dumps(XY).encode()),
            ('x-model; name="m"', MODEL_MIME, ("# fastscore.schema.0: xy\n" + src).encode()),
        ]
    )
    assert (
        requests.put(
            url(srv, "/1/job/model"), data=body, headers={"Content-Type": ctype}, timeout=30
        ).status_code
        == 204
    )
    assert put_stream(srv, 0, TRIP).status_code == 204
    assert put_stream(srv, 1, TRIP).status_code == 204
    r = roundtrip(srv, '{"x": 4}')
    assert (r.status_code, r.text) == (200, "20")
    r = roundtrip(srv, '{"x": ')
    assert r.status_code == 400 and "slot 0" in r.text and "JSON" in r.text
    r = roundtrip(srv, '{"x": "four"}')
    assert r.status_code == 400 and "slot 0" in r.text and "$.x" in r.text
    assert r.headers["X-FastScore-Error"] == "SchemaError"
    assert roundtrip(srv, '{"x": 1}').status_code == 200  # the engine keeps serving
    r = requests.post(url(srv, "/2/active/model/roundtrip/1/1"), data="1", timeout=10)
    assert r.status_code == 400 and "slot 1 is an output slot" in r.text
    assert requests.post(url(srv, "/2/engine/pause"), timeout=10).status_code == 204
    r = roundtrip(srv, '{"x": 2}', timeout=0.3)
    assert r.status_code == 504 and "no answer" in r.text and "PAUSED" in r.text
    assert requests.post(url(srv, "/2/engine/unpause"), timeout=10).status_code == 204
    r = roundtrip(srv, '{"x": 3}')
    assert (r.status_code, r.text) == (200, "15")
    r = roundtrip(srv, '{"x": 13}')
    assert r.status_code == 500 and "unlucky" in r.text and r.headers["X-FastScore-Error"] == "ModelError"
    assert eng.wait(10) == "ERROR"
    err = requests.get(url(srv, "/2/engine/error"), timeout=10).json()
    assert err["type"] == "ModelError" and err["slot"] == 0 and "unlucky" in err["traceback"]
    assert err["input"] in ({"x": 13}, [{"x": 13}])


def test_inspection_endpoints(served) -> None:
    eng, srv = served
    assert requests.get(url(srv, "/2/engine/error"), timeout=10).status_code == 204
    src = "# fastscore.schema.0: xy\ndef action(r):\n    print('got', r['x'])\n    yield r\n"
    body, ctype = multipart(
        [
            ('x-schema; name="xy"', "application/json", json.dumps(XY).encode()),
            ('x-model; name="echo"', MODEL_MIME, src.encode()),
        ]
    )
    assert (
        requests.put(
            url(srv, "/1/job/model"), data=body, headers={"Content-Type": ctype}, timeout=30
        ).status_code
        == 204
    )
    assert put_stream(srv, 0, TRIP).status_code == 204
    assert put_stream(srv, 1, TRIP).status_code == 204
    assert roundtrip(srv, '{"x": 1}').status_code == 200
    assert roundtrip(srv, "not json").status_code == 400
    stats = requests.get(url(srv, "/2/engine/stats"), timeout=10).json()
    assert [(s["slot"], s["records"], s["rejected_by_encoding"]) for s in stats] == [(0, 1, 1), (1, 1, 0)]
    rejected = requests.get(url(srv, "/2/active/stream/0/rejected"), timeout=10).json()
    assert len(rejected) == 1 and rejected[0]["kind"] == "encoding" and rejected[0]["slot"] == 0
    assert rejected[0]["raw_encoding"] == "base64" and base64.b64decode(rejected[0]["raw"]) == b"not json"
    assert requests.get(url(srv, "/2/engine/console"), timeout=10).json() == ["got 1"]
    info = requests.get(url(srv, "/2/engine/inspect"), timeout=10).json()
    assert (
        info["state"] == "RUNNING" and info["model"]["name"] == "echo" and set(info["streams"]) == {"0", "1"}
    )
    assert requests.post(url(srv, "/2/engine/stop"), timeout=30).status_code == 204
    assert eng.state == "FINISHED"
    assert requests.post(url(srv, "/2/engine/reset"), timeout=30).status_code == 204
    assert requests.get(url(srv, "/2/engine/state"), timeout=10).json() == {"state": "init"}
    assert requests.post(url(srv, "/2/engine/explode"), timeout=10).status_code == 404


def test_schema_verify(served) -> None:
    _, srv = served
    sid = requests.post(url(srv, "/2/active/schema/verify"), data=json.dumps(XY), timeout=10).json()["id"]
    ok = requests.post(url(srv, f"/2/active/schema/verify/{sid}"), data='{"data": {"x": 1.5}}', timeout=10)
    assert ok.status_code == 204
    bad = requests.post(url(srv, f"/2/active/schema/verify/{sid}"), data='{"data": {"x": "a"}}', timeout=10)
    assert bad.status_code == 400 and "$.x" in bad.text
    assert (
        requests.post(url(srv, "/2/active/schema/verify"), data='{"type": "nope"}', timeout=10).status_code
        == 400
    )
    assert requests.delete(url(srv, f"/2/active/schema/verify/{sid}"), timeout=10).status_code == 204
    assert requests.delete(url(srv, f"/2/active/schema/verify/{sid}"), timeout=10).status_code == 404


def test_scale_put_file(served) -> None:
    _, srv = served
    r = requests.post(url(srv, "/2/active/model/scale"), data="2", timeout=10)
    assert r.status_code == 400 and "not supported" in r.text
    r = requests.put(url(srv, "/2/engine/file/data.jsons"), data=b'{"x": 1}\n', timeout=10)
    assert r.status_code == 200
    assert Path(r.json()["path"]).read_bytes() == b'{"x": 1}\n'


def test_body_over_the_limit_is_413() -> None:
    eng = fs.Engine(echo_console=False)
    with eng.serve(port=0, max_body=1000) as srv:
        run_times5(srv)
        assert roundtrip(srv, "1" * 999).status_code == 200
        r = roundtrip(srv, "1" * 2000)
        assert r.status_code == 413
        assert roundtrip(srv, "2").text == "10"
    eng.reset()


# -- TLS, auth and stopping ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_and_basic_auth(tmp_path, caplog) -> None:
    password = "pw-never-shown-7311"
    eng = fs.Engine(echo_console=False)
    with (
        caplog.at_level(logging.DEBUG, logger="fastscore_sdk"),
        eng.serve(port=0, tls=True, auth=("fastscore", password)) as srv,
    ):
        assert srv.url.startswith("https://127.0.0.1:")
        state = url(srv, "/2/engine/state")
        r = requests.get(state, verify=False, timeout=10)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="fastscore"'
        assert r.text == "401: Unauthorized"
        wrong = requests.get(state, verify=False, auth=("fastscore", "guess"), timeout=10)
        assert wrong.status_code == 401 and password not in wrong.text
        garbage = requests.get(state, verify=False, headers={"Authorization": "Basic %%%"}, timeout=10)
        assert garbage.status_code == 401
        assert requests.get(state, verify=False, auth=("fastscore", password), timeout=10).json() == {
            "state": "init"
        }
        cert = tmp_path / "cert.pem"
        cert.write_bytes(srv.certificate)
        assert (
            requests.get(state, verify=str(cert), auth=("fastscore", password), timeout=10).status_code == 200
        )
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(state.replace("https://", "http://"), timeout=10)
        assert password not in repr(srv) and "basic-auth" in repr(srv)
    assert password not in caplog.text
    eng.reset()


def test_tls_from_files_and_context(tmp_path) -> None:
    from fastscore_sdk.engine.server import _self_signed

    cert, key = _self_signed("127.0.0.1")
    certfile, keyfile = tmp_path / "c.pem", tmp_path / "k.pem"
    certfile.write_bytes(cert)
    keyfile.write_bytes(key)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    for tls in ((certfile, keyfile), ctx):
        with serve(fs.Engine(echo_console=False), port=0, tls=tls) as srv:
            r = requests.get(url(srv, "/2/engine/state"), verify=str(certfile), timeout=10)
            assert r.json() == {"state": "init"}
    with pytest.raises(fs.TransportError, match="cannot load the TLS certificate"):
        serve(fs.Engine(echo_console=False), port=0, tls=(tmp_path / "none.pem", keyfile))
    with pytest.raises(TypeError, match="tls must be"):
        serve(fs.Engine(echo_console=False), port=0, tls="yes")


def test_self_signed_with_openssl(monkeypatch) -> None:
    if shutil.which("openssl") is None:
        unavailable("the openssl binary is not installed")
    from fastscore_sdk.engine import server

    cert, key = server._self_signed_openssl(["localhost"], ["127.0.0.1"])
    assert cert.startswith(b"-----BEGIN CERTIFICATE-----") and b"PRIVATE KEY" in key


def test_stop_drains_requests_in_flight() -> None:
    slow = "import time\ndef action(x):\n    time.sleep(0.6)\n    yield x * 5\n"
    eng = fs.Engine(echo_console=False)
    srv = eng.serve(port=0)
    try:
        assert put_model(srv, slow, "slow").status_code == 204
        assert put_stream(srv, 0, TRIP).status_code == 204
        assert put_stream(srv, 1, TRIP).status_code == 204
        answers: list[Any] = []
        worker = threading.Thread(target=lambda: answers.append(roundtrip(srv, "3")))
        worker.start()
        time.sleep(0.2)
        start = time.monotonic()
        srv.stop()
        worker.join(10)
        assert [(r.status_code, r.text) for r in answers] == [(200, "15")]
        assert time.monotonic() - start < 5
        assert not srv.running
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url(srv, "/2/engine/state"), timeout=5)
    finally:
        srv.stop()
        eng.reset()


def test_serve_forever_until_event() -> None:
    stop = threading.Event()
    handles: list[ServerHandle] = []
    eng = fs.Engine(echo_console=False)
    t = threading.Thread(
        target=serve_forever, args=(eng,), kwargs={"port": 0, "on_ready": handles.append, "until": stop}
    )
    t.start()
    deadline = time.monotonic() + 10
    while not handles and time.monotonic() < deadline:
        time.sleep(0.01)
    assert requests.get(url(handles[0], "/2/engine/state"), timeout=10).json() == {"state": "init"}
    stop.set()
    t.join(10)
    assert not t.is_alive() and not handles[0].running


def test_binds_loopback_by_default(served) -> None:
    _, srv = served
    assert srv.host == "127.0.0.1"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5):
        pass


# -- the seed's curl command ------------------------------------------------------------------------


def test_seed_curl_roundtrip_with_tls_and_basic_auth(tmp_path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        unavailable("the curl binary is not installed")
    pytest.importorskip(
        "xgboost", reason="the iris example needs xgboost (pip install 'fastscore_sdk[examples]')"
    )
    lib = fs.Library(REPO / "examples" / "iris" / "library")
    model = lib.models["xgboost_iris"]
    rest_trip = lib.streams["rest-trip"]
    (tmp_path / "xgboost_iris_single.json").write_text(json.dumps(IRIS_RECORD))
    eng = fs.Engine(echo_console=False)
    try:
        with eng.serve(port=0, tls=True, auth=("fastscore", "fastscore")) as srv:
            eng.run(model, rest_trip, rest_trip)
            address = f"https://127.0.0.1:{srv.port}/api/1/service/engine-1/2/active/model/roundtrip/0/1"
            done = subprocess.run(
                [
                    curl,
                    "-i",
                    "-k",
                    "-u",
                    "fastscore:fastscore",
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    "@xgboost_iris_single.json",
                    address,
                ],
                cwd=tmp_path,
                capture_output=True,
                timeout=120,
                check=False,
            )
            assert done.returncode == 0, done.stderr.decode()
            head, _, body = done.stdout.partition(b"\r\n\r\n")
            assert head.split(b"\r\n")[0].split()[1] == b"200", done.stdout
            prediction = json.loads(body)
            assert set(prediction) == {"A", "B", "C"}
            assert sum(prediction.values()) == pytest.approx(1.0, rel=1e-5)
            assert max(prediction, key=prediction.get) == "C"
    finally:
        eng.reset()
