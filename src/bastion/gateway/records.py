"""Audit events of the gateway, built from what it decided (OpenTelemetry GenAI attribute names).

Texts in events are the guarded versions only: the input as it left for the upstream (personal data as
vault tokens or masks) and the output as the guard saw it (before tokens were restored for the caller).
When the policy does not redact personal data, the event carries a hash and a length instead of the text.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bastion.core.events import Attribute, Event, EventKind
from bastion.core.types import Action, Detection
from bastion.guard.guard import GuardVerdict

__all__ = ["CallRecord", "build_events"]

_MAX_TEXT = 8_000


@dataclass(slots=True)
class CallRecord:
    """What the gateway learns about one call while handling it."""

    tenant: str
    key_id: str
    operation: str  # chat | text_completion | embeddings
    provider: str = ""
    upstream: str = ""
    request_model: str = ""
    response_model: str = ""
    response_id: str = ""
    conversation_id: str = ""
    application: str | None = None
    input_text: str | None = None
    input_sha256: str = ""
    output_text: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[GuardVerdict] = field(default_factory=list)
    status: int = 200
    error_type: str | None = None
    pseudonyms: set[str] = field(default_factory=set)
    latency_ms: float = 0.0
    upstream_ms: float = 0.0

    def set_input(self, original: str, guarded: str, text_is_safe: bool) -> None:
        self.input_sha256 = hashlib.sha256(original.encode("utf-8", "surrogatepass")).hexdigest()
        self.input_text = guarded[:_MAX_TEXT] if text_is_safe else None

    @property
    def action(self) -> Action:
        strongest = Action.ALLOW
        order = [Action.ALLOW, Action.FLAG, Action.REDACT, Action.BLOCK]
        for verdict in self.verdicts:
            if order.index(verdict.action) > order.index(strongest):
                strongest = verdict.action
        return strongest

    def deciding(self) -> GuardVerdict | None:
        """The verdict with the strongest action (the first of equals)."""
        order = [Action.ALLOW, Action.FLAG, Action.REDACT, Action.BLOCK]
        best: GuardVerdict | None = None
        for verdict in self.verdicts:
            if verdict.action is not Action.ALLOW and (
                best is None or order.index(verdict.action) > order.index(best.action)
            ):
                best = verdict
        return best


def build_events(record: CallRecord, now: datetime | None = None) -> list[Event]:
    """One ``chat`` event for the call, plus one ``guard.decision`` event per verdict that was not allow."""
    moment = now or datetime.now(UTC)
    deciding = record.deciding()
    attributes: dict[str, Any] = {
        Attribute.OPERATION: record.operation,
        Attribute.PROVIDER: record.provider,
        Attribute.REQUEST_MODEL: record.request_model,
        Attribute.TENANT: record.tenant,
        Attribute.API_KEY_ID: record.key_id,
        Attribute.HTTP_STATUS: record.status,
        Attribute.GUARD_ACTION: record.action.value,
        Attribute.INPUT_SHA256: record.input_sha256,
        Attribute.LATENCY_MS: round(record.latency_ms, 3),
        Attribute.UPSTREAM_LATENCY_MS: round(record.upstream_ms, 3),
        Attribute.DETECTIONS: _detections(d for v in record.verdicts for d in v.detections),
    }
    optional: Mapping[str, Any] = {
        Attribute.RESPONSE_MODEL: record.response_model,
        Attribute.RESPONSE_ID: record.response_id,
        Attribute.CONVERSATION_ID: record.conversation_id,
        Attribute.APPLICATION: record.application,
        Attribute.SERVER_ADDRESS: record.upstream,
        Attribute.INPUT_TEXT: record.input_text,
        Attribute.OUTPUT_TEXT: record.output_text,
        Attribute.INPUT_TOKENS: record.input_tokens,
        Attribute.OUTPUT_TOKENS: record.output_tokens,
        Attribute.ERROR_TYPE: record.error_type,
        Attribute.GUARD_RULE: deciding.rule if deciding is not None else None,
        Attribute.GUARD_STAGE: deciding.stage.value if deciding is not None else None,
    }
    attributes.update({name: value for name, value in optional.items() if value not in (None, "")})
    if record.finish_reasons:
        attributes[Attribute.FINISH_REASONS] = list(record.finish_reasons)
    if record.tool_calls:
        attributes[Attribute.TOOL_CALLS] = record.tool_calls
    if record.pseudonyms:
        attributes[Attribute.PSEUDONYMS] = sorted(record.pseudonyms)
    chat = Event(str(uuid.uuid4()), moment, EventKind.CHAT, record.tenant, attributes)
    events = [chat]
    for verdict in record.verdicts:
        if verdict.action is Action.ALLOW:
            continue
        decision = {
            Attribute.TENANT: record.tenant,
            Attribute.API_KEY_ID: record.key_id,
            Attribute.GUARD_ACTION: verdict.action.value,
            Attribute.GUARD_STAGE: verdict.stage.value,
            Attribute.DETECTIONS: _detections(verdict.detections),
            Attribute.INPUT_SHA256: record.input_sha256,
            Attribute.REQUEST_MODEL: record.request_model,
            "bastion.chat.event_id": chat.id,
        }
        if verdict.rule:
            decision[Attribute.GUARD_RULE] = verdict.rule
        if record.application:
            decision[Attribute.APPLICATION] = record.application
        events.append(Event(str(uuid.uuid4()), moment, EventKind.GUARD_DECISION, record.tenant, decision))
    return events


def _detections(detections: Iterable[Detection]) -> list[dict[str, Any]]:
    """Flagged detections without their text (type, detector, score only)."""
    return [
        {"detector": d.detector, "type": d.type, "score": round(d.score, 4), "flagged": d.flagged}
        for d in detections
        if d.flagged
    ][:50]


def summarize_tool_calls(calls: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls for the audit log: names and argument names (values may hold personal data)."""
    summary = []
    for call in calls[:20]:
        function = call.get("function") or {}
        summary.append({"name": str(function.get("name", ""))[:128]})
    return summary
