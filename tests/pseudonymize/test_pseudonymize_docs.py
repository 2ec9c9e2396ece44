"""Every example in the pseudonymize docstrings and in docs/pseudonymize.md runs."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

MODULES = [
    "bastion.pseudonymize",
    "bastion.pseudonymize._keys",
    "bastion.pseudonymize._pseudonymizer",
    "bastion.pseudonymize._selection",
    "bastion.pseudonymize._store",
    "bastion.pseudonymize._tokens",
    "bastion.pseudonymize._vault",
]
GUIDE = Path(__file__).resolve().parents[2] / "docs" / "pseudonymize.md"


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_guide_examples() -> None:
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
