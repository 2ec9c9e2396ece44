"""The monitor's event store: DuckDB tables, the stable views rules query, and idempotent writes.

Layout (one DuckDB file, default ``.bastion/monitor.duckdb``)::

    event_rows        one row per event: flattened attributes the rules use + the full JSON
    detection_rows    one row per detection of an event (bastion.guard.detections unnested)
    tool_call_rows    one row per tool call of an event (bastion.tool_calls unnested)
    approved_models   reference data: the provider/model pairs that are approved
    tool_scopes       reference data: which tools a tenant (or one of its keys) may call
    ingest_cursors    per source, the position up to which it was read (resumable ingestion)
    meta              small key/value state (the rule-run cursor)

Rules never read the tables: they query the views ``events``, ``chat_calls``, ``guard_decisions``,
``admin_actions``, ``detections`` and ``tool_calls`` (see :data:`VIEWS`), whose columns stay stable while
the tables change. Times are ``ts``: integer microseconds since the epoch (UTC), so every engine
(DuckDB, Spark, ClickHouse) does window arithmetic the same way.

Writes are idempotent by event id: the same event ingested twice is stored once. Bulk writes go through a
newline-delimited JSON staging file that DuckDB reads in one statement (row-by-row inserts from Python are
orders of magnitude slower).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from bastion.core.errors import InputError
from bastion.core.events import Attribute, Event

__all__ = [
    "DEFAULT_STORE",
    "TABLES",
    "VIEWS",
    "EventStore",
    "StoredBatch",
    "event_rows",
    "from_micros",
    "to_micros",
]

logger = logging.getLogger(__name__)

DEFAULT_STORE = Path(".bastion") / "monitor.duckdb"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: column name -> DuckDB type, in order. Spark and ClickHouse get the same columns (see ``spark.py``).
EVENT_COLUMNS: Mapping[str, str] = {
    "seq": "BIGINT",
    "event_id": "VARCHAR",
    "ts": "BIGINT",
    "kind": "VARCHAR",
    "tenant": "VARCHAR",
    "api_key_id": "VARCHAR",
    "application_id": "VARCHAR",
    "provider": "VARCHAR",
    "request_model": "VARCHAR",
    "response_model": "VARCHAR",
    "server_address": "VARCHAR",
    "conversation_id": "VARCHAR",
    "operation": "VARCHAR",
    "input_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "http_status": "BIGINT",
    "error_type": "VARCHAR",
    "guard_action": "VARCHAR",
    "guard_rule": "VARCHAR",
    "guard_stage": "VARCHAR",
    "input_text": "VARCHAR",
    "output_text": "VARCHAR",
    "input_sha256": "VARCHAR",
    "admin_action": "VARCHAR",
    "requested_tenant": "VARCHAR",
    "rotated_from": "VARCHAR",
    "latency_ms": "DOUBLE",
    "pseudonyms": "VARCHAR",
    "attributes": "VARCHAR",
    "content_hash": "VARCHAR",
    "erased": "BOOLEAN",
    "source": "VARCHAR",
}
DETECTION_COLUMNS: Mapping[str, str] = {
    "event_id": "VARCHAR",
    "seq": "BIGINT",
    "ts": "BIGINT",
    "kind": "VARCHAR",
    "tenant": "VARCHAR",
    "api_key_id": "VARCHAR",
    "stage": "VARCHAR",
    "detector": "VARCHAR",
    "type": "VARCHAR",
    "score": "DOUBLE",
    "flagged": "BOOLEAN",
}
TOOL_CALL_COLUMNS: Mapping[str, str] = {
    "event_id": "VARCHAR",
    "seq": "BIGINT",
    "ts": "BIGINT",
    "tenant": "VARCHAR",
    "api_key_id": "VARCHAR",
    "name": "VARCHAR",
    "arguments": "VARCHAR",
    "argument_tenant": "VARCHAR",
}
TABLES: Mapping[str, Mapping[str, str]] = {
    "event_rows": EVENT_COLUMNS,
    "detection_rows": DETECTION_COLUMNS,
    "tool_call_rows": TOOL_CALL_COLUMNS,
    "approved_models": {"provider": "VARCHAR", "model": "VARCHAR"},
    "tool_scopes": {"tenant": "VARCHAR", "api_key_id": "VARCHAR", "tool": "VARCHAR"},
}

_STRING_COLUMNS = ", ".join(
    f"COALESCE({name}, '') AS {name}"
    for name in (
        "tenant",
        "api_key_id",
        "application_id",
        "provider",
        "request_model",
        "response_model",
        "server_address",
        "conversation_id",
        "operation",
        "error_type",
        "guard_action",
        "guard_rule",
        "guard_stage",
        "input_text",
        "output_text",
        "input_sha256",
        "admin_action",
        "requested_tenant",
        "rotated_from",
    )
)

#: the stable views (name -> SQL in DuckDB's dialect; ``spark.py`` transpiles them). Text columns are never
#: NULL (empty string instead), token counts are 0 when unknown.
VIEWS: Mapping[str, str] = {
    "events": (
        f"SELECT event_id, seq, ts, kind, {_STRING_COLUMNS}, "
        "COALESCE(input_tokens, 0) AS input_tokens, COALESCE(output_tokens, 0) AS output_tokens, "
        "COALESCE(http_status, 0) AS http_status, latency_ms, erased FROM event_rows"
    ),
    "chat_calls": "SELECT * FROM events WHERE kind = 'chat'",
    "guard_decisions": "SELECT * FROM events WHERE kind = 'guard.decision'",
    "admin_actions": "SELECT * FROM events WHERE kind = 'admin'",
    "detections": (
        "SELECT event_id, seq, ts, kind, COALESCE(tenant, '') AS tenant, "
        "COALESCE(api_key_id, '') AS api_key_id, "
        "COALESCE(stage, '') AS stage, detector, type, score, flagged FROM detection_rows"
    ),
    "tool_calls": (
        "SELECT event_id, seq, ts, COALESCE(tenant, '') AS tenant, COALESCE(api_key_id, '') AS api_key_id, "
        "name, COALESCE(argument_tenant, '') AS argument_tenant FROM tool_call_rows"
    ),
}

_MAX_TEXT = 100_000


def to_micros(time: datetime) -> int:
    """Microseconds since the epoch (UTC) of an aware ``time``."""
    return (time - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    """The UTC time of ``micros`` microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=int(micros))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:_MAX_TEXT]


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, str) and value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            return []
        return parsed if isinstance(parsed, list) else []
    return []


