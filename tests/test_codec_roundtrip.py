"""Property tests: decode(encode(records)) == records for every valid (envelope, encoding) pair.

Records are drawn to match a few schemas, control records are interleaved, and the encoded bytes are
fed to the decoder cut at arbitrary points (or one message at a time on message transports).
"""

from __future__ import annotations

import base64
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastscore_sdk import codec
from fastscore_sdk.codec import Control
from fastscore_sdk.schema import Schema

settings.register_profile(
    "codec", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("codec")

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(max_size=20)

RECORD = Schema(
    "rec",
    {
        "type": "record",
        "name": "rec",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "x", "type": "double"},
            {"name": "name", "type": "string"},
            {"name": "flag", "type": "boolean"},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
            {"name": "opt", "type": ["null", "long"]},
        ],
    },
)
records = st.fixed_dictionaries(
    {
        "id": INT64,
        "x": FLOATS,
        "name": TEXT,
        "flag": st.booleans(),
        "tags": st.lists(TEXT, max_size=3),
        "opt": st.none() | INT64,
    }
)

FLAT = Schema(
    "flat",
    {
        "type": "record",
        "name": "flat",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "x", "type": "double"},
            {"name": "name", "type": "string"},
            {"name": "flag", "type": "boolean"},
            {"name": "opt", "type": ["null", "long"]},
        ],
    },
)


def flat_records(name=TEXT):
    return st.fixed_dictionaries(
        {"id": INT64, "x": FLOATS, "name": name, "flag": st.booleans(), "opt": st.none() | INT64}
    )


json_values = st.recursive(
    st.none() | st.booleans() | INT64 | FLOATS | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)

KINDS = st.sampled_from(["end", "set", "pig"])
POSITIVE = st.integers(min_value=1, max_value=2**63 - 1)
MISC = st.text(alphabet=string.ascii_letters + string.digits + " |-", min_size=1, max_size=10)


def controls(props=True):
    """Control records; ``props`` draws id/timestamp/misc the encoding can carry back unchanged."""
    if not props:
        return KINDS.map(Control)
    return st.builds(Control, KINDS, st.none() | POSITIVE, st.none() | POSITIVE, st.none() | MISC)


# The null encoding writes an unset id before a set timestamp as 0, and avro writes 0/"" for unset:
# draw controls whose properties come back as they went.
null_controls = st.one_of(
    KINDS.map(Control),
    st.builds(Control, KINDS, POSITIVE, st.none(), st.none()),
    st.builds(Control, KINDS, POSITIVE, POSITIVE, st.none()),
    st.builds(Control, KINDS, POSITIVE, POSITIVE, MISC),
)


def with_controls(items, ctl):
    return st.lists(st.one_of(items, items, items, ctl), max_size=12)


def cut_points(data_len):
    return st.lists(st.integers(min_value=0, max_value=data_len), max_size=6).map(sorted)


def decode_bytes(dec, data, cuts):
    out = []
    start = 0
    for cut in [*cuts, len(data)]:
        out += dec.feed(data[start:cut])
        start = cut
    return out + dec.finish()


def check_byte_stream(envelope, encoding, schema, batch, data):
    """Encode ``batch`` in one or two calls, feed it back cut at random points."""
    enc = codec.encoder(envelope, encoding, schema)
    split = data.draw(st.integers(min_value=0, max_value=len(batch)))
    encoded = enc.encode(batch[:split]) + enc.encode(batch[split:]) + enc.finish()
    assert enc.rejected == []
    cuts = data.draw(cut_points(len(encoded)))
    dec = codec.decoder(envelope, encoding, schema)
    assert decode_bytes(dec, encoded, cuts) == batch
    assert dec.rejected == []


def check_messages(envelope, encoding, schema, batch):
    enc = codec.encoder(envelope, encoding, schema)
    messages = enc.encode_messages(batch)
    assert enc.rejected == []
    dec = codec.decoder(envelope, encoding, schema)
    assert dec.feed_messages(messages) == batch
    dec = codec.decoder(envelope, encoding, schema)
    assert [r for m in messages for r in dec.feed_message(m)] == batch


NL = {"type": "delimited", "separator": "\n"}
CRLF = {"type": "delimited", "separator": "\r\n"}
line_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=20
)

# -- delimited ------------------------------------------------------------------------------------


@given(batch=with_controls(json_values, controls()), data=st.data())
def test_delimited_json(batch, data):
    check_byte_stream(NL, "json", None, batch, data)


@given(batch=with_controls(records, controls()), data=st.data())
def test_delimited_json_with_schema_and_crlf(batch, data):
    check_byte_stream(CRLF, "json", RECORD, batch, data)


