"""The event schema shared by the gateway's audit log, the monitor, the red team and admin actions.

An :class:`Event` is one thing that happened: an LLM call through the gateway, a guard decision, a red-team
finding, an administrative action (a key issued, rotated or revoked, a policy changed). Its ``attributes`` use
the OpenTelemetry GenAI semantic-convention names (``gen_ai.*``) where one exists and the ``bastion.*``
namespace otherwise, so a trace exported by any OpenTelemetry-instrumented application reads the same way as
our own audit log. Older attribute names still written by other tools (``gen_ai.system``,
``gen_ai.usage.prompt_tokens``, OpenInference's ``llm.*``) are mapped to the current ones by
:func:`normalize_attributes`.

Text attributes (``bastion.input.text``, ``bastion.output.text``) hold pseudonymised text only: whoever
creates an event replaces personal data first. API keys never appear; ``bastion.api_key.id`` is a key's
public id.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "LEGACY_ATTRIBUTES",
    "Attribute",
    "Event",
    "EventKind",
    "normalize_attributes",
]


class EventKind(StrEnum):
    """What an event records."""

    CHAT = "chat"
    """One model call (request and response summary), usually through the gateway."""
    GUARD_DECISION = "guard.decision"
    """A guard verdict that did not let the call through unchanged (block, redact, flag)."""
    REDTEAM_FINDING = "redteam.finding"
    """A successful attack found by a red-team campaign."""
    ADMIN = "admin"
    """An administrative action: key issued/rotated/revoked, policy changed, erasure, retention run."""


class Attribute:
    """Attribute names. ``gen_ai.*`` follow the OpenTelemetry GenAI semantic conventions."""

    OPERATION = "gen_ai.operation.name"  # chat | text_completion | embeddings | execute_tool
    PROVIDER = "gen_ai.provider.name"  # openai | azure.ai.openai | ollama | bastion.demo ...
    REQUEST_MODEL = "gen_ai.request.model"
    RESPONSE_MODEL = "gen_ai.response.model"
    RESPONSE_ID = "gen_ai.response.id"
    FINISH_REASONS = "gen_ai.response.finish_reasons"  # list[str]
    INPUT_TOKENS = "gen_ai.usage.input_tokens"
    OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
    CONVERSATION_ID = "gen_ai.conversation.id"
    TOOL_NAME = "gen_ai.tool.name"
    SERVER_ADDRESS = "server.address"
    HTTP_STATUS = "http.response.status_code"
    ERROR_TYPE = "error.type"

    TENANT = "bastion.tenant.id"
    API_KEY_ID = "bastion.api_key.id"
    APPLICATION = "bastion.application.id"
    GUARD_ACTION = "bastion.guard.action"  # allow | flag | redact | block
    GUARD_RULE = "bastion.guard.rule"
    GUARD_STAGE = "bastion.guard.stage"  # input | output | tool_call | document
    DETECTIONS = "bastion.guard.detections"  # list[{"detector", "type", "score", "flagged"}]
    INPUT_TEXT = "bastion.input.text"  # pseudonymised
    OUTPUT_TEXT = "bastion.output.text"  # pseudonymised
    INPUT_SHA256 = "bastion.input.sha256"  # of the original input, for campaign grouping
    TOOL_CALLS = "bastion.tool_calls"  # list[{"name", "arguments"}], arguments pseudonymised
    LATENCY_MS = "bastion.latency_ms"
    UPSTREAM_LATENCY_MS = "bastion.upstream.latency_ms"
    ADMIN_ACTION = "bastion.admin.action"  # key.issued | key.rotated | key.revoked | policy.changed ...
    PSEUDONYMS = "bastion.pseudonyms"  # list of vault tokens that occur in this event (for erasure)
    REQUESTED_TENANT = "bastion.tenant.requested"  # a tenant the call asked for (header, tool argument)
    API_KEY_ROTATED_FROM = "bastion.api_key.rotated_from"  # key.rotated: the old key (api_key.id: new)


#: Older names still written by other tools, mapped to the current convention.
LEGACY_ATTRIBUTES: Mapping[str, str] = MappingProxyType(
    {
        "gen_ai.system": Attribute.PROVIDER,
        "gen_ai.usage.prompt_tokens": Attribute.INPUT_TOKENS,
        "gen_ai.usage.completion_tokens": Attribute.OUTPUT_TOKENS,
        "llm.model_name": Attribute.REQUEST_MODEL,
        "llm.provider": Attribute.PROVIDER,
        "llm.system": Attribute.PROVIDER,
        "llm.token_count.prompt": Attribute.INPUT_TOKENS,
        "llm.token_count.completion": Attribute.OUTPUT_TOKENS,
        "session.id": Attribute.CONVERSATION_ID,
    }
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def normalize_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``attributes`` with legacy names renamed; a current name wins over its legacy twin."""
    result: dict[str, Any] = {}
    for name, value in attributes.items():
        current = LEGACY_ATTRIBUTES.get(name)
        if current is None:
            result[name] = value
        elif current not in attributes:
            result[current] = value
    return result


def _check_json(value: Any, path: str) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"attribute {path} is not a finite number")
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json(item, f"{path}[{index}]")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"attribute {path} has a non-string key")
            _check_json(item, f"{path}.{key}")
        return
    raise ValueError(f"attribute {path} has type {type(value).__name__}, which JSON cannot hold")


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event. ``time`` is timezone-aware (UTC); ``attributes`` are JSON values."""

    id: str
    time: datetime
    kind: EventKind
    tenant: str
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an event needs an id")
        if self.time.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        for name, value in self.attributes.items():
            _check_json(value, name)

    def get(self, name: str, default: Any = None) -> Any:
        """One attribute, or ``default``."""
        return self.attributes.get(name, default)

    def to_record(self) -> dict[str, Any]:
        """The JSON object stored in the audit log and in JSONL exports."""
        return {
            "id": self.id,
            "time": self.time.astimezone(UTC).isoformat(timespec="microseconds"),
            "kind": self.kind.value,
            "tenant": self.tenant,
            "attributes": dict(self.attributes),
        }

    def to_json(self) -> str:
        """:meth:`to_record` as canonical JSON (sorted keys, no spaces): what the audit chain hashes."""
        return json.dumps(self.to_record(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Event:
        """Parse :meth:`to_record`'s shape (legacy attribute names are mapped). Raises ``ValueError``."""
        try:
            raw_time = record["time"]
            time = datetime.fromisoformat(raw_time) if isinstance(raw_time, str) else None
            kind = EventKind(record["kind"])
            attributes = record.get("attributes") or {}
            identifier, tenant = record["id"], record["tenant"]
        except (KeyError, TypeError) as error:
            raise ValueError(f"not an event record: missing or invalid {error}") from None
        if time is None:
            raise ValueError("event time must be an ISO 8601 string")
        if time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
        if not isinstance(attributes, Mapping) or not isinstance(identifier, str):
            raise ValueError("event attributes must be an object and its id a string")
        if not isinstance(tenant, str):
            raise ValueError("event tenant must be a string")
        return cls(
            id=identifier,
            time=time.astimezone(UTC),
            kind=kind,
            tenant=tenant,
            attributes=MappingProxyType(normalize_attributes(attributes)),
        )
