"""Guard policies: the detectors at each stage, with thresholds and actions, per tenant and application.

A policy file has ``defaults`` and optional ``tenants``; each tenant may override any key and carry
``applications`` that override again. :meth:`PolicyDocument.rules` merges the three levels key by key into
one validated :class:`RuleSet`. Files are read with :func:`load_policy`, whose errors name file, line and
field. ``docs/guard.md`` shows a complete example; :data:`DEFAULT_POLICY` is what the gateway uses when no
file is given.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bastion.core.errors import ConfigError
from bastion.core.types import Action, Policy
from bastion.core.yamlfile import load_model, parse_model
from bastion.detect.registry import detectors

__all__ = [
    "DEFAULT_POLICY",
    "ArgumentRule",
    "DetectorRule",
    "FailMode",
    "PolicyDocument",
    "RuleSet",
    "Stage",
    "ToolRule",
    "ToolsRule",
    "load_policy",
]

_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_MAX_PATTERN = 500


class Stage(StrEnum):
    """Where in a call the guard looks."""

    INPUT = "input"  # user (and developer) messages
    TOOL_OUTPUT = "tool_output"  # tool results and retrieved documents fed back to the model
    OUTPUT = "output"  # the model's answer
    TOOL_CALL = "tool_call"  # a tool call the model wants to make
    DOCUMENT = "document"  # a document before it is stored for retrieval


class FailMode(StrEnum):
    """What happens when a detector fails: ``closed`` blocks, ``open`` flags and lets the call through."""

    CLOSED = "closed"
    OPEN = "open"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorRule(_Strict):
    """One detector at one stage. ``threshold`` is an operating point or a score in [0, 1];
    ``types`` overrides the action for detection types (shell-style patterns such as ``SECRET:*``)."""

    action: Action = Action.BLOCK
    threshold: Policy | Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    types: dict[str, Action] = Field(default_factory=dict)

    def action_for(self, detection_type: str) -> Action:
        """The action for a flagged detection of ``detection_type`` (the most specific pattern wins)."""
        if detection_type in self.types:
            return self.types[detection_type]
        matches = [p for p in self.types if fnmatch.fnmatchcase(detection_type, p)]
        if matches:
            return self.types[max(matches, key=len)]
        return self.action


class ArgumentRule(_Strict):
    """Constraints on one tool argument; every constraint given must hold."""

    required: bool = False
    pattern: str | None = Field(default=None, max_length=_MAX_PATTERN)
    enum: list[str | int | float | bool] | None = None
    max_length: int | None = Field(default=None, ge=0)
    minimum: float | None = None
    maximum: float | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"invalid regular expression: {error}") from None
        return value

    @cached_property
    def compiled(self) -> re.Pattern[str] | None:
        return None if self.pattern is None else re.compile(self.pattern)


class ToolRule(_Strict):
    """A tool the model may call, and the constraints on its arguments."""

    name: str = Field(min_length=1, max_length=128)
    arguments: dict[str, ArgumentRule] = Field(default_factory=dict)
    allow_other_arguments: bool = False


class ToolsRule(_Strict):
    """Tool calls: tools not in ``allow`` get ``default``. Without ``default``, an allowlist is exhaustive
    (tools not on it are denied) and no allowlist lets every tool through."""

    default: Literal["allow", "deny"] | None = None
    allow: list[ToolRule] = Field(default_factory=list)

    @property
    def effective_default(self) -> Literal["allow", "deny"]:
        if self.default is not None:
            return self.default
        return "deny" if self.allow else "allow"

    def rule(self, name: str) -> ToolRule | None:
        return next((rule for rule in self.allow if rule.name == name), None)


class LinksRule(_Strict):
    allowed_domains: list[str] = Field(default_factory=list)


def _default_input() -> dict[str, DetectorRule]:
    return {
        "injection": DetectorRule(action=Action.BLOCK),
        "secrets": DetectorRule(action=Action.REDACT),
        "pii": DetectorRule(action=Action.REDACT),
    }


def _default_output() -> dict[str, DetectorRule]:
    return {
        "leakage": DetectorRule(
            action=Action.BLOCK,
            types={"EXTERNAL_LINK": Action.REDACT, "PII:*": Action.REDACT},
        )
    }


class RuleSet(_Strict):
    """The effective rules for one tenant and application."""

    level: Policy = Policy.BALANCED
    fail_mode: FailMode = FailMode.CLOSED
    pseudonymize: bool = True
    protect_system_messages: bool = True
    input: dict[str, DetectorRule] = Field(default_factory=_default_input)
    tool_output: dict[str, DetectorRule] = Field(
        default_factory=lambda: {"indirect": DetectorRule(action=Action.BLOCK)}
    )
    output: dict[str, DetectorRule] = Field(default_factory=_default_output)
    document: dict[str, DetectorRule] = Field(
        default_factory=lambda: {"indirect": DetectorRule(action=Action.BLOCK)}
    )
    links: LinksRule = Field(default_factory=LinksRule)
    canaries: list[Annotated[str, Field(min_length=8, max_length=200)]] = Field(default_factory=list)
    protected_prompt: str | None = Field(default=None, max_length=100_000)
    tools: ToolsRule = Field(default_factory=ToolsRule)

    @model_validator(mode="after")
    def _known_detectors(self) -> RuleSet:
        known = set(detectors.ids())
        for stage in ("input", "tool_output", "output", "document"):
            for detector_id in getattr(self, stage):
                if detector_id not in known:
                    raise ValueError(f"{stage}: unknown detector {detector_id!r} (known: {sorted(known)})")
        return self

    def stage(self, stage: Stage) -> Mapping[str, DetectorRule]:
        """The detector rules of a scanning stage (``TOOL_CALL`` has none: see :attr:`tools`)."""
        if stage is Stage.TOOL_CALL:
            return {}
        rules: Mapping[str, DetectorRule] = getattr(self, stage.value)
        return rules


class _Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overrides: RuleSet = Field(default_factory=RuleSet)
    applications: dict[str, RuleSet] = Field(default_factory=dict)


class PolicyDocument(BaseModel):
    """A whole policy file. ``defaults``, every tenant's ``overrides`` and every application are
    :class:`RuleSet` s; only the keys written in a file override the level above."""

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    defaults: RuleSet = Field(default_factory=RuleSet)
    tenants: dict[str, _Tenant] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _defaults_over_built_in(cls, data: Any) -> Any:
        """The file's ``defaults`` overlay the built-in rules key by key, like every level below them."""
        if isinstance(data, Mapping) and isinstance(data.get("defaults"), Mapping):
            return {**data, "defaults": _merge(_BUILT_IN, data["defaults"])}
        return data

    @model_validator(mode="after")
    def _tenant_ids(self) -> PolicyDocument:
        for name in self.tenants:
            if not _TENANT.fullmatch(name):
                raise ValueError(f"tenant id {name!r} must be 1-64 letters, digits, '.', '_' or '-'")
        return self

    def rules(self, tenant: str, application: str | None = None) -> RuleSet:
        """The merged rules for ``tenant`` (unknown tenants get the defaults) and ``application``."""
        entry = self.tenants.get(tenant)
        if entry is None:
            return self.defaults
        merged = _merge(self.defaults.model_dump(mode="python"), _written(entry.overrides))
        if application is not None and application in entry.applications:
            merged = _merge(merged, _written(entry.applications[application]))
        try:
            return RuleSet.model_validate(merged)
        except ValidationError as error:  # only combinations of valid levels can get here
            first = error.errors()[0]
            field = ".".join(str(part) for part in first.get("loc", ()))
            where = f"tenants.{tenant}" + (f".applications.{application}" if application else "")
            raise ConfigError(f"{where}: {field}: {first.get('msg', 'invalid')}") from None


def _written(rules: RuleSet) -> dict[str, Any]:
    """The keys a file actually set at this level (nested), so unset keys inherit."""
    return rules.model_dump(mode="python", exclude_unset=True)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``, recursing into mappings (lists are replaced, not joined; ``null``
    removes a key, e.g. ``input: {injection: null}`` turns a detector off)."""
    result = dict(base)
    for key, value in override.items():
        if value is None and isinstance(base.get(key), Mapping):
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            result[key] = _merge(current, value)
        else:
            result[key] = value
    return result


_BUILT_IN: dict[str, Any] = RuleSet().model_dump(mode="json")

#: The policy the gateway applies when no file is given.
DEFAULT_POLICY = PolicyDocument()


def load_policy(path: str | Path) -> PolicyDocument:
    """Read a policy file. Raises :class:`ConfigError` naming file, line and field."""
    return load_model(path, PolicyDocument)


def parse_policy(text: str, source: str = "<policy>") -> PolicyDocument:
    """Parse policy YAML from a string (tests, the API)."""
    document = parse_model(text, PolicyDocument, source=source)
    if not isinstance(document, PolicyDocument):  # pragma: no cover - parse_model returns the model
        raise ConfigError(f"{source}: not a policy")
    return document
