"""Rate limits and token budgets, in memory (with a controlled clock) and on the real local Redis."""

from __future__ import annotations

import asyncio
import random
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from bastion.core.errors import UpstreamError, UsageError
from bastion.guard.limits import DAY_S, InMemoryRateLimiter, LimitDecision, RateLimiter, RedisRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own for the test on the local Redis, deleted afterwards."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        pytest.skip(f"Redis is not reachable at 127.0.0.1:6379: {type(error).__name__}")
    prefix = f"bastion-test:{uuid.uuid4().hex}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


# -- in memory ------------------------------------------------------------------------------------------


def test_requests_are_limited_per_key_in_a_sliding_window() -> None:
    clock = Clock()
    limiter = InMemoryRateLimiter(clock=clock)
    assert isinstance(limiter, RateLimiter)

    async def scenario() -> None:
        decisions = []
        for _ in range(3):
            decisions.append(await limiter.check_request("k1", 3))
            clock.now += 10
        assert [d.allowed for d in decisions] == [True, True, True]
        assert [d.remaining for d in decisions] == [2, 1, 0]
        refused = await limiter.check_request("k1", 3)  # t = 30: the first request left at 60
        assert refused == LimitDecision(False, pytest.approx(30.0), 0)  # type: ignore[arg-type]
        assert (await limiter.check_request("k2", 3)).allowed  # other keys are not affected
        clock.now += 29.9
        assert not (await limiter.check_request("k1", 3)).allowed
        clock.now += 0.2  # the request of t=0 has left the window
        allowed = await limiter.check_request("k1", 3)
        assert allowed.allowed and allowed.remaining == 0
        # a lowered limit is enforced at once; retry waits for enough requests to leave
        lowered = await limiter.check_request("k1", 1)
        assert not lowered.allowed and lowered.retry_after_s == pytest.approx(60.0)  # the newest must leave

    asyncio.run(scenario())


def test_no_window_ever_holds_more_than_the_limit() -> None:
    clock = Clock()
    limiter = InMemoryRateLimiter(clock=clock)
    generator = random.Random(7)

    async def scenario() -> list[float]:
        allowed: list[float] = []
        for _ in range(3000):
            clock.now += generator.expovariate(1 / 0.3)
            decision = await limiter.check_request("k", 20)
            if decision.allowed:
                allowed.append(clock.now)
            else:
                assert 0 < decision.retry_after_s <= 60
        return allowed

    allowed = asyncio.run(scenario())
    assert len(allowed) > 250  # about 15 minutes of traffic at 20 a minute
    left = 0
    for right, moment in enumerate(allowed):
        while allowed[left] <= moment - 60:
            left += 1
        assert right - left + 1 <= 20


def test_concurrent_requests_never_exceed_the_limit() -> None:
    limiter = InMemoryRateLimiter()

    async def scenario() -> list[LimitDecision]:
        return await asyncio.gather(*(limiter.check_request("k", 10) for _ in range(100)))

    decisions = asyncio.run(scenario())
    assert sum(d.allowed for d in decisions) == 10


def test_token_budgets_check_before_adding_and_reset_at_midnight_utc() -> None:
    clock = Clock(start=DAY_S * 20_000 + 3600)  # 01:00 UTC
    limiter = InMemoryRateLimiter(clock=clock)

    async def scenario() -> None:
        assert await limiter.tokens_left("k", 1000) == 1000
        first = await limiter.charge_tokens("k", 600, 1000)
        assert first == LimitDecision(True, 0.0, 400)
        refused = await limiter.charge_tokens("k", 500, 1000)  # would exceed: refused, not recorded
        assert not refused.allowed and refused.remaining == 400
        assert refused.retry_after_s == pytest.approx(DAY_S - 3600)
        assert await limiter.tokens_left("k", 1000) == 400
        assert (await limiter.charge_tokens("k", 400, 1000)).allowed  # exactly the budget
        forced = await limiter.charge_tokens("k", 50, 1000, force=True)  # usage that already happened
        assert not forced.allowed and forced.remaining == 0
        assert await limiter.tokens_left("k", 1000) == 0
        assert await limiter.tokens_left("other", 1000) == 1000
        clock.now += DAY_S - 3600  # midnight UTC
        assert await limiter.tokens_left("k", 1000) == 1000
        assert (await limiter.charge_tokens("k", 0, 1000)).allowed

    asyncio.run(scenario())


