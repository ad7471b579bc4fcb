"""The ODBC transport against a real MariaDB server (a private ``mariadbd`` started by ``mysql_server``)."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastscore_sdk as fs
from fastscore_sdk.codec import SET
from fastscore_sdk.errors import TransportError
from fastscore_sdk.testing.conformance import TransportConformance
from fastscore_sdk.testing.mysql import MySQLDatabase, MySQLServer
from fastscore_sdk.transports import open_transport
from fastscore_sdk.transports.odbc import ODBCTransport, parse_connection_string

# ---------------------------------------------------------------------------------------------------
# helpers

COLUMNS = "id INT PRIMARY KEY, name TEXT, x DOUBLE, at DATETIME, n BIGINT NULL"
ROWS = [
    {"id": 1, "name": "é☃ data", "x": 1.5, "at": dt.datetime(2024, 1, 2, 3, 4, 5), "n": 7},
    {"id": 2, "name": "m" * 5000, "x": -0.25, "at": dt.datetime(1999, 12, 31, 23, 59, 59), "n": None},
    {"id": 3, "name": "", "x": 1e300, "at": None, "n": -(2**63)},
    {"id": 4, "name": None, "x": None, "at": dt.datetime(2038, 1, 19, 3, 14, 8), "n": 2**63 - 1},
    {"id": 5, "name": "tab\tnew\nline 'quote' \"dq\"", "x": 0.0, "at": dt.datetime(2000, 2, 29), "n": 0},
]


def table_name(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def odbc(db: MySQLDatabase, **fields: Any) -> dict[str, Any]:
    return {"type": "odbc", "connection_string": db.connection_string, **fields}


def iris_rows(n: int = 150) -> list[tuple]:
    """Deterministic iris-like rows: (id, sepal_length, sepal_width, petal_length, petal_width, species)."""
    species = ["setosa", "versicolor", "virginica"]
    centre = [(5.0, 3.4, 1.5, 0.2), (5.9, 2.8, 4.3, 1.3), (6.6, 3.0, 5.6, 2.0)]
    rows = []
    for i in range(n):
        k = i % 3
        wobble = ((i * 37) % 11 - 5) / 50
        sl, sw, pl, pw = (round(c + wobble, 2) for c in centre[k])
        rows.append((i + 1, sl, sw, pl, pw, species[k]))
    return rows


IRIS_COLUMNS = (
    "id INT PRIMARY KEY, sepal_length DOUBLE, sepal_width DOUBLE, petal_length DOUBLE, "
    "petal_width DOUBLE, species VARCHAR(20)"
)

IRIS_MODEL = """\
def action(rec):
    pl = rec["petal_length"]
    label = "setosa" if pl < 2.5 else ("versicolor" if pl < 4.9 else "virginica")
    # (1, row): slot 1 gets the row (id, label) even when id happens to be 1 (DESIGN section 8).
    yield (1, (rec["id"], label))
