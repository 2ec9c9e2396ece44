"""Scoring the leakage detector (bastion.evaluation.leakage) and the labelled answers it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.detect.base import ScanContext
from bastion.detect.leakage import LeakageDetector
from bastion.evaluation.leakage import LeakageCase, category, evaluate_leakage, load_leakage_cases, main

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "leakage" / "leakage.jsonl"
CONTEXT = ScanContext(canaries=("BASTION-CANARY-7f3a9c21",), allowed_domains=("muster-inkasso.de",))


def test_category_folds_composed_types() -> None:
    assert category("SECRET:GITHUB_TOKEN") == "SECRET"
    assert category("PII:IBAN") == "PII"
    assert category("CANARY") == "CANARY"


def test_per_type_scores_count_hits_misses_and_false_alarms() -> None:
    cases = [
        LeakageCase("a", "en", "marker BASTION-CANARY-7f3a9c21", CONTEXT, (("CANARY", 7, 30),)),
        LeakageCase("b", "en", "![x](https://evil.com/x.png)", CONTEXT, ()),
        LeakageCase("c", "en", "reversed: 12c9a3f7-YRANAC-NOITSAB", CONTEXT, (("CANARY", 10, 33),)),
    ]
    scores = evaluate_leakage(cases, LeakageDetector())
    assert scores["CANARY"].texts.recall == 0.5 and scores["CANARY"].texts.precision == 1.0
    assert scores["EXFILTRATION_LINK"].texts.precision == 0.0
    assert scores["ALL"].spans.true_positives == 1 and scores["ALL"].spans.false_negatives == 1


def test_bad_rows_raise_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "leaks.jsonl"
    path.write_text(json.dumps({"id": "x", "text": "t", "context": {}, "leaks": []}) + "\n" + '{"id": 1}\n')
    with pytest.raises(ConfigError, match=r"leaks\.jsonl:2"):
        load_leakage_cases(path)


def test_labelled_set_is_well_formed() -> None:
    cases = load_leakage_cases(DATA)
    assert len(cases) >= 100 and {case.lang for case in cases} == {"en", "de"}
    assert {case.split for case in cases} == {"dev", "holdout"}
    assert sum(1 for case in cases if not case.leaks) >= 25
    for case in cases:
        for _type, start, end in case.leaks:
            assert 0 <= start < end <= len(case.text), case.id


def test_dev_answers_meet_the_bar() -> None:
    cases = [case for case in load_leakage_cases(DATA) if case.split == "dev"]
    overall = evaluate_leakage(cases, LeakageDetector())["ALL"]
    assert overall.texts.precision >= 0.95 and overall.texts.recall >= 0.95


def test_command_line_prints_and_writes_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    output = tmp_path / "scores.json"
    assert main([str(DATA), "--json", str(output)]) == 0
    assert "holdout" in capsys.readouterr().out
    written = json.loads(output.read_text())
    assert set(written["splits"]) == {"all", "dev", "holdout"} and "CANARY" in written["splits"]["dev"]
