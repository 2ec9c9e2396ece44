"""Alerts: rule hits deduplicated, grouped and suppressed, kept in the monitor store.

- **Deduplication**: an alert's id is a hash of (rule, group, window start). Evaluating the same window
  again (an incremental run that saw late events) updates that alert's count and last-seen time instead of
  raising a second one.
- **Grouping**: a rule's ``group_key`` (tenant/key, attack text hash, provider/model) is the unit of an
  alert; all hits of one group in one window are one alert with a count.
- **Suppression**: a new window of a (rule, group) pair that already alerted less than the rule's
  ``suppress`` period earlier is stored with status ``suppressed`` and not delivered again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bastion.core.types import Severity
from bastion.monitor.rules import Rule, RuleHit
from bastion.monitor.store import EventStore, from_micros

__all__ = ["Alert", "AlertBook", "alert_id"]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS alerts (alert_id VARCHAR PRIMARY KEY, rule VARCHAR NOT NULL, "
    "title VARCHAR, severity VARCHAR NOT NULL, group_key VARCHAR NOT NULL, window_start BIGINT NOT NULL, "
    "count BIGINT NOT NULL, first_ts BIGINT NOT NULL, last_ts BIGINT NOT NULL, sample_event VARCHAR, "
    "status VARCHAR NOT NULL, owasp VARCHAR, atlas VARCHAR, created_at VARCHAR, updated_at VARCHAR, "
    "run INTEGER)"
)
_TYPES = {
    "alert_id": "VARCHAR",
    "rule": "VARCHAR",
    "title": "VARCHAR",
    "severity": "VARCHAR",
    "group_key": "VARCHAR",
    "window_start": "BIGINT",
    "count": "BIGINT",
    "first_ts": "BIGINT",
    "last_ts": "BIGINT",
    "sample_event": "VARCHAR",
    "status": "VARCHAR",
    "owasp": "VARCHAR",
    "atlas": "VARCHAR",
    "created_at": "VARCHAR",
    "updated_at": "VARCHAR",
    "run": "INTEGER",
}
_COLUMNS = (
    "alert_id, rule, title, severity, group_key, window_start, count, first_ts, last_ts, sample_event, "
    "status, owasp, atlas, created_at, updated_at, run"
)


def alert_id(rule: str, group: str, window_start: int) -> str:
    """The stable id of the alert of ``rule`` for ``group`` in the window starting at ``window_start``."""
    return hashlib.sha256(f"{rule}\x00{group}\x00{window_start}".encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. Times are UTC; ``status`` is ``new``, ``updated`` or ``suppressed``."""

    id: str
    rule: str
    title: str
    severity: Severity
    group: str
    window_start: datetime
    count: int
    first_seen: datetime
    last_seen: datetime
    sample_event: str
    status: str
    owasp: tuple[str, ...]
    atlas: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``bastion monitor run --format json``."""
        return {
            "id": self.id,
            "rule": self.rule,
            "title": self.title,
            "severity": self.severity.value,
            "group": self.group,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "window_start": self.window_start.isoformat(),
            "sample_event": self.sample_event,
            "status": self.status,
            "owasp": list(self.owasp),
            "atlas": list(self.atlas),
        }


def _alert(row: Sequence[Any]) -> Alert:
    return Alert(
        id=str(row[0]),
        rule=str(row[1]),
        title=str(row[2] or ""),
        severity=Severity(row[3]),
        group=str(row[4]),
        window_start=from_micros(row[5]),
        count=int(row[6]),
        first_seen=from_micros(row[7]),
        last_seen=from_micros(row[8]),
        sample_event=str(row[9] or ""),
        status=str(row[10]),
        owasp=tuple(filter(None, str(row[11] or "").split(","))),
        atlas=tuple(filter(None, str(row[12] or "").split(","))),
    )


class AlertBook:
    """The alerts table of an :class:`EventStore`."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        store.connection.execute(_SCHEMA)

    def record(self, rule: Rule, hits: Iterable[RuleHit], run: int) -> list[Alert]:
        """Turn hits into alerts; returns those new or changed by this call (suppressed ones included)."""
        now = datetime.now(UTC).isoformat()
        connection = self.store.connection
        suppress = rule.suppress // timedelta(microseconds=1)
        existing = {
            str(row[0]): row
            for row in connection.execute(
                "SELECT alert_id, count, first_ts, last_ts, status, group_key, window_start FROM alerts "
                "WHERE rule = ?",
                [rule.id],
            ).fetchall()
        }
        #: per group, window starts of alerts that were not suppressed
        raised: dict[str, list[int]] = {}
        for row in existing.values():
            if row[4] != "suppressed":
                raised.setdefault(str(row[5]), []).append(int(row[6]))
        inserts: list[dict[str, Any]] = []
        updates: list[list[Any]] = []
        touched: list[str] = []
        for hit in sorted(hits, key=lambda h: (h.group, h.window_start)):
            identifier = alert_id(rule.id, hit.group, hit.window_start)
            old = existing.get(identifier)
            if old is not None:
                if (int(old[1]), int(old[2]), int(old[3])) == (hit.count, hit.first_ts, hit.last_ts):
                    continue
                status = "suppressed" if old[4] == "suppressed" else "updated"
                updates.append([hit.count, hit.first_ts, hit.last_ts, status, now, run, identifier])
            else:
                earlier = raised.get(hit.group, [])
                recent = any(hit.window_start - suppress < start < hit.window_start for start in earlier)
                status = "suppressed" if recent else "new"
                if status == "new":
                    raised.setdefault(hit.group, []).append(hit.window_start)
                inserts.append(
                    {
                        "alert_id": identifier,
                        "rule": rule.id,
                        "title": rule.title,
                        "severity": rule.severity.value,
                        "group_key": hit.group,
                        "window_start": hit.window_start,
                        "count": hit.count,
                        "first_ts": hit.first_ts,
                        "last_ts": hit.last_ts,
                        "sample_event": hit.sample_event,
                        "status": status,
                        "owasp": ",".join(rule.owasp),
                        "atlas": ",".join(rule.atlas),
                        "created_at": now,
                        "updated_at": now,
                        "run": run,
                    }
                )
            touched.append(identifier)
        if updates:
            connection.executemany(
                "UPDATE alerts SET count = ?, first_ts = ?, last_ts = ?, status = ?, updated_at = ?, run = ? "
                "WHERE alert_id = ?",
                updates,
            )
        if inserts:
            self.store.bulk_insert("alerts", _TYPES, inserts)
        return self.list(ids=touched, include_suppressed=True) if touched else []

    def list(
        self,
        *,
        rule: str = "",
        since: datetime | None = None,
        include_suppressed: bool = False,
        ids: Sequence[str] = (),
    ) -> list[Alert]:
        """Stored alerts, oldest first."""
        clauses: list[str] = []
        parameters: list[Any] = []
        if rule:
            clauses.append("rule = ?")
            parameters.append(rule)
        if since is not None:
            clauses.append("last_ts >= ?")
            parameters.append((since - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))
        if not include_suppressed:
            clauses.append("status <> 'suppressed'")
        if ids:
            clauses.append("list_contains(?, alert_id)")
            parameters.append(list(ids))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.store.connection.execute(
            f"SELECT {_COLUMNS} FROM alerts {where} ORDER BY first_ts, rule, group_key", parameters
        ).fetchall()
        return [_alert(row) for row in rows]

    def get(self, identifier: str) -> Alert | None:
        found = self.list(ids=[identifier], include_suppressed=True)
        return found[0] if found else None


def summarize(alerts: Iterable[Alert]) -> Mapping[str, int]:
    """Alerts per rule."""
    counts: dict[str, int] = {}
    for alert in alerts:
        counts[alert.rule] = counts.get(alert.rule, 0) + 1
    return counts
