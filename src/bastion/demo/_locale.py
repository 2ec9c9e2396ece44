"""Amounts and dates written the way German and English letters write them.

>>> format_money(123456, "de"), format_money(123456, "en")
('1.234,56 €', '€1,234.56')
>>> from datetime import date
>>> format_date(date(2026, 11, 2), "de"), format_date(date(2026, 11, 2), "en")
('02.11.2026', '2 November 2026')
"""

from __future__ import annotations

from datetime import date

__all__ = ["format_date", "format_money", "month_name"]

_MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
}


def format_money(cents: int, language: str) -> str:
    """``cents`` as euros: ``1.234,56 €`` in German, ``€1,234.56`` otherwise (negative: leading minus)."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    grouped = f"{euros:,}"
    if language == "de":
        return f"{sign}{grouped.replace(',', '.')},{rest:02d} €"
    return f"{sign}€{grouped}.{rest:02d}"


def format_date(day: date, language: str) -> str:
    """``02.11.2026`` in German, ``2 November 2026`` otherwise."""
    if language == "de":
        return day.strftime("%d.%m.%Y")
    return f"{day.day} {month_name(day.month, 'en')} {day.year}"


def month_name(month: int, language: str) -> str:
    """The name of ``month`` (1-12) in German for ``"de"``, else in English."""
    return _MONTHS["de" if language == "de" else "en"][month - 1]
