"""Incidents: states, owner, timeline, evidence, AI playbooks and regulatory clocks, in the monitor store.

States move forward ``open -> triaged -> contained -> resolved -> closed`` (steps may be skipped; a resolved
incident may be reopened; ``closed`` is final). Every change is a timeline entry with its actor.

Playbooks (``data/monitor/playbooks.yaml``) say what to do in each state; an incident opened from an alert
gets the playbook whose ``rules`` list the alert's rule. Regulatory clocks (``data/monitor/clocks.yaml``,
each with its legal source) apply to an incident once the responder sets the matching classification flag
(``personal_data_breach``, ``major_ict_incident``, ``serious_ai_incident`` ...); a clock runs from a
milestone (``aware`` is the incident's awareness time; others such as ``classified_major`` or
``dora.initial_submitted`` are recorded as they happen) and stops at its ``done_by`` milestone.
"""

from __future__ import annotations

import calendar
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError, UsageError
from bastion.core.types import Severity
from bastion.monitor.alerts import AlertBook
from bastion.monitor.store import EventStore

__all__ = [
    "Clock",
    "ClockStatus",
    "Incident",
    "IncidentBook",
    "IncidentState",
    "Playbook",
    "load_clocks",
    "load_playbooks",
]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS incidents (incident_id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, "
    "state VARCHAR NOT NULL, severity VARCHAR NOT NULL, owner VARCHAR, playbook VARCHAR, flags VARCHAR, "
    "milestones VARCHAR, opened_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS incident_timeline (incident_id VARCHAR NOT NULL, "
    "happened_at VARCHAR NOT NULL, "
    "actor VARCHAR NOT NULL, entry VARCHAR NOT NULL, text VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS incident_evidence (incident_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, "
    "reference VARCHAR NOT NULL, added_at VARCHAR NOT NULL)",
)
_DURATION = re.compile(r"^(\d+)(h|d|mo)$")
_FLAG = re.compile(r"^[a-z][a-z0-9_]*$")
_MILESTONE = re.compile(r"^[a-z][a-z0-9_.]*$")


class IncidentState(StrEnum):
    OPEN = "open"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    RESOLVED = "resolved"
    CLOSED = "closed"


_ORDER = list(IncidentState)


def _allowed(current: IncidentState, target: IncidentState) -> bool:
    if current is IncidentState.CLOSED:
        return False
    if current is IncidentState.RESOLVED and target is IncidentState.OPEN:
        return True
    return _ORDER.index(target) > _ORDER.index(current)


# -- data: clocks and playbooks --------------------------------------------------------------------------
class _ClockCap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str
    duration: str


class _ClockSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    regime: str
    title: str
    applies_if: str
    start: str
    duration: str
    cap: _ClockCap | None = None
    done_by: str
    source: str = Field(min_length=10)
    catalog: str


def _add(moment: datetime, duration: str) -> datetime:
    """``moment`` plus ``4h``, ``15d`` or ``1mo`` (calendar months, clamped to the month's last day)."""
    match = _DURATION.match(duration)
    if match is None:
        raise ConfigError(f"invalid clock duration {duration!r}: use h, d or mo")
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        return moment + timedelta(hours=amount)
    if unit == "d":
        return moment + timedelta(days=amount)
    month = moment.month - 1 + amount
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class Clock:
    """A reporting deadline that applies when an incident carries the flag ``applies_if``."""

    id: str
    regime: str
    title: str
    applies_if: str
    start: str
    duration: str
    cap: tuple[str, str] | None
    done_by: str
    source: str
    catalog: str

    def due(self, milestones: Mapping[str, datetime]) -> datetime | None:
        """The deadline, or ``None`` while the milestone it runs from has not happened."""
        started = milestones.get(self.start)
        capped = milestones.get(self.cap[0]) if self.cap else None
        candidates = []
        if started is not None:
            candidates.append(_add(started, self.duration))
        if self.cap is not None and capped is not None:
            candidates.append(_add(capped, self.cap[1]))
        return min(candidates) if candidates else None


