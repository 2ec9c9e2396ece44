"""Incremental runs, deduplication, suppression, and detection quality on the synthetic replay."""

from __future__ import annotations

from datetime import timedelta

from bastion.monitor.alerts import AlertBook
from bastion.monitor.engine import run_rules
from bastion.monitor.replay import synthesize
from bastion.monitor.rules import load_rules
from bastion.monitor.store import EventStore
from tests.monitor.conftest import T0, attack, chat

REPEATED = load_rules(only=["monitor.injection.repeated"])


def test_a_second_run_without_new_events_raises_nothing() -> None:
    with EventStore(":memory:") as store:
        store.add([attack(1), attack(2), attack(3)])
        first = run_rules(store, REPEATED)
        assert [(a.rule, a.group, a.count, a.status) for a in first.alerts] == [
            ("monitor.injection.repeated", "demo/demo-key", 3, "new")
        ]
        assert run_rules(store, REPEATED).alerts == ()


def test_late_events_update_the_same_alert_instead_of_raising_another() -> None:
    with EventStore(":memory:") as store:
        store.add([attack(1), attack(2), attack(3)])
        first = run_rules(store, REPEATED).alerts[0]
        store.add([attack(4), chat(5)])
        second = run_rules(store, REPEATED).alerts
        assert [(a.id, a.count, a.status) for a in second] == [(first.id, 4, "updated")]
        assert second[0].last_seen == T0 + timedelta(seconds=4)
        assert len(AlertBook(store).list()) == 1


def test_new_windows_within_the_suppression_period_are_suppressed() -> None:
    with EventStore(":memory:") as store:
        store.add([attack(n) for n in (1, 2, 3)])
        run_rules(store, REPEATED)
        # 15 minutes later: new windows (aligned and half-shifted), same key, within the 1 h suppression
        store.add([attack(n) for n in (901, 902, 903)])
        later = run_rules(store, REPEATED)
        assert later.alerts == () and [a.status for a in later.suppressed] == ["suppressed", "suppressed"]
        # two hours later it alerts again, once (the overlapping half-shifted window is suppressed)
        store.add([attack(n) for n in (7201, 7202, 7203)])
        again = run_rules(store, REPEATED)
        assert [a.status for a in again.alerts] == ["new"] and len(again.suppressed) == 1
        assert len(AlertBook(store).list()) == 2


def test_since_re_evaluates_without_duplicating() -> None:
    with EventStore(":memory:") as store:
        store.add([attack(1), attack(2), attack(3)])
        run_rules(store, REPEATED)
        assert run_rules(store, REPEATED, since=T0).alerts == ()
        assert len(AlertBook(store).list()) == 1


def test_the_pack_finds_every_labelled_episode_with_few_false_alerts() -> None:
    replay = synthesize(events=4_000, seed=11, attack_share=0.01)
    with EventStore(":memory:") as store:
        store.set_reference(replay.reference["approved_models"], replay.reference["tool_scopes"])
        store.add(replay.events)
        alerts = run_rules(store, load_rules()).alerts
    found = {(a.rule, a.group) for a in alerts}
    expected = {(label.rule, label.group) for label in replay.labels}
    assert len({rule for rule, _ in expected}) == 10
    assert expected <= found
    # the only false alerts allowed: the same benign question falsely flagged on several accounts
    assert all(rule == "monitor.injection.campaign" for rule, _ in found - expected)
    assert len(found - expected) <= len(found) // 20


def test_incremental_runs_equal_one_full_run() -> None:
    replay = synthesize(events=2_000, seed=5, attack_share=0.02)
    rules = load_rules()
    with EventStore(":memory:") as full, EventStore(":memory:") as chunked:
        for store in (full, chunked):
            store.set_reference(replay.reference["approved_models"], replay.reference["tool_scopes"])
        full.add(replay.events)
        run_rules(full, rules)
        for start in range(0, len(replay.events), 250):
            chunked.add(replay.events[start : start + 250])
            run_rules(chunked, rules)

        def keys(store: EventStore) -> set[tuple[str, str, int]]:
            return {(a.rule, a.group, a.count) for a in AlertBook(store).list(include_suppressed=True)}

        assert keys(chunked) == keys(full)
