"""The demo assistant as an OpenAI-compatible API (FastAPI).

Endpoints: ``POST /v1/chat/completions`` (JSON or server-sent events with ``stream: true``),
``GET /v1/models``, ``POST /v1/documents`` (a customer upload: the indirect-injection path),
``GET /healthz``. Callers authenticate with ``Authorization: Bearer <demo key>``; the key decides the
tenant and the debtor or agent, never the request body.

The app runs its tools itself. A reply that used tools carries them in the OpenAI wire format
(``message.tool_calls``, each with an id, ``type: "function"`` and JSON ``arguments``) with
``finish_reason: "stop"``, because there is nothing left for the client to execute; what each call did
(executed, denied, invalid) is in the ``bastion`` extension of the response, next to the retrieved chunks
and the hardened configuration's detections. Errors use OpenAI's error body
``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bastion.core.errors import InputError, UpstreamError
from bastion.core.types import Conversation, Message, Role
from bastion.demo.assistant import Assistant, Reply
from bastion.demo.db import DemoDatabase
from bastion.rag.types import Principal
from bastion.web.openai import BodyLimit, openai_error

__all__ = ["MAX_BODY_BYTES", "create_app"]

MAX_BODY_BYTES = 1_048_576
STREAM_PIECE_CHARS = 24


class _ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[_ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(part.text or "" for part in self.content if part.type == "text")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=64)
    stream: bool = False


class DocumentUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    filename: str = Field(min_length=1, max_length=200)
    content: str = Field(max_length=200_000)


def create_app(assistant: Assistant, database: DemoDatabase) -> FastAPI:
    """The API around one assistant configuration."""
    app = FastAPI(title="Bastion demo assistant", version="1", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.state.database = database

    @app.exception_handler(_UnauthorizedError)
    def _unauthorized(_: Request, __: Exception) -> JSONResponse:
        return _error(401, "invalid or missing API key", "invalid_request_error", "invalid_api_key")

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return _error(
            400, f"invalid request: {where}: {first.get('msg', 'invalid')}", "invalid_request_error"
        )

    @app.exception_handler(InputError)
    def _bad_input(_: Request, error: Exception) -> JSONResponse:
        return _error(400, str(error), "invalid_request_error")

    @app.exception_handler(UpstreamError)
    def _upstream(_: Request, error: Exception) -> JSONResponse:
        return _error(502, str(error), "upstream_error")

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": assistant.model_id}

    @app.get("/v1/models")
    def models(_: Caller) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": assistant.model_id, "object": "model", "created": 0, "owned_by": "bastion"}],
        }

    @app.post("/v1/chat/completions", response_model=None)
    def chat(request: ChatRequest, caller: Caller) -> dict[str, Any] | StreamingResponse:
        conversation = Conversation.of(Message(Role(m.role), m.text(), m.name) for m in request.messages)
        reply = assistant.reply(conversation, caller)
        completion_id = "chatcmpl-" + secrets.token_hex(12)
        created = int(time.time())
        if request.stream:
            events = _stream_events(reply, completion_id, created, assistant.model_id)
            return StreamingResponse(events, media_type="text/event-stream")
        return _completion(reply, completion_id, created, assistant.model_id)

    @app.post("/v1/documents")
    def upload(document: DocumentUpload, caller: Caller) -> dict[str, Any]:
        result = assistant.upload(caller, document.filename, document.content)
        return {
            "doc_id": result.doc_id,
            "status": result.status.value,
            "chunks": result.chunks,
            "sha256": result.sha256,
            "reasons": [
                {
                    "detector": r.detector,
                    "type": r.type,
                    "score": round(r.score, 4),
                    "explanation": r.explanation,
                }
                for r in result.reasons
            ],
        }

    return app


class _UnauthorizedError(Exception):
    pass


def _principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``; nothing in the body can change it."""
    scheme, _, key = (authorization or "").partition(" ")
    database: DemoDatabase = request.app.state.database
    found = database.principal_for_key(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
    if found is None:
        raise _UnauthorizedError
    return found


Caller = Annotated[Principal, Depends(_principal)]


def _error(status: int, message: str, kind: str, code: str | None = None) -> JSONResponse:
    return openai_error(status, message, kind, code)


def _tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [
        {
            "id": outcome.call.id,
            "type": "function",
            "function": {"name": outcome.call.name, "arguments": json.dumps(outcome.call.fields)},
        }
        for outcome in reply.outcomes
    ]


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def _completion(reply: Reply, completion_id: str, created: int, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.outcomes:
        message["tool_calls"] = _tool_calls(reply)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": _usage(reply),
        "bastion": reply.trace(),
    }


def _stream_events(reply: Reply, completion_id: str, created: int, model: str) -> Iterator[str]:
    """The reply as OpenAI ``chat.completion.chunk`` events.

    The whole answer exists (and, hardened, has been checked) before the first byte is sent, so a leak
    caught by the output check never reaches the client in part.
    """

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    text = reply.content
    for start in range(0, len(text), STREAM_PIECE_CHARS):
        yield chunk({"content": text[start : start + STREAM_PIECE_CHARS]})
    calls = _tool_calls(reply)
    if calls:
        yield chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]})
    yield chunk({}, reply.finish_reason, usage=_usage(reply), bastion=reply.trace())
    yield "data: [DONE]\n\n"
