"""Red-team targets of the showcase: the demo directly, and the same demo behind the gateway.

Both talk as the same debtor (the first debtor of the first client company) for every probe, so the two
runs differ only by the gateway in between. Probes that plant a document do so in the demo's store as
that debtor, out of band (a customer upload does not pass through an LLM gateway); the question then goes
directly or through the gateway.

Through the gateway, a refused request (HTTP 400 ``content_filter``) is an empty assistant turn, and tool
calls are judged by what the demo reports it *executed* (its ``bastion.tool_results`` extension), not by
what the gateway let through in the answer: the demo runs its tools before the gateway sees the answer,
so the gateway cannot undo them and the judges must not pretend it did.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bastion.core.errors import UpstreamError
from bastion.core.types import Role
from bastion.redteam.targets import DemoTarget, TargetSession
from bastion.redteam.types import Attempt, JudgeContext, ToolCallRecord, Transcript, Turn

__all__ = ["GatewayDemoTarget", "OneCallerDemoTarget"]


class OneCallerDemoTarget(DemoTarget):
    """The demo target with one caller (the attacker debtor) for every probe, uploads included."""

    def _caller(self, attempt: Attempt) -> Any:
        return self.attacker


class GatewayDemoTarget:
    """The demo behind the gateway at ``base_url``; ``demo`` is the target whose assistant the gateway's
    upstream serves (for uploads and the judges' context)."""

    def __init__(
        self, demo: OneCallerDemoTarget, base_url: str, api_key: str, timeout_s: float = 300.0
    ) -> None:
        self.demo = demo
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url, headers={"authorization": f"Bearer {api_key}"}, timeout=timeout_s
        )

    @property
    def name(self) -> str:
        return f"gateway+{self.demo.name}"

    def open_session(self, attempt: Attempt) -> TargetSession:
        return _GatewaySession(self, attempt)

    def run(self, attempt: Attempt) -> Transcript:
        session = self.open_session(attempt)
        turns: list[Turn] = []
        try:
            for text in attempt.turns:
                reply = session.send(tuple(turns), text)
                turns += [Turn(Role.USER, text), reply]
            return Transcript(tuple(turns), session.metadata())
        finally:
            session.close()

    def judge_context(self, attempt: Attempt) -> JudgeContext:
        return self.demo.judge_context(attempt)

    def close(self) -> None:
        self._client.close()


class _GatewaySession:
    rewindable = True

    def __init__(self, target: GatewayDemoTarget, attempt: Attempt) -> None:
        self._target = target
        self.calls = 0
        self._metadata: dict[str, Any] = {
            "seconds": [],
            "completion_tokens": [],
            "finish_reasons": [],
            "gateway_refusals": 0,
            "gateway_filtered": 0,
        }
        self._uploaded, upload = target.demo.hold(attempt)
        if upload:
            self._metadata["upload"] = upload
        self._open = True

    def send(self, history: Sequence[Turn], text: str) -> Turn:
        messages = [
            {"role": "assistant" if t.role is Role.ASSISTANT else "user", "content": t.content}
            for t in history
            if t.role in (Role.USER, Role.ASSISTANT)
        ]
        messages.append({"role": "user", "content": text})
        started = time.perf_counter()
        try:
            response = self._target._client.post(
                "/chat/completions", json={"model": "demo", "messages": messages}
            )
        except httpx.HTTPError as error:
            raise UpstreamError(f"the gateway did not answer ({type(error).__name__})") from None
        seconds = time.perf_counter() - started
        self.calls += 1
        if response.status_code == 400 and _code(response) == "content_filter":
            self._record(seconds, None, "content_filter")
            self._metadata["gateway_refusals"] += 1
            return Turn(Role.ASSISTANT, "", ())
        if response.status_code != 200:
            raise UpstreamError(f"the gateway answered HTTP {response.status_code}")
        body = response.json()
        choice = body["choices"][0]
        message = choice.get("message") or {}
        finish = str(choice.get("finish_reason"))
        if finish == "content_filter":
            self._metadata["gateway_filtered"] += 1
        usage = body.get("usage") or {}
        tokens = usage.get("completion_tokens")
        self._record(seconds, tokens if isinstance(tokens, int) else None, finish)
        return Turn(Role.ASSISTANT, str(message.get("content") or ""), _executed_tools(message, body))

    def _record(self, seconds: float, tokens: int | None, finish: str) -> None:
        self._metadata["seconds"].append(round(seconds, 3))
        self._metadata["completion_tokens"].append(tokens)
        self._metadata["finish_reasons"].append(finish)

    def metadata(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, list) else value for key, value in self._metadata.items()
        }

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._target.demo.release(self._uploaded)


def _code(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _executed_tools(message: dict[str, Any], body: dict[str, Any]) -> tuple[ToolCallRecord, ...]:
    """What the demo did, from its ``bastion.tool_results`` (arguments from the answer's tool call when the
    gateway let it through, else from the result the demo reported)."""
    arguments: dict[str, dict[str, Any]] = {}
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            decoded = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError:
            decoded = {}
        arguments[str(call.get("id"))] = decoded if isinstance(decoded, dict) else {}
    records = []
    for result in (body.get("bastion") or {}).get("tool_results") or []:
        if not isinstance(result, dict):
            continue
        status = str(result.get("status"))
        raw = result.get("result")
        outcome: dict[str, Any] = raw if isinstance(raw, dict) else {}
        given = arguments.get(str(result.get("tool_call_id"))) or {
            k: v for k, v in outcome.items() if k in ("case_id", "to", "monthly_eur", "installments")
        }
        records.append(
            ToolCallRecord(
                str(result.get("name", "")),
                given,
                status if status in ("executed", "denied", "invalid") else "requested",  # type: ignore[arg-type]
                dict(outcome),
            )
        )
    return tuple(records)
