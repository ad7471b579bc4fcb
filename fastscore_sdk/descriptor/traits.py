"""What each transport type is, in one place: direction, seekability, message boundaries.

Descriptor defaults (the envelope, ``Loop``, ``SkipToRecord``) and restriction rules are computed from
these traits, and transports read them from here too, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["TRAITS", "Traits", "traits_of"]


@dataclass(frozen=True)
class Traits:
    """Static facts about a transport type.

    Attributes
    ----------
    input, output
        Whether the transport can be read / written.
    seekable
        Whether it can start again (``Loop``) or start at an offset (``SkipTo``/``SkipToRecord``).
    preserves_boundaries
        Whether it delivers whole messages (Kafka, UDP, REST simple) rather than a byte stream.
    supported
        False for types that parse and verify but cannot run yet (HDFS, kafka-offset).
    extra
        The ``fastscore_sdk[extra]`` that provides its dependencies, if any.
    framed
        Whether an envelope may frame records within its messages. False for Kafka and UDP, where the
        "no framing on a boundary-preserving transport" restriction applies (DESIGN §8); a REST body or
        an inline list element may still be framed.
    """

    input: bool
    output: bool
    seekable: bool
    preserves_boundaries: bool
    supported: bool = True
    extra: str | None = None
    framed: bool = True


TRAITS: Mapping[str, Traits] = {
    "rest": Traits(input=True, output=True, seekable=False, preserves_boundaries=True),
    "http": Traits(input=True, output=False, seekable=True, preserves_boundaries=False),
    "kafka": Traits(
        input=True, output=True, seekable=True, preserves_boundaries=True, extra="kafka", framed=False
    ),
    "kafka-offset": Traits(
        input=False,
        output=True,
        seekable=False,
        preserves_boundaries=True,
        supported=False,
        extra="kafka",
        framed=False,
    ),
    "s3": Traits(input=True, output=True, seekable=True, preserves_boundaries=False, extra="s3"),
    "file": Traits(input=True, output=True, seekable=True, preserves_boundaries=False),
    "odbc": Traits(input=True, output=True, seekable=False, preserves_boundaries=True, extra="odbc"),
    "hdfs": Traits(input=True, output=True, seekable=True, preserves_boundaries=False, supported=False),
    "tcp": Traits(input=True, output=True, seekable=False, preserves_boundaries=False),
    "udp": Traits(input=True, output=False, seekable=False, preserves_boundaries=True, framed=False),
    "exec": Traits(input=True, output=True, seekable=False, preserves_boundaries=False),
    "inline": Traits(input=True, output=False, seekable=True, preserves_boundaries=False),
    "discard": Traits(input=False, output=True, seekable=False, preserves_boundaries=True),
    "console": Traits(input=False, output=True, seekable=False, preserves_boundaries=True),
    # Output collected in this process (fs.Stream.collect); one message per record, like Kafka.
    "memory": Traits(input=False, output=True, seekable=False, preserves_boundaries=True, framed=False),
}


def traits_of(transport: Mapping[str, Any]) -> Traits:
    """Traits of an interpreted transport section, including the ones that depend on its fields.

    A chunked REST stream carries byte streams (several or partial records per body), and an inline
    stream whose ``data``/``data_binary`` is a list carries one record per element.

    Examples
    --------
    >>> traits_of({"type": "inline", "data": ["1", "2"]}).preserves_boundaries
    True
    >>> traits_of({"type": "rest", "mode": "chunked"}).preserves_boundaries
    False
    >>> traits_of({"type": "http", "url": "http://h/x", "chunked": True}).preserves_boundaries
    True
    """
    kind = str(transport.get("type", "")).lower()
    base = TRAITS[kind]
    if kind == "rest" and str(transport.get("mode") or "simple").lower() == "chunked":
        return replace(base, preserves_boundaries=False)
    if kind == "http" and transport.get("chunked") is True:
        # One HTTP chunk per record: the chunks are the messages (an envelope may still frame them).
        return replace(base, preserves_boundaries=True)
    if kind == "inline":
        data = transport.get("data", transport.get("data_binary"))
        if isinstance(data, list):
            return replace(base, preserves_boundaries=True)
    return base