"""


# ---------------------------------------------------------------------------------------------------
# the common conformance suite


class TestODBCConformance(TransportConformance):
    preserves_boundaries = True
    seekable = False
    stream_name = "odbc-conformance"

    @pytest.fixture(autouse=True)
    def _database(self, mysql_database: MySQLDatabase) -> None:
        self.db = mysql_database

    def payload(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return [dict(r) for r in ROWS]

    def make_source_spec(self, tmp_path: Path, payload: Any) -> dict[str, Any]:
        name = self.db.create_table(table_name(), COLUMNS, [tuple(r.values()) for r in payload])
        return odbc(self.db, select_query=f"SELECT * FROM {name} ORDER BY id")

    def make_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return odbc(self.db, insert_into_table=self.db.create_table(table_name(), COLUMNS))

    def read_back(self, spec: dict[str, Any], sink: Any) -> list[dict[str, Any]]:
        return self.db.rows(f"SELECT * FROM {spec['insert_into_table']} ORDER BY id")

    def make_bad_source_spec(self, tmp_path: Path) -> dict[str, Any]:
        cs = f"DRIVER={{MariaDB Unicode}};SERVER=127.0.0.1;PORT={closed_port()};DATABASE=test;UID=root;PWD="
        return {"type": "odbc", "connection_string": cs, "select_query": "SELECT 1", "timeout": 2000}

    def make_bad_sink_spec(self, tmp_path: Path) -> dict[str, Any]:
        return odbc(self.db, insert_into_table="no_such_table")

    def read_all(self, source: Any, expected: Any = None) -> list[Any]:
        got: list[Any] = []
        deadline = time.monotonic() + self.read_deadline
        while time.monotonic() < deadline:
            items = source.read(timeout=0.5)
            if items is None:
                return got
            assert isinstance(items, list)
            assert all(isinstance(i, dict) for i in items), "rows must be dicts"
            got.extend(items)
        pytest.fail("the source did not end")

    def assert_payload(self, got: Any, expected: Any) -> None:
        assert list(got) == list(expected)


# ---------------------------------------------------------------------------------------------------
# reading


def test_rows_become_dicts_with_python_types(mysql_database):
    db = mysql_database
    db.create_table(
        "typed",
        "id INT PRIMARY KEY, x DOUBLE, name VARCHAR(64), at DATETIME(6), d DATE, price DECIMAL(10,2), "
        "flag TINYINT(1), data BLOB, big BIGINT UNSIGNED, u INT UNSIGNED, t TIME",
    )
    db.execute(
        "INSERT INTO typed VALUES (1, 2.5, 'é☃', '2024-01-02 03:04:05.123456', '2024-01-02', 12.34, 1, "
        "x'00ff', 18446744073709551615, 4294967295, '12:34:56'), "
        "(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    src = open_transport(odbc(db, select_query="SELECT * FROM typed ORDER BY id"), stream="typed").source()
    with src:
        first, second = src.read()
        assert src.read() is None
        assert src.read() is None  # the end is sticky
    assert first == {
        "id": 1,
        "x": 2.5,
        "name": "é☃",
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        "d": dt.date(2024, 1, 2),
        "price": 12.34,
        "flag": 1,
        "data": b"\x00\xff",
        "big": 2**64 - 1,
        "u": 2**32 - 1,
        "t": dt.time(12, 34, 56),
    }
    assert type(first["price"]) is float  # DECIMAL -> float, as pandas.read_sql does
    assert all(v is None for k, v in second.items() if k != "id")


@pytest.mark.parametrize("options", ["", ";NO_CACHE=1"])
def test_large_result_is_read_in_batches(mysql_database, options):
    db = mysql_database
    db.create_table("many", "id INT PRIMARY KEY, v DOUBLE", [(i, i / 2) for i in range(2500)])
    spec = odbc(db, select_query="SELECT * FROM many ORDER BY id")
    spec["connection_string"] += options  # NO_CACHE=1: the driver streams rows instead of holding them
    with ODBCTransport(spec, stream="many", fetch_size=10).source() as src:
        assert len(src.read()) == 10  # closing midway is fine too
    t = ODBCTransport(spec, stream="many", fetch_size=1000)
    with t.source() as src:
        sizes = []
        got = []
        while (batch := src.read()) is not None:
            sizes.append(len(batch))
            got.extend(batch)
    assert sizes == [1000, 1000, 500]
    assert got[2499] == {"id": 2499, "v": 1249.5}


def test_stream_sample_read_and_pandas(mysql_database):
    db = mysql_database
    db.create_table("iris", IRIS_COLUMNS, iris_rows(12))
    s = fs.Stream("iris-in", db.descriptor(SelectQuery="SELECT * FROM iris ORDER BY id", Timeout=10000))
    assert s.verify()["transport"]["select_query"] == "SELECT * FROM iris ORDER BY id"
    sample = s.sample(5)
    assert len(sample) == 5 and sample[0]["id"] == 1 and sample[0]["species"] == "setosa"
    assert sample.raw == []  # rows have no encoded form
    frame = sample.to_pandas()
    assert list(frame.columns) == [
        "id",
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
        "species",
    ]
    assert str(frame["petal_length"].dtype) == "float64" and frame["id"].tolist() == [1, 2, 3, 4, 5]
    assert [r["id"] for r in s.read()] == list(range(1, 13))


def test_select_errors_name_the_query_and_server(mysql_database):
    db = mysql_database
    with pytest.raises(TransportError) as info:
        open_transport(odbc(db, select_query="SELECT * FROM missing_table"), stream="q").source()
    text = str(info.value)
    assert "stream 'q'" in text and "missing_table" in text and "doesn't exist" in text
    assert f"127.0.0.1:{db.server.port}" in text


def test_select_without_a_result_set_is_refused(mysql_database):
    db = mysql_database
    db.create_table("u", "id INT")
    with pytest.raises(TransportError, match="no result set"):
        open_transport(odbc(db, select_query="UPDATE u SET id = 2"), stream="q").source()


def test_duplicate_column_names_are_refused(mysql_database):
    db = mysql_database
    db.create_table("a", "id INT", [(1,)])
    with pytest.raises(TransportError, match=r"two columns named 'id'.*AS"):
        open_transport(odbc(db, select_query="SELECT a.id, b.id FROM a, a AS b"), stream="q").source()


def test_query_timeout(mysql_database):
    db = mysql_database
    start = time.monotonic()
    with pytest.raises(TransportError, match="Timeout") as info:
        open_transport(odbc(db, select_query="SELECT SLEEP(5) AS s", timeout=500), stream="slow").source()
    assert time.monotonic() - start < 3.0
    assert "max_statement_time" in str(info.value)


def test_loop_and_skip_are_refused(mysql_database):
    db = mysql_database
    db.create_table("a", "id INT", [(1,)])
    t = open_transport(odbc(db, select_query="SELECT * FROM a"), stream="q")
    with pytest.raises(TransportError, match="skipped"):
        t.source(skip_to_record=1)
    with t.source() as src, pytest.raises(TransportError, match=r"stream 'q'.*not seekable"):
        src.rewind()


# ---------------------------------------------------------------------------------------------------
# writing


def test_typed_values_round_trip(mysql_database):
    db = mysql_database
    db.create_table(
        "typed",
        "id INT PRIMARY KEY, x DOUBLE, name VARCHAR(64), at DATETIME(6), d DATE, price DECIMAL(10,2), "
        "flag TINYINT(1), data BLOB, u INT UNSIGNED",
    )
    rows = [
        (1, 2.5, "é☃ x", dt.datetime(2024, 1, 2, 3, 4, 5, 123456), dt.date(2024, 1, 2), Decimal("12.34"), True,
         b"\x00\xff", 2**32 - 1),
        (2, float("nan"), None, dt.datetime(2024, 1, 2, 3, 4, 5), None, 3.5, False, None, None),
        # numpy scalars, as a model computing with numpy produces them
        (np.int64(3), np.float64(0.125), np.str_("np"), np.datetime64("2024-05-06T07:08:09.5"), None,
         np.float32(1.5), np.bool_(True), bytearray(b"ab"), np.uint32(7)),
    ]  # fmt: skip
    with open_transport(odbc(db, insert_into_table="typed"), stream="out").sink() as sink:
        sink.write(rows)
    with open_transport(
        odbc(db, select_query="SELECT * FROM typed ORDER BY id"), stream="in"
    ).source() as src:
        got = src.read()
    assert got[0] == {
        "id": 1,
        "x": 2.5,
        "name": "é☃ x",
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, 123456),
        "d": dt.date(2024, 1, 2),
        "price": 12.34,
        "flag": 1,
        "data": b"\x00\xff",
        "u": 2**32 - 1,
    }
    assert got[1]["x"] is None  # NaN is written as NULL
    assert got[1]["price"] == 3.5 and got[1]["flag"] == 0
    assert got[2] == {
        "id": 3,
        "x": 0.125,
        "name": "np",
        "at": dt.datetime(2024, 5, 6, 7, 8, 9, 500000),
        "d": None,
        "price": 1.5,
        "flag": 1,
        "data": b"ab",
        "u": 7,
    }


@pytest.mark.parametrize("char", ["m", "é", "☃", "😀"])
def test_long_and_non_bmp_strings_round_trip(mysql_database, char):
    # The driver's defaults corrupt strings of 255+ characters and refuse emoji: the sink avoids both.
    db = mysql_database
    db.create_table("s", "id INT PRIMARY KEY, v LONGTEXT")
    values = [char * n for n in (1, 254, 255, 256, 4097, 100_000)]
    with open_transport(odbc(db, insert_into_table="s"), stream="out").sink() as sink:
        sink.write(list(enumerate(values)))
    with open_transport(odbc(db, select_query="SELECT v FROM s ORDER BY id"), stream="in").source() as src:
        assert [r["v"] for r in src.read()] == values


def test_output_fields_and_dict_records(mysql_database):
    db = mysql_database
    db.create_table("scores", "id INT PRIMARY KEY, label VARCHAR(20), score DOUBLE DEFAULT 0.5")
    spec = odbc(db, insert_into_table="scores", output_fields=["id", "label"])
    with open_transport(spec, stream="out").sink() as sink:
        assert sink.columns == ["id", "label"]
        sink.write([(1, "a"), [2, "b"], {"label": "c", "id": 3}])
    assert db.rows("SELECT * FROM scores ORDER BY id") == [
        {"id": 1, "label": "a", "score": 0.5},
        {"id": 2, "label": "b", "score": 0.5},
        {"id": 3, "label": "c", "score": 0.5},
    ]


def test_default_columns_come_from_the_table(mysql_database):
    db = mysql_database
    db.create_table("t", "b VARCHAR(5), a INT")
    with open_transport(odbc(db, insert_into_table="t"), stream="out").sink() as sink:
        assert sink.columns == ["b", "a"]
        sink.write([("x", 1)])
    assert db.rows("t") == [{"b": "x", "a": 1}]


def test_unknown_output_field_fails_at_open(mysql_database):
    db = mysql_database
    db.create_table("t", "id INT, label VARCHAR(5)")
    spec = odbc(db, insert_into_table="t", output_fields=["id", "lable"])
    with pytest.raises(
        TransportError, match=r"'lable', not columns of table 't'.*its columns are: id, label"
    ):
        open_transport(spec, stream="out").sink()


def test_missing_table_fails_at_open_with_a_hint(mysql_database):
    with pytest.raises(TransportError, match=r"stream 'out'.*'nope'.*does not create tables"):
        open_transport(odbc(mysql_database, insert_into_table="nope"), stream="out").sink()


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ("setosa", r"record #1 is a str, not a row.*yield \(1, \(1, 'setosa'\)\)"),
        (3.5, r"record #1 is a float, not a row"),
        ((1, "a", "extra"), r"record #1 has 3 values but table 't' is written with 2 columns \(id, label\)"),
        ({"id": 2}, r"record #1 has no value for column 'label'"),
        ({"id": 2, "label": "x", "colour": "red"}, r"record #1 has keys that are not columns.*'colour'"),
        ((2, object()), r"record #1, column 'label': a object value cannot be written"),
    ],
)
def test_records_that_are_not_rows_fail_clearly(mysql_database, record, message):
    db = mysql_database
    db.create_table("t", "id INT, label VARCHAR(20)")
    sink = open_transport(odbc(db, insert_into_table="t"), stream="out").sink()
    with pytest.raises(TransportError, match=message) as info:
        sink.write([(1, "ok"), record])
        sink.flush()
    assert "stream 'out'" in str(info.value)
    sink.abort()


def test_database_error_rolls_back_that_batch_only(mysql_database):
    db = mysql_database
    db.create_table("k", "id INT PRIMARY KEY, v VARCHAR(10)")
    rows = [(i, f"v{i}") for i in range(2500)]
    rows[1500] = (10, "dup")  # duplicates a key of the first batch
    sink = open_transport(odbc(db, insert_into_table="k"), stream="out").sink()
    with pytest.raises(TransportError) as info:
        sink.write(rows)
    sink.abort()
    text = str(info.value)
    assert "table 'k'" in text and "Duplicate entry '10'" in text and "rolled back" in text
    assert "records #1000-#1999" in text and "1000 rows committed before it stay" in text
    assert "key or constraint" in text
    assert db.execute("SELECT COUNT(*), MIN(id), MAX(id) FROM k") == [(1000, 0, 999)]


def test_wrong_value_type_names_the_record(mysql_database):
    db = mysql_database
    db.create_table("k", "id INT PRIMARY KEY, n INT")
    with (
        pytest.raises(TransportError) as info,
        open_transport(odbc(db, insert_into_table="k"), stream="out").sink() as sink,
    ):
        sink.write([(1, 1), (2, 2), (3, 3), (4, "abc")])  # fails when the sink closes
    text = str(info.value)
    assert "Incorrect integer value: 'abc'" in text and "record #3: (4, 'abc')" in text
    assert "column types" in text
    assert db.execute("SELECT COUNT(*) FROM k") == [(0,)]


def test_write_after_close_and_close_twice(mysql_database):
    db = mysql_database
    db.create_table("t", "id INT")
    sink = open_transport(odbc(db, insert_into_table="t"), stream="out").sink()
    sink.write([(1,)])
    sink.close()
    sink.close()
    with pytest.raises(TransportError, match="closed"):
        sink.write([(2,)])
    assert db.rows("t") == [{"id": 1}]


def test_stream_writer_takes_tuples(mysql_database):
    db = mysql_database
    db.create_table("t", "id INT PRIMARY KEY, label VARCHAR(10)")
    s = fs.Stream("out", db.descriptor(InsertIntoTable="t", OutputFields=["id", "label"]))
    with s.open_writer() as w:
        for i in range(2345):
            w.write((i, f"l{i}"))
        w.write(SET)  # control records have no row form: skipped
    assert db.execute("SELECT COUNT(*), MAX(id) FROM t") == [(2345, 2344)]


def test_wide_tables_stay_under_the_placeholder_limit(mysql_database):
    db = mysql_database
    cols = ", ".join(f"c{i} INT" for i in range(100))
    db.create_table("wide", cols)
    t = open_transport(odbc(db, insert_into_table="wide"), stream="out")
    with t.sink() as sink:
        assert sink._chunk == 327  # 32767 placeholders at most
        sink.write([tuple(range(100))] * 1500)
    assert db.execute("SELECT COUNT(*) FROM wide") == [(1500,)]


# ---------------------------------------------------------------------------------------------------
# the read-score-write loop through the engine


def test_engine_reads_scores_and_writes_rows(mysql_database):
    db = mysql_database
    db.create_table("iris", IRIS_COLUMNS, iris_rows(150))
    db.create_table("scores", "id INT PRIMARY KEY, label VARCHAR(20), at TIMESTAMP DEFAULT CURRENT_TIMESTAMP")
    src = fs.Stream("iris-odbc-in", db.descriptor(SelectQuery="SELECT * FROM iris ORDER BY id"))
    out = fs.Stream("iris-odbc-out", db.descriptor(InsertIntoTable="scores", OutputFields=["id", "label"]))
    eng = fs.Engine(echo_console=False)
    try:
        eng.run(fs.Model("iris", IRIS_MODEL), src, out)
        assert eng.wait(30) == "FINISHED", eng.last_error
    finally:
        eng.reset()
    got = db.execute("SELECT s.id, s.label, i.species FROM scores s JOIN iris i USING (id) ORDER BY s.id")
    assert len(got) == 150 and got[0][:2] == (1, "setosa")
    assert all(label == species for _, label, species in got)


def test_engine_reports_an_unwrapped_row_that_was_routed(mysql_database):
    db = mysql_database
    db.create_table("iris", IRIS_COLUMNS, iris_rows(6))
    db.create_table("scores", "id INT PRIMARY KEY, label VARCHAR(20)")
    # (id, label) with id == 1 names output slot 1, so "setosa" alone is sent there: a clear error.
    model = fs.Model("bad", "def action(rec):\n    yield (rec['id'], 'setosa')\n")
    src = fs.Stream("in", db.descriptor(SelectQuery="SELECT * FROM iris ORDER BY id"))
    out = fs.Stream("out", db.descriptor(InsertIntoTable="scores"))
    eng = fs.Engine(echo_console=False)
    try:
        eng.run(model, src, out)
        assert eng.wait(30) == "ERROR"
        text = str(eng.last_error)
    finally:
        eng.reset()
    assert "is a str, not a row" in text and "yield (1, (1, 'setosa'))" in text


# ---------------------------------------------------------------------------------------------------
# unreachable servers and secrets


def test_closed_port_fails_at_once_naming_host_and_port():
    port = closed_port()
    cs = f"DRIVER={{MariaDB Unicode}};SERVER=127.0.0.1;PORT={port};DATABASE=test;UID=root;PWD=Closed-s3cr3t"
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        open_transport(
            {"type": "odbc", "connection_string": cs, "select_query": "SELECT 1"}, stream="db"
        ).source()
    assert time.monotonic() - start < 3.0
    text = str(info.value)
    assert f"cannot connect to 127.0.0.1:{port} (database 'test')" in text and "Can't connect" in text
    assert "running and reachable" in text
    assert "Closed-s3cr3t" not in text + repr(info.value)


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word (a hung or firewalled server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    conns = []
    stop = threading.Event()

    def accept():
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    stop.set()
    thread.join()
    for c in conns:
        c.close()
    sock.close()


def test_unanswering_server_fails_within_the_timeout(silent_server):
    cs = f"DRIVER={{MariaDB Unicode}};SERVER=127.0.0.1;PORT={silent_server};UID=root;PWD=Silent-s3cr3t"
    spec = {"type": "odbc", "connection_string": cs, "insert_into_table": "t", "timeout": 1000}
    start = time.monotonic()
    with pytest.raises(TransportError) as info:
        open_transport(spec, stream="db").sink()
    elapsed = time.monotonic() - start
    assert elapsed < 3.5, f"took {elapsed:.1f} s with Timeout 1000 ms"
    text = str(info.value)
    assert f"127.0.0.1:{silent_server}" in text and "Silent-s3cr3t" not in text


def test_missing_driver_lists_the_installed_ones():
    cs = "DRIVER={No Such Driver};SERVER=127.0.0.1;PORT=1;UID=u;PWD=Driver-s3cr3t"
    with pytest.raises(TransportError, match=r"not installed.*MariaDB Unicode") as info:
        open_transport(
            {"type": "odbc", "connection_string": cs, "select_query": "SELECT 1"}, stream="db"
        ).source()
    assert "Driver-s3cr3t" not in str(info.value)


def test_parse_connection_string():
    assert parse_connection_string("Driver={MariaDB Unicode};Server=db;PWD={a;b}}c};UID=u;") == {
        "DRIVER": "MariaDB Unicode",
        "SERVER": "db",
        "PWD": "a;b}c",
        "UID": "u",
    }


PASSWORD = "Pw-s3cr3t-XyZ-42"


@pytest.fixture
def password_user(mysql_database, monkeypatch):
    """A database user with a password, named by secret://FS_TEST_ODBC_PASSWORD."""
    db = mysql_database
    user = f"u{uuid.uuid4().hex[:8]}"
    try:
        db.server.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'", database="")
        db.server.execute(f"GRANT ALL ON `{db.name}`.* TO '{user}'@'%'", database="")
    except Exception as exc:
        pytest.skip(f"cannot create a database user on this server: {exc}")
    monkeypatch.setenv("FS_TEST_ODBC_PASSWORD", PASSWORD)
    yield user
    db.server.execute(f"DROP USER IF EXISTS '{user}'@'%'", database="")


