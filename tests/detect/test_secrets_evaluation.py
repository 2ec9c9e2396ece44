"""Scoring secret scanners (bastion.evaluation.secrets) and the labelled sets it reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.evaluation.secrets import (
    DetectSecretsScanner,
    LabelledSecret,
    LabelledText,
    bastion_scanner,
    load_labelled_texts,
    recall_by_type,
    run_scanner,
    score,
    score_by_kind,
)

DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "secrets"

ROWS = [
    LabelledText(
        "a", "log", "log", "token=Zt9Xq2Lm7Kv4Pw8Rn3Yb6Hc1", (LabelledSecret("GENERIC_SECRET", 6, 30),)
    ),
    LabelledText("b", "log", "log", "nothing here", ()),
    LabelledText("c", "prose_en", "txt", "also nothing", ()),
]


def test_scores_count_text_hits_false_alarms_and_spans() -> None:
    found = [[("GENERIC_SECRET", 6, 30)], [("X", 0, 7)], []]
    result = score(ROWS, found)
    assert result.texts_with_secrets == 1 and result.texts_without_secrets == 2
    assert result.text_recall == 1.0 and result.text_false_positive_rate == 0.5
    assert result.span_overlap.true_positives == 1 and result.span_overlap.false_positives == 1
    assert result.span_exact.true_positives == 1
    by_kind = score_by_kind(ROWS, found)
    assert list(by_kind) == ["log", "prose_en"] and by_kind["prose_en"].text_false_positive_rate == 0.0


def test_overlap_scores_ignore_types_but_exact_scores_do_not() -> None:
    result = score(ROWS[:1], [[("Secret Keyword", 10, 12)]])
    assert result.span_overlap.true_positives == 1 and result.span_exact.true_positives == 0
    assert recall_by_type(ROWS[:1], [[("other", 0, 7)]]) == {"GENERIC_SECRET": (1, 1)}
    assert recall_by_type(ROWS[:1], [[("other", 0, 6)]]) == {"GENERIC_SECRET": (0, 1)}


def test_bad_rows_raise_config_errors_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"id": "a", "kind": "k", "text": "t", "secrets": []}) + "\n{broken\n")
    with pytest.raises(ConfigError, match=r"set\.jsonl:2"):
        load_labelled_texts(path)


@pytest.mark.parametrize("split", ["dev", "test"])
def test_labelled_sets_are_well_formed_and_balanced(split: str) -> None:
    rows = load_labelled_texts(DATA / f"{split}.jsonl")
    assert len(rows) >= 800
    with_secrets = sum(1 for row in rows if row.secrets)
    assert abs(with_secrets - (len(rows) - with_secrets)) <= len(rows) // 10
    for row in rows:
        for secret in row.secrets:
            value = row.text[secret.start : secret.end]
            assert value and value == value.strip(), row.id
    assert {row.kind for row in rows} >= {"prose_en", "prose_de", "log", "config_env", "config_yaml", "code"}


def test_dev_set_meets_the_quality_bar() -> None:
    rows = load_labelled_texts(DATA / "dev.jsonl")
    result = score(rows, run_scanner(rows, bastion_scanner()))
    assert result.text_recall >= 0.95
    assert result.text_false_positive_rate <= 0.03
    assert result.span_overlap.precision >= 0.95


def test_detect_secrets_anchor_locates_what_it_finds() -> None:
    pytest.importorskip("detect_secrets")
    row = LabelledText(
        "x",
        "config_env",
        "env",
        "AWS_ACCESS_KEY_ID=AKIAUJZDEGXDNCF32EPF\n",
        (LabelledSecret("AWS_ACCESS_KEY", 18, 38),),
    )
    with DetectSecretsScanner() as anchor:
        found = anchor(row)
    assert any(start == 18 and end == 38 for _type, start, end in found)
    assert anchor.unlocated == 0
