"""The PII evaluation code (``bastion.evaluation.pii``) on small hand-made sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.evaluation.pii import (
    AnchorUnavailableError,
    PIIExample,
    evaluate_pii,
    evaluate_predictor,
    load_pii_set,
    presidio_predictor,
)

EXAMPLES = [
    PIIExample("de-1", "de", "Frau Yılmaz, Tel. 0341 5567823", (("PERSON", 5, 11), ("PHONE", 18, 30))),
    PIIExample("en-1", "en", "Call Mr Smith on 07700 900417", (("PERSON", 8, 13), ("PHONE", 17, 29))),
]


def write_set(path: Path, examples: list[PIIExample]) -> Path:
    rows = [
        {
            "id": e.id,
            "lang": e.lang,
            "text": e.text,
            "entities": [{"type": t, "start": s, "end": n} for t, s, n in e.entities],
        }
        for e in examples
    ]
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in rows) + "\n", encoding="utf-8")
    return path


def test_perfect_predictor_scores_one() -> None:
    gold = {e.text: list(e.entities) for e in EXAMPLES}
    report = evaluate_predictor(EXAMPLES, lambda text: gold[text], name="oracle")
    assert report.types == ("PERSON", "PHONE")
    assert report.overall.exact.f1 == 1.0
    assert report.by_language["de"]["PHONE"].exact.true_positives == 1
    assert report.mistakes == ()
    assert report.latency is not None and report.latency.count == 2


def test_exact_and_overlap_matching_differ() -> None:
    def predict(text: str) -> list[tuple[str, int, int]]:
        return [("PERSON", 5, 13)] if text.startswith("Frau") else [("PHONE", 17, 29), ("EMAIL", 0, 4)]

    report = evaluate_predictor(EXAMPLES, predict, name="sloppy", types=["PERSON", "PHONE"])
    person = report.by_type["PERSON"]
    assert (person.exact.true_positives, person.exact.false_positives, person.exact.false_negatives) == (
        0,
        1,
        2,
    )
    assert person.overlap.true_positives == 1
    assert report.by_type["PHONE"].exact.true_positives == 1
    assert "EMAIL" not in report.by_type  # types outside the list are ignored
    kinds = sorted((m.id, m.kind, m.type) for m in report.mistakes)
    assert ("de-1", "spurious", "PERSON") in kinds and ("en-1", "missed", "PERSON") in kinds


def test_report_serialises(tmp_path: Path) -> None:
    report = evaluate_pii(write_set(tmp_path / "mini.jsonl", EXAMPLES))
    data = report.to_dict()
    assert data["dataset"] == "mini.jsonl"
    assert data["by_type"]["PHONE"]["exact"]["f1"] == 1.0
    assert data["by_language"]["en"]["PERSON"]["support"] == 1
    assert set(data["latency"]) >= {"p50_ms", "p99_ms", "per_second"}
    json.dumps(data)


def test_bad_sets_are_config_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(
        '{"id": "x", "lang": "de", "text": "abc", "entities": [{"type": "PHONE", "start": 1, "end": 9}]}\n'
    )
    with pytest.raises(ConfigError, match="outside the text"):
        load_pii_set(broken)
    broken.write_text("not json\n")
    with pytest.raises(ConfigError, match=r"broken\.jsonl:1"):
        load_pii_set(broken)
    with pytest.raises(ConfigError, match="cannot read"):
        load_pii_set(tmp_path / "missing.jsonl")


def test_shipped_sets_are_well_formed() -> None:
    root = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "pii"
    for name in ("dev.jsonl", "test.jsonl"):
        examples = load_pii_set(root / name)
        assert len(examples) >= 150
        languages = [e.lang for e in examples]
        assert languages.count("de") == languages.count("en")
        for example in examples:
            for _, start, end in example.entities:
                value = example.text[start:end]
                assert value == value.strip() and value[-1] not in ".,;:", (example.id, value)


def test_presidio_anchor_runs_offline_when_installed() -> None:
    try:
        predict, covered = presidio_predictor()
    except AnchorUnavailableError:
        pytest.skip("presidio-analyzer is not installed")
    assert {"EMAIL", "IBAN", "CREDIT_CARD", "IP_ADDRESS"} <= set(covered)
    found = predict("Mail a.b@example.com, IBAN DE89 3704 0044 0532 0130 00")
    assert ("EMAIL", 5, 20) in found
    assert ("IBAN", 27, 54) in found
