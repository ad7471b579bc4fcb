"""Every descriptor example of the two seed documents and of reference §1 and §6 loads, with its full
interpreted form.

The examples are written out here (they are not read from the documents). Where a document shows a
template rather than a descriptor (``"Type": "REST" | "HTTP" | ...``, ``// comments``, ``{ ... }``), it
is filled in consistently and the choice is said in the test.
"""

from __future__ import annotations

import pytest

from fastscore_sdk.descriptor import check, from_literal, interpret
from fastscore_sdk.errors import FastScoreDeprecationWarning

NORMAL = {"watermark": 1000, "nagle_time": 500}
EXPLICIT = {"watermark": None, "nagle_time": None}
LINES = {"type": "delimited", "separator": "\n"}
END = "$end-of-stream"
KAFKA_DEFAULTS = {"partition": 0, "max_wait_time": 8388607, "commit_offset": True}
IRIS_INPUT = {
    "type": "record",
    "name": "xgboost_iris_input",
    "fields": [
        {"name": n, "type": "double"} for n in ("petal_length", "petal_width", "sepal_length", "sepal_width")
    ],
}
FOUR_DOUBLES = {
    "type": "record",
    "name": "four_doubles",
    "fields": [{"name": n, "type": "double"} for n in ("first", "second", "third", "last")],
}
SCHEMAS = {
    "xgboost_iris_input": IRIS_INPUT,
    "four-doubles": FOUR_DOUBLES,
    "array-double": {"type": "array", "items": "double"},
}


def resolve(name):
    return SCHEMAS[name]


@pytest.fixture
def aws_secrets(tmp_path, monkeypatch):
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "AccessKeyID").write_text("AKIAIOSFODNN7EXAMPLE\n")
    (folder / "SecretAccessKey").write_text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(folder))
    return folder


# -- seed "Build and Testing a Stream" (S0) -----------------------------------------------------------------


