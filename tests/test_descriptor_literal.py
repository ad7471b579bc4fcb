"""Literal descriptors (reference §1.4): every tag, the suffix -> encoding guess, and the errors."""

from __future__ import annotations

import os

import pytest

from fastscore_sdk.descriptor import from_literal, interpret, is_literal
from fastscore_sdk.errors import DescriptorError


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("rest:", {"Transport": "REST", "Encoding": "json"}),
        ("REST:", {"Transport": "REST", "Encoding": "json"}),
        ("rest-chunked:", {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json"}),
        ("discard:", {"Transport": "discard", "Encoding": None}),
        ("console:", {"Transport": "console", "Encoding": "json"}),
        (
            "file:/data/in.jsons",
            {"Transport": {"Type": "file", "Path": "/data/in.jsons"}, "Encoding": "json", "Loop": False},
        ),
        (
            "file:/data/in.avro",
            {
                "Transport": {"Type": "file", "Path": "/data/in.avro"},
                "Encoding": "avro-binary",
                "Loop": False,
            },
        ),
        (
            "file:///data/in.csv",
            {"Transport": {"Type": "file", "Path": "/data/in.csv"}, "Encoding": "csv", "Loop": False},
        ),
        (
            "kafka:kafka:9092/input.json",
            {
                "Transport": {"Type": "Kafka", "BootstrapServers": ["kafka:9092"], "Topic": "input"},
                "Encoding": "json",
            },
        ),
        (
            "kafka:broker/topic",
            {
                "Transport": {"Type": "Kafka", "BootstrapServers": ["broker:9092"], "Topic": "topic"},
                "Encoding": "json",
            },
        ),
        (
            "kafka:a:9093,b/my.topic.avro",
            {
                "Transport": {"Type": "Kafka", "BootstrapServers": ["a:9093", "b:9092"], "Topic": "my.topic"},
                "Encoding": "avro-binary",
            },
        ),
        (
            "kafka:b/my.topic",
            {
                "Transport": {"Type": "Kafka", "BootstrapServers": ["b:9092"], "Topic": "my.topic"},
                "Encoding": "json",
            },
        ),
        (
            "tcp:1.2.3.4:5678",
            {"Transport": {"Type": "TCP", "Host": "1.2.3.4", "Port": 5678}, "Encoding": "json"},
        ),
        ("tcp::5678", {"Transport": {"Type": "TCP", "Host": "0.0.0.0", "Port": 5678}, "Encoding": "json"}),
        ("tcp:[::1]:5678", {"Transport": {"Type": "TCP", "Host": "::1", "Port": 5678}, "Encoding": "json"}),
        ("udp::9099", {"Transport": {"Type": "UDP", "BindTo": "0.0.0.0", "Port": 9099}, "Encoding": "json"}),
        (
            "udp:10.0.0.1:124",
            {"Transport": {"Type": "UDP", "BindTo": "10.0.0.1", "Port": 124}, "Encoding": "json"},
        ),
        (
            "exec:/root/myscript.sh",
            {"Transport": {"Type": "exec", "Run": "/root/myscript.sh"}, "Encoding": "json"},
        ),
        (
            "exec:/bin/sh -c 'printf 1'",
            {"Transport": {"Type": "exec", "Run": "/bin/sh", "Args": ["-c", "printf 1"]}, "Encoding": "json"},
        ),
        ("inline:1,2,3", {"Transport": {"Type": "inline", "Data": ["1", "2", "3"]}, "Encoding": "json"}),
        (
            "inline:%01,%02",
            {"Transport": {"Type": "inline", "DataBinary": ["AQ==", "Ag=="]}, "Encoding": "json"},
        ),
        ("inline-chunked:abc", {"Transport": {"Type": "inline", "Data": "abc"}, "Encoding": "json"}),
        (
            "inline-chunked:%06%02%04%06",
            {"Transport": {"Type": "inline", "DataBinary": "BgIEBg=="}, "Encoding": "json"},
        ),
        (
            "https://host/x.json",
            {"Transport": {"Type": "HTTP", "Url": "https://host/x.json"}, "Encoding": "json"},
        ),
        ("http://h/x.utf8", {"Transport": {"Type": "HTTP", "Url": "http://h/x.utf8"}, "Encoding": "utf-8"}),
        (
            "http://h/x.txt?a=1",
            {"Transport": {"Type": "HTTP", "Url": "http://h/x.txt?a=1"}, "Encoding": "utf-8"},
        ),
        ("http://h/x.bin", {"Transport": {"Type": "HTTP", "Url": "http://h/x.bin"}, "Encoding": None}),
        (
            "http://h/x.msgpack",
            {"Transport": {"Type": "HTTP", "Url": "http://h/x.msgpack"}, "Encoding": "msgpack"},
        ),
        ("http://h/data", {"Transport": {"Type": "HTTP", "Url": "http://h/data"}, "Encoding": "json"}),
        (
            "s3://bucket/dir/x.ndjson",
            {
                "Transport": {"Type": "S3", "Bucket": "bucket", "ObjectKey": "dir/x.ndjson"},
                "Encoding": "json",
            },
        ),
    ],
)
def test_literal_expands_to_the_descriptor_as_written(literal, expected):
    assert is_literal(literal)
    assert from_literal(literal) == expected


