"""Defaults of the interpreted descriptor (reference §1.1, §1.3, §1.5, §1.7), in one place.

Several defaults depend on other fields; those are functions of the transport's traits
(:mod:`fastscore_sdk.descriptor.traits`) and the encoding, so the defaults and the restriction rules read
the same facts. An explicit ``null`` in a descriptor is never replaced by a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .fields import SELF_DELIMITING
from .jsonio import copy_json
from .traits import Traits

__all__ = [
    "BATCHING_NORMAL",
    "CSV_ENCODING_DEFAULTS",
    "END_MARKER",
    "ENVELOPE_DEFAULTS",
    "HDFS_AUTH_DEFAULTS",
    "LINGER_TIME",
    "TRANSPORT_DEFAULTS",
    "default_end_marker",
    "default_envelope",
    "default_loop",
    "default_skip_to_record",
    "envelope_with_defaults",
]

#: Milliseconds an output stream waits for pending records when it closes.
LINGER_TIME = 3000
#: The legacy soft end-of-file marker (reference §1.1 ``EndMarker``).
END_MARKER = "$end-of-stream"
#: ``"Batching": "normal"``, the default.
BATCHING_NORMAL: Mapping[str, Any] = {"watermark": 1000, "nagle_time": 500}

#: Interpreted transport type -> defaults of its fields (snake_case).
TRANSPORT_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "rest": {"mode": "simple"},
    "http": {"chunked": False},
    # MaxWaitTime is in milliseconds (DESIGN §8); 8388607 is what the original wrote (0x7fffff).
    "kafka": {"partition": 0, "max_wait_time": 8388607, "commit_offset": True},
    "kafka-offset": {"partition": 0, "max_wait_time": 8388607, "commit_offset": True},
    "s3": {"region": "us-east-1", "integrity_checks": False},
    "hdfs": {"authentication": None},
    "udp": {"bind_to": "0.0.0.0"},
    "exec": {"args": []},
}
#: Defaults inside HDFS ``Authentication``.
HDFS_AUTH_DEFAULTS: Mapping[str, Any] = {"timeout": 3000}

#: Envelope type -> defaults of its fields (snake_case).
ENVELOPE_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "delimited": {"separator": "\n"},
    "fixed": {},
    "ocf-block": {"sync_marker": None, "compress": None, "skip_header": True},
    "delimited-csv": {"separator": "\r\n", "skip_header": True, "skip_blank_lines": True},
}
#: Defaults of the ``csv`` encoding's fields.
CSV_ENCODING_DEFAULTS: Mapping[str, Any] = {"quote_character": '"', "delimiter": ","}


def default_loop(kind: str | None, slot: int | None = None) -> bool:
    """``Loop``: true for a file input in a JSON descriptor, false otherwise (a ``file:`` literal says false).

    Examples
    --------
    >>> default_loop("file"), default_loop("file", slot=1), default_loop("kafka")
    (True, False, False)
    """
    # Looping only means something when reading; an output file does not loop.
    return kind == "file" and (slot is None or slot % 2 == 0)


def default_end_marker(encoding: Any) -> str | None:
    """``EndMarker``: ``"$end-of-stream"``, or null for avro-binary streams (S1).

    Examples
    --------
    >>> default_end_marker("json"), default_end_marker("avro-binary")
    ('$end-of-stream', None)
    """
    return None if encoding == "avro-binary" else END_MARKER


def default_skip_to_record(kind: str | None, loop: Any) -> str | None:
    """``SkipToRecord``: ``"latest"`` for a non-looping Kafka stream, ``"earliest"`` for a looping one.

    The documentation says "latest for non-looping Kafka" (reference §1.14 item 8); a looping Kafka
    stream restarts from the beginning, so it starts there too. Other transports: null.

    Examples
    --------
    >>> default_skip_to_record("kafka", False), default_skip_to_record("kafka", True)
    ('latest', 'earliest')
    >>> default_skip_to_record("file", True) is None
    True
    """
    if kind != "kafka":
        return None
    return "earliest" if loop is True else "latest"


def envelope_with_defaults(kind: str, fields: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An interpreted envelope of type ``kind`` with its defaults under the given fields.

    Examples
    --------
    >>> envelope_with_defaults("delimited-csv")
    {'type': 'delimited-csv', 'separator': '\\r\\n', 'skip_header': True, 'skip_blank_lines': True}
    """
    out: dict[str, Any] = {"type": kind, **copy_json(dict(ENVELOPE_DEFAULTS.get(kind, {})))}
    out.update(fields or {})
    return out


def default_envelope(traits: Traits | None, encoding: Any) -> dict[str, Any] | None:
    """The envelope when the descriptor has no ``Envelope`` field (reference §1.5).

    A transport that delivers whole messages (Kafka, UDP, REST simple, an inline list) has none; a
    byte stream (file, HTTP, TCP, exec, S3, REST chunked, an inline string) with a self-delimiting
    encoding (msgpack, avro-binary, soap-rpc) has none; with csv it is ``delimited-csv``; otherwise
    ``delimited`` on newlines.

    Examples
    --------
    >>> from fastscore_sdk.descriptor.traits import TRAITS
    >>> default_envelope(TRAITS["file"], "json")
    {'type': 'delimited', 'separator': '\\n'}
    >>> default_envelope(TRAITS["kafka"], "json") is None
    True
    """
    if traits is None or traits.preserves_boundaries:
        return None
    name = encoding.get("type") if isinstance(encoding, Mapping) else encoding
    if not isinstance(name, str):
        name = None
    if name in SELF_DELIMITING:
        return None
    if name == "csv":
        return envelope_with_defaults("delimited-csv")
    return envelope_with_defaults("delimited")
