"""The ``odbc`` transport: rows of a database in and out, through pyodbc over unixODBC.

Tested with MariaDB and MySQL through the MariaDB Connector/ODBC driver (``DRIVER={MariaDB Unicode}``);
other ODBC drivers work for everything that is plain SQL.

Unlike the other transports, this one carries **records**, not bytes: a descriptor must have
``Encoding`` and ``Schema`` null (rule FS-D011), and its source and sink say so with ``records = True``
so that the stream hands items to and from the model without an encoding.

Input (``SelectQuery``)
    The query runs when the source is opened; its rows are fetched ``fetch_size`` at a time. Each row
    becomes a dict keyed by column name (two columns of the same name are an error: name them apart
    with ``AS``). Values keep their Python types (int, float, str, bytes, bool, ``datetime.date``,
    ``datetime.datetime``, ``datetime.time``), NULL is ``None``, and ``DECIMAL``/``NUMERIC`` values
    become ``float`` (as ``pandas.read_sql`` does by default, so records go to models, JSON and Avro
    ``double`` without a ``Decimal`` in the way; digits beyond a double's 15-17 are lost, so cast to
    ``CHAR`` in the query to keep them exact). A query result cannot be rewound or skipped into
    (``Loop``, ``SkipTo`` and ``SkipToRecord`` are refused). The MariaDB driver receives the whole
    result when the query runs (compactly, about the size of the rows on the wire) and the transport
    turns it into records a batch at a time; for results too large for memory, add ``NO_CACHE=1`` to
    the connection string so the driver streams rows from the server instead.

Output (``InsertIntoTable``, ``OutputFields``)
    Each record is one row: a tuple (or list) of values in the order of ``OutputFields``, or a dict
    keyed by those column names (every one must be present; other keys are an error). Without
    ``OutputFields`` the columns are every column of the table, in table order. Rows are inserted with
    multi-row ``INSERT INTO t (c1, c2) VALUES (?,?),(?,?),...`` statements of ``insert_rows`` rows (1000;
    fewer when the table is wide), each statement committed as its own transaction. When the database
    refuses a statement (a duplicate key, a value of the wrong type, a string too long), that batch is
    rolled back and a :class:`~fastscore_sdk.errors.TransportError` names the table, the database's
    message, the output record it points at when the database says which (MariaDB does: "at row 3"),
    and how many rows earlier batches committed. A record that is not a row (a number, a string) or
    has the wrong number of values fails before anything reaches the database: the model must yield
    tuples (DESIGN §8: ``yield (1, (1, "x"))`` sends a 2-column row starting with an int to slot 1).

    Values are sent as pyodbc binds them, with these conversions first: ``NaN``/``NaT``/``pd.NA`` ->
    NULL; numpy scalars -> their Python value; ``datetime`` with microseconds -> ISO text (the MariaDB
    driver drops the fraction of a bound timestamp); time-zone aware datetimes keep their wall time
    (SQL ``DATETIME`` has no zone).

``Timeout`` (ms)
    Bounds connecting (10 s when not set; ``0``: no limit) and, when set, each statement: on MariaDB
    through ``max_statement_time``, on MySQL through ``max_execution_time`` (SELECT only), elsewhere
    through the ODBC query timeout. The MariaDB driver ignores the ODBC login timeout, so with it
    ``CONN_TIMEOUT`` is added to the connection string (unless it has one); a ``DSN=`` connection does
    not say its driver, so set ``CONN_TIMEOUT`` in its odbc.ini entry.

Errors name the stream, the server (``host:port`` and database, or the DSN) and the cause; they never
contain the password of the connection string (``PWD=``/``Password=``), which is also kept out of
``repr`` and logs.

Examples
--------
A source reads rows as dicts and a sink writes tuples (``cs`` is a connection string such as
``DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;DATABASE=test;UID=root;PWD=``)::

    >>> t = ODBCTransport({"type": "odbc", "connection_string": cs,            # doctest: +SKIP
    ...                    "insert_into_table": "scores", "output_fields": ["id", "label"]})
    >>> with t.sink() as sink:                                                 # doctest: +SKIP
    ...     sink.write([(1, "setosa"), (2, "virginica")])
    >>> t = ODBCTransport({"type": "odbc", "connection_string": cs,            # doctest: +SKIP
    ...                    "select_query": "SELECT id, label FROM scores ORDER BY id"})
    >>> with t.source() as src:                                                # doctest: +SKIP
    ...     src.read()
    [{'id': 1, 'label': 'setosa'}, {'id': 2, 'label': 'virginica'}]
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import chain
from typing import Any, ClassVar

import pyodbc

from ..codec.base import Control
from ..errors import TransportError
from ..secrets import redact_connection_string, scrub, secret_values
from .base import Sink, Source, Transport

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_MS",
    "ODBCSink",
    "ODBCSource",
    "ODBCTransport",
    "parse_connection_string",
]

logger = logging.getLogger(__name__)

#: How long connecting may take when the descriptor sets no ``Timeout``.
DEFAULT_CONNECT_TIMEOUT_MS = 10_000
#: Rows per ``read``: large enough that per-call overhead vanishes, small enough to sample quickly.
DEFAULT_FETCH_SIZE = 1000
#: Rows per INSERT statement (one transaction each): the measured sweet spot of the MariaDB driver.
DEFAULT_INSERT_ROWS = 1000
#: Placeholders per statement: ODBC counts them in a signed 16-bit SQLSMALLINT (SQLNumParams), so a
#: statement with more is refused (65500 became "-36 parameter markers").
_MAX_PARAMS = 32767

# Types pyodbc binds right as they are (exact types: datetime, a date subclass, goes through _convert).
_PLAIN = frozenset({int, float, str, bool, type(None), bytes, Decimal, _dt.date})
_NAN_KINDS = frozenset({float, Decimal})
_MISSING_TYPES = frozenset({"NAType", "NaTType"})

_SQLSTATE = re.compile(r"[0-9A-Z]{5}")
_PREFIX = re.compile(r"^\s*(?:\[[^\]]*\]\s*)+")
_API_SUFFIX = re.compile(r"\s*\((SQL\w+)\)\s*$")
_NATIVE_SUFFIX = re.compile(r"\s*\((-?\d+)\)\s*$")
_AT_ROW = re.compile(r"\bat row (\d+)")


def parse_connection_string(text: str) -> dict[str, str]:
    """The ``KEY=value`` pairs of an ODBC connection string, keys upper-cased.

    Values in braces (``PWD={a;b}``, ``}}`` for a literal ``}``) are unwrapped.

    Examples
    --------
    >>> parse_connection_string("Driver={MariaDB Unicode};Server=db;Port=3307;PWD={a;b}")
    {'DRIVER': 'MariaDB Unicode', 'SERVER': 'db', 'PORT': '3307', 'PWD': 'a;b'}
    """
    out: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip().strip(";").strip().upper()
        j = eq + 1
        if j < n and text[j] == "{":
            k = j + 1
            value_chars = []
            while k < n:
                if text[k] == "}":
                    if k + 1 < n and text[k + 1] == "}":
                        value_chars.append("}")
                        k += 2
                        continue
                    break
                value_chars.append(text[k])
                k += 1
            value = "".join(value_chars)
            end = text.find(";", k)
        else:
            end = text.find(";", j)
            value = text[j : end if end >= 0 else n].strip()
        if key:
            out[key] = value
        if end < 0:
            break
        i = end + 1
    return out


def _db_error_parts(exc: BaseException) -> tuple[str, int | None, str]:
    """(SQLSTATE, native error code or None, the message without driver prefixes) of a pyodbc error."""
    args = [a for a in getattr(exc, "args", ()) if isinstance(a, str)]
    state = ""
    text = ""
    for a in args:
        if not state and _SQLSTATE.fullmatch(a):
            state = a
        elif not text:
            text = a
    if not text:
        text = str(exc) or type(exc).__name__
    text = _API_SUFFIX.sub("", text)
    native = None
    m = _NATIVE_SUFFIX.search(text)
    if m:
        native = int(m.group(1))
        text = text[: m.start()]
    text = _PREFIX.sub("", text).strip()
    return state, native, text


def _seconds(ms: float) -> int:
    """Whole seconds (at least 1) for ODBC attributes that take seconds."""
    return max(1, math.ceil(ms / 1000.0))


def _preview(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ODBCTransport(Transport):
    """A database table or query over ODBC (``{"type": "odbc", "connection_string": ...}``).

    Parameters
    ----------
    spec
        The interpreted transport: ``connection_string`` (required, secrets resolved), ``select_query``
        (input), ``insert_into_table`` (output), ``output_fields`` (list of columns; default: every
        column of the table) and ``timeout`` (ms).
    stream
        The stream's name, for error messages.
    fetch_size
        Rows per :meth:`ODBCSource.read`.
    insert_rows
        Rows per INSERT statement (and per transaction).

    Examples
    --------
    >>> t = ODBCTransport({"type": "odbc", "connection_string":
    ...                    "DRIVER={MariaDB Unicode};SERVER=db;PORT=3307;DATABASE=shop;UID=u;PWD=pw"})
    >>> t.where
    "db:3307 (database 'shop')"
    >>> "pw" in repr(t)
    False
    """

    type_name: ClassVar[str] = "odbc"

    def __init__(
        self,
        spec: dict[str, Any],
        *,
        stream: str | None = None,
        fetch_size: int = DEFAULT_FETCH_SIZE,
        insert_rows: int = DEFAULT_INSERT_ROWS,
    ) -> None:
        super().__init__(spec, stream=stream)
        cs = spec.get("connection_string")
        if not isinstance(cs, str) or not cs.strip():
            raise self.error(
                "no connection string given",
                hint='set Transport.ConnectionString, e.g. "DRIVER={MariaDB Unicode};SERVER=db;PORT=3306;'
                'DATABASE=test;UID=user;PWD=secret://DB_PASSWORD"',
            )
        if fetch_size <= 0 or insert_rows <= 0:
            raise ValueError("fetch_size and insert_rows must be positive numbers of rows")
        # A plain str: a resolved Secret would hide itself from secret_values() as a whole.
        self._connection_string = str(cs)
        self._secrets = secret_values({"connection_string": self._connection_string})
        self.options = parse_connection_string(self._connection_string)
        self.select_query: str | None = spec.get("select_query")
        self.insert_into_table: str | None = spec.get("insert_into_table")
        fields = spec.get("output_fields")
        self.output_fields: list[str] | None = list(fields) if fields else None
        timeout = spec.get("timeout")
        self.timeout_ms: int | None = None if timeout is None else int(timeout)
        self.fetch_size = fetch_size
        self.insert_rows = insert_rows

    # ------------------------------------------------------------------------------ description

    @property
    def is_mariadb_driver(self) -> bool:
        """Whether the connection string names the MariaDB Connector/ODBC driver."""
        driver = self.options.get("DRIVER", "").lower()
        return "mariadb" in driver or "maodbc" in driver

    @property
    def where(self) -> str:
        """The server as errors name it: ``host:port (database 'db')``, or the DSN."""
        opts = self.options
        host = opts.get("SERVER") or opts.get("HOST") or opts.get("SERVERNAME")
        if host:
            port = opts.get("PORT")
            if not port and "," in host:  # SQL Server spells it SERVER=host,port
                host, _, port = host.partition(",")
            if not port and (self.is_mariadb_driver or "mysql" in opts.get("DRIVER", "").lower()):
                port = "3306"
            place = f"{host}:{port}" if port else host
        elif opts.get("DSN"):
            place = f"DSN {opts['DSN']!r}"
        else:
            place = "the server of the connection string"
        db = opts.get("DATABASE") or opts.get("DB")
        return f"{place} (database {db!r})" if db else place

    def __repr__(self) -> str:
        parts = [f"stream={self.stream!r}", f"connection_string={self.redacted_connection_string!r}"]
        if self.select_query:
            parts.append(f"select_query={self.select_query!r}")
        if self.insert_into_table:
            parts.append(f"insert_into_table={self.insert_into_table!r}")
        return f"ODBCTransport({', '.join(parts)})"

    @property
    def redacted_connection_string(self) -> str:
        """The connection string with its password shown as ``*****``."""
        return scrub(redact_connection_string(self._connection_string), self._secrets)

    # ---------------------------------------------------------------------------------- errors

    def scrub(self, text: str) -> str:
        """``text`` with the connection string's password replaced by ``*****``."""
        return scrub(text, self._secrets)

    def db_error(self, doing: str, exc: BaseException, *, hint: str | None = None) -> TransportError:
        """A :class:`TransportError` for a database error while ``doing`` something, never with a secret."""
        state, native, text = _db_error_parts(exc)
        code = f" (error {native}, SQLSTATE {state})" if native is not None and state else ""
        if not code and state:
            code = f" (SQLSTATE {state})"
        message = self.scrub(f"{doing}: {text}{code}")
        return self.error(message, hint=self.scrub(hint) if hint else None)

    def _connect_hint(self, state: str, native: int | None, text: str) -> str | None:
        lowered = text.lower()
        if state == "28000" or native == 1045:
            return "check UID and PWD in the connection string (the password is not shown here)"
        if native == 1049 or "unknown database" in lowered:
            return "create the database, or fix DATABASE= in the connection string"
        if state == "IM002":
            return (
                "no ODBC data source of that name: define it in odbc.ini, or name the driver and server "
                "instead (DRIVER={MariaDB Unicode};SERVER=host;PORT=3306;DATABASE=db;UID=user;PWD=...)"
            )
        if "can't open lib" in lowered or state == "01000":
            installed = ", ".join(pyodbc.drivers()) or "none"
            return (
                f"the ODBC driver named by DRIVER= is not installed (installed: {installed}); on Debian "
                "and Ubuntu: apt install unixodbc odbc-mariadb"
            )
        if native in (2002, 2003, 2005, 2013) or state in ("08001", "08S01", "HYT00", "HYT01"):
            return (
                "check that the database server is running and reachable at that address "
                "(host, port, firewall); Timeout (ms) bounds how long connecting may take"
            )
        return None

    # ---------------------------------------------------------------------------------- connect

    def connect(self) -> Any:
        """Open a pyodbc connection (autocommit off) with the descriptor's timeouts applied.

        Raises
        ------
        TransportError
            The server cannot be reached or refuses the login; the message names ``host:port`` and
            the cause, never the password.
        """
        timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS if self.timeout_ms is None else self.timeout_ms
        cs = self._connection_string
        kwargs: dict[str, Any] = {"autocommit": False}
        if timeout_ms > 0:
            kwargs["timeout"] = _seconds(timeout_ms)
            # The MariaDB driver ignores the ODBC login timeout; its own option bounds the TCP connect
            # and the handshake (verified against a server that accepts and never answers).
            if self.is_mariadb_driver and "CONN_TIMEOUT" not in self.options:
                cs = f"{cs.rstrip().rstrip(';')};CONN_TIMEOUT={_seconds(timeout_ms)}"
        try:
            conn = pyodbc.connect(cs, **kwargs)
        except pyodbc.Error as exc:
            state, native, text = _db_error_parts(exc)
            raise self.db_error(
                f"cannot connect to {self.where}", exc, hint=self._connect_hint(state, native, text)
            ) from None
        try:
            self._configure(conn)
        except BaseException:
            conn.close()
            raise
        logger.debug("stream %r: connected to %s", self.stream, self.where)
        return conn

    def _configure(self, conn: Any) -> None:
        # DECIMAL -> float (see the module docstring); the driver hands converters the value as text.
        conn.add_output_converter(pyodbc.SQL_DECIMAL, float)
        conn.add_output_converter(pyodbc.SQL_NUMERIC, float)
        # pyodbc reads SQL_INTEGER as a signed C long, so INT UNSIGNED above 2**31-1 would come back
        # negative; reading the text instead keeps every value right.
        conn.add_output_converter(pyodbc.SQL_INTEGER, int)
        try:
            dbms = str(conn.getinfo(pyodbc.SQL_DBMS_NAME)).lower()
            driver = str(conn.getinfo(pyodbc.SQL_DRIVER_NAME)).lower()
        except pyodbc.Error:
            dbms = driver = ""
        if "maodbc" in driver or "myodbc" in driver or "mariadb" in dbms or "mysql" in dbms:
            _fix_string_parameters(conn)
        if not self.timeout_ms:
            return
        conn.timeout = _seconds(self.timeout_ms)
        statement = None
        if "mariadb" in dbms:
            statement = f"SET SESSION max_statement_time = {self.timeout_ms / 1000.0:.3f}"
        elif "mysql" in dbms:
            statement = f"SET SESSION max_execution_time = {int(self.timeout_ms)}"
        if statement:
            # The MariaDB driver does not enforce the ODBC query timeout; the server's own limit does.
            try:
                cur = conn.cursor()
                cur.execute(statement)
                cur.close()
                conn.commit()
            except pyodbc.Error as exc:
                logger.debug("stream %r: could not set the statement timeout: %s", self.stream, exc)

    # ---------------------------------------------------------------------------------- opening

    def source(self, *, skip_to: int | None = None, skip_to_record: int | str | None = None) -> ODBCSource:
        """Run ``select_query`` and return a source of its rows (dicts keyed by column name)."""
        if not self.select_query:
            if self.insert_into_table:
                from .registry import direction_error

                raise direction_error(self, "input")
            raise self.error(
                "no SelectQuery given, so this stream cannot be read",
                hint='set Transport.SelectQuery, e.g. "SELECT * FROM iris"',
            )
        if skip_to not in (None, 0) or skip_to_record is not None:
            raise self.error(
                "a query result cannot be skipped into (SkipTo/SkipToRecord)",
                hint="skip rows in the query instead, e.g. with ORDER BY id LIMIT 1000000 OFFSET 100",
            )
        conn = self.connect()
        cursor = conn.cursor()
        try:
            cursor.execute(self.select_query)
        except pyodbc.Error as exc:
            conn.close()
            state, native, _text = _db_error_parts(exc)
            hint = "check the query" if state.startswith("42") else None
            if native == 1969 or state in ("HYT00", "HYT01") or "max_statement_time" in str(exc):
                hint = (
                    f"the query ran longer than Timeout ({self.timeout_ms} ms): raise it or narrow the query"
                )
            raise self.db_error(
                f"SelectQuery {self.select_query!r} failed on {self.where}", exc, hint=hint
            ) from None
        if cursor.description is None:
            conn.close()
            raise self.error(
                f"SelectQuery {self.select_query!r} returned no result set",
                hint="use a SELECT (or a statement that returns rows)",
            )
        names = [d[0] for d in cursor.description]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                conn.close()
                raise self.error(
                    f"SelectQuery {self.select_query!r} returns two columns named {name!r}, so a row "
                    "cannot be one record keyed by column name",
                    hint=f"name them apart with AS, e.g. SELECT a.{name} AS a_{name}, b.{name} AS b_{name}",
                )
            seen.add(name)
        logger.debug("stream %r: query returns columns %s", self.stream, names)
        return ODBCSource(self, conn, cursor, names)

    def sink(self) -> ODBCSink:
        """Connect, find the output columns, and return a sink inserting rows into ``insert_into_table``."""
        table = self.insert_into_table
        if not table:
            if self.select_query:
                from .registry import direction_error

                raise direction_error(self, "output")
            raise self.error(
                "no InsertIntoTable given, so this stream cannot be written",
                hint='set Transport.InsertIntoTable (and optionally OutputFields), e.g. "scores"',
            )
        conn = self.connect()
        try:
            columns = self._table_columns(conn, table)
            fields = self._output_columns(table, columns)
            try:
                quote = str(conn.getinfo(pyodbc.SQL_IDENTIFIER_QUOTE_CHAR) or "").strip()
            except pyodbc.Error:
                quote = '"'
        except BaseException:
            conn.close()
            raise
        logger.debug("stream %r: inserting into %s columns %s on %s", self.stream, table, fields, self.where)
        return ODBCSink(self, conn, table, fields, quote)

    def _table_columns(self, conn: Any, table: str) -> list[str]:
        cursor = conn.cursor()
        try:
            # Reads the table's columns, in order, without reading a row; fails plainly when the table
            # is missing, before any record is produced.
            cursor.execute(f"SELECT * FROM {table} WHERE 1=0")
            columns = [d[0] for d in cursor.description or ()]
            cursor.fetchall()
        except pyodbc.Error as exc:
            state, native, _text = _db_error_parts(exc)
            hint = None
            if state == "42S02" or native == 1146:
                hint = "create the table first: the ODBC transport does not create tables"
            raise self.db_error(f"cannot use table {table!r} on {self.where}", exc, hint=hint) from None
        finally:
            cursor.close()
        conn.rollback()
        return columns

    def _output_columns(self, table: str, columns: list[str]) -> list[str]:
        if not self.output_fields:
            return columns
        by_lower = {c.lower(): c for c in columns}
        unknown = [f for f in self.output_fields if f.lower() not in by_lower]
        if unknown:
            raise self.error(
                f"OutputFields names {', '.join(map(repr, unknown))}, not columns of table {table!r}",
                hint=f"its columns are: {', '.join(columns)}",
            )
        return list(self.output_fields)


