"""Secret rules and look-alike lists, loaded from YAML in :mod:`bastion.data.secrets`.

Each ``rules_*.yaml`` file holds a list of rules; ``suppressions.yaml`` holds the look-alike lists.
Files are validated with pydantic (unknown fields, bad ids and unknown validators are a
:class:`~bastion.core.errors.ConfigError` naming the file) and compiled once per process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bastion.core.errors import ConfigError
from bastion.detect.secrets.checks import VALIDATORS, LookAlikes, Validator, combine_patterns

__all__ = [
    "RuleExamples",
    "SecretRule",
    "SpanKind",
    "load_look_alikes",
    "load_rules",
    "parse_rules",
    "rule_files",
]

DATA_PACKAGE = "bastion.data.secrets"
LOOK_ALIKES_FILE = "suppressions.yaml"

#: ``match``: the span is the ``secret*`` group (or the whole match); ``pem_block``: the span runs from
#: the match's BEGIN line to the END line of the PEM block (or to the end of a truncated body)
SpanKind = Literal["match", "pem_block"]


class _ExamplesModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: tuple[str, ...] = Field(min_length=1)
    no_match: tuple[str, ...] = ()


class _RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    description: str = Field(min_length=3)
    regex: str
    keywords: tuple[str, ...] = ()
    validator: str | None = None
    entropy_min: float = Field(default=0.0, ge=0.0, le=8.0)
    confidence: float = Field(ge=0.0, le=1.0)
    priority: int = Field(default=10, ge=0, le=100)
    span: SpanKind = "match"
    trim: str = ""
    examples: _ExamplesModel

    @field_validator("keywords")
    @classmethod
    def _lower_case_keywords(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        for keyword in keywords:
            if not keyword or keyword != keyword.lower():
                raise ValueError(f"keyword {keyword!r} must be non-empty lower case")
        return keywords

    @field_validator("validator")
    @classmethod
    def _known_validator(cls, name: str | None) -> str | None:
        if name is not None and name not in VALIDATORS:
            raise ValueError(f"unknown validator {name!r} (known: {', '.join(sorted(VALIDATORS))})")
        return name


class _RuleFileModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[_RuleModel, ...]


class _LookAlikesModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    documentation_examples: tuple[str, ...]
    placeholder_markers: tuple[str, ...]
    placeholder_values: tuple[str, ...]
    placeholder_patterns: tuple[str, ...]
    secret_name_words: tuple[str, ...]
    password_name_words: tuple[str, ...]
    key_words: tuple[str, ...]
    key_qualifiers: tuple[str, ...]
    deny_name_words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleExamples:
    """Texts the rule must find (``match``) and must not find (``no_match``); the tests collect them."""

    match: tuple[str, ...]
    no_match: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One compiled rule. ``secret_groups`` are the pattern's groups named ``secret*``, in order."""

    id: str
    type: str
    description: str
    pattern: re.Pattern[str]
    keywords: tuple[str, ...]
    validator_name: str | None
    validator: Validator | None
    entropy_min: float
    confidence: float
    priority: int
    span: SpanKind
    trim: str
    secret_groups: tuple[str, ...]
    source: str
    examples: RuleExamples


def _read_yaml(name: str) -> Any:
    try:
        text = resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{DATA_PACKAGE}/{name}: cannot read: {type(error).__name__}") from error


def _compile(model: _RuleModel, source: str) -> SecretRule:
    try:
        pattern = re.compile(model.regex)
    except re.error as error:
        raise ConfigError(f"{source}: rule {model.id}: invalid regex: {error}") from error
    groups = sorted((index, name) for name, index in pattern.groupindex.items() if name.startswith("secret"))
    return SecretRule(
        id=model.id,
        type=model.type,
        description=model.description,
        pattern=pattern,
        keywords=model.keywords,
        validator_name=model.validator,
        validator=VALIDATORS[model.validator] if model.validator else None,
        entropy_min=model.entropy_min,
        confidence=model.confidence,
        priority=model.priority,
        span=model.span,
        trim=model.trim,
        secret_groups=tuple(name for _index, name in groups),
        source=source,
        examples=RuleExamples(match=model.examples.match, no_match=model.examples.no_match),
    )


def rule_files() -> list[str]:
    """Names of the rule files in the data package, sorted."""
    folder = resources.files(DATA_PACKAGE)
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name.startswith("rules_") and entry.name.endswith(".yaml")
    )


def parse_rules(raw: Any, source: str) -> list[SecretRule]:
    """Validate and compile the rules of one parsed YAML document; errors name ``source``."""
    try:
        parsed = _RuleFileModel.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {error}") from error
    return [_compile(model, source) for model in parsed.rules]


@cache
def load_rules() -> tuple[SecretRule, ...]:
    """All rules from the ``rules_*.yaml`` files, compiled; rule ids are unique."""
    rules: list[SecretRule] = []
    seen: set[str] = set()
    for name in rule_files():
        source = f"{DATA_PACKAGE}/{name}"
        for rule in parse_rules(_read_yaml(name), source):
            if rule.id in seen:
                raise ConfigError(f"{source}: rule id {rule.id!r} is defined twice")
            seen.add(rule.id)
            rules.append(rule)
    if not rules:
        raise ConfigError(f"{DATA_PACKAGE}: no secret rules found")
    return tuple(rules)


@cache
def load_look_alikes() -> LookAlikes:
    """The look-alike lists from ``suppressions.yaml``."""
    source = f"{DATA_PACKAGE}/{LOOK_ALIKES_FILE}"
    try:
        model = _LookAlikesModel.model_validate(_read_yaml(LOOK_ALIKES_FILE))
        placeholder_pattern = combine_patterns(model.placeholder_patterns)
    except ValidationError as error:
        raise ConfigError(f"{source}: {error}") from error
    except re.error as error:
        raise ConfigError(f"{source}: invalid placeholder pattern: {error}") from error

    def folded(words: tuple[str, ...]) -> frozenset[str]:
        return frozenset(word.casefold() for word in words)

    return LookAlikes(
        documentation_examples=frozenset(model.documentation_examples),
        placeholder_markers=tuple(marker.casefold() for marker in model.placeholder_markers),
        placeholder_values=folded(model.placeholder_values),
        placeholder_pattern=placeholder_pattern,
        secret_name_words=folded(model.secret_name_words),
        password_name_words=folded(model.password_name_words),
        key_words=folded(model.key_words),
        key_qualifiers=folded(model.key_qualifiers),
        deny_name_words=folded(model.deny_name_words),
    )
