"""The ocf-block envelope: with and without header, deflate, broken blocks and resynchronisation."""

from __future__ import annotations

import base64
import io

import fastavro
import pytest

from fastscore_sdk import codec
from fastscore_sdk.codec import SET
from fastscore_sdk.errors import DescriptorError, RecordError, SchemaError
from fastscore_sdk.schema import Schema

SCHEMA = Schema(
    "trip",
    {
        "type": "record",
        "name": "trip",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "fare", "type": ["null", "double"]},
        ],
    },
)
RECORDS = [{"id": i, "name": "n" * (i % 7), "fare": None if i % 3 else i / 4} for i in range(60)]
SYNC = b"fastscore-sync16"
SYNC64 = base64.b64encode(SYNC).decode()


def avro_file(records, codec_name="null", sync=SYNC, block=10):
    """An OCF file with ``block`` records per block."""
    out = io.BytesIO()
    writer = fastavro.write.Writer(out, SCHEMA.parsed, codec=codec_name, sync_marker=sync)
    for i, record in enumerate(records):
        writer.write(record)
        if i % block == block - 1:
            writer.flush()
    writer.flush()
    return out.getvalue()


def header_len(codec_name="null"):
    return len(avro_file([], codec_name))


def decode(envelope, data, step=10**6, errors="reject"):
    dec = codec.decoder(envelope, "avro-binary", SCHEMA, errors=errors)
    out = []
    for i in range(0, len(data), step):
        out += dec.feed(data[i : i + step])
    return out + dec.finish(), dec


@pytest.mark.parametrize("compress", [None, "deflate"])
@pytest.mark.parametrize("step", [1, 7, 100, 10**6])
def test_reads_a_file_with_its_header(compress, step):
    data = avro_file(RECORDS, compress or "null")
    out, dec = decode({"type": "ocf-block", "compress": compress, "skip_header": True}, data, step)
    assert out == RECORDS and dec.rejected == []
    assert dec.count == len(RECORDS) and dec.bytes_read == len(data)


def test_header_codec_is_taken_when_compress_is_not_set():
    out, _ = decode({"type": "ocf-block"}, avro_file(RECORDS, "deflate"))
    assert out == RECORDS


@pytest.mark.parametrize("compress", [None, "deflate"])
@pytest.mark.parametrize("step", [3, 10**6])
def test_reads_blocks_without_header(compress, step):
    data = avro_file(RECORDS, compress or "null")[header_len(compress or "null") :]
    env = {"type": "ocf-block", "sync_marker": SYNC64, "compress": compress, "skip_header": False}
    out, dec = decode(env, data, step)
    assert out == RECORDS and dec.rejected == []


@pytest.mark.parametrize("compress", [None, "deflate"])
@pytest.mark.parametrize("skip_header", [True, False])
def test_writes_what_it_reads(compress, skip_header):
    env = {"type": "ocf-block", "sync_marker": SYNC64, "compress": compress, "skip_header": skip_header}
    enc = codec.encoder(env, "avro-binary", SCHEMA)
    data = enc.encode(RECORDS[:25]) + enc.encode([SET]) + enc.encode(RECORDS[25:]) + enc.finish()
    if skip_header:
        assert list(fastavro.reader(io.BytesIO(data))) == RECORDS
    out, _ = decode(env, data, 11)
    assert out == RECORDS


def test_empty_output_is_a_valid_file():
    enc = codec.encoder({"type": "ocf-block"}, "avro-binary", SCHEMA)
    assert list(fastavro.reader(io.BytesIO(enc.finish()))) == []


def test_output_rejects_records_that_fail_the_schema():
    enc = codec.encoder({"type": "ocf-block"}, "avro-binary", SCHEMA)
    data = enc.encode([RECORDS[0], {"id": "x", "name": "y", "fare": None}, RECORDS[1]]) + enc.finish()
    assert list(fastavro.reader(io.BytesIO(data))) == RECORDS[:2]
    (rej,) = enc.rejected
    assert rej.index == 1 and rej.kind == "schema"


@pytest.mark.parametrize("compress", ["null", "deflate"])
@pytest.mark.parametrize("step", [5, 10**6])
def test_a_block_with_bad_data_is_rejected_and_reading_goes_on(compress, step):
    data = bytearray(avro_file(RECORDS[:30], compress))
    start = header_len(compress)
    # the second block starts after the first; corrupt bytes inside its data
    first_end = data.index(SYNC, start) + len(SYNC)
    data[first_end + 4] ^= 0xFF
    data[first_end + 5] ^= 0x5A
    out, dec = decode({"type": "ocf-block"}, bytes(data), step)
    assert out == RECORDS[:10] + RECORDS[20:30]
    (rej,) = dec.rejected
    assert rej.index == 10 and rej.reason.startswith("broken OCF block of 10 records")
    assert dec.count == 30


