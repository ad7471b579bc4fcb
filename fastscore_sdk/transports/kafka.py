"""The Kafka transport, on confluent-kafka (librdkafka).

One Kafka message is one record (boundary-preserving: no envelope). Fields of the interpreted
``transport`` section:

``bootstrap_servers`` (list of ``host:port``), ``topic``
    Where to read or write.
``partition`` (0)
    The partition read, and the one written. ``null`` (an extension): read every partition of the
    topic, and let the producer choose on output.
``group`` (none), ``commit_offset`` (true)
    With a group, the offsets the group committed win over ``SkipToRecord`` (which applies where the
    group has none), and, unless ``commit_offset`` is false, the engine commits the offsets of the
    records whose outputs were delivered (at-least-once: see :meth:`KafkaSource.commit`). The
    partition is assigned directly, not through a group join, so reading starts at once.
``max_wait_time`` (8388607, milliseconds)
    The stream ends once the end of every partition read has been reached and no message came for
    this long.
``principal``, ``keytab``
    Kerberos: passed to librdkafka as ``sasl.kerberos.principal`` / ``sasl.kerberos.keytab``, with
    ``security.protocol`` ``SASL_PLAINTEXT`` and ``sasl.mechanisms`` ``GSSAPI`` unless ``config``
    says otherwise.
``config`` (an extension)
    Extra librdkafka settings, applied last: ``security.protocol``, ``sasl.mechanisms``,
    ``sasl.username``, ``sasl.password`` (write ``"secret://NAME"``), ``session.timeout.ms``,
    ``linger.ms``... No message or ``repr`` shows a secret value.

``SkipToRecord`` arrives as ``source(skip_to_record=...)``: ``"earliest"``, ``"latest"`` or an offset
(``None``, from a direct call, reads from the earliest). Keys and headers travel beside the values:
after each :meth:`KafkaSource.read`, ``last_keys`` and ``last_headers`` hold those of the messages it
returned, in order; :meth:`KafkaSink.write` takes ``keys=`` and ``headers=`` lists.

Output: :meth:`KafkaSink.flush` (which the engine calls before it commits input offsets) returns once
the broker acknowledged every message sent so far; a message it could not deliver raises a
:class:`~fastscore_sdk.errors.TransportError` naming the topic and the broker. ``KafkaSink.acked``
counts the acknowledged messages.

An unreachable broker, or one that refuses the login, fails :meth:`KafkaTransport.source` and
:meth:`KafkaTransport.sink` (so ``Stream.sample`` and an engine run) at once, or after
``open_timeout`` seconds (5) when it does not answer at all.

Examples
--------
>>> from fastscore_sdk.transports import open_transport
>>> t = open_transport({"type": "kafka", "bootstrap_servers": ["127.0.0.1:9092"], "topic": "in",
...                     "config": {"sasl.password": "hunter2"}}, stream="scores")
>>> t
KafkaTransport(stream='scores', bootstrap_servers=['127.0.0.1:9092'], topic='in', partition=0)
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import MissingDependencyError, TransportError
from ..secrets import scrub, secret_values
from .base import Sink, Source, Transport

__all__ = ["KafkaSink", "KafkaSource", "KafkaTransport"]

logger = logging.getLogger(__name__)

try:
    import confluent_kafka as ck
except ImportError:  # pragma: no cover - the kafka extra is part of every test install
    ck = None

#: Messages taken from librdkafka's local queue per call.
_BATCH = 10_000
#: Longest single wait inside a blocking read, so a closed or ended source is noticed.
_SLICE = 1.0
_EARLIEST = "earliest"
_LATEST = "latest"
if ck is not None:
    _ERROR, _VALUE, _PARTITION = ck.Message.error, ck.Message.value, ck.Message.partition


class _RdkafkaLog:
    """librdkafka's log lines, demoted to DEBUG: failures reach the user as errors, not log noise."""

    def __init__(self, transport: KafkaTransport) -> None:
        self.transport = transport

    def log(self, level: int, msg: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            text = msg % args if args else msg
            logger.debug("stream %r: librdkafka: %s", self.transport.stream, self.transport.scrub(text))


_SECURITY_ERRORS = frozenset(
    getattr(ck.KafkaError, name, None) if ck is not None else None
    for name in ("_AUTHENTICATION", "_SSL", "SASL_AUTHENTICATION_FAILED", "ILLEGAL_SASL_STATE")
) - {None}


class _Errors:
    """librdkafka's error reports for one client: logged, and kept to explain a failure."""

    def __init__(self, transport: KafkaTransport) -> None:
        self.transport = transport
        self.last: str | None = None
        self.all_down = False
        #: The last failure was a refused login or a TLS handshake, not an unreachable host.
        self.security = False

    def __call__(self, err: Any) -> None:
        t = self.transport
        code = err.code()
        if code == ck.KafkaError._ALL_BROKERS_DOWN:
            self.all_down = True
        else:
            self.last = t.scrub(err.str())
            self.security = code in _SECURITY_ERRORS or any(
                w in self.last for w in ("SASL", "SSL", "Kerberos")
            )
        if err.fatal():
            logger.error("stream %r: Kafka %s: %s", t.stream, t.servers_text, t.scrub(err.str()))
        else:
            # librdkafka retries these by itself (a broker restarting, a connection dropped).
            logger.debug("stream %r: Kafka %s: %s", t.stream, t.servers_text, t.scrub(err.str()))

    def cause(self) -> str | None:
        return self.last


class KafkaTransport(Transport):
    """A Kafka topic (one partition by default), read with a consumer or written with a producer.

    Parameters
    ----------
    spec
        The interpreted transport section (see the module docstring for its fields).
    stream
        The stream's name, for messages.
    open_timeout
        Seconds to wait for the broker when opening; an unreachable broker fails after that long.

    Examples
    --------
    >>> t = KafkaTransport({"type": "kafka", "bootstrap_servers": ["b1:9092", "b2:9092"], "topic": "t",
    ...                     "principal": "fs@EXAMPLE.COM", "keytab": "/etc/fs.keytab"})
    >>> conf = t.client_config()
    >>> conf["bootstrap.servers"], conf["security.protocol"], conf["sasl.kerberos.principal"]
    ('b1:9092,b2:9092', 'SASL_PLAINTEXT', 'fs@EXAMPLE.COM')
    """

    type_name = "kafka"

    def __init__(self, spec: dict[str, Any], *, stream: str | None = None, open_timeout: float = 5.0) -> None:
        super().__init__(spec, stream=stream)
        self._secrets = secret_values(spec)
        if ck is None:
            raise MissingDependencyError("the kafka transport", extra="kafka")
        servers = spec.get("bootstrap_servers")
        if isinstance(servers, str):
            servers = [s.strip() for s in servers.split(",") if s.strip()]
        if not servers or not all(isinstance(s, str) and s for s in servers):
            raise self.error(
                "no bootstrap servers", hint='set Transport.BootstrapServers, e.g. ["kafka:9092"]'
            )
        topic = spec.get("topic")
        if not isinstance(topic, str) or not topic:
            raise self.error("no topic", hint='set Transport.Topic, e.g. "input"')
        partition = spec.get("partition", 0)
        if partition is not None and (
            not isinstance(partition, int) or isinstance(partition, bool) or partition < 0
        ):
            raise self.error(f"the partition must be a whole number >= 0, not {partition!r}")
        config = spec.get("config") or {}
        if not isinstance(config, Mapping):
            raise self.error(
                f"Config must be an object of librdkafka settings, not {type(config).__name__}",
                hint='e.g. "Config": {"security.protocol": "SASL_SSL"}',
            )
        max_wait = spec.get("max_wait_time", 8388607)
        if max_wait is None:
            max_wait = 8388607
        if not isinstance(max_wait, (int, float)) or max_wait < 0:
            raise self.error(f"MaxWaitTime must be a number of milliseconds >= 0, not {max_wait!r}")
        self.bootstrap_servers: list[str] = list(servers)
        self.topic: str = topic
        self.partition: int | None = partition
        self.group: str | None = spec.get("group") or None
        self.commit_offset: bool = spec.get("commit_offset", True) is not False
        self.max_wait_time: float = float(max_wait)
        self.config: dict[str, Any] = dict(config)
        self.open_timeout = float(open_timeout)

    # ------------------------------------------------------------------------------- utilities

    @property
    def servers_text(self) -> str:
        return ",".join(self.bootstrap_servers)

    def scrub(self, text: str) -> str:
        """``text`` without any secret of this transport's configuration."""
        return scrub(text, self._secrets) if self._secrets else text

    def error(self, message: str, *, hint: str | None = None) -> TransportError:
        return super().error(self.scrub(message), hint=hint)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(stream={self.stream!r}, bootstrap_servers={self.bootstrap_servers!r}, "
            f"topic={self.topic!r}, partition={self.partition!r})"
        )

    def client_config(self, **defaults: Any) -> dict[str, Any]:
        """The librdkafka settings for a client: ours, then Kerberos, then ``config`` (which wins).

        Values of ``defaults`` are set before ``config``, so a user setting overrides them.
        """
        conf: dict[str, Any] = {
            "bootstrap.servers": self.servers_text,
            "client.id": "fastscore-sdk",
            **defaults,
        }
        if self.spec.get("principal") or self.spec.get("keytab"):
            conf["security.protocol"] = "SASL_PLAINTEXT"
            conf["sasl.mechanisms"] = "GSSAPI"
            if self.spec.get("principal"):
                conf["sasl.kerberos.principal"] = self.spec["principal"]
            if self.spec.get("keytab"):
                conf["sasl.kerberos.keytab"] = self.spec["keytab"]
        for key, value in self.config.items():
            if value is None:
                continue
            conf[str(key)] = value if isinstance(value, (str, bool, int, float)) else str(value)
        return conf

    def describe(self, exc: BaseException | Any) -> str:
        """A readable, secret-free cause from a KafkaException, a KafkaError or any exception."""
        err = exc.args[0] if isinstance(exc, BaseException) and exc.args else exc
        text = err.str() if hasattr(err, "str") else str(err)
        return self.scrub(text)

    def _make(self, kind: Any, conf: dict[str, Any]) -> tuple[Any, _Errors]:
        """A librdkafka client (``ck.Consumer`` or ``ck.Producer``) and what it reports."""
        errors = _Errors(self)
        conf = {**conf, "error_cb": errors, "logger": _RdkafkaLog(self)}
        try:
            return kind(conf), errors
        except (ck.KafkaException, ValueError, TypeError) as exc:
            raise self.error(
                f"invalid Kafka client settings: {self.describe(exc)}",
                hint="check Transport.Config (librdkafka setting names, e.g. security.protocol) and "
                "Principal/Keytab",
            ) from None

    def _metadata(self, client: Any, errors: _Errors) -> tuple[Any, str | None]:
        """The topic's metadata (None for an unknown topic), which also proves the broker is reachable.

        Asked in short rounds, serving librdkafka's error reports in between, so that a broker that
        refuses connections fails at once rather than after ``open_timeout``. Returns the failure as
        a message rather than raising it, so that the caller can let go of the client first (a
        traceback would keep it, and its connections, alive).
        """
        deadline = time.monotonic() + self.open_timeout
        while True:
            left = deadline - time.monotonic()
            try:
                md = client.list_topics(self.topic, timeout=max(min(left, 0.5), 0.01))
                return md.topics.get(self.topic), None
            except ck.KafkaException as exc:
                with contextlib.suppress(RuntimeError, ck.KafkaException):
                    client.poll(0)  # error reports arrive only through a poll
                if errors.all_down or time.monotonic() >= deadline:
                    cause = errors.cause() or self.describe(exc)
                    if errors.security:
                        return None, f"cannot log in to the Kafka broker at {self.servers_text}: {cause}"
                    return None, f"cannot reach the Kafka broker at {self.servers_text}: {cause}"

    def _unreachable(self, message: str) -> TransportError:
        if message.startswith("cannot log in"):
            hint = (
                "check the security settings: Transport.Config (security.protocol, sasl.mechanisms, "
                "sasl.username, sasl.password) or Principal/Keytab"
            )
        else:
            hint = "check Transport.BootstrapServers, that the broker runs and that this machine can reach it"
        return self.error(message, hint=hint)

    # ------------------------------------------------------------------------------- open

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> KafkaSource:
        """Open a consumer at ``skip_to_record`` (``"earliest"``, ``"latest"``, an offset; None: earliest).

        Raises
        ------
        TransportError
            ``skip_to`` was given (Kafka has records, not bytes), a bad ``skip_to_record``, or the
            broker cannot be reached within ``open_timeout`` seconds.
        """
        if skip_to is not None:
            raise self.error(
                "SkipTo (a byte offset) does not apply to Kafka, which delivers whole messages",
                hint='use "SkipToRecord": an offset, "earliest" or "latest"',
            )
        return KafkaSource(self, skip_to_record)

    def sink(self) -> KafkaSink:
        """Open a producer.

        Raises
        ------
        TransportError
            The broker cannot be reached within ``open_timeout`` seconds.
        """
        return KafkaSink(self)


class KafkaSource(Source):
    """Reads one partition (or all) of a topic; each item of :meth:`read` is one message's value.

    Attributes
    ----------
    last_keys, last_headers : list
        The keys (bytes or None) and headers (list of ``(name, bytes)`` pairs, or None) of the
        messages the last :meth:`read` returned, in the same order.
    last_offsets : list of (partition, offset)
        Where those messages were.
    records_read : int
        Messages returned so far.
    start : dict
        Partition -> the offset reading started from (an int, or ``"earliest"``/``"latest"``).

    Examples
    --------
    >>> t = KafkaTransport({"type": "kafka", "bootstrap_servers": ["127.0.0.1:9092"], "topic": "in"})
    >>> with t.source(skip_to_record="earliest") as src:  # doctest: +SKIP
    ...     values = src.read(timeout=5.0)
    ...     keys = src.last_keys
    """

    preserves_boundaries = True

    def __init__(self, transport: KafkaTransport, skip_to_record: int | str | None) -> None:
        self.transport = transport
        skip = self._check_skip(skip_to_record)
        t = transport
        conf = t.client_config(
            **{
                "group.id": t.group or f"fastscore-sdk-{uuid.uuid4().hex}",
                # An idle fetch returns after 100 ms, not 500: the end of a partition, a rewind and
                # a close are noticed sooner, for one small request a tenth of a second when idle.
                "fetch.wait.max.ms": 100,
            }
        )
        conf["enable.auto.commit"] = False
        conf["enable.partition.eof"] = True  # the end of a partition, which tansu's watermarks cannot tell
        conf.setdefault("auto.offset.reset", _LATEST if skip == _LATEST else _EARLIEST)
        self._consumer, self._errors = t._make(ck.Consumer, conf)
        self._closed = False
        self._lock = threading.Lock()
        try:
            meta, failure = t._metadata(self._consumer, self._errors)
            if failure is not None:
                raise t._unreachable(failure)
            self.partitions = self._partitions(meta)
            self.start = self._start_offsets(skip)
            self._assign(self.start)
        except BaseException:
            self._consumer.close()
            self._closed = True
            raise
        self._commits = t.group is not None and t.commit_offset
        self._next: dict[int, int] = {}
        self._committed: dict[int, int] = {}
        self._at_eof: set[int] = set()
        self._idle_since = time.monotonic()
        self._ended = False
        self._batch: list[Any] = []
        self.records_read = 0
        logger.debug(
            "stream %r: reading topic %r partitions %s from %s on %s (group %r)",
            t.stream,
            t.topic,
            self.partitions,
            self.start,
            t.servers_text,
            t.group,
        )

    # ------------------------------------------------------------------------------- opening

    def _check_skip(self, skip: int | str | None) -> int | str:
        if skip is None:
            return _EARLIEST
        if isinstance(skip, str) and skip.lower() in (_EARLIEST, _LATEST):
            return skip.lower()
        if isinstance(skip, int) and not isinstance(skip, bool) and skip >= 0:
            return skip
        raise self.transport.error(
            f'SkipToRecord must be an offset >= 0, "earliest" or "latest", not {skip!r}'
        )

    def _partitions(self, meta: Any) -> list[int]:
        t = self.transport
        known = None
        if meta is not None and meta.error is None:
            known = sorted(meta.partitions)
        elif meta is not None and meta.error.code() != ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise t.error(f"cannot read topic {t.topic!r} on {t.servers_text}: {t.describe(meta.error)}")
        if t.partition is None:
            if not known:
                raise t.error(
                    f"topic {t.topic!r} does not exist on {t.servers_text}, so its partitions are unknown",
                    hint="create the topic first, or set Transport.Partition",
                )
            return known
        if known is None:
            # Kafka consumers wait for a topic that another engine will create when it first writes.
            logger.warning(
                "stream %r: topic %r does not exist on %s yet; waiting for it",
                t.stream,
                t.topic,
                t.servers_text,
            )
        elif t.partition not in known:
            raise t.error(
                f"topic {t.topic!r} has no partition {t.partition} (it has {len(known)})",
                hint=f"set Transport.Partition to one of {known}",
            )
        return [t.partition]

    def _start_offsets(self, skip: int | str) -> dict[int, int | str]:
        t = self.transport
        start: dict[int, int | str] = dict.fromkeys(self.partitions, skip)
        if t.group is not None:
            try:
                committed = self._consumer.committed(
                    [ck.TopicPartition(t.topic, p) for p in self.partitions], timeout=t.open_timeout
                )
            except ck.KafkaException as exc:
                raise t.error(
                    f"cannot read the offsets group {t.group!r} committed for topic {t.topic!r} on "
                    f"{t.servers_text}: {t.describe(exc)}"
                ) from None
            for tp in committed:
                if tp.error is None and tp.offset >= 0:
                    start[tp.partition] = tp.offset  # the group's committed offset wins over SkipToRecord
        for p, off in start.items():
            if off == _LATEST:
                # Resolved now, not when the first fetch starts: "latest" means what is written
                # after the source opened, even when that is a moment later.
                start[p] = self._end_offset(p)
        return start

    def _end_offset(self, partition: int) -> int | str:
        t = self.transport
        try:
            _low, high = self._consumer.get_watermark_offsets(
                ck.TopicPartition(t.topic, partition), timeout=t.open_timeout
            )
        except ck.KafkaException as exc:
            if exc.args and exc.args[0].code() == ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
                return _LATEST  # the topic does not exist yet: its end is resolved once it does
            raise t.error(
                f"cannot find the end of topic {t.topic!r} partition {partition} on {t.servers_text}: "
                f"{t.describe(exc)}"
            ) from None
        return high if high >= 0 else _LATEST

    def _positions(self, start: Mapping[int, int | str]) -> list[Any]:
        logical = {_EARLIEST: ck.OFFSET_BEGINNING, _LATEST: ck.OFFSET_END}
        return [
            ck.TopicPartition(self.transport.topic, p, logical.get(off, off))  # type: ignore[arg-type]
            for p, off in start.items()
        ]

    def _assign(self, start: Mapping[int, int | str]) -> None:
        self._consumer.assign(self._positions(start))

    # ------------------------------------------------------------------------------- reading

    def read(self, timeout: float | None = None) -> list[bytes] | None:
        """Messages that arrived within ``timeout`` seconds (``[]`` if none), or None at the end.

        The end: every partition read is at its end and no message came for ``max_wait_time`` ms.

        Raises
        ------
        TransportError
            The source was closed, or librdkafka reported a fatal error.
        """
        if self._closed:
            raise self.transport.error(f"topic {self.transport.topic!r} was read after it was closed")
        if self._ended:
            return None
        consume = self._consumer.consume
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        while True:
            wait = self._wait(deadline)
            # One message (blocking) then what is already buffered: consume(n, t) would wait the
            # whole timeout for n messages.
            msgs = consume(1, wait) if wait > 0 else consume(_BATCH, 0)
            if msgs and wait > 0:
                msgs.extend(consume(_BATCH - 1, 0))
            if msgs:
                items = self._take(msgs)
                if items:
                    return items
            if self._end_reached():
                self._ended = True
                self._batch = []
                logger.debug(
                    "stream %r: end of topic %r after %d messages",
                    self.transport.stream,
                    self.transport.topic,
                    self.records_read,
                )
                return None
            if deadline is not None and time.monotonic() >= deadline:
                self._batch = []
                return []

    def _wait(self, deadline: float | None) -> float:
        now = time.monotonic()
        wait = _SLICE if deadline is None else min(_SLICE, deadline - now)
        if len(self._at_eof) == len(self.partitions):
            wait = min(wait, self._idle_since + self.transport.max_wait_time / 1000.0 - now)
        return max(wait, 0.0)

    def _end_reached(self) -> bool:
        if len(self._at_eof) < len(self.partitions):
            return False
        return time.monotonic() - self._idle_since >= self.transport.max_wait_time / 1000.0

    def _take(self, msgs: list[Any]) -> list[bytes]:
        """The values of the data messages in ``msgs``; end-of-partition and error events are handled."""
        # map() over the C methods: per message, this is most of the cost of a read.
        if any(map(_ERROR, msgs)):
            # Rare (an end of partition, a broker error): handle events in order, since a message
            # after an end-of-partition event means that partition is no longer at its end.
            data = []
            for m in msgs:
                if m.error() is None:
                    data.append(m)
                    self._at_eof.discard(m.partition())
                else:
                    self._event(m)
            msgs = data
            if not msgs:
                return []
        elif len(self.partitions) == 1:
            self._at_eof.clear()
        else:
            self._at_eof.difference_update(map(_PARTITION, msgs))
        self._batch = msgs
        values = list(map(_VALUE, msgs))
        if None in values:  # a tombstone (null value) is an empty record
            values = [b"" if v is None else v for v in values]
        if len(self.partitions) == 1:
            last = msgs[-1]
            self._next[last.partition()] = last.offset() + 1
        else:
            for m in msgs:
                self._next[m.partition()] = m.offset() + 1
        self._idle_since = time.monotonic()
        self.records_read += len(values)
        return values

    def _event(self, msg: Any) -> None:
        err = msg.error()
        code = err.code()
        t = self.transport
        if code == ck.KafkaError._PARTITION_EOF:
            self._at_eof.add(msg.partition())
            return
        if err.fatal() or code in (
            ck.KafkaError.TOPIC_AUTHORIZATION_FAILED,
            ck.KafkaError.GROUP_AUTHORIZATION_FAILED,
        ):
            raise t.error(f"reading topic {t.topic!r} on {t.servers_text} failed: {t.describe(err)}")
        if code == ck.KafkaError.UNKNOWN_TOPIC_OR_PART:
            logger.debug("stream %r: topic %r does not exist yet", t.stream, t.topic)
            return
        logger.warning(
            "stream %r: reading topic %r on %s: %s", t.stream, t.topic, t.servers_text, t.describe(err)
        )

    @property
    def last_keys(self) -> list[bytes | None]:
        return [m.key() for m in self._batch]

    @property
    def last_headers(self) -> list[list[tuple[str, bytes]] | None]:
        return [m.headers() for m in self._batch]

    @property
    def last_offsets(self) -> list[tuple[int, int]]:
        return [(m.partition(), m.offset()) for m in self._batch]

    def rewind(self) -> None:
        """Read again from where this source started (its ``start`` offsets)."""
        if self._closed:
            raise self.transport.error(f"topic {self.transport.topic!r} was rewound after it was closed")
        try:
            # A seek restarts the fetch at once; a new assign would wait out the pending fetch.
            for tp in self._positions(self.start):
                self._consumer.seek(tp)
        except ck.KafkaException:
            self._assign(self.start)
        self._next.clear()
        self._at_eof.clear()
        self._ended = False
        self._batch = []
        self._idle_since = time.monotonic()

    # ------------------------------------------------------------------------------- commits

    def position(self) -> dict[int, int] | None:
        """Partition -> the offset after the last message read; None when nothing is to be committed.

        Only a source with a ``group`` and ``commit_offset`` true commits, so only it has a position.
        """
        if not self._commits or not self._next:
            return None
        return dict(self._next)

    def commit(self, position: Any) -> None:
        """Commit the offsets of ``position`` for the group, synchronously.

        The engine calls this once the outputs of every record up to ``position`` were delivered, so
        a restart re-reads nothing it committed and loses nothing it did not (at-least-once).

        Raises
        ------
        TransportError
            The broker refused the commit (after librdkafka's own retries).
        """
        if not self._commits or not position:
            return
        # The engine may commit from another thread than the one reading (and closing) this source.
        with self._lock:
            if self._closed:
                return
            self._commit(position)

    def _commit(self, position: Mapping[int, int]) -> None:
        todo = {p: o for p, o in position.items() if self._committed.get(p) != o}
        if not todo:
            return
        t = self.transport
        tps = [ck.TopicPartition(t.topic, p, o) for p, o in todo.items()]
        try:
            result = self._consumer.commit(offsets=tps, asynchronous=False)
        except ck.KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if err is not None and hasattr(err, "retriable") and err.retriable():
                # Not committed now (a broker restarting): a later commit covers these offsets too.
                logger.warning(
                    "stream %r: could not commit offsets %s of topic %r for group %r yet: %s",
                    t.stream,
                    todo,
                    t.topic,
                    t.group,
                    t.describe(exc),
                )
                return
            raise t.error(
                f"cannot commit offsets {todo} of topic {t.topic!r} for group {t.group!r} on "
                f"{t.servers_text}: {t.describe(exc)}"
            ) from None
        for tp in result or ():
            if tp.error is not None:
                logger.warning(
                    "stream %r: commit of partition %d for group %r failed: %s",
                    t.stream,
                    tp.partition,
                    t.group,
                    t.describe(tp.error),
                )
            else:
                self._committed[tp.partition] = tp.offset

    def close(self) -> None:
        """Close the consumer; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._batch = []
            try:
                self._consumer.close()
            except (RuntimeError, ck.KafkaException) as exc:
                logger.debug(
                    "stream %r: closing the consumer: %s", self.transport.stream, self.transport.describe(exc)
                )


class KafkaSink(Sink):
    """Writes one message per item to a topic; :meth:`flush` waits until the broker acknowledged all.

    Attributes
    ----------
    sent : int
        Messages handed to the producer.
    failed : int
        Messages the broker did not acknowledge.

    Examples
    --------
    >>> t = KafkaTransport({"type": "kafka", "bootstrap_servers": ["127.0.0.1:9092"], "topic": "out"})
    >>> with t.sink() as sink:  # doctest: +SKIP
    ...     sink.write([b'{"x": 1}', b'{"x": 2}'], keys=[b"a", b"b"])
    ...     sink.flush()
    ...     sink.acked
    2
    """

    preserves_boundaries = True

    def __init__(self, transport: KafkaTransport) -> None:
        self.transport = transport
        t = transport
        conf = t.client_config()
        conf["on_delivery"] = self._on_delivery
        # Successful deliveries are counted from the queue length, not one Python call per message.
        conf["delivery.report.only.error"] = True
        self._producer, self._errors = t._make(ck.Producer, conf)
        self._closed = False
        self.sent = 0
        self.failed = 0
        self._failures: list[str] = []
        self._reported = 0
        meta, failure = t._metadata(self._producer, self._errors)
        if failure is not None:
            self._producer = None
            raise t._unreachable(failure)
        if (
            meta is not None
            and meta.error is None
            and t.partition is not None
            and t.partition not in meta.partitions
        ):
            known = sorted(meta.partitions)
            self._producer = meta = None
            raise t.error(
                f"topic {t.topic!r} has no partition {t.partition} (it has {len(known)})",
                hint=f"set Transport.Partition to one of {known}, or null to let Kafka choose",
            )
        self._partition = t.partition if t.partition is not None else -1  # -1: the partitioner chooses

    @property
    def acked(self) -> int:
        """Messages the broker acknowledged (exact after :meth:`flush`; a lower bound before)."""
        queued = len(self._producer) if self._producer is not None else 0
        return max(self.sent - queued - self.failed, 0)

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failed += 1
            if len(self._failures) < 5:
                self._failures.append(self.transport.describe(err))

    def _check(self) -> None:
        if self.failed > self._reported:
            t = self.transport
            n = self.failed - self._reported
            self._reported = self.failed
            raise t.error(
                f"{n} message(s) to topic {t.topic!r} on {t.servers_text} were not delivered: {self._failures[0]}",
                hint="check that the topic exists and that this client may write to it",
            )

    def write(
        self,
        items: list[bytes],
        *,
        keys: Sequence[bytes | str | None] | None = None,
        headers: Sequence[Any] | None = None,
    ) -> None:
        """Send one message per item (with the key and headers at the same index, when given).

        Raises
        ------
        TransportError
            The sink was closed, or earlier messages were not delivered.
        """
        t = self.transport
        if self._closed:
            raise t.error(f"topic {t.topic!r} was written after it was closed")
        producer = self._producer
        produce = producer.produce
        topic = t.topic
        part = self._partition
        plain = keys is None and headers is None
        for i, value in enumerate(items):
            while True:
                try:
                    if plain:
                        produce(topic, value, partition=part)
                    else:
                        produce(
                            topic,
                            value,
                            partition=part,
                            key=None if keys is None else keys[i],
                            headers=None if headers is None else headers[i],
                        )
                    break
                except BufferError:
                    # librdkafka's queue is full: let it send (and report) before adding more.
                    producer.poll(0.05)
                    self._check()
                except ck.KafkaException as exc:
                    raise t.error(
                        f"message {self.sent} ({len(value)} bytes) cannot be sent to topic {topic!r} on "
                        f"{t.servers_text}: {t.describe(exc)}"
                    ) from None
            self.sent += 1
        producer.poll(0)
        self._check()

    def flush(self) -> None:
        """Wait until every message sent so far is acknowledged, or failed after librdkafka's retries.

        Raises
        ------
        TransportError
            A message was not delivered (the message names the topic and the broker).
        """
        if self._closed:
            return
        self._drain()

    def _drain(self) -> None:
        producer = self._producer
        while producer.flush(_SLICE) > 0:
            self._check()
        self._check()

    def close(self) -> None:
        """Flush and release the producer; safe to call twice."""
        if self._closed:
            return
        try:
            self._drain()
        finally:
            self._closed = True
            self._release()
        logger.debug(
            "stream %r: %d messages delivered to topic %r",
            self.transport.stream,
            self.acked,
            self.transport.topic,
        )

    def abort(self) -> None:
        """Drop messages not yet sent (those already sent may still arrive); safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self._producer.purge(in_queue=True, in_flight=False)
            self._producer.flush(0)
        except (RuntimeError, ck.KafkaException) as exc:
            logger.debug(
                "stream %r: aborting the producer: %s", self.transport.stream, self.transport.describe(exc)
            )
        finally:
            self._release()

    def _release(self) -> None:
        # Dropping the producer closes its connections now rather than whenever it is collected.
        if self._producer is not None and len(self._producer):
            self.failed += len(self._producer)
        self._producer = None
