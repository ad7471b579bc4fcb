"""normalize: canonical names, silent case differences, warned old spellings, shortcuts, legacy format."""

from __future__ import annotations

import copy
import json
import warnings

import pytest

from fastscore_sdk.descriptor import from_json, from_legacy, interpret, is_legacy, normalize, to_json
from fastscore_sdk.errors import DescriptorError, FastScoreDeprecationWarning

# -- old spellings warn, each naming the old and the new spelling -------------------------------------


@pytest.mark.parametrize(
    ("desc", "old", "new", "expected"),
    [
        (
            {"Transport": {"Type": "file", "Path": "/d/x"}, "Envelope": "deliminated"},
            "deliminated",
            "delimited",
            {
                "Transport": {"Type": "file", "Path": "/d/x"},
                "Envelope": {"Type": "delimited", "Separator": "\n"},
            },
        ),
        (
            {
                "Transport": {"Type": "file", "Path": "/d/x"},
                "Envelope": {"Type": "deliminated", "Separator": "|"},
            },
            "deliminated",
            "delimited",
            {
                "Transport": {"Type": "file", "Path": "/d/x"},
                "Envelope": {"Type": "delimited", "Separator": "|"},
            },
        ),
        (
            {
                "Transport": {"Type": "HTTP", "Url": "http://h/x"},
                "Envelope": {"Type": "delimited", "Seperator": "\r\n"},
            },
            "Seperator",
            "Separator",
            {
                "Transport": {"Type": "HTTP", "Url": "http://h/x"},
                "Envelope": {"Type": "delimited", "Separator": "\r\n"},
            },
        ),
        (
            {"Transport": {"Type": "UDP", "Bind": "127.0.0.1", "Port": 5}},
            "Bind",
            "BindTo",
            {"Transport": {"Type": "UDP", "BindTo": "127.0.0.1", "Port": 5}},
        ),
        (
            {"Transport": {"Type": "UDP", "Host": "10.0.0.1", "Port": 124}},
            "Host",
            "BindTo",
            {"Transport": {"Type": "UDP", "BindTo": "10.0.0.1", "Port": 124}},
        ),
        (
            {"Transport": {"Type": "debug", "Data": ["1"]}},
            "debug",
            "inline",
            {"Transport": {"Type": "inline", "Data": ["1"]}},
        ),
        ({"Transport": "debug"}, "debug", "inline", {"Transport": {"Type": "inline"}}),
        (
            {"Transport": "REST", "Encoding": "utf8"},
            "utf8",
            "utf-8",
            {"Transport": {"Type": "REST", "Mode": "simple"}, "Encoding": "utf-8"},
        ),
        (
            {"Transport": "REST", "Encoding": "UTF8"},
            "UTF8",
            "utf-8",
            {"Transport": {"Type": "REST", "Mode": "simple"}, "Encoding": "utf-8"},
        ),
    ],
)
def test_old_spellings_are_accepted_with_a_warning(desc, old, new, expected):
    before = copy.deepcopy(desc)
    with pytest.warns(FastScoreDeprecationWarning) as caught:
        out = normalize(desc)
    assert out == expected
    assert desc == before
    message = str(caught[0].message)
    assert repr(old) in message and repr(new) in message


def test_every_alias_warns_through_interpret_too():
    with pytest.warns(FastScoreDeprecationWarning):
        form = interpret(
            {"Transport": {"Type": "debug", "Data": "a\nb"}, "Envelope": "deliminated", "Encoding": "utf8"}
        )
    assert form["transport"] == {"type": "inline", "data": "a\nb"}
    assert form["envelope"] == {"type": "delimited", "separator": "\n"}
    assert form["encoding"] == "utf-8"


def test_warn_false_keeps_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalize({"Transport": "debug"}, warn=False) == {"Transport": {"Type": "inline"}}


def test_the_warning_points_at_the_callers_line():
    with pytest.warns(FastScoreDeprecationWarning) as caught:
        normalize({"Transport": {"Type": "debug", "Data": "x"}})
    assert caught[0].filename == __file__


