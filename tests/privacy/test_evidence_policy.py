"""Evidence records and the privacy policy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bastion.core.errors import ConfigError
from bastion.privacy.attacks import AttackKind, AttackResult
from bastion.privacy.evidence import EVIDENCE_SCHEMA, PrivacyEvidence, write_evidence
from bastion.privacy.metrics import summarize
from bastion.privacy.policy import judge, load_policy


def test_evidence_round_trip_hash_and_expiry(tmp_path: Path) -> None:
    made = datetime(2026, 11, 1, tzinfo=UTC)
    record = PrivacyEvidence.for_artifact(
        kind="privacy.model_leakage",
        source="bastion privacy test",
        subject="m",
        artifact=b'{"a": 1}',
        verdict="fail",
        created_at=made,
        validity=timedelta(days=30),
        figures={"auc": 0.9},
    )
    assert record.matches(b'{"a": 1}') and not record.matches(b'{"a": 2}')
    assert not record.expired(made + timedelta(days=29)) and record.expired(made + timedelta(days=30))
    path = write_evidence(record, tmp_path / "e" / "evidence.json")
    data = json.loads(path.read_text())
    assert data["schema"] == EVIDENCE_SCHEMA and data["figures"] == {"auc": 0.9}
    assert PrivacyEvidence.from_dict(data) == record


@pytest.mark.parametrize(
    "change",
    [
        {"schema": "other"},
        {"sha256": "xyz"},
        {"created_at": "not a date"},
        {"expires_at": "2026-01-01T00:00:00+00:00"},
    ],
)
def test_bad_evidence_is_a_config_error(change: dict[str, str]) -> None:
    record = PrivacyEvidence.for_artifact(kind="k", source="s", subject="x", artifact=b"", verdict="pass")
    with pytest.raises(ConfigError):
        PrivacyEvidence.from_dict(record.to_dict() | change)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ConfigError, match="time zone"):
        PrivacyEvidence("k", "s", "x", "0" * 64, "pass", datetime(2026, 1, 1), datetime(2026, 2, 1))


def test_default_policy_and_bad_policies(tmp_path: Path) -> None:
    policy = load_policy()
    assert policy.max_membership_auc == 0.6 and policy.max_attribute_gain == 0.05
    bad = tmp_path / "p.yaml"
    bad.write_text("id: x\nmax_membership_auc: 1.5\nmax_tpr_at_1pct_fpr: 0.1\nmax_tpr_at_01pct_fpr: 0.1\n")
    with pytest.raises(ConfigError, match=r"max_membership_auc.*max_attribute_gain|max_attribute_gain"):
        load_policy(bad)
    bad.write_text("id: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_policy(bad)


def _result(
    attack_id: str, kind: AttackKind, separation: float, negatives: int, baseline: float = 0.0
) -> AttackResult:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(separation, 1, 1000), rng.normal(0, 1, negatives)])
    truth = np.arange(scores.size) < 1000
    summary, curve = summarize(scores, truth)
    base = None
    if kind is AttackKind.ATTRIBUTE:
        base = summarize(np.concatenate([rng.normal(baseline, 1, 1000), rng.normal(0, 1, negatives)]), truth)[
            0
        ]
    return AttackResult(attack_id, kind, summary, curve, 0.1, base)


def test_judge_passes_chance_and_fails_leaks() -> None:
    policy = load_policy()
    chance = judge((_result("m", AttackKind.MEMBERSHIP, 0.0, 2000),), policy)
    assert chance.passed and chance.label == "pass" and not chance.notes
    leak = judge((_result("m", AttackKind.MEMBERSHIP, 3.0, 2000),), policy)
    assert not leak.passed and any("AUC" in reason for reason in leak.reasons)
    few = judge((_result("m", AttackKind.MEMBERSHIP, 0.0, 500),), policy)
    assert few.passed and any("0.1% FPR" in note for note in few.notes)
    gain = judge((_result("a", AttackKind.ATTRIBUTE, 2.0, 1000, baseline=0.5),), policy)
    assert not gain.passed and "gain" in gain.reasons[0]
