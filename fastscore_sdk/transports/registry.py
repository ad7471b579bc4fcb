"""The transport registry: descriptor type name -> transport class, imported on first use.

Every type of :data:`fastscore_sdk.descriptor.traits.TRAITS` has an entry, named by a dotted string so
that a transport's optional dependencies (confluent-kafka, botocore, pyodbc) are imported only when a
descriptor asks for it; a missing one fails with the pip command that installs it. Plugins add types
through the ``fastscore_sdk.transports`` entry-point group (name: the type, value: ``"pkg.mod:Class"``)
or at run time with :func:`register_transport`.

Examples
--------
>>> from fastscore_sdk.transports import open_transport
>>> t = open_transport({"type": "inline", "data": ["1", "2"]}, stream="numbers")
>>> with t.source() as src:
...     list(src)
[b'1', b'2']
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from .._registry import Entry, Registry
from ..descriptor.traits import TRAITS
from ..errors import NotSupportedError, TransportError
from .base import Sink, Source, Transport

__all__ = [
    "HDFSTransport",
    "KafkaOffsetTransport",
    "UnsupportedTransport",
    "available_transports",
    "direction_error",
    "open_transport",
    "register_transport",
    "touches_host",
    "transports",
]

logger = logging.getLogger(__name__)

_PKG = "fastscore_sdk.transports"

# One line per type of TRAITS; the extra (install hint) is read from TRAITS so the two cannot disagree.
_TARGETS: dict[str, str] = {
    "rest": f"{_PKG}.rest:RestTransport",
    "http": f"{_PKG}.http:HTTPTransport",
    "kafka": f"{_PKG}.kafka:KafkaTransport",
    "kafka-offset": f"{_PKG}.registry:KafkaOffsetTransport",
    "s3": f"{_PKG}.s3:S3Transport",
    "file": f"{_PKG}.file:FileTransport",
    "odbc": f"{_PKG}.odbc:ODBCTransport",
    "hdfs": f"{_PKG}.registry:HDFSTransport",
    "tcp": f"{_PKG}.tcp:TCPTransport",
    "udp": f"{_PKG}.udp:UDPTransport",
    "exec": f"{_PKG}.exec:ExecTransport",
    "inline": f"{_PKG}.inline:InlineTransport",
    "discard": f"{_PKG}.discard:DiscardTransport",
    "console": f"{_PKG}.console:ConsoleTransport",
    "memory": f"{_PKG}.memory:MemoryTransport",
}

#: The registry of transports (a read-only mapping name -> :class:`~fastscore_sdk._registry.Entry`).
transports = Registry(
    "transport",
    {name: Entry(target, TRAITS[name].extra) for name, target in _TARGETS.items()},
    group="fastscore_sdk.transports",
)


def register_transport(
    name: str, target: str | type, *, extra: str | None = None, clobber: bool = False
) -> None:
    """Add a transport type (a plugin) under ``name``.

    Parameters
    ----------
    name
        The descriptor's ``Transport.Type`` (compared case-insensitively).
    target
        The :class:`~fastscore_sdk.transports.base.Transport` subclass, or ``"pkg.module:Class"`` to import
        it on first use.
    extra
        The ``fastscore_sdk[extra]`` that provides its dependencies, named in the install hint.
    clobber
        Replace an existing entry instead of refusing to.

    Examples
    --------
    >>> from fastscore_sdk.transports.discard import DiscardTransport
    >>> register_transport("example-sink", DiscardTransport, clobber=True)
    >>> "example-sink" in available_transports()
    True
    """
    transports.register(name, target, extra=extra, clobber=clobber)


def available_transports() -> list[str]:
    """Names of every registered transport type, built-in and plugin, sorted.

    A name is listed even when its optional dependency is missing: opening it then says what to install.

    Examples
    --------
    >>> {"file", "inline", "exec", "kafka"} <= set(available_transports())
    True
    """
    return sorted(transports)


def open_transport(spec: Mapping[str, Any], *, stream: str | None = None, **options: Any) -> Transport:
    """Build the transport an interpreted transport section describes.

    Parameters
    ----------
    spec
        The interpreted ``transport`` section (snake_case keys, secrets resolved), with a ``type``.
    stream
        The stream's name, for error messages.
    **options
        Passed to the transport's constructor (e.g. ``chunk_size`` for ``file``).

    Returns
    -------
    Transport
        Not yet opened: call :meth:`~Transport.source` or :meth:`~Transport.sink`.

    Raises
    ------
    TransportError
        No type, or an unknown one (the message lists the known types).
    MissingDependencyError
        The transport needs an optional package; the message gives the pip command.

    Examples
    --------
    >>> t = open_transport({"type": "discard"})
    >>> type(t).__name__
    'DiscardTransport'
    >>> open_transport({"type": "carrier-pigeon"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fastscore_sdk.errors.TransportError: unknown transport type 'carrier-pigeon' (use one of: console, ...)
    """
    if not isinstance(spec, Mapping):
        raise TransportError(
            f"the transport must be an object with a type, not {type(spec).__name__}",
            stream=stream,
            hint='e.g. {"type": "file", "path": "/data/in.jsons"}',
        )
    kind = spec.get("type")
    known = ", ".join(available_transports())
    if not isinstance(kind, str) or not kind:
        raise TransportError(
            "the transport has no type", stream=stream, hint=f"set Transport.Type to one of: {known}"
        )
    try:
        cls = transports.load(kind)
    except KeyError:
        raise TransportError(
            f"unknown transport type {kind!r}", stream=stream, hint=f"use one of: {known}"
        ) from None
    return cls(dict(spec), stream=stream, **options)


def touches_host(spec_or_type: Mapping[str, Any] | str) -> bool:
    """Whether a transport reads or writes the host's files or runs commands on it (``file``, ``exec``).

    A served engine refuses such streams unless told otherwise (DESIGN §8), so a request cannot read the
    server's files or run commands on it. A transport class declares it with ``host_access = True``.

    Examples
    --------
    >>> touches_host({"type": "exec", "run": "/bin/true"}), touches_host("inline")
    (True, False)
    """
    kind = spec_or_type if isinstance(spec_or_type, str) else str(spec_or_type.get("type", ""))
    try:
        cls = transports.load(kind)
    except (KeyError, ImportError):
        # An unknown or uninstalled transport fails when it is opened, with a better message than here.
        return False
    return bool(getattr(cls, "host_access", False))


def direction_error(transport: Transport, wanted: Literal["input", "output"]) -> TransportError:
    """The error for reading an output-only transport or writing an input-only one.

    Examples
    --------
    >>> from fastscore_sdk.transports.discard import DiscardTransport
    >>> print(direction_error(DiscardTransport({"type": "discard"}, stream="out"), "input"))
    stream 'out' discard transport: discard is output only, it cannot be read (use it as an output stream, on an odd slot such as 1)
    """
    name = transport.type_name or "this transport"
    if wanted == "input":
        return transport.error(
            f"{name} is output only, it cannot be read",
            hint="use it as an output stream, on an odd slot such as 1",
        )
    return transport.error(
        f"{name} is input only, it cannot be written",
        hint="use it as an input stream, on an even slot such as 0",
    )


class UnsupportedTransport(Transport):
    """A transport type that parses and verifies but cannot run yet (DESIGN §8 "Not supported yet").

    Building it succeeds, so a descriptor using it can be loaded, shown and verified; opening it for
    reading or writing raises :class:`~fastscore_sdk.errors.NotSupportedError`.

    Examples
    --------
    >>> t = HDFSTransport({"type": "hdfs", "path": "/x"}, stream="in")
    >>> t.source()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fastscore_sdk.errors.NotSupportedError: stream 'in': the hdfs transport is not supported yet...
    """

    #: What to use instead, appended to the error.
    advice: ClassVar[str] = ""

    def _unsupported(self) -> NotSupportedError:
        where = f"stream {self.stream!r}: " if self.stream else ""
        return NotSupportedError(
            f"{where}the {self.type_name} transport is not supported yet; the descriptor verifies, "
            "but this SDK cannot read or write it",
            hint=self.advice or None,
        )

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> Source:
        raise self._unsupported()

    def sink(self) -> Sink:
        raise self._unsupported()


class HDFSTransport(UnsupportedTransport):
    """``hdfs``: parsed and verified, not runnable yet."""

    type_name = "hdfs"
    advice = "copy the data to a file or S3 stream, e.g. with hdfs dfs -get, and use that"


class KafkaOffsetTransport(UnsupportedTransport):
    """``kafka-offset``: parsed and verified, not runnable yet."""

    type_name = "kafka-offset"
    advice = (
        "leave CommitOffset true, its default, on the kafka input: offsets are then committed as it reads"
    )