def test_s0_rest_trip():
    desc = {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}
    assert interpret(desc, slot=0) == {
        "transport": {"type": "rest", "mode": "simple"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": None,
        "batching": {"watermark": None, "nagle_time": 0},
        "linger_time": 3000,
    }
    assert check(desc, slot=1) == []


def test_s0_rest_literals():
    assert interpret(from_literal("rest:")) == {
        "transport": {"type": "rest", "mode": "simple"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_s0_template_filled_in_as_rest():
    # The template offers one of ten types, any encoding, any envelope and a schema: REST, json, none.
    desc = {
        "Description": "A stream descriptor template",
        "Transport": {"Type": "REST"},
        "Encoding": "json",
        "Envelope": None,
        "Schema": IRIS_INPUT,
    }
    assert interpret(desc) == {
        "transport": {"type": "rest", "mode": "simple"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": IRIS_INPUT,
        "batching": NORMAL,
        "linger_time": 3000,
        "description": "A stream descriptor template",
    }


def test_s0_s3_template_with_plaintext_placeholders():
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "<bucket-name>",
            "ObjectKey": "<file-name>",
            "AccessKeyID": "<AccessKeyID>",
            "SecretAccessKey": "<SecretAccessKey>",
        }
    }
    assert interpret(desc) == {
        "transport": {
            "type": "s3",
            "bucket": "<bucket-name>",
            "object_key": "<file-name>",
            "region": "us-east-1",
            "access_key_id": "*****",
            "secret_access_key": "*****",
            "integrity_checks": False,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_s0_s3_template_with_docker_secrets(aws_secrets):
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "<bucket-name>",
            "ObjectKey": "<file-name>",
            "AccessKeyID": "secret://AccessKeyID",
            "SecretAccessKey": "secret://SecretAccessKey",
        },
        "Encoding": "json",
    }
    shown = interpret(desc)
    assert shown["transport"] == {
        "type": "s3",
        "bucket": "<bucket-name>",
        "object_key": "<file-name>",
        "region": "us-east-1",
        "access_key_id": "*****",
        "secret_access_key": "*****",
        "integrity_checks": False,
    }
    assert shown["envelope"] == LINES and shown["encoding"] == "json"
    assert check(desc, slot=0, check_secrets=True) == []
    revealed = interpret(desc, reveal_secrets=True)["transport"]
    assert revealed["access_key_id"] == "AKIAIOSFODNN7EXAMPLE"
    assert revealed["secret_access_key"] == "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    assert "EXAMPLEKEY" not in repr(revealed)


def test_s0_kafka_section_file_stream():
    desc = {
        "Version": "1.2",
        "Envelope": "delimited",
        "Loop": True,
        "Transport": {"Path": "/tmp/close_prices.jsons", "Type": "file"},
        "Encoding": "json",
    }
    assert interpret(desc, slot=0) == {
        "transport": {"type": "file", "path": "/tmp/close_prices.jsons"},
        "loop": True,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
    }


# -- seed "Stream Descriptors" (S1) ----------------------------------------------------------------------------


def test_s1_template_filled_in_as_kafka():
    # Kafka fields of the template, with its top-level defaults. Kafka carries whole messages, so the
    # template's "Envelope": "deliminated" cannot go with it (FS-D002); see the file instance below.
    desc = {
        "Version": "1.2",
        "Description": "My Sample stream descriptor",
        "Transport": {
            "Type": "kafka",
            "BootstrapServers": ["127.0.0.1:9181", "192.168.1.5:9003"],
            "Topic": "My Kafka Topic",
            "Partition": 1,
            "MaxWaitTime": 50000,
            "Principal": "kafka/kafka@REALM",
            "Keytab": "/fastscore.keytab",
        },
        "Loop": False,
        "EndMarker": "$end-of-stream",
        "SkipTo": None,
        "SkipToRecord": "latest",
        "Envelope": None,
        "Encoding": None,
        "Schema": None,
    }
    assert interpret(desc) == {
        "transport": {
            "type": "kafka",
            "bootstrap_servers": ["127.0.0.1:9181", "192.168.1.5:9003"],
            "topic": "My Kafka Topic",
            "partition": 1,
            "max_wait_time": 50000,
            "commit_offset": True,
            "principal": "kafka/kafka@REALM",
            "keytab": "*****",
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": "latest",
        "end_marker": END,
        "envelope": None,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "My Sample stream descriptor",
    }


def test_s1_template_filled_in_as_file_with_its_deliminated_envelope():
    desc = {
        "Version": "1.2",
        "Description": "My Sample stream descriptor",
        "Transport": {"Type": "file", "Path": "/path/to/file.ext"},
        "Loop": False,
        "EndMarker": "$end-of-stream",
        "SkipTo": None,
        "Envelope": "deliminated",
        "Encoding": "json",
        "Schema": "int",
    }
    with pytest.warns(FastScoreDeprecationWarning, match="deliminated"):
        form = interpret(desc)
    assert form == {
        "transport": {"type": "file", "path": "/path/to/file.ext"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": "int",
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "My Sample stream descriptor",
    }


def test_s1_self_schema_seperator():
    desc = {
        "Version": "1.2",
        "Transport": {"Type": "file", "Path": "/d/x"},
        "Envelope": {"Type": "deliminated", "Seperator": "\n"},
        "Encoding": "json",
    }
    with pytest.warns(FastScoreDeprecationWarning) as caught:
        form = interpret(desc)
    assert form["envelope"] == LINES
    assert {"'deliminated'", "'Seperator'"} <= {str(w.message).split()[2] for w in caught}


def test_s1_rest():
    desc = {"Transport": {"Type": "REST"}, "Envelope": "delimited", "Encoding": "JSON", "Schema": None}
    assert interpret(desc) == {
        "transport": {"type": "rest", "mode": "simple"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_s1_debug_data_string():
    desc = {
        "Version": "1.2",
        "Description": "read an inline sequence of 3 messages separated by newlines",
        "Transport": {"Type": "debug", "Data": "aaa\nbbb\nccc"},
        "Envelope": "delimited",
        "Encoding": None,
        "Schema": None,
    }
    with pytest.warns(FastScoreDeprecationWarning, match="'debug'"):
        form = interpret(desc, slot=0)
    assert form == {
        "transport": {"type": "inline", "data": "aaa\nbbb\nccc"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "read an inline sequence of 3 messages separated by newlines",
    }


def test_s1_debug_data_binary_list():
    desc = {
        "Version": "1.2",
        "Description": "read an inline sequence of 3 binary messages",
        "Transport": {"Type": "debug", "DataBinary": ["uKs/srYgWfY=", "kiqGJppq2Z4=", "VBPsuSTfUiM="]},
        "Envelope": "delimited",
        "Encoding": None,
        "Schema": None,
    }
    with pytest.warns(FastScoreDeprecationWarning):
        form = interpret(desc, slot=0)
    assert form == {
        "transport": {"type": "inline", "data_binary": ["uKs/srYgWfY=", "kiqGJppq2Z4=", "VBPsuSTfUiM="]},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "read an inline sequence of 3 binary messages",
    }


def test_s1_http():
    desc = {
        "Version": "1.2",
        "Description": "read a sequence of opaque (unicode) strings separated by newlines over HTTP transport",
        "Transport": {
            "Type": "HTTP",
            "Url": "https://s3-us-west-1.amazonaws.com/fastscore-sample-data/prime.test.stream",
        },
        "Envelope": {"Type": "delimited", "Separator": "\r\n"},
        "Encoding": None,
        "Schema": None,
    }
    assert interpret(desc, slot=0) == {
        "transport": {
            "type": "http",
            "url": "https://s3-us-west-1.amazonaws.com/fastscore-sample-data/prime.test.stream",
            "chunked": False,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": {"type": "delimited", "separator": "\r\n"},
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "read a sequence of opaque (unicode) strings separated by newlines over HTTP transport",
    }


def test_s1_kafka_input():
    desc = {
        "Version": "1.2",
        "Description": "read a sequence of opaque (unicode) strings over Kafka transport",
        "Transport": {
            "Type": "kafka",
            "BootstrapServers": ["127.0.0.1:9092"],
            "Topic": "data-feed-1",
            "Partition": 0,
        },
        "Envelope": None,
        "Encoding": None,
        "Schema": None,
    }
    assert interpret(desc, slot=0) == {
        "transport": {
            "type": "kafka",
            "bootstrap_servers": ["127.0.0.1:9092"],
            "topic": "data-feed-1",
            **KAFKA_DEFAULTS,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": "latest",
        "end_marker": END,
        "envelope": None,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "read a sequence of opaque (unicode) strings over Kafka transport",
    }


def test_s1_kafka_avro_binary_output():
    # The document elides the schema ({ type: "record", ... }); a real record stands in for it.
    desc = {
        "Version": "1.2",
        "Description": "write a sequence of binary-encoded Avro documents to Kafka",
        "Transport": {
            "Type": "kafka",
            "BootstrapServers": ["127.0.0.1:9092"],
            "Topic": "data-feed-1",
            "Partition": 0,
        },
        "Envelope": None,
        "Encoding": "avro-binary",
        "Schema": IRIS_INPUT,
    }
    assert interpret(desc, slot=1) == {
        "transport": {
            "type": "kafka",
            "bootstrap_servers": ["127.0.0.1:9092"],
            "topic": "data-feed-1",
            **KAFKA_DEFAULTS,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": "latest",
        "end_marker": None,
        "envelope": None,
        "encoding": "avro-binary",
        "schema": IRIS_INPUT,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "write a sequence of binary-encoded Avro documents to Kafka",
    }


def test_s1_file_input():
    desc = {
        "Version": "1.2",
        "Loop": False,
        "Transport": {"Type": "file", "Path": "/root/data/input.jsons"},
        "Envelope": "delimited",
        "Encoding": "json",
        "Schema": "int",
    }
    assert interpret(desc, slot=0) == {
        "transport": {"type": "file", "path": "/root/data/input.jsons"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": "int",
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
    }
    # "An analogous stream descriptor can be used for a file output stream."
    assert check(desc, slot=1) == []


def test_s1_tcp():
    desc = {
        "Version": "1.2",
        "Description": "read a sequence of untyped json separated by newlines over TCP transport",
        "Transport": {"Type": "TCP", "Host": "127.0.0.1", "Port": 12012},
        "Envelope": "delimited",
        "Encoding": "json",
        "Schema": None,
    }
    assert interpret(desc, slot=0) == {
        "transport": {"type": "tcp", "host": "127.0.0.1", "port": 12012},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "read a sequence of untyped json separated by newlines over TCP transport",
    }


def test_s1_udp_with_bind():
    desc = {
        "Version": "1.2",
        "Description": "read a sequence of untyped json documents over UDP transport",
        "Transport": {"Type": "UDP", "Bind": "0.0.0.0", "Port": 53053},
        "Envelope": None,
        "Encoding": "json",
        "Schema": None,
    }
    with pytest.warns(FastScoreDeprecationWarning, match="'Bind'.*'BindTo'"):
        form = interpret(desc, slot=0)
    assert form == {
        "transport": {"type": "udp", "bind_to": "0.0.0.0", "port": 53053},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        "version": "1.2",
        "description": "read a sequence of untyped json documents over UDP transport",
    }


# -- reference §1 ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("desc", "slot", "transport"),
    [
        ({"Transport": "discard"}, 1, {"type": "discard"}),
        ({"Transport": {"Type": "discard"}}, 1, {"type": "discard"}),
        ({"Transport": "console"}, 1, {"type": "console"}),
    ],
)
def test_reference_1_2_transport_shortcuts(desc, slot, transport):
    assert interpret(desc, slot=slot) == {
        "transport": transport,
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_reference_1_2_envelope_and_batching_shortcuts():
    base = {"Transport": {"Type": "file", "Path": "/d/x.avro"}, "Encoding": "avro-binary", "Schema": "int"}
    assert interpret({**base, "Envelope": "ocf-block"})["envelope"] == {
        "type": "ocf-block",
        "sync_marker": None,
        "compress": None,
        "skip_header": True,
    }
    rest = {"Transport": "REST", "Encoding": "json"}
    assert interpret({**rest, "Batching": "explicit"})["batching"] == EXPLICIT
    assert interpret({**rest, "Batching": "normal"})["batching"] == NORMAL
    assert interpret({**rest, "Batching": None})["batching"] == {"watermark": 1, "nagle_time": None}
    assert interpret(rest)["batching"] == NORMAL


def test_reference_1_2_csv_brings_delimited_csv():
    desc = {"Transport": {"Type": "file", "Path": "/d/x.csv"}, "Encoding": "csv", "Schema": FOUR_DOUBLES}
    form = interpret(desc)
    assert form["envelope"] == {
        "type": "delimited-csv",
        "separator": "\r\n",
        "skip_header": True,
        "skip_blank_lines": True,
    }
    assert form["encoding"] == {"type": "csv", "quote_character": '"', "delimiter": ","}


def test_reference_1_3_inter_engine():
    desc = {
        "Transport": {"Type": "kafka", "BootstrapServers": ["kafka:9092"], "Topic": "inter-engine"},
        "Envelope": None,
        "Encoding": "json",
    }
    expected = {
        "transport": {
            "type": "kafka",
            "bootstrap_servers": ["kafka:9092"],
            "topic": "inter-engine",
            **KAFKA_DEFAULTS,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": "latest",
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }
    # One engine writes the topic (slot 1), the next reads it (slot 0).
    assert interpret(desc, slot=1) == expected
    assert interpret(desc, slot=0) == expected


def test_reference_1_3_odbc_mysql():
    desc = {
        "Transport": {
            "Type": "ODBC",
            "ConnectionString": "Driver=MySQL;Server=database;Port=3306;Database=fastscore;User=root;Password=root",
            "SelectQuery": "SELECT * FROM iris",
        },
        "Encoding": None,
        "Schema": None,
    }
    assert interpret(desc, slot=0) == {
        "transport": {
            "type": "odbc",
            "connection_string": "Driver=MySQL;Server=database;Port=3306;Database=fastscore;User=root;Password=*****",
            "select_query": "SELECT * FROM iris",
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }
    revealed = interpret(desc, reveal_secrets=True)["transport"]["connection_string"]
    assert revealed.endswith("Password=root")
    output = {
        "Transport": {
            "Type": "ODBC",
            "ConnectionString": "Driver=MySQL;Server=database;Port=3306;Database=fastscore;User=root;Password=root",
            "InsertIntoTable": "scores",
            "OutputFields": ["id", "score"],
        },
        "Encoding": None,
        "Schema": None,
    }
    assert interpret(output, slot=1)["transport"]["output_fields"] == ["id", "score"]


def test_reference_1_3_rest_lowercase_and_s3_sts():
    assert interpret({"Transport": {"Type": "rest"}, "Encoding": "json"})["transport"] == {
        "type": "rest",
        "mode": "simple",
    }
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "iris-data-bucket",
            "ObjectKey": "xgboost_iris_inputs.jsons",
            "Region": "us-east-2",
            "AssumeRoleWithSAML": "role",
        },
        "Encoding": "JSON",
    }
    assert interpret(desc)["transport"] == {
        "type": "s3",
        "bucket": "iris-data-bucket",
        "object_key": "xgboost_iris_inputs.jsons",
        "region": "us-east-2",
        "integrity_checks": False,
        "assume_role_with_saml": "role",
    }


def test_reference_1_4_doc_cli_inline_interpretation():
    assert interpret("inline:1,2,3") == {
        "transport": {"type": "inline", "data": ["1", "2", "3"]},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_reference_1_7_fsd_deploy_stream():
    desc = {
        "Transport": {"Type": "REST", "Mode": "chunked"},
        "Encoding": "json",
        "Envelope": "delimited",
        "Schema": {"$ref": "xgboost_iris_input"},
        "Batching": "explicit",
    }
    assert interpret(desc, slot=0, resolve_schema=resolve) == {
        "transport": {"type": "rest", "mode": "chunked"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": IRIS_INPUT,
        "batching": EXPLICIT,
        "linger_time": 3000,
    }
    # Without a resolver the reference is kept as written.
    assert interpret(desc)["schema"] == {"$ref": "xgboost_iris_input"}


def test_reference_1_9_rest_with_null_schema():
    assert interpret({"Transport": "REST", "Schema": None}) == {
        "transport": {"type": "rest", "mode": "simple"},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": None,
        "encoding": None,
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_reference_1_1_explicit_nulls_and_rotate():
    desc = {
        "Transport": {"Type": "S3", "Bucket": "lr", "ObjectKey": "out.jsons"},
        "Encoding": "json",
        "LingerTime": None,
        "EndMarker": None,
        "Rotate": {"MaxSize": "5k"},
        "Schema": "$inherit",
    }
    assert interpret(desc, slot=1) == {
        "transport": {
            "type": "s3",
            "bucket": "lr",
            "object_key": "out.jsons",
            "region": "us-east-1",
            "integrity_checks": False,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": None,
        "envelope": LINES,
        "encoding": "json",
        "schema": "$inherit",
        "batching": NORMAL,
        "linger_time": None,
        "rotate": {"MaxSize": "5k"},
    }


def test_reference_1_11_s3_input_secret(aws_secrets):
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "iris-data-bucket",
            "ObjectKey": "xgboost_iris_inputs.jsons",
            "Region": "us-east-2",
            "AccessKeyID": "secret://AccessKeyID",
            "SecretAccessKey": "secret://SecretAccessKey",
        },
        "Envelope": "delimited",
        "Encoding": "json",
    }
    assert interpret(desc, slot=0) == {
        "transport": {
            "type": "s3",
            "bucket": "iris-data-bucket",
            "object_key": "xgboost_iris_inputs.jsons",
            "region": "us-east-2",
            "access_key_id": "*****",
            "secret_access_key": "*****",
            "integrity_checks": False,
        },
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_demo_kafka_from_the_earliest_record():
    desc = {
        "Transport": {"Type": "Kafka", "BootstrapServers": ["kafka:9092"], "Topic": "input"},
        "SkipToRecord": "earliest",
        "Envelope": None,
        "Encoding": "json",
    }
    assert interpret(desc)["skip_to_record"] == "earliest"


# -- reference §6 ------------------------------------------------------------------------------------------------------


def _file(path, loop, **extra):
    return {
        "Transport": {"Type": "file", "Path": path},
        "Loop": loop,
        "Envelope": "delimited",
        "Encoding": "json",
        **extra,
    }


def _kafka(topic):
    return {
        "Transport": {"Type": "kafka", "BootstrapServers": ["kafka:9092"], "Topic": topic},
        "Envelope": None,
        "Encoding": "json",
    }


@pytest.mark.parametrize(
    ("name", "desc", "slot", "changes"),
    [
        ("lr-input-file-stream", _file("/data/close_prices.jsons", True), 0, {"loop": True}),
        ("iris_file_input", _file("/tmp/xgboost_iris_inputs.jsons", True), 0, {"loop": True}),
        ("xgboost_file", _file("/tmp/input.jsons", False), 0, {}),
        (
            "array-double-input",
            _file("/tmp/data/schemaInputArrayDouble.jsons", False, Schema={"$ref": "array-double"}),
            0,
            {"schema": {"type": "array", "items": "double"}},
        ),
        (
            "array-double-output",
            _file("/tmp/data/output.jsons", False, Schema={"$ref": "array-double"}),
            1,
            {"schema": {"type": "array", "items": "double"}},
        ),
        (
            "doubles-output-file",
            _file("/tmp/data/doubles-out.jsons", False, Schema="double"),
            1,
            {"schema": "double"},
        ),
    ],
)
def test_reference_6_file_streams(name, desc, slot, changes):
    path = desc["Transport"]["Path"]
    expected = {
        "transport": {"type": "file", "path": path},
        "loop": False,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
        **changes,
    }
    assert interpret(desc, slot=slot, resolve_schema=resolve) == expected, name


@pytest.mark.parametrize(
    ("name", "topic", "slot"),
    [
        ("influx-mux-kafka", "influx-mux-in", 1),
        ("iris_kafka", "iris", 1),
        ("iris_stream", "iris-output", 1),
        ("kafka_in", "input", 0),
        ("kafka_out", "output", 1),
    ],
)
def test_reference_6_kafka_streams(name, topic, slot):
    assert interpret(_kafka(topic), slot=slot) == {
        "transport": {"type": "kafka", "bootstrap_servers": ["kafka:9092"], "topic": topic, **KAFKA_DEFAULTS},
        "loop": False,
        "skip_to": None,
        "skip_to_record": "latest",
        "end_marker": END,
        "envelope": None,
        "encoding": "json",
        "schema": None,
        "batching": NORMAL,
        "linger_time": 3000,
    }, name


def test_reference_6_four_doubles_csv_input():
    desc = {
        "Transport": {"Type": "file", "Path": "/tmp/data/four-doubles.csv"},
        "Envelope": "delimited",
        "Encoding": "csv",
        "Schema": {"$ref": "four-doubles"},
    }
    assert interpret(desc, slot=0, resolve_schema=resolve) == {
        "transport": {"type": "file", "path": "/tmp/data/four-doubles.csv"},
        "loop": True,
        "skip_to": None,
        "skip_to_record": None,
        "end_marker": END,
        "envelope": LINES,
        "encoding": {"type": "csv", "quote_character": '"', "delimiter": ","},
        "schema": FOUR_DOUBLES,
        "batching": NORMAL,
        "linger_time": 3000,
    }


def test_reference_6_s3_output(aws_secrets):
    desc = {
        "Transport": {
            "Type": "S3",
            "Bucket": "iris-data-bucket",
            "ObjectKey": "iris_predictions.jsons",
            "Region": "us-east-2",
            "AccessKeyID": "secret://AccessKeyID",
            "SecretAccessKey": "secret://SecretAccessKey",
        },
        "Envelope": "delimited",
        "Encoding": "json",
    }
    form = interpret(desc, slot=1)
    assert form["transport"]["object_key"] == "iris_predictions.jsons"
    assert form["transport"]["secret_access_key"] == "*****"
    assert form["loop"] is False and form["envelope"] == LINES


def test_reference_6_rest_streams_and_watermark_1():
    for desc in (
        from_literal("rest:"),
        {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}},
    ):
        assert check(desc, slot=0) == [] and check(desc, slot=1) == []
    assert interpret("inline:1,2,3", slot=0)["transport"]["data"] == ["1", "2", "3"]
    assert interpret("discard:", slot=1)["encoding"] is None