@dataclass(frozen=True, slots=True)
class ClockStatus:
    clock: Clock
    due: datetime | None
    done_at: datetime | None
    state: str  # waiting | running | overdue | met | late

    def to_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock.id,
            "regime": self.clock.regime,
            "title": self.clock.title,
            "due": self.due.isoformat() if self.due else None,
            "done_at": self.done_at.isoformat() if self.done_at else None,
            "state": self.state,
            "source": self.clock.source,
        }


@dataclass(frozen=True, slots=True)
class Playbook:
    id: str
    title: str
    rules: tuple[str, ...]
    consider_flags: tuple[str, ...]
    steps: Mapping[str, tuple[str, ...]]


def _data(name: str) -> Any:
    text = resources.files("bastion.data.monitor").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


@cache
def load_clocks() -> tuple[Clock, ...]:
    """The shipped regulatory clocks."""
    try:
        specs = [_ClockSpec.model_validate(item) for item in _data("clocks.yaml")["clocks"]]
    except (ValidationError, KeyError, TypeError) as error:
        raise ConfigError(f"clocks.yaml: {error}") from error
    clocks = []
    for spec in specs:
        _add(datetime(2026, 1, 1, tzinfo=UTC), spec.duration)
        if spec.cap:
            _add(datetime(2026, 1, 1, tzinfo=UTC), spec.cap.duration)
        clocks.append(
            Clock(
                spec.id,
                spec.regime,
                spec.title,
                spec.applies_if,
                spec.start,
                spec.duration,
                (spec.cap.start, spec.cap.duration) if spec.cap else None,
                spec.done_by,
                spec.source,
                spec.catalog,
            )
        )
    return tuple(clocks)


@cache
def load_playbooks() -> tuple[Playbook, ...]:
    """The shipped AI incident playbooks."""
    try:
        return tuple(
            Playbook(
                id=item["id"],
                title=item["title"],
                rules=tuple(item.get("rules") or ()),
                consider_flags=tuple(item.get("consider_flags") or ()),
                steps={state: tuple(steps) for state, steps in (item.get("steps") or {}).items()},
            )
            for item in _data("playbooks.yaml")["playbooks"]
        )
    except (KeyError, TypeError) as error:
        raise ConfigError(f"playbooks.yaml: {error}") from error


def playbook_for_rule(rule: str) -> Playbook | None:
    return next((p for p in load_playbooks() if rule in p.rules), None)


# -- incidents -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    state: IncidentState
    severity: Severity
    owner: str
    playbook: str
    flags: tuple[str, ...]
    milestones: Mapping[str, datetime]
    opened_at: datetime
    updated_at: datetime
    timeline: tuple[tuple[datetime, str, str, str], ...]
    evidence: tuple[tuple[str, str], ...]

    def clocks(self, now: datetime | None = None) -> list[ClockStatus]:
        """The regulatory clocks this incident's flags make apply, with their deadlines."""
        moment = now or datetime.now(UTC)
        statuses = []
        for clock in load_clocks():
            if clock.applies_if not in self.flags:
                continue
            due = clock.due(self.milestones)
            done = self.milestones.get(clock.done_by)
            if done is not None:
                state = "met" if due is None or done <= due else "late"
            elif due is None:
                state = "waiting"
            else:
                state = "overdue" if moment > due else "running"
            statuses.append(ClockStatus(clock, due, done, state))
        return statuses

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        playbook = next((p for p in load_playbooks() if p.id == self.playbook), None)
        return {
            "id": self.id,
            "title": self.title,
            "state": self.state.value,
            "severity": self.severity.value,
            "owner": self.owner,
            "playbook": self.playbook,
            "next_steps": list(playbook.steps.get(_next_state(self.state), ())) if playbook else [],
            "flags": list(self.flags),
            "milestones": {name: moment.isoformat() for name, moment in self.milestones.items()},
            "opened_at": self.opened_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "clocks": [status.to_dict() for status in self.clocks(now)],
            "timeline": [
                {"at": at.isoformat(), "actor": actor, "entry": entry, "text": text}
                for at, actor, entry, text in self.timeline
            ],
            "evidence": [{"kind": kind, "reference": reference} for kind, reference in self.evidence],
        }


