"""Transports: where a stream's bytes come from and go to.

One module per transport type, each a :class:`Transport` that hands out a :class:`Source` (input) and/or
a :class:`Sink` (output); :func:`open_transport` builds one from the interpreted ``transport`` section
of a descriptor, through the lazy :data:`transports` registry.

==========  =========  ====================================================================
type        direction  module
==========  =========  ====================================================================
file        in / out   :mod:`fastscore_sdk.transports.file`
inline      in         :mod:`fastscore_sdk.transports.inline` (``debug`` is its old name)
exec        in / out   :mod:`fastscore_sdk.transports.exec`
console     out        :mod:`fastscore_sdk.transports.console`
discard     out        :mod:`fastscore_sdk.transports.discard`
==========  =========  ====================================================================

REST, HTTP, TCP, UDP, Kafka, S3 and ODBC have their own modules; HDFS and ``kafka-offset`` verify but
raise :class:`~fastscore_sdk.errors.NotSupportedError` when opened.

Examples
--------
>>> from fastscore_sdk.transports import open_transport
>>> t = open_transport({"type": "inline", "data": "a\\nb\\n"})
>>> b"".join(t.source())
b'a\\nb\\n'
"""

from __future__ import annotations

from .base import Sink, Source, Transport
from .registry import (
    UnsupportedTransport,
    available_transports,
    open_transport,
    register_transport,
    touches_host,
    transports,
)

__all__ = [
    "Sink",
    "Source",
    "Transport",
    "UnsupportedTransport",
    "available_transports",
    "open_transport",
    "register_transport",
    "touches_host",
    "transports",
]
