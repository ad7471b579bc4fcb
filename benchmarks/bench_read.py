"""Read-path benchmark: Stream.read() and Stream.sample().to_pandas() against bare codec loops.

Run on demand (not a test): ``python benchmarks/bench_read.py [--records 200000] [--repeat 5]``.

Machines here are shared and noisy, so every figure is reported as a ratio to a baseline measured in
the same run over the same bytes: the fastest plain decode loop we know for that format
(msgspec/orjson/json per line for NDJSON, fastavro's schemaless_reader loop for avro-binary,
fastavro.reader for OCF). Each timing is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import fastavro
import msgspec
import pandas as pd
from _data import SCHEMA, interleaved, make_records  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs


def ndjson_floor(data: bytes) -> dict[str, Callable[[], int]]:
    dec = msgspec.json.Decoder()
    loops: dict[str, Callable[[], int]] = {
        "msgspec decode_lines": lambda: len(dec.decode_lines(data)),
        "msgspec per line": lambda: len([dec.decode(line) for line in data.split(b"\n") if line]),
        "json per line": lambda: len([json.loads(line) for line in data.split(b"\n") if line]),
    }
    try:
        import orjson

        loops["orjson per line"] = lambda: len([orjson.loads(line) for line in data.split(b"\n") if line])
    except ImportError:
        pass
    return loops


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--sample", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.records
    records = make_records(n)
    parsed = fastavro.parse_schema(SCHEMA)
    tmp = Path(tempfile.mkdtemp(prefix="fastscore-bench-"))

    ndjson = tmp / "bench.jsons"
    ndjson_bytes = b"".join(msgspec.json.encode(r) + b"\n" for r in records)
    ndjson.write_bytes(ndjson_bytes)
    avro_path = tmp / "bench.avro"
    buf = io.BytesIO()
    for r in records:
        fastavro.schemaless_writer(buf, parsed, r)
    avro_bytes = buf.getvalue()
    avro_path.write_bytes(avro_bytes)
    ocf_path = tmp / "bench.ocf"
    with ocf_path.open("wb") as f:
        fastavro.writer(f, parsed, records)

    def stream(path: Path, encoding: str, envelope=None, schema=True) -> fs.Stream:
        desc = {"Transport": {"Type": "file", "Path": str(path)}, "Loop": False, "Encoding": encoding}
        if envelope is not None:
            desc["Envelope"] = envelope
        desc["Schema"] = SCHEMA if schema else None
        return fs.Stream(path.stem, desc)

    def count(it) -> int:
        c = 0
        for _ in it:
            c += 1
        return c

    def avro_floor() -> int:
        bio = io.BytesIO(avro_bytes)
        out = []
        reader = fastavro.schemaless_reader
        end = len(avro_bytes)
        while bio.tell() < end:
            out.append(reader(bio, parsed, None))
        return len(out)

    def ocf_floor() -> int:
        with ocf_path.open("rb") as f:
            return len(list(fastavro.reader(f)))

    rows: list[tuple[str, float, int, str, float]] = []

    def compare(label: str, fn: Callable[[], int], floors: dict[str, Callable[[], int]]) -> None:
        timed = interleaved({**floors, label: fn}, args.repeat)
        t, c = timed.pop(label)
        floor_name = min(timed, key=lambda k: timed[k][0])
        if c != n:
            raise SystemExit(f"{label}: read {c} records, expected {n}")
        rows.append((label, c / t, c, floor_name, timed[floor_name][0] / t))

    plain = stream(ndjson, "json", schema=False)
    typed = stream(ndjson, "json")
    compare("read() NDJSON, untyped", lambda: count(plain.read()), ndjson_floor(ndjson_bytes))
    typed_dec = msgspec.json.Decoder()
    compare(
        "read() NDJSON, Avro schema checked",
        lambda: count(typed.read()),
        {
            "msgspec per line (untyped)": lambda: len(
                [typed_dec.decode(x) for x in ndjson_bytes.split(b"\n") if x]
            )
        },
    )
    compare(
        "read() avro-binary",
        lambda: count(stream(avro_path, "avro-binary", envelope=None).read()),
        {"fastavro schemaless_reader loop": avro_floor},
    )
    compare(
        "read() ocf-block",
        lambda: count(stream(ocf_path, "avro-binary", envelope="ocf-block").read()),
        {"fastavro.reader": ocf_floor},
    )

    print(
        f"{n} records, best of {args.repeat}; ratio = bare loop time / Stream.read() time (1.0 = as fast as the bare loop)\n"
    )
    print(f"{'path':<38} {'records/s':>12}  {'ratio':>6}  baseline")
    for label, rps, _c, floor_name, ratio in rows:
        print(f"{label:<38} {rps:>12,.0f}  {ratio:>6.2f}  {floor_name}")

    m = args.sample
    head = b"\n".join(ndjson_bytes.split(b"\n", m)[:m])
    plain_decoder = msgspec.json.Decoder()

    def frame_floor() -> int:
        return len(pd.DataFrame(plain_decoder.decode_lines(head)))

    print()
    for label, s in (("untyped", plain), ("Avro schema", typed)):
        timed = interleaved(
            {"ours": lambda s=s: len(s.sample(m, timeout=600).to_pandas()), "floor": frame_floor}, args.repeat
        )
        (t, c), (tf, _) = timed["ours"], timed["floor"]
        name = f"sample({m}).to_pandas(), {label}"
        print(
            f"{name:<38} {c / t:>12,.0f}  {tf / t:>6.2f}  msgspec decode_lines + pd.DataFrame ({m / tf:,.0f}/s)"
        )
    print("\n(target for sample().to_pandas() on NDJSON: >= 1,000,000 records/s)")


if __name__ == "__main__":
    main()
