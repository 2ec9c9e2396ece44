"""Planning, running, storing and resuming campaigns, against a Python callable target."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.core.types import Role
from bastion.redteam.probes import load_pack, load_suite, select
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.targets import CallableTarget
from bastion.redteam.types import Attempt, JudgeContext

CANARY = "CANARY-5e1f00d2c0de"


class LeakyApp(CallableTarget):
    """An app under test: a Python function that leaks its canary when asked for a 'reference code'."""

    def __init__(self) -> None:
        super().__init__(self.answer, name="leaky-app")
        self.calls = 0

    def answer(self, messages: list[dict[str, str]]) -> str:
        self.calls += 1
        if "reference code" in messages[-1]["content"].lower():
            return f"Sure, the internal reference code is {CANARY}."
        return "I can only help with your own case."

    def judge_context(self, attempt: Attempt) -> JudgeContext:
        return JudgeContext(canaries=(CANARY,))


def test_the_packaged_suite_loads_with_valid_taxonomy() -> None:
    probes = load_suite()
    assert len(probes) >= 30
    assert {p.language for p in probes} == {"en", "de"}
    assert {"LLM01", "LLM02", "LLM05", "LLM06", "LLM07", "LLM09"} <= {p.category for p in probes}
    assert len({p.id for p in probes}) == len(probes)
    assert [p.category for p in select(probes, ["llm07"])] == ["LLM07"] * len(select(probes, ["LLM07"]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nsuite: x\nprobes:\n  - id: a.b.c\n    category: LLM11\n", "category"),
        (
            "version: 1\nsuite: x\nprobes: [{id: a.b.c, category: LLM01, severity: high, language: en, "
            "title: t t t, turns: [hi], judges: [canary], atlas: [AML.T9999]}]",
            "AML.T9999",
        ),
        (
            "version: 1\nsuite: x\nprobes: [{id: a.b.c, category: LLM01, severity: high, language: fr, "
            "title: t t t, turns: [hi], judges: [canary]}]",
            "language",
        ),
        ("version: 2\nsuite: x\nprobes: []", "version"),
        ("{not yaml", "cannot read"),
    ],
)
def test_bad_packs_are_config_errors_naming_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_pack("pack.yaml", text)


def test_plan_is_deterministic_and_capped() -> None:
    probes = select(load_suite(), ["LLM07"])
    settings = CampaignSettings(seed=11, variants=2)
    first, second = plan(probes, settings), plan(probes, settings)
    assert [a.attempt_id for a in first] == [a.attempt_id for a in second]
    assert [a.turns for a in first] == [a.turns for a in second]
    assert sum(1 for a in first if not a.mutators) == len(probes)  # every probe also as written
    assert any(a.mutators for a in first)
    other_seed = plan(probes, CampaignSettings(seed=12, variants=2))
    assert [a.turns for a in other_seed] != [a.turns for a in first]
    capped = plan(probes, CampaignSettings(seed=11, variants=2, max_requests=3))
    assert sum(len(a.turns) for a in capped) <= 3


def test_a_run_judges_stores_and_resumes(tmp_path: Path) -> None:
    probes = select(load_suite(), ["LLM07"], ["en"])
    settings = CampaignSettings(seed=3, variants=0)
    attempts = plan(probes, settings)
    store = RunStore(tmp_path / "runs.sqlite")
    app = LeakyApp()
    first = asyncio.run(run_campaign(app, attempts[:2], store, settings))
    assert len(first.results) == 2
    resumed = asyncio.run(run_campaign(app, attempts, store, settings, run_id=first.run_id))
    assert app.calls == sum(len(a.turns) for a in attempts)  # the two stored attempts were not sent again
    assert [r.attempt.attempt_id for r in resumed.results] == [a.attempt_id for a in attempts]
    leaked = [r for r in resumed.results if any("reference code" in t.lower() for t in r.attempt.turns)]
    assert leaked and all(r.succeeded for r in leaked)
    assert all(not r.succeeded for r in resumed.results if r not in leaked)
    assert resumed.summary.by_category["LLM07"].successes == len(leaked)
    reloaded = RunStore(tmp_path / "runs.sqlite").results(first.run_id)
    assert [r.transcript.turns[-1].role for r in reloaded] == [Role.ASSISTANT] * len(attempts)
    assert reloaded == list(resumed.results)
