"""A stand-in OpenAI-compatible upstream for the gateway's tests (a real HTTP server, scripted answers).

It records every request body it receives and answers with ``state.reply`` (text), ``state.tool_calls``
or, by default, an echo of the last user message, so tests can see exactly what left the gateway. It stands
in for a model only to isolate the gateway's behaviour; the demo tests use the real local model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass
class StandInState:
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    reply: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    fail_times: int = 0
    fail_status: int = 503
    piece_chars: int = 7
    delay_s: float = 0.0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def _answer(state: StandInState, body: dict[str, Any]) -> str:
    if state.reply is not None:
        return state.reply
    messages = body.get("messages") or [{"content": body.get("prompt", "")}]
    last = messages[-1].get("content") or ""
    return f"echo: {last}"


def create_standin() -> tuple[FastAPI, StandInState]:
    app = FastAPI()
    state = StandInState()

    def failing() -> Response | None:
        if state.fail_times > 0:
            state.fail_times -= 1
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided: sk-secret...", "code": "boom"}},
                status_code=state.fail_status,
            )
        return None

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": "stand-in", "object": "model", "owned_by": "tests"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        state.headers.append({**dict(request.headers), "query": str(request.url.query)})
        failed = failing()
        if failed is not None:
            return failed
        if state.delay_s:
            time.sleep(state.delay_s)
        text = _answer(state, body)
        usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        if body.get("stream"):
            return StreamingResponse(_chat_stream(state, text, usage), media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if state.tool_calls is not None:
            message["tool_calls"] = state.tool_calls
        return JSONResponse(
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": 1,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": "tool_calls" if state.tool_calls else "stop",
                    }
                ],
                "usage": usage,
            }
        )

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        failed = failing()
        if failed is not None:
            return failed
        text = state.reply if state.reply is not None else f"echo: {body.get('prompt')}"
        if body.get("stream"):
            return StreamingResponse(_completion_stream(state, text), media_type="text/event-stream")
        return JSONResponse(
            {
                "id": "cmpl-standin",
                "object": "text_completion",
                "model": body["model"],
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
        )

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        return JSONResponse(
            {
                "object": "list",
                "model": body["model"],
                "data": [
                    {"object": "embedding", "index": i, "embedding": [0.1, 0.2]} for i in range(len(inputs))
                ],
                "usage": {"prompt_tokens": 2, "total_tokens": 2},
            }
        )

    return app, state


def _chat_stream(state: StandInState, text: str, usage: dict[str, int]) -> Iterator[str]:
    head = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 1, "model": "stand-in"}
    yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}) + "\n\n"
    for start in range(0, len(text), state.piece_chars):
        piece = text[start : start + state.piece_chars]
        yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": {"content": piece}}]}) + "\n\n"
    for index, call in enumerate(state.tool_calls or []):
        delta = {"tool_calls": [{"index": index, **call}]}
        yield "data: " + json.dumps({**head, "choices": [{"index": 0, "delta": delta}]}) + "\n\n"
    finish = "tool_calls" if state.tool_calls else "stop"
    yield (
        "data: "
        + json.dumps({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        + "\n\n"
    )
    yield "data: " + json.dumps({**head, "choices": [], "usage": usage}) + "\n\n"
    yield "data: [DONE]\n\n"


def _completion_stream(state: StandInState, text: str) -> Iterator[str]:
    for start in range(0, len(text), state.piece_chars):
        chunk = {
            "id": "cmpl",
            "object": "text_completion",
            "choices": [{"index": 0, "text": text[start : start + state.piece_chars], "finish_reason": None}],
        }
        yield "data: " + json.dumps(chunk) + "\n\n"
    yield (
        "data: "
        + json.dumps({"id": "cmpl", "choices": [{"index": 0, "text": "", "finish_reason": "stop"}]})
        + "\n\n"
    )
    yield "data: [DONE]\n\n"
