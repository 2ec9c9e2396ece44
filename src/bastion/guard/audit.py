"""Tamper-evident audit log: every event in one hash chain, in SQLite or PostgreSQL.

Data flow::

    Event ──to_json()──► body ──sha256──► content_hash
                                              │
    prev_hash, seq, event_id, recorded_at, tenant, kind, content_hash ──H──► chain_hash ──► next prev_hash

``H`` is HMAC-SHA256 under ``BASTION_AUDIT_KEY`` when a key is set (then nobody without the key can rewrite
the chain so that it verifies again) and plain SHA-256 otherwise (then the chain proves order and
completeness against accidents and careless edits, but someone with write access can recompute it). The
choice is fixed when the log is created and recorded in ``audit_meta`` with a key check value, so a log is
never continued under a different key and :meth:`ChainedAuditLog.verify` reports a wrong key as such.

Tables (the monitor reads ``audit_events`` directly)::

    audit_events(seq, event_id UNIQUE, recorded_at, tenant, kind, body, content_hash, prev_hash, chain_hash)
    audit_head(id = 1, seq, chain_hash)     the last appended row, moved in the same transaction
    audit_meta(name, value)                 format, hash algorithm, key check value, created_at

``seq`` starts at 1 and has no gaps: it is assigned under the write lock (``BEGIN IMMEDIATE`` on SQLite, a
``FOR UPDATE`` row lock on ``audit_head`` in PostgreSQL), not by an identity column, because a sequence
leaves gaps when a transaction rolls back and a gap must mean "a row was deleted".

Erasure (GDPR Art. 17): :meth:`ChainedAuditLog.tombstone` replaces one event's body with
``{"tombstone": true, "reason": ..., "at": ...}`` and keeps its ``content_hash``, so the chain still verifies.
It also appends an ``admin`` event (``bastion.admin.action = audit.tombstoned``) naming the erased row;
:meth:`verify` accepts a tombstone only with such a record after it, so a forged tombstone is tampering.

Durability: :meth:`append` returns after the transaction committed. SQLite runs in WAL mode with
``synchronous=NORMAL`` by default: a commit has then been written to the WAL file by the ``write()`` system
call before it returns, so it survives the process being killed (``kill -9``) - the operating system owns
those pages. Only a power cut or kernel crash may lose the last transactions; ``synchronous="FULL"`` fsyncs
the WAL at every commit and closes that gap too, at a measured cost (``benchmarks/results/audit.md``).

Secrets and personal data: the log stores what callers give it. Callers pseudonymise text attributes and
never put API keys or credentials in events (``bastion.guard.keys`` records only key ids); scanning every
event for secrets here would cost more than the rest of the append.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from bastion.core.errors import ConfigError, InputError, UpstreamError, UsageError
from bastion.core.events import Attribute, Event, EventKind
from bastion.guard._sql import Cursor, Database, Synchronous, connect, is_postgres_url

__all__ = [
    "AUDIT_KEY_ENV",
    "DEFAULT_AUDIT_PATH",
    "GENESIS_HASH",
    "AuditLog",
    "AuditReceipt",
    "AuditRecord",
    "AuditVerification",
    "ChainedAuditLog",
    "PostgresAuditLog",
    "SQLiteAuditLog",
    "open_audit_log",
]

logger = logging.getLogger(__name__)

AUDIT_KEY_ENV: Final = "BASTION_AUDIT_KEY"
AUDIT_DB_ENV: Final = "BASTION_AUDIT_DB"
DEFAULT_AUDIT_PATH: Final = Path(".bastion") / "audit.sqlite"
#: ``prev_hash`` of the first row.
GENESIS_HASH: Final = "0" * 64
#: ``bastion.admin.action`` of the record that accompanies a tombstone.
TOMBSTONE_ACTION: Final = "audit.tombstoned"
TOMBSTONE_SEQ: Final = "bastion.audit.seq"
TOMBSTONE_EVENT: Final = "bastion.audit.event_id"
TOMBSTONE_REASON: Final = "bastion.audit.reason"
_FORMAT: Final = "bastion-audit-1"
_KEY_CHECK_MESSAGE: Final = b"bastion audit key check v1"
_DEFAULT_MAX_BODY: Final = 1_000_000
_PAGE: Final = 2_000
_MAX_GROUP: Final = 256
_TOMBSTONE_KEYS: Final = frozenset({"at", "reason", "tombstone"})


class _FromEnvironment:
    def __repr__(self) -> str:
        return "FROM_ENVIRONMENT"


FROM_ENVIRONMENT: Final = _FromEnvironment()
"""Default ``key``: read ``BASTION_AUDIT_KEY`` (unset or empty: no key)."""

KeyArgument = bytes | str | None | _FromEnvironment


@dataclass(frozen=True, slots=True)
class AuditReceipt:
    """Proof that an event is in the log: where, when and under which chain hash."""

    seq: int
    event_id: str
    recorded_at: str
    chain_hash: str


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """Result of :meth:`AuditLog.verify`. ``first_broken_seq`` is ``None`` when ``ok``."""

    ok: bool
    events: int
    first_broken_seq: int | None
    reason: str


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored row as exported: the event, or ``None`` when it was erased (a tombstone)."""

    seq: int
    event_id: str
    recorded_at: str
    tenant: str
    kind: str
    chain_hash: str
    event: Event | None


