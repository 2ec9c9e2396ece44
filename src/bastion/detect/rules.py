"""Signature rules as data: compiled regular expressions over normalised text, with their examples.

Used by the injection and indirect-injection detectors. A rule file is YAML with a ``rules`` list; each
rule has ``id``, ``technique``, ``languages``, ``score``, ``pattern`` and ``examples: {match, no_match}``.
Files are validated with pydantic; a bad file raises :class:`ConfigError` naming the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bastion.core.errors import ConfigError
from bastion.core.types import Span

__all__ = ["RuleMatch", "SignatureRule", "load_rules", "match_rules"]


class RuleExamples(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()


class SignatureRule(BaseModel):
    """One rule; ``pattern`` is applied to normalised text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str
    technique: str
    languages: tuple[str, ...]
    score: float = Field(ge=0.0, le=1.0)
    pattern: str
    examples: RuleExamples = RuleExamples()

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as error:
            raise ValueError(f"invalid regular expression: {error}") from error
        return value

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compile(self.pattern)


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: tuple[SignatureRule, ...]


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that fired, with the span of the match in the text it ran on."""

    rule: SignatureRule
    span: Span


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@cache
def load_rules(package: str, name: str) -> tuple[SignatureRule, ...]:
    """Rules from a YAML file shipped in ``package`` (read and validated once per process)."""
    text = resources.files(package).joinpath(name).read_text(encoding="utf-8")
    try:
        parsed = _RuleFile.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as error:
        raise ConfigError(f"{package}/{name}: {error}") from error
    ids = [rule.id for rule in parsed.rules]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{package}/{name}: duplicate rule ids")
    return parsed.rules


def match_rules(rules: tuple[SignatureRule, ...], text: str) -> list[RuleMatch]:
    """The first match of every rule that fires on ``text``."""
    matches = []
    for rule in rules:
        found = rule.compiled.search(text)
        if found is not None:
            matches.append(RuleMatch(rule, Span(found.start(), found.end())))
    return matches
