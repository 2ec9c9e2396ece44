"""Precompute the MiniLM vectors of the demo's default documents, shipped so a first start need not embed.

Run from the repository root after changing the demo's documents, templates, generator or chunking::

    .venv/bin/python scripts/build_demo_embeddings.py

Writes ``src/bastion/data/demo/embeddings.npz``: the embedder's name, the SHA-256 of every chunk text as the
store embeds it, and the vectors as float16 (re-normalised when loaded). ``tests/demo/test_environment.py``
fails when the file no longer covers the default documents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bastion.demo.data import demo_documents, generate
from bastion.demo.environment import DEFAULT_DEBTORS, demo_chunk_texts
from bastion.rag.embeddings import default_embedder, text_key

TARGET = Path(__file__).resolve().parents[1] / "src" / "bastion" / "data" / "demo" / "embeddings.npz"


def main() -> None:
    texts = demo_chunk_texts(demo_documents(generate(debtors_per_tenant=DEFAULT_DEBTORS)))
    embedder = default_embedder()
    vectors = embedder.embed(texts)
    np.savez_compressed(
        TARGET,
        name=np.array(embedder.name),
        keys=np.array([text_key(text) for text in texts]),
        vectors=vectors.astype(np.float16),
    )
    print(f"{len(texts)} vectors of {embedder.name} -> {TARGET} ({TARGET.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
