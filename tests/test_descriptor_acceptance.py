"""Reference §7 items 1-11 (descriptor model and literals), in this SDK's descriptor API.

Where an item contradicts DESIGN.md (relative ``file:`` literals, warnings on case), DESIGN wins.
"""

from __future__ import annotations

import copy
import json
import os
import warnings

import pytest

from fastscore_sdk.descriptor import check, from_json, from_literal, interpret, normalize, redact, to_json
from fastscore_sdk.errors import DescriptorError, FastScoreDeprecationWarning
from fastscore_sdk.secrets import resolve


def test_item_1_rest_literal():
    desc = from_literal("rest:")
    assert desc == {"Transport": "REST", "Encoding": "json"}
    form = interpret(desc)
    assert form["transport"] == {"type": "rest", "mode": "simple"}
    assert form["loop"] is False
    assert form["linger_time"] == 3000
    assert form["batching"] == {"watermark": 1000, "nagle_time": 500}


def test_item_2_kafka_literals():
    desc = from_literal("kafka:kafka:9092/input.json")
    assert desc["Transport"] == {"Type": "Kafka", "BootstrapServers": ["kafka:9092"], "Topic": "input"}
    assert desc["Encoding"] == "json"
    avro = from_literal("kafka:b/t.avro")
    assert avro["Transport"]["BootstrapServers"] == ["b:9092"]
    assert avro["Transport"]["Topic"] == "t"
    assert avro["Encoding"] == "avro-binary"


def test_item_3_file_literals(tmp_path, monkeypatch):
    assert from_literal("file:/d/x.avro")["Encoding"] == "avro-binary"
    # DESIGN §5: a relative path is resolved against the current directory rather than refused.
    monkeypatch.chdir(tmp_path)
    assert from_literal("file:rel.json")["Transport"]["Path"] == os.path.join(str(tmp_path), "rel.json")
    with pytest.raises(DescriptorError) as info:
        from_literal("file:")
    assert "'file:'" in str(info.value) and "file:/data/in.jsons" in str(info.value)


def test_item_4_inline_binary_literal():
    assert from_literal("inline:%01,%02")["Transport"]["DataBinary"] == ["AQ==", "Ag=="]
    assert interpret("inline:%01,%02")["transport"] == {"type": "inline", "data_binary": ["AQ==", "Ag=="]}


def test_item_5_udp_and_tcp_literals():
    assert from_literal("udp::9099")["Transport"] == {"Type": "UDP", "BindTo": "0.0.0.0", "Port": 9099}
    assert from_literal("tcp::5678")["Transport"]["Host"] == "0.0.0.0"


def test_item_6_http_exec_discard_literals():
    assert from_literal("http://h/x.utf8")["Encoding"] == "utf-8"
    assert from_literal("exec:/bin/cat")["Transport"] == {"Type": "exec", "Run": "/bin/cat"}
    assert from_literal("discard:")["Transport"] == "discard"


def test_item_7_json_round_trip_is_lossless_with_unknown_keys():
    desc = {
        "Transport": {"Type": "file", "Path": "/tmp/in.jsons"},
        "Loop": True,
        "Envelope": "delimited",
        "Encoding": "json",
        "Schema": {"$ref": "close_price"},
        "Rotate": {"MaxSize": "5k"},
    }
    s3 = {"Transport": {"Type": "S3", "Bucket": "b", "ObjectKey": "k", "AssumeRoleWithSAML": "role"}}
    for d in (desc, s3):
        assert from_json(to_json(d)) == d
        assert normalize(json.loads(to_json(d)))["Transport"] == normalize(d)["Transport"]
    assert interpret(desc)["rotate"] == {"MaxSize": "5k"}
    assert interpret(s3)["transport"]["assume_role_with_saml"] == "role"


def test_item_8_defaults():
    file_form = interpret({"Transport": {"Type": "file", "Path": "/d/in.jsons"}, "Encoding": "json"})
    assert file_form["loop"] is True
    assert file_form["envelope"] == {"type": "delimited", "separator": "\n"}
    kafka = interpret({"Transport": {"Type": "kafka", "BootstrapServers": ["k:9092"], "Topic": "t"}})
    assert kafka["envelope"] is None and kafka["skip_to_record"] == "latest"
    csv = interpret({"Transport": {"Type": "file", "Path": "/d/in.csv"}, "Encoding": "csv"}, slot=0)
    assert csv["envelope"] == {
        "type": "delimited-csv",
        "separator": "\r\n",
        "skip_header": True,
        "skip_blank_lines": True,
    }
    assert interpret({"Transport": "REST", "LingerTime": None})["linger_time"] is None


