"""The command contract: ``monitor ingest --audit`` then ``monitor run --format json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.monitor.conftest import app, attack, chat, write_audit


def test_ingest_audit_then_run_raises_the_repeated_injection_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BASTION_AUDIT_DB", raising=False)
    write_audit(tmp_path / ".bastion" / "audit.sqlite", [attack(1), chat(2), attack(3), attack(4)])
    runner = CliRunner()
    ingested = runner.invoke(app, ["monitor", "ingest", "--audit", "--format", "json"])
    assert ingested.exit_code == 0, ingested.output
    assert json.loads(ingested.output)[0]["added"] == 4
    result = runner.invoke(app, ["monitor", "run", "--format", "json"])
    assert result.exit_code == 0, result.output
    alerts = json.loads(result.output)
    assert [(a["rule"], a["group"], a["count"]) for a in alerts] == [
        ("monitor.injection.repeated", "demo/demo-key", 3)
    ]
    for field in ("rule", "severity", "group", "count", "first_seen", "last_seen"):
        assert field in alerts[0]
    assert alerts[0]["severity"] == "high" and alerts[0]["first_seen"].startswith("2026-11-30T09:00:01")
    assert (tmp_path / ".bastion" / "monitor.duckdb").is_file()
    again = runner.invoke(app, ["monitor", "run", "--format", "json"])
    assert json.loads(again.output) == []
    listed = runner.invoke(app, ["monitor", "alerts"])
    assert len(json.loads(listed.output)) == 1


def test_ingest_files_reports_bad_lines_and_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(chat(1).to_json() + "\n{oops\n", encoding="utf-8")
    store = str(tmp_path / "m.duckdb")
    runner = CliRunner()
    result = runner.invoke(app, ["monitor", "ingest", str(path), "--store", store])
    assert result.exit_code == 0
    assert "line 2: not JSON" in result.output
    assert runner.invoke(app, ["monitor", "ingest", "--store", store]).exit_code == 2
    assert (
        runner.invoke(
            app,
            ["monitor", "ingest", "--audit", "--audit-db", str(tmp_path / "none.sqlite"), "--store", store],
        ).exit_code
        == 1
    )
    assert runner.invoke(app, ["monitor", "run", "--format", "xml", "--store", store]).exit_code == 2
    assert runner.invoke(app, ["monitor", "run", "--since", "last tuesday", "--store", store]).exit_code == 2


def test_rules_test_list_and_exports() -> None:
    runner = CliRunner()
    tested = runner.invoke(app, ["monitor", "rules", "test"])
    assert tested.exit_code == 0 and "FAIL" not in tested.output
    listed = json.loads(runner.invoke(app, ["monitor", "rules", "list", "--format", "json"]).output)
    assert len(listed) == 10
    sigma = runner.invoke(app, ["monitor", "rules", "export", "--to", "sigma"])
    documents = list(yaml.safe_load_all(sigma.stdout))
    assert {d["title"] for d in documents} >= {"Canary or system-prompt leakage in a response"}
    assert any("correlation" in d for d in documents)
    spark = runner.invoke(app, ["monitor", "rules", "export", "--to", "spark"])
    assert spark.exit_code == 0 and " DIV " in spark.output and "//" not in spark.output


def test_incident_and_retention_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ten_days_ago = -10 * 86400  # seconds from T0, so the 1-day policy below finds them expired
    write_audit(tmp_path / "audit.sqlite", [attack(n, seconds=ten_days_ago + n) for n in (1, 2, 3)])
    runner = CliRunner()
    runner.invoke(app, ["monitor", "ingest", "--audit", "--audit-db", str(tmp_path / "audit.sqlite")])
    (alert,) = json.loads(runner.invoke(app, ["monitor", "run", "--format", "json"]).output)
    opened = runner.invoke(
        app,
        [
            "monitor",
            "incident",
            "open",
            "--title",
            "Injection series",
            "--alert",
            alert["id"],
            "--actor",
            "a",
        ],
    )
    assert opened.exit_code == 0, opened.output
    incident = json.loads(opened.output)
    assert incident["playbook"] == "prompt-injection-campaign" and incident["state"] == "open"
    updated = runner.invoke(
        app,
        [
            "monitor",
            "incident",
            "update",
            incident["id"],
            "--owner",
            "bob",
            "--flag",
            "personal_data_breach",
            "--milestone",
            "gdpr.notified@2026-11-30T12:00:00+00:00",
            "--evidence",
            "url:https://ticket/1",
            "--actor",
            "a",
        ],
    )
    shown = json.loads(updated.output)
    assert shown["owner"] == "bob" and shown["clocks"][0]["clock"] == "gdpr.art33"
    assert {"kind": "url", "reference": "https://ticket/1"} in shown["evidence"]
    moved = runner.invoke(app, ["monitor", "incident", "move", incident["id"], "contained", "--actor", "a"])
    assert json.loads(moved.output)["state"] == "contained"
    assert runner.invoke(app, ["monitor", "incident", "move", incident["id"], "sideways"]).exit_code == 2
    listed = runner.invoke(app, ["monitor", "incident", "list"])
    assert incident["id"] in listed.output and "gdpr.art33" in listed.output

    policies = tmp_path / "retention.yaml"
    policies.write_text(
        yaml.safe_dump(
            {"policies": [{"id": "events-1d", "data_class": "pseudonymised_events", "keep": "1d"}]}
        ),
        encoding="utf-8",
    )
    hold = runner.invoke(app, ["retention", "hold", "add", "tenant", "demo", "--reason", "case 7"])
    assert hold.exit_code == 0 and hold.output.startswith("HOLD-")
    applied = json.loads(runner.invoke(app, ["retention", "apply", "--policies", str(policies)]).output)
    assert applied[0]["deleted"] == 0 and applied[0]["held"] == 3
    runner.invoke(app, ["retention", "hold", "release", hold.output.strip()])
    erased = runner.invoke(
        app,
        [
            "retention",
            "erase",
            "--tenant",
            "demo",
            "--request",
            "DSR-1",
            "--token",
            "PERSON_cce5t42n9ew3qybx",
        ],
    )
    assert erased.exit_code == 0 and json.loads(erased.output)["erased_events"] == 0
    applied = json.loads(runner.invoke(app, ["retention", "apply", "--policies", str(policies)]).output)
    assert applied[0]["deleted"] == 3
    verified = runner.invoke(app, ["retention", "receipts"])
    assert verified.exit_code == 0 and json.loads(verified.output)["verified"] is True


def test_run_with_delivery_to_a_down_receiver_keeps_a_dead_letter(tmp_path: Path) -> None:
    write_audit(tmp_path / "audit.sqlite", [attack(1), attack(2), attack(3)])
    store = str(tmp_path / "m.duckdb")
    channels = tmp_path / "channels.yaml"
    channels.write_text(
        yaml.safe_dump(
            {
                "retries": 2,
                "backoff_seconds": 0,
                "channels": [
                    {"type": "webhook", "name": "soc", "url": "http://127.0.0.1:9/hook", "timeout_seconds": 1}
                ],
            }
        ),
        encoding="utf-8",
    )
    runner = CliRunner()
    runner.invoke(
        app, ["monitor", "ingest", "--audit", "--audit-db", str(tmp_path / "audit.sqlite"), "--store", store]
    )
    result = runner.invoke(
        app, ["monitor", "run", "--format", "json", "--deliver", str(channels), "--store", store]
    )
    assert result.exit_code == 0
    (alert,) = json.loads(result.stdout)
    letters = json.loads(runner.invoke(app, ["monitor", "dead-letters", "--store", store]).output)
    assert [(d["channel"], d["alert_id"], d["attempts"]) for d in letters] == [("soc", alert["id"], 2)]
    retried = runner.invoke(
        app, ["monitor", "deliver", "--config", str(channels), "--retry-dead-letters", "--store", store]
    )
    assert retried.exit_code == 1 and "dead letter" in retried.output