# -- case differences are silent -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desc", "expected"),
    [
        ({"Transport": {"Type": "kafka"}}, {"Transport": {"Type": "Kafka"}}),
        ({"Transport": {"Type": "KAFKA"}}, {"Transport": {"Type": "Kafka"}}),
        ({"Transport": {"Type": "rest"}}, {"Transport": {"Type": "REST"}}),
        (
            {"Transport": {"Type": "Exec", "Run": "/bin/cat"}},
            {"Transport": {"Type": "exec", "Run": "/bin/cat"}},
        ),
        ({"Transport": {"Type": "File", "path": "/x"}}, {"Transport": {"Type": "file", "Path": "/x"}}),
        ({"Transport": {"Type": "s3", "objectkey": "k"}}, {"Transport": {"Type": "S3", "ObjectKey": "k"}}),
        (
            {"Transport": "rest", "Encoding": "JSON"},
            {"Transport": {"Type": "REST", "Mode": "simple"}, "Encoding": "json"},
        ),
        ({"transport": "discard", "encoding": None}, {"Transport": {"Type": "discard"}, "Encoding": None}),
        (
            {"Transport": "REST", "Encoding": "UTF-8"},
            {"Transport": {"Type": "REST", "Mode": "simple"}, "Encoding": "utf-8"},
        ),
        (
            {"Transport": "REST", "Encoding": "Avro-Binary"},
            {"Transport": {"Type": "REST", "Mode": "simple"}, "Encoding": "avro-binary"},
        ),
        (
            {"Transport": "REST", "Envelope": "OCF-Block"},
            {"Transport": {"Type": "REST", "Mode": "simple"}, "Envelope": {"Type": "ocf-block"}},
        ),
        (
            {"Transport": "REST", "Batching": "Explicit"},
            {
                "Transport": {"Type": "REST", "Mode": "simple"},
                "Batching": {"Watermark": None, "NagleTime": None},
            },
        ),
        (
            {"Transport": {"Type": "kafka", "bootstrap_servers": ["k:9092"], "TOPIC": "t"}},
            {"Transport": {"Type": "Kafka", "BootstrapServers": ["k:9092"], "Topic": "t"}},
        ),
    ],
)
def test_case_differences_are_silent(desc, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalize(desc) == expected


# -- shortcuts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "expanded"),
    [
        ("Transport", "REST", {"Type": "REST", "Mode": "simple"}),
        ("Transport", "discard", {"Type": "discard"}),
        ("Transport", "console", {"Type": "console"}),
        ("Envelope", "delimited", {"Type": "delimited", "Separator": "\n"}),
        ("Envelope", "ocf-block", {"Type": "ocf-block"}),
        ("Envelope", "fixed", {"Type": "fixed"}),
        ("Envelope", "delimited-csv", {"Type": "delimited-csv"}),
        ("Batching", "normal", {"Watermark": 1000, "NagleTime": 500}),
        ("Batching", "explicit", {"Watermark": None, "NagleTime": None}),
        ("Batching", None, {"Watermark": 1, "NagleTime": None}),
    ],
)
def test_shortcuts_expand(field, value, expanded):
    desc = {"Transport": {"Type": "file", "Path": "/x"}, field: value}
    assert normalize(desc)[field] == expanded


def test_unknown_values_are_kept_as_written_for_the_rules_to_report():
    desc = {
        "Transport": {"Type": "carrier-pigeon"},
        "Envelope": "zip",
        "Encoding": "avro",
        "Batching": "fast",
    }
    assert normalize(desc) == desc


# -- unknown keys, order, copies ---------------------------------------------------------------------------


def test_unknown_keys_are_kept_in_place():
    desc = {
        "Version": "1.2",
        "Transport": {
            "Type": "S3",
            "Bucket": "b",
            "ObjectKey": "k",
            "AssumeRoleWithSAML": "role",
            "EndpointUrl": "http://127.0.0.1:9000",
        },
        "Rotate": {"MaxSize": "5k"},
        "Config": {"x": 1},
        "Encoding": "json",
    }
    out = normalize(desc)
    assert out == desc
    assert list(out) == ["Version", "Transport", "Rotate", "Config", "Encoding"]
    assert list(out["Transport"]) == ["Type", "Bucket", "ObjectKey", "AssumeRoleWithSAML", "EndpointUrl"]


def test_normalize_returns_a_deep_copy_and_never_mutates():
    desc = {
        "Transport": {"Type": "kafka", "BootstrapServers": ["k:9092"], "Topic": "t"},
        "Schema": {"type": "int"},
    }
    before = copy.deepcopy(desc)
    out = normalize(desc)
    out["Transport"]["BootstrapServers"].append("x")
    out["Schema"]["type"] = "long"
    assert desc == before


