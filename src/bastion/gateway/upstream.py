"""Calls to one OpenAI-compatible upstream: timeouts, bounded retries with backoff, a circuit breaker.

Upstream errors never reach the client verbatim: an upstream's error message may quote the credential the
gateway sent (OpenAI's 401 does, partly), so the client sees the status, the upstream's error code and a
message of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from bastion.core.errors import UpstreamError
from bastion.gateway.config import Credential, UpstreamConfig

__all__ = ["CircuitBreaker", "Upstream", "UpstreamCallError"]

logger = logging.getLogger(__name__)

_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RESPONSE_BYTES = 32 * 1_048_576


class UpstreamCallError(UpstreamError):
    """The upstream failed; ``status`` is what the gateway answers with, ``code`` an OpenAI error code."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``cooldown_s`` one trial call may pass."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Any = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self._clock() - self.opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True
            return True
        return False

    def succeeded(self) -> None:
        self.failures, self.opened_at, self._trial = 0, None, False

    def failed(self) -> None:
        self.failures += 1
        self._trial = False
        if self.failures >= self.threshold:
            self.opened_at = self._clock()


class Upstream:
    """One upstream with its credential (held here, sent only to it)."""

    def __init__(
        self,
        config: UpstreamConfig,
        credential: Credential | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_s: float = 0.2,
    ) -> None:
        self.config = config
        self.name = config.name
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown_s)
        self._backoff_s = backoff_s
        headers = {"user-agent": "bastion-gateway"}
        if credential is not None:
            if config.auth_header == "api-key":
                headers["api-key"] = credential.value
            else:
                headers["authorization"] = f"Bearer {credential.value}"
        self._client = httpx.AsyncClient(
            base_url=str(config.base_url).rstrip("/"),
            headers=headers,
            params=config.query,
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"Upstream({self.name!r}, {str(self.config.base_url)!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get_json(self, path: str) -> Any:
        """GET ``path`` (``/models``) once, without retries."""
        self._admit()
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as error:
            self.breaker.failed()
            raise _transport_failure(self.name, error) from None
        self._settle(response.status_code)
        return _json_body(self.name, response)

    async def post_json(self, path: str, body: Mapping[str, Any]) -> Any:
        """POST ``body`` and return the decoded JSON answer, retrying transient failures."""
        for attempt in range(self.config.retries + 1):
            self._admit()
            try:
                response = await self._client.post(path, json=body)
            except httpx.HTTPError as error:
                self.breaker.failed()
                if attempt < self.config.retries:
                    await self._pause(attempt)
                    continue
                raise _transport_failure(self.name, error) from None
            if response.status_code in _RETRY_STATUSES and attempt < self.config.retries:
                self.breaker.failed()
                await self._pause(attempt, response.headers.get("retry-after"))
                continue
            self._settle(response.status_code)
            return _json_body(self.name, response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def stream(self, path: str, body: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """POST with ``stream: true`` and yield each server-sent event's JSON; retries only before the
        first event. Ends at ``[DONE]`` or when the upstream closes."""
        for attempt in range(self.config.retries + 1):
            self._admit()
            try:
                async with self._client.stream("POST", path, json=body) as response:
                    if response.status_code in _RETRY_STATUSES and attempt < self.config.retries:
                        self.breaker.failed()
                        await response.aread()
                        await self._pause(attempt, response.headers.get("retry-after"))
                        continue
                    if response.status_code >= 400:
                        await response.aread()
                        self._settle(response.status_code)
                        _json_body(self.name, response)  # raises the mapped failure
                    self.breaker.succeeded()
                    async for event in _server_sent_events(response):
                        yield event
                    return
            except httpx.HTTPError as error:
                self.breaker.failed()
                if attempt < self.config.retries:
                    await self._pause(attempt)
                    continue
                raise _transport_failure(self.name, error) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _admit(self) -> None:
        if not self.breaker.allow():
            raise UpstreamCallError(
                f"upstream {self.name} is unavailable (circuit open after repeated failures)",
                503,
                "upstream_unavailable",
            )

    def _settle(self, status: int) -> None:
        if status >= 500:
            self.breaker.failed()
        else:
            self.breaker.succeeded()

    async def _pause(self, attempt: int, retry_after: str | None = None) -> None:
        delay = self._backoff_s * (2**attempt) * (0.5 + random.random())
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, min(float(retry_after), 30.0))
        await asyncio.sleep(delay)


def _transport_failure(name: str, error: httpx.HTTPError) -> UpstreamCallError:
    if isinstance(error, httpx.TimeoutException):
        return UpstreamCallError(f"upstream {name} timed out", 504, "upstream_timeout")
    return UpstreamCallError(
        f"upstream {name} cannot be reached ({type(error).__name__})", 502, "upstream_error"
    )


def _json_body(name: str, response: httpx.Response) -> Any:
    if len(response.content) > _MAX_RESPONSE_BYTES:
        raise UpstreamCallError(f"upstream {name} answered with more than 32 MiB", 502, "upstream_error")
    if response.status_code >= 400:
        code = "upstream_error"
        try:
            error = response.json().get("error", {})
            if isinstance(error, Mapping) and isinstance(error.get("code"), str):
                code = error["code"][:64]
        except (ValueError, AttributeError):
            pass
        status = response.status_code if response.status_code < 500 else 502
        logger.warning("upstream %s answered HTTP %s (%s)", name, response.status_code, code)
        raise UpstreamCallError(f"upstream {name} answered HTTP {response.status_code}", status, code)
    try:
        return response.json()
    except ValueError:
        message = f"upstream {name} answered with invalid JSON"
        raise UpstreamCallError(message, 502, "upstream_error") from None


async def _server_sent_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
            continue
        if line.strip() or not data:
            continue
        payload, data = "\n".join(data), []
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except json.JSONDecodeError:
            raise UpstreamCallError("upstream sent an invalid stream event", 502, "upstream_error") from None
        if isinstance(event, dict):
            yield event
    if data and data[-1] != "[DONE]":
        try:
            event = json.loads("\n".join(data))
        except json.JSONDecodeError:
            return
        if isinstance(event, dict):
            yield event
