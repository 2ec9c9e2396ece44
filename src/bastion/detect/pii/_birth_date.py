"""DATE_OF_BIRTH: a calendar date with birth context, numeric or written, German or English.

``12.03.1985``, ``12. März 1985``, ``March 12, 1985``, ``12th of March 1985``, ``1985-03-12`` and
``04/09/1983`` (day-month or month-day) are dates; they are dates of birth only after a trigger such as
``geboren am``, ``geb.``, ``Geburtsdatum``, ``DOB`` or ``born on`` (with no other date in between), or
before ``geboren`` / ``born``. A date must exist in the calendar and lie between ``earliest_year`` and
today. The span is the date alone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import cache

from pydantic import Field

from bastion.detect.pii._candidate import Candidate
from bastion.detect.pii._data import DataModel, Examples, read_data
from bastion.detect.pii._text import ContextWords

__all__ = ["BirthDateRecogniser", "DatesFile", "load_birth_date_recogniser", "load_dates_file"]

PRIORITY = 6
RULE_ID = "pii.date_of_birth"
REASON = "DATE_OF_BIRTH (date with birth context)"


class DatesFile(DataModel):
    version: int
    months: dict[int, tuple[str, ...]]
    birth_context_before: tuple[str, ...]
    birth_context_after: tuple[str, ...]
    window_before: int = Field(gt=0)
    window_after: int = Field(gt=0)
    earliest_year: int
    examples: Examples = Examples()


def _make_date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


class BirthDateRecogniser:
    """Finds DATE_OF_BIRTH candidates; immutable after construction, so safe to share between threads."""

    def __init__(self, data: DatesFile) -> None:
        self._month_numbers = {
            spelling.casefold(): number for number, spellings in data.months.items() for spelling in spellings
        }
        months = "|".join(re.escape(name) for name in sorted(self._month_numbers, key=len, reverse=True))
        months = rf"(?:{months})(?![^\W\d_])"
        self._dates = re.compile(
            r"(?<![\w.,/-])(?:"
            r"(?P<d1>\d{1,2})(?P<sep>[./-])(?P<m1>\d{1,2})(?P=sep)(?P<y1>\d{4}|\d{2})"
            r"|(?P<y2>\d{4})-(?P<m2>\d{1,2})-(?P<d2>\d{1,2})"
            rf"|(?P<d3>\d{{1,2}})(?:\.|st|nd|rd|th)?[ ](?:of[ ])?(?P<mn3>{months})\.?,?[ ](?P<y3>\d{{4}})"
            rf"|(?P<mn4>{months})\.?[ ](?P<d4>\d{{1,2}})(?:st|nd|rd|th)?,?[ ](?P<y4>\d{{4}})"
            r")(?![\w]|[.,/-]\d)",
            re.IGNORECASE,
        )
        self._before = ContextWords(word for word in data.birth_context_before if word != "*")
        self._star = "*" in data.birth_context_before
        self._after = re.compile(
            r"[ \t,)]*(?:"
            + "|".join(re.escape(word) for word in data.birth_context_after)
            + r")(?![^\W\d_])",
            re.IGNORECASE,
        )
        self._window_before = data.window_before
        self._window_after = data.window_after
        self._earliest_year = data.earliest_year

    def _date_of(self, match: re.Match[str], today: dt.date) -> dt.date | None:
        groups = match.groupdict()
        if groups["d1"] is not None:
            day, month, year = int(groups["d1"]), int(groups["m1"]), int(groups["y1"])
            if len(groups["y1"]) == 2:
                year += 1900 if year > today.year % 100 else 2000
            options = [(day, month), (month, day)] if groups["sep"] == "/" else [(day, month)]
        elif groups["y2"] is not None:
            year, options = int(groups["y2"]), [(int(groups["d2"]), int(groups["m2"]))]
        elif groups["d3"] is not None:
            month = self._month_numbers[groups["mn3"].casefold()]
            year, options = int(groups["y3"]), [(int(groups["d3"]), month)]
        else:
            month = self._month_numbers[groups["mn4"].casefold()]
            year, options = int(groups["y4"]), [(int(groups["d4"]), month)]
        for day, month in options:
            date = _make_date(year, month, day)
            if date is not None and self._earliest_year <= date.year and date <= today:
                return date
        return None

    def find(self, text: str) -> Iterable[Candidate]:
        today = dt.date.today()
        previous_end = 0
        for match in self._dates.finditer(text):
            start, end = match.span()
            if self._date_of(match, today) is not None and self._has_birth_context(
                text, start, end, previous_end
            ):
                yield Candidate("DATE_OF_BIRTH", start, end, 0.9, REASON, PRIORITY, RULE_ID)
            previous_end = end

    def _has_birth_context(self, text: str, start: int, end: int, previous_end: int) -> bool:
        window_start = max(previous_end, start - self._window_before)
        window = text[window_start:start]
        if self._before.last_end(window) >= 0:
            return True
        if self._star and window.rstrip(" \t").endswith("*"):
            return True
        return self._after.match(text[end : end + self._window_after]) is not None


@cache
def load_dates_file() -> DatesFile:
    """``dates.yaml``, parsed and validated (once per process)."""
    return read_data("dates.yaml", DatesFile)


@cache
def load_birth_date_recogniser() -> BirthDateRecogniser:
    """The DATE_OF_BIRTH recogniser (built once per process)."""
    return BirthDateRecogniser(load_dates_file())