def content_hash(event: Event) -> str:
    """SHA-256 of the event's canonical JSON (:meth:`Event.to_json`): what the audit chain and a tombstone
    keep."""
    return hashlib.sha256(event.to_json().encode("utf-8")).hexdigest()


def _canonical(event: Event) -> tuple[str, str]:
    """The attributes' canonical JSON and the event's content hash, encoding the attributes once.

    ``Event.to_json`` sorts keys, so the record is ``{"attributes":...,"id":...,"kind":...,"tenant":...,
    "time":...}``; the tests check that this equals :func:`content_hash`."""
    attributes = json.dumps(dict(event.attributes), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    record = event.to_record()
    body = (
        f'{{"attributes":{attributes},"id":{json.dumps(event.id, ensure_ascii=False)},'
        f'"kind":{json.dumps(record["kind"])},"tenant":{json.dumps(event.tenant, ensure_ascii=False)},'
        f'"time":{json.dumps(record["time"])}}}'
    )
    return attributes, hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """What one write added: events new to the store and events already there (skipped)."""

    added: int
    duplicates: int


def event_rows(
    event: Event, seq: int, source: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The event row, its detection rows and its tool-call rows."""
    get = event.attributes.get
    ts = to_micros(event.time)
    api_key = _text(get(Attribute.API_KEY_ID))
    pseudonyms = " ".join(str(token) for token in _list(get(Attribute.PSEUDONYMS)) if isinstance(token, str))
    attributes_json, digest = _canonical(event)
    row: dict[str, Any] = {
        "seq": seq,
        "event_id": event.id,
        "ts": ts,
        "kind": event.kind.value,
        "tenant": event.tenant,
        "api_key_id": api_key,
        "application_id": _text(get(Attribute.APPLICATION)),
        "provider": _text(get(Attribute.PROVIDER)),
        "request_model": _text(get(Attribute.REQUEST_MODEL)),
        "response_model": _text(get(Attribute.RESPONSE_MODEL)),
        "server_address": _text(get(Attribute.SERVER_ADDRESS)),
        "conversation_id": _text(get(Attribute.CONVERSATION_ID)),
        "operation": _text(get(Attribute.OPERATION)),
        "input_tokens": _integer(get(Attribute.INPUT_TOKENS)),
        "output_tokens": _integer(get(Attribute.OUTPUT_TOKENS)),
        "http_status": _integer(get(Attribute.HTTP_STATUS)),
        "error_type": _text(get(Attribute.ERROR_TYPE)),
        "guard_action": _text(get(Attribute.GUARD_ACTION)),
        "guard_rule": _text(get(Attribute.GUARD_RULE)),
        "guard_stage": _text(get(Attribute.GUARD_STAGE)),
        "input_text": _text(get(Attribute.INPUT_TEXT)),
        "output_text": _text(get(Attribute.OUTPUT_TEXT)),
        "input_sha256": _text(get(Attribute.INPUT_SHA256)),
        "admin_action": _text(get(Attribute.ADMIN_ACTION)),
        "requested_tenant": _text(get(Attribute.REQUESTED_TENANT)),
        "rotated_from": _text(get(Attribute.API_KEY_ROTATED_FROM)),
        "latency_ms": _number(get(Attribute.LATENCY_MS)),
        "pseudonyms": pseudonyms or None,
        "attributes": attributes_json,
        "content_hash": digest,
        "erased": False,
        "source": source,
    }
    stage = row["guard_stage"]
    detections = []
    for item in _list(get(Attribute.DETECTIONS)):
        if not isinstance(item, Mapping):
            continue
        detections.append(
            {
                "event_id": event.id,
                "seq": seq,
                "ts": ts,
                "kind": event.kind.value,
                "tenant": event.tenant,
                "api_key_id": api_key,
                "stage": _text(item.get("stage")) or stage,
                "detector": _text(item.get("detector")) or "",
                "type": _text(item.get("type")) or "",
                "score": _number(item.get("score")) or 0.0,
                "flagged": bool(item.get("flagged", False)),
            }
        )
    tool_calls = []
    for item in _list(get(Attribute.TOOL_CALLS)):
        if not isinstance(item, Mapping):
            continue
        arguments = item.get("arguments")
        if isinstance(arguments, str):
            with suppress(ValueError):
                arguments = json.loads(arguments)
        argument_tenant = arguments.get("tenant") if isinstance(arguments, Mapping) else None
        tool_calls.append(
            {
                "event_id": event.id,
                "seq": seq,
                "ts": ts,
                "tenant": event.tenant,
                "api_key_id": api_key,
                "name": _text(item.get("name")) or "",
                "arguments": _text(arguments),
                "argument_tenant": _text(argument_tenant),
            }
        )
    return row, detections, tool_calls


def _columns_clause(columns: Mapping[str, str]) -> str:
    return ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items())


class EventStore:
    """The DuckDB store. Use as a context manager; ``path`` may be ``":memory:"``.

    >>> with EventStore(":memory:") as store:
    ...     store.count()
    0
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE, *, read_only: bool = False) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as error:
            raise InputError(f"cannot open the monitor store {self.path}: {error}") from error
        if not read_only:
            self._create()

    def __repr__(self) -> str:
        return f"EventStore({self.path!r})"

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    # -- schema -----------------------------------------------------------------------------------------
    def _create(self) -> None:
        for table, columns in TABLES.items():
            body = ", ".join(f"{name} {kind}" for name, kind in columns.items())
            if table == "event_rows":
                body = body.replace("event_id VARCHAR", "event_id VARCHAR PRIMARY KEY")
            self.connection.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")
        self.connection.execute(
            "CREATE TABLE IF NOT EXISTS ingest_cursors (source VARCHAR PRIMARY KEY, position VARCHAR, "
            "updated_at VARCHAR)"
        )
        self.connection.execute("CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
        for name, sql in VIEWS.items():
            self.connection.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")

    # -- meta and cursors -------------------------------------------------------------------------------
    def get_meta(self, name: str, default: str = "") -> str:
        row = self.connection.execute("SELECT value FROM meta WHERE name = ?", [name]).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, name: str, value: str) -> None:
        self.connection.execute(
            "INSERT INTO meta VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [name, value],
        )

    def cursor(self, source: str) -> str:
        """Where ingestion of ``source`` stopped last time ('' if never)."""
        row = self.connection.execute(
            "SELECT position FROM ingest_cursors WHERE source = ?", [source]
        ).fetchone()
        return str(row[0]) if row else ""

    def set_cursor(self, source: str, position: str) -> None:
        self.connection.execute(
            "INSERT INTO ingest_cursors VALUES (?, ?, ?) ON CONFLICT (source) DO UPDATE SET "
            "position = excluded.position, updated_at = excluded.updated_at",
            [source, position, datetime.now(UTC).isoformat()],
        )

    # -- writes -----------------------------------------------------------------------------------------
    def max_seq(self) -> int:
        row = self.connection.execute("SELECT COALESCE(MAX(seq), 0) FROM event_rows").fetchone()
        return int(row[0]) if row else 0

    def add(self, events: Iterable[Event], source: str = "api") -> StoredBatch:
        """Store ``events``; ids already stored (or repeated within the batch) are skipped."""
        batch = list(events)
        if not batch:
            return StoredBatch(0, 0)
        seen: set[str] = set()
        unique = [e for e in batch if not (e.id in seen or seen.add(e.id))]  # type: ignore[func-returns-value]
        known = self._known_ids([e.id for e in unique])
        fresh = [e for e in unique if e.id not in known]
        if fresh:
            start = self.max_seq() + 1
            rows: list[dict[str, Any]] = []
            detections: list[dict[str, Any]] = []
            tool_calls: list[dict[str, Any]] = []
            for offset, event in enumerate(fresh):
                row, found, calls = event_rows(event, start + offset, source)
                rows.append(row)
                detections.extend(found)
                tool_calls.extend(calls)
            self.connection.execute("BEGIN TRANSACTION")
            try:
                self.bulk_insert("event_rows", EVENT_COLUMNS, rows, conflict="ON CONFLICT DO NOTHING")
                self.bulk_insert("detection_rows", DETECTION_COLUMNS, detections)
                self.bulk_insert("tool_call_rows", TOOL_CALL_COLUMNS, tool_calls)
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise
        return StoredBatch(len(fresh), len(batch) - len(fresh))

    def _known_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with _staging([{"event_id": i} for i in ids]) as path:
            found = self.connection.execute(
                "SELECT e.event_id FROM event_rows e JOIN read_json(?, format='newline_delimited', "
                f"columns={{{_columns_clause({'event_id': 'VARCHAR'})}}}) s ON e.event_id = s.event_id",
                [path],
            ).fetchall()
        return {str(row[0]) for row in found}

    def bulk_insert(
        self, table: str, columns: Mapping[str, str], rows: Sequence[Mapping[str, Any]], conflict: str = ""
    ) -> None:
        """Insert ``rows`` (dicts with the ``columns``) in one statement through a staging file."""
        if not rows:
            return
        names = ", ".join(columns)
        with _staging(rows) as path:
            self.connection.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM read_json(?, format='newline_delimited', "
                f"columns={{{_columns_clause(columns)}}}) {conflict}",
                [path],
            )

    def tombstone(self, ids: Sequence[str], reason: str) -> int:
        """Erase the content of events (GDPR Art. 17) and keep their skeleton and content hash.

        Text, attributes, pseudonyms and tool-call arguments are removed; id, time, kind, tenant, key id,
        token counts and ``content_hash`` stay, so counts and the audit chain's hashes still check out.
        Returns how many events were newly erased."""
        if not ids:
            return 0
        body = json.dumps(
            {"tombstone": True, "reason": reason[:200], "at": datetime.now(UTC).isoformat()}, sort_keys=True
        )
        before = self.connection.execute(
            "SELECT COUNT(*) FROM event_rows WHERE erased AND list_contains(?, event_id)", [list(ids)]
        ).fetchone()
        self.connection.execute(
            "UPDATE event_rows SET input_text = NULL, output_text = NULL, pseudonyms = NULL, attributes = ?, "
            "erased = true WHERE list_contains(?, event_id)",
            [body, list(ids)],
        )
        self.connection.execute(
            "UPDATE tool_call_rows SET arguments = NULL WHERE list_contains(?, event_id)", [list(ids)]
        )
        after = self.connection.execute(
            "SELECT COUNT(*) FROM event_rows WHERE erased AND list_contains(?, event_id)", [list(ids)]
        ).fetchone()
        return int(after[0] if after else 0) - int(before[0] if before else 0)

    def set_reference(
        self, approved_models: Iterable[tuple[str, str]], tool_scopes: Iterable[tuple[str, str, str]]
    ) -> None:
        """Replace the reference data (approved provider/model pairs; tenant, key id or '*', tool)."""
        self.connection.execute("DELETE FROM approved_models")
        self.connection.execute("DELETE FROM tool_scopes")
        for provider, model in approved_models:
            self.connection.execute("INSERT INTO approved_models VALUES (?, ?)", [provider, model])
        for tenant, key, tool in tool_scopes:
            self.connection.execute("INSERT INTO tool_scopes VALUES (?, ?, ?)", [tenant, key, tool])

    # -- reads ------------------------------------------------------------------------------------------
    def count(self, table: str = "event_rows") -> int:
        if table not in TABLES:
            raise InputError(f"unknown table {table!r}")
        row = self.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return all rows."""
        return self.connection.execute(sql, list(parameters)).fetchall()

    def events(self, ids: Sequence[str] = ()) -> Iterator[Event]:
        """Stored events (all, or those with ``ids``) rebuilt from their JSON, oldest first."""
        sql = "SELECT event_id, ts, kind, tenant, attributes FROM event_rows"
        rows = (
            self.connection.execute(f"{sql} WHERE list_contains(?, event_id) ORDER BY seq", [list(ids)])
            if ids
            else self.connection.execute(f"{sql} ORDER BY seq")
        ).fetchall()
        for event_id, ts, kind, tenant, attributes in rows:
            values = json.loads(attributes) if attributes else {}
            if values.get("tombstone") is True:
                values = {}
            yield Event.from_record(
                {
                    "id": event_id,
                    "time": from_micros(ts).isoformat(),
                    "kind": kind,
                    "tenant": tenant,
                    "attributes": values,
                }
            )


@contextmanager
def _staging(rows: Iterable[Mapping[str, Any]]) -> Iterator[str]:
    handle, name = tempfile.mkstemp(prefix="bastion-monitor-", suffix=".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for row in rows:
                stream.write(json.dumps(row, ensure_ascii=False))
                stream.write("\n")
        yield name
    finally:
        Path(name).unlink(missing_ok=True)
