"""Per-key request rate limits and daily token budgets, in memory or in Redis.

Requests: a sliding log over the last ``window_s`` seconds (60 by default): a request is allowed while fewer
than ``limit_per_minute`` were allowed in the window, so no window of that length ever holds more than the
limit (a fixed window lets twice the limit through around its edge; a token bucket or GCRA lets a burst
plus the refill through in one minute). A refused request is not counted, and ``retry_after_s`` says when
the oldest counted request leaves the window. Memory is one timestamp per allowed request in the window.

Tokens: a budget per UTC calendar day (the counter resets at midnight UTC; ``retry_after_s`` of an
exhausted budget is the time until then). :meth:`RateLimiter.charge_tokens` checks and adds in one step:
a charge that would exceed the budget is refused and not recorded, so the gateway can charge an estimate
(prompt tokens plus ``max_tokens``) before the upstream call. ``force=True`` records usage that already
happened (e.g. a streamed answer longer than estimated) even beyond the budget.

:class:`RedisRateLimiter` does both in Lua scripts, so each decision is one atomic round trip and all gateway
workers share the counts; it reads the time from the Redis server (``TIME``), so the workers' clocks do not
need to agree. :class:`InMemoryRateLimiter` holds the same state in a dict for one process.
"""

from __future__ import annotations

import math
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from bastion.core.errors import UpstreamError, UsageError

__all__ = ["InMemoryRateLimiter", "LimitDecision", "RateLimiter", "RedisRateLimiter"]

DAY_S: Final = 86_400
MAX_LIMIT_PER_WINDOW: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class LimitDecision:
    """Whether a request or charge may go ahead; when not, how long to wait; what is left."""

    allowed: bool
    retry_after_s: float
    remaining: int


@runtime_checkable
class RateLimiter(Protocol):
    """Per-key request limits and daily token budgets."""

    async def check_request(self, key_id: str, limit_per_minute: int) -> LimitDecision:
        """Count one request for ``key_id`` if it fits in the window; refuse it otherwise."""

    async def charge_tokens(
        self, key_id: str, tokens: int, budget_per_day: int, *, force: bool = False
    ) -> LimitDecision:
        """Add ``tokens`` to today's usage if it stays within ``budget_per_day`` (always with ``force``)."""

    async def tokens_left(self, key_id: str, budget_per_day: int) -> int:
        """Tokens left today (0 when the budget is spent)."""

    async def aclose(self) -> None:
        """Release connections."""


def _check(key_id: str, limit: int, name: str) -> None:
    if not isinstance(key_id, str) or not key_id or len(key_id) > 200:
        raise UsageError("a rate-limit key id is 1-200 characters")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= MAX_LIMIT_PER_WINDOW:
        raise UsageError(f"{name} must be an integer from 1 to {MAX_LIMIT_PER_WINDOW}")


def _check_tokens(tokens: int, budget: int) -> None:
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
        raise UsageError("tokens must be a non-negative integer")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        raise UsageError("budget_per_day must be a positive integer")


def _until_midnight(now: float) -> float:
    return (math.floor(now / DAY_S) + 1) * DAY_S - now


class InMemoryRateLimiter:
    """Limits for one process. Safe under asyncio (no await inside a decision) and across threads.

    ``clock`` returns seconds since the epoch (tests pass their own); ``window_s`` is the request window.
    """

    def __init__(self, *, window_s: float = 60.0, clock: Callable[[], float] = time.time) -> None:
        if not window_s > 0:
            raise UsageError("window_s must be positive")
        self._window = float(window_s)
        self._clock = clock
        self._lock = threading.Lock()
        self._requests: dict[str, deque[float]] = {}
        self._tokens: dict[str, tuple[int, int]] = {}
        self._last_sweep = clock()

    async def check_request(self, key_id: str, limit_per_minute: int) -> LimitDecision:
        """Count one request if fewer than ``limit_per_minute`` were counted in the window."""
        _check(key_id, limit_per_minute, "limit_per_minute")
        with self._lock:
            now = self._clock()
            self._sweep(now)
            log = self._requests.setdefault(key_id, deque())
            cutoff = now - self._window
            while log and log[0] <= cutoff:
                log.popleft()
            if len(log) < limit_per_minute:
                log.append(now)
                return LimitDecision(True, 0.0, limit_per_minute - len(log))
            # The request that must leave before one more fits (the limit may have been lowered).
            oldest = log[len(log) - limit_per_minute]
            return LimitDecision(False, max(oldest + self._window - now, 0.001), 0)

    def _sweep(self, now: float) -> None:
        """Forget idle keys once per window, so the dicts hold only keys seen in the last window or day."""
        if now - self._last_sweep < self._window:
            return
        self._last_sweep = now
        cutoff, today = now - self._window, math.floor(now / DAY_S)
        for key_id in [k for k, log in self._requests.items() if not log or log[-1] <= cutoff]:
            del self._requests[key_id]
        for key_id in [k for k, (day, _used) in self._tokens.items() if day != today]:
            del self._tokens[key_id]

    async def charge_tokens(
        self, key_id: str, tokens: int, budget_per_day: int, *, force: bool = False
    ) -> LimitDecision:
        """Add ``tokens`` to today's usage unless that exceeds ``budget_per_day`` (``force`` adds anyway)."""
        _check(key_id, 1, "")
        _check_tokens(tokens, budget_per_day)
        with self._lock:
            now = self._clock()
            self._sweep(now)
            today = math.floor(now / DAY_S)
            day, used = self._tokens.get(key_id, (today, 0))
            if day != today:
                used = 0
            if used + tokens > budget_per_day and not force:
                return LimitDecision(False, _until_midnight(now), max(budget_per_day - used, 0))
            used += tokens
            self._tokens[key_id] = (today, used)
            if used > budget_per_day:
                return LimitDecision(False, _until_midnight(now), 0)
            return LimitDecision(True, 0.0, budget_per_day - used)

    async def tokens_left(self, key_id: str, budget_per_day: int) -> int:
        """Tokens left today."""
        _check(key_id, 1, "")
        _check_tokens(0, budget_per_day)
        with self._lock:
            today = math.floor(self._clock() / DAY_S)
            day, used = self._tokens.get(key_id, (today, 0))
            return budget_per_day if day != today else max(budget_per_day - used, 0)

    async def aclose(self) -> None:
        """Nothing to release."""


