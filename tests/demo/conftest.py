"""Fixtures of the demo tests: a small generated environment per session, the real local model.

The environment has four debtors per tenant (the default is 25) so that building its document store (MiniLM
embeddings of every chunk) takes seconds. Assistants get fresh working copies per test, so one test's
closed cases and uploads never reach another.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bastion.demo.assistant import Assistant, AssistantSettings, Configuration
from bastion.demo.data import DemoData, generate
from bastion.demo.db import DemoDatabase
from bastion.demo.environment import DemoEnvironment, build_assistant, prepare
from bastion.demo.model import Completion, Delta, LanguageModel, LocalModel, Prompt

SEED = 7
DEBTORS = 4


@pytest.fixture(scope="session")
def demo_data() -> DemoData:
    return generate(seed=SEED, debtors_per_tenant=DEBTORS)


@pytest.fixture(scope="session")
def base_environment(tmp_path_factory: pytest.TempPathFactory) -> DemoEnvironment:
    return prepare(tmp_path_factory.mktemp("demo-home"), seed=SEED, debtors_per_tenant=DEBTORS)


@pytest.fixture
def environment(base_environment: DemoEnvironment, tmp_path: Path) -> DemoEnvironment:
    """A private copy of the base files, so tools and uploads of one test stay in that test."""
    folder = tmp_path / "demo"
    folder.mkdir()
    for source in (base_environment.base_database, base_environment.base_store):
        shutil.copyfile(source, folder / source.name)
    return DemoEnvironment(folder, SEED, DEBTORS)


@pytest.fixture(scope="session")
def local_model() -> LocalModel:
    return LocalModel()


class ScriptedModel:
    """A stand-in for the model that answers with fixed texts, in order (the last one repeats).

    It isolates what the app does with an answer (action parsing, tools, output checks) from what the
    real model happens to say; every test of the model itself uses :class:`LocalModel`.
    """

    name = "scripted"

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.prompts: list[Prompt] = []

    def complete(self, prompt: Prompt, max_tokens: int = 160) -> Completion:
        self.prompts.append(prompt)
        text = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Completion(
            text, "stop", prompt_tokens=len(prompt.instructions) // 4, completion_tokens=len(text) // 4
        )

    def stream(self, prompt: Prompt, max_tokens: int = 160) -> Iterator[Delta]:
        completion = self.complete(prompt, max_tokens)
        yield Delta(completion.text, "stop", completion.prompt_tokens, completion.completion_tokens)


@dataclass
class AssistantFactory:
    environment: DemoEnvironment
    opened: list[Assistant]

    def __call__(
        self, configuration: Configuration, model: LanguageModel, **settings: object
    ) -> tuple[Assistant, DemoDatabase]:
        chosen = AssistantSettings(configuration=configuration, **settings)  # type: ignore[arg-type]
        assistant, database = build_assistant(self.environment, configuration, model, chosen)
        self.opened.append(assistant)
        return assistant, database


@pytest.fixture
def make_assistant(environment: DemoEnvironment) -> Iterator[AssistantFactory]:
    factory = AssistantFactory(environment, [])
    yield factory
    for assistant in factory.opened:
        assistant.store.close()
        assistant.database.close()
