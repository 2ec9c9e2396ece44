"""Dependencies point inward: core imports nothing of ours, detect imports only core."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "bastion"
#: package -> the packages of ours it may import
ALLOWED = {
    "core": {"core"},
    "detect": {"core", "detect"},
    "pseudonymize": {"core", "detect", "pseudonymize"},
    "evaluation": {"core", "detect", "evaluation", "pseudonymize", "rag", "demo"},
    "rag": {"core", "detect", "rag"},
    "demo": {"core", "detect", "rag", "demo", "web"},
    "web": {"web"},
    "supplychain": {"core", "supplychain"},
    "govern": {"core", "govern"},
    "monitor": {"core", "detect", "monitor", "pseudonymize"},
    "privacy": {"core", "detect", "pseudonymize", "demo", "privacy"},
    "showcase": {"core", "detect", "guard", "gateway", "redteam", "demo", "web", "showcase"},
    "guard": {"core", "detect", "pseudonymize", "guard"},
    "gateway": {"core", "detect", "pseudonymize", "guard", "gateway", "web", "demo"},
    "redteam": {"core", "detect", "redteam", "demo", "rag"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bastion."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("bastion."))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_inner_layers(package: str) -> None:
    folder = SRC / package
    if not folder.is_dir():
        pytest.skip(f"{package} does not exist yet")
    for path in folder.rglob("*.py"):
        outside = _imports(path) - ALLOWED[package] - {"data"}
        assert not outside, f"{path.relative_to(SRC)} imports {sorted(outside)}"
