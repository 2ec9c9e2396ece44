"""Generalisation hierarchies and the per-column rules, applied to lists of values.

Level 0 of a hierarchy is the value itself (as text); each higher level is coarser; the top level,
:meth:`Generalizer.height`, is ``*`` for every value. A value a level cannot read (text in a numeric
column, a malformed date) goes straight to ``*``, never through unchanged.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from bastion.core.errors import ConfigError
from bastion.privacy.anonymize.config import (
    DateHierarchy,
    Hierarchy,
    IntervalHierarchy,
    MapHierarchy,
    PrefixHierarchy,
    SuppressHierarchy,
)

__all__ = ["SUPPRESSED", "DateShifter", "Generalizer", "KeyedHasher", "text_of"]

SUPPRESSED = "*"


def text_of(value: Any) -> str:
    """The text a rule sees for ``value`` (``None`` becomes the empty text)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Generalizer:
    """Maps values to their label at a level of one hierarchy; labels are cached per distinct value."""

    def __init__(self, hierarchy: Hierarchy) -> None:
        self.hierarchy = hierarchy
        self._cached: Callable[[str, int], str] = lru_cache(maxsize=1 << 16)(self._label)

    @property
    def height(self) -> int:
        spec = self.hierarchy
        if isinstance(spec, IntervalHierarchy):
            return len(spec.widths) + 1
        if isinstance(spec, PrefixHierarchy):
            return len(spec.keep) + 1
        if isinstance(spec, DateHierarchy | MapHierarchy):
            return len(spec.levels) + 1
        return 1

    def label(self, value: str, level: int) -> str:
        if not 0 <= level <= self.height:
            raise ConfigError(f"level {level} is outside 0..{self.height}")
        return self._cached(value, level)

    def _label(self, value: str, level: int) -> str:
        if level == 0:
            return value
        if level == self.height or value == "":
            return SUPPRESSED
        spec = self.hierarchy
        if isinstance(spec, IntervalHierarchy):
            return _interval(value, spec.widths[level - 1])
        if isinstance(spec, PrefixHierarchy):
            keep = spec.keep[level - 1]
            return value[:keep] + SUPPRESSED * max(0, len(value) - keep)
        if isinstance(spec, DateHierarchy):
            return _date_label(value, spec.levels[level - 1])
        if isinstance(spec, MapHierarchy):
            return spec.levels[level - 1].get(value, SUPPRESSED)
        assert isinstance(spec, SuppressHierarchy)
        return SUPPRESSED


def _interval(value: str, width: float) -> str:
    try:
        number = float(value)
    except ValueError:
        return SUPPRESSED
    if not math.isfinite(number):
        return SUPPRESSED
    low = math.floor(number / width) * width
    return f"[{_short(low)}-{_short(low + width)})"


def _short(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _date_label(value: str, unit: str) -> str:
    day = _parse_date(value)
    if day is None:
        return SUPPRESSED
    if unit == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if unit == "year":
        return f"{day.year:04d}"
    return f"{day.year // 10 * 10}s"


class KeyedHasher:
    """HMAC-SHA256 tokens: one value always gives one token under one key, and without the key the
    token says nothing about the value (unlike a plain hash, which a dictionary of names reverses)."""

    def __init__(self, key: bytes, length: int = 16) -> None:
        self._key = key
        self.length = length

    def __call__(self, value: str) -> str:
        """The token of ``value``; an empty value stays empty (a missing value is not an identifier)."""
        if not value:
            return ""
        return hmac.digest(self._key, value.encode("utf-8"), "sha256").hex()[: self.length]


class DateShifter:
    """Moves every date of one person by the same keyed offset in ``[-max_days, max_days]``, so intervals
    within a person's records survive while the calendar dates do not."""

    def __init__(self, key: bytes, max_days: int) -> None:
        self._key = key
        self.max_days = max_days

    def offset(self, person: str) -> timedelta:
        digest = hmac.digest(self._key, b"shift-dates\x00" + person.encode("utf-8"), "sha256")
        return timedelta(days=int.from_bytes(digest[:8], "big") % (2 * self.max_days + 1) - self.max_days)

    def shift(self, value: Any, person: str) -> Any:
        """``value`` moved by the person's offset; ``None`` for a value that is not a date."""
        if isinstance(value, datetime | date):
            return value + self.offset(person)
        if value is None:
            return None
        text = str(value)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        shifted = moment + self.offset(person)
        return shifted.date().isoformat() if len(text) == 10 else shifted.isoformat()


def apply_labels(generalizer: Generalizer, values: Sequence[str], level: int) -> list[str]:
    return [generalizer.label(value, level) for value in values]
