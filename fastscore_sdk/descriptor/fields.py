"""Names: the canonical spelling of every descriptor field, type and value, and the old spellings accepted.

This is the one table of spellings. Two forms of each name exist:

* the *written* form, used in descriptors (``"Transport": {"Type": "Kafka", "BootstrapServers": ...}``):
  field names are Capitalised, type names are spelled as the FastScore documentation spells them
  (``REST``, ``HTTP``, ``Kafka``, ``S3``, ``file``, ``ODBC``, ``HDFS``, ``TCP``, ``UDP``, ``exec``,
  ``inline``, ``discard``, ``console``, ``kafka-offset``);
* the *interpreted* form (reference §1.9): snake_case keys and lowercase type names
  (``{"transport": {"type": "kafka", "bootstrap_servers": ...}}``).

Names are matched ignoring case, ``_`` and ``-``, silently (``JSON``, ``kafka``, ``bootstrap_servers``);
the old spellings in the ``*_ALIASES`` tables are accepted with a deprecation warning (reference §1.14).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "BATCHING_FIELDS",
    "BATCHING_SHORTCUTS",
    "CSV_FIELDS",
    "ENCODINGS",
    "ENCODING_ALIASES",
    "ENVELOPES",
    "ENVELOPE_ALIASES",
    "ENVELOPE_FIELDS",
    "ENVELOPE_FIELD_ALIASES",
    "HDFS_AUTH_FIELDS",
    "SELF_DELIMITING",
    "TOP_FIELDS",
    "TRANSPORT_FIELDS",
    "TRANSPORT_FIELD_ALIASES",
    "TRANSPORT_SHORTCUTS",
    "TRANSPORT_TYPES",
    "TRANSPORT_TYPE_ALIASES",
    "fold",
    "lookup",
    "snake_case",
]

#: Top-level fields of a 1.2 descriptor, in the order the documentation lists them.
TOP_FIELDS: tuple[str, ...] = (
    "Version",
    "Description",
    "Transport",
    "Loop",
    "EndMarker",
    "SkipTo",
    "SkipToRecord",
    "Envelope",
    "Encoding",
    "Schema",
    "Batching",
    "LingerTime",
)

#: Interpreted transport type -> its canonical written spelling.
TRANSPORT_TYPES: Mapping[str, str] = {
    "rest": "REST",
    "http": "HTTP",
    "kafka": "Kafka",
    "kafka-offset": "kafka-offset",
    "s3": "S3",
    "file": "file",
    "odbc": "ODBC",
    "hdfs": "HDFS",
    "tcp": "TCP",
    "udp": "UDP",
    "exec": "exec",
    "inline": "inline",
    "discard": "discard",
    "console": "console",
    "memory": "memory",
}

#: Old transport type names (folded) -> interpreted type; accepted with a warning.
TRANSPORT_TYPE_ALIASES: Mapping[str, str] = {"debug": "inline"}

#: ``"Transport": "<string>"`` shortcuts (folded) -> the transport object they stand for (reference §1.2).
TRANSPORT_SHORTCUTS: Mapping[str, Mapping[str, Any]] = {
    "rest": {"Type": "REST", "Mode": "simple"},
    "discard": {"Type": "discard"},
    "console": {"Type": "console"},
}

_KAFKA_FIELDS = (
    "BootstrapServers",
    "Topic",
    "Partition",
    "MaxWaitTime",
    "Group",
    "CommitOffset",
    "Principal",
    "Keytab",
)

#: Interpreted transport type -> its documented fields (written spelling), in documentation order.
#: ``EndpointUrl`` on S3 is a project extension so MinIO and other S3-compatible servers work.
TRANSPORT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "rest": ("Mode",),
    "http": ("Url", "Chunked"),
    "kafka": _KAFKA_FIELDS,
    "kafka-offset": _KAFKA_FIELDS,
    "s3": (
        "Bucket",
        "ObjectKey",
        "Region",
        "AccessKeyID",
        "SecretAccessKey",
        "IntegrityChecks",
        "EndpointUrl",
    ),
    "file": ("Path",),
    "odbc": ("ConnectionString", "SelectQuery", "InsertIntoTable", "OutputFields", "Timeout"),
    "hdfs": ("NameNode", "Path", "Authentication"),
    "tcp": ("Host", "Port"),
    "udp": ("BindTo", "Port"),
    "exec": ("Run", "Args"),
    "inline": ("Data", "DataBinary"),
    "discard": (),
    "console": (),
    "memory": ("Name",),
}

#: Old transport field names, per interpreted type -> canonical name; accepted with a warning.
#: UDP's bind address is ``Bind`` in the S1 example and ``Host`` in the original ``udp:`` literal.
TRANSPORT_FIELD_ALIASES: Mapping[str, Mapping[str, str]] = {
    "udp": {"Bind": "BindTo", "Host": "BindTo"},
}

#: Fields of HDFS ``Authentication`` (Kerberos).
HDFS_AUTH_FIELDS: tuple[str, ...] = ("Type", "Realm", "KDCHost", "Principal", "Password", "Timeout")

#: Envelope type -> its fields.
ENVELOPES: Mapping[str, tuple[str, ...]] = {
    "delimited": ("Separator",),
    "fixed": ("Size",),
    "ocf-block": ("SyncMarker", "Compress", "SkipHeader"),
    "delimited-csv": ("Separator", "SkipHeader", "SkipBlankLines"),
}
ENVELOPE_FIELDS: tuple[str, ...] = (
    "Type",
    "Separator",
    "Size",
    "SyncMarker",
    "Compress",
    "SkipHeader",
    "SkipBlankLines",
)
ENVELOPE_ALIASES: Mapping[str, str] = {"deliminated": "delimited"}
ENVELOPE_FIELD_ALIASES: Mapping[str, str] = {"Seperator": "Separator"}

#: Encoding names (canonical, also the interpreted spelling). ``null`` (JSON null) is the raw-bytes encoding.
ENCODINGS: tuple[str, ...] = ("json", "utf-8", "csv", "msgpack", "avro-binary", "soap-rpc")
ENCODING_ALIASES: Mapping[str, str] = {"utf8": "utf-8"}
#: Encodings that find record boundaries themselves, so a byte stream needs no envelope (reference §1.5).
SELF_DELIMITING: frozenset[str] = frozenset({"msgpack", "avro-binary", "soap-rpc"})
CSV_FIELDS: tuple[str, ...] = ("Type", "QuoteCharacter", "Delimiter")

BATCHING_FIELDS: tuple[str, ...] = ("Watermark", "NagleTime")
#: ``"Batching": "<string>"`` shortcuts -> the object they stand for (reference §1.2, §1.7).
BATCHING_SHORTCUTS: Mapping[str, Mapping[str, Any]] = {
    "normal": {"Watermark": 1000, "NagleTime": 500},
    "explicit": {"Watermark": None, "NagleTime": None},
}


def fold(name: Any) -> str:
    """The form names are compared in: lowercase, without ``_``, ``-`` and spaces.

    Examples
    --------
    >>> fold("Bootstrap_Servers") == fold("BootstrapServers")
    True
    """
    return re.sub(r"[\s_\-]", "", name).lower() if isinstance(name, str) else ""


def lookup(name: Any, canonical: Iterable[str]) -> str | None:
    """The canonical spelling in ``canonical`` that ``name`` matches ignoring case and punctuation.

    Examples
    --------
    >>> lookup("bindto", ("BindTo", "Port"))
    'BindTo'
    >>> lookup("Bind", ("BindTo", "Port")) is None
    True
    """
    key = fold(name)
    if not key:
        return None
    for candidate in canonical:
        if fold(candidate) == key:
            return candidate
    return None


_ACRONYM_END = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD_START = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(name: Any) -> str:
    """The interpreted (snake_case) spelling of a written field name.

    Examples
    --------
    >>> [snake_case(n) for n in ("AccessKeyID", "KDCHost", "AssumeRoleWithSAML", "bootstrap-servers")]
    ['access_key_id', 'kdc_host', 'assume_role_with_saml', 'bootstrap_servers']
    """
    text = str(name)
    text = _ACRONYM_END.sub(r"\1_\2", text)
    text = _WORD_START.sub(r"\1_\2", text)
    return re.sub(r"[\s\-]+", "_", text).lower()
