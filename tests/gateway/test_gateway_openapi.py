"""Schemathesis against the gateway's own OpenAPI description: generated requests (valid and invalid
bodies, odd strings, huge numbers) never get a server error, and every error body is OpenAI's shape."""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.gateway.conftest import Running


def test_generated_requests_never_make_the_gateway_fail(gateway_factory: Callable[..., Running]) -> None:
    running = gateway_factory()
    running.upstream.reply = "Guten Tag, Ihre Forderung beträgt EUR 120."
    schema = schemathesis.openapi.from_url(f"{running.url.removesuffix('/v1')}/openapi.json")
    headers = {"Authorization": f"Bearer {running.key}"}
    checked: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers, timeout=60)
            assert response.status_code < 500, (case.path, response.status_code, response.text[:200])
            if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
                assert "error" in response.json()

        check()
        checked.append(operation.path)
    assert {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"} <= set(checked)
