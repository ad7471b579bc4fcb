"""The remote client against a real served engine: auth, errors, REST data path, models with schemas
and attachments. (The whole engine suite also runs remotely: see ENGINE_FACTORIES in conftest.py.)"""

from __future__ import annotations

import base64
import io
import json
import socket
import tarfile
import threading
import time

import pytest

import fastscore_sdk as fs
from fastscore_sdk import EngineError, ModelError, SchemaError, TransportError
from fastscore_sdk.engine.remote import AuthenticationError, RemoteEngine
from fastscore_sdk.engine.server import serve

PASSWORD = "s3cr3t-Pa55"  # what must never show in a message or a repr
TIMES5 = "def action(datum):\n    yield datum * 5\n"
TRIP = {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server():
    eng = fs.Engine(echo_console=False)
    with serve(eng, port=0, allow_local_streams=True) as srv:
        yield srv
    eng.reset()


@pytest.fixture
def remote(server) -> RemoteEngine:
    eng = fs.connect(server.url).engine("engine-1")
    yield eng
    eng.reset()


@pytest.fixture
def secured():
    eng = fs.Engine(echo_console=False)
    with serve(eng, port=0, auth=("fastscore", PASSWORD)) as srv:
        yield srv
    eng.reset()


# -- connecting ------------------------------------------------------------------------------------
def test_connect_fleet_health_and_engine(server):
    conn = fs.connect(server.url)
    assert [e["name"] for e in conn.fleet()] == ["engine-1"]
    assert conn.fleet(api="model-manage") == []
    assert set(conn.health()) >= {"id", "release", "built_on"}
    eng = conn.engine()
    assert eng.name == "engine-1" and eng.state == "INIT"
    assert set(eng.health()) >= {"id", "release", "built_on"}
    assert repr(eng) == f"<RemoteEngine 'engine-1' at {server.url}>"


def test_unknown_engine_lists_the_engines_there_are(server):
    with pytest.raises(EngineError, match=r"no engine named 'engine-9'.*engine-1"):
        fs.connect(server.url).engine("engine-9")


def test_basic_auth_sends_the_password_and_works(secured):
    eng = fs.connect(secured.url, auth=("fastscore", PASSWORD)).engine()
    eng.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    assert eng.roundtrip("20") == b"100"


def test_wrong_password_is_a_clear_error_without_the_password(secured):
    with pytest.raises(AuthenticationError) as info:
        fs.connect(secured.url, auth=("fastscore", "wrong-" + PASSWORD))
    message = str(info.value)
    assert message.startswith(f"authentication failed for {secured.url} (check the user and password)")
    assert PASSWORD not in message and "wrong-" not in message
    assert isinstance(info.value, PermissionError) and isinstance(info.value, TransportError)
    with pytest.raises(AuthenticationError):
        fs.connect(secured.url)  # no credentials at all


def test_password_never_in_repr_or_messages(secured):
    user_url = secured.url.replace("://", f"://fastscore:{PASSWORD}@")
    conn = fs.connect(user_url)  # credentials in the URL are moved out of it
    assert conn.url == secured.url and conn.user == "fastscore"
    eng = conn.engine()
    for text in (repr(conn), repr(eng), str(conn.__dict__), repr(conn.session.auth.__dict__)):
        assert PASSWORD not in text
    with pytest.raises(EngineError) as info:
        eng.detach_stream(3)
    assert PASSWORD not in str(info.value)


def test_password_from_a_secret_reference(secured, monkeypatch):
    monkeypatch.setenv("ENGINE_PASSWORD", PASSWORD)
    eng = fs.connect(secured.url, auth=("fastscore", "secret://ENGINE_PASSWORD")).engine()
    assert eng.state == "INIT"


def test_connect_errors_are_retried_then_name_the_host():
    port = free_port()
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        fs.connect(f"http://127.0.0.1:{port}", retries=2)
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "3 attempts" in message
    assert "Connection refused" in message and "engine serve" in message
    assert time.monotonic() - started < 5


def test_a_server_that_comes_up_during_the_retries_is_reached():
    port = free_port()
    eng = fs.Engine(echo_console=False)
    servers = []
    timer = threading.Timer(0.1, lambda: servers.append(serve(eng, port=port)))
    timer.start()
    try:
        conn = fs.connect(f"http://127.0.0.1:{port}", retries=5)
        assert conn.engine().state == "INIT"
    finally:
        timer.join()
        for srv in servers:
            srv.stop()


def test_not_a_url_is_refused():
    with pytest.raises(EngineError, match="not a URL"):
        fs.connect("127.0.0.1:8000")


def test_tls_self_signed_needs_verify_false():
    eng = fs.Engine(echo_console=False)
    with serve(eng, port=0, tls=True, auth=("fastscore", PASSWORD)) as srv:
        assert srv.url.startswith("https://")
        with pytest.raises(TransportError, match=r"TLS failed .*verify=False"):
            fs.connect(srv.url, auth=("fastscore", PASSWORD))
        remote = fs.connect(srv.url, auth=("fastscore", PASSWORD), verify=False).engine()
        remote.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
        assert remote.roundtrip("3") == b"15"
        remote.reset()


# -- the REST data path ----------------------------------------------------------------------------
def test_roundtrip_score_input_output(remote):
    remote.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    assert remote.roundtrip("20") == b"100"
    assert remote.score([1, 2, 3]) == [5, 10, 15]
    assert remote.score([4]) == [20]  # the engine keeps running between scores
    assert remote.output(1) is None  # nothing waiting: 202
    remote.input("7")
    assert remote.output(1, timeout=5) == b"35"
    remote.input(None)  # the end record: the output drains, then ends
    assert remote.wait(10) == "FINISHED"
    with pytest.raises(EOFError):
        remote.output(1)


def test_chunked_streams_score_dataframes(remote):
    import pandas as pd

    chunked = {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json"}
    code = "def action(r):\n    yield {'y': r['x'] * 2}\n"
    remote.run(fs.Model("m", code), fs.Stream("in", chunked), fs.Stream("out", chunked))
    assert remote.score([{"x": 1}, {"x": 2}]) == [{"y": 2}, {"y": 4}]
    out = remote.score(pd.DataFrame({"x": [3, 4]}))
    assert isinstance(out, pd.DataFrame) and out["y"].tolist() == [6, 8]


def test_chunked_score_errors(remote):
    chunked = {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json"}
    code = "# fastscore.schema.0: int\ndef action(x):\n    yield 10 // x\n"
    remote.run(fs.Model("m", code), fs.Stream("in", chunked), fs.Stream("out", chunked))
    with pytest.raises(SchemaError):
        remote.score([1, "two"])
    assert remote.score([5, "x"], errors="reject") == [2]
    with pytest.raises(ModelError):
        remote.score([0])
    assert remote.state == "ERROR"


def test_wrong_slot_direction_is_refused(remote):
    remote.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    with pytest.raises(EngineError, match="slot 1 is an output slot"):
        remote.input("1", 1)
    with pytest.raises(EngineError, match="slot 0 is an input slot"):
        remote.output(0)


def test_roundtrip_timeout_is_a_timeout_error(remote):
    remote.pause()
    remote.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="unpause"):
        remote.roundtrip("1", timeout=0.3)
    assert time.monotonic() - started < 3


def test_model_failure_in_a_roundtrip_and_last_error(remote):
    remote.run(
        fs.Model("m", "def action(x):\n    yield 10 // x\n"), fs.Stream("in", TRIP), fs.Stream("out", TRIP)
    )
    assert remote.roundtrip("5") == b"2"
    with pytest.raises(ModelError, match=r"ZeroDivisionError|division"):
        remote.roundtrip("0")
    assert remote.wait(5) == "ERROR"
    err = remote.last_error
    assert isinstance(err, ModelError) and "ZeroDivisionError" in err.traceback
    assert err.slot == 0 and err.input in (0, [0])


def test_score_raises_for_records_the_schema_rejects(remote):
    code = "# fastscore.schema.0: int\n" + TIMES5
    remote.run(fs.Model("m", code), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    with pytest.raises(SchemaError):
        remote.score([1, "two", 3])
    assert remote.score([2, "x"], errors="reject") == [10]
    [first, _second] = remote.rejected(0)
    assert first.kind == "schema" and first.slot == 0 and first.index == 1


def test_rejected_bytes_come_back_as_bytes(remote):
    remote.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    remote.input("not json")
    remote.input("2")
    assert remote.output(1, timeout=5) == b"10"
    [bad] = remote.rejected(0)
    assert bad.raw == b"not json" and bad.kind == "encoding"


# -- models, streams, files ------------------------------------------------------------------------
def test_model_with_schemas_and_attachment_goes_multipart(remote, tmp_path):
    archive = tmp_path / "factor.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("factor.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"7\n"))
    point = fs.Schema(
        "point",
        {"type": "record", "name": "point", "fields": [{"name": "x", "type": "double"}]},
    )
    code = (
        "# fastscore.schema.0: point\n"
        "# fastscore.schema.1: double\n"
        "def begin():\n"
        "    global factor\n"
        "    factor = float(open('factor.txt').read())\n"
        "def action(p):\n"
        "    yield p['x'] * factor\n"
    )
    m = fs.Model("scaled", code, schemas={"point": point})
    m.attach(archive)
    bodies = []
    remote.connection.session.hooks["response"].append(lambda r, *a, **k: bodies.append(r.request))
    checked = remote.load_model(m, dry_run=True)
    assert [s["slot"] for s in checked["slots"]] == [0, 1] and checked["attach_libs"] == ["factor.tar.gz"]
    remote.run(m, fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    assert remote.roundtrip('{"x": 2.0}') == b"14.0"
    load = next(r for r in bodies if r.path_url.endswith("/1/job/model"))
    assert load.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    body = load.body
    # parts in the original SDK's order: attachments, x-schema, x-model last
    assert body.index(b"attachment;") < body.index(b"x-schema;") < body.index(b"x-model;")
    assert b'name="point"' in body and b'filename="factor.tar.gz"' in body
    assert b'x-schema; name="double"' not in body  # primitives resolve on the server


def test_model_without_extras_is_sent_as_its_source(remote):
    bodies = []
    remote.connection.session.hooks["response"].append(lambda r, *a, **k: bodies.append(r.request))
    remote.load_model(fs.Model("multiplier", TIMES5))
    load = next(r for r in bodies if r.path_url.endswith("/1/job/model"))
    assert load.headers["Content-Type"] == "application/vnd.fastscore.model-python3"
    assert load.headers["Content-Disposition"] == 'x-model; name="multiplier"'
    assert load.body == TIMES5.encode()
    assert remote.model.name == "multiplier" and remote.model.mtype == "python3"


def test_model_errors_come_back_as_model_errors(remote):
    with pytest.raises(ModelError, match="module 'no_such_module_xyz' not found"):
        remote.load_model(fs.Model("m", "import no_such_module_xyz\ndef action(x):\n    yield x\n"))


def test_streams_are_sent_as_written_with_secret_references(remote, monkeypatch):
    monkeypatch.setenv("DB_PWD", PASSWORD)
    desc = {
        "Transport": {
            "Type": "ODBC",
            "ConnectionString": "DRIVER={MariaDB Unicode};SERVER=127.0.0.1;UID=root;PWD=secret://DB_PWD",
            "SelectQuery": "SELECT 1",
        },
    }
    bodies = []
    remote.connection.session.hooks["response"].append(lambda r, *a, **k: bodies.append(r.request))
    interpreted = remote.attach_stream(fs.Stream("db", desc), 0, dry_run=True)
    assert PASSWORD not in json.dumps(interpreted)
    [attach] = [r for r in bodies if "/2/active/stream/0" in r.path_url]
    assert b"secret://DB_PWD" in attach.body and PASSWORD.encode() not in attach.body
    assert attach.headers["Content-Disposition"] == 'x-stream; name="db"'


def test_schema_references_travel_inline(remote, tmp_path):
    lib = fs.Library(tmp_path / "lib")
    lib.schemas["num"] = fs.Schema("num", "int")
    s = fs.Stream("in", {"Transport": "REST", "Encoding": "json", "Schema": {"$ref": "num"}}, library=lib)
    remote.run(fs.Model("m", TIMES5), s, fs.Stream("out", TRIP))
    remote.input('"x"')
    remote.input("3")
    assert remote.output(1, timeout=5) == b"15"
    assert [r.kind for r in remote.rejected(0)] == ["schema"]


def test_bad_descriptor_fails_here_with_every_problem(remote):
    with pytest.raises(fs.DescriptorError) as info:
        remote.attach_stream(fs.Stream("bad", {"Transport": {"Type": "kafka"}, "Encoding": "nope"}), 0)
    assert len(info.value.problems) >= 2


def test_local_streams_are_refused_unless_allowed(tmp_path):
    eng = fs.Engine(echo_console=False)
    with serve(eng, port=0) as srv:
        remote = fs.connect(srv.url).engine()
        with pytest.raises(EngineError, match="allow_local_streams"):
            remote.attach_stream(f"file:{tmp_path / 'x.jsons'}", 1)
        remote.attach_stream("rest:", 0)  # REST is fine


def test_sample_stream_on_the_engine(remote):
    assert remote.sample_stream("inline:1,2,3", 2) == [b"1", b"2"]


def test_scale_is_not_supported_yet(remote):
    with pytest.raises(fs.NotSupportedError):
        remote.scale(2)


def test_unload_and_detach(remote):
    remote.load_model(fs.Model("m", "# fastscore.slot.2: in-use\ndef action(x, slot):\n    yield x\n"))
    remote.attach_stream("rest:", 0)
    assert sorted(remote.active_streams) == [0]
    remote.detach_stream(0)
    assert remote.active_streams == {}
    remote.unload_model()
    assert remote.model is None


def test_wait_returns_on_timeout_and_reports_progress(remote, capsys):
    remote.run(fs.Model("m", TIMES5), fs.Stream("in", TRIP), fs.Stream("out", TRIP))
    assert remote.wait(0.2) == "RUNNING"
    remote.score([1, 2])
    remote.input(None)
    assert remote.wait(10, progress=True) == "FINISHED"
    assert "records" in capsys.readouterr().err


def test_put_uploads_a_file(remote, tmp_path):
    src = tmp_path / "data.jsons"
    src.write_bytes(b"1\n2\n")
    dst = remote.put(src, "renamed.jsons")
    assert dst.name == "renamed.jsons" and dst.read_bytes() == b"1\n2\n"
    with pytest.raises(EngineError, match="no such file"):
        remote.put(tmp_path / "missing")


def test_original_sdk_auth_header_is_accepted(secured):
    # FastScore's SDK sent the basic-auth header it was given as it was: Basic base64(user:password).
    import requests

    token = base64.b64encode(f"fastscore:{PASSWORD}".encode()).decode()
    state = requests.get(
        f"{secured.url}/api/1/service/engine-1/2/engine/state",
        headers={"Authorization": f"Basic {token}"},
        timeout=5,
    )
    assert state.json() == {"state": "init"}