def test_every_literal_that_can_be_an_input_verifies():
    for literal in (
        "rest:",
        "rest-chunked:",
        "file:/d/x.jsons",
        "kafka:k:9092/t.json",
        "tcp::1",
        "udp::2",
        "exec:/bin/cat",
        "inline:1,2",
        "inline:%01",
        "inline-chunked:a",
        "http://h/x",
        "s3://b/k.jsons",
    ):
        assert interpret(from_literal(literal), slot=0)["transport"]["type"]
    for literal in ("discard:", "console:", "rest:", "file:/tmp/out.jsons"):
        assert interpret(from_literal(literal), slot=1)


def test_relative_file_literal_resolves_against_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    desc = from_literal("file:data/x.json")
    assert desc["Transport"]["Path"] == os.path.join(str(tmp_path), "data", "x.json")
    assert os.path.isabs(desc["Transport"]["Path"])
    assert desc["Loop"] is False


def test_a_file_literal_does_not_loop():
    assert interpret("file:/d/in.jsons")["loop"] is False
    assert interpret({"Transport": {"Type": "file", "Path": "/d/in.jsons"}})["loop"] is True


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("foo", "FS-L001", ["not a literal descriptor", "foo"]),
        ("", "FS-L001", ["not a literal descriptor"]),
        ("foo:bar", "FS-L002", ["transport tag unknown: foo", "known tags", "rest", "kafka"]),
        ("rest:x", "FS-L003", ["rest:x", "a valid rest literal example: rest:"]),
        ("file:", "FS-L003", ["'file:'", "file:/data/in.jsons"]),
        ("kafka:broker", "FS-L003", ["kafka:broker", "kafka:kafka:9092/input.json"]),
        ("tcp:host", "FS-L003", ["port is required", "tcp:127.0.0.1:5678"]),
        ("udp::99999", "FS-L004", ["99999", "udp::9099"]),
        ("tcp::x", "FS-L004", ["'x'"]),
        ("exec:", "FS-L003", ["command", "exec:/bin/cat"]),
        ("exec:'unclosed", "FS-L003", ["exec:/bin/cat"]),
        ("inline:", "FS-L003", ["inline:1,2,3"]),
        ("http:nohost", "FS-L003", ["http://example.com"]),
        ("s3://bucket", "FS-L003", ["s3://bucket/data.jsons"]),
    ],
)
def test_bad_literals_name_the_literal_and_give_an_example(text, code, words):
    with pytest.raises(DescriptorError) as info:
        from_literal(text)
    assert info.value.code == code
    assert info.value.field == "literal"
    message = str(info.value)
    for word in words:
        assert word in message


def test_a_literal_error_does_not_show_a_url_password():
    with pytest.raises(DescriptorError) as info:
        from_literal("https://me:hunter22@[bad")
    assert "hunter22" not in str(info.value)


def test_is_literal_tells_literals_from_names_and_json():
    assert not is_literal("iris-in")
    assert not is_literal('{"Transport": "REST"}')
    assert not is_literal(None)
    assert is_literal("  rest:\n")
    assert from_literal("  rest:\n") == {"Transport": "REST", "Encoding": "json"}


def test_non_string_literal_is_a_descriptor_error():
    with pytest.raises(DescriptorError) as info:
        from_literal(42)  # type: ignore[arg-type]
    assert info.value.code == "FS-L001"


def test_literal_results_are_independent_copies():
    first = from_literal("rest-chunked:")
    first["Transport"]["Mode"] = "simple"
    assert from_literal("rest-chunked:")["Transport"]["Mode"] == "chunked"
