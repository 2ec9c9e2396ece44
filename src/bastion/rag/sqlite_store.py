"""The embedded retrieval store: one SQLite file with sqlite-vec for vectors and FTS5 for keywords.

Tables: ``chunks`` (the text and its provenance), ``chunk_vectors`` (a sqlite-vec ``vec0`` table with the
embedding, ``tenant_id`` as partition key and ``audience``/``owner`` as metadata columns),
``chunk_keywords`` (FTS5, ``unicode61 remove_diacritics 2``, prefix indexes, plus a column of German
transcriptions, see :mod:`bastion.rag.keywords`), ``quarantine`` and ``store_meta`` (the embedder's
name and dimension; opening the file with another embedder raises :class:`ConfigError`).

The access rule lives in the SQL. Measured on sqlite-vec 0.1.9: equality on the partition key and on
metadata columns, and ``IN`` on metadata columns, are applied *during* the KNN scan (exactly the k nearest
rows that satisfy them come back), but an ``OR`` between constraints is not pushed into the scan: SQLite
applies it to the k rows the scan returned, which loses recall (5 of 10 rows in the probe); ``IN`` on the
partition key returned 2k rows; ``k`` is capped at 4096. So every KNN query is a conjunction, one per
access branch of the principal, and the branches are merged by distance:

- an agent: ``tenant_id = :tenant``;
- a debtor: ``tenant_id = :tenant AND audience = 'public'`` and
  ``tenant_id = :tenant AND audience = 'debtor' AND owner = :subject``.

The keyword query is one ordinary SQL statement (FTS5 ``MATCH`` joined to ``chunks``) whose ``WHERE``
holds the same rule, before ``ORDER BY bm25 LIMIT``. Every statement is a constant; the principal's
fields, the vectors and the FTS expression are bound parameters. Hybrid search fuses both rankings with
reciprocal rank fusion (:mod:`bastion.rag.fusion`).

One connection serves all threads, guarded by a lock; file stores run in WAL mode.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.core.errors import BastionError, ConfigError, InputError, UsageError
from bastion.rag._sqlite_vec import connect_with_vec
from bastion.rag.embeddings import Embedder, validate_embeddings
from bastion.rag.fusion import fuse
from bastion.rag.keywords import fts_query, german_variants, words
from bastion.rag.store import (
    QuarantineReason,
    QuarantineRecord,
    SearchMode,
    check_search_arguments,
)
from bastion.rag.types import Acl, Audience, Chunk, Hit, Principal, PrincipalRole

__all__ = ["MAX_CHUNK_CHARS", "SCHEMA_VERSION", "SQLiteRetrievalStore", "embedded_text"]

SCHEMA_VERSION = "1"
#: the longest chunk text the store accepts
MAX_CHUNK_CHARS = 20_000
#: the largest embedding dimension accepted (it is written into the vec0 table definition)
MAX_DIMENSION = 8_192
#: hybrid search fuses this many candidates per retriever (at least ``k``)
HYBRID_CANDIDATES = 30
#: bm25 weights of the FTS columns title, text, variants
_BM25 = "bm25(chunk_keywords, 0.5, 1.0, 1.0)"
_CHUNK_COLUMNS = (
    "c.row_id, c.chunk_id, c.doc_id, c.tenant_id, c.audience, c.owner, c.text, c.title, c.language, "
    "c.position, c.source, c.sha256, c.ingested_at"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    row_id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL CHECK (chunk_id <> ''),
    doc_id TEXT NOT NULL CHECK (doc_id <> ''),
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    audience TEXT NOT NULL CHECK (audience IN ('public', 'debtor', 'staff')),
    owner TEXT NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL,
    language TEXT NOT NULL,
    position INTEGER NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    CHECK ((audience = 'debtor') = (owner <> '')),
    UNIQUE (tenant_id, chunk_id)
);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks (tenant_id, doc_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_keywords USING fts5(
    title, text, variants, tokenize = 'unicode61 remove_diacritics 2', prefix = '3 5'
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    reasons TEXT NOT NULL,
    quarantined_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_tenant ON quarantine (tenant_id, id);
"""

