"""Envelopes: delimited, fixed and no envelope; chunk boundaries; EndMarker; descriptor errors."""

from __future__ import annotations

import pytest

from fastscore_sdk import codec
from fastscore_sdk.codec import END, SET, Control
from fastscore_sdk.errors import DescriptorError, NotSupportedError, RecordError, SchemaError
from fastscore_sdk.schema import Schema

NL = {"type": "delimited", "separator": "\n"}
CRLF = {"type": "delimited", "separator": "\r\n"}


def feed_all(dec: codec.Decoder, data: bytes, step: int) -> list:
    out = []
    for i in range(0, len(data), step):
        out += dec.feed(data[i : i + step])
    return out + dec.finish()


# -- delimited ------------------------------------------------------------------------------------


def test_delimited_utf8_keeps_empty_records_but_drops_the_last_one():
    dec = codec.decoder(NL, "utf-8")
    assert dec.feed(b"a\n\nb\n") == ["a", "", "b"]
    assert dec.finish() == []
    assert dec.count == 3


def test_delimited_last_record_without_separator_is_kept():
    dec = codec.decoder(NL, None)
    assert dec.feed(b"a\nb") == [b"a"]
    assert dec.finish() == [b"b"]


@pytest.mark.parametrize("step", [1, 2, 3, 5, 7, 1000])
def test_multibyte_separator_split_across_chunks(step):
    data = b"one\r\ntwo\r\n\r\nthree\r\nfour"
    dec = codec.decoder(CRLF, "utf-8")
    assert feed_all(dec, data, step) == ["one", "two", "", "three", "four"]


@pytest.mark.parametrize("step", [1, 2, 3, 4, 9])
def test_long_separator_split_everywhere(step):
    sep = "<|>"
    data = b"a<|>bb<|><|>c<|>"
    dec = codec.decoder({"type": "delimited", "separator": sep}, "utf-8")
    assert feed_all(dec, data, step) == ["a", "bb", "", "c"]


@pytest.mark.parametrize("step", [1, 3, 64, 10**6])
def test_delimited_json_any_chunking(step):
    data = b'{"x": 1}\n[1, 2]\n"s"\n3.5\nnull\n'
    dec = codec.decoder(NL, "json")
    assert feed_all(dec, data, step) == [{"x": 1}, [1, 2], "s", 3.5, None]
    assert dec.rejected == []
    assert dec.bytes_read == len(data)


def test_delimited_feed_message_frames_within_the_message():
    dec = codec.decoder(NL, "json")
    assert dec.feed_message(b"1\n2\n") == [1, 2]
    assert dec.feed_message(b"3") == [3]
    assert dec.feed_message(b"") == []


def test_delimited_encoder_rejects_a_record_holding_the_separator():
    enc = codec.encoder(NL, "utf-8")
    assert enc.encode(["a", "b\nc", "d"]) == b"a\nd\n"
    (rej,) = enc.rejected
    assert rej.index == 1 and "separator" in rej.reason and rej.raw == "b\nc"


def test_delimited_encoder_custom_separator_json():
    enc = codec.encoder({"type": "delimited", "separator": "\r\n"}, "json")
    assert enc.encode([{"a": "x\ny"}, 2]) == b'{"a":"x\\ny"}\r\n2\r\n'
    assert enc.count == 2 and enc.bytes_written == len(b'{"a":"x\\ny"}\r\n2\r\n')


def test_delimited_cannot_frame_self_delimiting_encodings():
    with pytest.raises(DescriptorError, match="remove the Envelope"):
        codec.decoder(NL, "msgpack")


# -- fixed ----------------------------------------------------------------------------------------


def test_fixed_size_8_on_40_bytes_gives_5_records():
    data = bytes(range(40))
    dec = codec.decoder({"type": "fixed", "size": 8}, None)
    out = dec.feed(data) + dec.finish()
    assert out == [data[i : i + 8] for i in range(0, 40, 8)]
    assert dec.rejected == []


