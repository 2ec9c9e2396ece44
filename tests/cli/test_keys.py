"""``bastion gateway keys`` through the command-line runner: the key is printed once, actions are audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bastion.cli.keys import keys_app, parse_duration
from bastion.core.errors import UsageError
from bastion.core.events import Attribute
from bastion.guard.audit import SQLiteAuditLog
from bastion.guard.keys import KeyStore

app = typer.Typer()
app.add_typer(keys_app, name="keys")


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BASTION_KEY_PEPPER", "BASTION_GATEWAY_DB", "BASTION_AUDIT_KEY", "BASTION_AUDIT_DB"):
        monkeypatch.delenv(name, raising=False)


def _invoke(tmp_path: Path, *arguments: str) -> tuple[int, str, str]:
    stores = ["--db", str(tmp_path / "gateway.sqlite")]
    if arguments[0] != "list":
        stores += ["--audit-db", str(tmp_path / "audit.sqlite")]
    result = CliRunner().invoke(app, ["keys", *arguments, *stores])
    return result.exit_code, result.stdout, result.stderr


def test_issue_rotate_revoke_and_list(tmp_path: Path) -> None:
    code, out, err = _invoke(
        tmp_path, "issue", "--tenant", "acme", "--scope", "chat", "--scope", "models",
        "--requests-per-minute", "60", "--tokens-per-day", "5000", "--label", "support bot",
        "--expires-in", "30d",
    )  # fmt: skip
    assert code == 0, err
    plaintext = out.strip()
    assert plaintext.startswith("bst_") and "shown once" in err
    key_id = plaintext[4:16]
    with KeyStore(tmp_path / "gateway.sqlite") as store:
        key = store.authenticate(plaintext)
        assert key is not None and key.tenant == "acme" and key.requests_per_minute == 60
        assert key.expires_at is not None

    code, out, err = _invoke(tmp_path, "rotate", key_id, "--grace", "1h", "--format", "json")
    assert code == 0, err
    rotated = json.loads(out)
    assert rotated["key"].startswith("bst_") and rotated["tenant"] == "acme"

    code, out, _ = _invoke(tmp_path, "list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert {k["key_id"] for k in listed} == {key_id, rotated["key_id"]}
    assert plaintext[17:] not in out and rotated["key"][17:] not in out
    assert next(k for k in listed if k["key_id"] == key_id)["rotated_to"] == rotated["key_id"]

    code, out, _ = _invoke(tmp_path, "revoke", rotated["key_id"])
    assert code == 0 and "revoked" in out
    code, _, err = _invoke(tmp_path, "revoke", rotated["key_id"])
    assert code == 2 and "no active key" in err

    code, out, _ = _invoke(tmp_path, "list", "--tenant", "acme")
    assert code == 0 and "revoked" in out and "rotated to" in out

    with SQLiteAuditLog(tmp_path / "audit.sqlite") as log:
        assert log.verify().ok
        actions = [e.get(Attribute.ADMIN_ACTION) for _, e in log.iter_events() if e is not None]
    assert actions == ["key.issued", "key.rotated", "key.revoked"]
    audit_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("audit.sqlite*"))
    assert plaintext[17:].encode() not in audit_bytes and rotated["key"][17:].encode() not in audit_bytes


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    assert _invoke(tmp_path, "issue", "--tenant", "acme", "--scope", "root")[0] == 2
    assert _invoke(tmp_path, "issue", "--tenant", "acme", "--expires-in", "soon")[0] == 2
    assert _invoke(tmp_path, "rotate", "nosuchkeyid1")[0] == 2
    assert _invoke(tmp_path, "list", "--format", "yaml")[0] == 2


def test_a_wrong_audit_key_stops_the_action_before_a_key_is_issued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SQLiteAuditLog(tmp_path / "audit.sqlite", key="the-original-audit-key-123").close()
    monkeypatch.setenv("BASTION_AUDIT_KEY", "a-different-audit-key-4567")
    code, out, err = _invoke(tmp_path, "issue", "--tenant", "acme")
    assert code == 2 and "does not match" in err and "bst_" not in out
    with KeyStore(tmp_path / "gateway.sqlite") as store:
        assert store.list() == []


def test_parse_duration() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1d12h") == timedelta(hours=36)
    assert parse_duration(" 2w ") == timedelta(weeks=2)
    for bad in ("", "10", "3 days", "-1h", "99999w"):
        with pytest.raises(UsageError):
            parse_duration(bad)
