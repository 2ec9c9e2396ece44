"""Helpers for the monitor tests: events, an audit store laid out like the gateway's, a CLI runner app."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer

from bastion.cli.monitor import monitor_app, retention_app
from bastion.core.events import Attribute, Event, EventKind

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
INJECTION = [{"detector": "injection", "type": "PROMPT_INJECTION", "score": 0.98, "flagged": True}]

app = typer.Typer()
app.add_typer(monitor_app, name="monitor")
app.add_typer(retention_app, name="retention")


def chat(
    number: int,
    *,
    tenant: str = "demo",
    key: str = "demo-key",
    seconds: float | None = None,
    **attributes: Any,
) -> Event:
    """A chat event ``number`` seconds after T0 (or at ``seconds``)."""
    values: dict[str, Any] = {Attribute.API_KEY_ID: key, **attributes}
    return Event(
        f"ev-{number}",
        T0 + timedelta(seconds=number if seconds is None else seconds),
        EventKind.CHAT,
        tenant,
        values,
    )


def attack(number: int, **extra: Any) -> Event:
    return chat(
        number,
        **{Attribute.GUARD_ACTION: "block", Attribute.GUARD_STAGE: "input", Attribute.DETECTIONS: INJECTION},
        **extra,
    )


AUDIT_SCHEMA = (
    "CREATE TABLE audit_events(seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE NOT NULL, "
    "recorded_at TEXT NOT NULL, "
    "tenant TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, content_hash TEXT NOT NULL, "
    "prev_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)"
)


def write_audit(path: Path, events: Iterable[Event], *, tombstone: Iterable[str] = ()) -> None:
    """An audit store with the gateway's table layout; ``tombstone`` ids get an erased body."""
    erased = set(tombstone)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    connection.execute(AUDIT_SCHEMA.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
    row = connection.execute("SELECT chain_hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    previous = row[0] if row else "0" * 64
    for event in events:
        body = event.to_json()
        content = hashlib.sha256(body.encode()).hexdigest()
        chain = hashlib.sha256((previous + content).encode()).hexdigest()
        if event.id in erased:
            body = '{"tombstone": true, "reason": "GDPR-1", "at": "2026-12-01T00:00:00+00:00"}'
        connection.execute(
            "INSERT INTO audit_events (event_id, recorded_at, tenant, kind, body, content_hash, prev_hash, "
            "chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event.id, T0.isoformat(), event.tenant, event.kind.value, body, content, previous, chain),
        )
        previous = chain
    connection.commit()
    connection.close()


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    """One local SparkSession for the whole test session (skips without pyspark or Java)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime")
    from bastion.monitor.spark import create_session

    session = create_session("bastion-monitor-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