def test_invalid_arguments_are_usage_errors() -> None:
    limiter = InMemoryRateLimiter()

    async def scenario() -> None:
        for call in (
            limiter.check_request("", 10),
            limiter.check_request("k", 0),
            limiter.check_request("k", 10**9),
            limiter.check_request("k", True),
            limiter.charge_tokens("k", -1, 10),
            limiter.charge_tokens("k", 1, 0),
            limiter.tokens_left("k" * 300, 10),
        ):
            with pytest.raises(UsageError):
                await call

    asyncio.run(scenario())
    with pytest.raises(UsageError):
        InMemoryRateLimiter(window_s=0)


def test_idle_keys_are_forgotten() -> None:
    clock = Clock()
    limiter = InMemoryRateLimiter(clock=clock)

    async def scenario() -> None:
        for index in range(10_000):
            await limiter.check_request(f"key-{index}", 5)
        clock.now += 61
        await limiter.check_request("fresh", 5)

    asyncio.run(scenario())
    assert len(limiter._requests) < 10  # the sweep ran and kept only live windows


# -- Redis ----------------------------------------------------------------------------------------------


def test_redis_limits_requests_with_a_sliding_window(redis_prefix: str) -> None:
    async def scenario() -> None:
        limiter = RedisRateLimiter(REDIS_URL, prefix=redis_prefix, window_s=1.0)
        try:
            decisions = [await limiter.check_request("k", 3) for _ in range(4)]
            assert [d.allowed for d in decisions] == [True, True, True, False]
            assert [d.remaining for d in decisions] == [2, 1, 0, 0]
            assert 0 < decisions[-1].retry_after_s <= 1.0
            assert (await limiter.check_request("other", 3)).allowed
            await asyncio.sleep(decisions[-1].retry_after_s + 0.05)
            assert (await limiter.check_request("k", 3)).allowed
        finally:
            await limiter.aclose()

    asyncio.run(scenario())


def test_redis_counts_are_shared_and_atomic_across_workers(redis_prefix: str) -> None:
    async def scenario() -> list[LimitDecision]:
        workers = [RedisRateLimiter(REDIS_URL, prefix=redis_prefix) for _ in range(3)]
        try:
            calls = [worker.check_request("shared", 25) for worker in workers for _ in range(30)]
            return await asyncio.gather(*calls)
        finally:
            for worker in workers:
                await worker.aclose()

    decisions = asyncio.run(scenario())
    assert sum(d.allowed for d in decisions) == 25
    assert all(d.retry_after_s > 0 for d in decisions if not d.allowed)


def test_redis_token_budgets(redis_prefix: str) -> None:
    async def scenario() -> None:
        first = RedisRateLimiter(REDIS_URL, prefix=redis_prefix)
        second = RedisRateLimiter(REDIS_URL, prefix=redis_prefix)
        try:
            assert await first.tokens_left("k", 1000) == 1000
            assert await first.charge_tokens("k", 600, 1000) == LimitDecision(True, 0.0, 400)
            refused = await second.charge_tokens("k", 500, 1000)
            assert not refused.allowed and refused.remaining == 400
            assert 0 < refused.retry_after_s <= DAY_S
            now = time.time()
            assert refused.retry_after_s == pytest.approx(DAY_S - now % DAY_S, abs=5)
            assert await second.tokens_left("k", 1000) == 400
            forced = await second.charge_tokens("k", 450, 1000, force=True)
            assert not forced.allowed and forced.remaining == 0
            assert await first.tokens_left("k", 1000) == 0
            results = await asyncio.gather(*(first.charge_tokens("race", 100, 1000) for _ in range(25)))
            assert sum(r.allowed for r in results) == 10
        finally:
            await first.aclose()
            await second.aclose()

    asyncio.run(scenario())


def test_an_unreachable_redis_raises_an_upstream_error_without_the_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> None:
        limiter = RedisRateLimiter(f"redis://:s3cret-pass@127.0.0.1:{port}/0")
        try:
            with pytest.raises(UpstreamError) as caught:
                await limiter.check_request("k", 5)
            assert "s3cret" not in str(caught.value)
            assert f"127.0.0.1:{port}" in str(caught.value)
        finally:
            await limiter.aclose()

    started = time.monotonic()
    asyncio.run(scenario())
    assert time.monotonic() - started < 15
