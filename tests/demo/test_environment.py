"""The demo's files: built once, working copies per configuration, shipped vectors that stay current."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

from bastion.core.errors import ConfigError
from bastion.demo.assistant import Configuration
from bastion.demo.data import DemoData, demo_documents, generate
from bastion.demo.environment import (
    DEFAULT_DEBTORS,
    DemoEnvironment,
    build_assistant,
    demo_chunk_texts,
    prepare,
    reset,
)
from bastion.rag.embeddings import PrecomputedEmbedder, default_embedder, text_key
from tests.demo.conftest import ScriptedModel


def _shipped() -> tuple[str, list[str], np.ndarray]:
    shipped = resources.files("bastion.data.demo").joinpath("embeddings.npz")
    with shipped.open("rb") as handle, np.load(handle, allow_pickle=False) as archive:
        return (
            str(archive["name"]),
            [str(k) for k in archive["keys"]],
            archive["vectors"].astype(np.float32),
        )


def test_shipped_vectors_cover_the_default_documents() -> None:
    """Fails when documents, templates, generator or chunking change: run scripts/build_demo_embeddings.py."""
    name, keys, vectors = _shipped()
    assert name == default_embedder().name
    texts = demo_chunk_texts(demo_documents(generate(debtors_per_tenant=DEFAULT_DEBTORS)))
    assert {text_key(text) for text in texts} <= set(keys)
    assert vectors.shape == (len(keys), default_embedder().dimension)


def test_shipped_vectors_are_the_models_own() -> None:
    _, keys, vectors = _shipped()
    texts = demo_chunk_texts(demo_documents(generate(debtors_per_tenant=DEFAULT_DEBTORS)))[::97]
    fresh = default_embedder().embed(texts)
    by_key = dict(zip(keys, vectors, strict=True))
    shipped = np.stack([by_key[text_key(text)] for text in texts])
    shipped /= np.linalg.norm(shipped, axis=1, keepdims=True)
    assert (fresh * shipped).sum(axis=1).min() > 0.999


def test_precomputed_embedder_fills_gaps_and_refuses_another_model() -> None:
    embedder = default_embedder()
    known = embedder.embed(["Wie kann ich zahlen?"])[0]
    precomputed = PrecomputedEmbedder(embedder, embedder.name, {text_key("Wie kann ich zahlen?"): known})
    vectors = precomputed.embed(["Wie kann ich zahlen?", "How can I pay?"])
    assert precomputed.hits == 1
    assert np.allclose(vectors[0], known)
    assert np.allclose(vectors[1], embedder.embed(["How can I pay?"])[0], atol=1e-5)
    with pytest.raises(ConfigError):
        PrecomputedEmbedder(embedder, "another-model", {})


def test_working_copies_are_per_configuration_and_reset(
    environment: DemoEnvironment, demo_data: DemoData
) -> None:
    naive, naive_db = build_assistant(environment, Configuration.NAIVE, ScriptedModel("ok"))
    hardened, hardened_db = build_assistant(environment, Configuration.HARDENED, ScriptedModel("ok"))
    case = next(c for c in demo_data.cases if c.status.value != "closed")
    naive_db.close_case(case.case_id, "test", "tester")
    after = hardened_db.case(case.case_id)
    assert after is not None and after.status.value != "closed"  # the naive copy's damage stays there
    for assistant in (naive, hardened):
        assistant.store.close()
        assistant.database.close()
    reset(environment)
    for configuration in Configuration:
        assert not environment.database_for(configuration).exists()
        assert not environment.store_for(configuration).exists()
    assert environment.built


def test_prepare_builds_once(base_environment: DemoEnvironment) -> None:
    home = base_environment.folder.parents[1]
    before = base_environment.base_store.stat().st_mtime_ns
    again = prepare(home, base_environment.seed, base_environment.debtors_per_tenant)
    assert again == base_environment
    assert again.base_store.stat().st_mtime_ns == before
