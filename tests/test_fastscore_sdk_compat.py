"""The original FastScore Python SDK (``fastscore==1.10.3`` from PyPI) scripts our served engine.

The SDK installs top-level ``fastscore``, ``test`` and ``cli`` names and a ``fastscore`` command that
would clash with ours, so it lives in a virtual environment of its own, made once and kept in the
pytest cache (keyed by the SDK and Python versions). A script run with that environment's Python
drives a served engine the way FastScore users did: ``Connect`` with a basic-auth secret, the
engine's state, ``load_model`` without attachments, REST streams attached to slots 0 and 1, and
``roundtrip`` (reference §3.4: 20 -> 100).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

import fastscore_sdk as fs
from fastscore_sdk.engine.server import serve
from fastscore_sdk.testing import unavailable

SDK_VERSION = "1.10.3"
USER, PASSWORD = "fastscore", "fastscore"

SCRIPT = textwrap.dedent(
    """
    import base64, json, sys, time

    from fastscore import Model, Schema, Stream
    from fastscore.suite import Connect

    url, user, password = sys.argv[1:4]
    out = {}

    def check(name, fn):
        try:
            out[name] = fn()
        except Exception as exc:  # reported, and the test says which step failed
            out[name] = "FAILED: %r" % (exc,)

    # What `fastscore login basicauth` stored and Connect sent: the whole header value.
    secret = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    connect = Connect(url, basic_auth_secret=secret)
    engine = connect.lookup("engine")
    check("fleet", lambda: [(x.name, x.api, x.health) for x in connect.fleet()])
    check("name", lambda: engine.name)
    check("state_before", lambda: engine.state)
    model = Model("multiplier", mtype="python3", source="def action(datum):\\n    yield datum*5\\n")
    # Without Model Manage the SDK needs an explicit (empty) attachment list.
    check("dry_run", lambda: [s.slot for s in engine.load_model(model, attachment_override_list=[], dry_run=True).slots])
    check("load", lambda: engine.load_model(model, attachment_override_list=[]) and None)
    check("state_loaded", lambda: engine.state)
    check("active_model", lambda: engine.active_model.name)
    rest = Stream("rest-trip", {"Transport": {"Type": "REST"}, "Encoding": "json",
                                "Batching": {"Watermark": None, "NagleTime": 0}})
    check("attach0", lambda: rest.attach(engine, 0) and None)
    check("attach1", lambda: engine.attach_stream(rest, 1) and None)
    check("state_attached", lambda: engine.state)
    check("active_streams", lambda: sorted(engine.active_streams))
    check("roundtrip", lambda: engine.roundtrip("20").decode())
    check("roundtrip_timeout", lambda: engine.roundtrip("4", timeout=5).decode())

    def input_output():
        engine.input("3", 0)
        for _ in range(100):
            data = engine.output(1)
            if data is not None:
                return data.decode()
            time.sleep(0.05)
        return None

    check("input_output", input_output)
    check("nothing_ready", lambda: engine.output(1))

    def pause_unpause():
        engine.pause()
        paused = engine.state
        engine.unpause()
        return [paused, engine.state]

    check("pause_unpause", pause_unpause)
    check("sample", lambda: Stream("s", {"Transport": {"Type": "inline", "Data": ["1", "2", "3"]},
                                         "Encoding": "json"}).sample(engine, 2))

    def schema_verify():
        sid = engine.verify_schema(Schema("s2", source='"int"'))
        engine.verify_data(sid, 2)
        try:
            engine.verify_data(sid, "fastscore")
            bad = "accepted"
        except Exception as exc:
            bad = str(exc)
        engine.unverify_schema(sid)
        return bad

    check("schema_verify", schema_verify)
    check("reset", lambda: engine.reset())
    check("state_after", lambda: engine.state)
    check("unload_without_model", lambda: engine.unload_model())
    print(json.dumps(out))
    """
)


def _venv_python(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


@pytest.fixture(scope="module")
def sdk_python(request) -> Path:
    """The Python of a virtual environment with fastscore==1.10.3, made once and cached."""
    key = f"fastscore-{SDK_VERSION}-py{sys.version_info[0]}{sys.version_info[1]}-venv"
    cache = getattr(request.config, "cache", None)
    root = cache.mkdir(key) if cache is not None else request.getfixturevalue("tmp_path_factory").mktemp(key)
    python, ready = _venv_python(root), root / "installed.ok"
    if ready.is_file() and python.is_file():
        return python
    shutil.rmtree(root, ignore_errors=True)  # a half-made environment from an interrupted run
    try:
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable(f"cannot create a virtual environment for fastscore=={SDK_VERSION}: {exc}")
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        done = subprocess.run(
            [*cmd, f"fastscore=={SDK_VERSION}"], capture_output=True, text=True, timeout=300, check=False
        )
    except subprocess.TimeoutExpired:
        unavailable(f"pip install fastscore=={SDK_VERSION} took more than 300 s (is PyPI reachable?)")
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-8:])
        unavailable(
            f"pip install fastscore=={SDK_VERSION} failed on Python {sys.version.split()[0]}:\n{tail}"
        )
    ready.write_text(SDK_VERSION)
    return python


def _run_script(python: Path, tmp_path: Path, url: str, password: str = PASSWORD) -> dict:
    script = tmp_path / "fastscore_1_10_3_client.py"
    script.write_text(SCRIPT)
    # A clean environment for the old SDK: no PYTHONPATH from this process, from its own folder.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [str(python), str(script), url, USER, password],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
        check=False,
    )
    assert done.returncode == 0, f"the FastScore 1.10.3 script failed:\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_fastscore_1_10_3_sdk_drives_the_served_engine(sdk_python, tmp_path, tls):
    eng = fs.Engine(echo_console=False)
    with serve(eng, port=0, tls=tls or None, auth=(USER, PASSWORD)) as srv:
        out = _run_script(sdk_python, tmp_path, srv.url)
    eng.reset()
    failed = {k: v for k, v in out.items() if isinstance(v, str) and v.startswith("FAILED")}
    # Not supported by this engine in 1.10 either: unload when no model is loaded is a 404 there too.
    assert failed.pop("unload_without_model", "").find("Model not loaded") >= 0
    assert failed == {}
    assert out["fleet"] == [["engine-1", "engine", "ok"]]
    assert out["name"] == "engine-1" and out["state_before"] == "INIT"
    assert out["dry_run"] == [0, 1] and out["state_loaded"] == "INIT" and out["active_model"] == "multiplier"
    assert out["state_attached"] == "RUNNING" and out["active_streams"] == [0, 1]
    assert out["roundtrip"] == "100" and out["roundtrip_timeout"] == "20"
    assert out["input_output"] == "15" and out["nothing_ready"] is None
    assert out["pause_unpause"] == ["PAUSED", "RUNNING"]
    assert out["sample"] == ["MQ==", "Mg=="]
    assert "Int expected" in out["schema_verify"]
    assert out["state_after"] == "INIT"


def test_fastscore_1_10_3_sdk_with_a_wrong_password_is_refused(sdk_python, tmp_path):
    eng = fs.Engine(echo_console=False)
    with serve(eng, port=0, auth=(USER, PASSWORD)) as srv:
        script = tmp_path / "wrong.py"
        script.write_text(
            "import base64, sys\nfrom fastscore.suite import Connect\n"
            "c = Connect(sys.argv[1], basic_auth_secret='Basic ' + base64.b64encode(b'fastscore:nope').decode())\n"
            "try:\n    c.lookup('engine')\nexcept Exception as e:\n    print(repr(e), e.caused_by.status)\n"
        )
        done = subprocess.run(
            [str(sdk_python), str(script), srv.url], capture_output=True, text=True, timeout=60, check=False
        )
    assert "Cannot retrieve fleet info" in done.stdout and "401" in done.stdout
