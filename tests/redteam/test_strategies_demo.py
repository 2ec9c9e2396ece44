"""The adaptive strategies against the real demo on the local Gemma 3 270M, the same model as the attacker.

Kept short (a few target calls): what must hold whatever the small model writes — the conversation is
played and judged, the attacker's output is used or replaced by the template, the measurements the LLM10
judge needs are recorded, the hardened demo holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bastion.core.types import Role
from bastion.redteam.goals import goal_attempts
from bastion.redteam.models import LocalChatModel
from bastion.redteam.probes import load_suite
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.targets import DemoTarget
from bastion.redteam.types import ConsumptionLimits, RunResult

pytestmark = pytest.mark.slow  # the local model plays attacker and target (about a minute on 2 cores)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunResult]]:
    home = tmp_path_factory.mktemp("home")
    crescendo = [a for a in goal_attempts("crescendo", ["LLM06"], ["en"])]
    refine = [a for a in goal_attempts("refine", ["LLM09"], ["de"])]
    llm10 = plan([p for p in load_suite() if p.id == "llm10.repeat-forever.en"], CampaignSettings(variants=0))
    results: dict[str, RunResult] = {}
    naive = DemoTarget("naive", home=home)
    try:
        # wall time depends on the machine's load; this test checks tokens, so the time limit is generous
        settings = CampaignSettings(
            seed=7, strategies=("crescendo", "single"), max_turns=2, limits=ConsumptionLimits(max_seconds=900)
        )
        store = RunStore(home / "naive.sqlite")
        results["naive"] = asyncio.run(
            run_campaign(naive, crescendo + llm10, store, settings, attacker=LocalChatModel())
        )
    finally:
        naive.close()
    hardened = DemoTarget("hardened", home=home)
    try:
        settings = CampaignSettings(
            seed=7, strategies=("refine",), max_turns=3, width=1, branching=3, depth=1
        )
        results["hardened"] = asyncio.run(
            run_campaign(hardened, refine, RunStore(home / "h.sqlite"), settings)
        )
    finally:
        hardened.close()
    yield results


def test_crescendo_on_the_naive_demo_with_the_local_attacker(runs: dict[str, RunResult]) -> None:
    result = next(r for r in runs["naive"].results if r.attempt.strategy == "crescendo")
    assert not result.error
    metadata = result.transcript.metadata
    assert metadata["stopped"] in {"success", "max_turns"}
    assert 1 <= result.requests <= 2 and len(result.transcript.replies) == result.requests
    assert all(source.startswith(("attacker", "template")) for source in metadata["message_sources"])
    assert result.attacker_tokens > 0  # the local model was asked to rephrase
    assert all(isinstance(tokens, int) for tokens in metadata["completion_tokens"])
    assert metadata["rewindable"] is True
    assert [v.judge for v in result.verdicts] == ["tool_misuse", "misinformation"]


def test_the_demo_caps_its_output_so_the_llm10_probe_fails(runs: dict[str, RunResult]) -> None:
    result = next(r for r in runs["naive"].results if r.attempt.probe.category == "LLM10")
    verdict = result.verdicts[0]
    assert (
        not result.succeeded and "within the limits" in verdict.reason and "estimated" not in verdict.reason
    )
    assert result.transcript.metadata["completion_tokens"][0] <= 160  # the demo's own max_tokens


def test_refine_against_the_hardened_demo_is_refused_and_pruned(runs: dict[str, RunResult]) -> None:
    run = runs["hardened"]
    assert run.budget is not None and run.budget.target_calls == run.results[0].requests <= 3
    result = run.results[0]
    assert not result.succeeded
    tree = result.transcript.metadata["tree"]
    assert len(tree) == 3 and {n["origin"] for n in tree} == {"template"}
    assert result.transcript.turns[0].role is Role.USER

    assert result.transcript.metadata["strategy"] == "refine"