@given(
    batch=with_controls(line_text.filter(lambda s: not s.startswith("\u262e")), controls()), data=st.data()
)
def test_delimited_utf8(batch, data):
    check_byte_stream(CRLF, "utf-8", None, batch, data)


def no_newline(control):
    # A binary id or timestamp may hold the separator byte; the encoder rejects such a control.
    return b"\n" not in codec.control_record(None, control)


@given(
    batch=with_controls(
        st.binary(max_size=16).filter(lambda b: b"\n" not in b and not b.startswith(b"\xfa")),
        null_controls.filter(no_newline),
    ),
    data=st.data(),
)
def test_delimited_null(batch, data):
    check_byte_stream(NL, None, None, batch, data)


@given(batch=with_controls(flat_records(line_text), controls()), data=st.data())
def test_delimited_csv_encoding(batch, data):
    check_byte_stream(NL, "csv", FLAT, batch, data)


# -- fixed ----------------------------------------------------------------------------------------


@given(batch=st.lists(st.binary(min_size=8, max_size=8)), data=st.data())
def test_fixed_null(batch, data):
    check_byte_stream({"type": "fixed", "size": 8}, None, None, batch, data)


@given(
    batch=st.lists(
        st.text(alphabet=st.characters(blacklist_characters="\0", blacklist_categories=("Cs",)), max_size=4)
    ),
    data=st.data(),
)
def test_fixed_utf8(batch, data):
    check_byte_stream({"type": "fixed", "size": 16}, "utf-8", None, batch, data)


@given(batch=with_controls(st.integers(min_value=-(10**6), max_value=10**6), controls(False)), data=st.data())
def test_fixed_json(batch, data):
    check_byte_stream({"type": "fixed", "size": 24}, "json", None, batch, data)


# -- no envelope ----------------------------------------------------------------------------------


@given(batch=with_controls(json_values, controls()))
def test_messages_json(batch):
    check_messages(None, "json", None, batch)


@given(batch=with_controls(records, controls()))
def test_messages_json_with_schema(batch):
    check_messages(None, "json", RECORD, batch)


@given(batch=with_controls(TEXT.filter(lambda s: not s.startswith("\u262e")), controls()))
def test_messages_utf8(batch):
    check_messages(None, "utf-8", None, batch)


@given(batch=with_controls(st.binary(max_size=16).filter(lambda b: not b.startswith(b"\xfa")), null_controls))
def test_messages_null(batch):
    check_messages(None, None, None, batch)


@given(batch=with_controls(records, controls()))
def test_messages_msgpack(batch):
    check_messages(None, "msgpack", RECORD, batch)


@given(batch=with_controls(records, null_controls))
def test_messages_avro(batch):
    check_messages(None, "avro-binary", RECORD, batch)


@given(batch=st.lists(records, min_size=16, max_size=40))
def test_messages_avro_bulk(batch):
    check_messages(None, "avro-binary", RECORD, batch)


@given(batch=with_controls(flat_records(), controls(False)))
def test_messages_csv(batch):
    check_messages(None, "csv", FLAT, batch)


@given(batch=with_controls(json_values, controls()), data=st.data())
def test_byte_stream_msgpack(batch, data):
    check_byte_stream(None, "msgpack", None, batch, data)


@given(batch=with_controls(records, null_controls), data=st.data())
def test_byte_stream_avro(batch, data):
    check_byte_stream(None, "avro-binary", RECORD, batch, data)


@given(batch=st.lists(st.one_of(INT64, KINDS.map(Control))), data=st.data())
def test_byte_stream_avro_long(batch, data):
    # Small longs: many datums start with the control marker's first byte (14 -> 0x1c).
    check_byte_stream(None, "avro-binary", Schema("n", "long"), batch, data)


# -- ocf-block ------------------------------------------------------------------------------------


@given(
    batch=st.lists(records, max_size=30),
    compress=st.sampled_from([None, "deflate"]),
    skip_header=st.booleans(),
    data=st.data(),
)
def test_ocf_block(batch, compress, skip_header, data):
    envelope = {
        "type": "ocf-block",
        "sync_marker": base64.b64encode(b"0123456789ABCDEF").decode(),
        "compress": compress,
        "skip_header": skip_header,
    }
    check_byte_stream(envelope, "avro-binary", RECORD, batch, data)


# -- delimited-csv --------------------------------------------------------------------------------


@given(batch=with_controls(flat_records(), controls(False)), skip_header=st.booleans(), data=st.data())
def test_delimited_csv(batch, skip_header, data):
    envelope = {
        "type": "delimited-csv",
        "separator": "\r\n",
        "skip_header": skip_header,
        "skip_blank_lines": True,
    }
    check_byte_stream(envelope, {"type": "csv", "quote_character": '"', "delimiter": ","}, FLAT, batch, data)
