"""DataFrame in, DataFrame out: ``fs.Stream.from_pandas`` and ``fs.Stream.collect`` against bare loops.

Run on demand (not a test): ``python benchmarks/bench_frames.py [--records 100000] [--repeat 5]``.

Each step is timed beside the bare code that does the same work with no SDK, in turns (so machine
noise hits both alike), best of ``--repeat``; ratio = bare time / SDK time (1.0: the SDK adds nothing).

* in: ``from_pandas(df, schema=...)`` (rows to JSON records, every row schema-checked) against
  ``df.to_dict("records")`` encoded with msgspec (no check);
* out: ``collect(...).to_pandas()`` of what an engine wrote (decode, schema-typed columns) against
  msgspec decoding the same messages into ``pd.DataFrame``;
* end to end: DataFrame -> identity model in the engine -> DataFrame, against the bare loop over the
  same bytes (encode each row, decode it, call the model's ``action``, encode, decode, DataFrame).
"""

from __future__ import annotations

import argparse

import msgspec
import pandas as pd
from _data import SCHEMA, best_pair, make_records  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs
from fastscore_sdk.transports import memory

IDENTITY = "def action(datum):\n    yield datum\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.records
    df = pd.DataFrame(make_records(n))
    schema = fs.Schema("bench", SCHEMA)
    model = fs.Model("identity", IDENTITY)
    enc, dec = msgspec.json.Encoder(), msgspec.json.Decoder()
    results = []

    # in ------------------------------------------------------------------------------------------
    def bare_in() -> list[bytes]:
        return [enc.encode(r) for r in df.to_dict("records")]

    t_bare, t_ours = best_pair(
        bare_in, lambda: fs.Stream.from_pandas(df, "bench", schema=schema), args.repeat
    )
    results.append(("from_pandas, schema given (bare: to_dict + encode)", n / t_ours, t_bare / t_ours))
    t_bare, t_ours = best_pair(bare_in, lambda: fs.Stream.from_pandas(df, "bench"), args.repeat)
    results.append(("from_pandas, schema inferred", n / t_ours, t_bare / t_ours))

    # out -----------------------------------------------------------------------------------------
    out = fs.Stream.collect("bench-out")
    with fs.Engine(echo_console=False) as eng:
        state = eng.run(model, fs.Stream.from_pandas(df, "bench", schema=schema), out).wait()
        assert state == "FINISHED", eng.last_error
    messages = out.raw
    assert len(messages) == n

    def bare_out() -> pd.DataFrame:
        return pd.DataFrame([dec.decode(m) for m in messages])

    t_bare, t_ours = best_pair(bare_out, out.to_pandas, args.repeat)
    results.append(
        ("collect().to_pandas(), model's schema (bare: decode + DataFrame)", n / t_ours, t_bare / t_ours)
    )

    # end to end ----------------------------------------------------------------------------------
    def action(datum):
        yield datum

    def bare_trip() -> pd.DataFrame:
        rows = []
        for r in df.to_dict("records"):
            for y in action(dec.decode(enc.encode(r))):
                rows.append(dec.decode(enc.encode(y)))
        return pd.DataFrame(rows)

    def ours_trip() -> pd.DataFrame:
        sink = fs.Stream.collect("bench-trip")
        with fs.Engine(echo_console=False) as eng:
            eng.run(model, fs.Stream.from_pandas(df, "bench", schema=schema), sink).wait()
        return sink.to_pandas()

    t_bare, t_ours = best_pair(bare_trip, ours_trip, args.repeat)
    assert len(ours_trip()) == n
    results.append(("DataFrame -> engine (identity) -> DataFrame", n / t_ours, t_bare / t_ours))
    memory.clear()

    print(f"{n} records of 5 fields, best of {args.repeat}; ratio = bare time / SDK time\n")
    print(f"{'step':<66} {'records/s':>12}  {'ratio':>6}")
    for label, rps, ratio in results:
        print(f"{label:<66} {rps:>12,.0f}  {ratio:>6.2f}")


if __name__ == "__main__":
    main()
