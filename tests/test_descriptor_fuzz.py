"""Property tests: whatever a descriptor holds, the parser succeeds or raises DescriptorError, nothing else."""

from __future__ import annotations

import json
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastscore_sdk.descriptor import (
    check,
    from_literal,
    has_plaintext_secrets,
    interpret,
    is_literal,
    normalize,
    redact,
    to_json,
)
from fastscore_sdk.descriptor.fields import (
    BATCHING_FIELDS,
    CSV_FIELDS,
    ENVELOPE_FIELDS,
    HDFS_AUTH_FIELDS,
    TOP_FIELDS,
    TRANSPORT_FIELDS,
)
from fastscore_sdk.errors import DescriptorError, FastScoreDeprecationWarning

_FIELD_NAMES = sorted(
    {
        *TOP_FIELDS,
        *(f for fields in TRANSPORT_FIELDS.values() for f in fields),
        *ENVELOPE_FIELDS,
        *CSV_FIELDS,
        *BATCHING_FIELDS,
        *HDFS_AUTH_FIELDS,
        "Type",
        "Bind",
        "Seperator",
        "Rotate",
        "AssumeRoleWithSAML",
        "$ref",
        "type",
        "connect",
        "bootstrap-servers",
        "path",
        "url",
        "commit",
    }
)
_WORDS = [
    "REST",
    "rest",
    "HTTP",
    "Kafka",
    "kafka-offset",
    "S3",
    "file",
    "ODBC",
    "HDFS",
    "TCP",
    "UDP",
    "exec",
    "Exec",
    "inline",
    "debug",
    "discard",
    "console",
    "delimited",
    "deliminated",
    "fixed",
    "ocf-block",
    "delimited-csv",
    "json",
    "JSON",
    "utf8",
    "utf-8",
    "csv",
    "msgpack",
    "avro-binary",
    "soap-rpc",
    "normal",
    "explicit",
    "latest",
    "earliest",
    "$inherit",
    "simple",
    "chunked",
    "deflate",
    "int",
    "bytes",
    "string",
    "record",
    "secret://AccessKeyID",
    "secret://../etc/passwd",
    "Driver=MySQL;PWD=x;",
    "AQID",
    "%%%",
]

keys = st.one_of(
    st.sampled_from(_FIELD_NAMES), st.sampled_from(_FIELD_NAMES).map(str.lower), st.text(max_size=8)
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.sampled_from(_WORDS),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=20,
)
transports = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"Type": st.one_of(st.sampled_from(_WORDS), json_values)},
        optional={name: json_values for name in ("Path", "Port", "Data", "DataBinary", "Mode", "Host")},
    ).flatmap(lambda d: st.dictionaries(keys, json_values, max_size=4).map(lambda extra: {**extra, **d})),
)
descriptors = st.one_of(
    st.dictionaries(keys, json_values, max_size=8),
    st.fixed_dictionaries(
        {"Transport": transports},
        optional={
            "Encoding": json_values,
            "Envelope": json_values,
            "Schema": json_values,
            "Batching": json_values,
            "Loop": json_values,
            "SkipTo": json_values,
            "SkipToRecord": json_values,
            "LingerTime": json_values,
        },
    ),
    json_values,
)
slots = st.one_of(st.none(), st.integers(min_value=-2, max_value=6), st.sampled_from(["0", 1.5, True]))
literal_tags = st.sampled_from(
    [
        "rest",
        "rest-chunked",
        "discard",
        "console",
        "file",
        "kafka",
        "tcp",
        "udp",
        "exec",
        "inline",
        "inline-chunked",
        "http",
        "https",
        "s3",
        "foo",
        "REST",
    ]
)
literals = st.one_of(
    st.text(max_size=30),
    st.tuples(literal_tags, st.text(alphabet=st.sampled_from("ab01:/.,%[]\"' \\-~"), max_size=20)).map(
        lambda t: f"{t[0]}:{t[1]}"
    ),
)


def _resolver(name):
    return {"type": "record", "name": name, "fields": []} if name.startswith("a") else None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(descriptors, slots, st.booleans())
def test_descriptor_functions_raise_only_descriptor_errors(desc, slot, with_resolver):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FastScoreDeprecationWarning)
        before = json.dumps(desc, sort_keys=True, default=repr)
        try:
            normalize(desc)
        except DescriptorError:
            pass
        resolver = _resolver if with_resolver else None
        try:
            form = interpret(desc, slot=slot, resolve_schema=resolver)
        except DescriptorError as exc:
            assert exc.problems and all(p.code.startswith("FS-") for p in exc.problems)
        else:
            assert {"transport", "loop", "envelope", "encoding", "schema", "batching"} <= set(form)
        problems = check(desc, slot=slot, resolve_schema=resolver)
        assert isinstance(problems, list)
        redact(desc)
        has_plaintext_secrets(desc)
        # Nothing above may change the descriptor it was given.
        assert json.dumps(desc, sort_keys=True, default=repr) == before


@settings(max_examples=400, deadline=None)
@given(literals)
def test_literals_expand_or_raise_descriptor_errors(text):
    try:
        desc = from_literal(text)
    except DescriptorError as exc:
        assert exc.code.startswith("FS-L")
        return
    assert is_literal(text)
    assert json.loads(to_json(desc)) == desc
    # Whatever a literal expands to is a descriptor the interpreter can judge.
    try:
        interpret(desc)
    except DescriptorError:
        pass
