"""Where events come from: the gateway's audit store, JSONL files and OTLP/JSON trace exports.

Every reader yields :class:`SourceItem` values in order: an event (or the reason a line could not be read)
with its *position* (``line 12``, ``seq 40``, ``span 3``) and the cursor to resume after it. Readers never
raise on bad content; they report it, and :func:`ingest` counts and lists it. They raise
:class:`InputError` only when the source as a whole cannot be read (missing file, not a database).

- **Audit store** (:func:`read_audit`): the table ``audit_events(seq, event_id, recorded_at, tenant, kind,
  body, content_hash, prev_hash, chain_hash)`` written by ``bastion gateway``; SQLite by default
  (``.bastion/audit.sqlite``, or ``$BASTION_AUDIT_DB``), PostgreSQL when the location is a
  ``postgresql://`` URL. Rows after an erasure hold a tombstone body (``{"tombstone": true, ...}``) and are
  skipped. Resumes after the last ``seq`` read.
- **JSONL** (:func:`read_jsonl`): one :meth:`Event.to_record` object per line. Resumes at the byte offset
  after the last complete line (from the start when the file shrank: it was rotated).
- **OTLP/JSON** (:func:`read_otlp`): an OpenTelemetry trace export (one ``{"resourceSpans": [...]}``
  document, or one per line as the collector's file exporter writes). Spans that carry GenAI attributes
  (``gen_ai.*`` or the OpenInference ``llm.*`` names) become ``chat`` events with id ``traceId:spanId``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bastion.core.errors import InputError
from bastion.core.events import Attribute, Event, EventKind, normalize_attributes
from bastion.monitor.store import EventStore

__all__ = [
    "DEFAULT_AUDIT_DB",
    "IngestReport",
    "SourceItem",
    "audit_location",
    "ingest",
    "read_audit",
    "read_jsonl",
    "read_otlp",
]

logger = logging.getLogger(__name__)

DEFAULT_AUDIT_DB = Path(".bastion") / "audit.sqlite"
#: longest line or document accepted from a file (longer ones are reported and skipped)
MAX_LINE_BYTES = 4 * 1024 * 1024
#: largest OTLP document read as a whole
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
_BATCH = 5_000
_AUDIT_PAGE = 5_000
#: bad items listed in a report at most (all are counted)
MAX_LISTED_ERRORS = 100


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One item read from a source: an event or an error, where it was, and the cursor after it."""

    position: str
    cursor: str
    event: Event | None = None
    error: str = ""


@dataclass(slots=True)
class IngestReport:
    """The outcome of :func:`ingest` for one source."""

    source: str
    read: int = 0
    added: int = 0
    duplicates: int = 0
    skipped: int = 0
    bad: int = 0
    erased: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "read": self.read,
            "added": self.added,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "bad": self.bad,
            "erased": self.erased,
            "errors": list(self.errors),
        }


def audit_location(explicit: str | None = None) -> str:
    """The audit store to read: ``explicit``, else ``$BASTION_AUDIT_DB``, else ``.bastion/audit.sqlite``."""
    return explicit or os.environ.get("BASTION_AUDIT_DB") or str(DEFAULT_AUDIT_DB)


# -- audit store -----------------------------------------------------------------------------------------
def _audit_item(seq: int, body: Any) -> SourceItem | None:
    cursor = str(seq)
    position = f"seq {seq}"
    if body is None or body == "":
        return None
    try:
        record = json.loads(body)
    except (ValueError, TypeError):
        return SourceItem(position, cursor, error="body is not JSON")
    if isinstance(record, Mapping) and record.get("tombstone"):
        return None
    if not isinstance(record, Mapping):
        return SourceItem(position, cursor, error="body is not a JSON object")
    try:
        return SourceItem(position, cursor, event=Event.from_record(record))
    except ValueError as error:
        return SourceItem(position, cursor, error=str(error))


