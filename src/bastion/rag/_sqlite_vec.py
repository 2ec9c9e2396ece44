"""Opening SQLite connections that have the sqlite-vec extension (``vec0``) loaded.

The usual way is ``connection.enable_load_extension(True)`` and ``sqlite_vec.load(connection)``. Some
Python builds (pyenv's default, among others) leave ``enable_load_extension`` out although the SQLite
library they link against can load extensions. For those, sqlite-vec's entry point is registered once
per process with SQLite's own ``sqlite3_auto_extension`` C function (through ctypes, on the very
library the ``sqlite3`` module uses), and SQLite then initialises ``vec0`` on every new connection.
"""

from __future__ import annotations

import ctypes
import sqlite3
import threading
from pathlib import Path
from typing import Any

from bastion.core.errors import ConfigError

__all__ = ["connect_with_vec", "vec_version"]

_REGISTER_LOCK = threading.Lock()
_registered = False


def connect_with_vec(database: str) -> sqlite3.Connection:
    """A connection to ``database`` (a path or ``":memory:"``) with sqlite-vec, usable from any thread.

    The connection is in autocommit mode (``isolation_level=None``): callers open transactions
    explicitly. Raises :class:`ConfigError` when sqlite-vec cannot be loaded.
    """
    can_load = hasattr(sqlite3.Connection, "enable_load_extension")
    if not can_load:
        _register_auto_extension()
    try:
        connection = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot open the retrieval store {database}") from error
    try:
        if can_load:
            _load_extension(connection)
        vec_version(connection)
    except BaseException:
        connection.close()
        raise
    return connection


def vec_version(connection: sqlite3.Connection) -> str:
    """sqlite-vec's version on ``connection``; :class:`ConfigError` when the extension is absent."""
    try:
        row = connection.execute("SELECT vec_version()").fetchone()
    except sqlite3.Error as error:
        raise ConfigError("the sqlite-vec extension is not available on this connection") from error
    return str(row[0])


def _load_extension(connection: sqlite3.Connection) -> None:
    sqlite_vec = _sqlite_vec_module()
    try:
        connection.enable_load_extension(True)
        try:
            sqlite_vec.load(connection)
        finally:
            connection.enable_load_extension(False)
    except sqlite3.Error as error:
        raise ConfigError("cannot load the sqlite-vec extension") from error


def _register_auto_extension() -> None:
    global _registered  # noqa: PLW0603 - one registration per process, guarded by the lock
    with _REGISTER_LOCK:
        if _registered:
            return
        library = _linked_sqlite_library()
        extension = ctypes.CDLL(str(_extension_file()))
        library.sqlite3_auto_extension.argtypes = [ctypes.c_void_p]
        library.sqlite3_auto_extension.restype = ctypes.c_int
        entry_point = ctypes.cast(extension.sqlite3_vec_init, ctypes.c_void_p)
        if library.sqlite3_auto_extension(entry_point) != 0:
            raise ConfigError("SQLite refused to register the sqlite-vec extension")
        _registered = True


def _linked_sqlite_library() -> ctypes.CDLL:
    """The shared SQLite library that this process's ``sqlite3`` module is linked against."""
    maps = Path("/proc/self/maps")
    candidates = []
    if maps.is_file():
        for line in maps.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and Path(fields[5]).name.startswith("libsqlite3"):
                candidates.append(fields[5].strip())
    if not candidates:
        raise ConfigError(
            "this Python's sqlite3 module cannot load extensions (built without "
            "--enable-loadable-sqlite-extensions and not linked to a shared SQLite library); "
            "use a Python build that can, or install pysqlite3"
        )
    library = ctypes.CDLL(candidates[0])
    library.sqlite3_libversion.restype = ctypes.c_char_p
    version = library.sqlite3_libversion().decode("ascii")
    if version != sqlite3.sqlite_version:
        raise ConfigError(f"found SQLite {version}, but the sqlite3 module runs {sqlite3.sqlite_version}")
    return library


def _extension_file() -> Path:
    base = Path(str(_sqlite_vec_module().loadable_path()))
    for suffix in (".so", ".dylib", ".dll"):
        candidate = base.with_name(base.name + suffix)
        if candidate.is_file():
            return candidate
    raise ConfigError(f"the sqlite-vec library is missing next to {base}")


def _sqlite_vec_module() -> Any:
    """The ``sqlite_vec`` package (it ships no type hints: only ``load`` and ``loadable_path`` are used)."""
    try:
        import sqlite_vec
    except ImportError as error:
        raise ConfigError("the sqlite-vec package is not installed") from error
    return sqlite_vec
