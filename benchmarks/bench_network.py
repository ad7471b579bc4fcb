"""Network transports benchmark: HTTP, TCP and UDP sources against bare client loops.

Run on demand (not a test): ``python benchmarks/bench_network.py [--records 200000] [--repeat 5]``.

Each figure is a ratio to a baseline measured in the same run, over the same bytes from the same
local server, the runs interleaved (shared, noisy machines): 1.0 means as fast as the bare loop.

* HTTP bytes: ``HTTPSource`` reading the whole body vs ``requests.get(url).content`` and vs a bare
  ``requests`` ``iter_content`` loop;
* HTTP records: ``Stream.read()`` of NDJSON over HTTP vs the same over a ``file`` stream and vs bare
  ``requests`` + msgspec ``decode_lines``;
* HTTP chunked: records per second with one chunk per record vs a bare urllib3 ``read_chunked`` loop;
* TCP bytes: ``TCPSource`` vs a bare ``socket.recv`` loop;
* UDP: datagrams drained per second by ``UDPSource.read`` vs a bare ``recv`` loop.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import tempfile
import time
from pathlib import Path

import msgspec
import requests
from _data import interleaved, make_records  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs
from fastscore_sdk.testing.network import HTTPFileServer, TCPTestServer
from fastscore_sdk.transports import open_transport


def report(title: str, unit: str, timed: dict[str, tuple[float, int]], ours: str, scale: float = 1.0) -> None:
    print(f"\n{title}")
    t_ours, n = timed[ours]
    for name, (t, c) in timed.items():
        if c != n:
            raise SystemExit(f"{name}: counted {c}, {ours} counted {n}")
        mark = "" if name == ours else f"   ratio ours/this: {t / t_ours:.2f}"
        print(f"  {name:<44} {c / t / scale:>12,.1f} {unit}{mark}")


def source_bytes(spec: dict, **kwargs) -> int:
    n = 0
    with open_transport(spec, stream="bench", **kwargs).source() as src:
        while (items := src.read(None)) is not None:
            n += sum(map(len, items))
    return n


def _serve_forever(kind: str, payload: dict, conn) -> None:
    """Child process: run a test server and report its port (the server's Python threads then do
    not compete with the client measured here for the interpreter)."""
    if kind == "http":
        srv = HTTPFileServer()
        for path, (data, chunked) in payload.items():
            srv.serve(path, data, chunked=chunked)
    else:
        srv = TCPTestServer(send=payload["send"])
    conn.send(srv.port)
    conn.recv()  # until the parent says stop
    srv.close()


class ServerProcess:
    """A test server in a child process; ``.port``; a context manager."""

    def __init__(self, kind: str, payload: dict) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.get_context("fork").Process(
            target=_serve_forever, args=(kind, payload, child), daemon=True
        )
        self._proc.start()
        self.port: int = self._conn.recv()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    records = make_records(args.records)
    ndjson = b"".join(msgspec.json.encode(r) + b"\n" for r in records)
    tmp = Path(tempfile.mkdtemp(prefix="fastscore-bench-"))
    (tmp / "bench.jsons").write_bytes(ndjson)
    mb = len(ndjson) / 1e6
    print(f"{args.records} records, {mb:.1f} MB of NDJSON; best of {args.repeat}, interleaved")

    n_chunks = min(args.records, 50_000)
    chunk_records = [msgspec.json.encode(r) for r in records[:n_chunks]]
    routes = {"/bench.jsons": (ndjson, False), "/chunks": (chunk_records, True)}
    with ServerProcess("http", routes) as srv:
        url = f"http://127.0.0.1:{srv.port}/bench.jsons"
        curl = f"http://127.0.0.1:{srv.port}/chunks"
        session = requests.Session()

        def bare_content() -> int:
            return len(session.get(url).content)

        def bare_iter() -> int:
            with session.get(url, stream=True) as r:
                return sum(len(c) for c in r.iter_content(1 << 18))

        timed = interleaved(
            {
                "HTTPSource": lambda: source_bytes({"type": "http", "url": url}),
                "requests .content": bare_content,
                "requests iter_content(256 KiB)": bare_iter,
            },
            args.repeat,
        )
        report("HTTP, bytes", "MB/s", timed, "HTTPSource", scale=1e6)

        dec = msgspec.json.Decoder()
        http_stream = fs.Stream("h", {"Transport": {"Type": "HTTP", "Url": url}, "Encoding": "json"})
        file_stream = fs.Stream(
            "f",
            {
                "Transport": {"Type": "file", "Path": str(tmp / "bench.jsons")},
                "Loop": False,
                "Encoding": "json",
            },
        )

        def bare_records() -> int:
            return len(dec.decode_lines(session.get(url).content))

        timed = interleaved(
            {
                "Stream.read() over HTTP": lambda: sum(1 for _ in http_stream.read()),
                "Stream.read() over file": lambda: sum(1 for _ in file_stream.read()),
                "requests .content + msgspec decode_lines": bare_records,
            },
            args.repeat,
        )
        report("HTTP, NDJSON records", "records/s", timed, "Stream.read() over HTTP")

        def bare_chunks() -> int:
            with session.get(curl, stream=True, headers={"Accept-Encoding": "identity"}) as r:
                return sum(1 for _ in r.raw.read_chunked(decode_content=True))

        def ours_chunks() -> int:
            n = 0
            with open_transport(
                {"type": "http", "url": curl, "chunked": True}, stream="bench"
            ).source() as src:
                while (items := src.read(None)) is not None:
                    n += len(items)
            return n

        timed = interleaved(
            {"HTTPSource chunked": ours_chunks, "urllib3 read_chunked": bare_chunks}, args.repeat
        )
        report("HTTP chunked, one record per chunk", "chunks/s", timed, "HTTPSource chunked")

    def tcp_bare(port: int) -> int:
        n = 0
        with socket.create_connection(("127.0.0.1", port)) as s:
            while chunk := s.recv(1 << 18):
                n += len(chunk)
        return n

    with ServerProcess("tcp", {"send": ndjson}) as tsrv:
        timed = interleaved(
            {
                "TCPSource": lambda: source_bytes({"type": "tcp", "host": "127.0.0.1", "port": tsrv.port}),
                "socket.recv(256 KiB) loop": lambda: tcp_bare(tsrv.port),
            },
            args.repeat,
        )
        report("TCP, bytes", "MB/s", timed, "TCPSource", scale=1e6)

    # UDP: the kernel buffer holds only so many datagrams, so each round sends a batch that fits,
    # then times the drain alone.
    batch = [msgspec.json.encode(r) for r in records[:2000]]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    src = open_transport({"type": "udp", "bind_to": "127.0.0.1", "port": 0}, stream="bench").source()
    bare = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    bare.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    bare.bind(("127.0.0.1", 0))
    bare.setblocking(False)
    rounds = 20
    ours_t = bare_t = 0.0
    ours_n = bare_n = 0
    for _ in range(rounds):
        for target in (src.address, bare.getsockname()):
            for d in batch:
                tx.sendto(d, target)
        t0 = time.perf_counter()
        while got := src.read(0):
            ours_n += len(got)
        ours_t += time.perf_counter() - t0
        t0 = time.perf_counter()
        out = []
        while True:
            try:
                out.append(bare.recv(65535))
            except BlockingIOError:
                break
        bare_n += len(out)
        bare_t += time.perf_counter() - t0
    src.close()
    bare.close()
    tx.close()
    print("\nUDP, datagrams drained from the kernel buffer")
    print(f"  {'UDPSource.read(0)':<44} {ours_n / ours_t:>12,.1f} datagrams/s ({ours_n} received)")
    print(
        f"  {'socket.recv loop':<44} {bare_n / bare_t:>12,.1f} datagrams/s ({bare_n} received)"
        f"   ratio ours/this: {(bare_n / bare_t) and (ours_n / ours_t) / (bare_n / bare_t):.2f}"
    )


if __name__ == "__main__":
    main()