def read_audit(location: str, after: str = "") -> Iterator[SourceItem]:
    """Rows of the gateway's audit store with ``seq`` greater than ``after``, oldest first."""
    start = int(after) if after.isdigit() else 0
    if location.startswith(("postgresql://", "postgres://")):
        yield from _read_audit_postgres(location, start)
        return
    path = Path(location)
    if not path.is_file():
        raise InputError(f"no audit store at {location} (run the gateway first, or set BASTION_AUDIT_DB)")
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise InputError(f"cannot open the audit store {location}: {error}") from error
    try:
        last = start
        while True:
            try:
                rows = connection.execute(
                    "SELECT seq, body FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?",
                    (last, _AUDIT_PAGE),
                ).fetchall()
            except sqlite3.Error as error:
                raise InputError(f"{location} is not a Bastion audit store: {error}") from error
            if not rows:
                return
            for seq, body in rows:
                last = int(seq)
                item = _audit_item(last, body)
                yield item if item is not None else SourceItem(f"seq {last}", str(last))
    finally:
        connection.close()


def _read_audit_postgres(url: str, start: int) -> Iterator[SourceItem]:
    try:
        import psycopg
    except ImportError as error:
        raise InputError("reading a PostgreSQL audit store needs psycopg (pip install psycopg)") from error
    try:
        connection = psycopg.connect(url)
    except psycopg.Error as error:
        raise InputError(f"cannot connect to the PostgreSQL audit store: {type(error).__name__}") from error
    try:
        last = start
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT seq, body FROM audit_events WHERE seq > %s ORDER BY seq LIMIT %s",
                    (last, _AUDIT_PAGE),
                )
                rows = cursor.fetchall()
            if not rows:
                return
            for seq, body in rows:
                last = int(seq)
                item = _audit_item(last, body)
                yield item if item is not None else SourceItem(f"seq {last}", str(last))
    finally:
        connection.close()


# -- JSONL -----------------------------------------------------------------------------------------------
def _lines(path: Path, after: str) -> Iterator[tuple[int, int, bytes]]:
    """(line number, byte offset after the line, line bytes) from the resume offset on."""
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    size = path.stat().st_size
    offset, line_number = 0, 0
    if after:
        saved_offset, _, saved_line = after.partition(":")
        if saved_offset.isdigit() and int(saved_offset) <= size:
            offset = int(saved_offset)
            line_number = int(saved_line) if saved_line.isdigit() else 0
    with path.open("rb") as stream:
        stream.seek(offset)
        while True:
            line = stream.readline(MAX_LINE_BYTES + 1)
            if not line:
                return
            if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
                # drain the rest of an over-long line
                while True:
                    rest = stream.readline(MAX_LINE_BYTES)
                    if not rest or rest.endswith(b"\n"):
                        break
                line_number += 1
                offset = stream.tell()
                yield line_number, offset, b""
                continue
            if not line.endswith(b"\n"):
                # an incomplete last line (the writer is still writing): stop before it
                return
            line_number += 1
            offset += len(line)
            yield line_number, offset, line


def read_jsonl(path: Path, after: str = "") -> Iterator[SourceItem]:
    """Events from a JSONL file, one :meth:`Event.to_record` object per line; blank lines are skipped."""
    for line_number, offset, line in _lines(path, after):
        position, cursor = f"line {line_number}", f"{offset}:{line_number}"
        if not line:
            yield SourceItem(position, cursor, error=f"longer than {MAX_LINE_BYTES} bytes")
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            yield SourceItem(position, cursor, error="not valid UTF-8")
            continue
        if not text.strip():
            yield SourceItem(position, cursor)
            continue
        try:
            record = json.loads(text)
        except ValueError as error:
            yield SourceItem(position, cursor, error=f"not JSON ({error.__class__.__name__})")
            continue
        if not isinstance(record, Mapping):
            yield SourceItem(position, cursor, error="not a JSON object")
            continue
        try:
            yield SourceItem(position, cursor, event=Event.from_record(record))
        except ValueError as error:
            yield SourceItem(position, cursor, error=str(error))


