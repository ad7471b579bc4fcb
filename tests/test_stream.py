"""Stream, StreamReader/StreamWriter and Sample over the local transports."""

from __future__ import annotations

import json
import struct

import pandas as pd
import pytest

import fastscore_sdk as fs
from fastscore_sdk import DescriptorError, RecordError, SchemaError
from fastscore_sdk.codec import Control

IRIS_FIELDS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_SCHEMA = {
    "type": "record",
    "name": "iris",
    "fields": [{"name": f, "type": "double"} for f in IRIS_FIELDS],
}
IRIS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 6.9, "sepal_width": 3.1, "petal_length": 5.4, "petal_width": 2.1},
    {"sepal_length": 5.8, "sepal_width": 2.7, "petal_length": 4.1, "petal_width": 1.0},
]


@pytest.fixture
def iris_file(tmp_path):
    path = tmp_path / "iris.jsons"
    # Written with a different field order than the schema, and no trailing newline.
    lines = [json.dumps(dict(reversed(list(r.items())))) for r in IRIS * 4]
    path.write_text("\n".join(lines))
    return path


def file_stream(path, **extra):
    desc = {"Transport": {"Type": "file", "Path": str(path)}, "Loop": False, "Encoding": "json"}
    desc.update(extra)
    return fs.Stream("test", desc)


def test_sample_to_pandas_uses_schema_order_and_dtypes(iris_file):
    df = file_stream(iris_file, Schema=IRIS_SCHEMA).sample(5).to_pandas()
    assert list(df.columns) == IRIS_FIELDS
    assert len(df) == 5
    assert all(str(t) == "float64" for t in df.dtypes)
    assert df.iloc[1].to_dict() == IRIS[1]


def test_sample_defaults_to_ten_records(iris_file):
    assert len(file_stream(iris_file).sample()) == 10


def test_sample_returns_fewer_when_the_stream_ends(iris_file):
    sample = file_stream(iris_file).sample(100)
    assert len(sample) == 12
    assert sample.rejected == []


def test_inline_literal_sample_and_raw():
    sample = fs.Stream("inline:1,2,3").sample()
    assert sample.records == [1, 2, 3]
    assert sample.raw == [b"1", b"2", b"3"]
    assert sample.to_pandas()["value"].tolist() == [1, 2, 3]


def test_fixed_envelope_on_binary_file(tmp_path):
    path = tmp_path / "fixed.bin"
    path.write_bytes(b"".join(struct.pack(">q", i) for i in range(5)))
    s = fs.Stream(
        "fixed",
        {
            "Transport": {"Type": "file", "Path": str(path)},
            "Loop": False,
            "Envelope": {"Type": "fixed", "Size": 8},
            "Encoding": None,
        },
    )
    sample = s.sample()
    assert len(sample) == 5
    assert sample.raw[3] == struct.pack(">q", 3)
    assert sample.records[4] == struct.pack(">q", 4)


def test_csv_with_header_and_record_schema(tmp_path):
    path = tmp_path / "four.csv"
    path.write_text("first,second,third,last\r\n24.44,0.83,38.6111,15.8888\r\n1,2,3,4\r\n")
    schema = {
        "type": "record",
        "name": "four",
        "fields": [{"name": n, "type": "double"} for n in ("first", "second", "third", "last")],
    }
    s = fs.Stream(
        "csv",
        {
            "Transport": {"Type": "file", "Path": str(path)},
            "Loop": False,
            "Encoding": "csv",
            "Schema": schema,
        },
    )
    assert s.verify()["envelope"]["type"] == "delimited-csv"
    df = s.sample().to_pandas()
    assert df.to_dict("records") == [
        {"first": 24.44, "second": 0.83, "third": 38.6111, "last": 15.8888},
        {"first": 1.0, "second": 2.0, "third": 3.0, "last": 4.0},
    ]


def test_end_control_record_stops_the_stream(tmp_path):
    path = tmp_path / "end.jsons"
    path.write_text('1\n2\n{"$fastscore":"end"}\n3\n')
    assert list(file_stream(path).read()) == [1, 2]
    assert file_stream(path).sample().records == [1, 2]


def test_set_and_pig_controls_are_yielded_on_request(tmp_path):
    path = tmp_path / "ctl.jsons"
    path.write_text('1\n{"$fastscore":"set"}\n2\n{"$fastscore":"pig"}\n')
    assert list(file_stream(path).read()) == [1, 2]
    items = list(file_stream(path).read(controls=True))
    assert items[0] == 1 and items[2] == 2
    assert isinstance(items[1], Control) and items[1].kind == "set"
    assert items[3].kind == "pig"


def test_bad_records_are_rejected_counted_and_reading_goes_on(tmp_path):
    path = tmp_path / "bad.jsons"
    path.write_text('{"x": 1.0}\n{"x": oops}\n{"x": "str"}\n{"x": 4.0}\n')
    schema = {"type": "record", "name": "r", "fields": [{"name": "x", "type": "double"}]}
    sample = file_stream(path, Schema=schema).sample()
    assert sample.records == [{"x": 1.0}, {"x": 4.0}]
    assert [(r.index, r.kind) for r in sample.rejected] == [(1, "encoding"), (2, "schema")]
    assert "x" in sample.rejected[1].reason
    assert sample.raw == [b'{"x": 1.0}', b'{"x": 4.0}']


