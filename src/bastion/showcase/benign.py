"""Benign customer messages shipped with Bastion (``bastion/data/showcase``): German ones written for the
project, English ones sampled from Banking77 (CC BY 4.0) plus our own. See the folder's README."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

__all__ = ["BenignMessage", "load_benign"]

_PACKAGE = "bastion.data.showcase"
_FILES = {"de": "benign_de.jsonl", "en": "benign_en.jsonl"}


@dataclass(frozen=True, slots=True)
class BenignMessage:
    id: str
    language: str
    text: str
    kind: str = "benign"


def load_benign() -> list[BenignMessage]:
    """Every shipped benign message, German first; an absent file contributes nothing."""
    messages: list[BenignMessage] = []
    try:
        folder = resources.files(_PACKAGE)
    except ModuleNotFoundError:
        return messages
    for language, name in _FILES.items():
        resource = folder.joinpath(name)
        if not resource.is_file():
            continue
        for line in resource.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                messages.append(
                    BenignMessage(str(row["id"]), language, str(row["text"]), str(row.get("kind", "benign")))
                )
    return messages