_NEAREST = """
WITH nearest AS (
    SELECT chunk_rowid, distance FROM chunk_vectors
    WHERE embedding MATCH :vector AND k = :k AND tenant_id = :tenant {branch}
)
SELECT {columns}, nearest.distance FROM nearest JOIN chunks c ON c.row_id = nearest.chunk_rowid
ORDER BY nearest.distance, c.row_id
"""
#: one KNN statement per access branch (see the module docstring)
_NEAREST_IN_TENANT = _NEAREST.format(branch="", columns=_CHUNK_COLUMNS)
_NEAREST_PUBLIC = _NEAREST.format(branch="AND audience = 'public'", columns=_CHUNK_COLUMNS)
_NEAREST_OWNED = _NEAREST.format(
    branch="AND audience = 'debtor' AND owner = :subject", columns=_CHUNK_COLUMNS
)

#: the naive configuration only: no tenant, no ACL (see ``search_unrestricted``)
_NEAREST_ANYWHERE = f"""
WITH nearest AS (SELECT chunk_rowid, distance FROM chunk_vectors WHERE embedding MATCH :vector AND k = :k)
SELECT {_CHUNK_COLUMNS}, nearest.distance FROM nearest JOIN chunks c ON c.row_id = nearest.chunk_rowid
ORDER BY nearest.distance, c.row_id
"""

_MATCHING = """
SELECT {columns}, {bm25} AS keyword_score
FROM chunk_keywords JOIN chunks c ON c.row_id = chunk_keywords.rowid
WHERE chunk_keywords MATCH :match {branch}
ORDER BY keyword_score, c.row_id
LIMIT :limit
"""
_MATCHING_ANYWHERE = _MATCHING.format(columns=_CHUNK_COLUMNS, bm25=_BM25, branch="")
_MATCHING_AGENT = _MATCHING.format(columns=_CHUNK_COLUMNS, bm25=_BM25, branch="AND c.tenant_id = :tenant")
_MATCHING_DEBTOR = _MATCHING.format(
    columns=_CHUNK_COLUMNS,
    bm25=_BM25,
    branch="AND c.tenant_id = :tenant "
    "AND (c.audience = 'public' OR (c.audience = 'debtor' AND c.owner = :subject))",
)


@dataclass(frozen=True, slots=True)
class _Found:
    """A chunk one retriever found, its row id and raw score (cosine distance or bm25: lower is better)."""

    row_id: int
    chunk: Chunk
    raw_score: float