@pytest.mark.parametrize("step", [1, 3, 8, 13])
def test_fixed_short_last_frame_is_rejected(step):
    dec = codec.decoder({"type": "fixed", "size": 8}, None)
    out = feed_all(dec, bytes(19), step)
    assert out == [bytes(8), bytes(8)]
    (rej,) = dec.rejected
    assert rej.index == 2
    assert rej.reason == "short fixed frame: got 3 of 8 bytes"
    assert rej.kind == "encoding" and rej.raw == bytes(3)


def test_fixed_short_frame_raises_with_errors_raise():
    dec = codec.decoder({"type": "fixed", "size": 8}, None, errors="raise", stream="bin")
    dec.feed(bytes(11))
    with pytest.raises(RecordError, match="short fixed frame: got 3 of 8 bytes") as info:
        dec.finish()
    assert info.value.record_index == 1
    assert "stream 'bin'" in str(info.value)


def test_fixed_message_with_short_tail():
    dec = codec.decoder({"type": "fixed", "size": 4}, None)
    assert dec.feed_message(b"abcdef") == [b"abcd"]
    assert dec.rejected[0].reason == "short fixed frame: got 2 of 4 bytes"


def test_fixed_text_frames_drop_the_zero_padding():
    enc = codec.encoder({"type": "fixed", "size": 6}, "utf-8")
    data = enc.encode(["ab", "abcdefgh", ""])
    assert data == b"ab\0\0\0\0abcdef\0\0\0\0\0\0"
    dec = codec.decoder({"type": "fixed", "size": 6}, "utf-8")
    assert dec.feed(data) == ["ab", "abcdef", ""]


def test_fixed_output_pads_and_truncates_bytes():
    enc = codec.encoder({"type": "fixed", "size": 3}, None)
    assert enc.encode([b"a", b"abcd"]) == b"a\0\0abc"
    assert enc.encode_messages([b"xy"]) == [b"xy\0"]


@pytest.mark.parametrize("size", [0, -1, None, "8", 2.5, True])
def test_fixed_needs_a_positive_size(size):
    with pytest.raises(DescriptorError, match="Size"):
        codec.decoder({"type": "fixed", "size": size}, None)


# -- no envelope ----------------------------------------------------------------------------------


def test_no_envelope_one_record_per_message():
    dec = codec.decoder(None, "json")
    assert dec.feed_message(b'{"a": 1}') == [{"a": 1}]
    assert dec.feed_messages([b"1", b"oops", b'{"$fastscore": "set"}', b"2"]) == [1, SET, 2]
    assert [(r.index, r.kind) for r in dec.rejected] == [(2, "encoding")]
    assert dec.count == 5


def test_no_envelope_byte_stream_of_a_text_encoding_is_one_record():
    dec = codec.decoder(None, None)
    assert dec.feed(b"abc") == [] and dec.feed(b"def") == []
    assert dec.finish() == [b"abcdef"]
    dec = codec.decoder(None, "json")
    dec.feed(b'{"a":\n')
    assert dec.feed(b"[1, 2]}") == []
    assert dec.finish() == [{"a": [1, 2]}]


@pytest.mark.parametrize("step", [1, 2, 5, 100])
def test_no_envelope_msgpack_stream_keeps_partial_datums(step):
    enc = codec.encoder(None, "msgpack")
    records = [1, "two", {"three": [3.0, None]}, b"\x04", SET, Control("pig", 7, 8, "m"), True]
    data = enc.encode(records)
    dec = codec.decoder(None, "msgpack")
    assert feed_all(dec, data, step) == records


def test_no_envelope_msgpack_stream_truncated_at_the_end():
    data = codec.encoder(None, "msgpack").encode([1, "a long string"])
    dec = codec.decoder(None, "msgpack")
    assert dec.feed(data[:-3]) == [1]
    assert dec.finish() == []
    (rej,) = dec.rejected
    assert rej.index == 1 and "truncated msgpack" in rej.reason


def test_no_envelope_corrupt_msgpack_stops_the_stream():
    dec = codec.decoder(None, "msgpack")
    with pytest.raises(RecordError, match="cannot be read") as info:
        dec.feed(b"\x01\x02\xc1\x03")
    assert info.value.records == [1, 2]
    assert dec.rejected[0].index == 2
    assert dec.feed(b"\x04") == []  # nothing more is read after a corrupt datum


