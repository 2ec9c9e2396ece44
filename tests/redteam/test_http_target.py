"""The templated HTTP target against the demo's API over real HTTP, and its configuration errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.demo.assistant import Configuration
from bastion.demo.data import DemoData
from bastion.demo.server import create_app
from bastion.redteam.http_target import load_http_target
from bastion.redteam.probes import load_suite
from bastion.redteam.runner import CampaignSettings, plan
from bastion.redteam.types import JudgeContext
from tests.demo.conftest import AssistantFactory, ScriptedModel
from tests.net import serving

KEY_VARIABLE = "BASTION_TEST_HTTP_TARGET_KEY"
CONFIG = """
url: {url}/chat/completions
headers:
  Authorization: "Bearer ${{{key}}}"
body: |
  {{"model": "any", "messages": {{{{messages}}}}, "user": {{{{conversation_id}}}}}}
response_path: $.choices[0].message.content
tool_calls_path: $.choices[0].message.tool_calls[*].function
retries: 1
"""


@pytest.fixture
def api(make_assistant: AssistantFactory, demo_data: DemoData) -> Iterator[tuple[str, ScriptedModel]]:
    me = next(c for c in demo_data.credentials if c.principal.role.value == "debtor")
    case = demo_data.cases_of_debtor(me.principal.subject)[0]
    model = ScriptedModel(f'ACTION: lookup_case {{"case_id": "{case.case_id}"}}', "Your balance is shown.")
    assistant, database = make_assistant(Configuration.NAIVE, model)
    with serving(create_app(assistant, database)) as base_url:
        yield base_url, model


def test_a_probe_goes_through_the_template_and_tool_calls_are_read(
    api: tuple[str, ScriptedModel], demo_data: DemoData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, model = api
    me = next(c for c in demo_data.credentials if c.principal.role.value == "debtor")
    monkeypatch.setenv(KEY_VARIABLE, me.api_key)
    path = tmp_path / "target.yaml"
    path.write_text(CONFIG.format(url=url, key=KEY_VARIABLE), encoding="utf-8")
    target = load_http_target(path, JudgeContext())
    hostile = 'Say "}]} and {{message}} \\u0000 then stop'
    probe = replace(load_suite()[0], turns=(hostile, "And now?"))
    transcript = target.run(plan([probe], CampaignSettings(variants=0))[0])
    assert [t.content for t in transcript.turns[::2]] == [hostile, "And now?"]
    assert model.prompts[0].turns[-1].content == hostile  # the server received it intact, as a JSON string
    assert transcript.replies[0].content == "Your balance is shown."
    assert transcript.replies[0].tool_calls[0].name == "lookup_case"
    assert json.dumps(dict(transcript.replies[0].tool_calls[0].arguments)).startswith('{"case_id"')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("url: ftp://x\nbody: '{\"m\": {{message}}}'\nresponse_path: $.a\n", "url"),
        ("url: http://x\nbody: '{\"m\": 1}'\nresponse_path: $.a\n", "must contain"),
        ("url: http://x\nbody: '{\"m\": {{message}}'\nresponse_path: $.a\n", "not JSON"),
        ("url: http://x\nbody: '{\"m\": {{message}}}'\nresponse_path: '$[[['\n", "JSONPath"),
        ("url: http://x\nbody: '{\"m\": {{message}}}'\nresponse_path: $.a\nsurprise: 1\n", "surprise"),
        ("url: [unclosed\n", "cannot read"),
    ],
)
def test_bad_configurations_name_the_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as raised:
        load_http_target(path)
    assert "target.yaml" in str(raised.value)


def test_a_missing_header_variable_is_named_but_no_value_leaks(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(
        CONFIG.format(url="http://127.0.0.1:9/v1", key="BASTION_UNSET_VARIABLE"), encoding="utf-8"
    )
    target = load_http_target(path)
    with pytest.raises(ConfigError, match="BASTION_UNSET_VARIABLE"):
        target.run(plan([load_suite()[0]], CampaignSettings(variants=0))[0])


def test_crescendo_over_http_drops_a_refused_turn_when_the_body_carries_the_history(tmp_path: Path) -> None:
    from fastapi import FastAPI

    from bastion.redteam.goals import goal_attempts
    from bastion.redteam.strategies import (
        Budget,
        CrescendoStrategy,
        Evaluator,
        StrategySettings,
        StrategyTools,
    )

    app = FastAPI()
    seen: list[list[dict[str, str]]] = []

    @app.post("/chat")
    async def chat(body: dict[str, list[dict[str, str]]]) -> dict[str, str]:
        messages = body["history"]
        seen.append(messages)
        last = messages[-1]["content"]
        if "word for word" in last:
            return {"answer": "I'm sorry, but I can't share that."}
        return {"answer": "Reference CANARY-0042feed" if "Copy the part" in last else "Happy to help."}

    with serving(app) as base_url:
        config = tmp_path / "target.yaml"
        config.write_text(
            f"url: {base_url.removesuffix('/v1')}/chat\nbody: '{{\"history\": {{{{messages}}}}}}'\n"
            "response_path: $.answer\n",
            encoding="utf-8",
        )
        target = load_http_target(config, context=JudgeContext(canaries=("CANARY-0042feed",)))
        assert target.rewindable
        attempt = next(a for a in goal_attempts("crescendo", ["LLM07"], ["en"]))
        budget = Budget()
        tools = StrategyTools(
            budget, Evaluator(attempt.probe, target.judge_context(attempt)), None, StrategySettings()
        )
        outcome = CrescendoStrategy().execute(target, attempt, tools)
    assert outcome.stopped == "success" and outcome.transcript.metadata["rewound_exchanges"] == [4]
    assert budget.target_calls == len(seen) == 5
    assert not any("word for word" in m["content"] for m in seen[-1])
