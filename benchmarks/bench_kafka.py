"""Kafka benchmark: topic in, identity model through the embedded engine, topic out.

Run on demand (not a test): ``python benchmarks/bench_kafka.py [--records 200000] [--repeat 3]``.
It starts its own tansu broker (memory storage) on 127.0.0.1, like the test fixtures.

Each engine run is compared, in the same process and interleaved with it, with two bare
confluent-kafka loops over the same input topic, with no SDK at all:

* ``consume-produce``: consume each message and produce its value to the output topic;
* ``consume-decode-produce``: the same, with a JSON decode and encode (msgspec) around an identity
  ``action`` generator, which is the work the engine does per record.

Every run writes a fresh output topic and ends when the input's end is reached (the engine waits
``MaxWaitTime`` more, which is subtracted) and every output is acknowledged. The ratio is bare time /
engine time (1.0 = the engine adds nothing; the target against consume-produce is >= 0.7).
"""

from __future__ import annotations

import argparse
import logging
import time
import uuid
from collections.abc import Callable

import msgspec
from _data import make_records  # benchmarks/ is on sys.path when run as a script
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import fastscore_sdk as fs
from fastscore_sdk.testing.kafka import KafkaBroker

IDENTITY = "def action(datum):\n    yield datum\n"
#: The engine's end-of-stream wait (ms), subtracted from its time.
MAX_WAIT_MS = 100


def bare_loop(broker: KafkaBroker, topic_in: str, n: int, decode: bool) -> str:
    """Copy ``topic_in`` to a new topic with confluent-kafka alone; returns the output topic."""
    topic_out = broker.create_topic(f"bare-{uuid.uuid4().hex[:8]}")
    consumer = Consumer(
        {
            "bootstrap.servers": broker.address,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 100,
        }
    )
    producer = Producer({"bootstrap.servers": broker.address})
    dec, enc = msgspec.json.Decoder(), msgspec.json.Encoder()

    def action(datum):
        yield datum

    consumer.assign([TopicPartition(topic_in, 0, 0)])
    produce, poll = producer.produce, producer.poll
    copied = 0
    done = False
    consume = consumer.consume
    while not done:
        # One message (blocking), then what is buffered: consume(10_000, 1.0) alone would wait for
        # 10,000 messages, and measured slower here.
        batch = consume(1, 1.0)
        if batch:
            batch += consume(9_999, 0)
        for msg in batch:
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    done = True
                    continue
                raise RuntimeError(err.str())
            if decode:
                for y in action(dec.decode(msg.value())):
                    value = enc.encode(y)
                    while True:
                        try:
                            produce(topic_out, value, partition=0)
                            break
                        except BufferError:
                            poll(0.05)
            else:
                while True:
                    try:
                        produce(topic_out, msg.value(), partition=0)
                        break
                    except BufferError:
                        poll(0.05)
            copied += 1
        poll(0)
    if producer.flush(60) != 0:
        raise RuntimeError("the bare loop's outputs were not all acknowledged")
    consumer.close()
    if copied != n:
        raise RuntimeError(f"the bare loop copied {copied} of {n} messages")
    return topic_out


def engine_run(broker: KafkaBroker, model: fs.Model, topic_in: str, n: int) -> tuple[str, float]:
    """Copy through the engine; returns the output topic and the seconds the end-of-stream wait took."""
    topic_out = broker.create_topic(f"engine-{uuid.uuid4().hex[:8]}")
    src = fs.Stream(
        "in",
        {
            **broker.descriptor(topic_in, MaxWaitTime=MAX_WAIT_MS),
            "SkipToRecord": "earliest",
        },
    )
    dst = fs.Stream("out", broker.descriptor(topic_out))
    eng = fs.Engine(echo_console=False)
    try:
        state = eng.run(model, src, dst).wait()
        if state != "FINISHED":
            raise SystemExit(f"engine ended in {state}: {eng.last_error}")
        written = int(eng.stats().loc[1, "records"])
        if written != n:
            raise SystemExit(f"the engine wrote {written} of {n} records")
    finally:
        eng.reset()
    return topic_out, MAX_WAIT_MS / 1000.0


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="read every output topic back and compare")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    n = args.records
    broker = KafkaBroker.start()
    try:
        values = [msgspec.json.encode(r) for r in make_records(n)]
        topic_in = broker.new_topic(prefix="bench-in")
        t0 = time.perf_counter()
        broker.produce(topic_in, values)
        print(
            f"input: {n} records of ~{sum(map(len, values)) // n} bytes produced in {time.perf_counter() - t0:.2f} s"
        )
        model = fs.Model("identity", IDENTITY)

        best = {
            "consume-produce": float("inf"),
            "consume-decode-produce": float("inf"),
            "engine": float("inf"),
        }
        outputs: list[str] = []
        for _ in range(args.repeat):
            # Interleaved, so that noise on this shared machine hits every contender alike.
            t, out = timed(lambda: bare_loop(broker, topic_in, n, decode=False))
            best["consume-produce"] = min(best["consume-produce"], t)
            outputs.append(out)  # type: ignore[arg-type]
            t, out = timed(lambda: bare_loop(broker, topic_in, n, decode=True))
            best["consume-decode-produce"] = min(best["consume-decode-produce"], t)
            outputs.append(out)  # type: ignore[arg-type]
            t, (out, waited) = timed(lambda: engine_run(broker, model, topic_in, n))  # type: ignore[misc]
            best["engine"] = min(best["engine"], t - waited)
            outputs.append(out)
        if args.check:
            expected = [msgspec.json.decode(v) for v in values]
            for topic in outputs:
                got = [msgspec.json.decode(v) for v in broker.consume(topic, timeout=120)]
                assert got == expected, f"topic {topic} differs from the input"
            print(f"checked: all {len(outputs)} output topics equal the input")

        print(f"\n{n} records, best of {args.repeat}; ratio = bare loop time / engine time\n")
        print(f"{'run':<58} {'records/s':>12}  {'ratio':>6}")
        t_eng = best["engine"]
        print(f"{'engine: kafka in, identity model (json), kafka out':<58} {n / t_eng:>12,.0f}")
        for label in ("consume-produce", "consume-decode-produce"):
            t = best[label]
            print(f"{'bare confluent-kafka ' + label:<58} {n / t:>12,.0f}  {t / t_eng:>6.2f}")
        print("\ntarget: ratio >= 0.7 against the bare consume-produce loop")
    finally:
        broker.close()


if __name__ == "__main__":
    main()
