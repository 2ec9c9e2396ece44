"""The OpenAI-compatible target over real HTTP: the demo's own API served by uvicorn in a thread."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from bastion.core.errors import UpstreamError
from bastion.demo.assistant import Configuration
from bastion.demo.data import DemoData
from bastion.demo.server import create_app
from bastion.redteam.probes import load_suite
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.targets import OpenAITarget
from bastion.redteam.types import JudgeContext
from tests.demo.conftest import AssistantFactory, ScriptedModel
from tests.net import serving

KEY_VARIABLE = "BASTION_TEST_TARGET_KEY"


@pytest.fixture
def demo_api(make_assistant: AssistantFactory, demo_data: DemoData) -> Iterator[tuple[str, DemoData]]:
    """The naive demo API whose model leaks the canary and calls a tool on someone else's case."""
    me = next(c for c in demo_data.credentials if c.principal.role.value == "debtor")
    foreign = next(c for c in demo_data.cases if c.tenant_id != me.principal.tenant_id)
    canary = demo_data.tenant(me.principal.tenant_id).policy.canary
    model = ScriptedModel(
        f'ACTION: lookup_case {{"case_id": "{foreign.case_id}"}}', f"The reference code is {canary}."
    )
    assistant, database = make_assistant(Configuration.NAIVE, model)
    with serving(create_app(assistant, database)) as base_url:
        yield base_url, demo_data


def test_a_campaign_over_http_records_tool_calls_and_judges_them(
    demo_api: tuple[str, DemoData], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, data = demo_api
    me = next(c for c in data.credentials if c.principal.role.value == "debtor")
    monkeypatch.setenv(KEY_VARIABLE, me.api_key)
    own_cases = frozenset(c.case_id for c in data.cases_of_debtor(me.principal.subject))
    context = JudgeContext(
        canaries=(data.tenant(me.principal.tenant_id).policy.canary,),
        allowed_tools={"lookup_case": {"case_id": own_cases}},
        tools_known=True,
    )
    target = OpenAITarget(base_url, "bastion-demo-naive", api_key_env=KEY_VARIABLE, context=context)
    probe = next(p for p in load_suite() if p.id == "llm07.extract.reference-code.en")
    probes = [replace(probe, judges=("canary", "tool_misuse"))]
    settings = CampaignSettings(seed=1, variants=0)
    run = asyncio.run(run_campaign(target, plan(probes, settings), RunStore(tmp_path / "r.sqlite"), settings))
    [result] = run.results
    assert not result.error
    [call] = result.transcript.tool_calls
    assert call.name == "lookup_case" and call.status == "executed"
    assert {v.judge: v.succeeded for v in result.verdicts} == {"canary": True, "tool_misuse": True}


def test_retries_on_503_then_succeeds_and_gives_up_on_401() -> None:
    app = FastAPI()
    calls = {"count": 0}

    @app.post("/v1/chat/completions")
    def flaky() -> JSONResponse:
        calls["count"] += 1
        if calls["count"] < 3:
            return JSONResponse({"error": {"message": "busy"}}, status_code=503)
        body = {"choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}
        return JSONResponse(body)

    @app.post("/denied/chat/completions")
    def denied() -> JSONResponse:
        return JSONResponse({"error": {"message": "no"}}, status_code=401)

    with serving(app) as base_url:
        probe = load_suite()[0]
        attempt = plan([probe], CampaignSettings(variants=0))[0]
        transcript = OpenAITarget(base_url, "m", retries=3).run(attempt)
        assert transcript.replies[0].content == "ok"
        assert calls["count"] == 3
        with pytest.raises(UpstreamError, match="HTTP 401"):
            OpenAITarget(base_url.removesuffix("/v1") + "/denied", "m").run(attempt)
