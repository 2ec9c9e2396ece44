"""Detection rules as data: YAML files with a SQL query over the stable views, and their own fixtures.

A rule file (``src/bastion/data/monitor/rules/*.yaml``)::

    id: monitor.injection.repeated          # stable, never reused
    title: Repeated prompt-injection attempts by one principal
    severity: high                           # info | low | medium | high | critical
    owasp: [LLM01]                           # OWASP Top 10 for LLM Applications 2025
    atlas: [AML.T0051]                       # MITRE ATLAS technique ids
    window: 10m                              # tumbling window the query buckets by
    lookback: 7d                             # optional: history before the window the query may read
    suppress: 1h                             # optional: new windows of an alerted group are suppressed
    group_by: [tenant, api_key_id]           # what group_key is made of (documentation and Sigma export)
    parameters: {threshold: 3}               # numbers the query uses as {threshold}
    query: |                                 # DuckDB SQL over the views; see below
      SELECT ...
    sigma: {...}                             # optional: how to express it as a Sigma rule
    match: [fixture, ...]                    # events that must raise the alert
    no_match: [fixture, ...]                 # events that must not

The query sees ``{start}``, ``{end}`` (the evaluated range, microseconds since the epoch, start aligned to
the window), ``{history_start}`` (``start`` minus ``lookback``), ``{window}`` and ``{half_window}``
(microseconds) and the parameters. It returns one row per alert with the columns ``group_key`` (text),
``window_start`` (microseconds), ``count``, ``first_ts``, ``last_ts`` and ``sample_event`` (an event id).
Only numbers are substituted, so a rule file cannot be turned into SQL injection by its parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bastion.core.errors import ConfigError
from bastion.core.events import Event, EventKind
from bastion.core.taxonomy import load_taxonomy
from bastion.core.types import Severity

__all__ = [
    "OUTPUT_COLUMNS",
    "Fixture",
    "FixtureEvent",
    "Rule",
    "RuleHit",
    "load_rules",
    "parse_duration",
]

#: the columns every rule query returns, in order
OUTPUT_COLUMNS = ("group_key", "window_start", "count", "first_ts", "last_ts", "sample_event")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_RULE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
#: base time of fixture events
FIXTURE_TIME = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"10m"``, ``"2h"``, ``"7d"`` as a :class:`timedelta`; raises :class:`ConfigError`."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ConfigError(f"invalid duration {text!r}: use a positive number with s, m, h or d")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


class FixtureEvent(BaseModel):
    """A compact event for fixtures: ``repeat`` copies, ``every`` seconds apart, from ``at`` seconds."""

    model_config = ConfigDict(extra="forbid")

    kind: EventKind = EventKind.CHAT
    tenant: str = "acme"
    at: float = 0.0
    repeat: int = Field(default=1, ge=1, le=1000)
    every: float = 60.0
    attributes: dict[str, Any] = Field(default_factory=dict)


class FixtureReference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approved_models: list[tuple[str, str]] = Field(default_factory=list)
    tool_scopes: list[tuple[str, str, str]] = Field(default_factory=list)


class Fixture(BaseModel):
    """Events and the groups they must (``match``) or must not (``no_match``) alert on."""

    model_config = ConfigDict(extra="forbid")

    name: str
    events: list[FixtureEvent]
    reference: FixtureReference = Field(default_factory=FixtureReference)
    groups: list[str] = Field(default_factory=list)

    def build(self) -> list[Event]:
        """The fixture's events, ids ``<name>-<n>``."""
        built: list[Event] = []
        for spec in self.events:
            for copy in range(spec.repeat):
                built.append(
                    Event(
                        id=f"{self.name}-{len(built) + 1}",
                        time=FIXTURE_TIME + timedelta(seconds=spec.at + copy * spec.every),
                        kind=spec.kind,
                        tenant=spec.tenant,
                        attributes=MappingProxyType(dict(spec.attributes)),
                    )
                )
        return built


