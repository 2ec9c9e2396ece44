"""Ingestion from the audit store, JSONL and OTLP/JSON: idempotent, resumable, bad lines reported."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core.errors import InputError
from bastion.core.events import Attribute
from bastion.monitor.sources import audit_location, ingest, read_jsonl, read_otlp, source_items, source_name
from bastion.monitor.store import EventStore
from tests.monitor.conftest import attack, chat, write_audit


def _ingest(store: EventStore, kind: str, location: Path | str):  # type: ignore[no-untyped-def]
    return ingest(store, source_name(kind, str(location)), source_items(kind, str(location), store))


def test_jsonl_bad_lines_are_reported_with_their_position_and_the_rest_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    good = [chat(1), chat(2)]
    path.write_bytes(
        (good[0].to_json() + "\n").encode()
        + b"{not json\n"
        + b"\xff\xfe binary\n"
        + b"\n"
        + b'["a list"]\n'
        + b'{"id": "x", "time": "yesterday", "kind": "chat", "tenant": "t"}\n'
        + (good[1].to_json() + "\n").encode()
    )
    with EventStore(":memory:") as store:
        report = _ingest(store, "jsonl", path)
        assert (report.read, report.added, report.bad, report.skipped) == (2, 2, 4, 1)
        assert [e.split(":")[0] for e in report.errors] == ["line 2", "line 3", "line 5", "line 6"]
        assert "not valid UTF-8" in report.errors[1]
        assert list(store.events()) == good


def test_reingesting_adds_nothing_and_appended_lines_are_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(chat(1).to_json() + "\n" + chat(2).to_json() + "\n", encoding="utf-8")
    with EventStore(":memory:") as store:
        assert _ingest(store, "jsonl", path).added == 2
        assert _ingest(store, "jsonl", path).read == 0  # resumed after the last line
        with path.open("a", encoding="utf-8") as stream:
            stream.write(chat(3).to_json() + "\n" + chat(4).to_json())  # the last line is still being written
        report = _ingest(store, "jsonl", path)
        assert (report.read, report.added) == (1, 1)
        with path.open("a", encoding="utf-8") as stream:
            stream.write("\n")
        assert _ingest(store, "jsonl", path).added == 1
        # from the start: everything is a duplicate
        restarted = ingest(store, "again", read_jsonl(path))
        assert (restarted.added, restarted.duplicates) == (0, 4)


def test_an_over_long_line_is_skipped_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bastion.monitor.sources.MAX_LINE_BYTES", 1000)
    path = tmp_path / "big.jsonl"
    path.write_text("x" * 5000 + "\n" + chat(1).to_json() + "\n", encoding="utf-8")
    items = list(read_jsonl(path))
    assert items[0].error.startswith("longer than") and items[0].position == "line 1"
    assert items[1].event == chat(1)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        list(read_jsonl(tmp_path / "nope.jsonl"))
    with pytest.raises(InputError):
        list(read_otlp(tmp_path / "nope.json"))


def _otlp(spans: list[dict]) -> dict:  # type: ignore[type-arg]
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "bastion.tenant.id", "value": {"stringValue": "acme"}}]},
                "scopeSpans": [{"scope": {"name": "openinference"}, "spans": spans}],
            }
        ]
    }


def _span(span_id: str, attributes: dict) -> dict:  # type: ignore[type-arg]
    values = []
    for key, value in attributes.items():
        kind = "intValue" if isinstance(value, int) else "stringValue"
        values.append({"key": key, "value": {kind: str(value) if kind == "intValue" else value}})
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "name": "chat",
        "startTimeUnixNano": "1764493200000000000",
        "endTimeUnixNano": "1764493200250000000",
        "attributes": values,
    }


def test_otlp_genai_spans_become_events_with_legacy_names_mapped(tmp_path: Path) -> None:
    path = tmp_path / "traces.json"
    document = _otlp(
        [
            _span(
                "a1",
                {
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.usage.prompt_tokens": 12,
                    "bastion.api_key.id": "k1",
                },
            ),
            _span("a2", {"http.method": "GET"}),  # not a GenAI span
            _span("a3", {"llm.model_name": "gemma", "llm.token_count.completion": 5}),
            {
                "spanId": "broken",
                "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "x"}}],
            },
        ]
    )
    path.write_text(json.dumps(document), encoding="utf-8")
    with EventStore(":memory:") as store:
        report = _ingest(store, "otlp", path)
        assert (report.read, report.skipped, report.bad) == (2, 1, 1)
        assert report.errors == ["span 4: span without traceId/spanId"]
        first, second = store.events()
        assert first.id == "5b8efff798038103d269b633813fc60c:a1" and first.tenant == "acme"
        assert first.get(Attribute.PROVIDER) == "openai" and first.get(Attribute.INPUT_TOKENS) == 12
        assert first.get(Attribute.LATENCY_MS) == 250.0
        assert second.get(Attribute.REQUEST_MODEL) == "gemma" and second.get(Attribute.OUTPUT_TOKENS) == 5
        assert _ingest(store, "otlp", path).read == 0


def test_otlp_one_document_per_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    lines = [json.dumps(_otlp([_span(f"b{i}", {"gen_ai.request.model": "m"})])) for i in range(3)]
    path.write_text("\n".join([*lines, "garbage"]) + "\n", encoding="utf-8")
    items = list(read_otlp(path))
    assert [i.event is not None for i in items] == [True, True, True, False]
    assert items[-1].position == "document 4"


def test_audit_store_skips_tombstones_and_resumes_after_the_last_seq(tmp_path: Path) -> None:
    path = tmp_path / ".bastion" / "audit.sqlite"
    write_audit(path, [attack(1), attack(2), attack(3)], tombstone=["ev-2"])
    with EventStore(":memory:") as store:
        report = _ingest(store, "audit", path)
        assert (report.read, report.added, report.skipped) == (2, 2, 1)
        assert [e.id for e in store.events()] == ["ev-1", "ev-3"]
        write_audit(path, [attack(4)])
        again = _ingest(store, "audit", path)
        assert (again.read, again.added) == (1, 1)


def test_audit_location_prefers_the_argument_then_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_AUDIT_DB", raising=False)
    assert audit_location() == str(Path(".bastion") / "audit.sqlite")
    monkeypatch.setenv("BASTION_AUDIT_DB", "postgresql://u:secret@db/bastion")
    assert audit_location() == "postgresql://u:secret@db/bastion"
    assert audit_location("x.sqlite") == "x.sqlite"
    assert "secret" not in source_name("audit", audit_location())


def test_not_an_audit_store_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    path.write_bytes(b"")
    with EventStore(":memory:") as store, pytest.raises(InputError):
        _ingest(store, "audit", path)
    with EventStore(":memory:") as store, pytest.raises(InputError):
        _ingest(store, "audit", tmp_path / "missing.sqlite")


def test_the_real_gateway_audit_log_is_read(tmp_path: Path) -> None:
    guard_audit = pytest.importorskip("bastion.guard.audit")
    path = tmp_path / "audit.sqlite"
    with guard_audit.SQLiteAuditLog(path) as log:
        log.append_many([attack(1), attack(2), attack(3)])
        log.tombstone("ev-2", "GDPR-4711")
    with EventStore(":memory:") as store:
        report = _ingest(store, "audit", path)
        assert report.bad == 0
        ids = [e.id for e in store.events()]
        assert ids[:2] == ["ev-1", "ev-3"] and len(ids) == 3  # plus the audit.tombstoned admin event


PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def test_the_gateway_audit_log_on_postgresql_is_read_and_resumed() -> None:
    psycopg = pytest.importorskip("psycopg")
    guard_audit = pytest.importorskip("bastion.guard.audit")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432: {type(error).__name__}")
    schema = f"monitor_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        with guard_audit.PostgresAuditLog(url) as log:
            log.append_many([attack(1), attack(2)])
        with EventStore(":memory:") as store:
            assert _ingest(store, "audit", url).added == 2
            with guard_audit.PostgresAuditLog(url) as log:
                log.append(attack(3))
            again = _ingest(store, "audit", url)
            assert (again.read, again.added) == (1, 1)
            assert [e.id for e in store.events()] == ["ev-1", "ev-2", "ev-3"]
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_any_bytes_are_read_without_raising_and_every_line_is_accounted_for(
    tmp_path: Path, lines: list[bytes]
) -> None:
    path = tmp_path / "fuzz.jsonl"
    data = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
    path.write_bytes(data)
    items = list(read_jsonl(path))
    assert len(items) == data.count(b"\n")
    assert [item.position for item in items] == [f"line {n}" for n in range(1, len(items) + 1)]
