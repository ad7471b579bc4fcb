"""Rich display: ``_repr_html_`` and text reprs of streams, samples, schemas, models, engines, errors.

No view may show a secret.
"""

from __future__ import annotations

import pandas as pd
import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import DescriptorError, ModelError, Problem, TransportError
from fastscore_sdk.notebook._testing import ensure_memory_transport
from fastscore_sdk.notebook.display import (
    engine_html,
    engine_rows,
    engine_text,
    error_html,
    error_line,
    error_text,
)
from fastscore_sdk.notebook.frames import collect, from_pandas
from fastscore_sdk.transports import memory

SECRET = "hunter2-do-not-show"
S3 = {
    "Transport": {
        "Type": "S3",
        "Bucket": "b",
        "ObjectKey": "k.jsons",
        "AccessKeyID": "AKIA-DO-NOT-SHOW",
        "SecretAccessKey": SECRET,
    },
    "Encoding": "json",
}
ODBC = {
    "Transport": {
        "Type": "ODBC",
        "ConnectionString": f"Driver=MariaDB Unicode;Server=127.0.0.1;UID=u;PWD={SECRET};",
        "SelectQuery": "SELECT 1",
    },
    "Encoding": None,
}
POINT = {
    "type": "record",
    "name": "pt",
    "fields": [{"name": "x", "type": "double"}, {"name": "n", "type": ["null", "int"], "default": None}],
}


def test_stream_html_redacts_and_shows_the_interpreted_form():
    for desc in (S3, ODBC):
        s = fs.Stream("secret-in", desc)
        page = s._repr_html_()
        assert SECRET not in page and "AKIA-DO-NOT-SHOW" not in page
        assert SECRET not in repr(s)
        assert "*****" in page and "interpreted" in page
        assert "Stream" in page and "secret-in" in page


def test_stream_html_lists_problems():
    s = fs.Stream("bad", {"Transport": {"Type": "REST"}, "Loop": True, "Encoding": "jsn"})
    page = s._repr_html_()
    assert "Problems" in page and "FS-D001" in page and "Loop" in page


def test_sample_html_and_text():
    s = fs.Stream(
        "pts",
        {
            "Transport": {"Type": "inline", "Data": ['{"x": 1.5}', '{"x": "bad"}']},
            "Encoding": "json",
            "Schema": POINT,
        },
    )
    sample = s.sample()
    page = sample._repr_html_()
    assert "<table" in page and "1.5" in page
    assert "1 records, 1 rejected" in page and "rejected records" in page
    assert repr(sample).startswith("<Sample of stream 'pts': 1 records, 1 rejected")


def test_schema_html_and_text():
    sch = fs.Schema("pt", POINT)
    page = sch._repr_html_()
    assert "<table" in page and "float64" in page and "Int32" in page and "nullable" in page
    assert repr(sch) == "Schema('pt', record pt {x: double, n: [null, int]})"
    assert "pandas dtype" in fs.Schema("price", "double")._repr_html_()


def test_model_html_and_text():
    m = fs.Model("m", "# fastscore.schema.0: double\ndef action(x):\n    yield x\n")
    page = m._repr_html_()
    assert "<table" in page and "double" in page and "input" in page and "output" in page
    assert repr(m).splitlines()[0] == "Model('m', python3, call-back)"


def _finished_engine(model_source: str, *streams) -> fs.Engine:
    eng = fs.Engine(echo_console=False)
    eng.run(fs.Model("m", model_source), *streams).wait(30)
    return eng


def test_engine_views_init():
    eng = fs.Engine("engine-7")
    assert engine_text(eng) == "Engine 'engine-7': INIT, no model loaded, no streams attached"
    page = engine_html(eng)
    assert "engine-7" in page and "INIT" in page and "no streams attached" in page


def test_engine_views_finished_with_counts():
    out = fs.Stream("out", {"Transport": "discard", "Encoding": "json"})
    eng = _finished_engine("def action(x):\n    yield x\n", "inline:1,2,3", out)
    try:
        rows = engine_rows(eng)
        assert [(r["slot"], r["direction"], r["stream"], r["transport"], r["records"]) for r in rows] == [
            (0, "input", "inline:1,2,3", "inline", 3),
            (1, "output", "out", "discard", 3),
        ]
        page = engine_html(eng)
        assert "FINISHED" in page and "<table" in page and "inline:1,2,3" in page
        text = engine_text(eng)
        assert text.splitlines()[0] == "Engine 'engine-1': FINISHED, model 'm'"
        assert "rejected" in text.splitlines()[1]
    finally:
        eng.reset()


