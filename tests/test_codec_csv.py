"""The delimited-csv envelope with the csv encoding: RFC 4180 quoting, header, typing, rejections."""

from __future__ import annotations

import pytest

from fastscore_sdk import codec
from fastscore_sdk.codec import END, SET
from fastscore_sdk.errors import DescriptorError, RecordError, SchemaError
from fastscore_sdk.schema import Schema

ENV = {"type": "delimited-csv", "separator": "\r\n", "skip_header": True, "skip_blank_lines": True}
CSV = {"type": "csv", "quote_character": '"', "delimiter": ","}
PEOPLE = Schema(
    "people",
    {
        "type": "record",
        "name": "people",
        "fields": [
            {"name": "id", "type": "int"},
            {"name": "name", "type": "string"},
            {"name": "age", "type": ["null", "double"]},
            {"name": "member", "type": "boolean"},
        ],
    },
)
DATA = (
    b"id,name,age,member\r\n"
    b"1,Joe,30,true\r\n"
    b'2,"Doe, Jane",,FALSE\r\n'
    b"\r\n"
    b'3,"two\r\nlines, and ""quotes""",41.5,1\r\n'
)
EXPECTED = [
    {"id": 1, "name": "Joe", "age": 30.0, "member": True},
    {"id": 2, "name": "Doe, Jane", "age": None, "member": False},
    {"id": 3, "name": 'two\r\nlines, and "quotes"', "age": 41.5, "member": True},
]


def decode(data, schema=PEOPLE, step=10**6, envelope=ENV, **kw):
    dec = codec.decoder(envelope, CSV, schema, **kw)
    out = []
    for i in range(0, len(data), step):
        out += dec.feed(data[i : i + step])
    return out + dec.finish(), dec


@pytest.mark.parametrize("step", [1, 2, 5, 17, 10**6])
def test_quoted_commas_and_newlines_any_chunking(step):
    out, dec = decode(DATA, step=step)
    assert out == EXPECTED
    assert dec.rejected == []
    assert dec.count == 3  # the header and the blank line are not records


def test_last_row_without_separator():
    out, _ = decode(DATA + b"4,Ann,2,0")
    assert out[-1] == {"id": 4, "name": "Ann", "age": 2.0, "member": False}


def test_header_in_another_order_maps_by_name():
    out, _ = decode(b"name,member,age,id\r\nJoe,true,1,7\r\n")
    assert out == [{"name": "Joe", "member": True, "age": 1.0, "id": 7}]


def test_header_mismatch_is_a_clear_error():
    with pytest.raises(SchemaError) as info:
        decode(b"id,full_name,age,member\r\n1,Joe,3,true\r\n")
    message = str(info.value)
    assert "expected columns id, name, age, member" in message
    assert "found id, full_name, age, member" in message
    assert "missing name" in message and "unexpected full_name" in message
    assert "people" in message


def test_header_with_byte_order_mark_and_spaces():
    out, _ = decode(b"\xef\xbb\xbfid, name ,age,member\r\n1,Joe,,0\r\n")
    assert out == [{"id": 1, "name": "Joe", "age": None, "member": False}]


def test_bad_rows_are_rejected_and_reading_goes_on():
    data = b"id,name,age,member\r\n1,a,1,true\r\nx,b,2,true\r\n3,c,3\r\n4,d,4,maybe\r\n5,e,5,false\r\n"
    out, dec = decode(data)
    assert [r["id"] for r in out] == [1, 5]
    assert [(r.index, r.kind) for r in dec.rejected] == [(1, "schema"), (2, "encoding"), (3, "schema")]
    assert dec.rejected[0].reason == "at $.id: cannot read 'x' as int"
    assert dec.rejected[1].reason == "expected 4 columns (id, name, age, member), got 3"
    assert dec.rejected[2].reason == "at $.member: cannot read 'maybe' as boolean"
    assert dec.rejected[1].raw == b"3,c,3"


def test_bad_row_raises_with_errors_raise():
    with pytest.raises(RecordError, match="expected 4 columns") as info:
        decode(b"id,name,age,member\r\n1,a,1,true\r\n2,b\r\n", errors="raise")
    assert info.value.record_index == 1
    assert info.value.records == [{"id": 1, "name": "a", "age": 1.0, "member": True}]


def test_unterminated_quote_at_the_end():
    out, dec = decode(b'id,name,age,member\r\n1,"open,2,true\r\n')
    assert out == []
    assert dec.rejected[0].reason == "unterminated quoted cell at the end of the input"