def test_normalize_is_idempotent():
    with pytest.warns(FastScoreDeprecationWarning):
        once = normalize({"Transport": {"Type": "UDP", "Bind": "h", "Port": 1}, "Envelope": "deliminated"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert normalize(once) == once


def test_the_interpreted_form_normalizes_back_to_a_descriptor():
    form = interpret({"Transport": {"Type": "kafka", "BootstrapServers": ["k:9092"], "Topic": "t"}})
    again = normalize(form)
    assert again["Transport"]["Type"] == "Kafka"
    assert again["Transport"]["BootstrapServers"] == ["k:9092"]
    assert interpret(again) == form


def test_a_field_given_twice_is_an_error():
    with pytest.raises(DescriptorError) as info, pytest.warns(FastScoreDeprecationWarning):
        normalize({"Transport": {"Type": "UDP", "Bind": "a", "BindTo": "b", "Port": 1}})
    assert info.value.code == "FS-D031"
    assert info.value.field == "Transport.BindTo"
    with pytest.raises(DescriptorError) as info:
        normalize({"Loop": True, "loop": False, "Transport": "REST"})
    assert info.value.code == "FS-D031"


@pytest.mark.parametrize("value", [None, [], "rest:", 3])
def test_normalize_needs_an_object(value):
    with pytest.raises(DescriptorError) as info:
        normalize(value)  # type: ignore[arg-type]
    assert info.value.code == "FS-D030"


# -- the pre-1.2 format ---------------------------------------------------------------------------------------

LEGACY_KAFKA = {
    "type": "kafka",
    "loop": True,
    "schema": "int",
    "connect": {"bootstrap-servers": "localhost:9092", "topic": "t", "commit": False},
}


def test_legacy_format_is_detected_and_converted_with_a_warning():
    assert is_legacy(LEGACY_KAFKA)
    before = copy.deepcopy(LEGACY_KAFKA)
    with pytest.warns(FastScoreDeprecationWarning, match="pre-1.2"):
        out = normalize(LEGACY_KAFKA)
    assert out == {
        "Transport": {
            "Type": "Kafka",
            "BootstrapServers": ["localhost:9092"],
            "Topic": "t",
            "CommitOffset": False,
        },
        "Loop": True,
        "Schema": "int",
        "Encoding": "json",
    }
    assert before == LEGACY_KAFKA
    with pytest.warns(FastScoreDeprecationWarning):
        form = interpret(LEGACY_KAFKA)
    assert form["transport"] == {
        "type": "kafka",
        "bootstrap_servers": ["localhost:9092"],
        "topic": "t",
        "partition": 0,
        "max_wait_time": 8388607,
        "commit_offset": False,
    }
    assert form["loop"] is True
    assert form["skip_to_record"] == "earliest"


def test_legacy_file_and_http():
    with pytest.warns(FastScoreDeprecationWarning):
        assert normalize({"type": "file", "connect": {"path": "/d/x.jsons"}})["Transport"] == {
            "Type": "file",
            "Path": "/d/x.jsons",
        }
    with pytest.warns(FastScoreDeprecationWarning):
        assert interpret({"type": "http", "connect": {"url": "http://h/x"}})["transport"] == {
            "type": "http",
            "url": "http://h/x",
            "chunked": False,
        }
    assert from_legacy({"connect": {"path": "/x"}, "type": "file"}, warn=False)["Transport"]["Type"] == "file"
    assert not is_legacy({"Transport": "REST", "type": "x"})


# -- JSON round trip ------------------------------------------------------------------------------------------


def test_json_round_trip_is_lossless():
    desc = {
        "Version": "1.2",
        "Description": "S3 output with rotation — ünïcode kept",
        "Transport": {
            "Type": "S3",
            "Bucket": "iris-data-bucket",
            "ObjectKey": "iris_predictions.jsons",
            "Region": "us-east-2",
            "AssumeRoleWithSAML": "role",
            "AccessKeyID": "secret://AccessKeyID",
        },
        "Rotate": {"MaxSize": "5k"},
        "Envelope": "deliminated",
        "Encoding": "JSON",
        "LingerTime": None,
        "Schema": {"type": "record", "name": "r", "fields": [{"name": "x", "type": "double"}]},
    }
    text = to_json(desc)
    assert json.loads(text) == desc
    assert list(json.loads(text)) == list(desc)
    assert from_json(text) == desc
    assert json.loads(to_json(desc, indent=None)) == desc


def test_to_json_refuses_values_json_cannot_hold():
    with pytest.raises(DescriptorError) as info:
        to_json({"Transport": {"Type": "inline", "DataBinary": b"\x01"}})
    assert info.value.code == "FS-D033"
    with pytest.raises(DescriptorError):
        to_json({"LingerTime": float("nan")})


def test_from_json_errors():
    with pytest.raises(DescriptorError, match="not valid JSON") as info:
        from_json('{"Transport": ')
    assert info.value.code == "FS-D033"
    assert "line 1" in str(info.value)
    with pytest.raises(DescriptorError) as info:
        from_json("[1, 2]")
    assert info.value.code == "FS-D030"