class SQLiteRetrievalStore:
    """A :class:`~bastion.rag.store.RetrievalStore` in one SQLite file (or ``":memory:"``)::

        with SQLiteRetrievalStore("rag.sqlite", default_embedder()) as store:
            hits = store.search("How can I pay?", Principal("acme", "D-1", PrincipalRole.DEBTOR), k=3)

    Opening a file made with another embedder (name or dimension) raises :class:`ConfigError`; so does a
    file that is not a store. After :meth:`close`, every call raises :class:`UsageError`.
    """

    def __init__(self, path: str | Path, embedder: Embedder) -> None:
        dimension = embedder.dimension
        if (
            isinstance(dimension, bool)
            or not isinstance(dimension, int)
            or not 0 < dimension <= MAX_DIMENSION
        ):
            raise ConfigError(f"embedding dimension must be an integer in 1..{MAX_DIMENSION}")
        self.path = str(path)
        self.embedder = embedder
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = connect_with_vec(self.path)
        try:
            self._prepare(embedder.name, dimension)
        except BaseException:
            self.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------------------

    def __enter__(self) -> SQLiteRetrievalStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _prepare(self, name: str, dimension: int) -> None:
        unusable = f"{self.path} is not a usable retrieval store"
        connection = self._open()
        try:
            if self.path != ":memory:":
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.DatabaseError as error:
            raise ConfigError(unusable) from error
        with self._transaction(ConfigError, unusable) as transaction:
            for statement in _statements(_SCHEMA):
                transaction.execute(statement)
            transaction.execute(_vector_table(dimension))
            self._check_meta(transaction, name, dimension)

    def _check_meta(self, connection: sqlite3.Connection, name: str, dimension: int) -> None:
        stored = dict(connection.execute("SELECT key, value FROM store_meta").fetchall())
        wanted = {"embedder": name, "dimension": str(dimension), "schema": SCHEMA_VERSION}
        if not stored:
            connection.executemany("INSERT INTO store_meta (key, value) VALUES (?, ?)", wanted.items())
            return
        if stored.get("schema") != SCHEMA_VERSION:
            raise ConfigError(f"{self.path} has store schema {stored.get('schema')!r}, not {SCHEMA_VERSION}")
        if (stored.get("embedder"), stored.get("dimension")) != (name, str(dimension)):
            raise ConfigError(
                f"{self.path} holds vectors of {stored.get('embedder')} ({stored.get('dimension')} "
                f"dimensions); refusing to mix them with {name} ({dimension} dimensions)"
            )

    def _open(self) -> sqlite3.Connection:
        if self._connection is None:
            raise UsageError("the retrieval store is closed")
        return self._connection

    @contextmanager
    def _transaction(
        self, failure: type[BastionError] = BastionError, message: str = "retrieval store write failed"
    ) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT`` under the lock; rolled back on any error.

        SQLite errors become ``failure(message)`` (the cause stays attached); our own errors pass through.
        """
        with self._lock:
            connection = self._open()
            try:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    yield connection
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                raise failure(f"{message}: {type(error).__name__}") from error

    # -- writing -------------------------------------------------------------------------------------

    def add(self, chunks: Sequence[Chunk]) -> int:
        checked = _checked_chunks(chunks)
        vectors = self._embed_chunks(checked)
        with self._transaction() as connection:
            for chunk, vector in zip(checked, vectors, strict=True):
                self._delete_rows(connection, _rows_of_chunk(connection, chunk.tenant_id, chunk.chunk_id))
                self._insert(connection, chunk, vector)
        return len(checked)

    def replace_document(self, tenant_id: str, doc_id: str, chunks: Sequence[Chunk]) -> int:
        checked = _checked_chunks(chunks)
        if any((chunk.tenant_id, chunk.doc_id) != (tenant_id, doc_id) for chunk in checked):
            raise InputError("replace_document got a chunk of another document")
        vectors = self._embed_chunks(checked)
        with self._transaction() as connection:
            self._delete_rows(connection, _rows_of_document(connection, tenant_id, doc_id))
            for chunk, vector in zip(checked, vectors, strict=True):
                self._insert(connection, chunk, vector)
        return len(checked)

    def delete_document(self, tenant_id: str, doc_id: str) -> int:
        with self._transaction() as connection:
            return self._delete_rows(connection, _rows_of_document(connection, tenant_id, doc_id))

    def quarantine(self, record: QuarantineRecord) -> None:
        reasons = json.dumps(
            [
                {"detector": r.detector, "type": r.type, "score": r.score, "explanation": r.explanation}
                for r in record.reasons
            ],
            ensure_ascii=False,
        )
        with self._transaction() as connection:
            self._delete_rows(connection, _rows_of_document(connection, record.tenant_id, record.doc_id))
            connection.execute(
                "INSERT INTO quarantine (tenant_id, doc_id, source, sha256, reasons, quarantined_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.tenant_id,
                    record.doc_id,
                    record.source,
                    record.sha256,
                    reasons,
                    record.quarantined_at,
                ),
            )

    def _embed_chunks(self, chunks: Sequence[Chunk]) -> npt.NDArray[np.float32]:
        if not chunks:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        vectors = self.embedder.embed([embedded_text(chunk) for chunk in chunks])
        return validate_embeddings(vectors, len(chunks), self.embedder.dimension)

    @staticmethod
    def _insert(connection: sqlite3.Connection, chunk: Chunk, vector: npt.NDArray[np.float32]) -> None:
        cursor = connection.execute(
            "INSERT INTO chunks (chunk_id, doc_id, tenant_id, audience, owner, text, title, language, "
            "position, source, sha256, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                chunk.chunk_id,
                chunk.doc_id,
                chunk.tenant_id,
                chunk.acl.audience.value,
                chunk.acl.owner,
                chunk.text,
                chunk.title,
                chunk.language,
                chunk.position,
                chunk.source,
                chunk.sha256,
                chunk.ingested_at,
            ),
        )
        row_id = cursor.lastrowid
        connection.execute(
            "INSERT INTO chunk_vectors (chunk_rowid, embedding, tenant_id, audience, owner) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                row_id,
                vector.astype("<f4").tobytes(),
                chunk.tenant_id,
                chunk.acl.audience.value,
                chunk.acl.owner,
            ),
        )
        variants = " ".join(german_variants(words(f"{chunk.title} {chunk.text}")))
        connection.execute(
            "INSERT INTO chunk_keywords (rowid, title, text, variants) VALUES (?, ?, ?, ?)",
            (row_id, chunk.title, chunk.text, variants),
        )

    @staticmethod
    def _delete_rows(connection: sqlite3.Connection, row_ids: list[int]) -> int:
        parameters = [(row_id,) for row_id in row_ids]
        connection.executemany("DELETE FROM chunk_vectors WHERE chunk_rowid = ?", parameters)
        connection.executemany("DELETE FROM chunk_keywords WHERE rowid = ?", parameters)
        connection.executemany("DELETE FROM chunks WHERE row_id = ?", parameters)
        return len(row_ids)

    # -- reading -------------------------------------------------------------------------------------

    def search(self, query: str, principal: Principal, k: int = 5, mode: SearchMode = "hybrid") -> list[Hit]:
        text = check_search_arguments(query, k, mode)
        if not isinstance(principal, Principal):
            raise InputError("search needs an authenticated Principal")
        return self._search(text, principal, k, mode) if text else []

    def search_unrestricted(self, query: str, k: int = 5, mode: SearchMode = "hybrid") -> list[Hit]:
        """Search every tenant's chunks with no access rule at all.

        Only for the demo's *naive* configuration, which shows what goes wrong without the filter; never
        call it on behalf of a user.
        """
        text = check_search_arguments(query, k, mode)
        return self._search(text, None, k, mode) if text else []

    def _search(self, text: str, principal: Principal | None, k: int, mode: str) -> list[Hit]:
        depth = max(k, HYBRID_CANDIDATES) if mode == "hybrid" else k
        rankings: dict[str, list[_Found]] = {}
        if mode in ("hybrid", "vector"):
            vector = validate_embeddings(self.embedder.embed([text]), 1, self.embedder.dimension)
            rankings["vector"] = self._nearest(vector[0], principal, depth)
        if mode in ("hybrid", "keyword"):
            rankings["keyword"] = self._matching(text, principal, depth)
        if mode != "hybrid":
            (retriever, found), *_ = rankings.items()
            return [
                Hit(item.chunk, _single_score(retriever, item.raw_score), {retriever: rank})
                for rank, item in enumerate(found[:k], start=1)
            ]
        by_id = {item.row_id: item.chunk for found in rankings.values() for item in found}
        ids = {retriever: [item.row_id for item in found] for retriever, found in rankings.items()}
        return [Hit(by_id[row_id], score, ranks) for row_id, score, ranks in fuse(ids)[:k]]

    def _nearest(
        self, vector: npt.NDArray[np.float32], principal: Principal | None, depth: int
    ) -> list[_Found]:
        """The ``depth`` nearest chunks the principal may read: one KNN query per access branch, merged."""
        blob = vector.astype("<f4").tobytes()
        branches: list[tuple[str, dict[str, object]]]
        if principal is None:
            branches = [(_NEAREST_ANYWHERE, {"vector": blob, "k": depth})]
        else:
            base: dict[str, object] = {"vector": blob, "k": depth, "tenant": principal.tenant_id}
            if principal.role is PrincipalRole.AGENT:
                branches = [(_NEAREST_IN_TENANT, base)]
            else:
                owned = {**base, "subject": principal.subject}
                branches = [(_NEAREST_PUBLIC, base), (_NEAREST_OWNED, owned)]
        found: list[_Found] = []
        with self._lock:
            connection = self._open()
            for statement, parameters in branches:
                found.extend(_fetch(connection, statement, parameters))
        found.sort(key=lambda item: (item.raw_score, item.row_id))
        return found[:depth]

    def _matching(self, text: str, principal: Principal | None, depth: int) -> list[_Found]:
        """The ``depth`` best keyword matches the principal may read (the rule is in the WHERE clause)."""
        expression = fts_query(text)
        if expression is None:
            return []
        parameters: dict[str, object] = {"match": expression, "limit": depth}
        if principal is None:
            statement = _MATCHING_ANYWHERE
        elif principal.role is PrincipalRole.AGENT:
            statement = _MATCHING_AGENT
            parameters["tenant"] = principal.tenant_id
        else:
            statement = _MATCHING_DEBTOR
            parameters.update(tenant=principal.tenant_id, subject=principal.subject)
        with self._lock:
            return _fetch(self._open(), statement, parameters)

    def count(self, tenant_id: str) -> int:
        [(count,)] = self._read("SELECT count(*) FROM chunks WHERE tenant_id = ?", (tenant_id,))
        return int(count)

    def quarantined(self, tenant_id: str) -> list[QuarantineRecord]:
        rows = self._read(
            "SELECT doc_id, tenant_id, source, sha256, reasons, quarantined_at FROM quarantine "
            "WHERE tenant_id = ? ORDER BY id",
            (tenant_id,),
        )
        return [
            QuarantineRecord(
                doc_id=doc_id,
                tenant_id=tenant,
                source=source,
                sha256=sha256,
                reasons=tuple(QuarantineReason(**reason) for reason in json.loads(reasons)),
                quarantined_at=quarantined_at,
            )
            for doc_id, tenant, source, sha256, reasons, quarantined_at in rows
        ]

    def document_ids(self, tenant_id: str) -> list[str]:
        """The ids of the tenant's stored documents, sorted."""
        rows = self._read(
            "SELECT DISTINCT doc_id FROM chunks WHERE tenant_id = ? ORDER BY doc_id", (tenant_id,)
        )
        return [str(row[0]) for row in rows]

    def _read(self, statement: str, parameters: tuple[object, ...]) -> list[Any]:
        with self._lock:
            connection = self._open()
            try:
                return connection.execute(statement, parameters).fetchall()
            except sqlite3.Error as error:
                raise BastionError(f"retrieval store read failed: {type(error).__name__}") from error


