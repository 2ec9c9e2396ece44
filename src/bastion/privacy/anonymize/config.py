"""The anonymisation config: YAML validated with pydantic, with errors that name the field.

Example (``docs/privacy.md`` explains every field)::

    key_env: BASTION_ANONYMIZE_KEY        # HMAC key for hash and shift_dates
    columns:
      full_name: {action: drop}
      email: {action: hash}
      notes: {action: pii}                # PII detector, values replaced by [EMAIL]-style labels
      opened_on: {action: shift_dates, by: debtor_id, max_days: 30}
      phone: {action: suppress}
      income: {action: generalize, hierarchy: {type: interval, widths: [1000, 5000]}, level: 1}
    quasi_identifiers:
      age: {hierarchy: {type: interval, widths: [5, 10, 20]}}
      postcode: {hierarchy: {type: prefix, keep: [4, 3, 2, 1]}}
    k: 5
    l: 2
    sensitive: [diagnosis]
    max_suppression: 0.02
    retention: {dataset: "delete after 6 years (P6Y)", columns: {opened_on: "P10Y"}}
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bastion.core.errors import ConfigError

__all__ = [
    "Action",
    "AnonymizationConfig",
    "ColumnRule",
    "DateHierarchy",
    "Hierarchy",
    "IntervalHierarchy",
    "MapHierarchy",
    "PrefixHierarchy",
    "QuasiIdentifier",
    "SuppressHierarchy",
    "load_config",
    "parse_config",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IntervalHierarchy(_Strict):
    """Numbers into intervals of growing width (``[30-35)``), then ``*``."""

    type: Literal["interval"]
    widths: list[Annotated[float, Field(gt=0)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _nested(self) -> IntervalHierarchy:
        for finer, coarser in zip(self.widths, self.widths[1:], strict=False):
            ratio = coarser / finer
            if ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError("each interval width must be a whole multiple of the one before (nested)")
        return self


class PrefixHierarchy(_Strict):
    """Strings cut to a prefix, the rest masked (``101**``), then ``*``."""

    type: Literal["prefix"]
    keep: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _shrinking(self) -> PrefixHierarchy:
        if any(b > a for a, b in zip(self.keep, self.keep[1:], strict=False)):
            raise ValueError("prefix lengths must not grow from level to level")
        return self


class DateHierarchy(_Strict):
    """ISO dates to month (``2026-03``), year, decade (``2020s``), then ``*``."""

    type: Literal["date"]
    levels: list[Literal["month", "year", "decade"]] = Field(
        default=["month", "year", "decade"], min_length=1
    )


class MapHierarchy(_Strict):
    """Categories to groups: ``levels[i]`` maps each raw value to its group at level ``i + 1``."""

    type: Literal["map"]
    levels: list[dict[str, str]] = Field(min_length=1)

    @model_validator(mode="after")
    def _nested(self) -> MapHierarchy:
        for index in range(1, len(self.levels)):
            finer, coarser = self.levels[index - 1], self.levels[index]
            groups: dict[str, str] = {}
            for value, group in finer.items():
                parent = coarser.get(value, "*")
                if groups.setdefault(group, parent) != parent:
                    raise ValueError(
                        f"map level {index + 1} splits the group {group!r} of level {index} (not nested)"
                    )
        return self


class SuppressHierarchy(_Strict):
    """The value or ``*``."""

    type: Literal["suppress"]


Hierarchy = Annotated[
    IntervalHierarchy | PrefixHierarchy | DateHierarchy | MapHierarchy | SuppressHierarchy,
    Field(discriminator="type"),
]


class Action(StrEnum):
    KEEP = "keep"
    DROP = "drop"
    HASH = "hash"
    GENERALIZE = "generalize"
    SUPPRESS = "suppress"
    SHIFT_DATES = "shift_dates"
    PII = "pii"


class ColumnRule(_Strict):
    action: Action
    #: hash: hex characters kept of the HMAC-SHA256 (16 = 64 bits)
    length: int = Field(default=16, ge=8, le=64)
    #: generalize: the hierarchy and the level applied
    hierarchy: Hierarchy | None = None
    level: int = Field(default=1, ge=1)
    #: shift_dates: the column whose value picks the shift (all dates of one person move together)
    by: str | None = None
    max_days: int = Field(default=30, ge=1, le=3650)
    #: pii: the entity types replaced (default: every type the detector reports)
    types: list[str] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ColumnRule:
        if self.action is Action.GENERALIZE and self.hierarchy is None:
            raise ValueError("generalize needs a hierarchy")
        if self.action is Action.SHIFT_DATES and not self.by:
            raise ValueError("shift_dates needs 'by': the column that identifies the person")
        return self


class QuasiIdentifier(_Strict):
    hierarchy: Hierarchy
    #: the finest level considered (raise it to bound memory on columns with very many distinct values)
    min_level: int = Field(default=0, ge=0)


class Retention(_Strict):
    dataset: str = ""
    columns: dict[str, str] = Field(default_factory=dict)


class AnonymizationConfig(_Strict):
    key_env: str = "BASTION_ANONYMIZE_KEY"
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    #: what happens to columns the config does not name
    default_action: Literal["keep", "drop"] = "keep"
    quasi_identifiers: dict[str, QuasiIdentifier] = Field(default_factory=dict)
    k: int = Field(default=1, ge=1)
    l: int = Field(default=1, ge=1)  # noqa: E741 - the l of l-diversity
    sensitive: list[str] = Field(default_factory=list)
    max_suppression: float = Field(default=0.0, ge=0.0, le=1.0)
    retention: Retention = Field(default_factory=Retention)
    chunk_rows: int = Field(default=65_536, ge=1, le=10_000_000)
    csv_block_bytes: int = Field(default=8 << 20, ge=1 << 10, le=1 << 30)
    #: distinct quasi-identifier combinations held in memory at most
    max_combinations: int = Field(default=2_000_000, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> AnonymizationConfig:
        both = set(self.columns) & set(self.quasi_identifiers)
        if both:
            raise ValueError(f"columns both ruled and quasi-identifying: {sorted(both)}")
        for name in self.sensitive:
            if name in self.quasi_identifiers:
                raise ValueError(f"sensitive column {name!r} cannot be a quasi-identifier")
            rule = self.columns.get(name)
            if rule is not None and rule.action is Action.DROP:
                raise ValueError(f"sensitive column {name!r} is dropped")
        if self.l > 1 and not self.sensitive:
            raise ValueError("l-diversity (l > 1) needs at least one sensitive column")
        if self.k > 1 and not self.quasi_identifiers:
            raise ValueError("k-anonymity (k > 1) needs quasi_identifiers")
        # shift_dates reads the original value of ``by``, so ``by`` may itself be hashed or dropped
        for name, rule in self.columns.items():
            if rule.action is Action.SHIFT_DATES and rule.by == name:
                raise ValueError(f"{name}: shift_dates cannot be keyed by the date itself")
        return self

    def needs_key(self) -> bool:
        return any(rule.action in (Action.HASH, Action.SHIFT_DATES) for rule in self.columns.values())


def parse_config(raw: Any, name: str = "config") -> AnonymizationConfig:
    """Validate ``raw`` (parsed YAML); :class:`ConfigError` lists every problem with its field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: the anonymisation config must be a mapping")
    try:
        return AnonymizationConfig.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top)'}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"{name}: {problems}") from None


def load_config(path: Path) -> AnonymizationConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path.name}: cannot read the config ({type(error).__name__})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{path.name}: not valid YAML") from error
    return parse_config(raw, path.name)