def test_errors_raise_fails_fast(tmp_path):
    path = tmp_path / "bad.jsons"
    path.write_text("1\n{nope\n3\n")
    with pytest.raises(RecordError) as info:
        list(file_stream(path).read(errors="raise"))
    assert info.value.record_index == 1
    path.write_text('{"x": 1.0}\n{"x": "s"}\n')
    schema = {"type": "record", "name": "r", "fields": [{"name": "x", "type": "double"}]}
    with pytest.raises(SchemaError) as info:
        list(file_stream(path, Schema=schema).read(errors="raise"))
    assert info.value.record_index == 1


def test_loop_restarts_and_empty_looping_file_ends(tmp_path):
    path = tmp_path / "three.jsons"
    path.write_text("1\n2\n3\n")
    looping = file_stream(path, Loop=True)
    it = looping.read()
    assert [next(it) for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]
    it.close()
    empty = tmp_path / "empty.jsons"
    empty.write_text("")
    assert list(file_stream(empty, Loop=True).read()) == []


def test_skip_to_byte_offset(tmp_path):
    path = tmp_path / "skip.jsons"
    path.write_text("10\n20\n30\n")
    assert list(file_stream(path, SkipTo=3).read()) == [20, 30]


def test_writer_round_trip_and_abort(tmp_path):
    out = tmp_path / "out.jsons"
    s = file_stream(out)
    with s.open_writer() as w:
        for r in IRIS:
            w.write(r)
        w.write_many(IRIS[:1])
    assert [json.loads(line) for line in out.read_text().splitlines()] == IRIS + IRIS[:1]
    assert list(s.read()) == IRIS + IRIS[:1]


def test_writer_rejects_records_that_break_the_schema(tmp_path):
    out = tmp_path / "out.jsons"
    s = file_stream(out, Schema=IRIS_SCHEMA)
    with s.open_writer() as w:
        w.write(IRIS[0])
        w.write({"sepal_length": "long"})
    assert len(w.rejected) == 1 and w.rejected[0].kind == "schema"
    assert out.read_text().count("\n") == 1


def test_rate_measures_something(iris_file):
    rate = file_stream(iris_file).rate()
    assert rate["rps"] > 0 and rate["mbps"] > 0


def test_exec_stream_reads_process_output():
    s = fs.Stream(
        "exec",
        {
            "Transport": {"Type": "exec", "Run": "/bin/sh", "Args": ["-c", "printf '1\\n2\\n'"]},
            "Encoding": "json",
        },
    )
    assert list(s.read()) == [1, 2]


def test_inline_data_string_with_delimited_envelope():
    with pytest.warns(fs.FastScoreDeprecationWarning):
        s = fs.Stream(
            "dbg",
            {
                "Transport": {"Type": "debug", "Data": "aaa\nbbb\nccc"},
                "Envelope": "delimited",
                "Encoding": None,
                "Schema": None,
            },
        )
        assert s.sample().records == [b"aaa", b"bbb", b"ccc"]


def test_verify_returns_the_interpreted_form_and_lists_every_problem():
    interpreted = fs.Stream("rest:").verify()
    assert interpreted["transport"] == {"type": "rest", "mode": "simple"}
    assert interpreted["loop"] is False
    assert interpreted["batching"] == {"watermark": 1000, "nagle_time": 500}
    bad = fs.Stream(
        "bad",
        {
            "Transport": {"Type": "file", "Path": "/x"},
            "Encoding": "avro-binary",
            "Schema": None,
            "Envelope": "ocf-block",
            "OutputFields": 1,
        },
    )
    with pytest.raises(DescriptorError) as info:
        bad.verify()
    assert len(info.value.problems) >= 1
    assert all(p.code.startswith("FS-") for p in info.value.problems)


def test_secrets_are_redacted_and_the_descriptor_is_not_mutated(monkeypatch):
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "b",
            "ObjectKey": "k",
            "AccessKeyID": "AKIAEXAMPLEKEY",
            "SecretAccessKey": "very-secret-value",
        },
        "Encoding": "json",
    }
    s = fs.Stream("s3", desc)
    for text in (repr(s), s._repr_html_(), s.to_json(), json.dumps(s.verify())):
        assert "very-secret-value" not in text
        assert "AKIAEXAMPLEKEY" not in text
    assert s.desc["Transport"]["SecretAccessKey"] == "very-secret-value"
    desc["Transport"]["Bucket"] = "changed"
    assert s.desc["Transport"]["Bucket"] == "b"


def test_load_and_library_lookup(tmp_path, iris_file):
    lib = fs.Library(tmp_path / "lib")
    lib.schemas["iris"] = fs.Schema("iris", IRIS_SCHEMA)
    path = tmp_path / "iris-in.json"
    path.write_text(
        json.dumps(
            {
                "Transport": {"Type": "file", "Path": str(iris_file)},
                "Loop": False,
                "Encoding": "json",
                "Schema": {"$ref": "iris"},
            }
        )
    )
    s = fs.Stream.load(path, library=lib)
    assert s.name == "iris-in"
    assert s.schema.fields == IRIS_FIELDS
    lib.streams["iris-in"] = s
    again = fs.Stream("iris-in", library=lib)
    assert again.desc == s.desc
    assert isinstance(again.sample(2).to_pandas(), pd.DataFrame)


def test_bad_descriptor_text_is_a_descriptor_error(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"Transport": ')
    with pytest.raises(DescriptorError, match="not valid JSON"):
        fs.Stream.load(path)
    with pytest.raises(DescriptorError):
        fs.Stream("x", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_sample_html_has_a_footer(iris_file):
    html = file_stream(iris_file).sample(3)._repr_html_()
    assert "3 records" in html and "0 rejected" in html
