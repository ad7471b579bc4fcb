"""Engine benchmark: models through the embedded engine, file in, file out.

Run on demand (not a test): ``python benchmarks/bench_engine.py [--records 200000] [--repeat 3]``.

Each engine run is compared with the bare loop that does the same work over the same bytes in one
thread with no engine at all: read the file, decode each record, call the model's ``action``
generator, encode each output, write the file. The ratio is bare time / engine time (1.0 = the engine
adds nothing). The recordset model is reported in records/s.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import fastavro
import msgspec
from _data import SCHEMA, best_pair, best_times  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs

NUMERIC = {
    "type": "record",
    "name": "numeric",
    "fields": [{"name": "x", "type": "double"}, {"name": "y", "type": "double"}],
}
NUMERIC_OUT = {
    "type": "record",
    "name": "numeric_out",
    "fields": [*NUMERIC["fields"], {"name": "z", "type": "double"}],
}

IDENTITY = "def action(datum):\n    yield datum\n"
RECORDSET = (
    "# fastscore.recordsets.0: true\n"
    "# fastscore.recordsets.1: true\n"
    "def action(df):\n"
    "    df['z'] = df['x'] * 2.0 + df['y']\n"
    "    yield df\n"
)


def run_engine(model: fs.Model, src: fs.Stream, dst: fs.Stream) -> None:
    eng = fs.Engine(echo_console=False)
    try:
        state = eng.run(model, src, dst).wait()
        if state != "FINISHED":
            raise SystemExit(f"engine ended in {state}: {eng.last_error}")
    finally:
        eng.reset()


def file_stream(path: Path, encoding: str, schema, **extra) -> fs.Stream:
    desc = {
        "Transport": {"Type": "file", "Path": str(path)},
        "Loop": False,
        "Encoding": encoding,
        "Schema": schema,
    }
    desc.update(extra)
    return fs.Stream(path.name, desc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.records
    tmp = Path(tempfile.mkdtemp(prefix="fastscore-bench-"))
    records = [
        {"id": i, "x": i * 0.5, "y": i * 1.25, "name": f"user{i % 1000}", "flag": bool(i & 1)}
        for i in range(n)
    ]
    identity = fs.Model("identity", IDENTITY)

    def action(datum):
        yield datum

    # NDJSON ------------------------------------------------------------------------------------
    ndjson = tmp / "in.jsons"
    ndjson.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in records))
    out = tmp / "out.jsons"
    dec, enc = msgspec.json.Decoder(), msgspec.json.Encoder()

    def bare_json() -> None:
        lines = ndjson.read_bytes().split(b"\n")
        buf = bytearray()
        for line in lines:
            if line:
                for y in action(dec.decode(line)):
                    buf += enc.encode(y)
                    buf += b"\n"
        out.write_bytes(buf)

    results = []
    for label, schema in (
        ("NDJSON, untyped", None),
        ("NDJSON, schema checked in and out (bare loop: no checks)", SCHEMA),
    ):
        t_bare, t_eng = best_pair(
            bare_json,
            lambda s=schema: run_engine(
                identity, file_stream(ndjson, "json", s), file_stream(out, "json", s)
            ),
            args.repeat,
        )
        assert out.read_bytes().count(b"\n") == n
        results.append((f"identity model, {label}", n / t_eng, t_bare / t_eng))

    # avro-binary -------------------------------------------------------------------------------
    parsed = fastavro.parse_schema(SCHEMA)
    avro_in, avro_out = tmp / "in.avro", tmp / "out.avro"
    buf = io.BytesIO()
    for r in records:
        fastavro.schemaless_writer(buf, parsed, r)
    avro_in.write_bytes(buf.getvalue())

    def bare_avro() -> None:
        data = io.BytesIO(avro_in.read_bytes())
        end = len(data.getbuffer())
        sink = io.BytesIO()
        read, write = fastavro.schemaless_reader, fastavro.schemaless_writer
        while data.tell() < end:
            for y in action(read(data, parsed, None)):
                write(sink, parsed, y)
        avro_out.write_bytes(sink.getvalue())

    t_bare, t_eng = best_pair(
        bare_avro,
        lambda: run_engine(
            identity,
            file_stream(avro_in, "avro-binary", SCHEMA),
            file_stream(avro_out, "avro-binary", SCHEMA),
        ),
        args.repeat,
    )
    results.append(("identity model, avro-binary", n / t_eng, t_bare / t_eng))

    # recordset model ---------------------------------------------------------------------------
    numeric = tmp / "numeric.jsons"
    numeric.write_bytes(
        b"".join(msgspec.json.encode({"x": i * 0.5, "y": i * 0.25}) + b"\n" for i in range(n))
    )
    rs_out = tmp / "numeric_out.jsons"
    rs_model = fs.Model("recordset", RECORDSET)
    t_rs = best_times(
        {
            "recordset": lambda: run_engine(
                rs_model,
                file_stream(numeric, "json", NUMERIC, Batching={"Watermark": 10_000, "NagleTime": None}),
                file_stream(rs_out, "json", NUMERIC_OUT),
            )
        },
        args.repeat,
    )["recordset"]
    # Output is one record per row plus a set marker per recordset.
    assert rs_out.read_bytes().count(b'"z"') == n

    print(f"{n} records, best of {args.repeat}; ratio = bare loop time / engine time (target >= 0.85)\n")
    print(f"{'run':<62} {'records/s':>12}  {'ratio':>6}")
    for label, rps, ratio in results:
        print(f"{label:<62} {rps:>12,.0f}  {ratio:>6.2f}")
    print(
        f"{'recordset model (DataFrame in, new column out)':<62} {n / t_rs:>12,.0f}  (target >= 1,000,000 records/s)"
    )


if __name__ == "__main__":
    main()
