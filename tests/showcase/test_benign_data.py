"""The benign customer messages in ``bastion.data.showcase``: shape, languages, lengths, personal data, IBANs.

They are the false-positive side of the guard benchmark, so a broken file would silently change its figures.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections import Counter
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bastion.detect.language import guess_language
from bastion.detect.pii import PIIDetector

SHARED_BANKING77 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "banking77"
KINDS = frozenset({"benign", "hard_negative"})
MIN_CHARS, MAX_CHARS = 10, 600
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")


@cache
def _rows(name: str) -> tuple[dict[str, Any], ...]:
    text = resources.files("bastion.data.showcase").joinpath(name).read_text(encoding="utf-8")
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        row = json.loads(line)
        assert isinstance(row, dict), f"{name}:{number} is not a JSON object"
        rows.append(row)
    return tuple(rows)


def _german() -> tuple[dict[str, Any], ...]:
    return _rows("benign_de.jsonl")


def _english() -> tuple[dict[str, Any], ...]:
    return _rows("benign_en.jsonl")


def _own_english() -> list[dict[str, Any]]:
    return [row for row in _english() if row["source"] == "bastion"]


def _iban_valid(iban: str) -> bool:
    """ISO 13616 / ISO 7064 mod 97-10, written out here so the test does not trust the detector."""
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def test_iban_check_itself_rejects_a_wrong_check_digit() -> None:
    assert _iban_valid("DE89 3704 0044 0532 0130 00")
    assert not _iban_valid("DE88 3704 0044 0532 0130 00")
    assert not _iban_valid("DE89 3704 0044 0532 0130 01")


def test_german_file_shape() -> None:
    rows = _german()
    assert len(rows) == 200
    for row in rows:
        assert set(row) == {"id", "text", "kind"}, row.get("id")
        assert re.fullmatch(r"de-\d{3}", row["id"])
        assert row["kind"] in KINDS
    assert [row["id"] for row in rows] == [f"de-{n:03d}" for n in range(1, 201)]


def test_english_file_shape() -> None:
    rows = _english()
    sources = Counter(row["source"] for row in rows)
    assert sources == {"banking77": 200, "bastion": 50}
    for row in rows:
        assert set(row) == {"id", "text", "kind", "source"}, row.get("id")
        assert row["kind"] in KINDS
        pattern = r"en-b77-test-\d{4}" if row["source"] == "banking77" else r"en-own-\d{3}"
        assert re.fullmatch(pattern, row["id"]), row["id"]
    assert all(row["kind"] == "benign" for row in rows if row["source"] == "banking77")
    assert [row["id"] for row in _own_english()] == [f"en-own-{n:03d}" for n in range(1, 51)]


@pytest.mark.parametrize("name", ["benign_de.jsonl", "benign_en.jsonl"])
def test_ids_and_texts_are_unique(name: str) -> None:
    rows = _rows(name)
    assert len({row["id"] for row in rows}) == len(rows)
    normalised = Counter(" ".join(row["text"].lower().split()) for row in rows)
    assert [text for text, count in normalised.items() if count > 1] == []


@pytest.mark.parametrize("name", ["benign_de.jsonl", "benign_en.jsonl"])
def test_texts_are_bounded_clean_strings(name: str) -> None:
    for row in _rows(name):
        text = row["text"]
        assert isinstance(text, str)
        assert MIN_CHARS <= len(text) <= MAX_CHARS, (row["id"], len(text))
        assert text == text.strip(), row["id"]
        controls = [c for c in text if unicodedata.category(c) == "Cc" and c != "\n"]
        assert controls == [], row["id"]
        assert unicodedata.normalize("NFC", text) == text, row["id"]


def test_german_texts_vary_in_length() -> None:
    lengths = sorted(len(row["text"]) for row in _german())
    assert lengths[0] < 30
    assert lengths[-1] > 400
    assert sum(length > 200 for length in lengths) >= 8


def test_german_file_reads_as_german() -> None:
    rows = _german()
    german = sum(guess_language(row["text"]) == "de" for row in rows)
    assert german / len(rows) >= 0.95


def test_own_english_texts_read_as_english() -> None:
    rows = _own_english()
    assert all(guess_language(row["text"], default="de") == "en" for row in rows)


def test_at_least_forty_hard_negatives_per_language() -> None:
    assert sum(row["kind"] == "hard_negative" for row in _german()) >= 40
    assert sum(row["kind"] == "hard_negative" for row in _english()) >= 40


def test_hard_negatives_use_the_words_attacks_use() -> None:
    """A hard negative is only hard if it carries trigger vocabulary; most of them must."""
    triggers = {
        "de": re.compile(
            r"ignorier|vergiss|vergessen|anweisung|regel|richtlinie|system|ki\b|bot|passwort|lösch|"
            r"vorherig|überschreib|admin|entwickler|chatbot|roboter|befugnis|tu[nt]? .*so|stell dir vor|"
            r"geheim|\bpin\b|link|deaktivier|gehackt|maschine|einstellung|übersetz|zeig|antworte|"
            r"gespeichert|austrick|aufheben|bedingungen|stoppen|liste",
            re.IGNORECASE,
        ),
        "en": re.compile(
            r"ignore|disregard|forget|instruction|rule|policy|system|\bai\b|bot|password|delete|previous|"
            r"overwrite|developer|pretend|imagine|model|authority|remove|magic phrase|hacked|as a list|"
            r"conditions|machine|reply in|\bpin\b|cancel|link|translate|personal data",
            re.IGNORECASE,
        ),
    }
    for language, rows in (("de", _german()), ("en", _own_english())):
        hard = [row for row in rows if row["kind"] == "hard_negative"]
        with_trigger = [row for row in hard if triggers[language].search(row["text"])]
        assert len(with_trigger) / len(hard) >= 0.8, language


def test_every_iban_in_the_german_file_has_valid_check_digits() -> None:
    found = [(row["id"], match.group(0)) for row in _german() for match in _IBAN.finditer(row["text"])]
    assert len(found) >= 8
    assert [(row_id, iban) for row_id, iban in found if not _iban_valid(iban)] == []


def test_about_a_third_of_the_german_messages_carry_personal_data() -> None:
    detector = PIIDetector()
    rows = _german()
    with_pii = [row for row in rows if any(d.flagged for d in detector.detect(row["text"]))]
    assert 0.25 <= len(with_pii) / len(rows) <= 0.45
    kinds = {d.type for row in rows for d in detector.detect(row["text"]) if d.flagged}
    assert {"PERSON", "IBAN", "EMAIL", "PHONE", "ADDRESS"} <= kinds


def test_german_mail_addresses_use_reserved_domains() -> None:
    mails = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
    domains = {m.group(1) for row in _german() for m in mails.finditer(row["text"])}
    assert domains
    assert domains <= {"example.com", "example.org", "example.net"}


@pytest.mark.skipif(not SHARED_BANKING77.exists(), reason="the shared Banking77 copy is not on this machine")
def test_banking77_rows_match_their_upstream_row() -> None:
    with (SHARED_BANKING77 / "original" / "test.csv").open(encoding="utf-8", newline="") as handle:
        upstream = [row[0].strip() for row in list(csv.reader(handle))[1:]]
    for row in _english():
        if row["source"] == "banking77":
            number = int(row["id"].rsplit("-", 1)[1])
            assert upstream[number - 1] == row["text"], row["id"]
