"""Checksum and structure validators of the PII detector, valid and invalid values."""

from __future__ import annotations

import pytest

from bastion.detect.pii._validators import (
    bic_is_well_formed,
    card_issuer,
    iban_checksum_is_valid,
    luhn_is_valid,
    tax_id_is_valid,
)

VALID_IBANS = [
    "DE89370400440532013000",
    "GB82WEST12345698765432",
    "NL91ABNA0417164300",
    "AT611904300234573201",
    "CH9300762011623852957",
    "FR1420041010050500013M02606",
    "BE68539007547034",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_iban_checksums(iban: str) -> None:
    assert iban_checksum_is_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "DE89370400440532013001",  # last digit changed
        "DE98370400440532013000",  # check digits swapped
        "GB82WEST12345698765423",  # two digits transposed
        "DE8937040044053201300",  # a digit short: still fails mod 97
        "DE89",
        "DE89-3704",
        "de89370400440532013000",  # callers upper-case first
    ],
)
def test_invalid_iban_checksums(iban: str) -> None:
    assert not iban_checksum_is_valid(iban)


@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("4111111111111111", True),
        ("5555555555554444", True),
        ("378282246310005", True),
        ("6011111111111117", True),
        ("79927398713", True),
        ("4111111111111112", False),
        ("378282246310006", False),
        ("4111 1111 1111 1111", False),
        ("", False),
        ("٤١١١", False),  # Arabic-Indic digits are digits to str.isdigit, not to Luhn
    ],
)
def test_luhn(digits: str, valid: bool) -> None:
    assert luhn_is_valid(digits) is valid


@pytest.mark.parametrize(
    ("digits", "issuer"),
    [
        ("4111111111111111", "Visa"),
        ("4222222222222", "Visa"),
        ("5555555555554444", "Mastercard"),
        ("2221000000000009", "Mastercard"),
        ("378282246310005", "American Express"),
        ("6011111111111117", "Discover"),
        ("3530111333300000", "JCB"),
        ("30569309025904", "Diners Club"),
        ("6200000000000005", "UnionPay"),
        ("1234567812345670", None),  # no issuer starts with 1
        ("41111111111111", None),  # Visa has no 14-digit numbers
        ("378282246310005000", None),  # Amex is always 15 digits
    ],
)
def test_card_issuer(digits: str, issuer: str | None) -> None:
    assert card_issuer(digits) == issuer


@pytest.mark.parametrize(
    "tax_id", ["86095742719", "47036892816", "65929970489", "57549285017", "93141705862"]
)
def test_valid_tax_ids(tax_id: str) -> None:
    assert tax_id_is_valid(tax_id)


@pytest.mark.parametrize(
    ("tax_id", "reason"),
    [
        ("86095742718", "wrong check digit"),
        ("12345678903", "no digit repeated in the first ten"),
        ("11234567891", "leading one repeated but check digit wrong"),
        ("06095742719", "leading zero"),
        ("1111234567", "too short"),
        ("860957427190", "too long"),
        ("1122345678", "too short and two repeated digits"),
        ("11223456789", "two different digits repeated"),
        ("11145678901", "a digit three times in a row"),
        ("1111567890 ", "not digits only"),
    ],
)
def test_invalid_tax_ids(tax_id: str, reason: str) -> None:
    assert not tax_id_is_valid(tax_id), reason


def check_digit(first_ten: str) -> str:
    """ISO 7064 MOD 11,10, written out independently of the code under test."""
    product = 10
    for char in first_ten:
        total = (int(char) + product) % 10 or 10
        product = total * 2 % 11
    return str((11 - product) % 10)


def test_tax_id_digit_rule_with_correct_check_digits() -> None:
    assert tax_id_is_valid("1213145678" + check_digit("1213145678"))  # '1' three times, never in a row
    assert not tax_id_is_valid("1112345678" + check_digit("1112345678"))  # three in a row
    assert not tax_id_is_valid("1123345678" + check_digit("1123345678"))  # two digits repeated
    assert not tax_id_is_valid("1234567890" + check_digit("1234567890"))  # nothing repeated
    assert not tax_id_is_valid("1211131456" + check_digit("1211131456"))  # '1' four times


COUNTRIES = frozenset({"DE", "GB", "NL", "FR", "AT"})


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("COBADEFFXXX", True),
        ("DEUTDEFF", True),
        ("MARKDEF1100", True),
        ("NWBKGB2L", True),
        ("COBAZZFFXXX", False),  # ZZ is no country
        ("COBADEFFXX", False),  # 10 characters
        ("C0BADEFF", False),  # digit in the bank code
        ("cobadeff", False),
        ("COBADEFF-XX", False),
    ],
)
def test_bic_structure(code: str, valid: bool) -> None:
    assert bic_is_well_formed(code, COUNTRIES) is valid