@runtime_checkable
class AuditLog(Protocol):
    """An append-only, hash-chained event log."""

    def append(self, event: Event) -> AuditReceipt:
        """Append one event; durable when this returns."""

    def append_many(self, events: Iterable[Event]) -> list[AuditReceipt]:
        """Append several events in one transaction (all or none)."""

    def verify(self) -> AuditVerification:
        """Check the whole chain, the head record and the key."""

    def tombstone(self, event_id: str, reason: str) -> bool:
        """Erase one event's body, keeping the chain valid; ``False`` when unknown or already erased."""

    def iter_events(self, after_seq: int = 0) -> Iterator[tuple[int, Event | None]]:
        """``(seq, event)`` in order after ``after_seq``; ``None`` for tombstones."""

    def head(self) -> tuple[int, str]:
        """``(seq, chain_hash)`` of the last row; ``(0, GENESIS_HASH)`` when empty."""

    def close(self) -> None:
        """Release the connection."""


def _resolve_key(key: KeyArgument) -> bytes | None:
    if isinstance(key, _FromEnvironment):
        key = os.environ.get(AUDIT_KEY_ENV) or None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if key is not None and len(key) < 16:
        raise ConfigError(f"{AUDIT_KEY_ENV} must be at least 16 bytes long")
    return key


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _content_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _chain_message(
    prev_hash: str, seq: int, event_id: str, recorded_at: str, tenant: str, kind: str, content_hash: str
) -> bytes:
    # A JSON array is an unambiguous encoding: no field can run into the next one.
    fields = [prev_hash, seq, event_id, recorded_at, tenant, kind, content_hash]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _tombstone_body(body: str) -> dict[str, Any] | None:
    """The tombstone in ``body``, or ``None`` when ``body`` is an event."""
    if not body.startswith('{"at":'):  # canonical JSON sorts keys: "at" < "reason" < "tombstone"
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if isinstance(value, dict) and value.get("tombstone") is True and set(value) == _TOMBSTONE_KEYS:
        return value
    return None


@dataclass(slots=True)
class _Pending:
    """One caller's events waiting for a group commit."""

    items: list[tuple[Event, str]]
    done: bool = False
    receipts: list[AuditReceipt] | None = None
    error: Exception | None = None


