"""The hash-chained audit log on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bastion.core.errors import ConfigError, InputError, UsageError
from bastion.core.events import Attribute, Event, EventKind
from bastion.guard.audit import (
    GENESIS_HASH,
    AuditLog,
    PostgresAuditLog,
    SQLiteAuditLog,
    open_audit_log,
)

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
KEY = "audit-test-key-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


def event(index: int = 0, tenant: str = "acme", **attributes: Any) -> Event:
    return Event(
        id=f"evt-{uuid.uuid4().hex}",
        time=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        kind=EventKind.CHAT,
        tenant=tenant,
        attributes={Attribute.REQUEST_MODEL: "gemma-3-270m", Attribute.INPUT_TOKENS: index, **attributes},
    )


@pytest.fixture(autouse=True)
def _no_audit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_AUDIT_KEY", raising=False)
    monkeypatch.delenv("BASTION_AUDIT_DB", raising=False)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema on the local PostgreSQL server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {type(error).__name__}")
    schema = f"audit_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


def filled(path: Path, count: int = 6, **options: Any) -> list[Event]:
    events = [event(i) for i in range(count)]
    with SQLiteAuditLog(path, **options) as log:
        log.append_many(events[:2])
        for item in events[2:]:
            log.append(item)
    return events


# -- appending and reading ------------------------------------------------------------------------------


def test_append_returns_receipts_and_events_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    events = [event(i) for i in range(5)]
    with SQLiteAuditLog(path) as log:
        assert isinstance(log, AuditLog)
        assert log.head() == (0, GENESIS_HASH)
        first = log.append(events[0])
        rest = log.append_many(events[1:])
        assert [r.seq for r in [first, *rest]] == [1, 2, 3, 4, 5]
        assert log.head() == (5, rest[-1].chain_hash)
    with SQLiteAuditLog(path) as log:  # reopened: still there
        read = list(log.iter_events())
        assert [seq for seq, _ in read] == [1, 2, 3, 4, 5]
        assert [e.to_json() for _, e in read if e is not None] == [e.to_json() for e in events]
        assert [seq for seq, _ in log.iter_events(after_seq=3)] == [4, 5]
        assert log.verify().ok
    columns = sqlite3.connect(path).execute("SELECT * FROM audit_events WHERE seq = 1").fetchone()
    body = events[0].to_json()
    assert columns[1:6] == (events[0].id, columns[2], "acme", "chat", body)
    assert columns[6] == hashlib.sha256(body.encode()).hexdigest()
    assert columns[7] == GENESIS_HASH


def test_a_retried_append_returns_the_same_receipt_and_a_conflicting_one_is_refused(tmp_path: Path) -> None:
    with SQLiteAuditLog(tmp_path / "a.sqlite") as log:
        original = event(1)
        receipt = log.append(original)
        assert log.append(original) == receipt
        changed = Event(original.id, original.time, original.kind, original.tenant, {"other": True})
        with pytest.raises(InputError, match="another body"):
            log.append(changed)
        # all or nothing: the batch with a conflict in the middle leaves no trace
        with pytest.raises(InputError):
            log.append_many([event(2), changed, event(3)])
        assert log.head()[0] == 1
        assert log.verify() == log.verify() and log.verify().events == 1


def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    with SQLiteAuditLog(tmp_path / "a.sqlite", max_body_bytes=10_000) as log:
        with pytest.raises(InputError, match="exceed"):
            log.append(event(0, text="x" * 20_000))
        with pytest.raises(UsageError):
            log.append("not an event")  # type: ignore[arg-type]
        assert log.append_many([]) == []
        # Unicode of every kind is stored and hashed as given
        odd = event(0, text="Grüße \u202e\u200b \U0001f600 \x00")
        log.append(odd)
        assert next(log.iter_events())[1].to_json() == odd.to_json()  # type: ignore[union-attr]
        assert log.verify().ok
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00\xff" * 5000)
    with pytest.raises(ConfigError):
        SQLiteAuditLog(garbage)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute("INSERT INTO audit_meta VALUES ('format', 'someone-else-1')")
    with pytest.raises(ConfigError, match="not a Bastion audit log"):
        SQLiteAuditLog(other)
    stripped = tmp_path / "stripped.sqlite"
    filled(stripped, count=2)
    with sqlite3.connect(stripped) as connection:
        connection.execute("DELETE FROM audit_meta")
    with pytest.raises(ConfigError, match="no audit metadata"):
        SQLiteAuditLog(stripped)
    with pytest.raises(ConfigError, match="folder"):
        SQLiteAuditLog(tmp_path)
    with pytest.raises(UsageError):
        SQLiteAuditLog(tmp_path / "x.sqlite", synchronous="OFF")  # type: ignore[arg-type]


def test_open_audit_log_defaults_to_the_environment_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_audit_log(None) as log:
        log.append(event())
    assert (tmp_path / ".bastion" / "audit.sqlite").is_file()
    monkeypatch.setenv("BASTION_AUDIT_DB", str(tmp_path / "env.sqlite"))
    with open_audit_log(None) as log:
        assert log.head()[0] == 0
    assert (tmp_path / "env.sqlite").is_file()


# -- tampering ------------------------------------------------------------------------------------------


def _sql(*statements: str) -> Callable[[sqlite3.Connection], None]:
    def edit(connection: sqlite3.Connection) -> None:
        for statement in statements:
            connection.execute(statement)

    return edit


def _edit_body_and_hash(connection: sqlite3.Connection) -> None:
    body = connection.execute("SELECT body FROM audit_events WHERE seq = 3").fetchone()[0]
    forged = body.replace('"gen_ai.usage.input_tokens":2', '"gen_ai.usage.input_tokens":0')
    assert forged != body
    digest = hashlib.sha256(forged.encode()).hexdigest()
    connection.execute("UPDATE audit_events SET body = ?, content_hash = ? WHERE seq = 3", (forged, digest))


def _append_forged_row(connection: sqlite3.Connection) -> None:
    seq, prev = connection.execute("SELECT seq, chain_hash FROM audit_events ORDER BY seq DESC").fetchone()
    forged = event(99)
    body = forged.to_json()
    connection.execute(
        "INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq + 1, forged.id, "2026-01-01T00:00:00+00:00", "acme", "chat", body,
         hashlib.sha256(body.encode()).hexdigest(), prev, "f" * 64),
    )  # fmt: skip


TAMPERING: dict[str, tuple[Callable[[sqlite3.Connection], None], int, str]] = {
    "edited body": (
        _sql("UPDATE audit_events SET body = replace(body, 'gemma', 'GEMMA') WHERE seq = 4"),
        4,
        "content_hash",
    ),
    "edited body with recomputed content hash": (_edit_body_and_hash, 3, "chain_hash"),
    "edited tenant column": (_sql("UPDATE audit_events SET tenant = 'other' WHERE seq = 2"), 2, "chain_hash"),
    "edited timestamp column": (
        _sql("UPDATE audit_events SET recorded_at = '2020-01-01T00:00:00+00:00' WHERE seq = 5"),
        5,
        "chain_hash",
    ),
    "deleted row": (_sql("DELETE FROM audit_events WHERE seq = 3"), 3, "missing"),
    "deleted first row": (_sql("DELETE FROM audit_events WHERE seq = 1"), 1, "missing"),
    "truncated tail": (_sql("DELETE FROM audit_events WHERE seq >= 5"), 5, "tail removed"),
    "inserted row at the end": (_append_forged_row, 7, "chain_hash"),
    "reordered rows": (
        _sql(
            "UPDATE audit_events SET seq = -1 WHERE seq = 2",
            "UPDATE audit_events SET seq = 2 WHERE seq = 3",
            "UPDATE audit_events SET seq = 3 WHERE seq = -1",
        ),
        2,
        "prev_hash",
    ),
    "forged tombstone": (
        _sql(
            'UPDATE audit_events SET body = \'{"at":"2026-01-01T00:00:00+00:00","reason":"x",'
            '"tombstone":true}\' WHERE seq = 2'
        ),
        2,
        "tombstone without an erasure record",
    ),
    "removed head record": (_sql("DELETE FROM audit_head"), 7, "head record was removed"),
    "moved head record": (_sql("UPDATE audit_head SET seq = 4"), 5, "rows after the head"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_every_kind_of_tampering_is_detected_at_the_right_row(tmp_path: Path, case: str) -> None:
    path = tmp_path / "audit.sqlite"
    filled(path)
    with SQLiteAuditLog(path) as log:
        assert log.verify().ok
    edit, broken_seq, reason = TAMPERING[case]
    with sqlite3.connect(path) as connection:
        edit(connection)
    with SQLiteAuditLog(path) as log:
        result = log.verify()
    assert not result.ok
    assert result.first_broken_seq == broken_seq, result
    assert reason in result.reason


def test_a_keyed_chain_cannot_be_rewritten_without_the_key(tmp_path: Path) -> None:
    """Without a key anyone can recompute the chain; with one, a recomputed chain fails verification."""
    path = tmp_path / "audit.sqlite"
    filled(path, key=KEY)
    with SQLiteAuditLog(path, key=KEY) as log:
        assert log.algorithm == "hmac-sha256"
        assert log.verify().ok
    # The attacker edits row 2 and recomputes every later hash with plain SHA-256 (no key).
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT * FROM audit_events ORDER BY seq").fetchall()
        prev = rows[0][8]
        for seq, event_id, recorded_at, tenant, kind, stored, _c, _p, _h in rows[1:]:
            body = stored.replace("gemma", "GEMMA") if seq == 2 else stored
            content = hashlib.sha256(body.encode()).hexdigest()
            fields = [prev, seq, event_id, recorded_at, tenant, kind, content]
            chain = hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).hexdigest()
            connection.execute(
                "UPDATE audit_events SET body = ?, content_hash = ?, prev_hash = ?, chain_hash = ? "
                "WHERE seq = ?",
                (body, content, prev, chain, seq),
            )
            prev = chain
        connection.execute("UPDATE audit_head SET chain_hash = ?", (prev,))
    with SQLiteAuditLog(path, key=KEY) as log:
        result = log.verify()
    assert (result.ok, result.first_broken_seq) == (False, 2)


def test_a_wrong_or_missing_key_is_reported_and_refuses_appends(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    filled(path, count=2, key=KEY)
    with SQLiteAuditLog(path, key="another-key-0123456789abcdef") as log:
        result = log.verify()
        assert not result.ok and "does not match" in result.reason
        with pytest.raises(ConfigError, match="refusing to append"):
            log.append(event())
    with SQLiteAuditLog(path, key=None) as log:
        assert "set BASTION_AUDIT_KEY" in log.verify().reason
        with pytest.raises(ConfigError):
            log.append(event())
    with pytest.raises(ConfigError, match="16 bytes"):
        SQLiteAuditLog(tmp_path / "short.sqlite", key="short")


def test_the_key_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_AUDIT_KEY", KEY)
    path = tmp_path / "audit.sqlite"
    filled(path, count=2)
    with SQLiteAuditLog(path) as log:
        assert log.algorithm == "hmac-sha256" and log.verify().ok
    meta = dict(sqlite3.connect(path).execute("SELECT name, value FROM audit_meta").fetchall())
    assert meta["hash"] == "hmac-sha256" and KEY not in json.dumps(meta)
    monkeypatch.delenv("BASTION_AUDIT_KEY")
    with SQLiteAuditLog(path) as log:
        assert not log.verify().ok


# -- erasure --------------------------------------------------------------------------------------------


def test_tombstone_erases_the_body_keeps_the_chain_and_records_the_erasure(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    secret_person = "Erika Mustermann DE89370400440532013000"
    events = [event(0), event(1, text=secret_person), event(2)]
    with SQLiteAuditLog(path) as log:
        log.append_many(events)
        assert log.tombstone(events[1].id, "GDPR-4711")
        assert not log.tombstone(events[1].id, "again")
        assert not log.tombstone("no-such-event", "GDPR-4712")
        with pytest.raises(UsageError):
            log.tombstone(events[0].id, " ")
        read = list(log.iter_events())
        assert [seq for seq, _ in read] == [1, 2, 3, 4]
        assert read[1][1] is None
        record = read[3][1]
        assert record is not None and record.kind is EventKind.ADMIN
        assert record.get(Attribute.ADMIN_ACTION) == "audit.tombstoned"
        assert record.get("bastion.audit.seq") == 2 and record.get("bastion.audit.event_id") == events[1].id
        assert log.verify().ok
    row = (
        sqlite3.connect(path).execute("SELECT body, content_hash FROM audit_events WHERE seq = 2").fetchone()
    )
    assert json.loads(row[0])["tombstone"] is True
    assert row[1] == hashlib.sha256(events[1].to_json().encode()).hexdigest()
    # the erased text is gone from every file of the database, WAL included
    for file in tmp_path.iterdir():
        assert b"Mustermann" not in file.read_bytes(), file.name


# -- durability and concurrency -------------------------------------------------------------------------


def test_threads_sharing_one_log_are_group_committed_and_keep_their_own_errors(tmp_path: Path) -> None:
    shared = event(0)
    conflicting = Event(shared.id, shared.time, shared.kind, shared.tenant, {"changed": True})
    receipts: dict[str, Any] = {}
    failed_batch = [event(1), conflicting, event(2)]
    errors: list[Exception] = []
    with SQLiteAuditLog(tmp_path / "audit.sqlite") as log:
        log.append(shared)
        barrier = threading.Barrier(8)

        def work(index: int) -> None:
            barrier.wait()
            for i in range(25):
                try:
                    if (index, i) == (3, 10):  # one caller's batch fails as a whole, alone
                        log.append_many(failed_batch)
                    elif index % 2:
                        pair = [event(i, tenant=f"t{index}"), event(i, tenant=f"t{index}")]
                        receipts.update(zip([e.id for e in pair], log.append_many(pair), strict=True))
                    else:
                        item = event(i, tenant=f"t{index}")
                        receipts[item.id] = log.append(item)
                except InputError as error:
                    errors.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(errors) == 1 and "another body" in str(errors[0])
        expected = 4 * 25 + 4 * 25 * 2 - 2
        assert len(receipts) == expected
        assert sorted(r.seq for r in receipts.values()) == list(range(2, expected + 2))
        stored = {e.id: seq for seq, e in log.iter_events() if e is not None}
        assert all(stored[event_id] == receipt.seq for event_id, receipt in receipts.items())
        assert failed_batch[0].id not in stored and failed_batch[2].id not in stored
        assert log.verify().ok


_WRITER = """
import sys, uuid
from datetime import UTC, datetime
from bastion.core.events import Event, EventKind
from bastion.guard.audit import open_audit_log
log = open_audit_log(sys.argv[1])
prefix = sys.argv[2]
count = int(sys.argv[3])
for i in range(count):
    e = Event(f"{prefix}-{i}", datetime.now(UTC), EventKind.CHAT, "t", {"i": i})
    receipt = log.append(e)
    print(receipt.seq, receipt.event_id, flush=True)
