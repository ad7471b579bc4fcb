"""Table tests: each rule code with a descriptor that breaks it and one that keeps it."""

from __future__ import annotations

import re

import pytest

from fastscore_sdk.descriptor import FIELD_RULES, RULES, check, from_json, interpret, normalize, parse, rules
from fastscore_sdk.errors import DescriptorError, FastScoreDeprecationWarning, Problem

FILE = {"Type": "file", "Path": "/data/in.jsons"}
KAFKA = {"Type": "Kafka", "BootstrapServers": ["kafka:9092"], "Topic": "t"}
ODBC = {"Type": "ODBC", "ConnectionString": "Driver=MySQL;Server=db", "SelectQuery": "SELECT 1"}
RECORD = {"type": "record", "name": "r", "fields": [{"name": "a", "type": "double"}]}
SYNC = "AAECAwQFBgcICQoLDA0ODw=="  # 16 bytes


def d(transport, **fields):
    return {"Transport": transport, **fields}


# (code, breaking descriptor, keeping descriptor, slot, expected field)
CASES = [
    ("FS-D001", d("REST", Loop=True), d(FILE, Loop=True), None, "Loop"),
    ("FS-D001", d({"Type": "TCP", "Host": "h", "Port": 1}, Loop=True), d(KAFKA, Loop=True), None, "Loop"),
    ("FS-D002", d(KAFKA, Envelope="delimited"), d(KAFKA, Envelope=None), None, "Envelope"),
    (
        "FS-D002",
        d({"Type": "UDP", "Port": 9}, Envelope="delimited"),
        d({"Type": "UDP", "Port": 9}),
        0,
        "Envelope",
    ),
    (
        "FS-D003",
        d(FILE, Encoding="avro-binary", Schema=None),
        d(FILE, Encoding="avro-binary", Schema="int"),
        None,
        "Schema",
    ),
    (
        "FS-D004",
        d(FILE, Encoding="msgpack", Envelope="delimited"),
        d(FILE, Encoding="msgpack"),
        None,
        "Envelope",
    ),
    (
        "FS-D004",
        d(FILE, Encoding="avro-binary", Schema="int", Envelope="delimited"),
        d(FILE, Encoding="avro-binary", Schema="int", Envelope="ocf-block"),
        None,
        "Envelope",
    ),
    (
        "FS-D005",
        d(FILE, Encoding="json", Envelope="ocf-block"),
        d(FILE, Encoding="avro-binary", Schema=RECORD, Envelope="ocf-block"),
        None,
        "Envelope",
    ),
    ("FS-D006", d(FILE, Encoding=None, Schema="int"), d(FILE, Encoding=None, Schema="bytes"), None, "Schema"),
    (
        "FS-D007",
        d(FILE, Encoding="utf-8", Schema="int"),
        d(FILE, Encoding="utf-8", Schema="string"),
        None,
        "Schema",
    ),
    ("FS-D008", d(KAFKA, SkipTo=5), d(FILE, SkipTo=5), None, "SkipTo"),
    (
        "FS-D008",
        d({"Type": "inline", "Data": ["1", "2"]}, SkipTo=1),
        d({"Type": "inline", "Data": "1\n2"}, SkipTo=1),
        0,
        "SkipTo",
    ),
    ("FS-D009", d(FILE, SkipToRecord=3), d(KAFKA, SkipToRecord=3), None, "SkipToRecord"),
    ("FS-D010", d(KAFKA, SkipToRecord=None), d(KAFKA), None, "SkipToRecord"),
    ("FS-D011", d(ODBC, Encoding="json"), d(ODBC, Encoding=None), None, "Encoding"),
    ("FS-D011", d(ODBC, Schema=RECORD), d(ODBC, Schema=None), None, "Schema"),
    (
        "FS-D012",
        d({"Type": "ODBC", "ConnectionString": "DSN=x", "OutputFields": ["a"]}),
        d({"Type": "ODBC", "ConnectionString": "DSN=x", "OutputFields": ["a"], "InsertIntoTable": "t"}),
        1,
        "Transport.OutputFields",
    ),
    ("FS-D013", d(FILE, Encoding="soap-rpc", Schema=RECORD), d(FILE, Encoding="soap-rpc"), None, "Schema"),
    (
        "FS-D014",
        d(FILE, Encoding="json", Envelope="delimited-csv"),
        d(FILE, Encoding="csv", Envelope="delimited-csv", Schema=RECORD),
        None,
        "Envelope",
    ),
    (
        "FS-D015",
        d(FILE, Encoding="csv", Schema="int"),
        d(FILE, Encoding="csv", Schema=RECORD),
        None,
        "Schema",
    ),
    ("FS-D015", d(FILE, Encoding="csv"), d(FILE, Encoding="csv"), (1, 0), "Schema"),
    ("FS-D016", d({"Type": "file"}), d(FILE), None, "Transport.Path"),
    ("FS-D016", {"Encoding": "json"}, d("REST", Encoding="json"), None, "Transport"),
    ("FS-D016", d({"Path": "/x"}), d(FILE), None, "Transport.Type"),
    (
        "FS-D016",
        d(FILE, Envelope={"Separator": "|"}),
        d(FILE, Envelope={"Type": "delimited", "Separator": "|"}),
        None,
        "Envelope.Type",
    ),
    (
        "FS-D017",
        d({"Type": "inline", "Data": ["1"], "DataBinary": ["AQ=="]}),
        d({"Type": "inline", "Data": ["1"]}),
        0,
        "Transport.Data",
    ),
    ("FS-D017", d({"Type": "inline"}), d({"Type": "inline", "DataBinary": "AQ=="}), 0, "Transport.Data"),
    ("FS-D018", d(FILE, Loop="yes"), d(FILE, Loop=False), None, "Loop"),
    (
        "FS-D018",
        d({"Type": "TCP", "Host": "h", "Port": "8080"}),
        d({"Type": "TCP", "Host": "h", "Port": 8080}),
        None,
        "Transport.Port",
    ),
    (
        "FS-D018",
        d({"Type": "TCP", "Host": "h", "Port": True}),
        d({"Type": "TCP", "Host": "h", "Port": 1}),
        None,
        "Transport.Port",
    ),
    ("FS-D018", d(5), d("REST"), None, "Transport"),
    ("FS-D018", d(FILE, Envelope=7), d(FILE, Envelope=None), None, "Envelope"),
    ("FS-D018", d(FILE, LingerTime="3s"), d(FILE, LingerTime=None), None, "LingerTime"),
    (
        "FS-D018",
        d(KAFKA | {"BootstrapServers": 9092}),
        d(KAFKA | {"BootstrapServers": "a:1,b:2"}),
        None,
        "Transport.BootstrapServers",
    ),
    ("FS-D018", d(FILE, Encoding="json", Schema=3), d(FILE, Encoding="json", Schema="int"), None, "Schema"),
    (
        "FS-D019",
        d(FILE, Batching={"Watermark": -1}),
        d(FILE, Batching={"Watermark": 10}),
        None,
        "Batching.Watermark",
    ),
    (
        "FS-D019",
        d(FILE, Batching={"NagleTime": -5}),
        d(FILE, Batching={"NagleTime": 0}),
        None,
        "Batching.NagleTime",
    ),
    ("FS-D019", d({"Type": "UDP", "Port": 70000}), d({"Type": "UDP", "Port": 7000}), None, "Transport.Port"),
    ("FS-D019", d(KAFKA | {"BootstrapServers": []}), d(KAFKA), None, "Transport.BootstrapServers"),
    ("FS-D019", d(FILE, LingerTime=-1), d(FILE, LingerTime=0), None, "LingerTime"),
    ("FS-D019", d(FILE, SkipTo=-1), d(FILE, SkipTo=0), None, "SkipTo"),
    (
        "FS-D019",
        d(FILE, Encoding={"Type": "csv", "Delimiter": ";;"}, Schema=RECORD),
        d(FILE, Encoding={"Type": "csv", "Delimiter": ";"}, Schema=RECORD),
        None,
        "Encoding.Delimiter",
    ),
    ("FS-D020", d({"Type": "carrier-pigeon"}), d(FILE), None, "Transport.Type"),
    ("FS-D021", d(FILE, Envelope="zip"), d(FILE, Envelope="delimited"), None, "Envelope"),
    (
        "FS-D021",
        d(FILE, Envelope={"Type": "zip"}),
        d(FILE, Envelope={"Type": "fixed", "Size": 4}),
        None,
        "Envelope",
    ),
    ("FS-D022", d(FILE, Encoding="avro"), d(FILE, Encoding="avro-binary", Schema="int"), None, "Encoding"),
    (
        "FS-D023",
        d(FILE, Envelope="fixed"),
        d(FILE, Envelope={"Type": "fixed", "Size": 8}),
        None,
        "Envelope.Size",
    ),
    (
        "FS-D019",
        d(FILE, Envelope={"Type": "fixed", "Size": 0}),
        d(FILE, Envelope={"Type": "fixed", "Size": 1}),
        None,
        "Envelope.Size",
    ),
    (
        "FS-D024",
        d(FILE, Encoding="avro-binary", Schema="int", Envelope={"Type": "ocf-block", "SkipHeader": False}),
        d(
            FILE,
            Encoding="avro-binary",
            Schema="int",
            Envelope={"Type": "ocf-block", "SkipHeader": False, "SyncMarker": SYNC},
        ),
        None,
        "Envelope.SyncMarker",
    ),
    ("FS-D025", d({"Type": "UDP", "Port": 9}), d({"Type": "UDP", "Port": 9}), (1, 0), "Transport.Type"),
    (
        "FS-D025",
        d({"Type": "HTTP", "Url": "http://h/x"}),
        d({"Type": "HTTP", "Url": "http://h/x"}),
        (3, 2),
        "Transport.Type",
    ),
    (
        "FS-D025",
        d({"Type": "inline", "Data": ["1"]}),
        d({"Type": "inline", "Data": ["1"]}),
        (1, 0),
        "Transport.Type",
    ),
    ("FS-D026", d("discard"), d("discard"), (0, 1), "Transport.Type"),
    ("FS-D026", d("console"), d("console"), (2, 3), "Transport.Type"),
    (
        "FS-D026",
        d(KAFKA | {"Type": "kafka-offset", "Group": "g"}),
        d(KAFKA | {"Type": "kafka-offset", "Group": "g"}),
        (0, 1),
        "Transport.Type",
    ),
    (
        "FS-D016",
        d(KAFKA | {"Type": "kafka-offset"}),
        d(KAFKA | {"Type": "kafka-offset", "Group": "g"}),
        1,
        "Transport.Group",
    ),
    (
        "FS-D028",
        d({"Type": "REST", "Mode": "burst"}),
        d({"Type": "REST", "Mode": "Chunked"}),
        None,
        "Transport.Mode",
    ),
    ("FS-D028", d(FILE, Batching="fast"), d(FILE, Batching="Explicit"), None, "Batching"),
    ("FS-D028", d(KAFKA, SkipToRecord="newest"), d(KAFKA, SkipToRecord="Latest"), None, "SkipToRecord"),
    (
        "FS-D028",
        d(FILE, Encoding="avro-binary", Schema="int", Envelope={"Type": "ocf-block", "Compress": "zstd"}),
        d(FILE, Encoding="avro-binary", Schema="int", Envelope={"Type": "ocf-block", "Compress": "Deflate"}),
        None,
        "Envelope.Compress",
    ),
    (
        "FS-D029",
        d({"Type": "inline", "DataBinary": ["!!"]}),
        d({"Type": "inline", "DataBinary": ["AQID"]}),
        0,
        "Transport.DataBinary",
    ),
    (
        "FS-D029",
        d(FILE, Encoding="avro-binary", Schema="int", Envelope={"Type": "ocf-block", "SyncMarker": "AQID"}),
        d(FILE, Encoding="avro-binary", Schema="int", Envelope={"Type": "ocf-block", "SyncMarker": SYNC}),
        None,
        "Envelope.SyncMarker",
    ),
]


