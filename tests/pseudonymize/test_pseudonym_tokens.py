"""The token format: labels, value normalisation, minting, and finding tokens in text."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.core.errors import ConfigError, UsageError
from bastion.pseudonymize import TOKEN_PATTERN, find_tokens, is_token, normalize_value, type_label
from bastion.pseudonymize._keys import check_master_key, check_tenant, derive_key
from bastion.pseudonymize._tokens import TokenMinter, canonical_token, token_candidates

KEY = bytes(range(32))


@pytest.mark.parametrize(
    ("detection_type", "label"),
    [
        ("PERSON", "PERSON"),
        ("person", "PERSON"),
        ("date of birth", "DATE_OF_BIRTH"),
        ("DATE_OF_BIRTH", "DATE_OF_BIRTH"),
        ("e-mail", "E_MAIL"),
        ("Straße", "STRASSE"),
        ("Adresse 2", "ADRESSE2"),
        ("IPv4", "IPV4"),
        ("123", "PII123"),
        ("1 a", "PII1_A"),
        ("", "PII"),
        ("---", "PII"),
        ("名前", "PII"),
        ("a b c d e f g", "A_B_C_D_E"),
        ("x" * 40, "X" * 24),
    ],
)
def test_type_label(detection_type: str, label: str) -> None:
    assert type_label(detection_type) == label


@given(st.text())
def test_every_label_makes_a_valid_token(detection_type: str) -> None:
    label = type_label(detection_type)
    assert is_token(f"{label}_0123456789abcdef")
    assert [m.group("label") for m in TOKEN_PATTERN.finditer(f" {label}_0123456789abcdef ")] == [label]


@pytest.mark.parametrize(
    ("label", "first", "second", "same"),
    [
        ("IBAN", "DE89 3704 0044 0532 0130 00", "de89370400440532013000", True),
        ("IBAN", "DE89-3704-0044-0532-0130-00", "DE89370400440532013000", True),
        ("CREDIT_CARD", "4111 1111 1111 1111", "4111-1111-1111-1111", True),
        ("PHONE", "+49 (30) 1234-567", "+49301234567", True),
        ("TAX_ID", "12 345 678 901", "12345678901", True),
        ("EMAIL", "Max.Mustermann@Example.com", "max.mustermann@example.com", True),
        ("PERSON", "Erika  Mustermann", "erika mustermann", True),
        ("PERSON", "ERIKA\u200bMUSTERMANN", "erikamustermann", True),
        ("PERSON", "Ｅｒｉｋａ", "erika", True),
        ("PERSON", "Erika Mustermann", "Erik Mustermann", False),
        ("IBAN", "DE89370400440532013000", "DE89370400440532013001", False),
        ("IP_ADDRESS", "1.23.4.5", "12.3.4.5", False),
        ("DATE_OF_BIRTH", "01.02.1980", "1.2.1980", False),
    ],
)
def test_normalize_value_decides_identity(label: str, first: str, second: str, same: bool) -> None:
    assert (normalize_value(label, first) == normalize_value(label, second)) is same


def test_token_shape_and_golden_value() -> None:
    minter = TokenMinter(derive_key(KEY, "token", "acme"))
    token = minter.token("PERSON", "Erika Mustermann")
    assert is_token(token)
    assert re.fullmatch(r"PERSON_[0-9a-hjkmnp-tv-z]{16}", token)
    # a change here breaks every stored vault: tokens must stay stable across releases
    assert token == "PERSON_64a7qp80s2jmv5jz"
    assert token == _reference_token(KEY, "acme", "PERSON", "erika mustermann")


def _reference_token(master_key: bytes, tenant: str, label: str, normalised: str) -> str:
    """The token computed from the specification with the standard library only (RFC 5869 HKDF)."""
    pseudo_random_key = hmac.new(b"bastion.pseudonymize.v1", master_key, hashlib.sha256).digest()
    token_key = hmac.new(pseudo_random_key, b"token\x00" + tenant.encode() + b"\x01", hashlib.sha256).digest()
    digest = hmac.new(token_key, label.encode() + b"\x00" + normalised.encode(), hashlib.sha256).digest()
    crockford = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghjkmnpqrstvwxyz")
    return f"{label}_{base64.b32encode(digest[:10]).decode().translate(crockford)}"


def test_same_value_same_token_and_different_tenants_types_values_differ() -> None:
    acme = TokenMinter(derive_key(KEY, "token", "acme"))
    other = TokenMinter(derive_key(KEY, "token", "other"))
    assert acme.token("PERSON", "Erika") == acme.token("person", "ERIKA")
    assert acme.token("PERSON", "Erika") != other.token("PERSON", "Erika")
    assert acme.token("PERSON", "Erika") != acme.token("CITY", "Erika")
    assert acme.token("PERSON", "Erika")[-16:] != acme.token("CITY", "Erika")[-16:]
    assert acme.token("PERSON", "Erika") != acme.token("PERSON", "Erik")


def test_minter_repr_hides_the_key() -> None:
    minter = TokenMinter(b"secret-key-material-000000000000")
    assert "secret" not in repr(minter)


def test_tokens_do_not_collide_in_a_large_sample() -> None:
    minter = TokenMinter(derive_key(KEY, "token", "acme"))
    values = [f"Kunde {index}" for index in range(200_000)]
    tokens = {minter.token("PERSON", value) for value in values}
    assert len(tokens) == len(values)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Dear PERSON_0123456789abcdef,", ["PERSON_0123456789abcdef"]),
        ("DATE_OF_BIRTH_0123456789abcdef", ["DATE_OF_BIRTH_0123456789abcdef"]),
        ("markdown PERSON\\_0123456789abcdef", ["PERSON\\_0123456789abcdef"]),
        ("DATE\\_OF\\_BIRTH\\_0123456789abcdef", ["DATE\\_OF\\_BIRTH\\_0123456789abcdef"]),
        ("genitive PERSON_0123456789abcdefs Konto", ["PERSON_0123456789abcdef"]),
        ("glued abcPERSON_0123456789abcdef", ["PERSON_0123456789abcdef"]),
        ("glued 12PERSON_0123456789abcdef", ["PERSON_0123456789abcdef"]),
        ("glued IBANIBAN_0123456789abcdef", ["IBANIBAN_0123456789abcdef"]),
        ("glued 1IBAN_0123456789abcdef", ["IBAN_0123456789abcdef"]),
        ("glued A_1_B_0123456789abcdef", ["B_0123456789abcdef"]),
        (
            "two PERSON_0123456789abcdefIBAN_0123456789abcdef",
            ["PERSON_0123456789abcdef", "IBAN_0123456789abcdef"],
        ),
        ("too short PERSON_0123456789abcde", []),
        ("excluded letters PERSON_0123456789abcdei", []),
        ("upper-case code PERSON_0123456789ABCDEF", []),
        ("lower-case label person_0123456789abcdef", []),
        ("plain prose with snake_case_identifiers_here", []),
        ("_0123456789abcdef without a label", []),
    ],
)
def test_find_tokens(text: str, found: list[str]) -> None:
    assert [text[start:end] for start, end in find_tokens(text)] == found
    assert [match.group() for match in TOKEN_PATTERN.finditer(text)] == found


def test_is_token() -> None:
    assert is_token("PERSON_0123456789abcdef")
    assert not is_token("PERSON\\_0123456789abcdef")
    assert not is_token("PERSON_0123456789abcdefg")
    assert not is_token(" PERSON_0123456789abcdef")


def test_token_candidates_strip_glued_prefixes() -> None:
    assert list(token_candidates("ABPERSON_0123456789abcdef")) == [
        ("", "ABPERSON_0123456789abcdef"),
        ("A", "BPERSON_0123456789abcdef"),
        ("AB", "PERSON_0123456789abcdef"),
        ("ABP", "ERSON_0123456789abcdef"),
        ("ABPE", "RSON_0123456789abcdef"),
        ("ABPER", "SON_0123456789abcdef"),
        ("ABPERS", "ON_0123456789abcdef"),
        ("ABPERSO", "N_0123456789abcdef"),
    ]
    assert ("X\\_", "PERSON_0123456789abcdef") in list(token_candidates("X\\_PERSON\\_0123456789abcdef"))


_TOKENISH = st.text(alphabet="AIPZ09az_\\ x", max_size=200)


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(_TOKENISH, st.just("_0123456789abcdef"), st.just("PERSON"), st.just("A" * 30)), max_size=20
    )
)
def test_find_tokens_finds_what_the_one_regex_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    found = {end: start for start, end in find_tokens(text)}
    for match in TOKEN_PATTERN.finditer(text):
        # the same token, read from further left only when glued to capitals before it
        start = found[match.end()]
        assert start <= match.start()
        assert set(text[start : match.start()]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_\\")
        readings = [token for _, token in token_candidates(text[start : match.end()])]
        assert canonical_token(match.group()) in readings
    for end, start in found.items():
        assert TOKEN_PATTERN.fullmatch(text[start:end])


def test_find_tokens_reads_a_token_glued_to_a_long_run_of_capitals() -> None:
    text = "REFERENCENUMBERTWOTHREEIBAN_0123456789abcdef"
    assert TOKEN_PATTERN.search(text) is None
    ((start, end),) = find_tokens(text)
    assert end == len(text)
    readings = [(text[:start] + prefix, token) for prefix, token in token_candidates(text[start:end])]
    assert ("REFERENCENUMBERTWOTHREE", "IBAN_0123456789abcdef") in readings


@pytest.mark.parametrize(
    "adversarial",
    [
        "A" * 10_000_000,
        "A1" * 5_000_000,
        "A_" * 5_000_000,
        "AB\\_" * 2_500_000,
        "_0123456789abcdef" * 600_000,
        ("A" * 23 + "_0123456789abcdef") * 250_000,
    ],
    ids=["capitals", "capital-digit", "capital-underscore", "escaped", "codes-without-labels", "tokens"],
)
def test_find_tokens_completes_on_10_mb_adversarial_input(adversarial: str) -> None:
    matches = list(find_tokens(adversarial))
    assert all(end - start >= 17 for start, end in matches)


def test_key_and_tenant_checks() -> None:
    with pytest.raises(ConfigError):
        check_master_key(b"short")
    with pytest.raises(ConfigError):
        check_master_key("a string key is not bytes")
    assert check_master_key(bytearray(16)) == bytes(16)
    for tenant in ["", "x" * 257, "bad\ud800", None]:
        with pytest.raises(UsageError):
            check_tenant(tenant)
    assert derive_key(KEY, "token", "a") != derive_key(KEY, "record", "a")
    assert derive_key(KEY, "token", "a") != derive_key(KEY, "token", "b")
    with pytest.raises(ValueError, match="purpose"):
        derive_key(KEY, "other")
