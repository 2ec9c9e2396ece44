"""The retrieval store interface: what every backend offers and the access rule it must enforce.

A :class:`RetrievalStore` keeps chunks with their provenance and answers searches *for a principal*:
a search never returns a chunk that :meth:`~bastion.rag.types.Principal.may_read` would refuse, and the
filter is part of the store's own query, so it never costs recall (when ``k`` readable chunks exist, ``k``
come back however many nearer chunks other tenants hold). It also keeps the quarantine: records of
documents that ingestion refused, with the reasons but never the text.

The embedded default is :class:`bastion.rag.sqlite_store.SQLiteRetrievalStore` (sqlite-vec + FTS5 in one
file). A PostgreSQL backend would keep the same contract with pgvector and row-level security: the
``chunks`` table holds ``tenant_id``, ``audience`` and ``owner`` next to a ``vector`` column; every request
runs in a transaction that first sets ``app.tenant_id``, ``app.subject`` and ``app.role`` from the
authenticated principal (``SET LOCAL``, bound values) under a database role without ``BYPASSRLS``; one
``SELECT`` policy on ``chunks`` says ``tenant_id = current_setting('app.tenant_id') AND (current_setting(
'app.role') = 'agent' OR audience = 'public' OR (audience = 'debtor' AND owner =
current_setting('app.subject')))``, and ``INSERT``/``DELETE`` policies pin ``tenant_id`` the same way.
Postgres then applies the rule inside every plan, the HNSW or IVFFlat scan included; because an
approximate index filters *after* it walks the graph, the backend would enable iterative index scans
(``hnsw.iterative_scan``) or fall back to an exact scan for small tenants, and the recall property test
that runs against this store would run against it unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

from bastion.core.errors import InputError
from bastion.rag.types import Chunk, Hit, Principal

__all__ = [
    "MAX_K",
    "MAX_QUERY_CHARS",
    "QuarantineReason",
    "QuarantineRecord",
    "RetrievalStore",
    "SearchMode",
    "check_search_arguments",
]

SearchMode = Literal["hybrid", "vector", "keyword"]
SEARCH_MODES: tuple[str, ...] = get_args(SearchMode)
#: the most chunks one search may return
MAX_K = 50
#: the longest query a search accepts, in characters
MAX_QUERY_CHARS = 4_000


@dataclass(frozen=True, slots=True)
class QuarantineReason:
    """One detector verdict that refused a document: never the flagged text itself."""

    detector: str
    type: str
    score: float
    explanation: str


@dataclass(frozen=True, slots=True)
class QuarantineRecord:
    """A document that ingestion refused: who, where from, its fingerprint and why."""

    doc_id: str
    tenant_id: str
    source: str
    sha256: str  # of the document text
    reasons: tuple[QuarantineReason, ...]
    quarantined_at: str  # ISO 8601, UTC


@runtime_checkable
class RetrievalStore(Protocol):
    """Chunks in, access-filtered hits out. Implementations are safe to share between threads."""

    def add(self, chunks: Sequence[Chunk]) -> int:
        """Store ``chunks`` (one transaction; a chunk with a stored ``(tenant_id, chunk_id)`` replaces it).

        Returns how many were stored.
        """
        ...

    def replace_document(self, tenant_id: str, doc_id: str, chunks: Sequence[Chunk]) -> int:
        """Delete the document's chunks and store ``chunks`` in one transaction; returns how many."""
        ...

    def search(self, query: str, principal: Principal, k: int = 5, mode: SearchMode = "hybrid") -> list[Hit]:
        """Up to ``k`` chunks that ``principal`` may read, best first.

        ``k`` must lie in ``1..MAX_K`` and ``query`` be at most ``MAX_QUERY_CHARS`` long
        (:class:`InputError` otherwise); an empty or blank query returns ``[]``.
        """
        ...

    def delete_document(self, tenant_id: str, doc_id: str) -> int:
        """Delete every chunk of the document; returns how many were deleted."""
        ...

    def quarantine(self, record: QuarantineRecord) -> None:
        """Record a refused document and delete any chunks of it already stored (one transaction)."""
        ...

    def quarantined(self, tenant_id: str) -> list[QuarantineRecord]:
        """The tenant's quarantine records, oldest first."""
        ...

    def count(self, tenant_id: str) -> int:
        """How many chunks the tenant has."""
        ...

    def close(self) -> None:
        """Release the store's resources; further calls fail."""
        ...


def check_search_arguments(query: str, k: int, mode: str) -> str:
    """The stripped query after checking the bounds every backend shares; raises :class:`InputError`."""
    if not isinstance(query, str):
        raise InputError(f"a query must be text (str), got {type(query).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise InputError(f"k must be an integer in 1..{MAX_K}")
    if mode not in SEARCH_MODES:
        raise InputError(f"mode must be one of {', '.join(SEARCH_MODES)}")
    if len(query) > MAX_QUERY_CHARS:
        raise InputError(f"a query of {len(query):,} characters exceeds the limit of {MAX_QUERY_CHARS:,}")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError("the query is not valid Unicode text (lone surrogates)") from error
    if "\x00" in query:
        raise InputError("the query contains NUL characters")
    return query.strip()
