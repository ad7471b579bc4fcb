"""REST benchmark: the served engine's round trip against a bare aiohttp echo, in the same run.

Run on demand (not a test): ``python benchmarks/bench_rest.py [--requests 3000] [--batches 200] [--rounds 5]``.

A child process serves three things on 127.0.0.1, each the same way (aiohttp, its own event loop in a
background thread): an identity model on ``rest-trip`` streams (simple REST, NagleTime 0), the same
model on chunked REST streams, and a bare aiohttp app that answers every POST with its body. This
process is the client (``requests.Session``, keep-alive), so client and server do not share an
interpreter. Runs alternate between the echo and the engine, round after round, so machine noise
hits both alike.

Reported:

* one record per request: requests/s, p50 and p99 latency for the engine and for the echo, and the
  ratio engine requests/s / echo requests/s (targets: p50 < 2 ms, ratio >= 0.7);
* 1,000 records per request (chunked REST, newline-delimited JSON): records/s over HTTP beside the
  echo of the same body (target >= 300,000 records/s), and in-process ``eng.score`` records/s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import threading
import time
from typing import Any

import msgspec
import requests
from _data import make_records  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs

IDENTITY = "def action(datum):\n    yield datum\n"
TRIP = {"Transport": "REST", "Encoding": "json", "Batching": {"NagleTime": 0, "Watermark": None}}
CHUNKED = {"Transport": {"Type": "REST", "Mode": "chunked"}, "Encoding": "json", "Envelope": "delimited"}


def _echo_server() -> int:
    """The bare baseline: aiohttp, an event loop in a background thread, POST -> the same body."""
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), content_type="application/json")

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post("/echo", echo)
    ready = threading.Event()
    box: dict[str, Any] = {}

    def main() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def start() -> None:
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            box["port"] = runner.addresses[0][1]

        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=main, daemon=True).start()
    ready.wait()
    return box["port"]


def _serve_child(conn: Any) -> None:
    trip_eng = fs.Engine("trip", echo_console=False)
    trip_eng.run(fs.Model("identity", IDENTITY), fs.Stream("rest-trip", TRIP), fs.Stream("rest-trip", TRIP))
    batch_eng = fs.Engine("batch", echo_console=False)
    batch_eng.run(fs.Model("identity", IDENTITY), fs.Stream("in", CHUNKED), fs.Stream("out", CHUNKED))
    from fastscore_sdk.engine.server import serve

    srv = serve([trip_eng, batch_eng], port=0, max_body=64 * 2**20)
    echo_port = _echo_server()
    conn.send((srv.port, echo_port))
    conn.recv()  # told to stop
    srv.stop()
    trip_eng.reset()
    batch_eng.reset()


def _timed(
    session: requests.Session, url: str, body: bytes, n: int, expect: bytes
) -> tuple[float, list[float]]:
    lat = []
    post = session.post
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        r = post(url, data=body)
        lat.append(time.perf_counter() - t0)
        if r.status_code != 200 or r.content != expect:
            raise SystemExit(f"{url}: HTTP {r.status_code} {r.content[:200]!r}")
    return time.perf_counter() - start, lat


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000, help="single-record requests per round")
    ap.add_argument("--batches", type=int, default=200, help="1,000-record requests per round")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_child, args=(child,), daemon=True)
    proc.start()
    port, echo_port = parent.recv()
    base = f"http://127.0.0.1:{port}/api/1/service"
    trip_url = f"{base}/trip/2/active/model/roundtrip/0/1"
    batch_url = f"{base}/batch/2/active/model/roundtrip/0/1"
    echo_url = f"http://127.0.0.1:{echo_port}/echo"

    record = msgspec.json.encode(make_records(1)[0])
    records = make_records(1000)
    batch = b"".join(msgspec.json.encode(r) + b"\n" for r in records)

    session = requests.Session()
    for url, body in ((trip_url, record), (echo_url, record), (batch_url, batch), (echo_url, batch)):
        for _ in range(50):  # warm up connections, caches and the model
            session.post(url, data=body)

    single: dict[str, list[float]] = {"echo": [], "engine": []}
    single_lat: dict[str, list[float]] = {"echo": [], "engine": []}
    batched: dict[str, list[float]] = {"echo": [], "engine": []}
    for _ in range(args.rounds):
        for label, url in (("echo", echo_url), ("engine", trip_url)):
            elapsed, lat = _timed(session, url, record, args.requests, record)
            single[label].append(args.requests / elapsed)
            single_lat[label].extend(lat)
        for label, url in (("echo", echo_url), ("engine", batch_url)):
            elapsed, _ = _timed(session, url, batch, args.batches, batch)
            batched[label].append(args.batches * 1000 / elapsed)

    # In-process eng.score, for reference: the same engine work without HTTP.
    eng = fs.Engine(echo_console=False)
    eng.run(fs.Model("identity", IDENTITY), fs.Stream("in", CHUNKED), fs.Stream("out", CHUNKED))
    eng.score(records)
    score_rps = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.batches):
            eng.score(records)
        score_rps.append(args.batches * 1000 / (time.perf_counter() - start))
    eng.reset()

    parent.send("stop")
    proc.join(30)

    med = statistics.median
    print(
        f"{args.rounds} interleaved rounds; medians of the rounds' rates, latency percentiles over all requests\n"
    )
    print("1 record per request (requests.Session keep-alive, rest-trip streams, identity model)")
    print(f"{'':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for label in ("echo", "engine"):
        lat = single_lat[label]
        print(
            f"{label:<10} {med(single[label]):>10,.0f} {_pct(lat, 0.5) * 1e3:>8.3f} {_pct(lat, 0.99) * 1e3:>8.3f}"
        )
    ratio = med(single["engine"]) / med(single["echo"])
    p50 = _pct(single_lat["engine"], 0.5) * 1e3
    print(f"ratio engine/echo req/s: {ratio:.2f} (target >= 0.7); engine p50 {p50:.3f} ms (target < 2 ms)\n")
    print("1,000 records per request (chunked REST, NDJSON body of 68-byte records)")
    print(f"{'':<10} {'records/s':>12}")
    for label in ("echo", "engine"):
        print(f"{label:<10} {med(batched[label]):>12,.0f}")
    print(
        f"ratio engine/echo: {med(batched['engine']) / med(batched['echo']):.2f}; "
        f"engine {med(batched['engine']):,.0f} records/s (target >= 300,000)"
    )
    print(f"in-process eng.score, 1,000 records per call: {med(score_rps):,.0f} records/s")


if __name__ == "__main__":
    main()
