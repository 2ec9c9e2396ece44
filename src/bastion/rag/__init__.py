"""Secure retrieval: tenant- and ACL-filtered search enforced inside the store's query.

- :mod:`~bastion.rag.types` — the vocabulary (:class:`Principal`, :class:`Acl`, :class:`Document`,
  :class:`Chunk`, :class:`Hit`);
- :mod:`~bastion.rag.store` — the :class:`RetrievalStore` protocol and the quarantine records;
- :mod:`~bastion.rag.sqlite_store` — the embedded default on sqlite-vec + FTS5;
- :mod:`~bastion.rag.embeddings` — the :class:`Embedder` protocol and the offline MiniLM model;
- :mod:`~bastion.rag.chunking` and :mod:`~bastion.rag.ingest` — chunking, scanning and quarantine.

Importing this package loads neither torch nor the model; :func:`default_embedder` does, once.
"""

from bastion.rag.chunking import ChunkingConfig, chunk_document, split_text
from bastion.rag.embeddings import Embedder, MiniLMEmbedder, default_embedder
from bastion.rag.ingest import Ingestor, IngestResult, IngestStatus
from bastion.rag.sqlite_store import SQLiteRetrievalStore
from bastion.rag.store import (
    MAX_K,
    MAX_QUERY_CHARS,
    QuarantineReason,
    QuarantineRecord,
    RetrievalStore,
    SearchMode,
)
from bastion.rag.types import Acl, Audience, Chunk, Document, Hit, Principal, PrincipalRole

__all__ = [
    "MAX_K",
    "MAX_QUERY_CHARS",
    "Acl",
    "Audience",
    "Chunk",
    "ChunkingConfig",
    "Document",
    "Embedder",
    "Hit",
    "IngestResult",
    "IngestStatus",
    "Ingestor",
    "MiniLMEmbedder",
    "Principal",
    "PrincipalRole",
    "QuarantineReason",
    "QuarantineRecord",
    "RetrievalStore",
    "SQLiteRetrievalStore",
    "SearchMode",
    "chunk_document",
    "default_embedder",
    "split_text",
]
