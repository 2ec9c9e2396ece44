"""The command contract of ``bastion govern`` and the audit pack (HTML, PDF, OSCAL validated by trestle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bastion.cli.govern import govern_app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(govern_app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("project")
    code, _, err = _invoke("init", str(folder))
    assert code == 0, err
    return folder / "bastion.yaml"


def test_init_then_classify_json_keeps_the_contract(project: Path) -> None:
    code, out, _ = _invoke("classify", "--inventory", str(project), "--format", "json")
    assert code == 0
    systems = json.loads(out)
    assert [s["system"] for s in systems] == ["customer-assistant", "payment-propensity"]
    for item in systems:
        assert set(item) >= {"system", "risk", "ambiguous", "role", "reasons", "obligations"}
        assert item["risk"] in {"prohibited", "high", "limited", "minimal"}
        assert all({"ref", "text"} <= set(r) for r in item["reasons"])
        assert all({"ref", "applies_from"} <= set(o) for o in item["obligations"])
    assert systems[1]["ambiguous"] is True and systems[1]["risk"] == "high"
    assert any(r["ref"] == "Annex III 5(b)" for r in systems[1]["reasons"])
    assert any(r["ref"] == "Art. 50(1)" for r in systems[0]["reasons"])


def test_init_refuses_to_overwrite(project: Path) -> None:
    code, _, err = _invoke("init", str(project.parent))
    assert code == 2 and "--force" in err


def test_invalid_inventory_exits_2_with_file_line_field(tmp_path: Path, project: Path) -> None:
    bad = tmp_path / "bastion.yaml"
    bad.write_text(
        project.read_text(encoding="utf-8").replace("lifecycle: production", "lifecycle: live", 1),
        encoding="utf-8",
    )
    code, _, err = _invoke("classify", "-i", str(bad), "--format", "json")
    assert code == 2
    assert "systems[0].lifecycle" in err and f"{bad}:" in err


def test_unknown_format_is_a_usage_error(project: Path) -> None:
    code, _, err = _invoke("classify", "-i", str(project), "--format", "xml")
    assert code == 2 and "--format" in err


def test_threats_json_mermaid_and_diff(tmp_path: Path, project: Path) -> None:
    code, out, _ = _invoke("threats", "-i", str(project), "--format", "json")
    assert code == 0
    previous = tmp_path / "threats.json"
    previous.write_text(out, encoding="utf-8")
    assert len(json.loads(out)["threats"]) > 20
    code, out, _ = _invoke(
        "threats", "-i", str(project), "--format", "mermaid", "--system", "customer-assistant"
    )
    assert code == 0 and out.count("flowchart LR") == 1
    changed = tmp_path / "bastion.yaml"
    document = yaml.safe_load(project.read_text(encoding="utf-8"))
    document["systems"][0]["components"].append(
        {
            "id": "monitor",
            "name": "Monitor",
            "kind": "monitoring",
            "zone": "ops",
            "stores_personal_data": True,
        }
    )
    changed.write_text(yaml.safe_dump(document), encoding="utf-8")
    code, out, _ = _invoke("threats", "-i", str(changed), "--diff", str(previous), "--format", "json")
    assert code == 0
    diff = json.loads(out)
    assert diff["added"] == ["customer-assistant/thr-logs-personal-data/monitor"] and diff["removed"] == []


def test_controls_evidence_and_risks_commands(project: Path) -> None:
    code, out, _ = _invoke("controls", "-i", str(project), "--format", "json")
    assert code == 0
    controls = {c["id"]: c for c in json.loads(out)}
    assert controls["ctl-inventory"]["status"] == "effective"
    assert controls["ctl-adversarial-testing"]["status"] == "missing"
    code, out, _ = _invoke("controls", "-i", str(project), "--framework", "iso42001", "--format", "json")
    assert code == 0 and any(row["item"] == "A.6.2.4" for row in json.loads(out))
    code, out, _ = _invoke("evidence", "-i", str(project), "--format", "json")
    assert code == 0 and {r["kind"] for r in json.loads(out)} >= {"inventory", "redteam_report"}
    code, out, _ = _invoke("risks", "-i", str(project), "--format", "json")
    register = json.loads(out)
    assert code == 0 and len(register["heatmap"]["inherent"]) == 5
    assert any(r["id"] == "risk-annex-iii-reclassification" for r in register["risks"])


def test_pack_in_every_format_validates(tmp_path: Path, project: Path) -> None:
    pytest.importorskip("trestle")
    pytest.importorskip("fpdf")
    out = tmp_path / "pack"
    code, _, err = _invoke(
        "pack", "-i", str(project), "--format", "html,pdf", "--format", "oscal", "--output", str(out)
    )
    assert code == 0, err
    assert "OSCAL documents validate" in err
    names = {p.name for p in out.iterdir()}
    assert {"assessment-results.json", "poam.json", "component-definition.json", "catalog.json"} <= names
    assert {"audit-pack.html", "audit-pack.pdf", "annex-iv-payment-propensity.md", "ai-policy.md"} <= names
    html = (out / "audit-pack.html").read_text(encoding="utf-8")
    for heading in ("Systems and EU AI Act classification", "Threat model", "Risk register", "Open actions"):
        assert heading in html
    assert "<script" not in html and "Annex III 5(b)" in html and "<svg" in html
    pdf = (out / "audit-pack.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") >= 3
    results = json.loads((out / "assessment-results.json").read_text(encoding="utf-8"))["assessment-results"]
    findings = results["results"][0]["findings"]
    assert any(
        f["target"]["target-id"] == "ctl-inventory" and f["target"]["status"]["state"] == "satisfied"
        for f in findings
    )
    annex = (out / "annex-iv-payment-propensity.md").read_text(encoding="utf-8")
    assert (
        "Payment-propensity scoring" in annex and "## 9. Post-market monitoring" in annex and "$" not in annex
    )


def test_pack_is_deterministic_for_the_same_inputs(tmp_path: Path, project: Path) -> None:
    import datetime as dt

    from bastion.govern.assessment import assess
    from bastion.govern.pack.oscal import oscal_documents

    now = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    first = oscal_documents(assess(project, now=now))
    second = oscal_documents(assess(project, now=now))
    assert first == second


def test_broken_oscal_is_caught(tmp_path: Path, project: Path) -> None:
    pytest.importorskip("trestle")
    from bastion.govern.pack import validate

    out = tmp_path / "pack"
    assert _invoke("pack", "-i", str(project), "--format", "oscal", "--output", str(out))[0] == 0
    poam = out / "poam.json"
    document = json.loads(poam.read_text(encoding="utf-8"))
    document["plan-of-action-and-milestones"]["poam-items"][0]["uuid"] = "not-a-uuid"
    poam.write_text(json.dumps(document), encoding="utf-8")
    problems = validate(out)
    assert [name for name, _ in problems] == ["poam.json"]


def test_pack_rejects_unknown_formats(tmp_path: Path, project: Path) -> None:
    code, _, err = _invoke("pack", "-i", str(project), "--format", "docx", "--output", str(tmp_path))
    assert code == 2 and "--format" in err


@pytest.mark.slow
def test_a_large_inventory_stays_linear(tmp_path: Path) -> None:
    """100 systems: every count scales with the systems and the pack is written in bounded time."""
    import copy
    import time

    from bastion.govern.assessment import assess
    from bastion.govern.inventory import example_inventory_text
    from bastion.govern.pack import write_pack

    document = yaml.safe_load(example_inventory_text())
    systems = []
    for index in range(50):
        for system in document["systems"]:
            clone = copy.deepcopy(system)
            clone["id"] = f"{system['id']}-{index}"
            systems.append(clone)
    document["systems"], document["risks"] = systems, []
    path = tmp_path / "bastion.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    started = time.perf_counter()
    assessment = assess(path)
    write_pack(assessment, tmp_path / "pack", ["html", "oscal"])
    assert time.perf_counter() - started < 120
    assert len(assessment.classifications) == 100
    assert len(assessment.threats) == 50 * 31
    assert len(assessment.risks) == 50 * 22