def test_engine_views_error():
    eng = _finished_engine("def action(x):\n    yield 1 / 0\n", "inline:1", "discard:")
    try:
        page = engine_html(eng)
        assert "ERROR" in page and "ModelError" in page and "ZeroDivisionError" in page
        assert "last error: ModelError:" in engine_text(eng)
    finally:
        eng.reset()


def test_engine_views_counts_rejected():
    eng = _finished_engine(
        "def action(x):\n    yield x\n", "inline:1,2", "discard:"
    )  # null encoding: ints rejected
    try:
        assert engine_rows(eng)[1]["rejected"] == 2
    finally:
        eng.reset()


def test_engine_views_hide_url_passwords():
    out = fs.Stream("https://user:pw-do-not-show@example.com/x", {"Transport": "discard", "Encoding": "json"})
    eng = _finished_engine("def action(x):\n    yield x\n", "inline:1", out)
    try:
        assert "pw-do-not-show" not in engine_html(eng) and "pw-do-not-show" not in engine_text(eng)
    finally:
        eng.reset()


class _RemoteLike:
    """The Engine interface as a remote client returns it: JSON keys are strings."""

    name = "remote-1"
    state = "RUNNING"
    last_error = None

    def inspect(self):
        return {
            "name": self.name,
            "state": self.state,
            "model": {"name": "m", "slots": []},
            "streams": {
                "1": {"name": "out", "transport": "rest", "eof": False, "records": 4},
                "0": {"name": "in", "transport": "rest", "eof": False, "records": 5},
            },
        }

    def stats(self):
        return pd.DataFrame(
            [
                {
                    "slot": 0,
                    "stream": "in",
                    "records": 5,
                    "bytes": 10,
                    "rejected_by_schema": 1,
                    "rejected_by_encoding": 0,
                }
            ]
        ).set_index("slot")


def test_engine_views_work_on_any_engine_interface():
    rows = engine_rows(_RemoteLike())
    assert [(r["slot"], r["records"], r["rejected"]) for r in rows] == [(0, 5, 1), (1, 4, 0)]
    assert "remote-1" in engine_html(_RemoteLike())


def test_error_views():
    err = DescriptorError(
        problems=[
            Problem("FS-D020", "Transport.Type", "unknown transport type 'x'", "use a known type"),
            Problem("FS-D001", "Loop", "REST streams cannot loop", 'remove "Loop"'),
        ],
        stream="in",
    )
    assert (
        error_line(err)
        == "stream 'in': [FS-D020] Transport.Type: unknown transport type 'x'; fix: use a known type (and 1 more problem)"
    )
    assert error_text(err).startswith("DescriptorError: stream 'in'")
    page = error_html(err)
    assert "2 problems" in page and "FS-D001" in page and "<table" in page
    page = error_html(ModelError("boom", model="m", slot=0, record_index=3))
    assert "ModelError" in page and "slot 0" in page and "record index 3" in page
    leak = TransportError("cannot reach https://u:pw-do-not-show@host/x", stream="in")
    assert "pw-do-not-show" not in error_html(leak) and "pw-do-not-show" not in error_text(leak)


@pytest.fixture
def memory_transport(monkeypatch):
    ensure_memory_transport(monkeypatch)
    yield
    memory.clear()


def test_frame_and_collected_stream_views(memory_transport):
    s = from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), "pts")
    assert repr(s) == "<FrameStream 'pts': 2 records from a DataFrame, schema 'pts'>"
    assert "2 records" in s._repr_html_() and "<table" in s._repr_html_()
    out = collect("view-out")
    with fs.Engine(echo_console=False) as eng:
        eng.run(fs.Model("m", "def action(r):\n    yield r\n"), s, out).wait(30)
    assert repr(out) == "<CollectedStream 'view-out': 2 records collected (complete)>"
    page = out._repr_html_()
    assert "2 records" in page and "<table" in page


def test_validation_report_views():
    m = fs.Model("tenth", "def action(x):\n    yield x * 0.1\n")
    ok = m.validate([1, 2], [0.1, 0.2])
    assert repr(ok) == "ValidationReport: all 2 outputs match"
    assert "all 2 outputs match" in ok._repr_html_()
    bad = m.validate([1, 2], [0.1, 0.5])
    assert "1 of 2 outputs differ" in repr(bad)
    assert "<table" in bad._repr_html_() and "0.5" in bad._repr_html_()