def test_unknown_envelope_and_encoding():
    with pytest.raises(DescriptorError, match="unknown envelope 'zip'"):
        codec.decoder("zip", "json")
    with pytest.raises(DescriptorError, match="unknown encoding 'yaml'"):
        codec.encoder(None, "yaml")


def test_names_are_case_insensitive_and_old_spellings_accepted():
    assert codec.decoder({"type": "Delimited"}, "JSON").feed(b"1\n") == [1]
    assert codec.decoder("deliminated", "utf8").feed(b"x\n") == ["x"]


def test_soap_rpc_is_registered_but_not_supported():
    assert "soap-rpc" in codec.encodings
    with pytest.raises(NotSupportedError, match="soap-rpc"):
        codec.decoder(None, "soap-rpc", stream="soap")
    with pytest.raises(NotSupportedError):
        codec.encoder(None, "soap-rpc")


def test_registries_list_every_axis_entry():
    assert {"none", "delimited", "fixed", "ocf-block", "delimited-csv"} <= set(codec.envelopes)
    assert {"null", "utf-8", "json", "csv", "msgpack", "avro-binary", "soap-rpc"} <= set(codec.encodings)


def test_errors_argument_is_checked():
    with pytest.raises(ValueError, match="errors must be"):
        codec.decoder(NL, "json", errors="drop")
    with pytest.raises(ValueError, match="errors must be"):
        codec.encoder(NL, "json", errors="drop")


# -- EndMarker ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "data", "expected"),
    [
        ("utf-8", b"a\n$end-of-stream\nb\n", ["a", END, "b"]),
        ("json", b"1\n$end-of-stream\n2\n", [1, END, 2]),
        ("json", b"1\r\n$end-of-stream\r\n", [1, END]),
        (None, b"x\n$end-of-stream", [b"x", END]),
    ],
)
def test_end_marker_is_a_soft_eof(encoding, data, expected):
    dec = codec.decoder(NL, encoding, end_marker="$end-of-stream")
    assert feed_all(dec, data, 3) == expected
    assert dec.rejected == []


def test_without_end_marker_the_frame_is_data():
    dec = codec.decoder(NL, "utf-8")
    assert dec.feed(b"$end-of-stream\n") == ["$end-of-stream"]


def test_end_marker_on_messages():
    dec = codec.decoder(None, "json", end_marker="$end-of-stream")
    assert dec.feed_messages([b"1", b"$end-of-stream"]) == [1, END]
    assert dec.feed_message(b"$end-of-stream") == [END]


# -- errors="raise" -------------------------------------------------------------------------------


def test_raise_mode_raises_at_the_bad_record_and_carries_the_good_ones():
    dec = codec.decoder(NL, "json", errors="raise", slot=0)
    with pytest.raises(RecordError) as info:
        dec.feed(b"1\n2\n{oops\n4\n")
    err = info.value
    assert err.record_index == 2 and err.slot == 0
    assert err.records == [1, 2]
    assert "record 2" in str(err) and "JSON" in str(err)
    assert dec.rejected == []


def test_raise_mode_records_include_those_before_a_control_record():
    dec = codec.decoder(NL, "json", errors="raise")
    with pytest.raises(RecordError) as info:
        dec.feed(b'1\n{"$fastscore": "set"}\n2\nbad\n3\n')
    assert info.value.records == [1, SET, 2]
    assert info.value.record_index == 3


def test_raise_mode_schema_error_names_the_path():
    schema = Schema("pt", {"type": "record", "name": "pt", "fields": [{"name": "x", "type": "double"}]})
    dec = codec.decoder(NL, "json", schema, errors="raise")
    with pytest.raises(SchemaError) as info:
        dec.feed(b'{"x": 1.5}\n{"x": "no"}\n')
    assert info.value.record_index == 1
    assert info.value.path == "$.x"


def test_reset_forgets_the_partial_frame():
    dec = codec.decoder(NL, "utf-8")
    dec.feed(b"abc")
    dec.reset()
    assert dec.feed(b"def\n") == ["def"]
