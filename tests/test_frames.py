"""DataFrame in, DataFrame out: ``from_pandas`` inline streams, the ``memory`` transport, ``collect``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import SchemaError, TransportError
from fastscore_sdk.library import Library
from fastscore_sdk.notebook._testing import ensure_memory_transport
from fastscore_sdk.notebook.frames import CollectedStream, FrameStream, collect, from_pandas
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.transports import memory
from fastscore_sdk.transports.base import Sink


@pytest.fixture(autouse=True)
def memory_transport(monkeypatch):
    ensure_memory_transport(monkeypatch)
    yield
    memory.clear()


class TestMemory(TransportConformance):
    supports_input = False
    preserves_boundaries = True
    stream_name = "conformance-stream"

    @pytest.fixture(autouse=True)
    def _registered(self, monkeypatch):
        ensure_memory_transport(monkeypatch)

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {"type": "memory", "name": f"conformance-{tmp_path.name}"}

    def read_back(self, spec: dict[str, Any], sink: Sink) -> list[bytes]:
        return memory.collected(spec["name"])


def test_memory_key_defaults_to_the_stream_name():
    t = memory.MemoryTransport({"type": "memory"}, stream="scores")
    with t.sink() as sink:
        sink.write([b"1"])
    assert memory.collected("scores") == [b"1"] and "scores" in memory.names()
    with pytest.raises(TransportError, match=r"Transport\.Name"):
        memory.MemoryTransport({"type": "memory"})


def test_memory_new_sink_replaces_and_abort_keeps_what_was_delivered():
    t = memory.MemoryTransport({"type": "memory", "name": "k"})
    with t.sink() as sink:
        sink.write([b"a", b"b"])
    assert memory.collection("k").complete
    sink = t.sink()
    sink.write([b"c"])
    assert memory.collected("k") == [b"c"] and not memory.collection("k").complete
    sink.abort()
    assert memory.collected("k") == [b"c"] and not memory.collection("k").complete
    assert memory.collection("k").runs == 2


def test_memory_descriptor_is_output_only():
    s = fs.Stream("out", {"Transport": {"Type": "memory", "Name": "x"}, "Encoding": "json"})
    assert s.verify(1)["transport"] == {"type": "memory", "name": "x"}
    with pytest.raises(fs.DescriptorError, match="output only"):
        s.verify(0)


# ------------------------------------------------------------------------------------ from_pandas


def test_from_pandas_infers_a_schema_and_round_trips():
    df = pd.DataFrame(
        {
            "x": [1.5, 2.5, np.nan],
            "n": [1, 2, 3],
            "label": ["a", None, "c"],
            "ok": [True, False, True],
            "t": pd.to_datetime(["2024-01-01T00:00", "2024-01-02T12:00", "2024-03-01T00:00"]),
        }
    )
    s = from_pandas(df, "pts")
    assert isinstance(s, FrameStream) and isinstance(s, fs.Stream)
    fields = {f["name"]: f["type"] for f in s.schema.avro["fields"]}
    assert fields == {
        "x": ["null", "double"],
        "n": "int",
        "label": ["null", "string"],
        "ok": "boolean",
        "t": {"type": "long", "logicalType": "timestamp-millis"},
    }
    assert s.verify(0)["loop"] is False
    back = s.sample(10).to_pandas()
    assert back["n"].tolist() == [1, 2, 3]
    assert back["x"].tolist()[:2] == [1.5, 2.5] and pd.isna(back["x"].iloc[2])
    assert back["label"].tolist()[0] == "a" and pd.isna(back["label"].iloc[1])
    assert back["ok"].tolist() == [True, False, True]
    assert back["t"].dt.tz_localize(None).tolist() == df["t"].tolist()
    assert s.rows == 3 and "3 records" in repr(s)


def test_from_pandas_with_a_given_schema():
    avro = {"type": "record", "name": "pt", "fields": [{"name": "x", "type": "double"}]}
    df = pd.DataFrame({"x": [1.0, 2.0], "extra": ["dropped", "too"]})
    for schema in (avro, fs.Schema("pt", avro), json.dumps(avro)):
        s = from_pandas(df, "pts", schema=schema)
        assert s.sample().records == [{"x": 1.0}, {"x": 2.0}]
    lib = Library()
    lib.schemas["pt"] = avro
    assert from_pandas(df, "pts", schema="pt", library=lib).schema.avro == avro


def test_from_pandas_bad_row_names_row_and_field():
    avro = {"type": "record", "name": "pt", "fields": [{"name": "x", "type": "double"}]}
    df = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    with pytest.raises(SchemaError) as info:
        from_pandas(df, "pts", schema=avro)
    assert info.value.record_index == 1 and "row 1" in str(info.value) and info.value.path == "$.x"
    df = pd.DataFrame({"x": ["a"]})
    with pytest.raises(SchemaError, match="row 0"):
        from_pandas(df, schema=avro)


def test_from_pandas_series_and_odd_frames():
    s = from_pandas(pd.Series([1.5, None, 3.0]), "vals")
    assert s.schema.avro == ["null", "double"]
    assert s.sample().records == [1.5, None, 3.0]
    ints = from_pandas(pd.DataFrame({0: [1, 2], 1: [3, 4]}), "cols")
    assert ints.sample().records == [{"0": 1, "1": 3}, {"0": 2, "1": 4}]
    with pytest.raises(ValueError, match="duplicate column"):
        from_pandas(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    with pytest.raises(SchemaError, match="empty"):
        from_pandas(pd.DataFrame({"x": []}))
    empty = from_pandas(pd.DataFrame({"x": []}), "none", schema="double")
    assert empty.sample().records == []
    with pytest.raises(TypeError):
        from_pandas([1, 2, 3])  # type: ignore[arg-type]


def test_from_pandas_default_names_are_distinct():
    a = from_pandas(pd.DataFrame({"x": [1]}))
    b = from_pandas(pd.DataFrame({"x": [1]}))
    assert a.name != b.name and a.name.startswith("frame-")


# ------------------------------------------------------------------------------------ collect


IRIS_MODEL = """
# fastscore.schema.0: pt
# fastscore.schema.1: scored
def action(r):
    yield {"x": r["x"], "y": r["x"] * 2.0, "big": r["x"] > 1.5}
