"""Fixtures of the retrieval tests: one loaded embedding model for the whole session, fresh stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.rag.embeddings import MiniLMEmbedder, default_embedder
from bastion.rag.sqlite_store import SQLiteRetrievalStore


@pytest.fixture(scope="session")
def embedder() -> MiniLMEmbedder:
    """The real MiniLM model, loaded once for all retrieval tests."""
    return default_embedder()


@pytest.fixture
def store(embedder: MiniLMEmbedder) -> Iterator[SQLiteRetrievalStore]:
    with SQLiteRetrievalStore(":memory:", embedder) as opened:
        yield opened


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "rag.sqlite"