def _next_state(state: IncidentState) -> str:
    index = _ORDER.index(state)
    return _ORDER[min(index + 1, len(_ORDER) - 1)].value


class IncidentBook:
    """Incidents kept in the monitor store. ``clock`` gives "now" (tests pass a fixed one)."""

    def __init__(self, store: EventStore, clock: Any = None) -> None:
        self.store = store
        self._now = clock or (lambda: datetime.now(UTC))
        for statement in _SCHEMA:
            store.connection.execute(statement)

    def _log(self, incident_id: str, actor: str, entry: str, text: str) -> None:
        now = self._now().isoformat()
        self.store.connection.execute(
            "INSERT INTO incident_timeline VALUES (?, ?, ?, ?, ?)", [incident_id, now, actor, entry, text]
        )
        self.store.connection.execute(
            "UPDATE incidents SET updated_at = ? WHERE incident_id = ?", [now, incident_id]
        )

    def open(
        self,
        title: str,
        *,
        severity: Severity = Severity.MEDIUM,
        owner: str = "",
        actor: str = "bastion",
        playbook: str = "",
        flags: Sequence[str] = (),
        aware_at: datetime | None = None,
        alert_ids: Sequence[str] = (),
    ) -> Incident:
        """Open an incident by hand or from alerts (their rule picks the playbook, their severity the
        incident's when higher)."""
        if not title.strip():
            raise UsageError("an incident needs a title")
        alerts = []
        book = AlertBook(self.store)
        for alert_id in alert_ids:
            alert = book.get(alert_id)
            if alert is None:
                raise UsageError(f"no alert {alert_id!r}")
            alerts.append(alert)
            if alert.severity.rank > severity.rank:
                severity = alert.severity
        if not playbook and alerts:
            found = playbook_for_rule(alerts[0].rule)
            playbook = found.id if found else ""
        if playbook and playbook not in {p.id for p in load_playbooks()}:
            raise UsageError(f"unknown playbook {playbook!r}")
        for flag in flags:
            self._check_flag(flag)
        now = self._now()
        aware = aware_at or now
        incident_id = f"INC-{now:%Y%m%d}-{uuid.uuid4().hex[:6]}"
        self.store.connection.execute(
            "INSERT INTO incidents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                incident_id,
                title.strip(),
                IncidentState.OPEN.value,
                severity.value,
                owner,
                playbook,
                json.dumps(sorted(set(flags))),
                json.dumps({"aware": aware.isoformat()}),
                now.isoformat(),
                now.isoformat(),
            ],
        )
        self._log(incident_id, actor, "opened", title.strip())
        for alert in alerts:
            self.add_evidence(incident_id, "alert", alert.id, actor=actor)
            self.add_evidence(incident_id, "event", alert.sample_event, actor=actor)
        return self.get(incident_id)

    @staticmethod
    def _check_flag(flag: str) -> None:
        known = {clock.applies_if for clock in load_clocks()}
        if not _FLAG.match(flag) or flag not in known:
            raise UsageError(f"unknown flag {flag!r}; known: {', '.join(sorted(known))}")

    def get(self, incident_id: str) -> Incident:
        row = self.store.connection.execute(
            "SELECT incident_id, title, state, severity, owner, playbook, flags, milestones, opened_at, "
            "updated_at "
            "FROM incidents WHERE incident_id = ?",
            [incident_id],
        ).fetchone()
        if row is None:
            raise UsageError(f"no incident {incident_id!r}")
        timeline = self.store.connection.execute(
            "SELECT happened_at, actor, entry, text FROM incident_timeline WHERE incident_id = ? "
            "ORDER BY happened_at, rowid",
            [incident_id],
        ).fetchall()
        evidence = self.store.connection.execute(
            "SELECT kind, reference FROM incident_evidence WHERE incident_id = ? ORDER BY added_at, rowid",
            [incident_id],
        ).fetchall()
        return Incident(
            id=row[0],
            title=row[1],
            state=IncidentState(row[2]),
            severity=Severity(row[3]),
            owner=row[4] or "",
            playbook=row[5] or "",
            flags=tuple(json.loads(row[6] or "[]")),
            milestones={k: datetime.fromisoformat(v) for k, v in json.loads(row[7] or "{}").items()},
            opened_at=datetime.fromisoformat(row[8]),
            updated_at=datetime.fromisoformat(row[9]),
            timeline=tuple((datetime.fromisoformat(a), b, c, d) for a, b, c, d in timeline),
            evidence=tuple((str(k), str(r)) for k, r in evidence),
        )

    def list(self, state: str = "") -> list[Incident]:
        sql = "SELECT incident_id FROM incidents"
        rows = (
            self.store.connection.execute(f"{sql} WHERE state = ? ORDER BY opened_at", [state])
            if state
            else self.store.connection.execute(f"{sql} ORDER BY opened_at")
        ).fetchall()
        return [self.get(row[0]) for row in rows]

    def move(self, incident_id: str, state: IncidentState, *, actor: str, note: str = "") -> Incident:
        incident = self.get(incident_id)
        if not _allowed(incident.state, state):
            raise UsageError(f"{incident_id} is {incident.state.value}; it cannot move to {state.value}")
        self.store.connection.execute(
            "UPDATE incidents SET state = ? WHERE incident_id = ?", [state.value, incident_id]
        )
        self._log(
            incident_id,
            actor,
            "state",
            f"{incident.state.value} -> {state.value}" + (f": {note}" if note else ""),
        )
        return self.get(incident_id)

    def assign(self, incident_id: str, owner: str, *, actor: str) -> Incident:
        self.get(incident_id)
        self.store.connection.execute(
            "UPDATE incidents SET owner = ? WHERE incident_id = ?", [owner, incident_id]
        )
        self._log(incident_id, actor, "owner", owner)
        return self.get(incident_id)

    def note(self, incident_id: str, text: str, *, actor: str) -> Incident:
        self.get(incident_id)
        if not text.strip():
            raise UsageError("an empty note")
        self._log(incident_id, actor, "note", text.strip())
        return self.get(incident_id)

    def add_evidence(self, incident_id: str, kind: str, reference: str, *, actor: str) -> Incident:
        if kind not in {"alert", "event", "url", "file", "report"}:
            raise UsageError(f"evidence kind {kind!r}: alert, event, url, file or report")
        self.get(incident_id)
        self.store.connection.execute(
            "INSERT INTO incident_evidence VALUES (?, ?, ?, ?)",
            [incident_id, kind, reference, self._now().isoformat()],
        )
        self._log(incident_id, actor, "evidence", f"{kind}: {reference}")
        return self.get(incident_id)

    def flag(self, incident_id: str, flag: str, *, actor: str) -> Incident:
        self._check_flag(flag)
        incident = self.get(incident_id)
        flags = sorted({*incident.flags, flag})
        self.store.connection.execute(
            "UPDATE incidents SET flags = ? WHERE incident_id = ?", [json.dumps(flags), incident_id]
        )
        self._log(incident_id, actor, "flag", flag)
        return self.get(incident_id)

    def milestone(self, incident_id: str, name: str, *, actor: str, at: datetime | None = None) -> Incident:
        """Record a milestone (``classified_major``, ``dora.initial_submitted``, ``gdpr.notified`` ...)."""
        known = {c.start for c in load_clocks()} | {c.done_by for c in load_clocks()}
        if not _MILESTONE.match(name) or name not in known:
            raise UsageError(f"unknown milestone {name!r}; known: {', '.join(sorted(known))}")
        incident = self.get(incident_id)
        moment = at or self._now()
        milestones = {k: v.isoformat() for k, v in incident.milestones.items()}
        milestones[name] = moment.isoformat()
        self.store.connection.execute(
            "UPDATE incidents SET milestones = ? WHERE incident_id = ?", [json.dumps(milestones), incident_id]
        )
        self._log(incident_id, actor, "milestone", f"{name} at {moment.isoformat()}")
        return self.get(incident_id)