class ODBCSource(Source):
    """The rows of a running query; each :meth:`read` returns up to ``fetch_size`` dict records."""

    preserves_boundaries = True
    #: Items are records (dicts), not bytes: the stream passes them on without an encoding.
    records: ClassVar[bool] = True

    def __init__(self, transport: ODBCTransport, conn: Any, cursor: Any, names: list[str]) -> None:
        self.transport = transport
        self.names = names
        self.rows_read = 0
        self._conn: Any = conn
        self._cursor: Any = cursor
        self._size = transport.fetch_size

    def read(self, timeout: float | None = None) -> list[dict[str, Any]] | None:  # type: ignore[override]
        """The next rows as dicts, or None at the end of the result.

        The driver holds the result when the query has run, so a read returns at once and ``timeout``
        is not needed.
        """
        cursor = self._cursor
        if cursor is None:
            return None
        try:
            rows = cursor.fetchmany(self._size)
        except pyodbc.Error as exc:
            self.close()
            raise self.transport.db_error(
                f"reading the result of SelectQuery on {self.transport.where} failed", exc
            ) from None
        if not rows:
            logger.debug("stream %r: %d rows read", self.transport.stream, self.rows_read)
            self.close()
            return None
        self.rows_read += len(rows)
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in rows]

    def rewind(self) -> None:
        raise self.transport.error("a query result cannot loop: it is not seekable", hint='set "Loop": false')

    def close(self) -> None:
        cursor, self._cursor = self._cursor, None
        conn, self._conn = self._conn, None
        if cursor is not None:
            try:
                cursor.close()
            except pyodbc.Error as exc:
                logger.debug("stream %r: closing the cursor: %s", self.transport.stream, exc)
        if conn is not None:
            try:
                conn.close()
            except pyodbc.Error as exc:
                logger.debug("stream %r: closing the connection: %s", self.transport.stream, exc)