def _vector_table(dimension: int) -> str:
    """The vec0 table's definition; ``dimension`` is a checked integer, the only value written into SQL."""
    return (
        "CREATE VIRTUAL TABLE IF NOT EXISTS chunk_vectors USING vec0(chunk_rowid INTEGER PRIMARY KEY, "
        f"embedding float[{int(dimension)}] distance_metric=cosine, "
        "tenant_id TEXT PARTITION KEY, audience TEXT, owner TEXT)"
    )


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def _fetch(connection: sqlite3.Connection, statement: str, parameters: dict[str, object]) -> list[_Found]:
    try:
        rows = connection.execute(statement, parameters).fetchall()
    except sqlite3.Error as error:
        raise BastionError(f"retrieval query failed: {type(error).__name__}") from error
    return [_Found(int(row[0]), _chunk(row[1:13]), float(row[13])) for row in rows]


def _rows_of_document(connection: sqlite3.Connection, tenant_id: str, doc_id: str) -> list[int]:
    rows = connection.execute(
        "SELECT row_id FROM chunks WHERE tenant_id = ? AND doc_id = ?", (tenant_id, doc_id)
    ).fetchall()
    return [int(row[0]) for row in rows]


def _rows_of_chunk(connection: sqlite3.Connection, tenant_id: str, chunk_id: str) -> list[int]:
    rows = connection.execute(
        "SELECT row_id FROM chunks WHERE tenant_id = ? AND chunk_id = ?", (tenant_id, chunk_id)
    ).fetchall()
    return [int(row[0]) for row in rows]