class SigmaSpec(BaseModel):
    """What a Sigma export needs beyond the rule: the log source and a selection over fields."""

    model_config = ConfigDict(extra="forbid")

    selection: dict[str, Any]
    condition: str = "selection"
    count_by: str | None = None
    count_gte: int | None = None


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    description: str
    severity: Severity
    owasp: list[str] = Field(default_factory=list)
    atlas: list[str] = Field(default_factory=list)
    window: str
    lookback: str | None = None
    suppress: str | None = None
    group_by: list[str]
    parameters: dict[str, int | float] = Field(default_factory=dict)
    query: str
    sigma: SigmaSpec | Literal[False] = False
    match: list[Fixture] = Field(min_length=1)
    no_match: list[Fixture] = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError("rule ids are dotted lower-case names such as monitor.injection.repeated")
        return value


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One row a rule returned: an alert candidate."""

    rule: str
    group: str
    window_start: int
    count: int
    first_ts: int
    last_ts: int
    sample_event: str

    def key(self) -> tuple[str, str, int, int, int, int]:
        """What two engines must agree on."""
        return (self.rule, self.group, self.window_start, self.count, self.first_ts, self.last_ts)


@dataclass(frozen=True, slots=True)
class Rule:
    """A loaded rule (see the module docstring for the file format)."""

    id: str
    title: str
    description: str
    severity: Severity
    owasp: tuple[str, ...]
    atlas: tuple[str, ...]
    window: timedelta
    lookback: timedelta | None
    suppress: timedelta
    group_by: tuple[str, ...]
    parameters: Mapping[str, int | float]
    query: str
    sigma: SigmaSpec | None
    match: tuple[Fixture, ...]
    no_match: tuple[Fixture, ...]
    path: str

    @property
    def window_micros(self) -> int:
        return self.window // timedelta(microseconds=1)

    def range_start(self, earliest: int) -> int:
        """The start of the evaluated range for new events from ``earliest`` (microseconds): the window
        holding ``earliest`` and the whole window before it, so windows offset by half a window (hopping
        rules) that hold new events are evaluated with all their events."""
        return max(0, (earliest // self.window_micros - 1) * self.window_micros)

    def sql(self, start: int, end: int) -> str:
        """The query with its placeholders filled in (DuckDB dialect)."""
        history = 0 if self.lookback is None else start - self.lookback // timedelta(microseconds=1)
        values: dict[str, int | float] = {
            "start": int(start),
            "end": int(end),
            "history_start": max(0, int(history)),
            "window": self.window_micros,
            "half_window": self.window_micros // 2,
            **self.parameters,
        }

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise ConfigError(f"rule {self.id}: unknown placeholder {{{name}}}")
            return repr(values[name])

        return _PLACEHOLDER.sub(fill, self.query)

    def evaluate(self, connection: duckdb.DuckDBPyConnection, start: int, end: int) -> list[RuleHit]:
        """Run the rule on a DuckDB connection that has the views."""
        try:
            rows = connection.execute(self.sql(start, end)).fetchall()
        except duckdb.Error as error:
            raise ConfigError(f"rule {self.id} ({self.path}) failed: {error}") from error
        return hits_from_rows(self.id, rows)


def hits_from_rows(rule_id: str, rows: Sequence[Sequence[Any]]) -> list[RuleHit]:
    """Rule output rows as hits, sorted (engines return rows in any order)."""
    hits = [
        RuleHit(
            rule=rule_id,
            group=str(row[0]),
            window_start=int(row[1]),
            count=int(row[2]),
            first_ts=int(row[3]),
            last_ts=int(row[4]),
            sample_event=str(row[5]),
        )
        for row in rows
    ]
    return sorted(hits, key=RuleHit.key)


def _rule_from_file(data: Any, path: str) -> Rule:
    try:
        spec = RuleFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(f"{path}: invalid rule: {error}") from error
    try:
        load_taxonomy().validate(tuple(spec.owasp), tuple(spec.atlas))
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error
    window = parse_duration(spec.window)
    parameters = dict(spec.parameters)
    description = _PLACEHOLDER.sub(
        lambda m: str(parameters.get(m.group(1), m.group(0))), " ".join(spec.description.split())
    )
    return Rule(
        id=spec.id,
        title=spec.title,
        description=description,
        severity=spec.severity,
        owasp=tuple(spec.owasp),
        atlas=tuple(spec.atlas),
        window=window,
        lookback=parse_duration(spec.lookback) if spec.lookback else None,
        suppress=parse_duration(spec.suppress) if spec.suppress else window,
        group_by=tuple(spec.group_by),
        parameters=MappingProxyType(parameters),
        query=spec.query,
        sigma=spec.sigma or None,
        match=tuple(spec.match),
        no_match=tuple(spec.no_match),
        path=path,
    )


def _read_yaml(text: str, path: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error


@cache
def _builtin_rules() -> tuple[Rule, ...]:
    folder = resources.files("bastion.data.monitor").joinpath("rules")
    rules = [
        _rule_from_file(_read_yaml(entry.read_text(encoding="utf-8"), f"rules/{entry.name}"), entry.name)
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    ]
    return tuple(rules)


def load_rules(extra: Sequence[Path] = (), only: Sequence[str] = ()) -> tuple[Rule, ...]:
    """The shipped pack plus rule files or folders in ``extra``; ``only`` keeps those ids."""
    rules = list(_builtin_rules())
    for location in extra:
        paths = sorted(location.glob("*.yaml")) if location.is_dir() else [location]
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigError(f"cannot read rule file {path}: {error}") from error
            rules.append(_rule_from_file(_read_yaml(text, str(path)), str(path)))
    ids = [rule.id for rule in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"duplicate rule ids: {', '.join(duplicates)}")
    if only:
        unknown = sorted(set(only) - set(ids))
        if unknown:
            raise ConfigError(f"unknown rule ids: {', '.join(unknown)}")
        rules = [rule for rule in rules if rule.id in only]
    return tuple(rules)
