"""The `fastscore` command against a served engine: connect, use, run, engine, model input/output,
stream attach/detach, engine serve; and the saved configuration never holds the password."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import types
from pathlib import Path

import pytest

import fastscore_sdk as fs
from fastscore_sdk.cli import config_path, main
from fastscore_sdk.engine.server import serve

PASSWORD = "cli-Pa55-w0rd"
TIMES5 = "def action(datum):\n    yield datum * 5\n"


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def engines():
    engs = [fs.Engine("engine-1", echo_console=False), fs.Engine("engine-2", echo_console=False)]
    with serve(engs, port=0, auth=("fastscore", PASSWORD), allow_local_streams=True) as srv:
        yield srv, engs
    for eng in engs:
        eng.reset()


@pytest.fixture
def connected(engines, capsys, monkeypatch, tmp_path):
    srv, engs = engines
    monkeypatch.setenv("FASTSCORE_PASSWORD", PASSWORD)
    monkeypatch.chdir(tmp_path)
    code, _out, err = run(capsys, "connect", srv.url, "--user", "fastscore")
    assert code == 0, err
    return srv, engs


def test_connect_saves_a_private_config_without_the_password(engines, capsys, monkeypatch):
    srv, _ = engines
    monkeypatch.setenv("FASTSCORE_PASSWORD", PASSWORD)
    code, out, err = run(capsys, "connect", srv.url, "--user", "fastscore")
    assert code == 0, err
    assert f"Connected to {srv.url} as fastscore" in out and "Using engine engine-1" in out
    assert "Password not stored" in out and "FASTSCORE_PASSWORD" in out  # no keyring package here
    path = config_path()
    assert path == Path(os.environ["FASTSCORE_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert PASSWORD not in text
    config = json.loads(text)
    assert config["url"] == srv.url and config["user"] == "fastscore" and config["engine"] == "engine-1"
    assert config["password_store"] == "environment"
    assert PASSWORD not in out + err


def test_later_commands_need_the_password_from_the_environment(connected, capsys, monkeypatch):
    monkeypatch.delenv("FASTSCORE_PASSWORD")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a terminal: no prompt
    code, _, err = run(capsys, "engine", "inspect")
    assert code == 1 and "no password for user 'fastscore'" in err and "FASTSCORE_PASSWORD" in err
    monkeypatch.setenv("FASTSCORE_PASSWORD", "wrong")
    code, _, err = run(capsys, "engine", "inspect")
    assert code == 1 and "authentication failed" in err and "check the user and password" in err


def test_connect_with_a_wrong_password_fails_and_saves_nothing(engines, capsys, monkeypatch):
    srv, _ = engines
    monkeypatch.setenv("FASTSCORE_PASSWORD", "nope-" + PASSWORD)
    code, out, err = run(capsys, "connect", srv.url, "--user", "fastscore")
    assert code == 1 and f"authentication failed for {srv.url}" in err
    assert PASSWORD not in out + err and not config_path().exists()


def test_connect_stores_the_password_in_the_keyring_when_there_is_one(engines, capsys, monkeypatch):
    # An in-memory stand-in for the OS keyring (the keyring package is not installed here).
    store: dict[tuple[str, str], str] = {}
    errors = types.ModuleType("keyring.errors")
    errors.KeyringError = type("KeyringError", (Exception,), {})
    fake = types.ModuleType("keyring")
    fake.errors = errors
    fake.set_password = lambda service, user, pw: store.__setitem__((service, user), pw)
    fake.get_password = lambda service, user: store.get((service, user))
    fake.delete_password = lambda service, user: store.pop((service, user))
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.setitem(sys.modules, "keyring.errors", errors)
    srv, _ = engines
    monkeypatch.setenv("FASTSCORE_PASSWORD", PASSWORD)
    code, out, _ = run(capsys, "connect", srv.url, "--user", "fastscore")
    assert code == 0 and "Password stored in the OS keyring" in out
    assert store == {("fastscore_sdk", f"fastscore@{srv.url}"): PASSWORD}
    assert PASSWORD not in config_path().read_text()
    monkeypatch.delenv("FASTSCORE_PASSWORD")  # later commands read the keyring
    code, out, err = run(capsys, "engine", "inspect")
    assert code == 0 and "engine-1" in out, err
    assert run(capsys, "disconnect")[0] == 0
    assert store == {} and not config_path().exists()


def test_use_selects_an_engine(connected, capsys):
    _srv, _engs = connected
    code, out, _ = run(capsys, "use", "engine-2")
    assert code == 0 and "Using engine engine-2" in out
    assert json.loads(config_path().read_text())["engine"] == "engine-2"
    code, _, err = run(capsys, "use", "engine-7")
    assert code == 1 and "no engine named 'engine-7'" in err and "engine-1" in err
    code, out, _ = run(capsys, "fleet")
    assert out.split()[:6] == ["Name", "API", "Health", "engine-1", "engine", "ok"]


def test_run_goes_to_the_selected_engine(connected, capsys, tmp_path):
    _srv, engs = connected
    model = tmp_path / "times5.py3"
    model.write_text(TIMES5)
    src, out_file = tmp_path / "in.jsons", tmp_path / "out.jsons"
    src.write_text("1\n2\n3\n")
    code, _, err = run(capsys, "run", str(model), f"file:{src}", f"file:{out_file}", "--timeout", "10")
    assert code == 0, err
    assert out_file.read_text().split() == ["5", "10", "15"]
    assert "slot 0 in " in err and "3 records" in err
    assert engs[0].state == "FINISHED" and engs[0].model.name == "times5"  # it ran there
    # a second run replaces the finished one
    out_file.unlink()
    assert run(capsys, "run", str(model), f"file:{src}", f"file:{out_file}")[0] == 0
    assert out_file.read_text().split() == ["5", "10", "15"]
    # --local runs in this process instead
    engs[0].reset()
    out_file.unlink()
    assert run(capsys, "run", "--local", str(model), f"file:{src}", f"file:{out_file}")[0] == 0
    assert out_file.read_text().split() == ["5", "10", "15"] and engs[0].model is None


def test_run_with_engine_url_and_a_failing_model(engines, capsys, monkeypatch, tmp_path):
    srv, engs = engines
    monkeypatch.setenv("FASTSCORE_PASSWORD", PASSWORD)
    model = tmp_path / "bad.py3"
    model.write_text("def action(x):\n    yield 10 // x\n")
    url = f"{srv.url}/api/1/service/engine-2"
    code, _, err = run(
        capsys, "run", "--engine", url, "--user", "fastscore", str(model), "inline:1,0", "discard:"
    )
    assert code == 1 and "ZeroDivisionError" in err
    assert engs[1].state == "ERROR" and engs[0].state == "INIT"


def test_engine_inspect_pause_unpause_reset_put(connected, capsys, tmp_path):
    srv, engs = connected
    code, out, _ = run(capsys, "engine", "inspect", "-v")
    assert code == 0 and f"Engine engine-1 at {srv.url}: INIT" in out and "incomplete" in out
    assert run(capsys, "stream", "attach", "rest:", "0")[0] == 0
    code, out, _ = run(capsys, "--json", "engine", "inspect")
    assert json.loads(out)["streams"]["0"]["transport"] == "rest"
    code, out, _ = run(capsys, "engine", "pause")
    assert code == 0 and "paused" in out and engs[0]._pause_requested
    assert run(capsys, "engine", "unpause")[0] == 0
    code, out, _ = run(capsys, "engine", "reset")
    assert code == 0 and engs[0].inspect()["streams"] == {}
    data = tmp_path / "data.jsons"
    data.write_text("1\n")
    code, out, _ = run(capsys, "engine", "put", str(data), "copied.jsons")
    placed = Path(out.strip())
    assert code == 0 and placed.name == "copied.jsons" and placed.read_text() == "1\n"


def test_model_input_and_output_over_rest(connected, capsys, monkeypatch, tmp_path):
    _srv, engs = connected
    model = tmp_path / "times5.py3"
    model.write_text(TIMES5)
    engs[0].load_model(fs.Model.load(model))
    assert run(capsys, "stream", "attach", "rest:", "0")[1].strip() == "Stream 'rest:' attached to slot 0"
    assert run(capsys, "stream", "attach", "rest:", "1")[0] == 0
    assert engs[0].state == "RUNNING"
    code, _, err = run(capsys, "model", "input", stdin="1\n2\n\n3\n", monkeypatch=monkeypatch)
    assert code == 0, err
    code, out, _ = run(capsys, "model", "output", "--timeout", "5")
    assert out.strip() == "5"  # one record, then it stops
    code, out, _ = run(capsys, "model", "output", "--timeout", "5")
    assert out.strip() == "10"
    code, out, _ = run(capsys, "model", "output", "--nowait")
    assert code == 0 and out == ""  # the empty line ended the input: 3 was never sent
    code, _, err = run(capsys, "model", "input", "1", stdin="1\n", monkeypatch=monkeypatch)
    assert code == 1 and "slot 1 is an output slot" in err
    engs[0].input("4")
    engs[0].input(None)
    code, out, _ = run(capsys, "model", "output", "--continue", "--timeout", "10")
    assert out.split() == ["20", "(EOF)"]


def test_stream_detach(connected, capsys):
    _srv, engs = connected
    run(capsys, "stream", "attach", "rest:", "0")
    code, out, _ = run(capsys, "stream", "detach", "0")
    assert code == 0 and "detached" in out and engs[0].inspect()["streams"] == {}
    code, _, err = run(capsys, "stream", "detach", "0")
    assert code == 1 and "slot 0" in err


def test_engine_commands_without_an_engine_say_how_to_get_one(capsys):
    code, _, err = run(capsys, "engine", "inspect")
    assert code == 1 and "no engine selected" in err and "fastscore connect URL" in err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_engine_serve_command(tmp_path):
    port = free_port()
    env = dict(os.environ, FASTSCORE_PASSWORD=PASSWORD)
    cmd = [
        sys.executable,
        "-m",
        "fastscore_sdk",
        "engine",
        "serve",
        "--port",
        str(port),
        "--user",
        "fastscore",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"Serving engine-1 at http://127.0.0.1:{port}"), proc.stderr.read()
        url = f"http://127.0.0.1:{port}"
        with pytest.raises(fs.TransportError, match="authentication failed"):
            fs.connect(url)
        eng = fs.connect(url, auth=("fastscore", PASSWORD)).engine()
        eng.run(fs.Model("m", TIMES5), "rest:", "rest:")
        assert eng.roundtrip("20") == b"100"
        with pytest.raises(fs.EngineError, match="allow_local_streams"):
            eng.attach_stream(f"file:{tmp_path / 'x'}", 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
