"""``bastion audit verify`` and ``export`` through the command-line runner, on real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bastion.cli.audit import BROKEN_EXIT, audit_app
from bastion.core.events import Event, EventKind
from bastion.guard.audit import SQLiteAuditLog

app = typer.Typer()
app.add_typer(audit_app, name="audit")


@pytest.fixture(autouse=True)
def _no_audit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_AUDIT_KEY", raising=False)
    monkeypatch.delenv("BASTION_AUDIT_DB", raising=False)


def _log(path: Path) -> list[Event]:
    events = [
        Event(
            id=f"evt-{uuid.uuid4().hex}",
            time=datetime(2026, 5, 1, tzinfo=UTC),
            kind=EventKind.CHAT,
            tenant=tenant,
            attributes={"gen_ai.request.model": "m", "bastion.input.text": "Hallo <PERSON_1>"},
        )
        for tenant in ("acme", "globex", "acme")
    ]
    with SQLiteAuditLog(path) as log:
        log.append_many(events)
    return events


def test_verify_exits_0_when_intact_and_4_with_the_broken_row(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    _log(path)
    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(path)])
    assert result.exit_code == 0, result.output
    assert "intact: 3 events" in result.output
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE audit_events SET tenant = 'globex' WHERE seq = 3")
    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(path)])
    assert result.exit_code == BROKEN_EXIT == 4
    assert "BROKEN at seq 3" in result.output
    result = CliRunner().invoke(app, ["audit", "verify", "--db", str(path), "--format", "json"])
    assert result.exit_code == 4
    report = json.loads(result.output)
    assert (report["ok"], report["first_broken_seq"], report["events"]) == (False, 3, 2)


def test_verify_uses_the_environment_and_refuses_a_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = CliRunner().invoke(app, ["audit", "verify", "--db", str(tmp_path / "typo.sqlite")])
    assert missing.exit_code == 2 and "no audit log" in missing.output
    assert not (tmp_path / "typo.sqlite").exists()
    path = tmp_path / "env.sqlite"
    _log(path)
    monkeypatch.setenv("BASTION_AUDIT_DB", str(path))
    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0
    monkeypatch.setenv("BASTION_AUDIT_KEY", "a-key-the-log-was-not-written-with")
    keyed = CliRunner().invoke(app, ["audit", "verify"])
    assert keyed.exit_code == 4 and "not keyed" in keyed.output
    bad = CliRunner().invoke(app, ["audit", "verify", "--format", "xml"])
    assert bad.exit_code == 2


def test_export_writes_event_records_as_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    events = _log(path)
    with SQLiteAuditLog(path) as log:
        assert log.tombstone(events[1].id, "GDPR-7")
    result = CliRunner().invoke(app, ["audit", "export", "--db", str(path), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    assert Event.from_record(lines[0]).to_json() == events[0].to_json()
    assert lines[1] == {
        "id": events[1].id,
        "tenant": "globex",
        "kind": "chat",
        "tombstone": True,
        "seq": 2,
        "recorded_at": lines[1]["recorded_at"],
        "chain_hash": lines[1]["chain_hash"],
    }
    assert lines[3]["kind"] == "admin"

    output = tmp_path / "acme.jsonl"
    result = CliRunner().invoke(
        app,
        ["audit", "export", "--db", str(path), "--tenant", "acme", "--after", "1", "--output", str(output)],
    )
    assert result.exit_code == 0, result.output
    exported = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert [(line["seq"], line["tenant"]) for line in exported] == [(3, "acme")]
    assert CliRunner().invoke(app, ["audit", "export", "--db", str(path), "--format", "csv"]).exit_code == 2
