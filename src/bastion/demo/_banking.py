"""Synthetic bank details: IBANs with correct ISO 13616 check digits for a few countries.

The bank codes and account numbers are random; they are shaped like real ones (the national BBAN layout)
so that detectors and validators treat them as real, but they are not meant to be anyone's account.
"""

from __future__ import annotations

import random
import string

__all__ = ["IBAN_COUNTRIES", "format_iban", "iban_check_digits", "make_iban"]

#: BBAN layout per country: (kind, length) parts, kind "n" digits, "a" upper-case letters.
_BBAN_LAYOUTS: dict[str, tuple[tuple[str, int], ...]] = {
    "DE": (("n", 8), ("n", 10)),  # Bankleitzahl, Kontonummer
    "AT": (("n", 5), ("n", 11)),
    "NL": (("a", 4), ("n", 10)),
    "IE": (("a", 4), ("n", 6), ("n", 8)),  # bank, sort code, account
    "GB": (("a", 4), ("n", 6), ("n", 8)),
    "PL": (("n", 8), ("n", 16)),
    "TR": (("n", 5), ("n", 1), ("n", 16)),
}

IBAN_COUNTRIES: tuple[str, ...] = tuple(_BBAN_LAYOUTS)

_ALPHABETS = {"n": string.digits, "a": string.ascii_uppercase}


def iban_check_digits(country: str, bban: str) -> str:
    """The two check digits that make ``country + digits + bban`` pass the mod-97 test."""
    rearranged = bban + country + "00"
    number = "".join(str(int(char, 36)) for char in rearranged)
    return f"{98 - int(number) % 97:02d}"


def make_iban(rng: random.Random, country: str, bank_code: str = "") -> str:
    """A compact IBAN of ``country`` with random account digits; ``bank_code`` fixes the BBAN's first part.

    Raises :class:`ValueError` for a country without a known layout or a bank code of the wrong shape.
    """
    layout = _BBAN_LAYOUTS.get(country)
    if layout is None:
        raise ValueError(f"no IBAN layout for country {country!r}")
    parts: list[str] = []
    for index, (kind, length) in enumerate(layout):
        if index == 0 and bank_code:
            if len(bank_code) != length or any(char not in _ALPHABETS[kind] for char in bank_code):
                raise ValueError(f"bank code does not fit the {country} layout")
            parts.append(bank_code)
        elif country == "TR" and index == 1:
            parts.append("0")  # reserved digit
        else:
            parts.append("".join(rng.choice(_ALPHABETS[kind]) for _ in range(length)))
    bban = "".join(parts)
    return country + iban_check_digits(country, bban) + bban


def format_iban(iban: str) -> str:
    """The print form: groups of four separated by spaces."""
    return " ".join(iban[index : index + 4] for index in range(0, len(iban), 4))
