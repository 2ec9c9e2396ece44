"""Attack goals for the adaptive strategies, as data (``bastion/data/redteam/goals.yaml``, EN + DE).

A goal names what the attacker is after (``ask``), the judges that decide it, the words that keep a
candidate on topic, and a crescendo ladder (steps from harmless to the ask; each step a list of phrasings,
the first sent, the others used when the target refuses). The refine framings are wrappers with an
``{{ask}}`` slot. :func:`goal_attempts` turns goals into the attempts a strategy plays; the goal travels in
the probe's tags (``goal:<id>``), so a stored run resumes with the same goals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bastion.core.errors import ConfigError, UsageError
from bastion.core.taxonomy import load_taxonomy
from bastion.core.types import Severity
from bastion.redteam.types import Attempt, Probe

__all__ = ["Framing", "Goal", "GoalBook", "goal_attempts", "goal_of", "load_goals"]

Language = Literal["en", "de"]
LANGUAGES: tuple[Language, ...] = ("en", "de")


class _Texts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: str = Field(min_length=3)
    de: str = Field(min_length=3)


class _Words(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: tuple[str, ...] = Field(min_length=1)
    de: tuple[str, ...] = Field(min_length=1)


class _Ladder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    en: tuple[tuple[str, ...], ...] = Field(min_length=2, max_length=12)
    de: tuple[tuple[str, ...], ...] = Field(min_length=2, max_length=12)

    @model_validator(mode="after")
    def _steps_have_text(self) -> _Ladder:
        for steps in (self.en, self.de):
            if any(not step or any(not phrase.strip() for phrase in step) for step in steps):
                raise ValueError("every ladder step needs at least one phrasing with text")
        return self


class _GoalSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,60}$")
    category: str = Field(pattern=r"^LLM(0[1-9]|10)$")
    atlas: tuple[str, ...] = ()
    severity: Severity
    judges: tuple[str, ...] = Field(min_length=1)
    title: _Texts
    ask: _Texts
    topic: _Words
    ladder: _Ladder


class _FramingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,40}$")
    en: str
    de: str

    @model_validator(mode="after")
    def _has_slot(self) -> _FramingSpec:
        if "{{ask}}" not in self.en or "{{ask}}" not in self.de:
            raise ValueError(f"framing {self.id}: both languages need the {{{{ask}}}} slot")
        return self


class _GoalFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    goals: tuple[_GoalSpec, ...] = Field(min_length=1)
    framings: tuple[_FramingSpec, ...] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Goal:
    id: str
    category: str
    atlas: tuple[str, ...]
    severity: Severity
    judges: tuple[str, ...]
    title: Mapping[str, str]
    ask: Mapping[str, str]
    topic: Mapping[str, tuple[str, ...]]
    ladder: Mapping[str, tuple[tuple[str, ...], ...]]


@dataclass(frozen=True, slots=True)
class Framing:
    id: str
    text: Mapping[str, str]

    def wrap(self, ask: str, language: str) -> str:
        return self.text[language].replace("{{ask}}", ask)


@dataclass(frozen=True, slots=True)
class GoalBook:
    goals: tuple[Goal, ...]
    framings: tuple[Framing, ...]

    def goal(self, goal_id: str) -> Goal:
        for goal in self.goals:
            if goal.id == goal_id:
                return goal
        raise UsageError(f"unknown goal {goal_id!r}; known: {', '.join(g.id for g in self.goals)}")


def parse_goals(text: str, name: str = "goals.yaml") -> GoalBook:
    """The goals and framings of a goal file's ``text`` (errors name the file and the field)."""
    try:
        source = _GoalFile.model_validate(yaml.safe_load(text))
    except yaml.YAMLError as error:
        raise ConfigError(f"{name}: not YAML: {error}") from error
    except ValidationError as error:
        first = error.errors()[0]
        raise ConfigError(f"{name}: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from error
    ids = [goal.id for goal in source.goals]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{name}: goal ids must be unique")
    taxonomy = load_taxonomy()
    for spec in source.goals:
        try:
            taxonomy.validate(owasp=(spec.category,), atlas=spec.atlas)
        except ConfigError as error:
            raise ConfigError(f"{name}: goal {spec.id}: {error}") from error
    goals = tuple(
        Goal(
            id=spec.id,
            category=spec.category,
            atlas=spec.atlas,
            severity=spec.severity,
            judges=spec.judges,
            title={"en": spec.title.en, "de": spec.title.de},
            ask={"en": spec.ask.en, "de": spec.ask.de},
            topic={"en": spec.topic.en, "de": spec.topic.de},
            ladder={"en": spec.ladder.en, "de": spec.ladder.de},
        )
        for spec in source.goals
    )
    framings = tuple(Framing(f.id, {"en": f.en, "de": f.de}) for f in source.framings)
    return GoalBook(goals, framings)


@cache
def load_goals() -> GoalBook:
    """The packaged goals and framings (read and validated once per process)."""
    package, name = "bastion.data.redteam", "goals.yaml"
    try:
        text = resources.files(package).joinpath(name).read_text("utf-8")
    except OSError as error:
        raise ConfigError(f"{package}/{name}: {error}") from error
    return parse_goals(text, f"{package}/{name}")


def goal_of(probe: Probe) -> Goal | None:
    """The packaged goal a probe was made from (its ``goal:<id>`` tag), if any."""
    for tag in probe.tags:
        if tag.startswith("goal:"):
            return load_goals().goal(tag.removeprefix("goal:"))
    return None


def goal_probe(goal: Goal, strategy: str, language: str) -> Probe:
    """The probe a strategy plays for ``goal`` in ``language`` (turns: the ladder's first phrasings for
    crescendo, the ask for refine)."""
    turns = (
        tuple(step[0] for step in goal.ladder[language]) if strategy == "crescendo" else (goal.ask[language],)
    )
    return Probe(
        id=f"{strategy}.{goal.id}.{language}",
        category=goal.category,
        title=goal.title[language],
        severity=goal.severity,
        language=language,
        turns=turns,
        judges=goal.judges,
        atlas=goal.atlas,
        goal=goal.ask[language],
        tags=(strategy, f"goal:{goal.id}"),
    )


def goal_attempts(
    strategy: str,
    categories: Sequence[str] = (),
    languages: Iterable[str] = (),
    book: GoalBook | None = None,
) -> list[Attempt]:
    """One attempt per goal and language for ``strategy`` (``crescendo`` or ``refine``), filtered by OWASP
    category and language (all when a filter is empty); ids are stable across runs."""
    if strategy not in ("crescendo", "refine"):
        raise UsageError(f"goals are played by crescendo or refine, not {strategy!r}")
    wanted = {c.strip().upper() for c in categories if c.strip()}
    langs = [
        lang for lang in LANGUAGES if lang in {x.strip().lower() for x in languages if x.strip()}
    ] or list(LANGUAGES)
    attempts = []
    for goal in (book or load_goals()).goals:
        if wanted and goal.category not in wanted:
            continue
        for language in langs:
            probe = goal_probe(goal, strategy, language)
            digest = hashlib.sha256(f"{probe.id}|{strategy}".encode()).hexdigest()[:12]
            attempts.append(Attempt(f"{probe.id}#{digest}", probe, (), probe.turns, strategy))
    return attempts
