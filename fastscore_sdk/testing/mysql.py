"""MySQL fixtures: a private MariaDB server on 127.0.0.1, reached over ODBC, and helpers to use it in tests.

``mysql_server`` (session scope)
    A :class:`MySQLServer`. When ``$FASTSCORE_TEST_MYSQL_DSN`` is set (an ODBC connection string such as
    ``DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=3306;DATABASE=test;UID=root;PWD=``, or a URL
    ``mysql://user:password@host:port/database``) that server is used and left alone. Otherwise, when
    the ``mariadbd`` binary is installed (Debian: ``apt install mariadb-server``), a private server is
    started on a free port: its own data folder under a temporary folder (``mariadb-install-db`` with
    root allowed in over TCP without a password), its own socket and pid file, stopped with SIGTERM and
    deleted at the end of the session. Either way the ``test`` database exists.
``mysql_database`` (function scope)
    A :class:`MySQLDatabase`: a fresh, empty database on that server (UTF-8), dropped after the test.

Both need pyodbc and a MariaDB ODBC driver registered with unixODBC (Debian: ``apt install unixodbc
odbc-mariadb``). Without them, or without a server, the test is skipped, or fails under
``FASTSCORE_REQUIRE_SERVICES=1``. A test reads like this::

    def test_scores(mysql_database):
        db = mysql_database
        db.create_table("iris", "id INT PRIMARY KEY, petal_length DOUBLE", rows=[(1, 1.4), (2, 4.7)])
        src = fs.Stream("in", db.descriptor(SelectQuery="SELECT * FROM iris ORDER BY id"))
        assert src.sample(2).records == [{"id": 1, "petal_length": 1.4}, {"id": 2, "petal_length": 4.7}]
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from . import free_port, unavailable

__all__ = [
    "DSN_ENV",
    "MySQLDatabase",
    "MySQLServer",
    "find_mariadb",
    "find_odbc_driver",
    "mysql_database",
    "mysql_server",
]

logger = logging.getLogger("fastscore_sdk.testing.mysql")

#: Environment variable naming an existing server for ``mysql_server`` to use.
DSN_ENV = "FASTSCORE_TEST_MYSQL_DSN"

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 15.0
# Small and fast: a test server holds little data and need not survive a crash.
_SERVER_OPTIONS = [
    "--skip-name-resolve",
    "--skip-log-bin",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=8M",
    "--innodb-flush-log-at-trx-commit=0",
    "--innodb-use-native-aio=0",
    "--max-connections=500",
]


def find_mariadb() -> tuple[Path, Path] | None:
    """The ``mariadbd`` server binary and the ``mariadb-install-db`` script, or None when missing.

    Examples
    --------
    >>> found = find_mariadb()
    >>> found is None or found[0].name in ("mariadbd", "mysqld")
    True
    """
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin:/usr/local/mysql/bin"
    server = shutil.which("mariadbd", path=path) or shutil.which("mysqld", path=path)
    install = shutil.which("mariadb-install-db", path=path) or shutil.which("mysql_install_db", path=path)
    if server and install:
        return Path(server), Path(install)
    return None


def find_odbc_driver() -> str | None:
    """The name of a MariaDB (or MySQL) ODBC driver registered with unixODBC, or None.

    ``MariaDB Unicode`` is preferred (it is what Debian's ``odbc-mariadb`` registers).

    Examples
    --------
    >>> name = find_odbc_driver()
    >>> name is None or isinstance(name, str)
    True
    """
    try:
        import pyodbc
    except ImportError:
        return None
    drivers = pyodbc.drivers()
    for want in ("MariaDB Unicode", "MariaDB"):
        if want in drivers:
            return want
    for name in drivers:
        if "mariadb" in name.lower() or "mysql" in name.lower():
            return name
    return None


def _brace(value: str) -> str:
    """An ODBC connection-string value, braced when it holds characters that need it."""
    if value == "" or not any(c in value for c in ";{}= "):
        return value
    return "{" + value.replace("}", "}}") + "}"


def _quote_name(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class MySQLServer:
    """A MariaDB/MySQL server reached over ODBC, and helpers to make databases on it.

    Build one with :meth:`start` (a private ``mariadbd``) or :meth:`external` (a server already
    running); the ``mysql_server`` fixture does it for you.

    Attributes
    ----------
    host, port : str, int
    user, password : str
    driver : str
        The ODBC driver name (``MariaDB Unicode``).
    database : str
        The default database (``test``).
    log_path : Path or None
        The private server's error log.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str = "root",
        password: str = "",
        driver: str = "MariaDB Unicode",
        database: str = "test",
        extra: Mapping[str, str] | None = None,
        workdir: Path | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.user = user
        self.password = password
        self.driver = driver
        self.database = database
        self._extra = dict(extra or {})
        self._workdir = workdir
        self.log_path = workdir / "mariadbd.log" if workdir is not None else None
        self._proc: subprocess.Popen[bytes] | None = None

    # -------------------------------------------------------------------------------- lifecycle

    @classmethod
    def start(cls, *, driver: str | None = None, attempts: int = 3) -> MySQLServer:
        """Start a private MariaDB server on a free port of 127.0.0.1 (root, no password, over TCP).

        Raises
        ------
        FileNotFoundError
            ``mariadbd``/``mariadb-install-db`` or the ODBC driver is not installed.
        RuntimeError
            The server did not start; the message holds the end of its log.
        """
        found = find_mariadb()
        if found is None:
            raise FileNotFoundError("mariadbd is not installed (Debian: apt install mariadb-server)")
        driver = driver or find_odbc_driver()
        if driver is None:
            raise FileNotFoundError(
                "no MariaDB ODBC driver is registered with unixODBC (Debian: apt install unixodbc odbc-mariadb)"
            )
        server_bin, install_bin = found
        workdir = Path(tempfile.mkdtemp(prefix="fs-mariadb-"))
        try:
            datadir = workdir / "data"
            user_opts = ["--user=root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
            install = subprocess.run(
                [
                    str(install_bin),
                    "--no-defaults",
                    f"--datadir={datadir}",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    *user_opts,
                    *_SERVER_OPTIONS,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=120,
                check=False,
            )
            if install.returncode != 0:
                tail = "\n".join(install.stdout.decode(errors="replace").splitlines()[-15:])
                raise RuntimeError(f"mariadb-install-db failed (exit {install.returncode}):\n{tail}")
            last = ""
            for _ in range(attempts):
                server = cls("127.0.0.1", free_port(), driver=driver, workdir=workdir)
                try:
                    server._launch(server_bin, datadir, user_opts)
                    server.execute("CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4", database="")
                    return server
                except RuntimeError as exc:
                    # Another process may have taken the free port between probe and bind: try another.
                    last = str(exc)
                    server._terminate()
                    if "already in use" not in last.lower():
                        break
            raise RuntimeError(last)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise

    @classmethod
    def external(cls, dsn: str, *, driver: str | None = None) -> MySQLServer:
        """Use a server already running, named by an ODBC connection string or a ``mysql://`` URL.

        Examples
        --------
        >>> s = MySQLServer.external("mysql://app:pw@db.example:3307/shop", driver="MariaDB Unicode")
        >>> s.host, s.port, s.user, s.database
        ('db.example', 3307, 'app', 'shop')
        """
        from ..transports.odbc import parse_connection_string

        text = dsn.strip()
        if "://" in text and "=" not in text.split("://", 1)[0]:
            url = urlsplit(text)
            return cls(
                url.hostname or "127.0.0.1",
                url.port or 3306,
                user=unquote(url.username or "root"),
                password=unquote(url.password or ""),
                driver=driver or find_odbc_driver() or "MariaDB Unicode",
                database=url.path.lstrip("/") or "test",
            )
        opts = parse_connection_string(text)
        known = {"DRIVER", "SERVER", "HOST", "PORT", "UID", "USER", "PWD", "PASSWORD", "DATABASE", "DB"}
        return cls(
            opts.get("SERVER") or opts.get("HOST") or "127.0.0.1",
            int(opts.get("PORT") or 3306),
            user=opts.get("UID") or opts.get("USER") or "root",
            password=opts.get("PWD") or opts.get("PASSWORD") or "",
            driver=opts.get("DRIVER") or driver or find_odbc_driver() or "MariaDB Unicode",
            database=opts.get("DATABASE") or opts.get("DB") or "test",
            extra={k: v for k, v in opts.items() if k not in known},
        )

    def _launch(self, server_bin: Path, datadir: Path, user_opts: list[str]) -> None:
        assert self._workdir is not None and self.log_path is not None
        args = [
            str(server_bin),
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={self._workdir / 'mariadbd.sock'}",
            f"--pid-file={self._workdir / 'mariadbd.pid'}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--log-error={self.log_path}",
            *user_opts,
            *_SERVER_OPTIONS,
        ]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Stopped at exit even when the session ends without its teardown (an interrupted run).
        atexit.register(self._terminate)
        deadline = time.monotonic() + _START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"mariadbd exited with {self._proc.returncode} on port {self.port}; its log ends with:\n"
                    f"{self.log_tail()}"
                )
            try:
                conn = self.connect(database="", timeout=2)
            except Exception as exc:  # noqa: BLE001 - pyodbc may be absent here; retried until the deadline
                last = exc
                time.sleep(0.05)
                continue
            conn.close()
            logger.debug("mariadbd (pid %d) ready on 127.0.0.1:%d", self._proc.pid, self.port)
            return
        raise RuntimeError(
            f"mariadbd did not accept logins on port {self.port} within {_START_TIMEOUT:.0f} s ({last}); "
            f"its log ends with:\n{self.log_tail()}"
        )

    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                logger.warning("mariadbd (pid %d) did not stop on SIGTERM; killing it", proc.pid)
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        """Stop a private server (SIGTERM) and delete its files; an external server is left alone."""
        self._terminate()
        atexit.unregister(self._terminate)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @property
    def private(self) -> bool:
        """True for a server this object started."""
        return self.log_path is not None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the private server's error log."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"

    def __repr__(self) -> str:
        kind = "private mariadbd" if self.private else "external"
        return f"<MySQLServer {self.host}:{self.port} ({kind}, driver {self.driver!r})>"

    # ---------------------------------------------------------------------------------- helpers

    def connection_string_for(
        self, database: str | None = None, *, user: str | None = None, password: str | None = None
    ) -> str:
        """A DSN-less ODBC connection string for ``database`` (default: :attr:`database`)."""
        db = self.database if database is None else database
        parts = [
            f"DRIVER={{{self.driver}}}",
            f"SERVER={self.host}",
            f"PORT={self.port}",
        ]
        if db:
            parts.append(f"DATABASE={_brace(db)}")
        parts.append(f"UID={_brace(self.user if user is None else user)}")
        parts.append(f"PWD={_brace(self.password if password is None else password)}")
        parts.extend(f"{k}={_brace(v)}" for k, v in self._extra.items())
        return ";".join(parts)

    @property
    def connection_string(self) -> str:
        """The ODBC connection string of the default database, e.g.
        ``DRIVER={MariaDB Unicode};SERVER=127.0.0.1;PORT=40123;DATABASE=test;UID=root;PWD=``."""
        return self.connection_string_for()

    def connect(self, database: str | None = None, *, autocommit: bool = True, timeout: int = 10) -> Any:
        """A pyodbc connection (autocommit on by default) to ``database`` (default: :attr:`database`)."""
        import pyodbc

        from ..transports.odbc import _fix_string_parameters

        cs = self.connection_string_for(database) + f";CONN_TIMEOUT={int(timeout)}"
        conn = pyodbc.connect(cs, autocommit=autocommit, timeout=timeout)
        # Long and non-BMP strings are stored wrong through this driver otherwise (see the function).
        _fix_string_parameters(conn)
        return conn

    def execute(self, sql: str, params: Sequence[Any] = (), *, database: str | None = None) -> list[tuple]:
        """Run one statement; return its rows as tuples (``[]`` for a statement without rows)."""
        conn = self.connect(database)
        try:
            cursor = conn.cursor()
            cursor.execute(sql, *([list(params)] if params else []))
            rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
            cursor.close()
            return rows
        finally:
            conn.close()

    def create_database(self, prefix: str = "fs") -> MySQLDatabase:
        """A new, empty database (utf8mb4) with a unique name; drop it with :meth:`MySQLDatabase.drop`."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.execute(f"CREATE DATABASE {_quote_name(name)} CHARACTER SET utf8mb4", database="")
        return MySQLDatabase(self, name)


class MySQLDatabase:
    """One database on a :class:`MySQLServer`, with helpers for tables and descriptors.

    Attributes
    ----------
    server : MySQLServer
    name : str
    """

    def __init__(self, server: MySQLServer, name: str) -> None:
        self.server = server
        self.name = name

    @property
    def connection_string(self) -> str:
        """The ODBC connection string of this database."""
        return self.server.connection_string_for(self.name)

    def connect(self, *, autocommit: bool = True) -> Any:
        """A pyodbc connection to this database."""
        return self.server.connect(self.name, autocommit=autocommit)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one statement in this database; return its rows as tuples."""
        return self.server.execute(sql, params, database=self.name)

    def create_table(self, table: str, columns: str, rows: Iterable[Sequence[Any]] = ()) -> str:
        """Create ``table`` with the column definitions ``columns`` (SQL) and insert ``rows``; returns the name.

        Examples
        --------
        ``db.create_table("iris", "id INT PRIMARY KEY, species VARCHAR(20)", rows=[(1, "setosa")])``
        """
        conn = self.connect(autocommit=False)
        try:
            cursor = conn.cursor()
            cursor.execute(f"CREATE TABLE {table} ({columns})")
            rows = [tuple(r) for r in rows]
            if rows:
                marks = "(" + ",".join("?" * len(rows[0])) + ")"
                for i in range(0, len(rows), 1000):
                    chunk = rows[i : i + 1000]
                    cursor.execute(
                        f"INSERT INTO {table} VALUES " + ",".join([marks] * len(chunk)),
                        [v for r in chunk for v in r],
                    )
            conn.commit()
        finally:
            conn.close()
        return table

    def rows(self, query_or_table: str) -> list[dict[str, Any]]:
        """The rows of a query (or of a whole table, given its name) as dicts keyed by column name."""
        sql = query_or_table if " " in query_or_table.strip() else f"SELECT * FROM {query_or_table}"
        conn = self.connect()
        try:
            cursor = conn.cursor()
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        finally:
            conn.close()

    def descriptor(self, **transport: Any) -> dict[str, Any]:
        """A stream descriptor of this database: ``db.descriptor(SelectQuery="SELECT * FROM t")``."""
        return {
            "Transport": {"Type": "ODBC", "ConnectionString": self.connection_string, **transport},
            "Encoding": None,
            "Schema": None,
        }

    def drop(self) -> None:
        """Drop the database and everything in it."""
        self.server.execute(f"DROP DATABASE IF EXISTS {_quote_name(self.name)}", database="")

    def __repr__(self) -> str:
        return f"<MySQLDatabase {self.name!r} on {self.server.host}:{self.server.port}>"


def _server_or_unavailable() -> MySQLServer:
    try:
        import pyodbc  # noqa: F401
    except ImportError:
        unavailable("pyodbc is not installed: pip install 'fastscore_sdk[odbc]'")
        raise
    dsn = os.environ.get(DSN_ENV, "").strip()
    if dsn:
        server = MySQLServer.external(dsn)
        try:
            # The default database may not exist yet on a server of one's own; make it when allowed.
            with contextlib.suppress(Exception):
                server.execute(
                    f"CREATE DATABASE IF NOT EXISTS {_quote_name(server.database)} CHARACTER SET utf8mb4",
                    database="",
                )
            server.execute("SELECT 1")
        except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
            unavailable(f"${DSN_ENV} names a server that cannot be used: {exc}")
        return server
    if find_odbc_driver() is None:
        unavailable(
            "no MariaDB ODBC driver is registered with unixODBC (Debian: apt install unixodbc odbc-mariadb)"
        )
    if find_mariadb() is None:
        unavailable(
            f"no MySQL server: mariadbd is not installed (apt install mariadb-server) and ${DSN_ENV} is not set"
        )
    try:
        return MySQLServer.start()
    except (FileNotFoundError, RuntimeError, OSError, subprocess.SubprocessError) as exc:
        unavailable(f"no MySQL server: {exc}")
        raise


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[MySQLServer]:
    """A MariaDB server for the session (private ``mariadbd``), or ``$FASTSCORE_TEST_MYSQL_DSN``.

    Skips the test (fails it under ``FASTSCORE_REQUIRE_SERVICES=1``) when no server can be had.
    """
    server = _server_or_unavailable()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mysql_database(mysql_server: MySQLServer) -> Iterator[MySQLDatabase]:
    """A fresh, empty database on ``mysql_server``, dropped after the test."""
    db = mysql_server.create_database()
    try:
        yield db
    finally:
        try:
            db.drop()
        except Exception as exc:  # noqa: BLE001 - a failed cleanup must not hide the test's own result
            logger.warning("could not drop database %s: %s", db.name, exc)