def embedded_text(chunk: Chunk) -> str:
    """The text a chunk's vector is made of: its document title (unless the chunk starts with it) and text."""
    if chunk.title and not chunk.text.startswith(chunk.title):
        return f"{chunk.title}\n\n{chunk.text}"
    return chunk.text


def _checked_chunks(chunks: Sequence[Chunk]) -> list[Chunk]:
    checked = list(chunks)
    seen: set[tuple[str, str]] = set()
    for chunk in checked:
        if not isinstance(chunk, Chunk):
            raise InputError(f"expected Chunk values, got {type(chunk).__name__}")
        if not (chunk.tenant_id and chunk.doc_id and chunk.chunk_id):
            raise InputError("a chunk needs a tenant_id, a doc_id and a chunk_id")
        if not isinstance(chunk.acl, Acl) or not isinstance(chunk.acl.audience, Audience):
            raise InputError("a chunk needs an Acl")
        if not chunk.text.strip():
            raise InputError(f"chunk {chunk.chunk_id!r} has no text")
        if len(chunk.text) > MAX_CHUNK_CHARS:
            raise InputError(
                f"a chunk of {len(chunk.text):,} characters exceeds the limit of {MAX_CHUNK_CHARS:,}"
            )
        key = (chunk.tenant_id, chunk.chunk_id)
        if key in seen:
            raise InputError(f"chunk {chunk.chunk_id!r} appears twice in one batch")
        seen.add(key)
    return checked


def _chunk(row: Sequence[Any]) -> Chunk:
    chunk_id, doc_id, tenant_id, audience, owner, text, title, language, position, source, sha256, at = row
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc_id,
        tenant_id=tenant_id,
        acl=Acl(Audience(audience), owner),
        text=text,
        position=int(position),
        source=source,
        sha256=sha256,
        ingested_at=at,
        title=title,
        language=language,
    )


def _single_score(retriever: str, raw_score: float) -> float:
    """Higher is better: cosine similarity for vectors, the negated bm25 for keywords."""
    return 1.0 - raw_score if retriever == "vector" else -raw_score
