"""The PII data files: they load, and every rule's own match / no-match examples hold."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import pytest
import yaml

from bastion.detect.pii import BUILTIN_TYPES, PIIDetector
from bastion.detect.pii._address import load_address_file
from bastion.detect.pii._birth_date import load_dates_file
from bastion.detect.pii._person import load_person_recogniser
from bastion.detect.pii._structured import load_pattern_file, load_structured

MARK = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
DATA_FILES = {"person.yaml": "PERSON", "address.yaml": "ADDRESS", "dates.yaml": "DATE_OF_BIRTH"}


def read_yaml(name: str) -> Any:
    return yaml.safe_load(resources.files("bastion.data.pii").joinpath(name).read_text(encoding="utf-8"))


def unmark(marked: str) -> tuple[str, list[tuple[int, int]]]:
    text = MARK.sub(lambda match: match.group(1), marked)
    spans, removed = [], 0
    for match in MARK.finditer(marked):
        start = match.start() - removed
        spans.append((start, start + len(match.group(1))))
        removed += 4
    return text, spans


def collect_examples() -> list[tuple[str, str, str, str]]:
    """``(source, type, kind, text)`` for every example in the data files."""
    examples = []
    for rule in read_yaml("patterns.yaml")["rules"]:
        for kind in ("match", "no_match"):
            examples += [(rule["id"], rule["type"], kind, text) for text in rule["examples"].get(kind, [])]
    for name, entity_type in DATA_FILES.items():
        data = read_yaml(name)["examples"]
        for kind in ("match", "no_match"):
            examples += [(name, entity_type, kind, text) for text in data.get(kind, [])]
    return examples


EXAMPLES = collect_examples()


@pytest.fixture(scope="module")
def detector() -> PIIDetector:
    return PIIDetector()


@pytest.mark.parametrize(("source", "entity_type", "kind", "text"), EXAMPLES)
def test_data_example(detector: PIIDetector, source: str, entity_type: str, kind: str, text: str) -> None:
    plain, expected = unmark(text)
    found = [
        (d.span.start, d.span.end)
        for d in detector.detect(plain)
        if d.flagged and d.type == entity_type and d.span
    ]
    if kind == "match":
        assert expected, f"{source}: a match example needs [[...]] marks"
        assert set(expected) <= set(found), f"{source}: {plain!r} -> {[plain[s:e] for s, e in found]}"
    else:
        assert found == [], f"{source}: {plain!r} -> {[plain[s:e] for s, e in found]}"


def test_every_rule_and_file_has_both_kinds_of_examples() -> None:
    for rule in read_yaml("patterns.yaml")["rules"]:
        assert rule["examples"]["match"] and rule["examples"]["no_match"], rule["id"]
    for name in DATA_FILES:
        examples = read_yaml(name)["examples"]
        assert examples["match"] and examples["no_match"], name


def test_every_builtin_type_has_a_rule_or_recogniser() -> None:
    rule_types = {rule.type for rule in load_structured().rules}
    assert rule_types | set(DATA_FILES.values()) == set(BUILTIN_TYPES)


def test_data_files_load_and_are_cached() -> None:
    assert load_pattern_file() is load_pattern_file()
    assert load_address_file() is load_address_file()
    assert load_dates_file() is load_dates_file()
    assert load_person_recogniser() is load_person_recogniser()


def test_rule_ids_are_unique_and_dotted() -> None:
    ids = [rule["id"] for rule in read_yaml("patterns.yaml")["rules"]]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"pii(\.[a-z0-9_]+)+", rule_id) for rule_id in ids)


def test_thresholds_are_ordered() -> None:
    data = load_pattern_file()
    assert data.floor <= data.thresholds.strict <= data.thresholds.balanced <= data.thresholds.permissive


def test_gazetteers_are_large_and_diverse() -> None:
    lexicon = load_person_recogniser().lexicon
    assert len(lexicon.first_names) > 1500
    assert len(lexicon.surnames) > 1500
    for name in ("ayse", "agnieszka", "giuseppe", "olga", "fatima", "ngoc", "kwame", "thomas", "emily"):
        assert name in lexicon.first_names, name
    for name in ("yilmaz", "kowalska", "ivanova", "nguyen", "al-hassan", "muller", "okafor"):
        assert name in lexicon.surnames, name


def test_ambiguous_first_names_are_not_plain_first_names() -> None:
    lexicon = load_person_recogniser().lexicon
    assert lexicon.classify("April").name == "AMBIGUOUS"
    assert lexicon.classify("Mai").name == "AMBIGUOUS"
    assert lexicon.classify("Rechnung").name == "NOUN"
    assert lexicon.classify("Zahlungsvereinbarung").name == "NOUN"
    assert lexicon.classify("GmbH").name == "ORGANISATION"
    assert lexicon.classify("Karl-Marx-Allee").name == "STREET"
