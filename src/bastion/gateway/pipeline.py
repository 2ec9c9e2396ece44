"""What the gateway does with one call: guard the input, call the upstream, guard the output, audit.

:class:`Gateway` holds the parts (guard, key store, rate limiter, audit log, upstreams, metrics) and has one
method per endpoint that returns a Starlette response. The FastAPI app in :mod:`bastion.gateway.app` only
authenticates, parses and routes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import BastionError, InputError
from bastion.core.events import Event
from bastion.core.types import Action, Conversation, Message, Role
from bastion.gateway.config import GatewayConfig
from bastion.gateway.metrics import Metrics
from bastion.gateway.records import CallRecord, build_events, summarize_tool_calls
from bastion.gateway.telemetry import SpanRecorder
from bastion.gateway.upstream import Upstream, UpstreamCallError
from bastion.guard.audit import AuditLog, SQLiteAuditLog
from bastion.guard.guard import Guard, GuardVerdict, ToolCall
from bastion.guard.keys import ApiKey
from bastion.guard.limits import RateLimiter
from bastion.guard.streaming import OutputStream
from bastion.web.openai import openai_error

__all__ = ["ChatBody", "ChatMessage", "CompletionBody", "ContentPart", "EmbeddingBody", "Gateway"]

logger = logging.getLogger(__name__)

_FILTER_CODE = "content_filter"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    n: int | None = Field(default=None, ge=1, le=16)


class CompletionBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    prompt: str | list[str]
    stream: bool = False
    n: int | None = Field(default=None, ge=1, le=16)


class EmbeddingBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=256)
    input: str | list[str]


@dataclass
class _Call:
    """One call in flight: who, what the guard made of the input, and the record for the audit log."""

    key: ApiKey
    application: str | None
    record: CallRecord
    started: float
    conversation: Conversation = field(default_factory=Conversation)
    pseudonyms: frozenset[str] = frozenset()


class Gateway:
    """The gateway's parts and the handling of each endpoint."""

    def __init__(
        self,
        config: GatewayConfig,
        guard: Guard,
        limiter: RateLimiter,
        audit: AuditLog,
        upstreams: Sequence[Upstream],
        metrics: Metrics | None = None,
        spans: SpanRecorder | None = None,
    ) -> None:
        self.config = config
        self.spans = spans
        self.guard = guard
        self.limiter = limiter
        self.audit = audit
        self.upstreams = {u.name: u for u in upstreams}
        self.metrics = metrics or Metrics()
        self._models_cache: tuple[float, list[dict[str, Any]]] | None = None

    async def aclose(self) -> None:
        for upstream in self.upstreams.values():
            await upstream.aclose()
        await self.limiter.aclose()

    # -- admission -----------------------------------------------------------------------------------

    async def admit(self, key: ApiKey, endpoint: str) -> Response | None:
        """``None`` when the key may call now, else the 429 answer (rate or token budget)."""
        limits = self.config.limits
        per_minute = key.requests_per_minute or limits.default_requests_per_minute
        decision = await self.limiter.check_request(key.key_id, per_minute)
        if not decision.allowed:
            self.metrics.requests.labels(key.tenant, endpoint, "rate_limited").inc()
            retry = max(1, round(decision.retry_after_s))
            return openai_error(
                429,
                f"rate limit of {per_minute} requests per minute reached",
                "rate_limit_error",
                "rate_limit_exceeded",
                headers={"retry-after": str(retry)},
            )
        budget = key.tokens_per_day or limits.default_tokens_per_day
        left = await self.limiter.tokens_left(key.key_id, budget)
        if left <= 0:
            self.metrics.requests.labels(key.tenant, endpoint, "budget_exhausted").inc()
            retry = _seconds_to_utc_midnight()
            return openai_error(
                429,
                f"daily token budget of {budget:,} tokens used up",
                "insufficient_quota",
                "insufficient_quota",
                headers={"retry-after": str(retry)},
            )
        return None

    # -- endpoints -----------------------------------------------------------------------------------

    async def chat(self, key: ApiKey, raw: Mapping[str, Any], application: str | None) -> Response:
        body = _validate(ChatBody, raw)
        if len(body.messages) > self.config.limits.max_messages:
            raise InputError(f"at most {self.config.limits.max_messages} messages per request")
        if body.stream and (body.n or 1) > 1:
            raise InputError("streaming supports n = 1 only")
        call = self._start(key, application, "chat", body.model, raw)
        conversation = Conversation.of(Message(Role(m.role), _text(m.content)) for m in body.messages)
        blocked = await self._check_input(call, conversation)
        if blocked is not None:
            return blocked
        outgoing = dict(raw)
        outgoing["messages"] = [
            _with_content(original, guarded.content)
            for original, guarded in zip(raw["messages"], call.conversation, strict=True)
        ]
        upstream = await self._route(call, body.model)
        if isinstance(upstream, Response):
            return upstream
        if body.stream:
            return await self._stream(call, upstream, "/chat/completions", outgoing, "chat")
        answer = await self._post(call, upstream, "/chat/completions", outgoing)
        if isinstance(answer, Response):
            return answer
        for choice in answer.get("choices") or []:
            if isinstance(choice, dict):
                self._guard_chat_choice(call, choice)
        return await self._finish_json(call, answer)

    async def completions(self, key: ApiKey, raw: Mapping[str, Any], application: str | None) -> Response:
        body = _validate(CompletionBody, raw)
        if body.stream and (body.n or 1) > 1:
            raise InputError("streaming supports n = 1 only")
        prompts = [body.prompt] if isinstance(body.prompt, str) else list(body.prompt)
        if not prompts or len(prompts) > self.config.limits.max_messages:
            raise InputError(f"prompt needs 1 to {self.config.limits.max_messages} texts")
        call = self._start(key, application, "text_completion", body.model, raw)
        blocked = await self._check_input(call, Conversation.of(Message(Role.USER, p) for p in prompts))
        if blocked is not None:
            return blocked
        guarded = [m.content for m in call.conversation]
        outgoing = dict(raw)
        outgoing["prompt"] = guarded[0] if isinstance(body.prompt, str) else guarded
        upstream = await self._route(call, body.model)
        if isinstance(upstream, Response):
            return upstream
        if body.stream:
            return await self._stream(call, upstream, "/completions", outgoing, "completion")
        answer = await self._post(call, upstream, "/completions", outgoing)
        if isinstance(answer, Response):
            return answer
        for choice in answer.get("choices") or []:
            if isinstance(choice, dict) and isinstance(choice.get("text"), str):
                shown = self._guard_text(call, choice["text"])
                choice["text"] = shown if shown is not None else ""
                if shown is None:
                    _filtered(choice, call.record.verdicts[-1])
        return await self._finish_json(call, answer)

    async def embeddings(self, key: ApiKey, raw: Mapping[str, Any], application: str | None) -> Response:
        body = _validate(EmbeddingBody, raw)
        texts = [body.input] if isinstance(body.input, str) else list(body.input)
        if len(texts) > 2048:
            raise InputError("at most 2,048 inputs per request")
        call = self._start(key, application, "embeddings", body.model, raw)
        call.record.set_input("\n".join(texts), "", text_is_safe=False)
        for text in texts:
            verdict = self._run(
                partial(self.guard.check_document, text, tenant=key.tenant, application=application)
            )
            self._count(call, verdict)
            if verdict.blocked:
                return await self._refuse(call, verdict)
        upstream = await self._route(call, body.model)
        if isinstance(upstream, Response):
            return upstream
        answer = await self._post(call, upstream, "/embeddings", dict(raw))
        if isinstance(answer, Response):
            return answer
        return await self._finish_json(call, answer)

    async def models(self, key: ApiKey) -> Response:
        now = time.monotonic()
        if self._models_cache is None or now - self._models_cache[0] > 60:
            found: dict[str, dict[str, Any]] = {}
            for upstream in self.upstreams.values():
                try:
                    listing = await upstream.get_json("/models")
                except UpstreamCallError:
                    continue
                for model in (listing or {}).get("data") or []:
                    if isinstance(model, dict) and isinstance(model.get("id"), str):
                        found.setdefault(
                            model["id"], {**model, "owned_by": model.get("owned_by", upstream.name)}
                        )
            self._models_cache = (now, sorted(found.values(), key=lambda m: str(m["id"])))
        self.metrics.requests.labels(key.tenant, "models", "ok").inc()
        return JSONResponse({"object": "list", "data": self._models_cache[1]})

    # -- steps ---------------------------------------------------------------------------------------

    def _start(
        self, key: ApiKey, application: str | None, operation: str, model: str, raw: Mapping[str, Any]
    ) -> _Call:
        record = CallRecord(tenant=key.tenant, key_id=key.key_id, operation=operation, request_model=model)
        record.application = application
        route = self.config.upstream_for(model)  # recorded even when the guard stops the call before it
        if route is not None:
            record.upstream, record.provider = route.name, route.provider
        user = raw.get("user")
        conversation_id = raw.get("conversation_id") or (raw.get("metadata") or {}).get("conversation_id")
        if isinstance(conversation_id, str):
            record.conversation_id = conversation_id[:128]
        elif isinstance(user, str):
            record.conversation_id = ""
        return _Call(key, application, record, time.perf_counter())

    async def _check_input(self, call: _Call, conversation: Conversation) -> Response | None:
        tenant, application = call.key.tenant, call.application
        verdict = self._run(
            lambda: self.guard.check_input(conversation, tenant=tenant, application=application)
        )
        self._count(call, verdict)
        guarded = verdict.conversation or conversation
        call.conversation = guarded
        call.pseudonyms = verdict.pseudonyms
        call.record.pseudonyms.update(verdict.pseudonyms)
        last_original = conversation.last(Role.USER) or conversation.last()
        last_guarded = guarded.last(Role.USER) or guarded.last()
        rules = self.guard.rules(tenant, application)
        pii = rules.input.get("pii")
        safe = pii is not None and pii.action in (Action.REDACT, Action.BLOCK)
        call.record.set_input(
            last_original.content if last_original else "",
            last_guarded.content if last_guarded else "",
            safe and not verdict.blocked,
        )
        if verdict.blocked:
            return await self._refuse(call, verdict)
        return None

    async def _route(self, call: _Call, model: str) -> Upstream | Response:
        config = self.config.upstream_for(model)
        if config is None or config.name not in self.upstreams:
            call.record.status = 404
            call.record.error_type = "model_not_found"
            await self._record(call)
            return openai_error(404, f"no upstream serves model {model[:80]!r}", code="model_not_found")
        call.record.upstream = config.name
        call.record.provider = config.provider
        return self.upstreams[config.name]

    async def _post(self, call: _Call, upstream: Upstream, path: str, body: Mapping[str, Any]) -> Any:
        started = time.perf_counter()
        try:
            answer = await upstream.post_json(path, body)
        except UpstreamCallError as failure:
            return await self._upstream_failed(call, upstream, failure, started)
        call.record.upstream_ms += (time.perf_counter() - started) * 1000
        self.metrics.upstream_seconds.labels(upstream.name).observe(time.perf_counter() - started)
        if not isinstance(answer, dict):
            return await self._upstream_failed(
                call,
                upstream,
                UpstreamCallError("upstream answered with a non-object", 502, "upstream_error"),
                started,
            )
        return answer

    async def _upstream_failed(
        self, call: _Call, upstream: Upstream, failure: UpstreamCallError, started: float
    ) -> Response:
        call.record.upstream_ms += (time.perf_counter() - started) * 1000
        call.record.status = failure.status
        call.record.error_type = failure.code
        self.metrics.upstream_errors.labels(upstream.name, failure.code).inc()
        await self._record(call)
        kind = "invalid_request_error" if failure.status < 500 else "upstream_error"
        return openai_error(failure.status, str(failure), kind, failure.code)

    def _guard_chat_choice(self, call: _Call, choice: dict[str, Any]) -> None:
        message = choice.get("message")
        if not isinstance(message, dict):
            return
        content = message.get("content")
        if isinstance(content, str) and content:
            shown = self._guard_text(call, content)
            if shown is None:
                message["content"] = ""
                _filtered(choice, call.record.verdicts[-1])
            else:
                message["content"] = shown
        calls = message.get("tool_calls")
        if isinstance(calls, list) and calls:
            kept = self._guard_tool_calls(call, [c for c in calls if isinstance(c, dict)], choice)
            message["tool_calls"] = kept or None
            if not kept:
                message.pop("tool_calls", None)

    def _guard_text(self, call: _Call, text: str) -> str | None:
        """The output text as the caller may see it (tokens restored), or ``None`` when blocked."""
        tenant, application = call.key.tenant, call.application
        verdict = self._run(
            lambda: self.guard.check_output(call.conversation, text, tenant=tenant, application=application)
        )
        self._count(call, verdict)
        if verdict.blocked or verdict.text is None:
            return None
        call.record.output_text = verdict.text[:8000] if call.record.input_text is not None else None
        return self.guard.restore(verdict.text, tenant=tenant, only=call.pseudonyms)

    def _guard_tool_calls(
        self, call: _Call, calls: list[dict[str, Any]], choice: dict[str, Any]
    ) -> list[dict[str, Any]]:
        kept = []
        for wire in calls:
            tool = ToolCall.from_openai(wire)
            check = partial(
                self.guard.check_tool_call, tool, tenant=call.key.tenant, application=call.application
            )
            verdict = self._run(check)
            self._count(call, verdict)
            if verdict.blocked:
                _filtered(choice, verdict)
                continue
            function = wire.get("function")
            if isinstance(function, dict) and isinstance(function.get("arguments"), str):
                function["arguments"] = self.guard.restore(
                    function["arguments"], tenant=call.key.tenant, only=call.pseudonyms
                )
            kept.append(wire)
        call.record.tool_calls.extend(summarize_tool_calls(kept))
        return kept

    async def _finish_json(self, call: _Call, answer: dict[str, Any]) -> Response:
        self._usage(call, answer.get("usage"))
        call.record.response_model = str(answer.get("model") or "")[:256]
        call.record.response_id = str(answer.get("id") or "")[:256]
        call.record.finish_reasons = [
            str(c.get("finish_reason")) for c in answer.get("choices") or [] if isinstance(c, dict)
        ][:16]
        await self._charge(call)
        await self._record(call)
        return JSONResponse(answer)

    async def _stream(
        self,
        call: _Call,
        upstream: Upstream,
        path: str,
        body: dict[str, Any],
        kind: Literal["chat", "completion"],
    ) -> Response:
        body = {**body, "stream": True}
        if kind == "chat":
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        started = time.perf_counter()
        events = upstream.stream(path, body)
        try:
            first = await anext(events)
        except StopAsyncIteration:
            first = None
        except UpstreamCallError as failure:
            return await self._upstream_failed(call, upstream, failure, started)
        tenant, application = call.key.tenant, call.application

        def check(text: str) -> GuardVerdict:
            verdict = self.guard.check_output(call.conversation, text, tenant=tenant, application=application)
            return verdict

        output = OutputStream(
            check,
            lambda text: self.guard.restore(text, tenant=tenant, only=call.pseudonyms),
            hold_back=self.config.streaming.hold_back_chars,
            scan_every=self.config.streaming.scan_every_chars,
        )
        return StreamingResponse(
            self._relay(call, upstream, first, events, output, kind, started),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    async def _relay(
        self,
        call: _Call,
        upstream: Upstream,
        first: dict[str, Any] | None,
        events: AsyncIterator[dict[str, Any]],
        output: OutputStream,
        kind: Literal["chat", "completion"],
        started: float,
    ) -> AsyncIterator[str]:
        shape: dict[str, Any] = {}
        tools: dict[int, dict[str, Any]] = {}
        finish: str | None = None
        role_sent = False
        try:
            pending = [first] if first is not None else []
            while True:
                if pending:
                    event = pending.pop()
                else:
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                if not shape:
                    shape = {k: event[k] for k in ("id", "object", "created", "model") if k in event}
                if isinstance(event.get("usage"), dict):
                    self._usage(call, event["usage"])
                choices = event.get("choices") or []
                choice = choices[0] if choices and isinstance(choices[0], dict) else {}
                delta = choice.get("delta") or {} if kind == "chat" else {}
                if kind == "chat" and not role_sent and delta.get("role"):
                    role_sent = True
                    yield _sse(shape, {"role": delta["role"], "content": ""}, None, kind)
                text = delta.get("content") if kind == "chat" else choice.get("text")
                if isinstance(text, str) and text:
                    step = output.feed(text)
                    if step.stopped:
                        break
                    if step.text:
                        yield _sse(shape, {"content": step.text}, None, kind)
                for piece in delta.get("tool_calls") or [] if kind == "chat" else []:
                    _accumulate_tool_call(tools, piece)
                if choice.get("finish_reason"):
                    finish = str(choice["finish_reason"])
            call.record.upstream_ms += (time.perf_counter() - started) * 1000
            last = output.finish()
            verdict = output.verdict
            if verdict is not None:
                self._count(call, verdict)
                if not last.stopped and verdict.text is not None and call.record.input_text is not None:
                    call.record.output_text = verdict.text[:8000]
            if last.text:
                yield _sse(shape, {"content": last.text}, None, kind)
            if last.stopped:
                finish = _FILTER_CODE
            elif tools:
                holder: dict[str, Any] = {}
                kept = self._guard_tool_calls(call, [tools[i] for i in sorted(tools)], holder)
                if kept:
                    wire = [{"index": i, **c} for i, c in enumerate(kept)]
                    yield _sse(shape, {"tool_calls": wire}, None, kind)
                if holder.get("finish_reason") == _FILTER_CODE:
                    finish = _FILTER_CODE
            call.record.finish_reasons = [finish or "stop"]
            yield _sse(shape, {}, finish or "stop", kind)
        except UpstreamCallError as failure:
            call.record.status = failure.status
            call.record.error_type = failure.code
            self.metrics.upstream_errors.labels(upstream.name, failure.code).inc()
            yield _sse(shape, {}, "error", kind)
        finally:
            await self._charge(call)
            self._audit(call)
        yield "data: [DONE]\n\n"

    # -- bookkeeping ---------------------------------------------------------------------------------

    def _run(self, check: Callable[[], GuardVerdict]) -> GuardVerdict:
        try:
            return check()
        except BastionError:
            raise
        except Exception as error:  # a bug in a detector must not take the gateway down
            logger.exception("guard check failed")
            raise InputError(f"the guard could not check this request ({type(error).__name__})") from None

    def _count(self, call: _Call, verdict: GuardVerdict) -> None:
        call.record.verdicts.append(verdict)
        self.metrics.guard_actions.labels(call.key.tenant, verdict.stage.value, verdict.action.value).inc()

    def _usage(self, call: _Call, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int):
            call.record.input_tokens = prompt
        if isinstance(completion, int):
            call.record.output_tokens = completion

    async def _charge(self, call: _Call) -> None:
        used = (call.record.input_tokens or 0) + (call.record.output_tokens or 0)
        if used <= 0:
            return
        budget = call.key.tokens_per_day or self.config.limits.default_tokens_per_day
        await self.limiter.charge_tokens(call.key.key_id, used, budget, force=True)  # already spent
        self.metrics.tokens.labels(call.key.tenant, "input").inc(call.record.input_tokens or 0)
        self.metrics.tokens.labels(call.key.tenant, "output").inc(call.record.output_tokens or 0)

    def _audit(self, call: _Call) -> list[Event]:
        record = call.record
        total_ms = (time.perf_counter() - call.started) * 1000
        record.latency_ms = total_ms
        endpoint = record.operation
        outcome = "error" if record.status >= 400 else record.action.value
        self.metrics.requests.labels(record.tenant, endpoint, outcome).inc()
        self.metrics.added_seconds.labels(endpoint).observe(max(0.0, total_ms - record.upstream_ms) / 1000)
        events = build_events(record)
        self.audit.append_many(events)
        if self.spans is not None:
            started_ns = time.time_ns() - int(total_ms * 1_000_000)
            self.spans.record(events[0], started_ns)
        return events

    async def _refuse(self, call: _Call, verdict: GuardVerdict) -> Response:
        """HTTP 400 in Azure OpenAI's content-filter shape, after the audit record is written."""
        call.record.status = 400
        call.record.error_type = _FILTER_CODE
        await self._record(call)
        return _refusal(verdict)

    async def _record(self, call: _Call) -> None:
        """Audit the call before answering: inline on SQLite (a commit is a fraction of a millisecond),
        in a worker thread on a server database so the event loop does not wait for the network."""
        if isinstance(self.audit, SQLiteAuditLog):
            self._audit(call)
        else:
            await asyncio.to_thread(self._audit, call)


def _seconds_to_utc_midnight() -> int:
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()))