class ODBCSink(Sink):
    """Inserts rows into a table in multi-row statements, one transaction per statement.

    Attributes
    ----------
    columns : list of str
        The columns written, in the order tuple records give their values.
    rows_committed : int
        Rows inserted and committed so far.
    """

    preserves_boundaries = True
    #: Items are records (tuples or dicts), not bytes: the stream passes them on without an encoding.
    records: ClassVar[bool] = True

    def __init__(
        self, transport: ODBCTransport, conn: Any, table: str, columns: list[str], quote: str
    ) -> None:
        self.transport = transport
        self.table = table
        self.columns = columns
        self.rows_committed = 0
        self._conn: Any = conn
        self._cursor: Any = conn.cursor()
        self._closed = False
        self._pending: list[Sequence[Any]] = []
        #: Output index of the first pending row (records before it were committed or failed).
        self._pending_start = 0
        self._received = 0
        width = len(columns)
        self._chunk = max(1, min(transport.insert_rows, _MAX_PARAMS // max(width, 1)))
        quoted = [quote + c.replace(quote, quote * 2) + quote for c in columns] if quote else list(columns)
        self._head = f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "
        self._row_marks = "(" + ",".join("?" * width) + ")"
        self._full_sql = self._sql(self._chunk)
        self._index = {c: i for i, c in enumerate(columns)}

    def _sql(self, rows: int) -> str:
        return self._head + ",".join([self._row_marks] * rows)

    # ---------------------------------------------------------------------------------- writing

    def write(self, items: list[Any]) -> None:  # type: ignore[override]
        """Queue rows (tuples, lists or dicts); full batches are inserted and committed at once."""
        if self._closed:
            raise self.transport.error(
                f"the output to table {self.table!r} is closed", hint="open a new writer to write more"
            )
        if not items:
            return
        rows = self._rows(items)
        self._received += len(items)
        self._pending.extend(rows)
        while len(self._pending) >= self._chunk:
            self._insert(self._chunk)

    def _rows(self, items: list[Any]) -> list[Sequence[Any]]:
        width = len(self.columns)
        kinds = set(map(type, items))
        if kinds <= {tuple, list} and set(map(len, items)) == {width}:
            return items  # the common case, checked at C speed
        rows: list[Sequence[Any]] = []
        base = self._received
        for offset, item in enumerate(items):
            kind = type(item)
            if kind is Control:
                continue  # end/set/pig markers have no row form
            if kind is tuple or kind is list:
                row = item
            elif isinstance(item, Mapping):
                row = self._from_mapping(item, base + offset)
            elif isinstance(item, (tuple, list)):
                row = tuple(item)
            else:
                raise self._shape_error(item, base + offset)
            if len(row) != width:
                raise self.transport.error(
                    f"output record #{base + offset} has {len(row)} values but table {self.table!r} is written "
                    f"with {width} columns ({', '.join(self.columns)}): {_preview(item)}",
                    hint="yield one value per column, in OutputFields order",
                )
            rows.append(row)
        return rows

    def _from_mapping(self, item: Mapping[Any, Any], index: int) -> tuple[Any, ...]:
        try:
            row = tuple(item[c] for c in self.columns)
        except KeyError as exc:
            raise self.transport.error(
                f"output record #{index} has no value for column {exc.args[0]!r} of table {self.table!r}: "
                f"{_preview(item)}",
                hint=f"give every column written ({', '.join(self.columns)}), or narrow OutputFields",
            ) from None
        if len(item) != len(row):
            extra = [k for k in item if k not in self._index]
            raise self.transport.error(
                f"output record #{index} has keys that are not columns written to table {self.table!r}: "
                f"{', '.join(map(repr, extra))}",
                hint=f"the columns written are: {', '.join(self.columns)}",
            )
        return row

    def _shape_error(self, item: Any, index: int) -> TransportError:
        return self.transport.error(
            f"output record #{index} is a {type(item).__name__}, not a row: {_preview(item)}; an ODBC output "
            f"takes one tuple per row, with a value for each of {', '.join(self.columns)}",
            hint="the model must yield tuples, e.g. yield (1, 'setosa'); a 2-value row whose first value is "
            "an int that names an output slot is taken as (slot, value), so yield it wrapped: "
            "yield (1, (1, 'setosa')). Turn recordsets off on this slot",
        )

    def _params(self, rows: list[Sequence[Any]]) -> list[Any]:
        flat = list(chain.from_iterable(rows))
        kinds = set(map(type, flat))
        if not kinds <= _PLAIN:
            width = len(self.columns)
            converted = []
            for pos, v in enumerate(flat):
                if type(v) not in _PLAIN:
                    try:
                        v = _convert(v)
                    except TypeError as exc:
                        row, col = divmod(pos, width)
                        raise self.transport.error(
                            f"output record #{self._pending_start + row}, column {self.columns[col]!r}: "
                            f"{exc}: {_preview(rows[row])}",
                            hint="send int, float, str, bytes, bool, Decimal, date, datetime or None",
                        ) from None
                converted.append(v)
            flat = converted
            kinds = set(map(type, flat))
        if kinds & _NAN_KINDS and any(v != v for v in flat):
            # SQL has no NaN (MariaDB refuses it as out of range): a missing number is NULL.
            flat = [None if v != v else v for v in flat]
        return flat

    def _insert(self, count: int) -> None:
        rows = self._pending[:count]
        params = self._params(rows)
        sql = self._full_sql if count == self._chunk else self._sql(count)
        first = self._pending_start
        try:
            self._cursor.execute(sql, params)
            self._conn.commit()
        except pyodbc.Error as exc:
            self._rollback()
            # The batch is lost: drop it so close() does not try it again.
            del self._pending[:count]
            self._pending_start += count
            raise self._insert_error(exc, rows, first) from None
        del self._pending[:count]
        self._pending_start += count
        self.rows_committed += count

    def _insert_error(self, exc: BaseException, rows: list[Sequence[Any]], first: int) -> TransportError:
        state, native, text = _db_error_parts(exc)
        where = f"output records #{first}-#{first + len(rows) - 1}"
        m = _AT_ROW.search(text)
        if m and 1 <= int(m.group(1)) <= len(rows):
            k = int(m.group(1)) - 1
            where += f"; the database points at record #{first + k}: {_preview(tuple(rows[k]))}"
        hint = None
        if state == "23000" or native in (1062, 1452, 1048):
            hint = "the rows break a key or constraint of the table"
        elif state.startswith("22") or native in (1264, 1366, 1406, 1292):
            hint = f"values must match the column types of {self.table!r} ({', '.join(self.columns)})"
        elif native == 1969 or state in ("HYT00", "HYT01"):
            hint = "the INSERT ran longer than Timeout: raise it"
        return self.transport.db_error(
            f"inserting into table {self.table!r} on {self.transport.where} failed and this batch was "
            f"rolled back ({where}; {self.rows_committed} rows committed before it stay)",
            exc,
            hint=hint,
        )

    def _rollback(self) -> None:
        try:
            self._conn.rollback()
        except pyodbc.Error as exc:
            logger.debug("stream %r: rollback failed: %s", self.transport.stream, exc)

    def flush(self) -> None:
        """Insert and commit every queued row."""
        while self._pending:
            self._insert(min(len(self._pending), self._chunk))

    def close(self) -> None:
        """Insert what is queued and close the connection; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        try:
            self.flush()
        finally:
            self._disconnect()
        logger.debug(
            "stream %r: %d rows committed to table %r", self.transport.stream, self.rows_committed, self.table
        )

    def abort(self) -> None:
        """Drop queued rows and close; rows of batches already committed stay in the table."""
        if self._closed and self._conn is None:
            return
        self._closed = True
        dropped = len(self._pending)
        self._pending.clear()
        if self._conn is not None:
            self._rollback()
        self._disconnect()
        if dropped or self.rows_committed:
            logger.info(
                "stream %r: output to table %r aborted: %d rows were committed, %d queued rows dropped",
                self.transport.stream,
                self.table,
                self.rows_committed,
                dropped,
            )

    def _disconnect(self) -> None:
        cursor, self._cursor = self._cursor, None
        conn, self._conn = self._conn, None
        for thing in (cursor, conn):
            if thing is not None:
                try:
                    thing.close()
                except pyodbc.Error as exc:
                    logger.debug("stream %r: closing: %s", self.transport.stream, exc)


def _fix_string_parameters(conn: Any) -> None:
    """Make a MariaDB/MySQL connection store every string as given.

    With pyodbc's defaults, the MariaDB driver corrupts string parameters of 255 characters or more
    (sent in pieces with SQLPutData, UTF-16: 5000 "m" are stored as 9860 characters) and refuses
    characters outside the BMP (emoji). Sending UTF-8 (``SQL_C_CHAR``), and whole values rather than
    pieces, stores them right; the server's connection character set is utf8mb4 with this driver.
    """
    conn.setencoding(encoding="utf-8")
    conn.maxwrite = 1 << 30


def _convert(v: Any) -> Any:
    """A value pyodbc binds (and the MariaDB driver stores) right; TypeError when there is none."""
    if v is None:
        return None
    name = type(v).__name__
    if name in _MISSING_TYPES:  # pandas NA / NaT
        return None
    if isinstance(v, _dt.datetime):  # datetime and subclasses (pandas.Timestamp)
        plain = _dt.datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
        # A bound timestamp loses its fraction in the MariaDB driver; text keeps it.
        return plain.isoformat(" ") if plain.microsecond else plain
    if isinstance(v, _dt.time):
        plain_t = _dt.time(v.hour, v.minute, v.second, v.microsecond)
        return plain_t.isoformat() if plain_t.microsecond else plain_t
    if isinstance(v, _dt.date):
        return _dt.date(v.year, v.month, v.day)
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, bool):
        return bool(v)
    if hasattr(v, "dtype") and hasattr(v, "item"):  # numpy scalars
        if getattr(v.dtype, "kind", "") == "M":
            v = v.astype("datetime64[us]")
        return _convert(v.item())
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, str):
        return str(v)
    if isinstance(v, Decimal):
        return v
    raise TypeError(f"a {type(v).__name__} value cannot be written to a database column")