def test_password_never_shows(mysql_database, password_user, caplog):
    db = mysql_database
    caplog.set_level(logging.DEBUG)
    db.create_table("iris", IRIS_COLUMNS, iris_rows(9))
    db.create_table("scores", "id INT PRIMARY KEY, label VARCHAR(20)")
    base = db.server.connection_string_for(
        db.name, user=password_user, password="secret://FS_TEST_ODBC_PASSWORD"
    )
    src = fs.Stream("in", {"Transport": {"Type": "ODBC", "ConnectionString": base,
                                         "SelectQuery": "SELECT * FROM iris ORDER BY id"},
                           "Encoding": None, "Schema": None})  # fmt: skip
    out = fs.Stream("out", {"Transport": {"Type": "ODBC", "ConnectionString": base, "InsertIntoTable": "scores",
                                          "OutputFields": ["id", "label"], "Timeout": 5000},
                            "Encoding": None, "Schema": None})  # fmt: skip
    shown = [repr(src), repr(out), str(src.verify()), str(out.verify()), src.to_json(), src._repr_html_()]
    eng = fs.Engine(echo_console=False)
    try:
        eng.run(fs.Model("iris", IRIS_MODEL), src, out)
        assert eng.wait(30) == "FINISHED", eng.last_error
        shown.append(str(eng.inspect()))
    finally:
        eng.reset()
    assert db.execute("SELECT COUNT(*) FROM scores") == [(9,)]
    # The same password in plain text: repr of the transport and every error hide it.
    plain = base.replace("secret://FS_TEST_ODBC_PASSWORD", PASSWORD)
    t = open_transport(
        {"type": "odbc", "connection_string": plain, "insert_into_table": "scores"}, stream="p"
    )
    shown.append(repr(t))
    with pytest.raises(TransportError) as info, t.sink() as sink:
        sink.write([(1, "duplicate key")])
    shown += [str(info.value), repr(info.value)]
    wrong = base.replace("secret://FS_TEST_ODBC_PASSWORD", PASSWORD + "-wrong")
    with pytest.raises(TransportError, match=r"Access denied.*check UID and PWD") as info:
        open_transport(
            {"type": "odbc", "connection_string": wrong, "select_query": "SELECT 1"}, stream="w"
        ).source()
    shown += [str(info.value), repr(info.value)]
    shown.append(fs.Stream("w", {"Transport": {"Type": "ODBC", "ConnectionString": wrong, "SelectQuery": "SELECT 1"},
                                 "Encoding": None, "Schema": None}).to_json())  # fmt: skip
    shown.append(caplog.text)
    for text in shown:
        assert PASSWORD not in text, text
    assert "PWD=*****" in repr(t)


def test_fixture_connection_string(mysql_server: MySQLServer):
    cs = mysql_server.connection_string
    assert cs.startswith("DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=") and ";DATABASE=test;" in cs
    conn = mysql_server.connect()
    try:
        assert conn.cursor().execute("SELECT DATABASE()").fetchone()[0] == "test"
    finally:
        conn.close()


def test_recordsets_on_an_odbc_output_slot_are_refused(mysql_database):
    mysql_database.create_table("out_rs", "id INT, label VARCHAR(16)")
    out = fs.Stream(
        "out",
        {
            "Transport": {
                "Type": "ODBC",
                "ConnectionString": mysql_database.connection_string,
                "InsertIntoTable": "out_rs",
            },
            "Encoding": None,
            "Schema": None,
        },
    )
    model = fs.Model("rs", "# fastscore.recordsets.1: true\ndef action(df):\n    yield df\n")
    eng = fs.Engine()
    eng.load_model(model)
    with pytest.raises(fs.EngineError, match="recordsets"):
        eng.attach_stream(out, 1)
    eng.reset()
