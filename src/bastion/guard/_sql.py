"""A very small database layer shared by the audit log and the key store: SQLite or PostgreSQL.

Both stores write short transactions that must be serialised (the audit chain needs "read the head, append
one row, move the head" to be atomic across processes). :class:`Database` gives them exactly that and
nothing more:

- :meth:`Database.write` opens a write transaction. On SQLite it is ``BEGIN IMMEDIATE`` (the database's
  single write lock is taken at once, so two writers never read the same head); on PostgreSQL it is an
  ordinary transaction and the caller takes a row lock (``FOR UPDATE``, see :attr:`Database.for_update`).
- :meth:`Database.read` runs statements outside an explicit transaction.

SQL is written once with ``?`` placeholders; PostgreSQL gets ``%s``. One connection per object, guarded by a
lock, so one object may be shared by threads; several processes each open their own.
"""

from __future__ import annotations

import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from bastion.core.errors import ConfigError, UpstreamError

__all__ = ["Cursor", "Database", "connect", "describe_target", "is_postgres_url"]

Row = tuple[Any, ...]
Synchronous = Literal["NORMAL", "FULL"]


class Cursor(Protocol):
    """What a store may do inside a transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the number of rows it changed."""

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per row of parameters (pipelined on PostgreSQL)."""

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run one query; its first row or ``None``."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one query; all its rows."""


def is_postgres_url(target: str | Path) -> bool:
    """Whether ``target`` is a ``postgresql://`` (or ``postgres://``) URL."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def describe_target(target: str | Path) -> str:
    """``target`` fit for messages and logs: a URL loses its user, password and query string."""
    if not is_postgres_url(target):
        return str(target)
    parts = urllib.parse.urlsplit(str(target))
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._cursor.execute(sql, tuple(params)).rowcount

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql, [tuple(row) for row in rows])

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._cursor.execute(sql, tuple(params)).fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(row) for row in self._cursor.execute(sql, tuple(params)).fetchall()]


class _PostgresCursor:
    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        return int(self._cursor.rowcount)

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cursor.executemany(sql.replace("?", "%s"), [tuple(row) for row in rows])

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        row = self._cursor.fetchone()
        return None if row is None else tuple(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))
        return [tuple(row) for row in self._cursor.fetchall()]


@dataclass(frozen=True, slots=True)
class _Dialect:
    name: Literal["sqlite", "postgresql"]
    big_integer: str
    for_update: str


_SQLITE = _Dialect("sqlite", "INTEGER", "")
_POSTGRES = _Dialect("postgresql", "BIGINT", " FOR UPDATE")


class Database:
    """One connection to SQLite or PostgreSQL. Use :func:`connect`."""

    def __init__(self, connection: Any, dialect: _Dialect, target: str) -> None:
        self._connection = connection
        self._dialect = dialect
        self._lock = threading.RLock()
        self.target = target
        """Where the database is, without credentials."""

    @property
    def dialect(self) -> Literal["sqlite", "postgresql"]:
        """``sqlite`` or ``postgresql``."""
        return self._dialect.name

    @property
    def big_integer(self) -> str:
        """The 64-bit integer column type (``INTEGER`` on SQLite, ``BIGINT`` on PostgreSQL)."""
        return self._dialect.big_integer

    @property
    def for_update(self) -> str:
        """Suffix that row-locks what a ``SELECT`` read (empty on SQLite, whose write lock is global)."""
        return self._dialect.for_update

    def _cursor(self) -> Cursor:
        if self._dialect.name == "sqlite":
            return _SQLiteCursor(self._connection.cursor())
        return _PostgresCursor(self._connection.cursor())

    @contextmanager
    def write(self) -> Iterator[Cursor]:
        """A serialised write transaction: committed when the block ends, rolled back on an exception."""
        with self._lock, self._errors():
            if self._dialect.name == "sqlite":
                self._connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self._cursor()
                except BaseException:
                    self._connection.execute("ROLLBACK")
                    raise
                self._connection.execute("COMMIT")
            else:
                with self._connection.transaction():
                    yield self._cursor()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """Statements in autocommit mode (each one sees the latest committed data)."""
        with self._lock, self._errors():
            yield self._cursor()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        if self._dialect.name == "sqlite":
            try:
                yield
            except sqlite3.DatabaseError as error:
                raise UpstreamError(f"database {self.target}: {type(error).__name__}: {error}") from error
            return
        import psycopg

        try:
            yield
        except psycopg.Error as error:
            # psycopg messages quote SQL and server text, never the connection password.
            raise UpstreamError(f"database {self.target}: {type(error).__name__}: {error}") from error

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file and empty it, so overwritten content (an erased
        event) leaves no copy in the WAL. Best effort: an open reader elsewhere can delay it."""
        if self._dialect.name == "sqlite":
            with self._lock, self._errors():
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._connection.close()


def connect(target: str | Path, *, synchronous: Synchronous = "NORMAL") -> Database:
    """Open SQLite (a path; the folder is created) or PostgreSQL (a ``postgresql://`` URL).

    SQLite runs in WAL mode with ``synchronous`` as given and a 30 s busy timeout, in autocommit mode
    (transactions are explicit, through :meth:`Database.write`).
    """
    if is_postgres_url(target):
        return _connect_postgres(str(target))
    path = Path(target)
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a database file")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
        connection.execute("PRAGMA busy_timeout = 30000")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()
        connection.execute(f"PRAGMA synchronous = {synchronous}")
        connection.execute("PRAGMA secure_delete = ON")  # erased content is zeroed, not left in free space
    except sqlite3.DatabaseError as error:
        raise ConfigError(f"{path} is not a usable SQLite database: {error}") from error
    if mode is None or str(mode[0]).lower() != "wal":
        connection.close()
        raise ConfigError(f"{path}: SQLite refused WAL mode (is it on a network file system?)")
    return Database(connection, _SQLITE, str(path))


def _connect_postgres(url: str) -> Database:
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover - the guard extra installs it
        raise UpstreamError("PostgreSQL needs psycopg: pip install 'bastion-ai[guard]'") from error
    target = describe_target(url)
    try:
        connection = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as error:
        raise UpstreamError(f"cannot connect to {target}: {type(error).__name__}") from error
    return Database(connection, _POSTGRES, target)