"""


def _writer(path: Path | str, prefix: str, count: int) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), prefix, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_a_killed_writer_loses_no_acknowledged_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    SQLiteAuditLog(path).close()
    writer = _writer(path, "crash", 1_000_000)
    assert writer.stdout is not None
    acknowledged: list[tuple[int, str]] = []
    while len(acknowledged) < 300:
        seq, event_id = writer.stdout.readline().split()
        acknowledged.append((int(seq), event_id))
    os.kill(writer.pid, signal.SIGKILL)  # mid-stream: more appends were under way
    for line in writer.stdout:  # acknowledgements already in the pipe count too
        seq, event_id = line.split()
        acknowledged.append((int(seq), event_id))
    writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    with SQLiteAuditLog(path) as log:
        stored = {seq: e.id for seq, e in log.iter_events() if e is not None}
        assert all(stored.get(seq) == event_id for seq, event_id in acknowledged)
        result = log.verify()
    assert result.ok, result
    assert result.events >= len(acknowledged)


def test_several_processes_append_to_one_sqlite_file_linearly(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    SQLiteAuditLog(path).close()
    writers = [_writer(path, f"p{n}", 60) for n in range(3)]
    for writer in writers:
        writer.communicate(timeout=120)
        assert writer.returncode == 0
    with SQLiteAuditLog(path) as log:
        result = log.verify()
        assert (result.ok, result.events) == (True, 180)
        assert [seq for seq, _ in log.iter_events()] == list(range(1, 181))


# -- PostgreSQL -----------------------------------------------------------------------------------------


def test_postgres_log_appends_verifies_and_detects_tampering(pg_url: str) -> None:
    import psycopg

    events = [event(i) for i in range(5)]
    with PostgresAuditLog(pg_url) as log, open_audit_log(pg_url) as same:
        receipts = log.append_many(events[:3]) + [log.append(e) for e in events[3:]]
        assert [r.seq for r in receipts] == [1, 2, 3, 4, 5]
        assert same.head() == (5, receipts[-1].chain_hash)
        assert log.tombstone(events[0].id, "GDPR-1")
        assert [seq for seq, e in log.iter_events() if e is None] == [1]
        assert log.verify().ok
        with psycopg.connect(pg_url, autocommit=True) as connection:
            connection.execute("UPDATE audit_events SET kind = 'guard.decision' WHERE seq = 4")
        result = log.verify()
        assert (result.ok, result.first_broken_seq) == (False, 4)
        with psycopg.connect(pg_url, autocommit=True) as connection:
            connection.execute("UPDATE audit_events SET kind = 'chat' WHERE seq = 4")
            connection.execute("DELETE FROM audit_events WHERE seq = 2")
        result = log.verify()
        assert (result.ok, result.first_broken_seq) == (False, 2)
        assert "missing" in result.reason
    with psycopg.connect(pg_url) as connection:
        types: dict[str, str] = dict(
            connection.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'audit_events' AND table_schema = current_schema()"
            ).fetchall()
        )
    assert types["seq"] == "bigint" and types["body"] == "text"


def test_postgres_concurrent_appends_from_threads_and_processes_stay_linear(pg_url: str) -> None:
    PostgresAuditLog(pg_url).close()
    errors: list[BaseException] = []

    def append_from_thread(n: int) -> None:
        try:
            with PostgresAuditLog(pg_url) as log:
                for i in range(40):
                    log.append(event(i, tenant=f"t{n}"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    processes = [_writer(pg_url, f"proc{n}", 40) for n in range(2)]
    threads = [threading.Thread(target=append_from_thread, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for process in processes:
        process.communicate(timeout=120)
        assert process.returncode == 0
    assert not errors
    with PostgresAuditLog(pg_url) as log:
        result = log.verify()
        assert (result.ok, result.events) == (True, 240), result
        assert [seq for seq, _ in log.iter_events()] == list(range(1, 241))


def test_postgres_errors_never_show_the_password() -> None:
    from bastion.core.errors import UpstreamError

    started = time.monotonic()
    with pytest.raises(UpstreamError) as caught:
        PostgresAuditLog("postgresql://auditor:hunter2-secret@127.0.0.1:1/test")
    assert "hunter2" not in str(caught.value)
    assert time.monotonic() - started < 15
    with pytest.raises(UsageError):
        PostgresAuditLog("/tmp/not-a-url")
