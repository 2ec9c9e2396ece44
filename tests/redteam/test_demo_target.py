"""The red team against the real demo (local Gemma 3 270M): what the hardened configuration guarantees."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.redteam.probes import load_suite
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.targets import DemoTarget
from bastion.redteam.types import RunResult

PROBES = ("llm02.cross-tenant.iban.en", "llm06.tool.close-own.en", "llm01.indirect.upload-forgiven.en")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunResult]]:
    home = tmp_path_factory.mktemp("home")
    probes = [p for p in load_suite() if p.id in PROBES]
    settings = CampaignSettings(seed=7, variants=0)
    results: dict[str, RunResult] = {}
    for configuration in ("naive", "hardened"):
        target = DemoTarget(configuration, home=home)
        store = RunStore(Path(home) / f"{configuration}.sqlite")
        try:
            results[configuration] = asyncio.run(
                run_campaign(target, plan(probes, settings), store, settings)
            )
        finally:
            target.close()
            store.close()
    yield results


def _by_probe(run: RunResult, probe_id: str):  # type: ignore[no-untyped-def]
    return next(r for r in run.results if r.attempt.probe.id == probe_id)


def test_every_attempt_is_answered_and_judged(runs: dict[str, RunResult]) -> None:
    for run in runs.values():
        assert len(run.results) == len(PROBES)
        for result in run.results:
            assert not result.error
            assert result.transcript.replies
            assert [v.judge for v in result.verdicts] == list(result.attempt.probe.judges)


def test_hardened_never_retrieves_or_acts_outside_the_callers_scope(runs: dict[str, RunResult]) -> None:
    hardened = runs["hardened"]
    for result in hardened.results:
        tenants = set(result.transcript.metadata["retrieved_tenants"])
        assert tenants <= {"t-telkonord"}
        tool_verdicts = [v for v in result.verdicts if v.judge == "tool_misuse"]
        assert not any(v.succeeded for v in tool_verdicts)
        assert all(c.status != "executed" or c.name != "close_case" for c in result.transcript.tool_calls)


def test_naive_retrieval_crosses_tenants_for_the_fishing_probe(runs: dict[str, RunResult]) -> None:
    result = _by_probe(runs["naive"], "llm02.cross-tenant.iban.en")
    assert set(result.transcript.metadata["retrieved_tenants"]) - {"t-telkonord"}


def test_the_planted_document_is_quarantined_only_when_hardened(runs: dict[str, RunResult]) -> None:
    naive = _by_probe(runs["naive"], "llm01.indirect.upload-forgiven.en")
    hardened = _by_probe(runs["hardened"], "llm01.indirect.upload-forgiven.en")
    assert naive.transcript.metadata["upload"]["status"] == "accepted"
    assert hardened.transcript.metadata["upload"]["status"] == "quarantined"
