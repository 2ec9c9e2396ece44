"""Taxonomy ids: OWASP Top 10 for LLM Applications 2025 and MITRE ATLAS, loaded from package data.

>>> taxonomy = load_taxonomy()
>>> taxonomy.owasp("LLM01").title
'Prompt Injection'
>>> taxonomy.atlas("AML.T0051").name
'LLM Prompt Injection'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bastion.core.errors import ConfigError

__all__ = ["AtlasTechnique", "OwaspItem", "Taxonomy", "load_taxonomy"]


@dataclass(frozen=True, slots=True)
class OwaspItem:
    id: str
    title: str
    summary: str
    atlas: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AtlasTechnique:
    id: str
    name: str
    tactics: tuple[str, ...]
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Taxonomy:
    owasp_items: dict[str, OwaspItem]
    atlas_techniques: dict[str, AtlasTechnique]
    atlas_tactics: dict[str, str]
    atlas_version: str

    def owasp(self, item_id: str) -> OwaspItem:
        try:
            return self.owasp_items[item_id]
        except KeyError:
            raise ConfigError(f"unknown OWASP LLM id {item_id!r}") from None

    def atlas(self, technique_id: str) -> AtlasTechnique:
        try:
            return self.atlas_techniques[technique_id]
        except KeyError:
            raise ConfigError(f"unknown MITRE ATLAS technique {technique_id!r}") from None

    def validate(self, owasp: tuple[str, ...] = (), atlas: tuple[str, ...] = ()) -> None:
        """Raise :class:`ConfigError` if any id is unknown."""
        for item_id in owasp:
            self.owasp(item_id)
        for technique_id in atlas:
            self.atlas(technique_id)


def _read(name: str) -> Any:
    text = resources.files("bastion.data.taxonomy").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def load_taxonomy() -> Taxonomy:
    """The shipped taxonomy (read once per process)."""
    owasp = _read("owasp_llm_2025.yaml")
    atlas = _read("mitre_atlas.yaml")
    return Taxonomy(
        owasp_items={
            i["id"]: OwaspItem(i["id"], i["title"], i["summary"], tuple(i["atlas"])) for i in owasp["items"]
        },
        atlas_techniques={
            t["id"]: AtlasTechnique(t["id"], t["name"], tuple(t["tactics"]), t.get("parent"))
            for t in atlas["techniques"]
        },
        atlas_tactics={t["id"]: t["name"] for t in atlas["tactics"]},
        atlas_version=str(atlas["version"]),
    )
