"""Evidence collectors on real files, control status computed from evidence (with staleness), coverage,
the control catalog's mappings, and the risk register."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bastion.core.taxonomy import load_taxonomy
from bastion.govern.assessment import assess
from bastion.govern.controls import (
    FRAMEWORKS,
    ControlStatus,
    coverage,
    framework_items,
    load_controls,
    normalise_ref,
)
from bastion.govern.evidence import Collector, EvidenceOutcome, collect_one, collectors
from bastion.govern.inventory import EVIDENCE_KINDS, EvidenceSource, example_inventory_text
from bastion.govern.risks import CONTROL_WEIGHT, heatmap

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def _report(
    asr: float, attempts: int = 40, finished: str = "2026-11-20T10:00:00+00:00", critical: int = 0
) -> dict[str, Any]:
    findings = [
        {"id": f"a{i}", "severity": "critical" if i < critical else "high"}
        for i in range(int(asr * attempts))
    ]
    return {
        "schema_version": 1,
        "run_id": "r1",
        "target": "demo:hardened",
        "seed": 7,
        "started_at": finished,
        "finished_at": finished,
        "summary": {
            "attempts": attempts,
            "successes": len(findings),
            "asr": asr,
            "errors": 0,
            "by_category": {},
        },
        "findings": findings,
        "attempts": [],
    }


def _write(path: Path, content: str | dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _collect(tmp_path: Path, kind: str, name: str, **extra: Any) -> Any:
    return collect_one(EvidenceSource(kind=kind, path=name, **extra), tmp_path, NOW)


def test_every_evidence_kind_has_a_collector() -> None:
    kinds = {collectors.create(plugin_id).kind for plugin_id in collectors.ids()}
    assert kinds == set(EVIDENCE_KINDS)
    assert all(isinstance(collectors.create(p), Collector) for p in collectors.ids())


def test_redteam_report_supports_or_contradicts_by_asr(tmp_path: Path) -> None:
    _write(tmp_path / "good.json", _report(0.05))
    _write(tmp_path / "bad.json", _report(0.25))
    _write(tmp_path / "critical.json", _report(0.05, critical=1))
    good = _collect(tmp_path, "redteam_report", "good.json")
    assert good.outcome == EvidenceOutcome.SUPPORTS
    assert good.produced_at == dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    assert len(good.sha256) == 64 and "5.0%" in good.summary
    assert good.expires_at == good.produced_at + dt.timedelta(days=180)
    assert _collect(tmp_path, "redteam_report", "bad.json").outcome == EvidenceOutcome.CONTRADICTS
    assert _collect(tmp_path, "redteam_report", "critical.json").outcome == EvidenceOutcome.CONTRADICTS


@pytest.mark.parametrize(
    ("kind", "content", "outcome"),
    [
        (
            "model_scan",
            {"files": [{"path": "m.pkl", "format": "pickle", "verdict": "safe", "findings": []}]},
            "supports",
        ),
        (
            "model_scan",
            {"files": [{"path": "m.pkl", "format": "pickle", "verdict": "malicious", "findings": [1]}]},
            "contradicts",
        ),
        ("model_scan", {"files": []}, "contradicts"),
        ("model_scan", {"something": "else"}, "invalid"),
        (
            "privacy_report",
            {"target": "credit", "attacks": [{"name": "lira", "auc": 0.71}], "verdict": "fail"},
            "contradicts",
        ),
        (
            "privacy_report",
            {"target": "credit", "attacks": [{"name": "lira", "auc": 0.51}], "verdict": "pass"},
            "supports",
        ),
        (
            "ai_bom",
            {
                "bomFormat": "CycloneDX",
                "specVersion": "1.6",
                "components": [{"hashes": [{"alg": "SHA-256"}]}],
            },
            "supports",
        ),
        ("ai_bom", {"bomFormat": "SPDX"}, "invalid"),
        ("vendor_assessment", {"vendor": "X", "score": 20, "rating": "good"}, "supports"),
        ("contract_check", {"clauses": [{"id": "a", "status": "missing"}]}, "contradicts"),
        ("guard_policy", {"input": {"detectors": ["injection"]}}, "supports"),
        ("gateway_config", {}, "invalid"),
        ("retention_settings", {"retention": {"prompts_days": 30, "audit_log_days": 365}}, "supports"),
        ("retention_settings", {"retention": {"prompts_days": 0}}, "contradicts"),
    ],
)
def test_collectors_judge_the_shapes_they_know(
    tmp_path: Path, kind: str, content: dict[str, Any], outcome: str
) -> None:
    _write(tmp_path / "e.json", content)
    assert _collect(tmp_path, kind, "e.json").outcome.value == outcome


def test_collectors_survive_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bin.json").write_bytes(b"\x00\x01\x02")
    _write(tmp_path / "broken.json", "{not json")
    _write(tmp_path / "list.yaml", "- a\n- b\n")
    assert _collect(tmp_path, "redteam_report", "bin.json").outcome == EvidenceOutcome.INVALID
    assert _collect(tmp_path, "redteam_report", "broken.json").outcome == EvidenceOutcome.INVALID
    assert _collect(tmp_path, "guard_policy", "list.yaml").outcome == EvidenceOutcome.INVALID
    missing = _collect(tmp_path, "model_scan", "nowhere.json")
    assert missing.outcome == EvidenceOutcome.MISSING and missing.sha256 == ""


def test_monitor_rules_folder_is_hashed(tmp_path: Path) -> None:
    _write(tmp_path / "rules" / "injection.sql", "select * from events where detector = 'injection'")
    _write(tmp_path / "rules" / "README.txt", "not a rule")
    record = _collect(tmp_path, "monitor_rules", "rules")
    assert record.outcome == EvidenceOutcome.SUPPORTS and record.summary == "1 rule files"
    (tmp_path / "empty").mkdir()
    assert _collect(tmp_path, "monitor_rules", "empty").outcome == EvidenceOutcome.CONTRADICTS


def test_signed_documents(tmp_path: Path) -> None:
    _write(tmp_path / "policy.md", "# AI policy\napproved_by: Dr. A\napproved_at: 2026-10-01\n")
    _write(tmp_path / "template.md", "# AI policy\napproved_by:\napproved_at:\n\ntext")
    _write(tmp_path / "signed.md", "# Roles")
    _write(tmp_path / "signed.md.sig", "signature")
    front = _collect(tmp_path, "signed_document", "policy.md")
    assert front.outcome == EvidenceOutcome.SUPPORTS and front.produced_at == dt.datetime(
        2026, 10, 1, tzinfo=dt.UTC
    )
    assert _collect(tmp_path, "signed_document", "template.md").outcome == EvidenceOutcome.UNSIGNED
    assert _collect(tmp_path, "signed_document", "signed.md").outcome == EvidenceOutcome.SUPPORTS
    by_inventory = _collect(
        tmp_path, "signed_document", "template.md", approved_by="CEO", approved_at="2026-11-01"
    )
    assert by_inventory.outcome == EvidenceOutcome.SUPPORTS


def _project(tmp_path: Path, report: dict[str, Any] | None = None) -> Path:
    inventory = _write(tmp_path / "bastion.yaml", example_inventory_text())
    if report is not None:
        _write(tmp_path / "reports" / "redteam" / "report.json", report)
    _write(
        tmp_path / "config" / "gateway.yaml",
        "gateway:\n  rate_limit: {requests_per_minute: 60}\n  audit: {log: true}\n",
    )
    _write(
        tmp_path / "config" / "guard-policy.yaml",
        "input: {detectors: [injection]}\noutput: {detectors: [leakage]}\n",
    )
    _write(tmp_path / "docs" / "ai-policy.md", "# AI policy\n")
    return inventory


def _status(path: Path, control_id: str, now: dt.datetime = NOW) -> ControlStatus:
    assessment = assess(path, now=now)
    return next(r.status for r in assessment.controls if r.control.id == control_id)


def test_control_status_follows_the_evidence(tmp_path: Path) -> None:
    path = _project(tmp_path, _report(0.05))
    assessment = assess(path, now=NOW)
    status = {r.control.id: r.status for r in assessment.controls}
    assert status["ctl-adversarial-testing"] == ControlStatus.EFFECTIVE
    assert status["ctl-rate-limits"] == ControlStatus.EFFECTIVE
    assert status["ctl-input-guard"] == ControlStatus.EFFECTIVE
    assert status["ctl-ai-policy"] == ControlStatus.EFFECTIVE  # approved_by/approved_at in the inventory
    assert status["ctl-monitoring"] == ControlStatus.MISSING
    assert status["ctl-pseudonymisation"] == ControlStatus.NOT_APPLICABLE
    assert status["ctl-inventory"] == ControlStatus.EFFECTIVE


def test_a_config_must_mention_what_the_control_requires(tmp_path: Path) -> None:
    path = _project(tmp_path)
    _write(tmp_path / "config" / "gateway.yaml", "gateway:\n  upstream: http://localhost:8400\n")
    assert _status(path, "ctl-rate-limits") == ControlStatus.MISSING


def test_bad_red_team_result_makes_the_control_fail(tmp_path: Path) -> None:
    path = _project(tmp_path, _report(0.4))
    assert _status(path, "ctl-adversarial-testing") == ControlStatus.FAILING


def test_stale_evidence_lowers_the_status(tmp_path: Path) -> None:
    path = _project(tmp_path, _report(0.05, finished="2026-06-01T10:00:00+00:00"))
    assert _status(path, "ctl-adversarial-testing") == ControlStatus.STALE  # older than the control's 90 days
    gateway = tmp_path / "config" / "gateway.yaml"
    old = (NOW - dt.timedelta(days=400)).timestamp()
    os.utime(gateway, (old, old))
    assert _status(path, "ctl-rate-limits") == ControlStatus.STALE


def test_residual_risk_drops_only_with_effective_controls(tmp_path: Path) -> None:
    weak = assess(_project(tmp_path / "a", _report(0.4)), now=NOW)
    strong = assess(_project(tmp_path / "b", _report(0.02)), now=NOW)
    key = "risk-customer-assistant-direct-injection"
    weak_risk = next(r for r in weak.risks if r.id == key)
    strong_risk = next(r for r in strong.risks if r.id == key)
    assert weak_risk.inherent == strong_risk.inherent == 20
    assert strong_risk.residual < weak_risk.residual
    # 2 of 3 controls effective (input guard, red team), monitoring missing: 5 x (1 - 0.7 x 2/3) -> 3
    assert strong_risk.residual_likelihood == 3 and CONTROL_WEIGHT == 0.7
    grid = heatmap(weak.risks)
    assert sum(map(sum, grid)) == len(weak.risks)
    assert grid[weak_risk.impact - 1][weak_risk.likelihood - 1] >= 1


def test_every_mapping_names_a_real_framework_item() -> None:
    taxonomy = load_taxonomy()
    for control in load_controls():
        assert control.evidence, control.id
        for kind in control.evidence:
            assert kind in (*EVIDENCE_KINDS, "inventory", "classification", "risk_register"), (
                control.id,
                kind,
            )
        for framework, refs in control.mappings.items():
            items = {item for item, _ in framework_items(framework)}
            for ref in refs:
                assert normalise_ref(framework, ref) in items, (control.id, framework, ref)
        taxonomy.validate(control.mappings.get("owasp_llm", ()))


def test_coverage_matrix_per_framework(tmp_path: Path) -> None:
    assessment = assess(_project(tmp_path, _report(0.05)), now=NOW)
    for framework in FRAMEWORKS:
        rows = coverage(assessment.controls, framework)
        assert rows and all(r.framework == framework for r in rows)
    owasp = {r.item: r for r in coverage(assessment.controls, "owasp_llm")}
    assert set(owasp) == {f"LLM{i:02d}" for i in range(1, 11)}
    assert all(row.controls for row in owasp.values()), "every OWASP LLM item has a control"
    assert owasp["LLM01"].status == ControlStatus.EFFECTIVE
    eu = {r.item: r for r in coverage(assessment.controls, "eu_ai_act")}
    assert "ctl-ai-disclosure" in eu["Art. 50"].controls


def test_a_real_red_team_report_is_read(tmp_path: Path) -> None:
    """``report.json`` of ``bastion redteam run --target demo:hardened --max-requests 24`` (2026-11-30)."""
    real = Path(__file__).parent / "data" / "redteam_report_demo_hardened.json"
    record = collect_one(EvidenceSource(kind="redteam_report", path=str(real)), tmp_path, NOW)
    assert record.outcome == EvidenceOutcome.SUPPORTS
    assert record.summary.startswith("target demo:hardened: attack-success rate 0.0% over 24 attempts")
    assert record.produced_at is not None and record.produced_at.date() == dt.date(2026, 11, 30)


def test_a_red_team_report_counts_only_for_the_categories_it_attacked(tmp_path: Path) -> None:
    report = _report(0.0)
    report["summary"]["by_category"] = {"LLM01": {"attempts": 40, "successes": 0, "asr": 0.0}}
    path = _project(tmp_path, report)
    assert _status(path, "ctl-adversarial-testing") == ControlStatus.EFFECTIVE
    assert _status(path, "ctl-tenant-retrieval") == ControlStatus.MISSING  # no LLM08 probe was run
    report["summary"]["by_category"]["LLM08"] = {"attempts": 12, "successes": 0, "asr": 0.0}
    _write(tmp_path / "reports" / "redteam" / "report.json", report)
    assert _status(path, "ctl-tenant-retrieval") == ControlStatus.EFFECTIVE
