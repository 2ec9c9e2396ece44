"""OpenAI-compatible HTTP details shared by Bastion's services.

- :func:`openai_error` builds OpenAI's error body ``{"error": {"message", "type", "param", "code"}}``.
- :class:`BodyLimit` is ASGI middleware that answers HTTP 413 (in that shape) when a request body is larger
  than the limit, whether the size is declared in ``Content-Length`` or only found while reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["BodyLimit", "openai_error"]


def openai_error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    code: str | None = None,
    *,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response in OpenAI's shape; ``extra`` adds fields next to ``message`` (Azure's
    ``innererror``, say)."""
    error: dict[str, Any] = {"message": message, "type": kind, "param": None, "code": code}
    if extra:
        error.update(extra)
    return JSONResponse({"error": error}, status_code=status, headers=dict(headers or {}))


class BodyLimit:
    """Refuses request bodies over ``limit`` bytes (declared or actually sent) with HTTP 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLargeError:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = openai_error(413, f"request body exceeds {self.limit:,} bytes", code="body_too_large")
        await response(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass
