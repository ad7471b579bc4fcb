"""The restriction rules, as data: every check a descriptor goes through, each with a stable code.

Two tables drive :func:`evaluate`, both over the *interpreted* form (snake_case, defaults applied):

* :data:`FIELD_RULES`: one row per field (where it is, which transport/envelope/encoding it belongs to,
  whether it is required, what values it takes);
* :data:`RULES`: one row per restriction that relates several fields (reference §1.8 and the rest), each
  a predicate over :class:`Facts`, with a field, a message and a fix.

Codes
-----
========  ============================================================================================
Code      Rule
========  ============================================================================================
FS-D001   ``Loop`` needs a seekable transport (file, HTTP, S3, Kafka, inline, HDFS)
FS-D002   a boundary-preserving transport (Kafka, UDP) must have no framing (``Envelope`` null)
FS-D003   avro-binary encoding requires a schema
FS-D004   msgpack and avro-binary cannot use the ``delimited`` envelope
FS-D005   the ``ocf-block`` envelope requires avro-binary encoding
FS-D006   a schema on null encoding (raw bytes) must be ``"bytes"``
FS-D007   a schema on utf-8 encoding must be ``"string"``
FS-D008   ``SkipTo`` (bytes) needs a seekable transport that does not preserve boundaries
FS-D009   ``SkipToRecord`` needs a seekable, boundary-preserving transport (Kafka)
FS-D010   ``SkipToRecord`` cannot be null for Kafka
FS-D011   ODBC streams must have ``Encoding`` null and ``Schema`` null
FS-D012   ``OutputFields`` requires ``InsertIntoTable`` (ODBC)
FS-D013   soap-rpc encoding cannot have a schema
FS-D014   the ``delimited-csv`` envelope requires csv encoding
FS-D015   csv needs a record schema, or (on an input slot) no schema at all
FS-D016   a required field is missing or null (``Transport``, ``Transport.Type``, ``Path`` for file,
          ``Url`` for HTTP, ``BootstrapServers``/``Topic`` for Kafka, ``Group`` for kafka-offset,
          ``Bucket``/``ObjectKey`` for S3, ``ConnectionString`` for ODBC, ``NameNode``/``Path`` for
          HDFS, ``Host``/``Port`` for TCP, ``Port`` for UDP, ``Run`` for exec, ``Envelope.Type``,
          ``Encoding.Type``)
FS-D017   inline needs exactly one of ``Data`` and ``DataBinary``
FS-D018   a value has the wrong type (``Loop`` not a boolean, ``Port`` not an integer, ...)
FS-D019   a value is out of range (negative ``Watermark``, port above 65535, empty list, ...)
FS-D020   unknown transport type (the message lists the known ones)
FS-D021   unknown envelope
FS-D022   unknown encoding
FS-D023   the ``fixed`` envelope needs ``Size``
FS-D024   a headerless ``ocf-block`` (``SkipHeader`` false) needs ``SyncMarker``
FS-D025   an input-only transport (HTTP, UDP, inline) on an output (odd) slot
FS-D026   an output-only transport (discard, console, kafka-offset) on an input (even) slot
FS-D027   ``Schema {"$ref": NAME}`` names a schema that does not exist
FS-D028   a value is not one of the allowed words (REST ``Mode``, ``Batching``, ``SkipToRecord``,
          ``Compress``)
FS-D029   not valid base64 (``DataBinary``; ``SyncMarker`` must be 16 bytes)
FS-D030   the descriptor is not an object
FS-D031   a field is given twice under two spellings (``Bind`` and ``BindTo``)
FS-D032   the slot is not a non-negative integer
FS-D033   the descriptor is not valid JSON (or holds a value JSON cannot represent)
FS-S001   a ``secret://NAME`` reference names a secret that is not provided
FS-S002   a ``secret://`` reference with an invalid name
FS-S003   a secret file that cannot be read
========  ============================================================================================

Literal descriptors have their own codes, ``FS-L001`` to ``FS-L004`` (:mod:`.literal`).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import Problem
from ..secrets import is_secret_key
from .fields import ENCODINGS, ENVELOPES, TRANSPORT_TYPES
from .traits import TRAITS, Traits, traits_of

__all__ = ["FIELD_RULES", "RULES", "Facts", "FieldRule", "Kind", "Rule", "evaluate"]

_INVALID = "<invalid>"
_AVRO_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_KNOWN_TYPES = ", ".join(TRANSPORT_TYPES.values())


def _schema_type(schema: Any) -> str | None:
    """The Avro type name of a schema (``"bytes"``, ``"record"``, ``"union"``), None when unknown."""
    if isinstance(schema, str):
        return schema if schema in _AVRO_PRIMITIVES else None
    if isinstance(schema, Mapping):
        kind = schema.get("type")
        if isinstance(kind, str):
            return kind
        return _schema_type(kind) if isinstance(kind, (Mapping, list)) else None
    if isinstance(schema, list):
        return "union"
    return None


@dataclass(frozen=True)
class Facts:
    """What the rules look at, computed once from an interpreted descriptor.

    Attributes
    ----------
    form
        The interpreted descriptor.
    kind
        The transport type when it is a known one (``"kafka"``), else None.
    traits
        The transport's traits (None for an unknown type).
    slot
        The slot (None when not given or invalid); even is input, odd is output.
    encoding, envelope
        Their names (None for null; ``"<invalid>"`` for a value of the wrong type).
    schema
        ``"none"``, ``"inherit"``, ``"ref"`` (not resolved), ``"concrete"`` or ``"invalid"``.
    schema_type
        The Avro type of a concrete schema (None when it cannot be told).
    """

    form: Mapping[str, Any]
    kind: str | None
    traits: Traits | None
    slot: int | None
    slot_given: Any
    encoding: str | None
    envelope: str | None
    schema: str
    schema_type: str | None
    names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, form: Mapping[str, Any], slot: Any = None) -> Facts:
        """Facts of an interpreted form, for an optional slot."""
        transport = form.get("transport")
        kind = transport.get("type") if isinstance(transport, Mapping) else None
        kind = kind if isinstance(kind, str) and kind in TRAITS else None
        traits = traits_of(transport) if kind is not None else None  # type: ignore[arg-type]
        valid_slot = isinstance(slot, int) and not isinstance(slot, bool) and slot >= 0
        encoding = _section_name(form.get("encoding"))
        envelope = _section_name(form.get("envelope"))
        schema_value = form.get("schema")
        if schema_value is None:
            schema, schema_type = "none", None
        elif schema_value == "$inherit":
            schema, schema_type = "inherit", None
        elif isinstance(schema_value, Mapping) and "$ref" in schema_value:
            schema, schema_type = "ref", None
        elif isinstance(schema_value, (str, Mapping, list)):
            schema, schema_type = "concrete", _schema_type(schema_value)
        else:
            schema, schema_type = "invalid", None
        raw_type = transport.get("type") if isinstance(transport, Mapping) else None
        names = {
            "type": kind or str(raw_type),
            "type_written": TRANSPORT_TYPES.get(kind, str(raw_type)) if kind else str(raw_type),
            "encoding": "null" if encoding is None else encoding,
            "envelope": "null" if envelope is None else envelope,
            "slot": str(slot),
            "known_types": _KNOWN_TYPES,
            "known_envelopes": ", ".join(ENVELOPES),
            "known_encodings": "null, " + ", ".join(ENCODINGS),
        }
        return cls(
            form=form,
            kind=kind,
            traits=traits,
            slot=slot if valid_slot else None,
            slot_given=slot,
            encoding=encoding,
            envelope=envelope,
            schema=schema,
            schema_type=schema_type,
            names=names,
        )

    @property
    def is_input(self) -> bool:
        return self.slot is not None and self.slot % 2 == 0

    @property
    def is_output(self) -> bool:
        return self.slot is not None and self.slot % 2 == 1

    def transport(self, key: str) -> Any:
        transport = self.form.get("transport")
        return transport.get(key) if isinstance(transport, Mapping) else None

    def envelope_field(self, key: str) -> Any:
        envelope = self.form.get("envelope")
        return envelope.get(key) if isinstance(envelope, Mapping) else None


def _section_name(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        return value["type"]
    return _INVALID


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _fill(template: str, names: Mapping[str, str]) -> str:
    # Not str.format: fixes quote JSON, whose braces are not placeholders.
    return _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), template)


# -- field rules -----------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _b64_ok(value: str, size: int | None = None) -> bool:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return size is None or len(raw) == size


@dataclass(frozen=True)
class Kind:
    """The values a field takes: a type test, then a value test, with what to say when they fail."""

    expected: str
    accepts: Callable[[Any], bool]
    valid: Callable[[Any], bool] | None = None
    invalid_code: str = "FS-D019"
    nullable: bool = True

    def check(self, value: Any) -> str | None:
        """The code of the failure, or None when ``value`` is fine."""
        if value is None:
            return None if self.nullable else "FS-D018"
        if not self.accepts(value):
            return "FS-D018"
        if self.valid is not None and not self.valid(value):
            return self.invalid_code
        return None


BOOL = Kind("true or false", lambda v: isinstance(v, bool))
STR = Kind("a non-empty string", lambda v: isinstance(v, str), lambda v: bool(v))
ANY_STR = Kind("a string", lambda v: isinstance(v, str))
INT_GE0 = Kind("a whole number, 0 or more", _is_int, lambda v: v >= 0)
INT_GE1 = Kind("a whole number, 1 or more", _is_int, lambda v: v >= 1)
PORT = Kind("a port number from 1 to 65535", _is_int, lambda v: 1 <= v <= 65535)
STR_LIST = Kind(
    "a non-empty list of strings",
    _is_str_list,
    lambda v: bool(v) and all(v),
)
ANY_STR_LIST = Kind("a list of strings", _is_str_list)
OBJECT = Kind("an object", lambda v: isinstance(v, Mapping))
SECTION = Kind("a string, an object or null", lambda v: isinstance(v, (str, Mapping)))
SCHEMA = Kind(
    'an Avro schema (a string, object or array), {"$ref": NAME} or null',
    lambda v: isinstance(v, (str, Mapping, list)),
)
SKIP_TO_RECORD = Kind(
    'a record offset (0 or more), "earliest" or "latest"',
    lambda v: _is_int(v) or isinstance(v, str),
    lambda v: v in ("earliest", "latest") if isinstance(v, str) else v >= 0,
    invalid_code="FS-D028",
)
BATCHING = Kind(
    '"normal", "explicit", null or {"Watermark": N, "NagleTime": MS}',
    lambda v: isinstance(v, (Mapping, str)),
    lambda v: isinstance(v, Mapping),
    invalid_code="FS-D028",
)
MODE = Kind(
    '"simple" or "chunked"', lambda v: isinstance(v, str), lambda v: v in ("simple", "chunked"), "FS-D028"
)
COMPRESS = Kind('null or "deflate"', lambda v: isinstance(v, str), lambda v: v == "deflate", "FS-D028")
CHAR = Kind("a single character", lambda v: isinstance(v, str), lambda v: len(v) == 1)
DATA = Kind("a string or a list of strings", lambda v: isinstance(v, str) or _is_str_list(v))
DATA_BINARY = Kind(
    "a base64 string or a list of base64 strings",
    lambda v: isinstance(v, str) or _is_str_list(v),
    lambda v: all(_b64_ok(x) for x in ([v] if isinstance(v, str) else v)),
    invalid_code="FS-D029",
)
SYNC_MARKER = Kind(
    "16 bytes in base64 (24 characters)", lambda v: isinstance(v, str), lambda v: _b64_ok(v, 16), "FS-D029"
)


@dataclass(frozen=True)
class FieldRule:
    """One field: where it is, when it applies, whether it is required, what values it takes.

    Attributes
    ----------
    path
        Path in the interpreted form (``"transport.port"``).
    field
        The same field as written (``"Transport.Port"``), reported in problems.
    kind
        The values it takes.
    when
        Transport types (for ``transport.*``), envelope types (``envelope.*``) or encodings
        (``encoding.*``) it applies to; None for all.
    required
        Missing or null is a problem (``missing_code``).
    example
        A valid ``"Field": value`` pair, quoted in the fix.
    """

    path: str
    field: str
    kind: Kind
    when: frozenset[str] | None = None
    required: bool = False
    missing_code: str = "FS-D016"
    example: str = ""

    def check(self, facts: Facts) -> Iterator[Problem]:
        """The problems of this field in ``facts`` (none when it does not apply)."""
        *parents, key = self.path.split(".")
        section = parents[0] if parents else None
        if self.when is not None:
            current = {"transport": facts.kind, "envelope": facts.envelope, "encoding": facts.encoding}.get(
                section or ""
            )
            if current not in self.when:
                return
        container: Any = facts.form
        for part in parents:
            container = container.get(part) if isinstance(container, Mapping) else None
        if not isinstance(container, Mapping):
            return
        value = container.get(key)
        where = _where(section, facts)
        if value is None:
            if self.required:
                stated = "missing or null" if key in container else "missing"
                yield Problem(
                    self.missing_code,
                    self.field,
                    f"{self.field} is required{where}, but it is {stated}",
                    f"add {self.example}" if self.example else f"add {self.field}",
                )
            return
        code = self.kind.check(value)
        if code is None:
            return
        shown = _shown(value, key)
        if code == "FS-D018":
            message = f"{self.field} must be {self.kind.expected}, not {shown}"
        else:
            message = f"{self.field} is {shown}; it must be {self.kind.expected}"
        yield Problem(code, self.field, message, f"write e.g. {self.example}" if self.example else "")


def _where(section: str | None, facts: Facts) -> str:
    if section == "transport" and facts.kind:
        return f" for {TRANSPORT_TYPES[facts.kind]} streams"
    if section == "envelope" and facts.envelope:
        return f" for the {facts.envelope} envelope"
    return ""


def _shown(value: Any, key: str) -> str:
    if is_secret_key(key) or "connection" in key:
        return f"a value of type {type(value).__name__}"
    if isinstance(value, (Mapping, list)):
        return "an object" if isinstance(value, Mapping) else "a list" if value else "an empty list"
    try:
        text = repr(value)
    except ValueError:  # an integer too long to print (Python limits int -> str conversion)
        return "a very large number"
    return text if len(text) <= 40 else text[:37] + "..."


def _f(
    path: str,
    field_: str,
    kind: Kind,
    when: str | None = None,
    *,
    required: bool = False,
    example: str = "",
    missing_code: str = "FS-D016",
) -> FieldRule:
    return FieldRule(
        path,
        field_,
        kind,
        frozenset(when.split()) if when else None,
        required,
        missing_code,
        example,
    )


_KAFKA = "kafka kafka-offset"

#: Every field check, in the order problems are reported.
FIELD_RULES: tuple[FieldRule, ...] = (
    _f(
        "transport",
        "Transport",
        OBJECT,
        required=True,
        example='"Transport": {"Type": "file", "Path": "/data/in.jsons"}',
    ),
    _f("transport.type", "Transport.Type", ANY_STR, required=True, example='"Type": "file"'),
    _f("transport.mode", "Transport.Mode", MODE, "rest", example='"Mode": "chunked"'),
    _f(
        "transport.url",
        "Transport.Url",
        STR,
        "http",
        required=True,
        example='"Url": "https://host/data.jsons"',
    ),
    _f("transport.chunked", "Transport.Chunked", BOOL, "http", example='"Chunked": true'),
    _f(
        "transport.bootstrap_servers",
        "Transport.BootstrapServers",
        STR_LIST,
        _KAFKA,
        required=True,
        example='"BootstrapServers": ["kafka:9092"]',
    ),
    _f("transport.topic", "Transport.Topic", STR, _KAFKA, required=True, example='"Topic": "input"'),
    _f("transport.partition", "Transport.Partition", INT_GE0, _KAFKA, example='"Partition": 0'),
    _f("transport.max_wait_time", "Transport.MaxWaitTime", INT_GE0, _KAFKA, example='"MaxWaitTime": 8388607'),
    _f("transport.group", "Transport.Group", STR, "kafka", example='"Group": "my-consumers"'),
    _f(
        "transport.group",
        "Transport.Group",
        STR,
        "kafka-offset",
        required=True,
        example='"Group": "my-consumers"',
    ),
    _f("transport.commit_offset", "Transport.CommitOffset", BOOL, _KAFKA, example='"CommitOffset": false'),
    _f("transport.principal", "Transport.Principal", STR, _KAFKA, example='"Principal": "kafka/kafka@REALM"'),
    _f("transport.keytab", "Transport.Keytab", STR, _KAFKA, example='"Keytab": "/fastscore.keytab"'),
    _f("transport.bucket", "Transport.Bucket", STR, "s3", required=True, example='"Bucket": "my-bucket"'),
    _f(
        "transport.object_key",
        "Transport.ObjectKey",
        STR,
        "s3",
        required=True,
        example='"ObjectKey": "in.jsons"',
    ),
    _f("transport.region", "Transport.Region", STR, "s3", example='"Region": "us-east-1"'),
    _f(
        "transport.access_key_id",
        "Transport.AccessKeyID",
        STR,
        "s3",
        example='"AccessKeyID": "secret://AccessKeyID"',
    ),
    _f(
        "transport.secret_access_key",
        "Transport.SecretAccessKey",
        STR,
        "s3",
        example='"SecretAccessKey": "secret://SecretAccessKey"',
    ),
    _f(
        "transport.integrity_checks",
        "Transport.IntegrityChecks",
        BOOL,
        "s3",
        example='"IntegrityChecks": true',
    ),
    _f(
        "transport.endpoint_url",
        "Transport.EndpointUrl",
        STR,
        "s3",
        example='"EndpointUrl": "http://127.0.0.1:9000"',
    ),
    _f(
        "transport.path",
        "Transport.Path",
        STR,
        "file hdfs",
        required=True,
        example='"Path": "/data/in.jsons"',
    ),
    _f(
        "transport.connection_string",
        "Transport.ConnectionString",
        STR,
        "odbc",
        required=True,
        example='"ConnectionString": "Driver=MySQL;Server=db;Database=fastscore;User=u;PWD=secret://DB_PWD"',
    ),
    _f(
        "transport.select_query",
        "Transport.SelectQuery",
        STR,
        "odbc",
        example='"SelectQuery": "SELECT * FROM t"',
    ),
    _f(
        "transport.insert_into_table",
        "Transport.InsertIntoTable",
        STR,
        "odbc",
        example='"InsertIntoTable": "scores"',
    ),
    _f(
        "transport.output_fields",
        "Transport.OutputFields",
        STR_LIST,
        "odbc",
        example='"OutputFields": ["id", "score"]',
    ),
    _f("transport.timeout", "Transport.Timeout", INT_GE0, "odbc", example='"Timeout": 10000'),
    _f(
        "transport.name_node",
        "Transport.NameNode",
        STR,
        "hdfs",
        required=True,
        example='"NameNode": "namenode:9000"',
    ),
    _f(
        "transport.authentication",
        "Transport.Authentication",
        OBJECT,
        "hdfs",
        example='"Authentication": null',
    ),
    _f(
        "transport.authentication.type",
        "Transport.Authentication.Type",
        STR,
        "hdfs",
        example='"Type": "Kerberos"',
    ),
    _f(
        "transport.authentication.realm",
        "Transport.Authentication.Realm",
        STR,
        "hdfs",
        example='"Realm": "EXAMPLE.COM"',
    ),
    _f(
        "transport.authentication.kdc_host",
        "Transport.Authentication.KDCHost",
        STR,
        "hdfs",
        example='"KDCHost": "kdc:88"',
    ),
    _f(
        "transport.authentication.principal",
        "Transport.Authentication.Principal",
        STR,
        "hdfs",
        example='"Principal": "me"',
    ),
    _f(
        "transport.authentication.password",
        "Transport.Authentication.Password",
        STR,
        "hdfs",
        example='"Password": "secret://HDFS_PASSWORD"',
    ),
    _f(
        "transport.authentication.timeout",
        "Transport.Authentication.Timeout",
        INT_GE0,
        "hdfs",
        example='"Timeout": 3000',
    ),
    _f("transport.host", "Transport.Host", STR, "tcp", required=True, example='"Host": "127.0.0.1"'),
    _f("transport.port", "Transport.Port", PORT, "tcp udp", required=True, example='"Port": 8765'),
    _f("transport.bind_to", "Transport.BindTo", STR, "udp", example='"BindTo": "0.0.0.0"'),
    _f("transport.run", "Transport.Run", STR, "exec", required=True, example='"Run": "/bin/cat"'),
    _f("transport.args", "Transport.Args", ANY_STR_LIST, "exec", example='"Args": ["-c", "echo 1"]'),
    _f("transport.data", "Transport.Data", DATA, "inline", example='"Data": ["1", "2"]'),
    _f(
        "transport.data_binary",
        "Transport.DataBinary",
        DATA_BINARY,
        "inline",
        example='"DataBinary": ["AQID"]',
    ),
    _f("version", "Version", ANY_STR, example='"Version": "1.2"'),
    _f("description", "Description", ANY_STR, example='"Description": "iris input"'),
    _f("loop", "Loop", BOOL, example='"Loop": false'),
    _f("skip_to", "SkipTo", INT_GE0, example='"SkipTo": 100'),
    _f("skip_to_record", "SkipToRecord", SKIP_TO_RECORD, example='"SkipToRecord": "earliest"'),
    _f("end_marker", "EndMarker", STR, example='"EndMarker": "$end-of-stream"'),
    _f("envelope", "Envelope", SECTION, example='"Envelope": "delimited"'),
    _f("envelope.type", "Envelope.Type", ANY_STR, required=True, example='"Type": "delimited"'),
    _f(
        "envelope.separator",
        "Envelope.Separator",
        STR,
        "delimited delimited-csv",
        example='"Separator": "\\r\\n"',
    ),
    _f(
        "envelope.size",
        "Envelope.Size",
        INT_GE1,
        "fixed",
        required=True,
        missing_code="FS-D023",
        example='"Envelope": {"Type": "fixed", "Size": 8}',
    ),
    _f(
        "envelope.sync_marker",
        "Envelope.SyncMarker",
        SYNC_MARKER,
        "ocf-block",
        example='"SyncMarker": "<16 bytes, base64>"',
    ),
    _f("envelope.compress", "Envelope.Compress", COMPRESS, "ocf-block", example='"Compress": "deflate"'),
    _f(
        "envelope.skip_header",
        "Envelope.SkipHeader",
        BOOL,
        "ocf-block delimited-csv",
        example='"SkipHeader": true',
    ),
    _f(
        "envelope.skip_blank_lines",
        "Envelope.SkipBlankLines",
        BOOL,
        "delimited-csv",
        example='"SkipBlankLines": true',
    ),
    _f("encoding", "Encoding", SECTION, example='"Encoding": "json"'),
    _f("encoding.type", "Encoding.Type", ANY_STR, required=True, example='"Type": "csv"'),
    _f("encoding.quote_character", "Encoding.QuoteCharacter", CHAR, "csv", example='"QuoteCharacter": "\\""'),
    _f("encoding.delimiter", "Encoding.Delimiter", CHAR, "csv", example='"Delimiter": ";"'),
    _f("schema", "Schema", SCHEMA, example='"Schema": {"$ref": "iris_input"}'),
    _f("batching", "Batching", BATCHING, example='"Batching": "explicit"'),
    _f("batching.watermark", "Batching.Watermark", INT_GE1, example='"Watermark": 1000'),
    _f("batching.nagle_time", "Batching.NagleTime", INT_GE0, example='"NagleTime": 500'),
    _f("linger_time", "LingerTime", INT_GE0, example='"LingerTime": 3000'),
)

# -- restrictions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """A restriction over several fields.

    ``message``, ``fix`` and ``field`` may name facts in braces: ``{type}`` (transport type),
    ``{type_written}``, ``{encoding}``, ``{envelope}``, ``{slot}``, ``{known_types}``,
    ``{known_envelopes}``, ``{known_encodings}``.
    """

    code: str
    field: str
    message: str
    fix: str
    violated: Callable[[Facts], bool]

    def problem(self, facts: Facts) -> Problem:
        """The problem this rule reports for ``facts``."""
        return Problem(
            self.code,
            _fill(self.field, facts.names),
            _fill(self.message, facts.names),
            _fill(self.fix, facts.names),
        )


def _inline_data_count(f: Facts) -> int:
    return sum(f.transport(k) is not None for k in ("data", "data_binary"))


def _unknown_type(f: Facts) -> bool:
    kind = f.transport("type")
    return isinstance(kind, str) and f.kind is None


def _has_schema(f: Facts) -> bool:
    return f.schema not in ("none", "invalid")


#: Every restriction, in the order problems are reported (unknown names first: they explain the rest).
RULES: tuple[Rule, ...] = (
    Rule(
        "FS-D020",
        "Transport.Type",
        "unknown transport type '{type_written}'; known types: {known_types}",
        "use one of the known types",
        _unknown_type,
    ),
    Rule(
        "FS-D021",
        "Envelope",
        "unknown envelope '{envelope}'; known envelopes: {known_envelopes}",
        "use one of the known envelopes, or null for none",
        lambda f: f.envelope not in (None, _INVALID) and f.envelope not in ENVELOPES,
    ),
    Rule(
        "FS-D022",
        "Encoding",
        "unknown encoding '{encoding}'; known encodings: {known_encodings}",
        "use one of the known encodings",
        lambda f: f.encoding not in (None, _INVALID) and f.encoding not in ENCODINGS,
    ),
    Rule(
        "FS-D032",
        "slot",
        "the slot must be a whole number, 0 or more (even for inputs, odd for outputs), not {slot}",
        "pass slot=0 for the first input or slot=1 for the first output",
        lambda f: f.slot_given is not None and f.slot is None,
    ),
    Rule(
        "FS-D017",
        "Transport.Data",
        "an inline stream needs exactly one of Data and DataBinary",
        'give either "Data": ["1", "2"] (text) or "DataBinary": ["AQID"] (base64), not both',
        lambda f: f.kind == "inline" and _inline_data_count(f) != 1,
    ),
    Rule(
        "FS-D024",
        "Envelope.SyncMarker",
        "an ocf-block envelope without a header (SkipHeader false) needs a SyncMarker",
        'add "SyncMarker": "<the 16-byte sync marker, base64>", or set "SkipHeader": true if the data has a header',
        lambda f: (
            f.envelope == "ocf-block"
            and f.envelope_field("skip_header") is False
            and f.envelope_field("sync_marker") is None
        ),
    ),
    Rule(
        "FS-D025",
        "Transport.Type",
        "{type_written} streams are input only; slot {slot} is an output slot (odd)",
        "attach it to an even slot, or use an output transport (file, REST, Kafka, S3, discard, ...)",
        lambda f: f.is_output and f.traits is not None and not f.traits.output,
    ),
    Rule(
        "FS-D026",
        "Transport.Type",
        "{type_written} streams are output only; slot {slot} is an input slot (even)",
        "attach it to an odd slot, or use an input transport (file, REST, Kafka, inline, ...)",
        lambda f: f.is_input and f.traits is not None and not f.traits.input,
    ),
    Rule(
        "FS-D001",
        "Loop",
        "Looping requires a seekable transport; {type_written} is not seekable",
        'set "Loop": false (or use a seekable transport: file, S3, HTTP, Kafka, inline)',
        lambda f: f.form.get("loop") is True and f.traits is not None and not f.traits.seekable,
    ),
    Rule(
        "FS-D002",
        "Envelope",
        "{type_written} preserves message boundaries, so it must have no framing (envelope {envelope})",
        'set "Envelope": null',
        lambda f: f.envelope is not None and f.traits is not None and not f.traits.framed,
    ),
    Rule(
        "FS-D003",
        "Schema",
        "avro-binary encoding requires a schema",
        'add "Schema": an Avro schema or {"$ref": "name"}',
        lambda f: f.encoding == "avro-binary" and f.schema == "none",
    ),
    Rule(
        "FS-D004",
        "Envelope",
        "{encoding} encoding cannot use the delimited envelope: its records may hold any byte",
        'remove "Envelope" or set it to null (avro-binary may also use "ocf-block")',
        lambda f: f.encoding in ("msgpack", "avro-binary") and f.envelope == "delimited",
    ),
    Rule(
        "FS-D005",
        "Envelope",
        "the ocf-block envelope requires avro-binary encoding, not {encoding}",
        'set "Encoding": "avro-binary"',
        lambda f: f.envelope == "ocf-block" and f.encoding != "avro-binary",
    ),
    Rule(
        "FS-D006",
        "Schema",
        'a schema on a stream with null encoding (raw bytes) must be "bytes"',
        'set "Schema": "bytes" or null, or choose an encoding such as "json"',
        lambda f: f.encoding is None and f.schema == "concrete" and f.schema_type not in (None, "bytes"),
    ),
    Rule(
        "FS-D007",
        "Schema",
        'a schema on utf-8 encoding must be "string"',
        'set "Schema": "string" or null, or choose an encoding such as "json"',
        lambda f: f.encoding == "utf-8" and f.schema == "concrete" and f.schema_type not in (None, "string"),
    ),
    Rule(
        "FS-D008",
        "SkipTo",
        "SkipTo (a byte offset) requires a seekable transport that does not preserve message boundaries; "
        "{type_written} is not one",
        'remove "SkipTo" (Kafka uses "SkipToRecord")',
        lambda f: (
            f.form.get("skip_to") is not None
            and f.traits is not None
            and (not f.traits.seekable or f.traits.preserves_boundaries)
        ),
    ),
    Rule(
        "FS-D009",
        "SkipToRecord",
        "SkipToRecord requires a seekable transport that preserves message boundaries (Kafka); "
        "{type_written} is not one",
        'remove "SkipToRecord" (file and HTTP use "SkipTo", a byte offset)',
        lambda f: (
            f.form.get("skip_to_record") is not None
            and f.traits is not None
            and not (f.traits.seekable and f.traits.preserves_boundaries)
        ),
    ),
    Rule(
        "FS-D010",
        "SkipToRecord",
        "SkipToRecord cannot be null for Kafka",
        'set "SkipToRecord": "latest", "earliest" or a record offset, or leave it out',
        lambda f: f.kind == "kafka" and "skip_to_record" in f.form and f.form["skip_to_record"] is None,
    ),
    Rule(
        "FS-D011",
        "Encoding",
        "ODBC streams must have Encoding null (rows are not encoded), not {encoding}",
        'set "Encoding": null',
        lambda f: f.kind == "odbc" and f.encoding is not None,
    ),
    Rule(
        "FS-D011",
        "Schema",
        "ODBC streams must have Schema null (the table defines the columns)",
        'set "Schema": null',
        lambda f: f.kind == "odbc" and f.schema != "none",
    ),
    Rule(
        "FS-D012",
        "Transport.OutputFields",
        "OutputFields requires InsertIntoTable",
        'add "InsertIntoTable": "<table>" or remove "OutputFields"',
        lambda f: (
            f.kind == "odbc"
            and f.transport("output_fields") is not None
            and f.transport("insert_into_table") is None
        ),
    ),
    Rule(
        "FS-D013",
        "Schema",
        "soap-rpc encoding cannot have a schema",
        'set "Schema": null',
        lambda f: f.encoding == "soap-rpc" and _has_schema(f),
    ),
    Rule(
        "FS-D014",
        "Envelope",
        "the delimited-csv envelope requires csv encoding, not {encoding}",
        'set "Encoding": "csv"',
        lambda f: f.envelope == "delimited-csv" and f.encoding != "csv",
    ),
    Rule(
        "FS-D015",
        "Schema",
        "csv encoding needs a record schema (or, on an input slot only, no schema at all)",
        'set "Schema" to an Avro record such as {"type": "record", "name": "r", "fields": [...]}',
        lambda f: (
            f.encoding == "csv"
            and (
                (f.schema == "concrete" and f.schema_type not in (None, "record"))
                or (f.schema == "none" and f.is_output)
            )
        ),
    ),
)


def evaluate(form: Mapping[str, Any], *, slot: int | None = None) -> list[Problem]:
    """Every problem of an interpreted descriptor: field rules first, then the restrictions.

    Parameters
    ----------
    form
        An interpreted descriptor (see :func:`fastscore_sdk.descriptor.interpret`).
    slot
        Optional slot: adds the direction checks (even is input, odd is output).

    Examples
    --------
    >>> form = {"transport": {"type": "rest", "mode": "simple"}, "loop": True, "encoding": "json",
    ...         "envelope": None, "schema": None}
    >>> [p.code for p in evaluate(form)]
    ['FS-D001']
    """
    facts = Facts.of(form, slot)
    problems = [p for rule in FIELD_RULES for p in rule.check(facts)]
    problems.extend(rule.problem(facts) for rule in RULES if rule.violated(facts))
    return problems