@pytest.mark.parametrize(
    ("desc", "path", "value"),
    [
        (
            {"Transport": {"Type": "file", "Path": "/x"}, "Envelope": "deliminated"},
            ("envelope", "type"),
            "delimited",
        ),
        (
            {
                "Transport": {"Type": "file", "Path": "/x"},
                "Envelope": {"Type": "delimited", "Seperator": "|"},
            },
            ("envelope", "separator"),
            "|",
        ),
        ({"Transport": {"Type": "UDP", "Bind": "1.2.3.4", "Port": 1}}, ("transport", "bind_to"), "1.2.3.4"),
        ({"Transport": {"Type": "debug", "Data": ["1"]}}, ("transport", "type"), "inline"),
        ({"Transport": "REST", "Encoding": "utf8"}, ("encoding",), "utf-8"),
    ],
)
def test_item_9_aliases_normalise_with_a_warning(desc, path, value):
    with pytest.warns(FastScoreDeprecationWarning):
        form = interpret(desc)
    for key in path:
        form = form[key]
    assert form == value


def test_item_9_case_is_silent():
    # DESIGN §8: "JSON" is a case difference, accepted without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert interpret({"Transport": "REST", "Encoding": "JSON"})["encoding"] == "json"


def test_item_10_restrictions():
    def messages(desc, **kw):
        with pytest.raises(DescriptorError) as info:
            interpret(desc, **kw)
        return [p.message for p in info.value.problems]

    assert "avro-binary encoding requires a schema" in messages(
        {"Transport": {"Type": "file", "Path": "/x"}, "Encoding": "avro-binary", "Schema": None}
    )
    odbc = {
        "Transport": {"Type": "ODBC", "ConnectionString": "DSN=x", "SelectQuery": "SELECT 1"},
        "Encoding": "json",
    }
    assert any("ODBC" in m and "Encoding" in m for m in messages(odbc))
    assert any(
        "Looping requires a seekable transport" in m for m in messages({"Transport": "REST", "Loop": True})
    )
    out = {"Transport": {"Type": "ODBC", "ConnectionString": "DSN=x", "OutputFields": ["a"]}}
    assert "OutputFields requires InsertIntoTable" in messages(out, slot=1)


def test_item_11_secrets_resolve_and_redact(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(tmp_path))
    (tmp_path / "AccessKeyID").write_text("AKIAIOSFODNN7EXAMPLE\n")
    assert resolve("secret://AccessKeyID") == "AKIAIOSFODNN7EXAMPLE"
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "b",
            "ObjectKey": "k",
            "AccessKeyID": "AKIAIOSFODNN7EXAMPLE",
            "SecretAccessKey": "wJalrXUtnFEMI",
        },
        "Encoding": "json",
    }
    odbc = {"Transport": {"Type": "ODBC", "ConnectionString": "Driver=MySQL;Server=db;Password=root"}}
    hdfs = {
        "Transport": {
            "Type": "HDFS",
            "NameNode": "nn",
            "Path": "/x",
            "Authentication": {"Type": "Kerberos", "Password": "hdfs-pw"},
        }
    }
    before = copy.deepcopy([desc, odbc, hdfs])
    shown = [redact(desc), redact(odbc), redact(hdfs)]
    assert shown[0]["Transport"]["SecretAccessKey"] == "*****"
    assert shown[0]["Transport"]["AccessKeyID"] == "*****"
    assert shown[1]["Transport"]["ConnectionString"] == "Driver=MySQL;Server=db;Password=*****"
    assert shown[2]["Transport"]["Authentication"]["Password"] == "*****"
    text = json.dumps(shown) + json.dumps(interpret(desc)) + json.dumps(interpret(hdfs))
    for secret in ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI", "root", "hdfs-pw"):
        assert secret not in text
    assert [desc, odbc, hdfs] == before
    assert check(hdfs) == []
