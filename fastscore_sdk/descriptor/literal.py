"""Literal (URL-like) descriptors: ``rest:``, ``file:in.jsons``, ``kafka:broker:9092/topic.json``, ...

A literal is ``TAG:ARGUMENTS``; it expands to a descriptor as written (canonical names, shortcuts kept),
like the original ``Stream.expand`` (reference §1.4) with its bugs fixed: ``%``-escaped ``inline:`` data
works, ``discard:`` has no encoding, UDP gets ``BindTo``, ``utf-8`` is spelled canonically, a relative
``file:`` path is resolved against the current directory, and a ``file:`` literal does not loop.

Error codes (all :class:`~fastscore_sdk.errors.DescriptorError`, field ``literal``):

========  =====================================================================
FS-L001   not a literal descriptor (no ``TAG:``)
FS-L002   transport tag unknown (the message lists the known tags)
FS-L003   a known tag with malformed arguments (the fix gives a valid example)
FS-L004   a port that is not a number from 1 to 65535
========  =====================================================================
"""

from __future__ import annotations

import base64
import os
import posixpath
import re
import shlex
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

from ..errors import DescriptorError
from ..secrets import redact_url
from .jsonio import copy_json

__all__ = ["LITERAL_EXAMPLES", "encoding_for_suffix", "from_literal", "is_literal"]

_LITERAL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)

#: A valid example for each tag, quoted in error messages.
LITERAL_EXAMPLES: dict[str, str] = {
    "rest": "rest:",
    "rest-chunked": "rest-chunked:",
    "discard": "discard:",
    "console": "console:",
    "file": "file:/data/in.jsons",
    "kafka": "kafka:kafka:9092/input.json",
    "tcp": "tcp:127.0.0.1:5678",
    "udp": "udp::9099",
    "exec": "exec:/bin/cat",
    "inline": "inline:1,2,3",
    "inline-chunked": "inline-chunked:abc",
    "http": "http://example.com/data.jsons",
    "https": "https://example.com/data.jsons",
    "s3": "s3://bucket/data.jsons",
}

# Suffix -> encoding guessed for file paths, URLs, object keys and Kafka topics.
_SUFFIX_ENCODINGS: dict[str, str | None] = {
    ".json": "json",
    ".jsons": "json",
    ".ndjson": "json",
    ".avro": "avro-binary",
    ".utf8": "utf-8",
    ".txt": "utf-8",
    ".bin": None,
    ".csv": "csv",
    ".msgpack": "msgpack",
}


def is_literal(text: Any) -> bool:
    """Whether ``text`` is written as a literal descriptor (``TAG:...``) rather than a name or JSON.

    Examples
    --------
    >>> is_literal("rest:"), is_literal("kafka:b:9092/t"), is_literal("iris-in"), is_literal('{"a": 1}')
    (True, True, False, False)
    """
    return isinstance(text, str) and _LITERAL_RE.fullmatch(text.strip()) is not None


def encoding_for_suffix(path: str) -> str | None:
    """The encoding a literal guesses from a path's suffix (``json`` when it knows none).

    Examples
    --------
    >>> encoding_for_suffix("/d/x.avro"), encoding_for_suffix("in.utf8"), encoding_for_suffix("x.bin")
    ('avro-binary', 'utf-8', None)
    """
    suffix = posixpath.splitext(path)[1].lower()
    return _SUFFIX_ENCODINGS.get(suffix, "json")


def _shown(text: str) -> str:
    return redact_url(text)


def _parse_error(text: str, tag: str, why: str) -> DescriptorError:
    return DescriptorError(
        f"literal descriptor parse error in {_shown(text)!r}: {why}",
        code="FS-L003",
        field="literal",
        fix=f"a valid {tag} literal example: {LITERAL_EXAMPLES[tag]}",
    )