"""
SCHEMAS = {
    "pt": {"type": "record", "name": "pt", "fields": [{"name": "x", "type": "double"}]},
    "scored": {
        "type": "record",
        "name": "scored",
        "fields": [
            {"name": "x", "type": "double"},
            {"name": "y", "type": "double"},
            {"name": "big", "type": "boolean"},
        ],
    },
}


def test_dataframe_through_a_model_and_an_engine_back_to_a_dataframe():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    model = fs.Model("scorer", IRIS_MODEL, schemas=SCHEMAS)
    out = collect("scores")
    with fs.Engine(echo_console=False) as eng:
        assert eng.run(model, from_pandas(df, "pts"), out).wait(30) == "FINISHED"
    got = out.to_pandas()
    expected = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0], "big": [False, True, True]})
    pd.testing.assert_frame_equal(got, expected)
    assert out.complete and len(out.raw) == 3
    assert out.records[0] == {"x": 1.0, "y": 2.0, "big": False}


def test_collect_uses_the_models_schema_for_dtypes():
    model = fs.Model("ints", "# fastscore.schema.1: int\ndef action(x):\n    yield x\n")
    out = collect("ints")
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, "inline:1,2", out).wait(30)
        assert str(out.to_pandas()["value"].dtype) == "int32"


def test_collect_untyped_outputs():
    out = collect()
    assert out.name.startswith("collected-")
    model = fs.Model("mix", "def action(x):\n    yield {'v': x}\n    yield [x]\n")
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, "inline:1,2", out).wait(30)
    assert out.records == [{"v": 1}, [1], {"v": 2}, [2]]
    assert out.to_pandas()["value"].tolist() == out.records


def test_collect_recordsets_drop_set_markers():
    source = """
# fastscore.recordsets.0: yes
# fastscore.recordsets.1: yes
# fastscore.schema.0: pt
# fastscore.schema.1: pt
def action(df):
    yield df * 10
