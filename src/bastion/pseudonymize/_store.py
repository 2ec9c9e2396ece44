"""Where sealed vault records live: a small storage interface and its SQLite implementation.

The store only ever sees ciphertext. It keeps ``(tenant, token) -> sealed record`` plus a few named
metadata values (the key fingerprint). Encryption, authentication and every decision about the contents
belong to :class:`~bastion.pseudonymize.Vault`; a store is a dumb, thread-safe table, which keeps test
doubles and other back ends (PostgreSQL) simple.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

from bastion.core.errors import VaultError

__all__ = ["SQLiteVaultStore", "VaultStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vault_meta (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vault_records (
    tenant TEXT NOT NULL,
    token TEXT NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (tenant, token)
) WITHOUT ROWID;
"""
#: SQLite allows 32,766 bound parameters; stay far below it
_BATCH = 500


@runtime_checkable
class VaultStore(Protocol):
    """Storage of sealed records. Implementations must be safe to call from several threads."""

    def insert_new(self, tenant: str, records: Sequence[tuple[str, bytes]]) -> int:
        """Store ``(token, sealed)`` pairs whose token is not stored yet; return how many were new."""
        ...

    def fetch(self, tenant: str, tokens: Sequence[str]) -> dict[str, bytes]:
        """The sealed records of those ``tokens`` that exist."""
        ...

    def delete(self, tenant: str, token: str) -> bool:
        """Remove one record; True when it existed."""
        ...

    def delete_tenant(self, tenant: str) -> int:
        """Remove every record of ``tenant``; return how many there were."""
        ...

    def count(self, tenant: str | None = None) -> int:
        """How many records ``tenant`` (or every tenant) has."""
        ...

    def add_meta(self, name: str, value: bytes) -> bytes:
        """Store ``value`` under ``name`` unless a value exists; return the stored value."""
        ...

    def close(self) -> None:
        """Release the storage."""
        ...


class SQLiteVaultStore:
    """A :class:`VaultStore` in one SQLite database: a file path or ``":memory:"``.

    A new database file is created readable by its owner only. File databases use write-ahead logging
    for fast commits, and ``secure_delete`` so that erased records are overwritten, not merely unlinked;
    after an erasure the log is checkpointed and truncated. One connection is shared under a lock.
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:") -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        in_memory = self.path == ":memory:"
        try:
            if not in_memory:
                _create_private_file(Path(self.path))
            self._connection = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._connection.execute("PRAGMA secure_delete = ON")
            if not in_memory:
                self._connection.execute("PRAGMA journal_mode = WAL")
                self._connection.execute("PRAGMA synchronous = NORMAL")
            self._connection.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise VaultError(f"cannot open the vault database: {type(error).__name__}: {error}") from error
        self._closed = False

    def __repr__(self) -> str:
        return f"SQLiteVaultStore(path={self.path!r})"

    @contextmanager
    def _transaction(self, *, writes: bool = True) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._closed:
                raise VaultError("the vault is closed")
            connection = self._connection
            try:
                connection.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
                try:
                    yield connection
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                raise VaultError(f"vault database error: {type(error).__name__}: {error}") from error

    def insert_new(self, tenant: str, records: Sequence[tuple[str, bytes]]) -> int:
        if not records:
            return 0
        with self._transaction() as connection:
            before = connection.total_changes
            connection.executemany(
                "INSERT OR IGNORE INTO vault_records (tenant, token, sealed) VALUES (?, ?, ?)",
                [(tenant, token, sealed) for token, sealed in records],
            )
            return connection.total_changes - before

    def fetch(self, tenant: str, tokens: Sequence[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(tokens))
        with self._transaction(writes=False) as connection:
            for offset in range(0, len(unique), _BATCH):
                batch = unique[offset : offset + _BATCH]
                placeholders = ",".join("?" * len(batch))
                rows = connection.execute(
                    f"SELECT token, sealed FROM vault_records WHERE tenant = ? AND token IN ({placeholders})",
                    (tenant, *batch),
                )
                for token, sealed in rows:
                    if not isinstance(sealed, bytes):
                        raise VaultError("a vault record is damaged (not a binary value)")
                    found[token] = sealed
        return found

    def delete(self, tenant: str, token: str) -> bool:
        with self._transaction() as connection:
            cursor = connection.execute(
                "DELETE FROM vault_records WHERE tenant = ? AND token = ?", (tenant, token)
            )
            deleted = cursor.rowcount > 0
        self._truncate_log()
        return deleted

    def delete_tenant(self, tenant: str) -> int:
        with self._transaction() as connection:
            deleted = connection.execute("DELETE FROM vault_records WHERE tenant = ?", (tenant,)).rowcount
        self._truncate_log()
        return max(deleted, 0)

    def count(self, tenant: str | None = None) -> int:
        with self._transaction(writes=False) as connection:
            if tenant is None:
                row = connection.execute("SELECT COUNT(*) FROM vault_records").fetchone()
            else:
                row = connection.execute(
                    "SELECT COUNT(*) FROM vault_records WHERE tenant = ?", (tenant,)
                ).fetchone()
        return int(row[0])

    def add_meta(self, name: str, value: bytes) -> bytes:
        with self._transaction() as connection:
            connection.execute("INSERT OR IGNORE INTO vault_meta (name, value) VALUES (?, ?)", (name, value))
            row = connection.execute("SELECT value FROM vault_meta WHERE name = ?", (name,)).fetchone()
        stored = row[0]
        if not isinstance(stored, bytes):
            raise VaultError("the vault metadata is damaged (not a binary value)")
        return stored

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._connection.close()

    def _truncate_log(self) -> None:
        """Fold the write-ahead log into the database and empty it, so erased pages leave no copy there."""
        if self.path == ":memory:":
            return
        with self._lock:
            try:
                self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as error:
                raise VaultError(f"vault database error: {type(error).__name__}: {error}") from error


def _create_private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 when it does not exist yet (SQLite would use the umask)."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)