# KEYS[1] the key's request log (a sorted set of microsecond timestamps); ARGV: window (µs), limit, member.
_REQUEST_SCRIPT: Final = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return {1, 0, limit - count - 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now, 0}
"""

# KEYS[1] the key's token counter prefix (the UTC day number is appended); ARGV: tokens, budget, force,
# read-only. Returns {allowed, retry after (ms), remaining}.
_TOKEN_SCRIPT: Final = """
local t = redis.call('TIME')
local seconds = tonumber(t[1])
local day = math.floor(seconds / 86400)
local counter = KEYS[1] .. ':' .. day
local tokens = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', counter) or '0')
local reset_ms = (day + 1) * 86400000 - (seconds * 1000 + math.floor(tonumber(t[2]) / 1000))
if ARGV[4] == '1' then
  return {1, 0, math.max(budget - used, 0)}
end
if used + tokens > budget and ARGV[3] ~= '1' then
  return {0, reset_ms, math.max(budget - used, 0)}
end
used = redis.call('INCRBY', counter, tokens)
redis.call('EXPIRE', counter, 172800)
if used > budget then
  return {0, reset_ms, 0}
end
return {1, 0, budget - used}
"""


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname or 'localhost'}{port}{parts.path}"


class RedisRateLimiter:
    """Limits shared by every gateway worker through Redis (redis-py asyncio, atomic Lua scripts).

    ``url``: ``redis://host:6379/0`` (``rediss://`` for TLS). Keys are ``<prefix>req:<key_id>`` (a sorted
    set) and ``<prefix>tok:<key_id>:<utc day>`` (a counter, kept two days). Redis errors raise
    :class:`UpstreamError`; the gateway's fail mode decides what a request gets then.
    """

    def __init__(
        self, url: str, *, prefix: str = "bastion:limits:", window_s: float = 60.0, max_connections: int = 32
    ) -> None:
        try:
            from redis.asyncio import BlockingConnectionPool, Redis
        except ImportError as error:  # pragma: no cover - the guard extra installs it
            raise UpstreamError("Redis rate limits need redis: pip install 'bastion-ai[guard]'") from error
        if not window_s > 0:
            raise UsageError("window_s must be positive")
        self._target = _redact(url)
        self._prefix = prefix
        self._window_us = int(window_s * 1_000_000)
        # A bounded pool: a burst of requests waits for a connection instead of opening thousands.
        pool = BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=5, socket_timeout=5, socket_connect_timeout=5
        )
        self._client: Any = Redis(connection_pool=pool)
        self._request_script = self._client.register_script(_REQUEST_SCRIPT)
        self._token_script = self._client.register_script(_TOKEN_SCRIPT)

    async def _run(self, script: Any, key: str, *args: Any) -> tuple[int, int, int]:
        from redis.exceptions import RedisError

        try:
            result = await script(keys=[key], args=list(args))
        except RedisError as error:
            raise UpstreamError(f"rate limiter at {self._target}: {type(error).__name__}") from error
        allowed, retry, remaining = (int(value) for value in result)
        return allowed, retry, remaining

    async def check_request(self, key_id: str, limit_per_minute: int) -> LimitDecision:
        """Count one request if fewer than ``limit_per_minute`` were counted in the window."""
        _check(key_id, limit_per_minute, "limit_per_minute")
        member = uuid.uuid4().hex
        allowed, retry_us, remaining = await self._run(
            self._request_script, f"{self._prefix}req:{key_id}", self._window_us, limit_per_minute, member
        )
        if allowed:
            return LimitDecision(True, 0.0, remaining)
        return LimitDecision(False, max(retry_us / 1_000_000, 0.001), 0)

    async def charge_tokens(
        self, key_id: str, tokens: int, budget_per_day: int, *, force: bool = False
    ) -> LimitDecision:
        """Add ``tokens`` to today's usage unless that exceeds ``budget_per_day`` (``force`` adds anyway)."""
        _check(key_id, 1, "")
        _check_tokens(tokens, budget_per_day)
        allowed, retry_ms, remaining = await self._run(
            self._token_script, f"{self._prefix}tok:{key_id}", tokens, budget_per_day, int(force), 0
        )
        return LimitDecision(bool(allowed), retry_ms / 1000 if not allowed else 0.0, remaining)

    async def tokens_left(self, key_id: str, budget_per_day: int) -> int:
        """Tokens left today."""
        _check(key_id, 1, "")
        _check_tokens(0, budget_per_day)
        _allowed, _retry, remaining = await self._run(
            self._token_script, f"{self._prefix}tok:{key_id}", 0, budget_per_day, 0, 1
        )
        return remaining

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose(close_connection_pool=True)