def _slots(slot):
    return slot if isinstance(slot, tuple) else (slot, slot)


@pytest.mark.parametrize(
    ("code", "bad", "good", "slot", "field"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_breaks_and_keeps(code, bad, good, slot, field):
    bad_slot, good_slot = _slots(slot)
    problems = check(bad, slot=bad_slot)
    found = [p for p in problems if p.code == code]
    assert found, f"{code} not reported; got {[str(p) for p in problems]}"
    assert found[0].field == field
    assert all(p.message and p.fix and p.field for p in found)
    assert check(good, slot=good_slot) == [], [str(p) for p in check(good, slot=good_slot)]
    with pytest.raises(DescriptorError) as info:
        interpret(bad, slot=bad_slot)
    assert code in {p.code for p in info.value.problems}
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("transport", "missing"),
    [
        ({"Type": "file"}, "Transport.Path"),
        ({"Type": "HTTP"}, "Transport.Url"),
        ({"Type": "Kafka", "Topic": "t"}, "Transport.BootstrapServers"),
        ({"Type": "Kafka", "BootstrapServers": ["k:1"]}, "Transport.Topic"),
        ({"Type": "S3", "ObjectKey": "k"}, "Transport.Bucket"),
        ({"Type": "S3", "Bucket": "b"}, "Transport.ObjectKey"),
        ({"Type": "ODBC"}, "Transport.ConnectionString"),
        ({"Type": "TCP", "Port": 1}, "Transport.Host"),
        ({"Type": "TCP", "Host": "h"}, "Transport.Port"),
        ({"Type": "UDP"}, "Transport.Port"),
        ({"Type": "exec"}, "Transport.Run"),
        ({"Type": "HDFS", "Path": "/x"}, "Transport.NameNode"),
        ({"Type": "file", "Path": None}, "Transport.Path"),
    ],
)
def test_required_fields(transport, missing):
    problems = check({"Transport": transport, "Encoding": None})
    assert [(p.code, p.field) for p in problems] == [("FS-D016", missing)]
    assert "required" in problems[0].message and problems[0].fix.startswith("add ")


def test_one_error_lists_every_problem():
    desc = {
        "Transport": {"Type": "REST", "Mode": "burst"},
        "Loop": True,
        "Encoding": "avro-binary",
        "Envelope": "delimited",
        "Batching": {"Watermark": -1},
    }
    with pytest.raises(DescriptorError) as info:
        interpret(desc)
    codes = [p.code for p in info.value.problems]
    assert sorted(codes) == ["FS-D001", "FS-D003", "FS-D004", "FS-D019", "FS-D028"]
    assert info.value.code == codes[0]
    text = str(info.value)
    assert "5 problems" in text
    for code in codes:
        assert code in text


def test_slot_must_be_a_non_negative_whole_number():
    for slot in (-1, True, "0", 1.0):
        assert [p.code for p in check({"Transport": "REST"}, slot=slot)] == ["FS-D032"]
    assert check({"Transport": "REST"}, slot=4) == []


def test_schema_reference_not_found():
    desc = {"Transport": "REST", "Encoding": "json", "Schema": {"$ref": "close_price"}}
    problems = check(desc, resolve_schema={"other": "int"}.__getitem__)
    assert [(p.code, p.field) for p in problems] == [("FS-D027", "Schema.$ref")]
    assert "close_price" in problems[0].message
    assert check(desc, resolve_schema={"close_price": RECORD}.__getitem__) == []
    assert check(desc, resolve_schema=lambda name: None)[0].code == "FS-D027"
    assert check({"Transport": "REST", "Schema": {"$ref": 3}})[0].code == "FS-D018"


def test_structural_codes():
    with pytest.raises(DescriptorError) as info:
        normalize(["not", "a", "dict"])  # type: ignore[arg-type]
    assert info.value.code == "FS-D030"
    assert check(["x"])[0].code == "FS-D030"  # type: ignore[arg-type]
    with pytest.warns(FastScoreDeprecationWarning):
        assert (
            check({"Transport": {"Type": "UDP", "Port": 1, "Bind": "a", "BindTo": "b"}})[0].code == "FS-D031"
        )
    with pytest.raises(DescriptorError) as info:
        from_json("{nope")
    assert info.value.code == "FS-D033"


def test_unknown_names_list_the_known_ones():
    problems = check({"Transport": {"Type": "pigeon"}, "Envelope": "zip", "Encoding": "avro"})
    by_code = {p.code: p.message for p in problems}
    assert "REST, HTTP, Kafka" in by_code["FS-D020"] and "pigeon" in by_code["FS-D020"]
    assert "delimited, fixed, ocf-block, delimited-csv" in by_code["FS-D021"]
    assert "avro-binary" in by_code["FS-D022"] and "'avro'" in by_code["FS-D022"]


def test_restriction_messages_read_well():
    def first(desc, **kw):
        return check(desc, **kw)[0]

    assert (
        "avro-binary encoding requires a schema"
        in first(d(FILE, Encoding="avro-binary", Schema=None)).message
    )
    assert "looping requires a seekable transport" in first(d("REST", Loop=True)).message.lower()
    assert (
        "OutputFields requires InsertIntoTable"
        in first(d({"Type": "ODBC", "ConnectionString": "x", "OutputFields": ["a"]})).message
    )
    assert "ODBC" in first(d(ODBC, Encoding="json")).message
    assert "UDP streams are input only" in first(d({"Type": "UDP", "Port": 1}), slot=1).message


def test_every_code_is_documented_in_the_rules_module():
    documented = set(re.findall(r"^(FS-[DS]\d{3})\s", rules.__doc__, re.M))
    used = {r.code for r in RULES} | {r.missing_code for r in FIELD_RULES}
    used |= {f"FS-D0{n}" for n in (16, 18, 19, 27, 28, 29, 30, 31, 32, 33)} | {
        "FS-S001",
        "FS-S002",
        "FS-S003",
    }
    assert used <= documented
    assert {f"FS-D{n:03d}" for n in range(1, 16)} <= {r.code for r in RULES}
    assert [r.code for r in RULES if r.code <= "FS-D015"] == sorted(
        r.code for r in RULES if r.code <= "FS-D015"
    )


def test_rules_run_on_a_bare_interpreted_form():
    form = {
        "transport": {"type": "kafka", "bootstrap_servers": ["k:1"], "topic": "t"},
        "envelope": {"type": "delimited"},
    }
    assert [p.code for p in rules.evaluate(form)] == ["FS-D002"]
    assert all(isinstance(p, Problem) for p in rules.evaluate({}))


def test_errors_name_the_stream():
    with pytest.raises(DescriptorError) as info:
        interpret({"Transport": "REST", "Loop": True}, stream="rest-in")
    assert info.value.stream == "rest-in"
    assert str(info.value).startswith("stream 'rest-in': [FS-D001]")
    assert check({"Transport": "REST", "Loop": True}, stream="rest-in")[0].code == "FS-D001"


def test_text_is_read_as_a_literal_or_as_json():
    assert parse("rest:") == {"Transport": "REST", "Encoding": "json"}
    assert parse(' {"Transport": "discard"}\n') == {"Transport": "discard"}
    assert interpret('{"Transport": "REST", "Encoding": "json"}')["encoding"] == "json"
    with pytest.raises(DescriptorError) as info:
        parse('"rest:"')
    assert info.value.code == "FS-D030"
    with pytest.raises(DescriptorError) as info:
        parse("iris-in")
    assert info.value.code == "FS-L001"