# -- OTLP/JSON -------------------------------------------------------------------------------------------
def _any_value(value: Any) -> Any:
    """Decode an OTLP ``AnyValue`` (``{"stringValue": ...}``, ``{"intValue": "12"}``, arrays, maps)."""
    if not isinstance(value, Mapping):
        return None
    if "stringValue" in value:
        return str(value["stringValue"])
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        try:
            number = float(value["doubleValue"])
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        items = value["arrayValue"].get("values", []) if isinstance(value["arrayValue"], Mapping) else []
        return [_any_value(item) for item in items if isinstance(item, Mapping)]
    if "kvlistValue" in value:
        entries = value["kvlistValue"].get("values", []) if isinstance(value["kvlistValue"], Mapping) else []
        return _attributes(entries)
    return None


def _attributes(entries: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if not isinstance(entries, list):
        return result
    for entry in entries:
        if isinstance(entry, Mapping) and isinstance(entry.get("key"), str):
            result[entry["key"]] = _any_value(entry.get("value"))
    return result


def _is_genai(attributes: Mapping[str, Any]) -> bool:
    return any(name.startswith(("gen_ai.", "llm.")) for name in attributes)


def _span_event(span: Mapping[str, Any], resource: Mapping[str, Any]) -> Event:
    attributes = normalize_attributes({**resource, **_attributes(span.get("attributes"))})
    trace_id, span_id = span.get("traceId"), span.get("spanId")
    if not isinstance(trace_id, str) or not isinstance(span_id, str) or not trace_id or not span_id:
        raise ValueError("span without traceId/spanId")
    try:
        start = int(span["startTimeUnixNano"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("span without startTimeUnixNano") from None
    end_raw = span.get("endTimeUnixNano")
    if end_raw is not None and Attribute.LATENCY_MS not in attributes:
        with contextlib.suppress(TypeError, ValueError):
            attributes[Attribute.LATENCY_MS] = max(0, int(end_raw) - start) / 1_000_000
    tenant = attributes.get(Attribute.TENANT)
    clean = {k: v for k, v in attributes.items() if v is not None}
    return Event(
        id=f"{trace_id}:{span_id}",
        time=datetime.fromtimestamp(start / 1_000_000_000, tz=UTC),
        kind=EventKind.CHAT,
        tenant=tenant if isinstance(tenant, str) and tenant else "default",
        attributes=MappingProxyType(clean),
    )


def _otlp_documents(path: Path) -> Iterator[tuple[int, Any | str]]:
    """(document number, parsed document or error) for a single-document or one-per-line file."""
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    if path.stat().st_size > MAX_DOCUMENT_BYTES:
        raise InputError(
            f"{path} is larger than {MAX_DOCUMENT_BYTES} bytes; split it (one document per line)"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        yield 1, "not valid UTF-8"
        return
    try:
        yield 1, json.loads(text)
        return
    except ValueError:
        pass
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except ValueError:
            yield number, "not JSON"


def read_otlp(path: Path, after: str = "") -> Iterator[SourceItem]:
    """GenAI spans of an OTLP/JSON trace export as ``chat`` events; other spans are skipped."""
    skip = int(after) if after.isdigit() else 0
    index = 0
    for number, document in _otlp_documents(path):
        if isinstance(document, str):
            yield SourceItem(f"document {number}", str(index), error=document)
            continue
        resource_spans = document.get("resourceSpans") if isinstance(document, Mapping) else None
        if not isinstance(resource_spans, list):
            yield SourceItem(f"document {number}", str(index), error="no resourceSpans")
            continue
        for resource_span in resource_spans:
            if not isinstance(resource_span, Mapping):
                continue
            resource = resource_span.get("resource")
            resource_attributes = _attributes(
                resource.get("attributes") if isinstance(resource, Mapping) else []
            )
            for scope in (
                resource_span.get("scopeSpans") or resource_span.get("instrumentationLibrarySpans") or []
            ):
                spans = scope.get("spans") if isinstance(scope, Mapping) else None
                for span in spans if isinstance(spans, list) else []:
                    index += 1
                    if index <= skip:
                        continue
                    position, cursor = f"span {index}", str(index)
                    if not isinstance(span, Mapping):
                        yield SourceItem(position, cursor, error="span is not an object")
                        continue
                    if not _is_genai(_attributes(span.get("attributes"))):
                        yield SourceItem(position, cursor)
                        continue
                    try:
                        yield SourceItem(position, cursor, event=_span_event(span, resource_attributes))
                    except ValueError as error:
                        yield SourceItem(position, cursor, error=str(error))


# -- ingestion -------------------------------------------------------------------------------------------
#: the admin event the gateway's audit log appends when it tombstones a row (GDPR Art. 17)
TOMBSTONED = "audit.tombstoned"


def _flush(store: EventStore, report: IngestReport, batch: list[Event], source: str, cursor: str) -> None:
    stored = store.add(batch, source=source)
    erased = [
        str(event.get("bastion.audit.event_id"))
        for event in batch
        if event.get(Attribute.ADMIN_ACTION) == TOMBSTONED and event.get("bastion.audit.event_id")
    ]
    if erased:
        # the audit log erased these events: erase our copy too
        report.erased += store.tombstone(erased, "erased in the audit log")
    report.added += stored.added
    report.duplicates += stored.duplicates
    if cursor:
        store.set_cursor(source, cursor)
    batch.clear()


def ingest(
    store: EventStore,
    source: str,
    items: Iterator[SourceItem],
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Store the events of ``items`` in batches, saving the cursor of ``source`` after each batch.

    Bad items are counted and listed (with their position, up to :data:`MAX_LISTED_ERRORS`) and logged
    by position only, never with their content.
    """
    report = IngestReport(source)
    batch: list[Event] = []
    cursor = ""
    for item in items:
        cursor = item.cursor
        if item.error:
            report.bad += 1
            if len(report.errors) < MAX_LISTED_ERRORS:
                report.errors.append(f"{item.position}: {item.error}")
            logger.warning("monitor ingest: skipped %s of %s: %s", item.position, source, item.error)
        elif item.event is None:
            report.skipped += 1
        else:
            report.read += 1
            batch.append(item.event)
        if len(batch) >= _BATCH:
            _flush(store, report, batch, source, cursor)
            if progress is not None:
                progress(report.read)
    _flush(store, report, batch, source, cursor)
    if progress is not None:
        progress(report.read)
    return report


def source_items(kind: str, location: str, store: EventStore, resume: bool = True) -> Iterator[SourceItem]:
    """The reader for ``kind`` (``audit``, ``jsonl``, ``otlp``) started at the saved cursor."""
    source = source_name(kind, location)
    after = store.cursor(source) if resume else ""
    if kind == "audit":
        return read_audit(location, after)
    if kind == "jsonl":
        return read_jsonl(Path(location), after)
    if kind == "otlp":
        return read_otlp(Path(location), after)
    raise InputError(f"unknown source kind {kind!r}")


def source_name(kind: str, location: str) -> str:
    """The stable name a source's cursor is saved under (URLs lose their credentials)."""
    if kind == "audit" and "://" in location:
        scheme, _, rest = location.partition("://")
        return f"audit:{scheme}://{rest.rpartition('@')[2]}"
    if "://" not in location:
        location = str(Path(location).resolve())
    return f"{kind}:{location}"


def guess_kind(path: Path) -> str:
    """``otlp`` for a file that looks like an OTLP export, else ``jsonl``."""
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror}") from error
    return "otlp" if b'"resourceSpans"' in head else "jsonl"
