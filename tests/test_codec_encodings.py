"""Encodings: decoding and encoding tables, control records (exact bytes), rejections."""

from __future__ import annotations

import datetime as dt
import struct

import msgspec
import numpy as np
import pandas as pd
import pytest

from fastscore_sdk import codec
from fastscore_sdk.codec import END, PIG, SET, Control, control_record
from fastscore_sdk.errors import NotSupportedError, RecordError, SchemaError
from fastscore_sdk.schema import Schema

NL = {"type": "delimited", "separator": "\n"}
POINT = Schema(
    "point",
    {
        "type": "record",
        "name": "point",
        "fields": [
            {"name": "x", "type": "double"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    },
)

# -- control records: the exact bytes of reference §1.6 -------------------------------------------

PEACE = "\u262e".encode()


@pytest.mark.parametrize(
    ("encoding", "control", "expected"),
    [
        ("json", END, b'{"$fastscore":"end"}'),
        ("json", SET, b'{"$fastscore":"set"}'),
        ("json", PIG, b'{"$fastscore":"pig"}'),
        ("json", Control("end", 1, 2, "m"), b'{"$fastscore":"end","id":1,"timestamp":2,"misc":"m"}'),
        ("utf-8", END, PEACE + b"fastscore.end"),
        ("utf-8", SET, PEACE + b"fastscore.set"),
        ("utf-8", PIG, PEACE + b"fastscore.pig"),
        ("utf-8", Control("set", 5, 1600000000000, "x|y"), PEACE + b"fastscore.set|5|1600000000000|x|y"),
        ("utf-8", Control("pig", misc="hi"), PEACE + b"fastscore.pig|||hi"),
        (None, END, b"\xfastscore.end"),
        (None, SET, b"\xfastscore.set"),
        (None, PIG, b"\xfastscore.pig"),
        (None, Control("end", 7), b"\xfastscore.end" + struct.pack("!Q", 7)),
        (None, Control("end", 7, 9, "m"), b"\xfastscore.end" + struct.pack("!QQ", 7, 9) + b"m"),
        ("msgpack", END, msgspec.msgpack.encode({"$fastscore": "end"})),
        ("msgpack", SET, b"\x81\xaa$fastscore\xa3set"),
        ("avro-binary", SET, b"\x1c$fastscore.set\x00\x00\x00"),
        ("avro-binary", END, b"\x1c$fastscore.end\x00\x00\x00"),
        ("avro-binary", Control("pig", 1, 2, "m"), b"\x1c$fastscore.pig\x02\x04\x02m"),
        ("csv", SET, PEACE + b"fastscore.set"),
    ],
)
def test_control_record_bytes(encoding, control, expected):
    assert control_record(encoding, control) == expected


def test_a_control_record_holding_the_separator_is_rejected():
    enc = codec.encoder(NL, None)
    assert enc.encode([b"a", Control("end", 10), b"b"]) == b"a\nb\n"
    assert enc.rejected[0].index == 1 and "separator" in enc.rejected[0].reason


def test_null_control_record_is_twelve_bytes():
    assert len(control_record(None, "end")) == 12
    assert control_record(None, "end")[0] == 0xFA


def test_control_record_keywords_and_errors():
    assert control_record("json", "set", id=3) == b'{"$fastscore":"set","id":3}'
    with pytest.raises(RecordError, match="unknown control record kind"):
        control_record("json", "stop")
    with pytest.raises(NotSupportedError):
        control_record("soap-rpc", "end")


@pytest.mark.parametrize("encoding", ["json", "utf-8", None, "msgpack", "csv"])
@pytest.mark.parametrize("control", [END, SET, PIG, Control("set", 4, 5, "note")])
def test_control_records_decode_back_in_stream_order(encoding, control):
    envelope = None if encoding == "msgpack" else NL
    enc = codec.encoder(envelope, encoding)
    dec = codec.decoder(envelope, encoding)
    record = {"csv": ["a", 1], "json": {"a": 1}, "utf-8": "a", None: b"a", "msgpack": {"a": 1}}[encoding]
    if envelope is None:
        messages = enc.encode_messages([record, control, record])
        out = dec.feed_messages(messages)
    else:
        out = dec.feed(enc.encode([record, control, record])) + dec.finish()
    assert out[1] == control
    assert len(out) == 3 and type(out[0]) is not Control


@pytest.mark.parametrize("control", [END, SET, PIG, Control("pig", 4, 5, "note")])
def test_avro_control_records_decode_back(control):
    schema = Schema("n", "long")
    enc = codec.encoder(None, "avro-binary", schema)
    dec = codec.decoder(None, "avro-binary", schema)
    assert dec.feed_messages(enc.encode_messages([1, control, 2])) == [1, control, 2]
    dec = codec.decoder(None, "avro-binary", schema)
    assert dec.feed(enc.encode([1, control, 2])) + dec.finish() == [1, control, 2]


def test_json_control_record_with_spaces_and_unknown_kind():
    dec = codec.decoder(NL, "json")
    out = dec.feed(b'{ "$fastscore" : "pig", "id": 2 }\n{"$fastscore": "stop"}\n1\n')
    assert out == [Control("pig", 2), 1]
    (rej,) = dec.rejected
    assert rej.index == 1 and "unknown control record kind 'stop'" in rej.reason


def test_utf8_control_with_bad_id_is_rejected():
    dec = codec.decoder(NL, "utf-8")
    assert dec.feed(PEACE + b"fastscore.end|x\n" + b"ok\n") == ["ok"]
    assert "integers" in dec.rejected[0].reason


def test_pig_barrier_keeps_its_place():
    # Reference §7 item 53: input 1, 2, pig, 3 keeps the pig between 2 and 3.
    dec = codec.decoder(NL, "json")
    assert dec.feed(b'1\n2\n{"$fastscore":"pig"}\n3\n') == [1, 2, PIG, 3]


def test_control_records_with_a_schema_bypass_it():
    dec = codec.decoder(NL, "json", POINT)
    out = dec.feed(b'{"x": 1, "tags": []}\n{"$fastscore": "set"}\n')
    assert out == [{"x": 1, "tags": []}, SET]
    assert dec.rejected == []


# -- null -----------------------------------------------------------------------------------------


def test_null_encoding_round_trip_and_output_types():
    enc = codec.encoder(NL, None)
    assert enc.encode([b"a", bytearray(b"b"), "c"]) == b"a\nb\nc\n"
    enc.encode([42])
    assert "expected bytes, got int" in enc.rejected[0].reason


# -- utf-8 ----------------------------------------------------------------------------------------


def test_utf8_invalid_bytes_are_rejected_and_reading_goes_on():
    dec = codec.decoder(NL, "utf-8")
    assert dec.feed(b"ok\n\xff\xfe\nstill ok\n") == ["ok", "still ok"]
    (rej,) = dec.rejected
    assert rej == (1, "invalid UTF-8 at byte 0: invalid start byte", b"\xff\xfe", "encoding", None)


def test_utf8_output_accepts_str_and_utf8_bytes_only():
    enc = codec.encoder(None, "utf-8")
    assert enc.encode_messages(["π", b"x", b"\xff", 3]) == ["π".encode(), b"x"]
    assert [r.index for r in enc.rejected] == [2, 3]
    assert "writes strings" in enc.rejected[1].reason


# -- json -----------------------------------------------------------------------------------------


def test_json_rejections_say_why_and_where():
    dec = codec.decoder(NL, "json", POINT, slot=0)
    out = dec.feed(b'{"x": 1.5, "tags": ["a"]}\n{"x": "a", "tags": []}\n{bad\n\n{"x": 2, "tags": [1]}\n')
    assert out == [{"x": 1.5, "tags": ["a"]}]
    assert [(r.index, r.kind) for r in dec.rejected] == [
        (1, "schema"),
        (2, "encoding"),
        (3, "encoding"),
        (4, "schema"),
    ]
    assert dec.rejected[0].reason.startswith("at $.x: ")
    assert dec.rejected[2].reason.startswith("empty record")
    assert dec.rejected[3].reason.startswith("at $.tags[0]: ")
    assert all(r.slot == 0 for r in dec.rejected)


def test_json_output_handles_numpy_pandas_and_bytes():
    enc = codec.encoder(None, "json")
    (data,) = enc.encode_messages(
        [
            {
                "f": np.float64(1.5),
                "i": np.int64(3),
                "b": np.bool_(True),
                "a": np.array([1, 2]),
                "t": pd.Timestamp("2020-01-02T03:04:05"),
                "s": pd.Series([1.0, 2.0]),
                "raw": b"\x00\x01",
                "d": dt.date(2020, 1, 2),
            }
        ]
    )
    assert msgspec.json.decode(data) == {
        "f": 1.5,
        "i": 3,
        "b": True,
        "a": [1, 2],
        "t": "2020-01-02T03:04:05",
        "s": [1.0, 2.0],
        "raw": "AAE=",
        "d": "2020-01-02",
    }


def test_json_output_rejects_what_it_cannot_encode():
    enc = codec.encoder(NL, "json")
    assert enc.encode([1, object(), 2]) == b"1\n2\n"
    assert "cannot encode as JSON" in enc.rejected[0].reason


def test_json_output_checks_the_schema():
    enc = codec.encoder(NL, "json", POINT)
    assert enc.encode([{"x": 1.0, "tags": []}, {"x": "no", "tags": []}]) == b'{"x":1.0,"tags":[]}\n'
    (rej,) = enc.rejected
    assert rej.index == 1 and rej.kind == "schema" and rej.reason.startswith("at $.x")
    strict = codec.encoder(NL, "json", POINT, errors="raise")
    with pytest.raises(SchemaError, match=r"record 0"):
        strict.encode([{"x": None, "tags": []}])


# -- msgpack --------------------------------------------------------------------------------------


def test_msgpack_messages_and_rejections():
    enc = codec.encoder(None, "msgpack", POINT)
    good = {"x": 1.0, "tags": ["t"]}
    messages = enc.encode_messages([good, {"x": "bad"}])
    assert len(messages) == 1 and len(enc.rejected) == 1
    dec = codec.decoder(None, "msgpack", POINT)
    out = dec.feed_messages([*messages, b"\xc1", msgspec.msgpack.encode({"x": 2.0})])
    assert out == [good]
    assert [(r.index, r.kind) for r in dec.rejected] == [(1, "encoding"), (2, "schema")]


def test_msgpack_numpy_output():
    enc = codec.encoder(None, "msgpack")
    (data,) = enc.encode_messages([{"v": np.arange(3), "f": np.float32(0.5)}])
    assert msgspec.msgpack.decode(data) == {"v": [0, 1, 2], "f": 0.5}


# -- avro-binary ----------------------------------------------------------------------------------


def test_avro_needs_a_schema():
    with pytest.raises(SchemaError, match="needs a schema"):
        codec.decoder(None, "avro-binary")


@pytest.mark.parametrize("bad", [[b"\x02\x02"], [b"\x80"], [b"\x06abc"], [b""]])
def test_avro_messages_of_another_schema_are_rejected(bad):
    schema = Schema("n", "long")
    good = codec.encoder(None, "avro-binary", schema).encode_messages(list(range(80)))
    # 80 messages take the bulk path; a frame holding more or less than one datum spoils it.
    dec = codec.decoder(None, "avro-binary", schema)
    assert dec.feed_messages([*good[:40], *bad, *good[40:]]) == list(range(80))
    assert [(r.index, r.kind) for r in dec.rejected] == [(40, "encoding")]
    one = codec.decoder(None, "avro-binary", schema)
    assert [r for m in [*good[:3], *bad, *good[3:6]] for r in one.feed_message(m)] == list(range(6))
    assert [r.index for r in one.rejected] == [3]


def test_avro_bad_frames_in_different_windows_are_all_found():
    schema = Schema("n", "long")
    good = codec.encoder(None, "avro-binary", schema).encode_messages(list(range(100)))
    dec = codec.decoder(None, "avro-binary", schema)
    out = dec.feed_messages([*good[:10], b"\x02\x02", *good[10:60], b"\x80", *good[60:]])
    assert out == list(range(100))
    assert [r.index for r in dec.rejected] == [10, 61]
    assert "1 byte left over" in dec.rejected[0].reason
    assert "invalid avro-binary datum" in dec.rejected[1].reason


def test_avro_output_rejects_records_of_the_wrong_type():
    schema = Schema("n", "long")
    enc = codec.encoder(None, "avro-binary", schema)
    assert enc.encode([1, "two", 3]) == b"\x02\x06"
    (rej,) = enc.rejected
    assert rej.index == 1 and rej.kind == "schema"


def test_avro_record_messages_decode_in_bulk_and_one_by_one():
    enc = codec.encoder(None, "avro-binary", POINT)
    records = [{"x": float(i), "tags": [str(i)] * (i % 3)} for i in range(50)]
    messages = enc.encode_messages(records)
    dec = codec.decoder(None, "avro-binary", POINT)
    assert dec.feed_messages(messages) == records
    assert [r for m in messages for r in dec.feed_message(m)] == records
    assert dec.count == 100


@pytest.mark.parametrize("step", [1, 4, 33, 10**6])
def test_avro_byte_stream_keeps_partial_datums(step):
    enc = codec.encoder(None, "avro-binary", POINT)
    records = [{"x": float(i), "tags": ["a" * i]} for i in range(30)]
    data = enc.encode(records[:10]) + enc.encode([SET]) + enc.encode(records[10:])
    dec = codec.decoder(None, "avro-binary", POINT)
    out = []
    for i in range(0, len(data), step):
        out += dec.feed(data[i : i + step])
    assert out + dec.finish() == [*records[:10], SET, *records[10:]]


def test_avro_byte_stream_truncated_and_corrupt():
    schema = Schema("s", "string")
    enc = codec.encoder(None, "avro-binary", schema)
    data = enc.encode(["abc", "defgh"])
    dec = codec.decoder(None, "avro-binary", schema)
    assert dec.feed(data[:-2]) == ["abc"]
    assert dec.finish() == []
    assert dec.rejected[0].index == 1 and "truncated avro-binary datum" in dec.rejected[0].reason
    dec = codec.decoder(None, "avro-binary", schema)
    with pytest.raises(RecordError, match="no sync markers"):
        dec.feed(data + b"\x01" + bytes(10))  # a negative string length
    assert dec.rejected[0].index == 2


# -- csv (as an encoding on other envelopes) ------------------------------------------------------


def test_csv_encoding_on_delimited_frames():
    schema = Schema(
        "p",
        {
            "type": "record",
            "name": "p",
            "fields": [{"name": "id", "type": "int"}, {"name": "name", "type": "string"}],
        },
    )
    enc = codec.encoder(NL, "csv", schema)
    data = enc.encode([{"id": 1, "name": "a, b"}, {"id": 2, "name": 'q"q'}])
    assert data == b'1,"a, b"\n2,"q""q"\n'
    dec = codec.decoder(NL, "csv", schema)
    assert dec.feed(data + b"3\n") == [{"id": 1, "name": "a, b"}, {"id": 2, "name": 'q"q'}]
    assert dec.rejected[0].reason == "expected 2 columns (id, name), got 1"


def test_csv_encoding_needs_a_record_schema():
    with pytest.raises(SchemaError, match="record schema"):
        codec.decoder(NL, "csv", Schema("n", "long"))
