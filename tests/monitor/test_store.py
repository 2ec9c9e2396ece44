"""The DuckDB store: idempotent writes, unnested detections and tool calls, stable views."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.core.errors import InputError
from bastion.core.events import Attribute
from bastion.monitor.store import VIEWS, EventStore, from_micros, to_micros
from tests.monitor.conftest import T0, attack, chat

#: the columns rules may rely on; changing them breaks user rules
STABLE_COLUMNS = {
    "events": {
        "event_id",
        "seq",
        "ts",
        "kind",
        "tenant",
        "api_key_id",
        "provider",
        "request_model",
        "response_model",
        "server_address",
        "guard_action",
        "guard_rule",
        "guard_stage",
        "input_text",
        "output_text",
        "input_sha256",
        "admin_action",
        "requested_tenant",
        "input_tokens",
        "output_tokens",
        "rotated_from",
        "http_status",
        "error_type",
        "erased",
    },
    "detections": {"event_id", "ts", "tenant", "api_key_id", "stage", "detector", "type", "score", "flagged"},
    "tool_calls": {"event_id", "ts", "tenant", "api_key_id", "name", "argument_tenant"},
}


def test_same_events_twice_are_stored_once() -> None:
    with EventStore(":memory:") as store:
        first = store.add([attack(1), attack(2), attack(2)])
        again = store.add([attack(1), attack(2), attack(3)])
        assert (first.added, first.duplicates) == (2, 1)
        assert (again.added, again.duplicates) == (1, 2)
        assert store.count() == 3
        assert store.count("detection_rows") == 3
        assert [row[0] for row in store.query("SELECT seq FROM event_rows ORDER BY seq")] == [1, 2, 3]


def test_views_keep_their_columns_and_never_return_null_text() -> None:
    with EventStore(":memory:") as store:
        store.add(
            [
                chat(
                    1,
                    key="k",
                    **{Attribute.TOOL_CALLS: [{"name": "lookup_case", "arguments": '{"tenant": "x"}'}]},
                )
            ]
        )
        for view, columns in STABLE_COLUMNS.items():
            names = {d[0] for d in store.connection.execute(f"SELECT * FROM {view} LIMIT 0").description}
            assert columns <= names, view
        row = store.query("SELECT guard_rule, input_text, requested_tenant, input_tokens FROM events")[0]
        assert row == ("", "", "", 0)
        assert store.query("SELECT name, argument_tenant FROM tool_calls") == [("lookup_case", "x")]
    assert set(VIEWS) >= {
        "events",
        "chat_calls",
        "guard_decisions",
        "admin_actions",
        "detections",
        "tool_calls",
    }


def test_events_read_back_equal_and_the_file_persists(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    events = [attack(1), chat(2, **{Attribute.INPUT_TOKENS: 7})]
    with EventStore(path) as store:
        store.add(events)
    with EventStore(path) as store:
        assert list(store.events()) == events
        assert [dict(e.attributes) for e in store.events()] == [dict(e.attributes) for e in events]


def test_time_conversion_round_trips() -> None:
    assert from_micros(to_micros(T0)) == T0
    with EventStore(":memory:") as store, pytest.raises(InputError):
        store.count("no_such_table")


def test_odd_attribute_values_do_not_break_flattening() -> None:
    event = chat(
        1,
        **{
            Attribute.INPUT_TOKENS: "12",
            Attribute.OUTPUT_TOKENS: True,
            Attribute.DETECTIONS: "nonsense",
            Attribute.TOOL_CALLS: [1, {"name": None}],
            Attribute.INPUT_TEXT: "x" * 300_000,
        },
    )
    with EventStore(":memory:") as store:
        store.add([event])
        tokens, text_length = store.query("SELECT input_tokens, length(input_text) FROM event_rows")[0]
        assert tokens == 12 and text_length == 100_000
        assert store.count("detection_rows") == 0 and store.count("tool_call_rows") == 1


def test_the_stored_content_hash_is_the_audit_chains() -> None:
    from bastion.monitor.store import content_hash

    event = chat(
        1, **{Attribute.INPUT_TEXT: 'Grüße \u2028 "quoted" ünïcödé', Attribute.DETECTIONS: [{"a": 1.5}]}
    )
    with EventStore(":memory:") as store:
        store.add([event])
        assert store.query("SELECT content_hash FROM event_rows")[0][0] == content_hash(event)
