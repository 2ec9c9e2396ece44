"""ChatModel against a real OpenAI-compatible server over HTTP: the demo's own API, served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bastion.core.errors import UpstreamError
from bastion.core.types import Message, Role
from bastion.demo.assistant import Configuration
from bastion.demo.data import DemoData
from bastion.demo.model import ChatModel, Prompt
from bastion.demo.server import create_app
from tests.demo.conftest import AssistantFactory, ScriptedModel
from tests.net import free_port, serving

KEY_VARIABLE = "BASTION_TEST_UPSTREAM_KEY"


@pytest.fixture
def upstream(make_assistant: AssistantFactory) -> Iterator[tuple[str, ScriptedModel]]:
    """The naive demo API on a free port, its model scripted to answer "Grüß Gott from upstream"."""
    model = ScriptedModel("Grüß Gott from upstream.")
    assistant, database = make_assistant(Configuration.NAIVE, model)
    with serving(create_app(assistant, database)) as base_url:
        yield base_url, model


def test_chat_model_speaks_the_openai_wire_format(
    upstream: tuple[str, ScriptedModel], demo_data: DemoData, monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, upstream_model = upstream
    monkeypatch.setenv(KEY_VARIABLE, demo_data.credentials[-1].api_key)
    model = ChatModel(base_url=base_url, model="bastion-demo-naive", api_key_env=KEY_VARIABLE)
    prompt = Prompt(
        "You are a helpful assistant.",
        (Message(Role.USER, "Hallo?"),),
        context="Account: none.",
    )
    completion = model.complete(prompt)
    assert completion.text == "Grüß Gott from upstream."
    assert completion.finish_reason == "stop"
    assert completion.prompt_tokens > 0
    # what the upstream app received: the instructions and context as a system message, then the turn
    received = upstream_model.prompts[-1]
    assert "You are a helpful assistant." in received.context
    assert "Account: none." in received.context
    assert [d.text for d in model.stream(prompt)] == ["Grüß Gott from upstream."]


def test_a_refused_key_is_an_upstream_error_without_the_key(
    upstream: tuple[str, ScriptedModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    base_url, _ = upstream
    monkeypatch.setenv(KEY_VARIABLE, "sk-not-a-demo-key-123456")
    model = ChatModel(base_url=base_url, model="m", api_key_env=KEY_VARIABLE)
    with pytest.raises(UpstreamError, match="HTTP 401") as raised:
        model.complete(Prompt("x", (Message(Role.USER, "hi"),)))
    assert "sk-not-a-demo-key" not in str(raised.value)


def test_an_unreachable_upstream_is_an_upstream_error() -> None:
    model = ChatModel(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", timeout_s=2)
    with pytest.raises(UpstreamError, match="unreachable"):
        model.complete(Prompt("x", (Message(Role.USER, "hi"),)))
