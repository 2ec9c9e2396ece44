"""Fixtures: the labelled corpus built by ``scripts/build_supplychain_corpus.py`` (without the 253 MB demo
GGUF, which ``test_real_models.py`` scans in place), and that script as a module."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_corpus_builder() -> ModuleType:
    """``scripts/build_supplychain_corpus.py`` imported as a module (it is a script, not a package)."""
    name = "bastion_supplychain_corpus"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "build_supplychain_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def builder() -> ModuleType:
    return load_corpus_builder()


@pytest.fixture(scope="session")
def corpus(
    tmp_path_factory: pytest.TempPathFactory, builder: ModuleType
) -> tuple[Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("supplychain-corpus")
    builder.build(root, include_gguf=False, include_large=False)
    return root, json.loads((root / "manifest.json").read_text("utf-8"))
