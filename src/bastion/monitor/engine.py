"""``monitor run``: evaluate the rule pack over the store, incrementally.

The store numbers events in ingestion order (``seq``). A run remembers the highest ``seq`` it evaluated
(``meta['run.last_seq']``). The next run finds the earliest event time among newer events and, per rule,
re-evaluates from the start of the window holding it (minus the rule's lookback, which the query reads
itself) to the newest event. Windows that gained late events are evaluated again; the alert book
deduplicates them by (rule, group, window), so an alert grows instead of repeating.

``since`` forces evaluation from a time, ignoring the cursor (useful after changing a rule).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bastion.monitor.alerts import Alert, AlertBook
from bastion.monitor.rules import Rule, RuleHit
from bastion.monitor.store import EventStore, to_micros

__all__ = ["RunResult", "evaluate_all", "run_rules"]

logger = logging.getLogger(__name__)

_LAST_SEQ = "run.last_seq"
_RUN_NUMBER = "run.number"


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run did: alerts new or changed (suppressed ones separately), timing per rule."""

    run: int
    evaluated_events: int
    alerts: tuple[Alert, ...]
    suppressed: tuple[Alert, ...]
    seconds: dict[str, float] = field(default_factory=dict)


def evaluate_all(
    store: EventStore, rules: Sequence[Rule], earliest: int, end: int
) -> tuple[dict[str, list[RuleHit]], dict[str, float]]:
    """Every rule's hits over events from ``earliest`` to ``end`` (microseconds), and seconds per rule."""
    hits: dict[str, list[RuleHit]] = {}
    seconds: dict[str, float] = {}
    for rule in rules:
        started = time.perf_counter()
        start = rule.range_start(earliest) if earliest > 0 else 0
        hits[rule.id] = rule.evaluate(store.connection, start, end)
        seconds[rule.id] = time.perf_counter() - started
    return hits, seconds


def run_rules(store: EventStore, rules: Sequence[Rule], since: datetime | None = None) -> RunResult:
    """Evaluate ``rules`` over what is new since the last run (or everything from ``since``)."""
    book = AlertBook(store)
    last_seq = int(store.get_meta(_LAST_SEQ, "0") or 0)
    run = int(store.get_meta(_RUN_NUMBER, "0") or 0) + 1
    row = store.query("SELECT MAX(seq), MAX(ts) FROM event_rows")[0]
    max_seq, max_ts = (int(row[0]), int(row[1])) if row[0] is not None else (0, 0)
    if since is not None:
        earliest = max(1, to_micros(since))
    else:
        new = store.query("SELECT MIN(ts), COUNT(*) FROM event_rows WHERE seq > ?", [last_seq])[0]
        if not new[1]:
            store.set_meta(_RUN_NUMBER, str(run))
            return RunResult(run, 0, (), ())
        earliest = int(new[0]) if last_seq else 0
    count_row = store.query("SELECT COUNT(*) FROM event_rows WHERE ts >= ?", [earliest])[0]
    hits, seconds = evaluate_all(store, rules, earliest, max_ts + 1)
    changed: list[Alert] = []
    for rule in rules:
        changed.extend(book.record(rule, hits[rule.id], run))
    store.set_meta(_LAST_SEQ, str(max(max_seq, last_seq)))
    store.set_meta(_RUN_NUMBER, str(run))
    alerts = tuple(a for a in changed if a.status != "suppressed")
    suppressed = tuple(a for a in changed if a.status == "suppressed")
    logger.info("monitor run %d: %d alerts, %d suppressed", run, len(alerts), len(suppressed))
    return RunResult(run, int(count_row[0]), alerts, suppressed, seconds)
