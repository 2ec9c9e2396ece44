"""Incidents: states, owner, timeline, evidence, playbooks, and the regulatory clocks with their sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bastion.core.errors import UsageError
from bastion.core.types import Severity
from bastion.monitor.engine import run_rules
from bastion.monitor.incidents import IncidentBook, IncidentState, load_clocks, load_playbooks
from bastion.monitor.rules import load_rules
from bastion.monitor.store import EventStore
from tests.monitor.conftest import attack

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CATALOGS = Path(__file__).resolve().parents[3] / "shared" / "catalogs"


def _book(store: EventStore) -> IncidentBook:
    return IncidentBook(store, clock=lambda: NOW)


def test_an_incident_from_an_alert_gets_the_playbook_evidence_and_walks_its_states() -> None:
    with EventStore(":memory:") as store:
        store.add([attack(1), attack(2), attack(3)])
        (alert,) = run_rules(store, load_rules(only=["monitor.injection.repeated"])).alerts
        book = _book(store)
        incident = book.open("Injection series on the demo key", alert_ids=[alert.id], actor="alice")
        assert incident.playbook == "prompt-injection-campaign" and incident.severity is Severity.HIGH
        assert ("alert", alert.id) in incident.evidence and ("event", "ev-1") in incident.evidence
        assert incident.to_dict()["next_steps"][0].startswith("Pull the alert's events")
        book.assign(incident.id, "bob", actor="alice")
        book.move(incident.id, IncidentState.TRIAGED, actor="bob", note="three blocked attempts, none passed")
        book.move(incident.id, IncidentState.RESOLVED, actor="bob")
        book.move(incident.id, IncidentState.OPEN, actor="bob", note="it came back")
        book.move(incident.id, IncidentState.CLOSED, actor="bob")
        with pytest.raises(UsageError):
            book.move(incident.id, IncidentState.OPEN, actor="bob")
        final = book.get(incident.id)
        assert final.owner == "bob" and final.state is IncidentState.CLOSED
        entries = [entry for _, _, entry, _ in final.timeline]
        assert entries[:4] == ["opened", "evidence", "evidence", "owner"]
        assert entries.count("state") == 4
        assert [i.id for i in book.list("closed")] == [incident.id]


def test_bad_requests_are_usage_errors() -> None:
    with EventStore(":memory:") as store:
        book = _book(store)
        incident = book.open("x")
        for call in (
            lambda: book.open(" "),
            lambda: book.open("x", alert_ids=["nope"]),
            lambda: book.open("x", playbook="nope"),
            lambda: book.flag(incident.id, "something_bad", actor="a"),
            lambda: book.milestone(incident.id, "lunch", actor="a"),
            lambda: book.add_evidence(incident.id, "rumour", "x", actor="a"),
            lambda: book.get("INC-none"),
            lambda: book.move(incident.id, IncidentState.OPEN, actor="a"),
        ):
            with pytest.raises(UsageError):
                call()


def test_dora_clocks_follow_the_rts_time_limits() -> None:
    with EventStore(":memory:") as store:
        book = _book(store)
        aware = NOW - timedelta(hours=30)
        incident = book.open("Upstream outage", flags=["major_ict_incident"], aware_at=aware)
        clocks = {c.clock.id: c for c in incident.clocks(NOW)}
        assert [clocks[c].state for c in ("dora.initial", "dora.intermediate", "dora.final")] == [
            "overdue",
            "waiting",
            "waiting",
        ]
        assert clocks["dora.initial"].due == aware + timedelta(hours=24)  # not classified: the 24 h cap
        classified = aware + timedelta(hours=2)
        incident = book.milestone(incident.id, "classified_major", actor="a", at=classified)
        assert {c.clock.id: c for c in incident.clocks(NOW)}["dora.initial"].due == classified + timedelta(
            hours=4
        )
        late_classification = aware + timedelta(hours=22)
        incident = book.milestone(incident.id, "classified_major", actor="a", at=late_classification)
        assert {c.clock.id: c for c in incident.clocks(NOW)}["dora.initial"].due == aware + timedelta(
            hours=24
        )
        submitted = aware + timedelta(hours=23)
        incident = book.milestone(incident.id, "dora.initial_submitted", actor="a", at=submitted)
        clocks = {c.clock.id: c for c in incident.clocks(NOW)}
        assert clocks["dora.initial"].state == "met"
        assert clocks["dora.intermediate"].due == submitted + timedelta(hours=72)
        intermediate = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
        incident = book.milestone(incident.id, "dora.intermediate_submitted", actor="a", at=intermediate)
        final = {c.clock.id: c for c in incident.clocks(NOW)}["dora.final"]
        assert final.due == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)  # one calendar month, clamped


def test_ai_act_and_gdpr_clocks() -> None:
    with EventStore(":memory:") as store:
        book = _book(store)
        incident = book.open("Leak", aware_at=NOW)
        assert incident.clocks(NOW) == []  # no flag, no clock
        for flag in (
            "personal_data_breach",
            "serious_ai_incident",
            "serious_ai_incident_widespread",
            "serious_ai_incident_death",
        ):
            incident = book.flag(incident.id, flag, actor="dpo")
        due = {c.clock.id: c.due for c in incident.clocks(NOW)}
        assert due == {
            "gdpr.art33": NOW + timedelta(hours=72),
            "ai_act.art73": NOW + timedelta(days=15),
            "ai_act.art73.widespread": NOW + timedelta(days=2),
            "ai_act.art73.death": NOW + timedelta(days=10),
        }
        incident = book.milestone(incident.id, "gdpr.notified", actor="dpo", at=NOW + timedelta(hours=80))
        assert {c.clock.id: c.state for c in incident.clocks(NOW)}["gdpr.art33"] == "late"
        shown = incident.to_dict(NOW)["clocks"]
        assert all(c["source"] for c in shown)


def test_every_clock_cites_a_catalog_clause_whose_text_holds_its_time_limit() -> None:
    if not CATALOGS.is_dir():
        pytest.skip("../shared/catalogs is not available")
    words = {
        "4h": "four hours",
        "24h": "24 hours",
        "72h": "72 hours",
        "1mo": "one month",
        "15d": "15 days",
        "2d": "two days",
        "10d": "10 days",
    }
    for clock in load_clocks():
        file, _, ref = clock.catalog.partition("#")
        nodes = yaml.safe_load((CATALOGS / file).read_text(encoding="utf-8"))["objects"]["framework"][
            "requirement_nodes"
        ]
        text = " ".join(n.get("description", "") for n in nodes if str(n.get("ref_id")) == ref)
        assert words[clock.duration] in text, clock.id
        if clock.cap:
            assert words[clock.cap[1]] in text, clock.id


def test_playbooks_cover_the_five_scenarios_and_name_real_rules() -> None:
    ids = {p.id for p in load_playbooks()}
    assert ids == {
        "prompt-injection-campaign",
        "data-leak-through-model",
        "compromised-key",
        "poisoned-document",
        "vendor-model-incident",
    }
    rule_ids = {r.id for r in load_rules()}
    flags = {c.applies_if for c in load_clocks()}
    for playbook in load_playbooks():
        assert set(playbook.rules) <= rule_ids
        assert set(playbook.consider_flags) <= flags
        assert {"triaged", "contained", "resolved"} <= set(playbook.steps)