"""
    model = fs.Model("rs", source, schemas=SCHEMAS)
    out = collect("rs")
    data = from_pandas(pd.DataFrame({"x": [1.0, 2.0]}), "rs-in", schema=SCHEMAS["pt"])
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, data, out).wait(30)
    assert out.to_pandas()["x"].tolist() == [10.0, 20.0]


def test_collect_avro_binary_with_its_own_schema():
    out = collect("avro-out", encoding="avro-binary", schema=SCHEMAS["pt"])
    model = fs.Model("pt", "def action(x):\n    yield {'x': float(x)}\n")
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, "inline:1,2", out).wait(30)
    assert out.records == [{"x": 1.0}, {"x": 2.0}]
    assert out.raw[0] == b"\x00\x00\x00\x00\x00\x00\xf0?"  # 1.0 as an Avro double


def test_collect_next_run_replaces_and_clear_forgets():
    model = fs.Model("echo", "def action(x):\n    yield x\n")
    out = collect("again")
    with fs.Engine(echo_console=False) as eng:
        eng.run(model, "inline:1,2", out).wait(30)
        eng.reset()
        eng.run(model, "inline:3", out).wait(30)
    assert out.records == [3]
    out.clear()
    assert out.records == [] and out.to_pandas().empty
    assert "0 records" in repr(out)


def test_collected_stream_by_name_in_a_descriptor():
    # Any stream naming the collection writes to it: a %%stream cell or a library entry works too.
    plain = fs.Stream("shared", {"Transport": {"Type": "memory", "Name": "shared-key"}, "Encoding": "json"})
    with plain.open_writer() as w:
        w.write({"a": 1})
    reader = CollectedStream(
        "shared-view", {"Transport": {"Type": "memory", "Name": "shared-key"}, "Encoding": "json"}
    )
    assert reader.key == "shared-key" and reader.records == [{"a": 1}]


def test_collect_rejects_what_does_not_decode():
    out = collect("bad-bytes")
    with fs.Stream(
        "raw", {"Transport": {"Type": "memory", "Name": "bad-bytes"}, "Encoding": "utf-8"}
    ).open_writer() as w:
        w.write("not json")
    assert out.records == [] and len(out.rejected) == 1


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"a": [1, 2], "b": [1.5, np.nan], "c": ["x", None], "d": [True, False]}),
        pd.DataFrame({"big": [1, 2**40], "neg": [-(2**31), 0], "u": np.array([1, 2], dtype="uint64")}),
        pd.DataFrame({"n": pd.array([1, None], dtype="Int64"), "f": pd.array([0.5, None], dtype="Float64")}),
        pd.DataFrame(
            {"b": pd.array([True, None], dtype="boolean"), "t": pd.to_datetime(["2024-01-01", None])}
        ),
        pd.DataFrame({"obj": [{"k": 1}, {"k": 2}], "lst": [[1.0], []], "cat": pd.Categorical(["a", "b"])}),
        pd.DataFrame({"empty": [None, None], "mixed": [1, "x"], "s": pd.array(["a", None], dtype="string")}),
        pd.DataFrame({"bad name": [1], "x": [2]}),
    ],
)
def test_column_inference_agrees_with_schema_infer(frame):
    from fastscore_sdk.notebook import frames as frames_module
    from fastscore_sdk.schema import records_from_frame

    records = records_from_frame(frame)
    frames_module._nan_to_none(records, [c for c in frame.columns if frame[c].dtype.kind == "f"])
    fast = frames_module._infer_frame_schema(frame, records, "t-1")
    assert fast.avro == fs.Schema.infer(records, name="t-1").avro


def test_frame_stream_rows_are_data_not_configuration(monkeypatch):
    monkeypatch.setenv("LOOKS_LIKE_A_SECRET", "resolved")
    s = from_pandas(pd.DataFrame({"note": ["secret://LOOKS_LIKE_A_SECRET", "plain"]}), "notes")
    form = s.verify()
    assert [json.loads(r)["note"] for r in form["transport"]["data"]] == [
        "secret://LOOKS_LIKE_A_SECRET",
        "plain",
    ]
    form["transport"]["data"].clear()  # the returned form is the caller's to change
    assert s.sample().to_pandas()["note"].tolist() == ["secret://LOOKS_LIKE_A_SECRET", "plain"]
    assert s.verify(0)["transport"]["type"] == "inline"
    with pytest.raises(fs.DescriptorError, match="slot 1"):
        s.verify(1)
