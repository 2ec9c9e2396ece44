"""Everything the demo needs on disk, built once from the seed and reused.

::

    <home>/demo/seed-<seed>-<debtors per tenant>/
        base.sqlite          the generated database (tenants, debtors, cases, notes, keys), never written to
        base-rag.sqlite      the tenants' documents, chunked, scanned and embedded
        <config>.sqlite      a working copy per configuration: tools write here (plans, closed cases, e-mails)
        <config>-rag.sqlite  a working copy per configuration: customer uploads land here

The working copies mean the naive configuration's damage (closed cases, poisoned uploads) never leaks into
the hardened one; :func:`reset` throws them away.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from bastion.core.errors import ConfigError
from bastion.demo.assistant import Assistant, AssistantSettings, Configuration
from bastion.demo.data import DemoData, demo_documents, generate, published_values
from bastion.demo.db import DemoDatabase, write_database
from bastion.demo.model import ChatModel, LanguageModel, LocalModel
from bastion.rag.chunking import DEFAULT_CONFIG, chunk_document
from bastion.rag.embeddings import Embedder, PrecomputedEmbedder, default_embedder
from bastion.rag.ingest import Ingestor
from bastion.rag.sqlite_store import SQLiteRetrievalStore, embedded_text
from bastion.rag.types import Document

__all__ = [
    "DEFAULT_DEBTORS",
    "DemoEnvironment",
    "UpstreamSettings",
    "build_assistant",
    "demo_chunk_texts",
    "locate",
    "prepare",
    "reset",
]

logger = logging.getLogger(__name__)

DEFAULT_DEBTORS = 25  # per tenant


@dataclass(frozen=True, slots=True)
class UpstreamSettings:
    """Which model answers: the local Gemma (no ``base_url``) or an OpenAI-compatible API."""

    base_url: str = ""
    model: str = ""
    api_key_env: str = "OPENAI_API_KEY"

    def create(self) -> LanguageModel:
        if not self.base_url:
            return LocalModel()
        if not self.model:
            raise ConfigError("an upstream base URL needs a model name (--upstream-model)")
        return ChatModel(base_url=self.base_url, model=self.model, api_key_env=self.api_key_env)


@dataclass(frozen=True, slots=True)
class DemoEnvironment:
    folder: Path
    seed: int
    debtors_per_tenant: int

    @property
    def base_database(self) -> Path:
        return self.folder / "base.sqlite"

    @property
    def base_store(self) -> Path:
        return self.folder / "base-rag.sqlite"

    @property
    def built(self) -> bool:
        return self.base_database.is_file() and self.base_store.is_file()

    def database_for(self, configuration: Configuration) -> Path:
        return self.folder / f"{configuration.value}.sqlite"

    def store_for(self, configuration: Configuration) -> Path:
        return self.folder / f"{configuration.value}-rag.sqlite"


def locate(home: Path, seed: int = 7, debtors_per_tenant: int = DEFAULT_DEBTORS) -> DemoEnvironment:
    """Where the demo files for ``seed`` live under ``home``; nothing is built."""
    return DemoEnvironment(home / "demo" / f"seed-{seed}-{debtors_per_tenant}", seed, debtors_per_tenant)


def prepare(home: Path, seed: int = 7, debtors_per_tenant: int = DEFAULT_DEBTORS) -> DemoEnvironment:
    """Build the base database and document store for ``seed`` unless they exist already."""
    environment = locate(home, seed, debtors_per_tenant)
    environment.folder.mkdir(parents=True, exist_ok=True)
    if environment.built:
        return environment
    started = time.perf_counter()
    data = generate(seed=seed, debtors_per_tenant=debtors_per_tenant)
    _build(environment, data)
    logger.info("demo data for seed %d built in %.1f s", seed, time.perf_counter() - started)
    return environment


def demo_chunk_texts(documents: Sequence[Document]) -> list[str]:
    """The texts the store embeds for ``documents``, chunked as ingestion chunks them."""
    return [
        embedded_text(chunk)
        for document in documents
        for chunk in chunk_document(document, "1970-01-01T00:00:00Z", DEFAULT_CONFIG)
    ]


def _build_embedder() -> Embedder:
    """MiniLM, answering from the vectors shipped for the default documents where it can.

    Embedding 804 chunks is ~20 s of a first start on 2 cores; the shipped vectors (float16, made by
    ``scripts/build_demo_embeddings.py``) cover the default seed and size, anything else is computed.
    """
    embedder = default_embedder()
    shipped = resources.files("bastion.data.demo").joinpath("embeddings.npz")
    if not shipped.is_file():
        return embedder
    with shipped.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        name = str(archive["name"])
        keys = [str(key) for key in archive["keys"]]
        vectors = archive["vectors"].astype(np.float32)
    if name != embedder.name or vectors.shape != (len(keys), embedder.dimension):
        logger.info("shipped demo vectors are for %s; computing all vectors", name)
        return embedder
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return PrecomputedEmbedder(embedder, name, dict(zip(keys, vectors, strict=True)))


def _build(environment: DemoEnvironment, data: DemoData) -> None:
    partial_db = environment.folder / "base.sqlite.partial"
    partial_store = environment.folder / "base-rag.sqlite.partial"
    for path in (partial_db, partial_store):
        path.unlink(missing_ok=True)
    write_database(data, partial_db)
    with SQLiteRetrievalStore(partial_store, _build_embedder()) as store:
        ingestor = Ingestor(store, scan=True, published_values=published_values(data))
        for document in demo_documents(data):
            result = ingestor.ingest(document, trusted=True)  # written by the tenants' staff
            if result.quarantined:
                raise ConfigError(f"demo document {document.doc_id} was quarantined: {result.reasons_text()}")
    partial_db.replace(environment.base_database)
    partial_store.replace(environment.base_store)


def reset(environment: DemoEnvironment) -> None:
    """Discard the working copies; the next start copies the base files again."""
    for configuration in Configuration:
        for path in (environment.database_for(configuration), environment.store_for(configuration)):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)


def build_assistant(
    environment: DemoEnvironment,
    configuration: Configuration,
    model: LanguageModel,
    settings: AssistantSettings | None = None,
) -> tuple[Assistant, DemoDatabase]:
    """An assistant over the working copies of ``configuration`` (made from the base files if missing)."""
    database_path = environment.database_for(configuration)
    store_path = environment.store_for(configuration)
    for base, working in ((environment.base_database, database_path), (environment.base_store, store_path)):
        if not working.is_file():
            shutil.copyfile(base, working)
    database = DemoDatabase(database_path)
    store = SQLiteRetrievalStore(store_path, default_embedder())
    chosen = settings or AssistantSettings(configuration=configuration)
    if chosen.configuration is not configuration:
        raise ConfigError("the assistant settings name another configuration")
    return Assistant(chosen, database, store, model), database
