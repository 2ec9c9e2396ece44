"""Run a rule's own match / no-match fixtures on an in-memory store (used by the tests and ``rules test``)."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.monitor.rules import Fixture, Rule, RuleHit
from bastion.monitor.store import EventStore

__all__ = ["FixtureOutcome", "check_rule", "run_fixture"]


@dataclass(frozen=True, slots=True)
class FixtureOutcome:
    """One fixture's result: the groups that alerted and whether that is what the fixture expects."""

    rule: str
    fixture: str
    expected: tuple[str, ...]
    groups: tuple[str, ...]
    passed: bool


def run_fixture(rule: Rule, fixture: Fixture) -> list[RuleHit]:
    """The hits of ``rule`` over the fixture's events (and its reference data), evaluated from the start."""
    with EventStore(":memory:") as store:
        store.set_reference(fixture.reference.approved_models, fixture.reference.tool_scopes)
        store.add(fixture.build(), source=f"fixture:{fixture.name}")
        end = int(store.query("SELECT COALESCE(MAX(ts), 0) + 1 FROM event_rows")[0][0])
        return rule.evaluate(store.connection, 0, end)


def check_rule(rule: Rule) -> list[FixtureOutcome]:
    """Every fixture of ``rule``: a match fixture passes when exactly its groups alert, a no-match one when
    nothing alerts."""
    outcomes = []
    for fixture, must_match in [(f, True) for f in rule.match] + [(f, False) for f in rule.no_match]:
        groups = tuple(sorted({hit.group for hit in run_fixture(rule, fixture)}))
        expected = tuple(sorted(fixture.groups)) if must_match else ()
        passed = groups == expected and (bool(groups) or not must_match)
        outcomes.append(FixtureOutcome(rule.id, fixture.name, expected, groups, passed))
    return outcomes
