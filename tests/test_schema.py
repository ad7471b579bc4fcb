"""Schema: parsing and $ref, validation with paths, fast paths, inference, pandas dtypes."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import subprocess
import sys
import textwrap

import fastavro
import msgspec
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastscore_sdk.errors import SchemaError
from fastscore_sdk.schema import Mismatch, Schema, records_from_frame

ITEM = {
    "type": "record",
    "name": "item",
    "fields": [{"name": "sku", "type": "string"}, {"name": "price", "type": "double"}],
}
ORDER = {
    "type": "record",
    "name": "order",
    "namespace": "shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "items", "type": {"type": "array", "items": ITEM}},
        {"name": "tags", "type": {"type": "map", "values": "int"}},
        {"name": "note", "type": ["null", "string"]},
        {
            "name": "color",
            "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]},
            "default": "RED",
        },
        {"name": "backup", "type": ["null", "item"], "default": None},
    ],
}
GOOD_ORDER = {"id": 7, "items": [{"sku": "a", "price": 1.5}], "tags": {"x": 1}}

POINT = {
    "type": "record",
    "name": "point",
    "fields": [
        {"name": "id", "type": "int"},
        {"name": "x", "type": "double"},
        {"name": "y", "type": "float"},
        {"name": "name", "type": "string"},
        {"name": "flag", "type": "boolean"},
    ],
}


def raises_schema_error(schema: Schema, record, **kw) -> SchemaError:
    with pytest.raises(SchemaError) as info:
        schema.validate(record, **kw)
    return info.value


# --------------------------------------------------------------------------- verify_data (reference §7.58)


def test_verify_data_parity_with_the_reference():
    s = Schema("s2", "int")
    assert s.verify_data(["2", '"fastscore"', "[]", "3"]) == [
        ("OK", None),
        ("FAIL", 'Int expected, not "fastscore"'),
        ("FAIL", "Int expected, not []"),
        ("OK", None),
    ]


def test_verify_data_reports_malformed_json_and_skips_blank_lines():
    result = Schema("s2", "int").verify_data(["1\n", "{oops", "", "\n", b"5"])
    assert [status for status, _ in result] == ["OK", "JSON", "OK"]
    assert "malformed" in result[1][1]


def test_verify_data_names_nested_paths():
    [(status, why)] = Schema("o", ORDER).verify_data([json.dumps({**GOOD_ORDER, "tags": {"x": "1"}})])
    assert status == "FAIL"
    assert why == '$.tags["x"]: Int expected, not "1"'


# --------------------------------------------------------------------------- validation messages


def test_reference_message_for_a_scalar_with_slot_and_index():
    err = raises_schema_error(Schema("s2", "int"), "fastscore", record_index=4, slot=0)
    assert str(err) == "slot 0, record 4, schema 's2': Int expected, not \"fastscore\""
    assert (err.path, err.value, err.record_index, err.slot, err.schema) == ("$", "fastscore", 4, 0, "s2")
    assert isinstance(err, ValueError)


def test_nested_record_array_map_paths_and_all_errors():
    s = Schema("order", ORDER)
    bad = {
        "id": True,
        "items": [{"sku": "a", "price": 1}, {"sku": 2, "price": "x"}],
        "tags": {"x": 1.5},
        "note": 5,
    }
    err = raises_schema_error(s, bad, record_index=3)
    assert err.path == "$.id"
    assert err.value is True
    assert [e.path for e in err.errors] == [
        "$.id",
        "$.items[1].sku",
        "$.items[1].price",
        '$.tags["x"]',
        "$.note",
    ]
    assert err.errors[2] == Mismatch("$.items[1].price", 'Double expected, not "x"', "x")
    text = str(err)
    assert text.startswith("record 3, at $.id, schema 'order': Long expected, not true")
    assert "$.items[1].price: Double expected" in text
    assert "$.note: Null or String expected, not 5" in text


def test_union_with_one_record_branch_points_inside_it():
    s = Schema("order", ORDER)
    err = raises_schema_error(s, {**GOOD_ORDER, "backup": {"sku": "b"}})
    assert err.path == "$.backup.price"
    assert "missing field 'price' (Double expected)" in str(err)


def test_missing_fields_defaults_and_nulls():
    s = Schema("order", ORDER)
    assert s.is_valid(GOOD_ORDER)  # note is nullable, color and backup have defaults
    assert not s.is_valid({**GOOD_ORDER, "color": None})  # present null is not the enum
    assert not s.is_valid({k: v for k, v in GOOD_ORDER.items() if k != "id"})
    err = raises_schema_error(s, {"items": [], "tags": {}})
    assert err.path == "$.id"
    assert "missing field 'id'" in err.reason
    assert s.is_valid({**GOOD_ORDER, "extra": object()})  # extra keys are ignored


def test_enum_message_lists_symbols():
    err = raises_schema_error(Schema("order", ORDER), {**GOOD_ORDER, "color": "BLUE"})
    assert err.reason == 'Enum Color expected, not "BLUE" (symbols: RED, GREEN)'


def test_int_range_message():
    err = raises_schema_error(Schema(None, "int"), 2**40)
    assert err.reason == "Int expected, not 1099511627776 (out of range; use long)"
    assert Schema(None, "long").is_valid(2**40)
    assert not Schema(None, "long").is_valid(2**63)


@pytest.mark.parametrize(
    ("avro", "good", "bad"),
    [
        ("int", [0, -(2**31), 2**31 - 1], [True, False, 1.0, "1", None, 2**31]),
        ("long", [2**62, -(2**63)], [True, 1.5, 2**63]),
        ("double", [1.5, 2, -0.0, float("nan")], [True, False, "1.5", None]),
        ("float", [1.5, 2], [True]),
        ("boolean", [True, False], [0, 1, 1.0, "true", None]),
        ("string", ["", "x"], [b"x", 1, None]),
        ("bytes", [b"x", bytearray(b"y"), "latin-1 text"], [1, None, ["x"]]),
        ("null", [None], [0, "", "null"]),
        ({"type": "fixed", "name": "f4", "size": 4}, [b"abcd", "abcd"], [b"abc", "abcde", 1234]),
        ({"type": "array", "items": "int"}, [[], [1, 2], (1, 2)], [[1, "2"], "12", {"a": 1}, [True]]),
        ({"type": "map", "values": "double"}, [{}, {"a": 1.0}], [{1: 1.0}, {"a": "x"}, [("a", 1.0)]]),
        (
            ["null", "int", "string"],
            [None, 1, "x", {"int": 1}, {"string": "y"}],
            [1.5, {"int": "x"}, {"x": 1}],
        ),
        (
            {"type": "long", "logicalType": "timestamp-millis"},
            [0, dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)],
            ["2020-01-01", 1.5],
        ),
        ({"type": "int", "logicalType": "date"}, [0, dt.date(2020, 1, 1)], ["2020-01-01"]),
    ],
)
def test_primitive_strictness(avro, good, bad):
    s = Schema(None, avro)
    for value in good:
        assert s.is_valid(value), value
        s.validate(value)
    for value in bad:
        assert not s.is_valid(value), value
        assert s.errors(value), value


def test_numpy_scalars_validate_as_their_avro_types():
    s = Schema("point", POINT)
    rec = {
        "id": np.int64(3),
        "x": np.float64(1.5),
        "y": np.float32(2.5),
        "name": np.str_("a"),
        "flag": np.bool_(True),
    }
    assert s.is_valid(rec)
    s.validate(rec)
    assert Schema(None, "int").is_valid(np.int32(5))
    assert Schema(None, "double").is_valid(np.int16(5))
    assert not Schema(None, "int").is_valid(np.int64(2**40))
    assert not Schema(None, "int").is_valid(np.bool_(True))
    assert not Schema(None, "int").is_valid(np.float64(1.0))
    assert not Schema(None, "boolean").is_valid(np.int64(1))
    assert not Schema(None, "double").is_valid(np.bool_(False))
    assert Schema(None, {"type": "array", "items": "double"}).is_valid(np.array([1.0, 2.0]))
    assert not Schema(None, {"type": "array", "items": "double"}).is_valid(np.float64(1.0))
    err = raises_schema_error(Schema(None, "int"), np.float64(2.5))
    assert err.reason == "Int expected, not 2.5"


def test_recursive_schema_and_union_of_records():
    node = {
        "type": "record",
        "name": "node",
        "fields": [{"name": "value", "type": "int"}, {"name": "next", "type": ["null", "node"]}],
    }
    s = Schema("list", node)
    assert s.is_valid({"value": 1, "next": {"value": 2, "next": None}})
    err = raises_schema_error(s, {"value": 1, "next": {"value": 2, "next": {"value": "3"}}})
    assert err.path == "$.next.next.value"

    cat = {"type": "record", "name": "cat", "fields": [{"name": "meow", "type": "boolean"}]}
    dog = {"type": "record", "name": "dog", "fields": [{"name": "bark", "type": "int"}]}
    pets = Schema("pets", {"type": "array", "items": [cat, dog]})
    assert pets.is_valid([{"meow": True}, {"bark": 3}, {"dog": {"bark": 1}}])
    err = raises_schema_error(pets, [{"meow": True}, {"bark": "loud"}])
    assert err.path == "$[1]"
    assert err.reason.startswith("Record cat or Record dog expected")


# --------------------------------------------------------------------------- is_valid == validate, and fastavro


def _values(avro, named, depth=0):
    """Mostly-valid values for a schema, with type-confused and numpy values mixed in."""
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**65), max_value=2**65),
        st.floats(allow_nan=False),
        st.text(max_size=3),
        st.just([]),
        st.just({}),
        st.sampled_from([np.int64(5), np.float32(1.5), np.bool_(True), np.int64(2**40)]),
    )
    if isinstance(avro, list):
        return st.one_of(*[_values(b, named, depth) for b in avro])
    t = avro if isinstance(avro, str) else avro["type"]
    if isinstance(t, str) and t in named:
        if depth > 2:
            return junk
        return _values(named[t], named, depth + 1)
    valid = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
        "long": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "double": st.one_of(st.floats(allow_nan=False), st.integers(-100, 100)),
        "float": st.floats(allow_nan=False, width=32),
        "string": st.text(max_size=4),
    }.get(t)
    if valid is None and t == "enum":
        valid = st.sampled_from(avro["symbols"])
    if valid is None and t == "array":
        valid = st.lists(_values(avro["items"], named, depth + 1), max_size=3)
    if valid is None and t == "map":
        valid = st.dictionaries(
            st.sampled_from(["a", "b"]), _values(avro["values"], named, depth + 1), max_size=2
        )
    if valid is None and t == "record":
        named[avro["name"]] = avro
        fields = {f["name"]: _values(f["type"], named, depth + 1) for f in avro["fields"]}
        required = {k: v for k, v in fields.items() if _required(avro, k)}
        optional = {k: v for k, v in fields.items() if k not in required}
        full = st.fixed_dictionaries(required, optional=optional)
        valid = _mostly(full, st.fixed_dictionaries({}, optional=fields))
    return _mostly(valid, junk)


def _mostly(usual, rare):
    """``usual`` about 9 times in 10 (``one_of`` alone would favour the simpler strategy)."""
    return st.integers(0, 9).flatmap(lambda k: rare if k == 0 else usual)


def _required(record, name):
    f = next(f for f in record["fields"] if f["name"] == name)
    return "default" not in f and not (isinstance(f["type"], list) and "null" in f["type"])


PROPERTY_SCHEMAS = [
    POINT,
    {
        "type": "record",
        "name": "outer",
        "fields": [
            {"name": "n", "type": ["null", "long"]},
            {"name": "xs", "type": {"type": "array", "items": ["int", "string"]}},
            {"name": "m", "type": {"type": "map", "values": "double"}},
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}, "default": "A"},
            {
                "name": "inner",
                "type": [
                    "null",
                    {
                        "type": "record",
                        "name": "inner",
                        "fields": [
                            {"name": "ok", "type": "boolean"},
                            {"name": "w", "type": "float", "default": 0.0},
                        ],
                    },
                ],
            },
        ],
    },
    {
        "type": "record",
        "name": "tree",
        "fields": [
            {"name": "v", "type": "int"},
            {"name": "kids", "type": {"type": "array", "items": "tree"}},
        ],
    },
]


@pytest.mark.parametrize("avro", PROPERTY_SCHEMAS, ids=lambda a: a["name"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_is_valid_agrees_with_validate_and_fastavro(avro, data):
    schema = Schema(None, avro)
    value = data.draw(_values(avro, {}))
    valid = schema.is_valid(value)
    errors = schema.errors(value)
    assert valid == (not errors)
    if valid:
        schema.validate(value)
    else:
        with pytest.raises(SchemaError):
            schema.validate(value)
    # Plain Python values (no numpy): the same answer as fastavro, whose rules ours extend.
    if "np." not in repr(value):
        assert valid == fastavro.validation.validate(value, schema.parsed, raise_errors=False), value


# --------------------------------------------------------------------------- parsing and $ref


@pytest.mark.parametrize(
    ("avro", "path", "fragment"),
    [
        ({"type": "record", "name": "r", "fields": [{"name": "a", "type": "strng"}]}, "$.a", "did you mean 'string'"),
        ({"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}, {"name": "a", "type": "int"}]},
         "$.a", "appears twice"),
        ({"type": "record", "name": "r", "fields": [{"name": "a", "type": "int", "default": "x"}]},
         "$.a", "default \"x\" of field 'a' does not match its type (Int)"),
        (["int", "int"], "$.union[1]", "'int' twice"),
        ({"type": "enum", "name": "e", "symbols": ["A", "A"]}, "$", "repeats symbols A"),
        ({"type": "record", "name": "r"}, "$", "needs a 'fields' list"),
        ({"type": "record", "name": "1r", "fields": []}, "$", "needs a 'name'"),
        ({"type": "array"}, "$", "needs 'items'"),
        ({"type": "record", "name": "r", "fields": [{"name": "xs", "type": {"type": "array", "items": "nope"}}]},
         "$.xs.items", "unknown type 'nope'"),
        ({"type": "fixed", "name": "f", "size": -1}, "$", "non-negative integer 'size'"),
    ],
)  # fmt: skip
def test_invalid_avro_names_problem_and_place(avro, path, fragment):
    with pytest.raises(SchemaError) as info:
        Schema("bad", avro, library={})
    assert info.value.path == path
    assert fragment in str(info.value)


def test_json_text_and_primitive_names():
    assert Schema("s", '{"type": "array", "items": "int"}').avro == {"type": "array", "items": "int"}
    assert Schema("s", '"double"').avro == "double"
    assert Schema("s", "  string ").avro == "string"
    with pytest.raises(SchemaError, match="not valid JSON"):
        Schema("s", '{"type": ')
    with pytest.raises(SchemaError, match="did you mean 'string'"):
        Schema("s", "strng")


def test_ref_resolution_nested_repeated_and_named_reuse():
    lib = {
        "item": ITEM,
        "items": {"type": "array", "items": {"$ref": "item"}},
        "price": "double",
    }
    s = Schema(
        "cart",
        {
            "type": "record",
            "name": "cart",
            "fields": [
                {"name": "lines", "type": {"$ref": "items"}},
                {"name": "best", "type": ["null", {"$ref": "item"}]},  # the same named type again
                {"name": "also", "type": "item"},  # a name defined earlier through $ref
                {"name": "total", "type": {"$ref": "price"}},
            ],
        },
        library=lib,
    )
    assert s.avro["fields"][0]["type"]["items"]["name"] == "item"
    assert s.avro["fields"][1]["type"] == ["null", "item"]
    assert s.avro["fields"][3]["type"] == "double"
    rec = {
        "lines": [{"sku": "a", "price": 1.0}],
        "best": None,
        "also": {"sku": "b", "price": 2},
        "total": 3.0,
    }
    assert s.is_valid(rec)
    assert "$ref" not in s.to_json()


def test_ref_missing_name_lists_known_ones():
    with pytest.raises(SchemaError) as info:
        Schema("x", {"type": "array", "items": {"$ref": "nope"}}, library={"a": "int", "b": "long"})
    assert info.value.path == "$.items"
    assert "$ref 'nope': no schema of that name" in str(info.value)
    assert "(known: a, b)" in str(info.value)


def test_ref_cycle_is_reported():
    lib = {"a": {"type": "array", "items": {"$ref": "b"}}, "b": {"type": "map", "values": {"$ref": "a"}}}
    with pytest.raises(SchemaError, match=r"\$ref cycle a -> b -> a"):
        Schema("a", {"$ref": "b"}, library=lib)
    with pytest.raises(SchemaError, match="cycle"):
        Schema(None, {"$ref": "a"}, library=lib)


def test_ref_through_library_objects():
    from fastscore_sdk.library import Library

    lib = Library()
    lib.schemas["price"] = "double"
    s = Schema("tick", {"type": "record", "name": "tick", "fields": [{"name": "p", "type": {"$ref": "price"}}]},
               library=lib)  # fmt: skip
    assert s.avro["fields"][0]["type"] == "double"
    assert Schema("p2", "price", library=lib).avro == "double"  # a bare library name


# --------------------------------------------------------------------------- object behaviour


def test_attributes_equality_repr_html_pickle_and_load(tmp_path):
    s = Schema("order", ORDER)
    assert s.is_record and s.fields == ["id", "items", "tags", "note", "color", "backup"]
    assert not Schema("n", "int").is_record and Schema("n", "int").fields == []
    assert Schema("order", json.dumps(ORDER)) == s
    assert Schema("other", ORDER) != s
    assert hash(Schema("order", ORDER)) == hash(s)
    assert len(repr(s)) < 200 and repr(s).startswith("Schema('order', record order {id: long")
    html = s._repr_html_()
    for text in ("<table>", "note", "[null, string]", "int64", "yes"):
        assert text in html
    assert pickle.loads(pickle.dumps(s)) == s
    assert pickle.loads(pickle.dumps(s)).is_valid(GOOD_ORDER)
    assert json.loads(s.to_json()) == ORDER
    (tmp_path / "close_price.avsc").write_text(json.dumps("double"))
    loaded = Schema.load(tmp_path / "close_price.avsc")
    assert loaded.name == "close_price" and loaded.avro == "double"
    assert Schema(None, ORDER).name == "order"


def test_parsed_schema_works_with_fastavro():
    import io

    s = Schema("point", POINT)
    buf = io.BytesIO()
    rec = {"id": 1, "x": 1.5, "y": 2.5, "name": "p", "flag": False}
    fastavro.schemaless_writer(buf, s.parsed, rec)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, s.parsed) == rec


# --------------------------------------------------------------------------- JSON fast paths


def test_json_decoder_returns_plain_json_and_raises_on_bad_input():
    s = Schema("point", POINT)
    dec = s.json_decoder()
    raw = b'{"id": 1, "x": 2, "y": 1.5, "name": "p", "flag": true, "extra": [1]}'
    rec = dec(raw)
    assert rec == msgspec.json.decode(raw)  # extras kept, 2 stays an int
    assert type(rec) is dict and type(rec["x"]) is int
    with pytest.raises(SchemaError, match=r"at \$\.flag"):
        dec(b'{"id": 1, "x": 2, "y": 1.5, "name": "p", "flag": 1}')
    with pytest.raises(msgspec.DecodeError):
        dec(b'{"id": 1,')
    assert Schema(None, ["null", "int"]).json_decoder()(b"null") is None
    assert Schema(None, ["null", "int"]).json_decoder()(b'{"int": 4}') == {"int": 4}


def test_projected_json_decoder():
    s = Schema("point", POINT)
    dec = s.json_decoder(project=True)
    rec = dec(b'{"id": 1, "x": 2, "y": 1.5, "name": "p", "flag": true, "extra": [1]}')
    assert rec == {"id": 1, "x": 2.0, "y": 1.5, "name": "p", "flag": True}
    assert type(rec) is dict and type(rec["x"]) is float
    for bad in (b'{"id": 1, "x": 2, "y": 1.5, "name": "p", "flag": 1}', b'{"id": 2147483648}', b"{"):
        with pytest.raises(msgspec.DecodeError):
            dec(bad)
    order = Schema("order", ORDER).json_decoder(project=True)
    assert order(json.dumps(GOOD_ORDER).encode()) == GOOD_ORDER
    batch = Schema("point", POINT).json_batch_decoder(project=True)
    assert batch([b'{"id": 1, "x": 2, "y": 1, "name": "p", "flag": false}']) == [
        {"id": 1, "x": 2.0, "y": 1.0, "name": "p", "flag": False}
    ]
    # msgspec cannot express a union of two records: the default decoder is used instead
    pets = Schema("pets", {"type": "array", "items": [
        {"type": "record", "name": "cat", "fields": [{"name": "meow", "type": "boolean"}]},
        {"type": "record", "name": "dog", "fields": [{"name": "bark", "type": "int"}]}]})  # fmt: skip
    assert pets.json_decoder(project=True)(b'[{"bark": 1, "x": 0}]') == [{"bark": 1, "x": 0}]


@pytest.mark.parametrize("avro", PROPERTY_SCHEMAS[:2], ids=lambda a: a["name"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_projected_decoder_never_accepts_an_invalid_record(avro, data):
    schema = Schema(None, avro)
    value = data.draw(_values(avro, {}))
    try:
        raw = msgspec.json.encode(value)
    except TypeError:  # numpy scalars are not JSON
        return
    try:
        schema.json_decoder(project=True)(raw)
    except msgspec.DecodeError:
        return
    assert schema.is_valid(msgspec.json.decode(raw))


def test_json_batch_decoder():
    dec = Schema(None, {"type": "map", "values": "int"}).json_batch_decoder()
    assert dec([b'{"a": 1}', b"{}", b'{\n"b": 2}']) == [{"a": 1}, {}, {"b": 2}]
    assert dec([]) == []
    with pytest.raises(msgspec.DecodeError):
        dec([b'{"a": 1}', b""])  # an empty frame is not a record
    with pytest.raises(msgspec.DecodeError):
        dec([b'{"a": 1} {"b": 2}'])
    with pytest.raises(SchemaError):
        dec([b'{"a": 1}', b'{"a": "x"}'])


# --------------------------------------------------------------------------- inference


IRIS = [
    {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
    {"sepal_length": 4.9, "sepal_width": 3.0, "petal_length": 1.4, "petal_width": 0.2},
]


def test_infer_iris_four_doubles_and_stable_names():
    s = Schema.infer(IRIS, name="iris")
    assert s.name == "iris"
    assert s.avro == {
        "type": "record",
        "name": "iris",
        "fields": [{"name": n, "type": "double"} for n in IRIS[0]],
    }
    anonymous = Schema.infer(IRIS)
    assert anonymous.avro["name"] == Schema.infer(list(reversed(IRIS))).avro["name"]
    assert anonymous.avro["name"].startswith("Record_")
    code = textwrap.dedent(
        f"""
        from fastscore_sdk.schema import Schema
        print(Schema.infer({IRIS!r}).avro["name"])
        """
    )
    other_run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONHASHSEED": "12345"},
        check=True,
    )
    assert other_run.stdout.strip() == anonymous.avro["name"]


def test_infer_missing_fields_are_nullable_with_null_default():
    s = Schema.infer([{"x": 1, "y": 2}, {"x": 3}], name="xy")
    assert s.avro["fields"] == [
        {"name": "x", "type": "int"},
        {"name": "y", "type": ["null", "int"], "default": None},
    ]
    original = Schema.infer([{"x": 1, "y": 2}, {"x": 3}], name="xy", nullable_optional=False)
    assert original.avro["fields"][1] == {"name": "y", "type": "int", "default": 0}


def test_infer_types_unions_nesting_and_maps():
    assert Schema.infer([1, 2**40]).avro == "long"
    assert Schema.infer([1, 2.5]).avro == "double"
    assert Schema.infer([1, "a", None]).avro == ["null", "int", "string"]
    assert Schema.infer([True, None]).avro == ["null", "boolean"]
    with pytest.raises(SchemaError, match="do not fit an Avro long"):
        Schema.infer([2**70])
    s = Schema.infer(
        [
            {"name": "a", "address": {"zip": "1"}, "items": [{"sku": "x", "n": 1}]},
            {"name": "b", "address": {"zip": "2", "city": "c"}, "items": []},
        ],
        name="iris",
    )
    fields = {f["name"]: f["type"] for f in s.avro["fields"]}
    assert fields["address"]["name"] == "iris_address"
    assert fields["address"]["fields"][1] == {"name": "city", "type": ["null", "string"], "default": None}
    assert fields["items"] == {
        "type": "array",
        "items": {
            "type": "record",
            "name": "iris_items",
            "fields": [{"name": "sku", "type": "string"}, {"name": "n", "type": "int"}],
        },
    }
    scores = Schema.infer([{"scores": {"2f1c-a": 1.5, "9b2e-b": 2}}]).avro["fields"][0]["type"]
    assert scores == {"type": "map", "values": "double"}


def test_infer_enums_only_on_request():
    samples = [{"species": s} for s in ["setosa", "versicolor", "virginica"] * 10]
    assert Schema.infer(samples, name="iris").avro["fields"][0]["type"] == "string"
    enum = Schema.infer(samples, name="iris", enums=True).avro["fields"][0]["type"]
    assert enum == {"type": "enum", "name": "iris_species", "symbols": ["setosa", "versicolor", "virginica"]}


def test_infer_empty_is_an_error():
    with pytest.raises(SchemaError, match="no samples to infer from"):
        Schema.infer([])


def test_infer_csv_values_are_typed():
    rows = [
        {"n": "1", "x": "1.5", "ok": "true", "maybe": "", "word": "a", "zip": "02134"},
        {"n": "2", "x": "2", "ok": "False", "maybe": "3", "word": "1", "zip": "10001"},
    ]
    s = Schema.infer(rows, name="t", csv=True)
    assert {f["name"]: f["type"] for f in s.avro["fields"]} == {
        "n": "int",
        "x": "double",
        "ok": "boolean",
        "maybe": ["null", "int"],
        "word": "string",
        "zip": "string",
    }


def test_infer_from_files_tolerates_trailing_newline_and_blank_lines(tmp_path):
    jsons = tmp_path / "iris.jsons"
    jsons.write_text("\n".join(json.dumps(r) for r in IRIS) + '\n\n{"$fastscore": "end"}\n')
    s = Schema.infer_from_file(jsons)
    assert s.name == "iris" and [f["type"] for f in s.avro["fields"]] == ["double"] * 4
    csv_file = tmp_path / "trips.csv"
    csv_file.write_text("id,fare,paid\n1,9.5,true\n2,12,false\n\n")
    c = Schema.infer_from_file(csv_file)
    assert {f["name"]: f["type"] for f in c.avro["fields"]} == {
        "id": "int",
        "fare": "double",
        "paid": "boolean",
    }
    bad = tmp_path / "bad.jsons"
    bad.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(SchemaError, match="line 2"):
        Schema.infer_from_file(bad)


def test_inferred_schema_accepts_its_samples():
    samples = [
        {"a": 1, "b": [1.5, 2], "c": {"d": None}, "e": "x"},
        {"a": 2**35, "b": [], "c": {"d": True}, "f": [[1], [2, 3]]},
    ]
    s = Schema.infer(samples)
    assert all(s.is_valid(r) for r in samples)


# --------------------------------------------------------------------------- pandas


TYPED = {
    "type": "record",
    "name": "typed",
    "fields": [
        {"name": "i", "type": "int"},
        {"name": "ni", "type": ["null", "int"]},
        {"name": "l", "type": "long"},
        {"name": "nl", "type": ["null", "long"]},
        {"name": "f", "type": "float"},
        {"name": "d", "type": ["null", "double"]},
        {"name": "b", "type": "boolean"},
        {"name": "nb", "type": ["null", "boolean"]},
        {"name": "s", "type": "string"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"]}},
        {"name": "raw", "type": "bytes"},
        {"name": "xs", "type": {"type": "array", "items": "int"}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
    ],
}
TYPED_ROWS = [
    {"i": 1, "ni": None, "l": 2**40, "nl": 5, "f": 1.5, "d": None, "b": True, "nb": None, "s": "x", "e": "A",
     "raw": b"\x00", "xs": [1, 2], "ts": 1_600_000_000_000, "day": 18_000},
    {"i": 2, "ni": 3, "l": 0, "nl": None, "f": 2.5, "d": 0.5, "b": False, "nb": True, "s": "y", "e": "B",
     "raw": b"", "xs": [], "ts": 0, "day": None},
]  # fmt: skip


def test_pandas_dtypes_mapping():
    dtypes = {k: str(v) for k, v in Schema("typed", TYPED).pandas_dtypes().items()}
    assert dtypes == {
        "i": "int32",
        "ni": "Int32",
        "l": "int64",
        "nl": "Int64",
        "f": "float32",
        "d": "float64",
        "b": "bool",
        "nb": "boolean",
        "s": str(pd.Series(["a"]).dtype),
        "e": str(pd.Series(["a"]).dtype),
        "raw": "object",
        "xs": "object",
        "ts": "datetime64[ms, UTC]",
        "day": "datetime64[s]",
    }
    assert Schema(None, "double").scalar_dtype() == np.float64
    assert Schema(None, ["null", "long"]).scalar_dtype() == "Int64"
    with pytest.raises(SchemaError, match="record schema"):
        Schema(None, "int").pandas_dtypes()


def test_to_pandas_column_order_and_dtypes():
    s = Schema("typed", TYPED)
    rows = [{**r, "ignored": 1} for r in TYPED_ROWS]
    df = s.to_pandas(list(reversed(rows)))
    assert list(df.columns) == s.fields
    assert {c: str(t) for c, t in df.dtypes.items()} == {k: str(v) for k, v in s.pandas_dtypes().items()}
    assert df["ni"].isna().tolist() == [False, True]
    assert df["ts"].iloc[1] == pd.Timestamp("2020-09-13 12:26:40", tz="UTC")
    assert df["day"].iloc[1] == pd.Timestamp("2019-04-14")
    assert df["xs"].tolist() == [[], [1, 2]]
    unchecked = s.to_pandas([{**TYPED_ROWS[0], "b": None, "i": None}])
    assert str(unchecked["b"].dtype) == "boolean" and unchecked["b"].isna().all()  # not silently False
    assert str(unchecked["i"].dtype) == "Int32"
    empty = s.to_pandas([])
    assert list(empty.columns) == s.fields and len(empty) == 0
    assert empty["i"].dtype == np.int32


def test_to_pandas_non_record_schemas():
    assert Schema(None, "int").to_pandas([1, 2, 3])[0].tolist() == [1, 2, 3]
    assert Schema(None, "int").to_pandas([1, 2, 3])[0].dtype == np.int32
    assert list(Schema(None, "string").to_pandas(["a"], column="value").columns) == ["value"]
    arr = Schema(None, {"type": "array", "items": "double"}).to_pandas([[1, 2], [3, 4]])
    assert arr.shape == (2, 2) and arr[1].dtype == np.float64


def test_records_from_frame_gives_python_values():
    s = Schema("typed", TYPED)
    df = s.to_pandas(TYPED_ROWS)
    back = s.records_from_frame(df)
    assert back[0]["i"] == 1 and type(back[0]["i"]) is int
    assert type(back[0]["f"]) is float and type(back[0]["b"]) is bool
    assert back[0]["ni"] is None and back[1]["ni"] == 3 and type(back[1]["ni"]) is int
    assert back[0]["d"] is None  # NaN in a nullable double is null
    assert back[1]["nl"] is None and back[1]["day"] is None
    plain = records_from_frame(pd.DataFrame({"a": np.array([1, 2]), "x": [np.nan, 1.0], "s": ["p", None]}))
    assert plain[0]["a"] == 1 and type(plain[0]["a"]) is int
    assert np.isnan(plain[0]["x"])  # NaN stays a float without a schema saying null
    assert plain[1]["s"] is None
    assert records_from_frame(pd.Series([np.int64(1), np.int64(2)])) == [1, 2]
    point = Schema("point", POINT)
    frame = pd.DataFrame({"id": [1], "x": [1.0], "y": [2.0], "name": ["n"], "flag": [True]})
    assert all(point.is_valid(r) for r in point.records_from_frame(frame))
