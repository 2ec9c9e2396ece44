from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bastion.core.events import Attribute, Event, EventKind, normalize_attributes

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_record_round_trip_keeps_every_field() -> None:
    event = Event(
        "e-1",
        T0,
        EventKind.CHAT,
        "demo",
        {Attribute.REQUEST_MODEL: "gemma", Attribute.INPUT_TOKENS: 12, Attribute.FINISH_REASONS: ["stop"]},
    )
    again = Event.from_record(json.loads(event.to_json()))
    assert again == event
    assert dict(again.attributes) == dict(event.attributes)


def test_time_is_stored_in_utc() -> None:
    local = T0.astimezone(timezone(timedelta(hours=1)))
    record = Event("e", local, EventKind.ADMIN, "t").to_record()
    assert record["time"].endswith("+00:00")


def test_legacy_names_map_to_current_ones_and_current_wins() -> None:
    assert normalize_attributes({"gen_ai.system": "openai", "llm.token_count.prompt": 5}) == {
        Attribute.PROVIDER: "openai",
        Attribute.INPUT_TOKENS: 5,
    }
    both = normalize_attributes({"gen_ai.usage.prompt_tokens": 1, Attribute.INPUT_TOKENS: 2})
    assert both == {Attribute.INPUT_TOKENS: 2}


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"id": "x", "time": "yesterday", "kind": "chat", "tenant": "t"},
        {"id": "x", "time": "2026-01-01T00:00:00", "kind": "nonsense", "tenant": "t"},
        {"id": "x", "time": 5, "kind": "chat", "tenant": "t"},
        {"id": "x", "time": "2026-01-01T00:00:00", "kind": "chat", "tenant": "t", "attributes": [1]},
    ],
)
def test_bad_records_raise_value_error(record: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Event.from_record(record)


def test_naive_time_and_non_json_attributes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        Event("e", datetime(2026, 1, 1), EventKind.CHAT, "t")
    with pytest.raises(ValueError, match="JSON"):
        Event("e", T0, EventKind.CHAT, "t", {"x": object()})
    with pytest.raises(ValueError, match="finite"):
        Event("e", T0, EventKind.CHAT, "t", {"x": float("nan")})


def test_the_requested_tenant_attribute_round_trips() -> None:
    assert Attribute.REQUESTED_TENANT == "bastion.tenant.requested"
    assert Attribute.API_KEY_ROTATED_FROM == "bastion.api_key.rotated_from"
    event = Event("e-2", T0, EventKind.CHAT, "acme", {Attribute.REQUESTED_TENANT: "beta"})
    assert Event.from_record(json.loads(event.to_json())).get(Attribute.REQUESTED_TENANT) == "beta"