def test_blank_lines_kept_when_asked():
    env = dict(ENV, skip_blank_lines=False)
    out, dec = decode(b"id,name,age,member\r\n\r\n1,a,,true\r\n", envelope=env)
    assert len(out) == 1
    assert dec.rejected[0].index == 0 and "got 0" in dec.rejected[0].reason


def test_without_schema_numbers_are_inferred():
    out, _ = decode(b"a,b,c,d\r\n1,2.5,007,x\r\n-3,1e3,,\r\n", schema=None)
    assert out == [{"a": 1, "b": 2.5, "c": "007", "d": "x"}, {"a": -3, "b": 1000.0, "c": "", "d": ""}]


def test_without_header_names_come_from_the_schema():
    out, _ = decode(b"1,Joe,,true\r\n", envelope=dict(ENV, skip_header=False))
    assert out == [{"id": 1, "name": "Joe", "age": None, "member": True}]


def test_without_header_or_schema_rows_are_lists():
    out, _ = decode(b"1,x\r\n2,y\r\n", schema=None, envelope=dict(ENV, skip_header=False))
    assert out == [[1, "x"], [2, "y"]]


def test_other_separator_delimiter_and_quote():
    env = dict(ENV, separator="\n")
    enc = {"type": "csv", "quote_character": "'", "delimiter": ";"}
    dec = codec.decoder(env, enc)
    assert dec.feed(b"a;b\n'x;y';'it''s'\n") == [{"a": "x;y", "b": "it's"}]


def test_control_records_and_end_marker():
    data = DATA + "\u262efastscore.set\r\n".encode() + b"$end-of-stream\r\n"
    out, dec = decode(data, end_marker="$end-of-stream")
    assert out == [*EXPECTED, SET, END]
    assert dec.rejected == []


def test_messages_are_whole_documents():
    dec = codec.decoder(ENV, CSV, PEOPLE)
    assert dec.feed_message(b"id,name,age,member\r\n1,a,,true\r\n") == [
        {"id": 1, "name": "a", "age": None, "member": True}
    ]
    assert dec.feed_message(b"member,id,name,age\r\nfalse,2,b,1.5") == [
        {"member": False, "id": 2, "name": "b", "age": 1.5}
    ]


def test_writes_the_header_first_then_rows():
    enc = codec.encoder(ENV, CSV, PEOPLE)
    first = enc.encode(EXPECTED[:1])
    assert first == b"id,name,age,member\r\n1,Joe,30.0,true\r\n"
    rest = enc.encode([*EXPECTED[1:], SET]) + enc.finish()
    assert (
        rest
        == b'2,"Doe, Jane",,false\r\n3,"two\r\nlines, and ""quotes""",41.5,true\r\n\xe2\x98\xaefastscore.set\r\n'
    )
    out, _ = decode(first + rest)
    assert out == [*EXPECTED, SET]


def test_writes_header_from_the_first_record_without_schema():
    enc = codec.encoder(ENV, CSV)
    assert enc.encode([{"b": 1, "a": "x"}, {"b": 2, "a": None}]) == b"b,a\r\n1,x\r\n2,\r\n"
    assert enc.encode([{"a": "only a"}]) == b""
    assert "has no b" in enc.rejected[0].reason


def test_no_header_when_skip_header_is_false():
    enc = codec.encoder(dict(ENV, skip_header=False), CSV, PEOPLE)
    assert enc.encode(EXPECTED[:1]) == b"1,Joe,30.0,true\r\n"


def test_output_rejects_records_that_fail_the_schema():
    enc = codec.encoder(ENV, CSV, PEOPLE)
    data = enc.encode([EXPECTED[0], {"id": "x"}])
    assert data.count(b"\r\n") == 2
    assert enc.rejected[0].index == 1 and enc.rejected[0].kind == "schema"


def test_encode_messages_carry_their_own_header():
    enc = codec.encoder(ENV, CSV, PEOPLE)
    messages = enc.encode_messages(EXPECTED[:2])
    assert all(m.startswith(b"id,name,age,member\r\n") for m in messages)
    dec = codec.decoder(ENV, CSV, PEOPLE)
    assert [r for m in messages for r in dec.feed_message(m)] == EXPECTED[:2]


@pytest.mark.parametrize(
    ("envelope", "encoding", "match"),
    [
        (ENV, "json", "needs the csv encoding"),
        (ENV, {"type": "csv", "delimiter": ";;"}, "one character"),
        (dict(ENV, separator=""), CSV, "non-empty"),
    ],
)
def test_descriptor_errors(envelope, encoding, match):
    with pytest.raises(DescriptorError, match=match):
        codec.decoder(envelope, encoding)