def _port(text: str, tag: str, value: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", value) or not 1 <= int(value) <= 65535:
        raise DescriptorError(
            f"literal descriptor parse error in {_shown(text)!r}: port {value!r} is not a number from 1 to 65535",
            code="FS-L004",
            field="literal",
            fix=f"a valid {tag} literal example: {LITERAL_EXAMPLES[tag]}",
        )
    return int(value)


def _host_port(text: str, tag: str, body: str) -> tuple[str, int]:
    host, sep, port = body.rpartition(":")
    if not sep or not port:
        raise _parse_error(text, tag, "a port is required (HOST:PORT, or :PORT for all interfaces)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host or "0.0.0.0", _port(text, tag, port)


def _no_arguments(canonical: dict[str, Any]) -> Callable[[str, str, str], dict[str, Any]]:
    def build(text: str, tag: str, body: str) -> dict[str, Any]:
        if body:
            raise _parse_error(text, tag, f"{tag}: takes no arguments")
        return copy_json(canonical)

    return build


def _file(text: str, tag: str, body: str) -> dict[str, Any]:
    path = body
    if path.startswith("//"):
        # file:///abs/path (URL form); a host part is not supported.
        path = path[2:]
        if not path.startswith("/"):
            raise _parse_error(
                text, tag, "file:// URLs must not name a host; write file:/abs/path or file:rel/path"
            )
    if not path:
        raise _parse_error(text, tag, "a path is required")
    # A relative path is resolved against the current directory (DESIGN §5), unlike the original.
    path = os.path.abspath(os.path.expanduser(path))
    return {
        "Transport": {"Type": "file", "Path": path},
        "Encoding": encoding_for_suffix(path),
        "Loop": False,
    }


def _topic(text: str, tag: str, topic: str) -> tuple[str, str | None]:
    stem, suffix = posixpath.splitext(topic)
    if suffix.lower() in _SUFFIX_ENCODINGS and stem:
        return stem, _SUFFIX_ENCODINGS[suffix.lower()]
    # Dots are legal in topic names: only a known encoding suffix is stripped.
    return topic, "json"


def _kafka(text: str, tag: str, body: str) -> dict[str, Any]:
    servers_part, sep, topic_part = body.partition("/")
    if not sep or not servers_part or not topic_part or "/" in topic_part:
        raise _parse_error(text, tag, "expected kafka:HOST[:PORT][,HOST[:PORT]...]/TOPIC")
    servers = []
    for server in servers_part.split(","):
        host, has_port, port = server.strip().rpartition(":")
        if not has_port:
            host, port = port, "9092"
        if not host:
            raise _parse_error(text, tag, f"bootstrap server {server!r} has no host")
        servers.append(f"{host}:{_port(text, tag, port)}")
    topic, encoding = _topic(text, tag, topic_part)
    return {
        "Transport": {"Type": "Kafka", "BootstrapServers": servers, "Topic": topic},
        "Encoding": encoding,
    }


def _tcp(text: str, tag: str, body: str) -> dict[str, Any]:
    host, port = _host_port(text, tag, body)
    return {"Transport": {"Type": "TCP", "Host": host, "Port": port}, "Encoding": "json"}


def _udp(text: str, tag: str, body: str) -> dict[str, Any]:
    host, port = _host_port(text, tag, body)
    return {"Transport": {"Type": "UDP", "BindTo": host, "Port": port}, "Encoding": "json"}


def _exec(text: str, tag: str, body: str) -> dict[str, Any]:
    try:
        words = shlex.split(body)
    except ValueError as exc:
        raise _parse_error(text, tag, f"cannot split the command line ({exc})") from None
    if not words:
        raise _parse_error(text, tag, "a command to run is required")
    transport: dict[str, Any] = {"Type": "exec", "Run": words[0]}
    if len(words) > 1:
        transport["Args"] = words[1:]
    return {"Transport": transport, "Encoding": "json"}


def _b64(item: str) -> str:
    # The original called b64encode on a str, which raises on Python 3 (reference §1.4).
    return base64.b64encode(unquote_to_bytes(item)).decode("ascii")


def _inline(text: str, tag: str, body: str) -> dict[str, Any]:
    if not body:
        raise _parse_error(text, tag, "data is required")
    items = body.split(",")
    if "%" in body:
        transport: dict[str, Any] = {"Type": "inline", "DataBinary": [_b64(i) for i in items]}
    else:
        transport = {"Type": "inline", "Data": items}
    return {"Transport": transport, "Encoding": "json"}


def _inline_chunked(text: str, tag: str, body: str) -> dict[str, Any]:
    if not body:
        raise _parse_error(text, tag, "data is required")
    if "%" in body:
        transport: dict[str, Any] = {"Type": "inline", "DataBinary": _b64(body)}
    else:
        transport = {"Type": "inline", "Data": body}
    return {"Transport": transport, "Encoding": "json"}


def _http(text: str, tag: str, body: str) -> dict[str, Any]:
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise _parse_error(text, tag, f"not a valid URL ({exc})") from None
    if not body.startswith("//") or not parts.netloc:
        raise _parse_error(text, tag, "expected a URL such as http://host/path")
    return {"Transport": {"Type": "HTTP", "Url": text}, "Encoding": encoding_for_suffix(parts.path)}


def _s3(text: str, tag: str, body: str) -> dict[str, Any]:
    bucket, sep, key = body[2:].partition("/") if body.startswith("//") else ("", "", "")
    if not bucket or not sep or not key:
        raise _parse_error(text, tag, "expected s3://BUCKET/OBJECT_KEY")
    return {
        "Transport": {"Type": "S3", "Bucket": bucket, "ObjectKey": key},
        "Encoding": encoding_for_suffix(key),
    }


_BUILDERS: dict[str, Callable[[str, str, str], dict[str, Any]]] = {
    "rest": _no_arguments({"Transport": "REST", "Encoding": "json"}),
    "rest-chunked": _no_arguments({"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json"}),
    # discard writes nothing, so it has no encoding (the original gave it json; reference §8 item 16).
    "discard": _no_arguments({"Transport": "discard", "Encoding": None}),
    "console": _no_arguments({"Transport": "console", "Encoding": "json"}),
    "file": _file,
    "kafka": _kafka,
    "tcp": _tcp,
    "udp": _udp,
    "exec": _exec,
    "inline": _inline,
    "inline-chunked": _inline_chunked,
    "http": _http,
    "https": _http,
    "s3": _s3,
}


def from_literal(text: str) -> dict[str, Any]:
    """Expand a literal descriptor into the descriptor it stands for, as written (canonical names).

    ``TAG`` is one of ``rest``, ``rest-chunked``, ``discard``, ``console``, ``file``, ``kafka``,
    ``tcp``, ``udp``, ``exec``, ``inline``, ``inline-chunked``, ``http``, ``https``, ``s3``
    (case-insensitive). The encoding is guessed from a path, URL, object key or topic suffix
    (``.json``/``.jsons``/``.ndjson`` json, ``.avro`` avro-binary, ``.utf8``/``.txt`` utf-8, ``.bin``
    null, ``.csv`` csv, ``.msgpack`` msgpack), else json.

    Parameters
    ----------
    text
        The literal, e.g. ``"file:data/iris.jsons"`` or ``"kafka:broker:9092/input.json"``.

    Returns
    -------
    dict
        A new descriptor, e.g. ``{"Transport": "REST", "Encoding": "json"}``.

    Raises
    ------
    DescriptorError
        ``FS-L001`` to ``FS-L004`` (see the module docstring); the message names the literal and
        the fix gives a valid example.

    Examples
    --------
    >>> from_literal("rest:")
    {'Transport': 'REST', 'Encoding': 'json'}
    >>> from_literal("kafka:kafka:9092/input.json")["Transport"]
    {'Type': 'Kafka', 'BootstrapServers': ['kafka:9092'], 'Topic': 'input'}
    >>> from_literal("inline:%01,%02")["Transport"]
    {'Type': 'inline', 'DataBinary': ['AQ==', 'Ag==']}
    """
    if not isinstance(text, str):
        raise DescriptorError(
            f"a literal descriptor must be a string, not {type(text).__name__}",
            code="FS-L001",
            field="literal",
            fix="write TAG:ARGUMENTS, e.g. file:/data/in.jsons",
        )
    stripped = text.strip()
    match = _LITERAL_RE.fullmatch(stripped)
    if match is None:
        raise DescriptorError(
            f"not a literal descriptor: {_shown(stripped)!r}",
            code="FS-L001",
            field="literal",
            fix="a literal is TAG:ARGUMENTS, e.g. rest:, file:/data/in.jsons or kafka:kafka:9092/input.json",
        )
    tag, body = match.group(1).lower(), match.group(2)
    builder = _BUILDERS.get(tag)
    if builder is None:
        known = ", ".join(sorted(_BUILDERS))
        raise DescriptorError(
            f"transport tag unknown: {match.group(1)}; known tags: {known}",
            code="FS-L002",
            field="literal",
            fix="e.g. " + ", ".join(LITERAL_EXAMPLES[t] for t in ("rest", "file", "kafka", "inline")),
        )
    return builder(stripped, tag, body)