class ChainedAuditLog:
    """The chain logic over :class:`bastion.guard._sql.Database`; use a subclass or :func:`open_audit_log`."""

    def __init__(self, database: Database, *, key: KeyArgument, max_body_bytes: int) -> None:
        self._db = database
        self._key = _resolve_key(key)
        self._max_body_bytes = max_body_bytes
        self._group = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self._create_schema()
        self._algorithm, self._key_problem = self._check_meta()

    # -- set-up -----------------------------------------------------------------------------------------

    def _create_schema(self) -> None:
        big = self._db.big_integer
        statements = [
            f"CREATE TABLE IF NOT EXISTS audit_events (seq {big} PRIMARY KEY, event_id TEXT UNIQUE NOT NULL, "
            "recorded_at TEXT NOT NULL, tenant TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, "
            "content_hash TEXT NOT NULL, prev_hash TEXT NOT NULL, chain_hash TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS audit_events_tenant ON audit_events (tenant, seq)",
            "CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), "
            f"seq {big} NOT NULL, chain_hash TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ]
        algorithm = "hmac-sha256" if self._key is not None else "sha256"
        meta = {
            "format": _FORMAT,
            "hash": algorithm,
            "key_check": self._key_check() if self._key is not None else "",
            "created_at": _now(),
        }
        with self._db.write() as cursor:
            if self._db.dialect == "postgresql":
                # CREATE TABLE IF NOT EXISTS races between processes on PostgreSQL; serialise it.
                cursor.execute("SELECT pg_advisory_xact_lock(7283190455)")
            for statement in statements:
                cursor.execute(statement)
            if cursor.one("SELECT value FROM audit_meta WHERE name = 'format'") is None:
                if cursor.one("SELECT seq FROM audit_events LIMIT 1") is not None:
                    raise ConfigError(f"{self._db.target}: audit_events has rows but no audit metadata")
                for name, value in meta.items():
                    cursor.execute("INSERT INTO audit_meta (name, value) VALUES (?, ?)", (name, value))
                cursor.execute(
                    "INSERT INTO audit_head (id, seq, chain_hash) VALUES (1, 0, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (GENESIS_HASH,),
                )

    def _check_meta(self) -> tuple[str, str]:
        with self._db.read() as cursor:
            meta: dict[str, str] = dict(cursor.all("SELECT name, value FROM audit_meta"))
        if meta.get("format") != _FORMAT:
            raise ConfigError(f"{self._db.target}: not a Bastion audit log (format {meta.get('format')!r})")
        algorithm = str(meta.get("hash"))
        if algorithm == "sha256":
            problem = "" if self._key is None else f"this log is not keyed but {AUDIT_KEY_ENV} is set"
        elif algorithm == "hmac-sha256":
            if self._key is None:
                problem = f"this log is keyed: set {AUDIT_KEY_ENV} to the key it was written with"
            elif not hmac.compare_digest(self._key_check(), str(meta.get("key_check", ""))):
                problem = f"{AUDIT_KEY_ENV} does not match the key this log was written with"
            else:
                problem = ""
        else:
            raise ConfigError(f"{self._db.target}: unknown audit hash algorithm {algorithm!r}")
        return algorithm, problem

    def _key_check(self) -> str:
        assert self._key is not None
        return hmac.new(self._key, _KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()

    def _chain_hash(self, *fields: Any) -> str:
        message = _chain_message(*fields)
        if self._algorithm == "hmac-sha256" and self._key is not None:
            return hmac.new(self._key, message, hashlib.sha256).hexdigest()
        return hashlib.sha256(message).hexdigest()

    @property
    def algorithm(self) -> str:
        """``hmac-sha256`` or ``sha256``: how this log's chain is hashed."""
        return self._algorithm

    @property
    def target(self) -> str:
        """Where the log is (a path or a URL without credentials)."""
        return self._db.target

    # -- writing ----------------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Raise :class:`ConfigError` when appends would be refused (missing or wrong key)."""
        self._require_writable()

    def _require_writable(self) -> None:
        if self._key_problem:
            raise ConfigError(f"{self._db.target}: {self._key_problem}; refusing to append")

    def append(self, event: Event) -> AuditReceipt:
        """Append one event; it is committed (and survives ``kill -9``) when this returns.

        Appending an event id that is already in the log returns the existing receipt when the body is the
        same (a retry) and raises :class:`InputError` when it differs.
        """
        return self.append_many([event])[0]

    def append_many(self, events: Iterable[Event]) -> list[AuditReceipt]:
        """Append several events in one transaction: all are committed, or none.

        Group commit: when several threads append through this object at once, one of them (the leader)
        writes every waiting call's events in one transaction and the others return when it has committed.
        Each caller still gets its own receipts or error: a failed group is retried one call at a time.
        """
        self._require_writable()
        item = _Pending([self._prepare(event) for event in events])
        if not item.items:
            return []
        group = self._group
        with group:
            self._queue.append(item)
            while not item.done:
                if self._leading:
                    group.wait()
                    continue
                self._leading = True
                batch = self._take_group()
                group.release()
                try:
                    self._commit_group(batch)
                finally:
                    group.acquire()
                    for pending in batch:
                        pending.done = True
                    self._leading = False
                    group.notify_all()
        if item.error is not None:
            raise item.error
        if item.receipts is None:  # the leader was interrupted (KeyboardInterrupt, SystemExit)
            raise UpstreamError(f"{self._db.target}: the append was interrupted; the events may be missing")
        return item.receipts

    def _take_group(self) -> list[_Pending]:
        """Waiting calls from the front of the queue: up to ``_MAX_GROUP`` events, at least one call."""
        taken, events = 0, 0
        for pending in self._queue:
            if taken and events + len(pending.items) > _MAX_GROUP:
                break
            taken += 1
            events += len(pending.items)
        batch = self._queue[:taken]
        del self._queue[:taken]
        return batch

    def _commit_group(self, batch: list[_Pending]) -> None:
        try:
            with self._db.write() as cursor:
                receipts = self._insert(cursor, [item for pending in batch for item in pending.items])
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
                return
            for pending in batch:  # isolate the failure: every other call still gets in
                self._commit_group([pending])
            return
        start = 0
        for pending in batch:
            pending.receipts = receipts[start : start + len(pending.items)]
            start += len(pending.items)

    def _prepare(self, event: Event) -> tuple[Event, str]:
        if not isinstance(event, Event):
            raise UsageError(f"expected an Event, got {type(event).__name__}")
        body = event.to_json()
        if len(body) > self._max_body_bytes or len(body.encode("utf-8")) > self._max_body_bytes:
            raise InputError(f"event {event.id}: {len(body.encode('utf-8'))} bytes exceed the audit limit")
        return event, body

    def _insert(self, cursor: Cursor, prepared: list[tuple[Event, str]]) -> list[AuditReceipt]:
        """Chain and insert ``prepared`` after the head; a few round trips whatever the batch size."""
        head = cursor.one(f"SELECT seq, chain_hash FROM audit_head WHERE id = 1{self._db.for_update}")
        if head is None:
            raise ConfigError(f"{self._db.target}: the audit head record is missing (bastion audit verify)")
        seq, prev_hash = int(head[0]), str(head[1])
        known = self._existing(cursor, [event.id for event, _body in prepared])
        receipts: list[AuditReceipt] = []
        rows: list[tuple[Any, ...]] = []
        for event, body in prepared:
            content_hash = _content_hash(body)
            existing = known.get(event.id)
            if existing is not None:
                if existing[0] != content_hash:
                    raise InputError(f"event id {event.id} is already in the audit log with another body")
                receipts.append(existing[1])
                continue
            seq += 1
            recorded_at = _now()
            kind = event.kind.value
            chain_hash = self._chain_hash(
                prev_hash, seq, event.id, recorded_at, event.tenant, kind, content_hash
            )
            rows.append(
                (seq, event.id, recorded_at, event.tenant, kind, body, content_hash, prev_hash, chain_hash)
            )
            receipt = AuditReceipt(seq, event.id, recorded_at, chain_hash)
            known[event.id] = (content_hash, receipt)
            receipts.append(receipt)
            prev_hash = chain_hash
        if rows:
            cursor.execute_many(
                "INSERT INTO audit_events (seq, event_id, recorded_at, tenant, kind, body, content_hash, "
                "prev_hash, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            cursor.execute("UPDATE audit_head SET seq = ?, chain_hash = ? WHERE id = 1", (seq, prev_hash))
        return receipts

    @staticmethod
    def _existing(cursor: Cursor, event_ids: list[str]) -> dict[str, tuple[str, AuditReceipt]]:
        """``event_id -> (content_hash, receipt)`` for the ids already in the log."""
        found: dict[str, tuple[str, AuditReceipt]] = {}
        unique = list(dict.fromkeys(event_ids))
        for start in range(0, len(unique), 200):
            chunk = unique[start : start + 200]
            marks = ", ".join("?" * len(chunk))
            for seq, event_id, recorded_at, content_hash, chain_hash in cursor.all(
                "SELECT seq, event_id, recorded_at, content_hash, chain_hash FROM audit_events "
                f"WHERE event_id IN ({marks})",
                chunk,
            ):
                receipt = AuditReceipt(int(seq), str(event_id), str(recorded_at), str(chain_hash))
                found[str(event_id)] = (str(content_hash), receipt)
        return found

    def tombstone(self, event_id: str, reason: str) -> bool:
        """Erase the body of ``event_id`` (GDPR erasure) and record the erasure as an ``admin`` event.

        ``reason`` is stored in the log: a ticket number or legal basis, never the personal data itself.
        Returns ``False`` when the event is unknown or already erased.
        """
        self._require_writable()
        if not reason.strip() or len(reason) > 500:
            raise UsageError(
                "a tombstone needs a reason of 1 to 500 characters: a ticket id, not personal data"
            )
        at = _now()
        tombstone = {"tombstone": True, "reason": reason, "at": at}
        body = json.dumps(tombstone, sort_keys=True, separators=(",", ":"))
        with self._db.write() as cursor:
            row = cursor.one(
                f"SELECT seq, tenant, body FROM audit_events WHERE event_id = ?{self._db.for_update}",
                (event_id,),
            )
            if row is None or _tombstone_body(str(row[2])) is not None:
                return False
            seq, tenant = int(row[0]), str(row[1])
            cursor.execute("UPDATE audit_events SET body = ? WHERE seq = ?", (body, seq))
            record = Event(
                id=f"tombstone-{uuid.uuid4().hex}",
                time=datetime.now(UTC),
                kind=EventKind.ADMIN,
                tenant=tenant,
                attributes={
                    Attribute.ADMIN_ACTION: TOMBSTONE_ACTION,
                    TOMBSTONE_SEQ: seq,
                    TOMBSTONE_EVENT: event_id,
                    TOMBSTONE_REASON: reason,
                },
            )
            self._insert(cursor, [(record, record.to_json())])
        self._db.checkpoint()
        logger.info("audit event erased", extra={"audit_seq": seq})
        return True

    # -- reading ----------------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """``(seq, chain_hash)`` of the last appended row; ``(0, GENESIS_HASH)`` for an empty log."""
        with self._db.read() as cursor:
            row = cursor.one("SELECT seq, chain_hash FROM audit_head WHERE id = 1")
        return (0, GENESIS_HASH) if row is None else (int(row[0]), str(row[1]))

    def _rows(
        self, after_seq: int, columns: str, where: str = "", params: tuple[Any, ...] = ()
    ) -> Iterator[Any]:
        """Rows in ``seq`` order, a page at a time (no cursor is held open between pages)."""
        last = after_seq
        while True:
            with self._db.read() as cursor:
                page = cursor.all(
                    f"SELECT {columns} FROM audit_events WHERE seq > ?{where} ORDER BY seq LIMIT {_PAGE}",
                    (last, *params),
                )
            yield from page
            if len(page) < _PAGE:
                return
            last = int(page[-1][0])

    def iter_records(self, after_seq: int = 0, *, tenant: str | None = None) -> Iterator[AuditRecord]:
        """Stored rows after ``after_seq`` (of one tenant when given), erased events as ``event=None``."""
        where, params = ("", ()) if tenant is None else (" AND tenant = ?", (tenant,))
        columns = "seq, event_id, recorded_at, tenant, kind, chain_hash, body"
        for seq, event_id, recorded_at, row_tenant, kind, chain_hash, body in self._rows(
            after_seq, columns, where, params
        ):
            event = None
            if _tombstone_body(body) is None:
                try:
                    event = Event.from_record(json.loads(body))
                except ValueError as error:
                    raise InputError(f"row {seq} is not an event record; run bastion audit verify") from error
            yield AuditRecord(int(seq), event_id, recorded_at, row_tenant, kind, chain_hash, event)

    def iter_events(self, after_seq: int = 0) -> Iterator[tuple[int, Event | None]]:
        """``(seq, event)`` after ``after_seq`` in order; ``None`` where the event was erased."""
        for record in self.iter_records(after_seq):
            yield record.seq, record.event

    def verify(self, progress: Callable[[int], None] | None = None) -> AuditVerification:
        """Check every row, the head record and the key; stops at the first break.

        Detects an edited body or column, deleted, inserted or reordered rows, a truncated tail, a forged
        tombstone and a wrong or missing key. ``progress`` is called with the number of rows checked so far
        every few thousand rows.
        """
        if self._key_problem:
            return AuditVerification(False, 0, 1, self._key_problem)
        checker = _ChainChecker(self._chain_hash)
        columns = "seq, event_id, recorded_at, tenant, kind, body, content_hash, prev_hash, chain_hash"
        for row in self._rows(0, columns):
            problem = checker.check(*row)
            if problem:
                broken = min(int(row[0]), checker.events + 1)  # a missing row is where the break is
                return AuditVerification(False, checker.events, broken, problem)
            if progress is not None and checker.events % 10_000 == 0:
                progress(checker.events)
        with self._db.read() as cursor:
            head = cursor.one("SELECT seq, chain_hash FROM audit_head WHERE id = 1")
        return checker.finish(None if head is None else (int(head[0]), str(head[1])))

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> ChainedAuditLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _ChainChecker:
    """Walks rows in order and says what is wrong with the first bad one (pure, no database)."""

    def __init__(self, chain_hash: Callable[..., str]) -> None:
        self._chain_hash = chain_hash
        self.events = 0
        self._seq = 0
        self._prev_hash = GENESIS_HASH
        self._tombstones: set[int] = set()
        self._erasure_records: set[int] = set()

    def check(
        self,
        seq: int,
        event_id: str,
        recorded_at: str,
        tenant: str,
        kind: str,
        body: str,
        content_hash: str,
        prev_hash: str,
        chain_hash: str,
    ) -> str:
        seq = int(seq)
        if seq != self._seq + 1:
            if seq > self._seq + 1:
                return f"row {self._seq + 1} is missing (the next row is {seq}): rows were deleted"
            return f"row {seq} appears out of order"
        if prev_hash != self._prev_hash:
            return "prev_hash does not match the previous row: rows were deleted, inserted or moved"
        expected = self._chain_hash(prev_hash, seq, event_id, recorded_at, tenant, kind, content_hash)
        if not hmac.compare_digest(expected, chain_hash):
            return "chain_hash does not match the row: a column was edited or the row was forged"
        problem = self._check_body(seq, event_id, tenant, kind, body, content_hash)
        if problem:
            return problem
        self._seq, self._prev_hash = seq, chain_hash
        self.events += 1
        return ""

    def _check_body(
        self, seq: int, event_id: str, tenant: str, kind: str, body: str, content_hash: str
    ) -> str:
        if _tombstone_body(body) is not None:
            self._tombstones.add(seq)
            return ""
        if _content_hash(body) != content_hash:
            return "body does not match its content_hash: the event was edited"
        # The hash already vouches for the bytes; parse only what ties them to the row (fast: no Event).
        try:
            record = json.loads(body)
        except ValueError:
            return "body is not JSON"
        if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict):
            return "body is not an event record"
        if (record.get("id"), record.get("tenant"), record.get("kind")) != (event_id, tenant, kind):
            return "body disagrees with the row's event_id, tenant or kind"
        attributes = record["attributes"]
        if kind == EventKind.ADMIN.value and attributes.get(Attribute.ADMIN_ACTION) == TOMBSTONE_ACTION:
            target = attributes.get(TOMBSTONE_SEQ)
            if isinstance(target, int) and target < seq:
                self._erasure_records.add(target)
        return ""

    def finish(self, head: tuple[int, str] | None) -> AuditVerification:
        forged = sorted(self._tombstones - self._erasure_records)
        if forged:
            return AuditVerification(False, self.events, forged[0], "tombstone without an erasure record")
        if head is None:
            return AuditVerification(False, self.events, self._seq + 1, "the head record was removed")
        head_seq, head_hash = head
        if head_seq > self._seq:
            reason = f"the log ends at row {self._seq} but the head record says {head_seq}: tail removed"
            return AuditVerification(False, self.events, self._seq + 1, reason)
        if head_seq < self._seq:
            reason = f"rows after the head record ({head_seq}) were added outside the audit log"
            return AuditVerification(False, self.events, head_seq + 1, reason)
        if head_hash != self._prev_hash:
            reason = "the head record's hash does not match the last row"
            return AuditVerification(False, self.events, head_seq, reason)
        return AuditVerification(True, self.events, None, "intact")


class SQLiteAuditLog(ChainedAuditLog):
    """The audit log in one SQLite file (WAL mode). Several processes may append to the same file."""

    def __init__(
        self,
        path: str | Path,
        *,
        key: KeyArgument = FROM_ENVIRONMENT,
        synchronous: Synchronous = "NORMAL",
        max_body_bytes: int = _DEFAULT_MAX_BODY,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise UsageError("synchronous must be NORMAL or FULL")
        super().__init__(connect(Path(path), synchronous=synchronous), key=key, max_body_bytes=max_body_bytes)


class PostgresAuditLog(ChainedAuditLog):
    """The audit log in PostgreSQL (psycopg 3). Appends from several workers are serialised by a row lock."""

    def __init__(
        self, url: str, *, key: KeyArgument = FROM_ENVIRONMENT, max_body_bytes: int = _DEFAULT_MAX_BODY
    ) -> None:
        if not is_postgres_url(url):
            raise UsageError("PostgresAuditLog needs a postgresql:// URL")
        super().__init__(connect(url), key=key, max_body_bytes=max_body_bytes)


def open_audit_log(
    target: str | Path | None = None, *, key: KeyArgument = FROM_ENVIRONMENT
) -> ChainedAuditLog:
    """Open the audit log at ``target``: a ``postgresql://`` URL or an SQLite path.

    ``None`` means ``BASTION_AUDIT_DB`` when set, else ``.bastion/audit.sqlite`` in the working directory.
    """
    if target is None or (isinstance(target, str) and not target.strip()):
        target = os.environ.get(AUDIT_DB_ENV) or DEFAULT_AUDIT_PATH
    if is_postgres_url(target):
        return PostgresAuditLog(str(target), key=key)
    return SQLiteAuditLog(Path(target), key=key)
