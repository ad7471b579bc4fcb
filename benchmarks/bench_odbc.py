"""ODBC benchmark: rows in (SELECT) and rows out (INSERT) per second, transport and engine vs bare pyodbc.

Run on demand (not a test): ``python benchmarks/bench_odbc.py [--rows 100000] [--repeat 5]``.

Starts a private MariaDB server (``fastscore_sdk.testing.mysql``; ``$FASTSCORE_TEST_MYSQL_DSN`` names an
existing one instead), fills a table with ``--rows`` rows of the shared benchmark shape (id, x, y,
name, flag) and measures, interleaving the runs so that machine noise hits all of them alike (best of
``--repeat``):

rows in
    bare pyodbc ``fetchmany(1000)`` (Row objects, and the same turned into dicts, the shape a model
    gets) against ``ODBCSource.read`` and ``Stream.read``.
rows out
    bare pyodbc multi-row ``INSERT ... VALUES (?,..),(?,..)`` of 1000 rows, committed per statement,
    against ``ODBCSink.write`` and ``StreamWriter.write`` (a record at a time).
engine
    an identity model yielding each row as a tuple, ODBC in and ODBC out, against bare pyodbc doing the
    same copy (fetchmany, multi-row INSERT) in one loop.

Ratios are bare time / measured time (1.0: as fast as bare pyodbc).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from itertools import chain

from _data import best_times, make_records  # benchmarks/ is on sys.path when run as a script

import fastscore_sdk as fs
from fastscore_sdk.testing.mysql import DSN_ENV, MySQLServer
from fastscore_sdk.transports.odbc import ODBCTransport

COLUMNS = "id BIGINT PRIMARY KEY, x DOUBLE, y DOUBLE, name VARCHAR(64), flag TINYINT(1)"
IDENTITY_TUPLES = "def action(rec):\n    yield tuple(rec.values())\n"
BATCH = 1000


def report(title: str, times: dict[str, float], rows: int, baseline: str) -> None:
    print(f"\n{title} ({rows:,} rows; ratio = {baseline} time / time)")
    base = times[baseline]
    for name, t in times.items():
        print(f"  {name:<44} {rows / t:>12,.0f} rows/s   ratio {base / t:5.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    n = args.rows

    dsn = os.environ.get(DSN_ENV, "").strip()
    server = MySQLServer.external(dsn) if dsn else MySQLServer.start()
    db = server.create_database("bench")
    try:
        rows = [tuple(r.values()) for r in make_records(n)]
        db.create_table("src", COLUMNS, rows)
        db.create_table("dst", COLUMNS)
        cs = db.connection_string
        conn = db.connect(autocommit=False)
        print(f"MariaDB {server!r}, python {sys.version.split()[0]}")

        def truncate() -> None:
            cur = conn.cursor()
            cur.execute("TRUNCATE TABLE dst")
            conn.commit()

        # ----------------------------------------------------------------------------- rows in
        def bare_fetch(as_dict: bool) -> Callable[[], int]:
            def run() -> int:
                c = db.connect(autocommit=False)
                cur = c.cursor()
                cur.execute("SELECT * FROM src")
                names = [d[0] for d in cur.description]
                count = 0
                while batch := cur.fetchmany(BATCH):
                    if as_dict:
                        batch = [dict(zip(names, r, strict=True)) for r in batch]
                    count += len(batch)
                c.close()
                return count

            return run

        def transport_read() -> int:
            t = ODBCTransport({"type": "odbc", "connection_string": cs, "select_query": "SELECT * FROM src"})
            count = 0
            with t.source() as src:
                while (batch := src.read()) is not None:
                    count += len(batch)
            return count

        in_stream = fs.Stream("bench-in", db.descriptor(SelectQuery="SELECT * FROM src"))

        def stream_read() -> int:
            return sum(1 for _ in in_stream.read())

        assert transport_read() == stream_read() == bare_fetch(True)() == n
        times = best_times(
            {
                "bare pyodbc fetchmany (Row objects)": bare_fetch(False),
                "bare pyodbc fetchmany + dict per row": bare_fetch(True),
                "ODBCSource.read (dicts)": transport_read,
                "Stream.read (dicts)": stream_read,
            },
            args.repeat,
        )
        report("rows in: SELECT", times, n, "bare pyodbc fetchmany + dict per row")

        # ---------------------------------------------------------------------------- rows out
        marks = "(" + ",".join("?" * 5) + ")"
        full_sql = "INSERT INTO dst (id, x, y, name, flag) VALUES " + ",".join([marks] * BATCH)

        def bare_insert() -> int:
            c = db.connect(autocommit=False)
            cur = c.cursor()
            for i in range(0, n, BATCH):
                chunk = rows[i : i + BATCH]
                sql = (
                    full_sql
                    if len(chunk) == BATCH
                    else "INSERT INTO dst VALUES " + ",".join([marks] * len(chunk))
                )
                cur.execute(sql, list(chain.from_iterable(chunk)))
                c.commit()
            c.close()
            return n

        def transport_write() -> int:
            t = ODBCTransport({"type": "odbc", "connection_string": cs, "insert_into_table": "dst"})
            with t.sink() as sink:
                for i in range(0, n, BATCH):
                    sink.write(rows[i : i + BATCH])
            return n

        out_stream = fs.Stream("bench-out", db.descriptor(InsertIntoTable="dst"))

        def stream_write() -> int:
            with out_stream.open_writer() as w:
                for r in rows:
                    w.write(r)
            return n

        def count_dst() -> int:
            cur = conn.cursor()
            got = cur.execute("SELECT COUNT(*) FROM dst").fetchone()[0]
            conn.commit()
            return got

        for fn in (bare_insert, transport_write, stream_write):
            truncate()
            fn()
            assert count_dst() == n, fn.__name__
        times = best_times(
            {
                "bare pyodbc multi-row INSERT (1000/stmt)": bare_insert,
                "ODBCSink.write (tuples)": transport_write,
                "StreamWriter.write (a tuple at a time)": stream_write,
            },
            args.repeat,
            before=truncate,
        )
        report("rows out: INSERT", times, n, "bare pyodbc multi-row INSERT (1000/stmt)")

        # ------------------------------------------------------------------------------ engine
        def bare_copy() -> int:
            c_in = db.connect(autocommit=False)
            c_out = db.connect(autocommit=False)
            cur_in, cur_out = c_in.cursor(), c_out.cursor()
            cur_in.execute("SELECT * FROM src")
            names = [d[0] for d in cur_in.description]
            while batch := cur_in.fetchmany(BATCH):
                out = [tuple(dict(zip(names, r, strict=True)).values()) for r in batch]
                sql = (
                    full_sql
                    if len(out) == BATCH
                    else "INSERT INTO dst VALUES " + ",".join([marks] * len(out))
                )
                cur_out.execute(sql, list(chain.from_iterable(out)))
                c_out.commit()
            c_in.close()
            c_out.close()
            return n

        model = fs.Model("identity-tuples", IDENTITY_TUPLES)

        def engine_copy() -> int:
            eng = fs.Engine(echo_console=False)
            try:
                eng.run(model, in_stream, out_stream)
                state = eng.wait(300)
                if state != "FINISHED":
                    raise RuntimeError(f"engine ended {state}: {eng.last_error}")
            finally:
                eng.reset()
            return n

        for fn in (bare_copy, engine_copy):
            truncate()
            fn()
            assert count_dst() == n, fn.__name__
        times = best_times(
            {
                "bare pyodbc SELECT -> dict -> tuple -> INSERT": bare_copy,
                "engine, identity tuple model": engine_copy,
            },
            args.repeat,
            before=truncate,
        )
        report(
            "engine: ODBC in -> model -> ODBC out", times, n, "bare pyodbc SELECT -> dict -> tuple -> INSERT"
        )
        conn.close()
    finally:
        db.drop()
        server.stop()


if __name__ == "__main__":
    main()
