"""Remote client benchmark: ``RemoteEngine`` against bare ``requests`` calls to the same served engine.

Run on demand (not a test): ``python benchmarks/bench_remote.py [--requests 2000] [--batches 100] [--rounds 5]``.

A child process serves an identity model twice (aiohttp, 127.0.0.1): on ``rest-trip`` streams (simple
REST, NagleTime 0) for one record per request, and on chunked REST streams (newline-delimited JSON)
for batches. This process is the client. Runs alternate between the bare baseline and the client,
round after round, so machine noise hits both alike.

Reported (medians over rounds):

* one record per request: ``remote.roundtrip(body)`` requests/s against a bare
  ``requests.Session.post`` of the same body to the same URL; the ratio is the client's overhead;
* 1,000 records per call: ``remote.score(records)`` (encode, send, collect until the pig comes back,
  decode) records/s against the bare equivalent (msgspec encode, one POST to the roundtrip URL,
  split and decode the answer).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from typing import Any

import msgspec
import requests
from _data import make_records  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs

IDENTITY = "def action(datum):\n    yield datum\n"
TRIP = {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}
CHUNKED = {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json", "Envelope": "delimited"}


def _serve_child(conn: Any) -> None:
    from fastscore_sdk.engine.server import serve

    trip = fs.Engine("trip", echo_console=False)
    trip.run(fs.Model("identity", IDENTITY), fs.Stream("rest-trip", TRIP), fs.Stream("rest-trip", TRIP))
    batch = fs.Engine("batch", echo_console=False)
    batch.run(fs.Model("identity", IDENTITY), fs.Stream("in", CHUNKED), fs.Stream("out", CHUNKED))
    srv = serve([trip, batch], port=0, max_body=64 * 2**20)
    conn.send(srv.url)
    conn.recv()  # until the parent is done
    srv.stop()


def _interleaved(n: int, slice_size: int, bare: Any, client: Any) -> dict[str, float]:
    """Calls per second of ``bare`` and ``client``, ``n`` calls each, alternating every slice."""
    spent = {"bare": 0.0, "client": 0.0}
    done = 0
    while done < n:
        k = min(slice_size, n - done)
        for key, fn in (("bare", bare), ("client", client)):
            started = time.perf_counter()
            for _ in range(k):
                fn()
            spent[key] += time.perf_counter() - started
        done += k
    return {key: n / t for key, t in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000, help="single-record requests per run")
    ap.add_argument("--batches", type=int, default=100, help="1,000-record calls per run")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.get_context("spawn").Process(target=_serve_child, args=(child,), daemon=True)
    proc.start()
    url = parent.recv()
    try:
        conn = fs.connect(url)
        trip, batch = conn.engine("trip"), conn.engine("batch")
        session = requests.Session()
        trip_url = f"{url}/api/1/service/trip/2/active/model/roundtrip/0/1"
        batch_url = f"{url}/api/1/service/batch/2/active/model/roundtrip/0/1"
        record = msgspec.json.encode(make_records(1)[0])
        records = make_records(1000)
        encoder, decoder = msgspec.json.Encoder(), msgspec.json.Decoder()

        def bare_one() -> None:
            assert session.post(trip_url, data=record, timeout=30).content == record

        def client_one() -> None:
            assert trip.roundtrip(record) == record

        def bare_batch() -> None:
            body = b"".join(encoder.encode(r) + b"\n" for r in records)
            out = session.post(batch_url, data=body, timeout=30).content
            assert len([decoder.decode(line) for line in out.splitlines() if line]) == len(records)

        def client_batch() -> None:
            assert len(batch.score(records)) == len(records)

        for fn in (bare_one, client_one, bare_batch, client_batch):  # warm up both sides
            for _ in range(20):
                fn()
        one: dict[str, list[float]] = {"bare": [], "client": []}
        many: dict[str, list[float]] = {"bare": [], "client": []}
        for _ in range(args.rounds):
            # Short alternating slices, so a burst of load on the machine hits both sides.
            one_round = _interleaved(args.requests, 50, bare_one, client_one)
            many_round = _interleaved(args.batches, 5, bare_batch, client_batch)
            for key in ("bare", "client"):
                one[key].append(one_round[key])
                many[key].append(many_round[key] * len(records))
        med = {k: statistics.median(v) for k, v in one.items()}
        print(
            f"one record per request: client {med['client']:,.0f} req/s, bare requests {med['bare']:,.0f} req/s, "
            f"ratio {med['client'] / med['bare']:.2f}"
        )
        med = {k: statistics.median(v) for k, v in many.items()}
        print(
            f"1,000 records per call: client score {med['client']:,.0f} rec/s, bare {med['bare']:,.0f} rec/s, "
            f"ratio {med['client'] / med['bare']:.2f}"
        )
    finally:
        parent.send("stop")
        proc.join(10)


if __name__ == "__main__":
    main()