def _refusal(verdict: GuardVerdict) -> Response:
    """The content-filter answer (HTTP 400, Azure OpenAI's shape, with our detections)."""
    detections = [
        {"detector": d.detector, "type": d.type, "score": round(d.score, 4)}
        for d in verdict.detections
        if d.flagged
    ][:20]
    return openai_error(
        400,
        f"The request was blocked by the content filter ({verdict.rule or verdict.stage.value}).",
        "invalid_request_error",
        _FILTER_CODE,
        extra={
            "param": "prompt",
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {
                    "bastion": {"filtered": True, "rule": verdict.rule, "detections": detections}
                },
            },
        },
    )


def _filtered(choice: dict[str, Any], verdict: GuardVerdict) -> None:
    choice["finish_reason"] = _FILTER_CODE
    choice["content_filter_results"] = {
        "bastion": {
            "filtered": True,
            "rule": verdict.rule,
            "detections": [{"detector": d.detector, "type": d.type} for d in verdict.detections if d.flagged][
                :20
            ],
        }
    }


def _validate(model: type[BaseModel], raw: Mapping[str, Any]) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise InputError(f"invalid request: {where}: {first.get('msg', 'invalid')}") from None


def _text(content: str | list[ContentPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if any(part.type != "text" for part in content):
        raise InputError("only text content parts are supported by this gateway")
    return "\n".join(part.text or "" for part in content)


def _with_content(original: Mapping[str, Any], content: str) -> dict[str, Any]:
    message = dict(original)
    if message.get("content") is None and content == "":
        return message
    message["content"] = content
    return message


def _accumulate_tool_call(tools: dict[int, dict[str, Any]], piece: Any) -> None:
    if not isinstance(piece, dict):
        return
    index = piece.get("index", 0)
    if not isinstance(index, int) or not 0 <= index < 128:
        return
    entry = tools.setdefault(
        index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
    )
    if isinstance(piece.get("id"), str):
        entry["id"] = piece["id"]
    function = piece.get("function") or {}
    if isinstance(function.get("name"), str):
        entry["function"]["name"] += function["name"]
    if isinstance(function.get("arguments"), str):
        entry["function"]["arguments"] += function["arguments"]


def _sse(shape: Mapping[str, Any], delta: Mapping[str, Any], finish: str | None, kind: str) -> str:
    if kind == "chat":
        choice: dict[str, Any] = {"index": 0, "delta": dict(delta), "finish_reason": finish}
        chunk = {**shape, "object": "chat.completion.chunk", "choices": [choice]}
    else:
        choice = {"index": 0, "text": delta.get("content", ""), "finish_reason": finish}
        chunk = {**shape, "object": "text_completion", "choices": [choice]}
    return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
