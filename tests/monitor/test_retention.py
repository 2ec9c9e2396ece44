"""Retention with receipts and legal holds; erasure across the store and the vault; audit-chain tombstones."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bastion.core.errors import ConfigError, UsageError
from bastion.core.events import Attribute
from bastion.monitor.retention import (
    add_hold,
    apply_policies,
    erase_subject,
    list_holds,
    load_policies,
    receipts,
    release_hold,
    tokens_for,
    verify_receipts,
)
from bastion.monitor.sources import ingest, read_audit
from bastion.monitor.store import EventStore, content_hash
from bastion.pseudonymize import Vault
from tests.monitor.conftest import T0, attack, chat

KEY = b"0123456789abcdef0123456789abcdef"
NOW = T0 + timedelta(days=100)


def _policies(tmp_path: Path, *policies: dict) -> Path:  # type: ignore[type-arg]
    path = tmp_path / "retention.yaml"
    path.write_text(yaml.safe_dump({"policies": list(policies)}), encoding="utf-8")
    return path


def _events() -> list:  # type: ignore[type-arg]
    old = [
        chat(n, tenant="acme", key="k1", seconds=n, **{Attribute.INPUT_TEXT: f"old {n}"}) for n in range(3)
    ]
    held = [chat(10, tenant="held-co", key="k9", seconds=10, **{Attribute.INPUT_TEXT: "kept by hold"})]
    recent = [chat(20, tenant="acme", key="k1", seconds=95 * 86400, **{Attribute.INPUT_TEXT: "recent"})]
    return old + held + recent


def test_events_past_retention_are_deleted_with_a_receipt_and_holds_keep_theirs(tmp_path: Path) -> None:
    policies = load_policies(
        _policies(
            tmp_path,
            {
                "id": "events-30d",
                "data_class": "pseudonymised_events",
                "keep": "30d",
                "basis": "internal log policy",
            },
        )
    )
    with EventStore(":memory:") as store:
        store.add(_events())
        hold = add_hold(store, "tenant", "held-co", "litigation 2026-17")
        dry = apply_policies(store, policies, now=NOW, dry_run=True)
        assert dry[0].body["deleted"] == 3 and store.count() == 5 and receipts(store) == []
        (receipt,) = apply_policies(store, policies, now=NOW, actor="dpo")
        assert (receipt.body["deleted"], receipt.body["held"]) == (3, 1)
        assert receipt.body["policy"] == "events-30d" and len(receipt.hash) == 64
        assert "ev-0" not in str(receipt.body)  # no ids in clear
        assert sorted(e.id for e in store.events()) == ["ev-10", "ev-20"]
        release_hold(store, hold.id)
        assert list_holds(store) == []
        apply_policies(store, policies, now=NOW)
        assert [e.id for e in store.events()] == ["ev-20"]
        assert verify_receipts(store)
        store.connection.execute(
            "UPDATE retention_receipts SET body = replace(body, '\"deleted\":3', '\"deleted\":1')"
        )
        assert not verify_receipts(store)


def test_raw_prompt_text_goes_first_and_the_event_stays(tmp_path: Path) -> None:
    policies = load_policies(
        _policies(tmp_path, {"id": "prompts-7d", "data_class": "raw_prompts", "keep": "7d"})
    )
    with EventStore(":memory:") as store:
        store.add(_events())
        (receipt,) = apply_policies(store, policies, now=NOW)
        assert receipt.body["deleted"] == 4
        assert store.count() == 5
        assert store.query("SELECT COUNT(*) FROM event_rows WHERE input_text IS NOT NULL")[0][0] == 1


def test_a_data_class_hold_suspends_its_policy(tmp_path: Path) -> None:
    policies = load_policies(
        _policies(tmp_path, {"id": "e", "data_class": "pseudonymised_events", "keep": "1d"})
    )
    with EventStore(":memory:") as store:
        store.add(_events())
        add_hold(store, "data_class", "pseudonymised_events", "supervisory inspection")
        (receipt,) = apply_policies(store, policies, now=NOW)
        assert receipt.body["suspended_by_hold"] and receipt.body["deleted"] == 0 and store.count() == 5


def test_files_past_retention_are_deleted_except_under_a_path_hold(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    (folder / "kept").mkdir(parents=True)
    old, fresh, held = folder / "run-1.sqlite", folder / "run-2.sqlite", folder / "kept" / "run-0.sqlite"
    for path in (old, fresh, held):
        path.write_bytes(b"x")
    ancient = time.time() - 400 * 86400
    for path in (old, held):
        os.utime(path, (ancient, ancient))
    policies = load_policies(
        _policies(
            tmp_path,
            {
                "id": "t",
                "data_class": "redteam_transcripts",
                "keep": "365d",
                "path": str(folder),
                "glob": "*.sqlite",
            },
        )
    )
    with EventStore(":memory:") as store:
        add_hold(store, "path", str(folder / "kept"), "audit evidence")
        (receipt,) = apply_policies(store, policies)
    assert (receipt.body["deleted"], receipt.body["held"]) == (1, 1)
    assert not old.exists() and fresh.exists() and held.exists()


def test_vault_entries_only_old_events_mention_are_forgotten(tmp_path: Path) -> None:
    vault = Vault(KEY)
    old_token, shared_token = tokens_for(
        KEY, "acme", [("PERSON", "Erika Mustermann"), ("EMAIL", "e@example.org")]
    )
    vault.put_many("acme", [(old_token, "Erika Mustermann"), (shared_token, "e@example.org")])
    events = [
        chat(1, tenant="acme", seconds=0, **{Attribute.PSEUDONYMS: [old_token, shared_token]}),
        chat(2, tenant="acme", seconds=99 * 86400, **{Attribute.PSEUDONYMS: [shared_token]}),
    ]
    policies = load_policies(
        _policies(
            tmp_path,
            {"id": "v", "data_class": "vault_entries", "keep": "30d"},
            {"id": "e", "data_class": "pseudonymised_events", "keep": "30d"},
        )
    )
    with EventStore(":memory:") as store:
        store.add(events)
        vault_receipt, events_receipt = apply_policies(store, policies, now=NOW, vault=vault)
        assert vault_receipt.body["data_class"] == "vault_entries" and vault_receipt.body["deleted"] == 1
        assert events_receipt.body["deleted"] == 1
    assert vault.count("acme") == 1 and vault.get("acme", shared_token) == "e@example.org"


def test_erasure_tombstones_every_mention_keeps_hashes_and_forgets_the_vault_record() -> None:
    vault = Vault(KEY)
    (token,) = tokens_for(KEY, "acme", [("PERSON", "Erika Mustermann")])
    vault.put("acme", token, "Erika Mustermann")
    events = [
        chat(1, tenant="acme", **{Attribute.INPUT_TEXT: f"I am {token}", Attribute.PSEUDONYMS: [token]}),
        chat(
            2,
            tenant="acme",
            **{
                Attribute.OUTPUT_TEXT: f"Hello {token}",
                Attribute.TOOL_CALLS: [{"name": "send_email", "arguments": {"to": token}}],
            },
        ),
        chat(3, tenant="acme", **{Attribute.INPUT_TEXT: "someone else"}),
        chat(4, tenant="beta", **{Attribute.INPUT_TEXT: f"same token, other tenant {token}"}),
    ]
    with EventStore(":memory:") as store:
        store.add(events)
        hashes = dict(store.query("SELECT event_id, content_hash FROM event_rows"))
        result = erase_subject(store, "acme", [token], request_id="DSR-2026-001", vault=vault, actor="dpo")
        assert (result.erased_events, result.withheld_events, result.forgotten_tokens) == (2, 0, 1)
        assert dict(store.query("SELECT event_id, content_hash FROM event_rows")) == hashes
        assert hashes["ev-1"] == content_hash(events[0])
        dump = str(store.query("SELECT * FROM event_rows WHERE tenant = 'acme'"))
        dump += str(store.query("SELECT * FROM tool_call_rows"))
        assert token not in dump
        assert token in str(store.query("SELECT input_text FROM event_rows WHERE tenant = 'beta'"))
        assert store.count() == 4 and store.query("SELECT COUNT(*) FROM events WHERE erased")[0][0] == 2
        assert result.receipt.body["kind"] == "erasure" and token not in str(result.receipt.body)
        assert verify_receipts(store)
    assert vault.count("acme") == 0


def test_a_legal_hold_withholds_erasure() -> None:
    (token,) = tokens_for(KEY, "acme", [("EMAIL", "x@example.org")])
    with EventStore(":memory:") as store:
        store.add([chat(1, tenant="acme", **{Attribute.PSEUDONYMS: [token]})])
        add_hold(store, "event", "ev-1", "court order 4711")
        result = erase_subject(store, "acme", [token], request_id="DSR-2")
        assert (result.erased_events, result.withheld_events) == (0, 1)
        with pytest.raises(UsageError):
            erase_subject(store, "acme", [], request_id="DSR-3")


def test_the_gateway_tombstone_reaches_the_monitor_copy(tmp_path: Path) -> None:
    guard_audit = pytest.importorskip("bastion.guard.audit")
    path = tmp_path / "audit.sqlite"
    with EventStore(":memory:") as store:
        with guard_audit.SQLiteAuditLog(path) as log:
            log.append_many([attack(1), attack(2, **{Attribute.INPUT_TEXT: "PERSON_cce5t42n9ew3qybx here"})])
        ingest(store, "audit", read_audit(str(path)))
        with guard_audit.SQLiteAuditLog(path) as log:
            log.tombstone("ev-2", "DSR-9")
        report = ingest(store, "audit", read_audit(str(path), "2"))
        assert report.erased == 1
        assert store.query("SELECT erased, input_text FROM event_rows WHERE event_id = 'ev-2'") == [
            (True, None)
        ]


def test_bad_policy_files_and_holds() -> None:
    with EventStore(":memory:") as store:
        for scope, value, reason in (
            ("planet", "x", "r"),
            ("tenant", " ", "r"),
            ("data_class", "emails", "r"),
        ):
            with pytest.raises(UsageError):
                add_hold(store, scope, value, reason)
        with pytest.raises(UsageError):
            release_hold(store, "HOLD-none")


@pytest.mark.parametrize(
    "policy",
    [
        {"id": "x", "data_class": "emails", "keep": "1d"},
        {"id": "x", "data_class": "raw_prompts", "keep": "forever"},
        {"id": "x", "data_class": "training_datasets", "keep": "1d"},
    ],
)
def test_invalid_policies_are_config_errors(tmp_path: Path, policy: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError):
        load_policies(_policies(tmp_path, policy))
