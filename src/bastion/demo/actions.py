"""The textual action protocol: how a model without native tool calling asks the app to run a tool.

The model writes one line per call::

    ACTION: lookup_case {"case_id": "TN-2026-0042"}

:func:`parse_actions` takes those lines out of the model's text and validates each against the tool's
argument model (pydantic): unknown tools, malformed JSON, missing or extra arguments and over-long values
become :class:`ActionCall` values with an ``error`` instead of being executed. Whether a *valid* call may
run is the toolbox's decision (:mod:`bastion.demo.tools`), not the parser's.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "TOOL_ARGUMENTS",
    "ActionCall",
    "CloseCase",
    "LookupCase",
    "SendEmail",
    "UpdatePaymentPlan",
    "parse_actions",
]

MAX_ACTIONS = 4  # per model answer; more is treated as noise and ignored
_ACTION_LINE = re.compile(
    r"[ \t>*`-]*ACTION\s*:\s*(?P<name>[A-Za-z_][A-Za-z0-9_]{0,40})\s*(?P<args>.*)", re.I
)


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LookupCase(_Arguments):
    """Show a case: balance, status, due date, payments."""

    case_id: str = Field(min_length=1, max_length=40)


class UpdatePaymentPlan(_Arguments):
    """Set up or change an instalment plan."""

    case_id: str = Field(min_length=1, max_length=40)
    monthly_eur: float = Field(gt=0, le=1_000_000)
    installments: int = Field(ge=1, le=240)


class SendEmail(_Arguments):
    """Queue an e-mail (the demo never sends mail; it lands in the outbox table)."""

    to: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5_000)


class CloseCase(_Arguments):
    """Close a case (paid, settled, written off)."""

    case_id: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=500)


#: tool name -> its argument model; the order is the order the prompt lists them in
TOOL_ARGUMENTS: dict[str, type[_Arguments]] = {
    "lookup_case": LookupCase,
    "update_payment_plan": UpdatePaymentPlan,
    "send_email": SendEmail,
    "close_case": CloseCase,
}


@dataclass(frozen=True, slots=True)
class ActionCall:
    """One parsed action line. ``arguments`` is the validated model, or ``None`` with an ``error``."""

    id: str
    name: str
    raw_arguments: str
    arguments: _Arguments | None = None
    error: str = ""
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.arguments is not None


def parse_actions(text: str) -> tuple[str, list[ActionCall]]:
    """Split a model answer into the text for the customer and the action calls it contains.

    Action lines are removed from the text whether or not they are valid; at most :data:`MAX_ACTIONS` are
    returned. Call ids are derived from the line, so the same answer always gives the same ids.
    """
    calls: list[ActionCall] = []
    kept: list[str] = []
    for line in text.splitlines():
        match = _ACTION_LINE.match(line)
        if match is None:
            if line.strip():
                kept.append(line)
        elif len(calls) < MAX_ACTIONS:
            calls.append(_parse_call(match.group("name"), match.group("args").strip(), len(calls)))
    return "\n".join(kept).strip(), calls


def _parse_call(name: str, raw: str, index: int) -> ActionCall:
    call_id = "call_" + hashlib.sha256(f"{index}:{name}:{raw}".encode()).hexdigest()[:20]
    name = name.lower()
    model = TOOL_ARGUMENTS.get(name)
    if model is None:
        return ActionCall(call_id, name, raw, error=f"unknown tool {name!r}")
    decoded = _first_json_object(raw)
    if decoded is None:
        return ActionCall(call_id, name, raw, error="arguments are not a JSON object")
    try:
        return ActionCall(call_id, name, raw, arguments=model.model_validate(decoded), fields=decoded)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in error.errors()
        )
        return ActionCall(call_id, name, raw, error=f"invalid arguments ({problems})", fields=decoded)


def _first_json_object(raw: str) -> dict[str, Any] | None:
    start = raw.find("{")
    if start < 0:
        return None
    try:
        decoded, _ = json.JSONDecoder().raw_decode(raw[start:])
    except json.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None