@pytest.mark.parametrize("step", [4, 10**6])
def test_a_bad_sync_marker_resynchronises(step):
    data = bytearray(avro_file(RECORDS[:40]))
    start = header_len()
    second_end = data.index(SYNC, data.index(SYNC, start) + 16) + 16
    data[second_end - 3] ^= 0xFF  # the sync marker that ends the second block
    out, dec = decode({"type": "ocf-block"}, bytes(data), step)
    assert out == RECORDS[:10] + RECORDS[20:40]
    (rej,) = dec.rejected
    assert rej.index == 10 and "no sync marker after the block of 10 records" in rej.reason


def test_junk_between_blocks_is_skipped():
    data = avro_file(RECORDS[:30])
    cut = data.index(SYNC, header_len()) + 16
    out, dec = decode({"type": "ocf-block"}, data[:cut] + b"\x07junk!" + data[cut:])
    assert out == RECORDS[:30]
    assert dec.rejected[0].index == 10 and "skipped" in dec.rejected[0].reason


def test_a_truncated_last_block_is_rejected():
    data = avro_file(RECORDS[:20])
    out, dec = decode({"type": "ocf-block"}, data[:-9], 6)
    assert out == RECORDS[:10]
    assert dec.rejected[0].index == 10
    assert dec.rejected[0].reason.startswith("truncated OCF block at the end of the input")


def test_broken_block_raises_with_errors_raise():
    data = bytearray(avro_file(RECORDS[:20]))
    data[-3] ^= 0xFF
    with pytest.raises(RecordError, match="broken OCF block") as info:
        decode({"type": "ocf-block"}, bytes(data), errors="raise")
    assert info.value.record_index == 10


def test_header_schema_must_match_the_stream_schema():
    other = Schema("other", {"type": "record", "name": "other", "fields": [{"name": "id", "type": "long"}]})
    out = io.BytesIO()
    fastavro.writer(out, other.parsed, [{"id": 1}])
    with pytest.raises(SchemaError, match="written with another schema"):
        decode({"type": "ocf-block"}, out.getvalue())


def test_header_sync_marker_and_codec_must_match_the_descriptor():
    data = avro_file(RECORDS[:3])
    wrong = base64.b64encode(b"0123456789abcdef").decode()
    with pytest.raises(RecordError, match="SyncMarker differs"):
        decode({"type": "ocf-block", "sync_marker": wrong}, data)
    with pytest.raises(RecordError, match="Compress 'deflate'"):
        decode({"type": "ocf-block", "compress": "deflate"}, data)


def test_not_an_avro_file():
    with pytest.raises(RecordError, match="not an Avro object container file"):
        decode({"type": "ocf-block"}, b'{"json": true}\n')


def test_feed_message_reads_a_whole_file_per_message():
    dec = codec.decoder({"type": "ocf-block"}, "avro-binary", SCHEMA)
    assert dec.feed_message(avro_file(RECORDS[:5])) == RECORDS[:5]
    assert dec.feed_message(avro_file(RECORDS[5:9])) == RECORDS[5:9]


def test_reset_reads_the_header_again():
    data = avro_file(RECORDS[:12])
    dec = codec.decoder({"type": "ocf-block"}, "avro-binary", SCHEMA)
    assert dec.feed(data) + dec.finish() == RECORDS[:12]
    dec.reset()
    assert dec.feed(data) + dec.finish() == RECORDS[:12]


@pytest.mark.parametrize(
    ("envelope", "encoding", "match"),
    [
        ({"type": "ocf-block", "skip_header": False}, "avro-binary", "needs a SyncMarker"),
        ({"type": "ocf-block", "sync_marker": "c2hvcnQ="}, "avro-binary", "16 bytes"),
        ({"type": "ocf-block", "sync_marker": "!!"}, "avro-binary", "16 bytes"),
        ({"type": "ocf-block", "compress": "snappy"}, "avro-binary", "Compress"),
        ({"type": "ocf-block"}, "json", "needs the avro-binary encoding"),
    ],
)
def test_descriptor_errors(envelope, encoding, match):
    with pytest.raises(DescriptorError, match=match):
        codec.decoder(envelope, encoding, SCHEMA)
