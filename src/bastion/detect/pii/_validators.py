"""Checksums and structure checks that confirm what a pattern only narrows.

Every function here is pure and takes the already-normalised value (digits only, or upper-case
alphanumerics); the recognisers do the normalising.

>>> iban_checksum_is_valid("DE89370400440532013000")
True
>>> luhn_is_valid("4111111111111111"), luhn_is_valid("4111111111111112")
(True, False)
>>> card_issuer("378282246310005")
'American Express'
>>> tax_id_is_valid("86095742719"), tax_id_is_valid("12345678903")
(True, False)
"""

from __future__ import annotations

from collections import Counter

__all__ = [
    "bic_is_well_formed",
    "card_issuer",
    "iban_checksum_is_valid",
    "luhn_is_valid",
    "tax_id_is_valid",
]


def iban_checksum_is_valid(iban: str) -> bool:
    """ISO 13616 mod-97 check of a compact, upper-case IBAN (the remainder must be 1)."""
    if len(iban) < 5:
        return False
    remainder = 0
    for char in iban[4:] + iban[:4]:
        if "0" <= char <= "9":
            remainder = (remainder * 10 + ord(char) - 48) % 97
        elif "A" <= char <= "Z":
            remainder = (remainder * 100 + ord(char) - 55) % 97
        else:
            return False
    return remainder == 1


def luhn_is_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def card_issuer(digits: str) -> str | None:
    """The card scheme whose issuer prefix and length fit ``digits``, or ``None``."""
    length = len(digits)
    if length < 12 or length > 19 or not digits.isdigit():
        return None
    two, three, four = int(digits[:2]), int(digits[:3]), int(digits[:4])
    if digits[0] == "4" and length in (13, 16, 19):
        return "Visa"
    if length == 16 and (51 <= two <= 55 or 2221 <= four <= 2720):
        return "Mastercard"
    if two in (34, 37) and length == 15:
        return "American Express"
    if (four == 6011 or two == 65 or 644 <= three <= 649) and 16 <= length <= 19:
        return "Discover"
    if 3528 <= four <= 3589 and 16 <= length <= 19:
        return "JCB"
    if (two == 36 and length == 14) or ((300 <= three <= 305 or two in (38, 39)) and length in (14, 16)):
        return "Diners Club"
    if two == 62 and 16 <= length <= 19:
        return "UnionPay"
    if two in (50, 56, 57, 58, 63, 67) and 12 <= length <= 19:
        return "Maestro"
    return None


def tax_id_is_valid(digits: str) -> bool:
    """German Steuer-Identifikationsnummer: 11 digits, no leading zero, digit rule, ISO 7064 MOD 11,10.

    In the first ten digits exactly one digit appears twice or three times (three times never all
    in a row) and every other digit at most once.
    """
    if len(digits) != 11 or not digits.isdigit() or not digits.isascii() or digits[0] == "0":
        return False
    body = digits[:10]
    counts = Counter(body)
    repeated = [digit for digit, count in counts.items() if count > 1]
    if len(repeated) != 1 or counts[repeated[0]] > 3:
        return False
    if counts[repeated[0]] == 3 and repeated[0] * 3 in body:
        return False
    product = 10
    for char in body:
        total = (ord(char) - 48 + product) % 10
        if total == 0:
            total = 10
        product = (total * 2) % 11
    check = 11 - product
    if check == 10:
        check = 0
    return check == ord(digits[10]) - 48


def bic_is_well_formed(code: str, country_codes: frozenset[str]) -> bool:
    """ISO 9362 shape: 4 letters (bank), ISO country code, 2 alphanumerics (location), 3 optional (branch)."""
    if len(code) not in (8, 11) or not code.isascii() or not code.isalnum() or not code.isupper():
        return False
    if not code[:6].isalpha():
        return False
    return code[4:6] in country_codes
