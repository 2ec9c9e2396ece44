"""Every indirect-injection rule matches its own examples and none of its look-alikes; the config is sane."""

from __future__ import annotations

import pytest

from bastion.core.types import Policy
from bastion.detect.indirect.config import load_config
from bastion.detect.indirect.detector import rules
from bastion.detect.normalize import normalize
from bastion.detect.rules import SignatureRule

RULES = rules()
MATCH_CASES = [(rule, example) for rule in RULES for example in rule.examples.match]
NO_MATCH_CASES = [(rule, example) for rule in RULES for example in rule.examples.no_match]


def _case_id(case: tuple[SignatureRule, str]) -> str:
    rule, example = case
    return f"{rule.id}:{example[:30]}"


@pytest.mark.parametrize("case", MATCH_CASES, ids=[_case_id(c) for c in MATCH_CASES])
def test_rule_matches_its_examples(case: tuple[SignatureRule, str]) -> None:
    rule, example = case
    assert rule.compiled.search(normalize(example).text), f"{rule.id} misses {example!r}"


@pytest.mark.parametrize("case", NO_MATCH_CASES, ids=[_case_id(c) for c in NO_MATCH_CASES])
def test_rule_ignores_its_look_alikes(case: tuple[SignatureRule, str]) -> None:
    rule, example = case
    found = rule.compiled.search(normalize(example).text)
    assert found is None, f"{rule.id} fires on {example!r} at {found.group()!r}"


def test_every_rule_has_both_kinds_of_examples_and_a_known_language() -> None:
    for rule in RULES:
        assert rule.examples.match, rule.id
        assert rule.examples.no_match, rule.id
        assert set(rule.languages) <= {"en", "de"}, rule.id


def test_rule_ids_are_unique_and_dotted_or_plain() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))
    assert all(rule_id == rule_id.lower() and " " not in rule_id for rule_id in ids)


def test_both_languages_are_covered_for_the_main_techniques() -> None:
    for technique in (
        "addressed_to_ai",
        "output_manipulation",
        "exfiltration",
        "record_tampering",
        "reveal_instructions",
    ):
        languages = {lang for rule in RULES if rule.technique == technique for lang in rule.languages}
        assert {"en", "de"} <= languages, technique


def test_thresholds_are_ordered_by_policy() -> None:
    config = load_config()
    strict, balanced, permissive = (
        config.threshold(p) for p in (Policy.STRICT, Policy.BALANCED, Policy.PERMISSIVE)
    )
    assert 0.0 < strict <= balanced <= permissive < 1.0
    # the model alone (plain_model weight) never reaches the strict threshold on visible text
    assert config.weights.plain_model < strict
