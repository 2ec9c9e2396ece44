"""The showcase: its comparison report on known numbers, and the whole loop on the local model."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from bastion.core.types import Severity
from bastion.redteam.types import Attempt, AttemptResult, Probe, RunResult, Transcript
from bastion.showcase.benign import load_benign
from bastion.showcase.loop import (
    BenignOutcome,
    LatencyOutcome,
    ShowcaseResult,
    ShowcaseSettings,
    run_showcase,
)
from bastion.showcase.report import headline, write_showcase


def _run(name: str, outcomes: list[tuple[str, bool]]) -> RunResult:
    results = []
    for index, (category, succeeded) in enumerate(outcomes):
        probe = Probe(f"p{index}", category, "t", Severity.HIGH, "en", ("hi",), ("canary",))
        results.append(AttemptResult(Attempt(f"a{index}", probe, (), ("hi",)), Transcript(), (), succeeded))
    return RunResult(name, "demo:naive", 7, "2026-11-30T00:00:00Z", "2026-11-30T00:01:00Z", tuple(results))


def test_report_states_the_comparison(tmp_path: Path) -> None:
    direct = _run("d", [("LLM01", True), ("LLM01", True), ("LLM02", True), ("LLM02", False)])
    guarded = _run("g", [("LLM01", False), ("LLM01", False), ("LLM02", True), ("LLM02", False)])
    result = ShowcaseResult(
        ShowcaseSettings(tmp_path),
        direct,
        guarded,
        [BenignOutcome("de", 200, 1, ("de-101",), 1.2)],
        LatencyOutcome(4, 1.5, 3.0, 5200.0),
        12.0,
    )
    lines = headline(result)
    assert lines[0] == "Successful attacks: 3/4 directly, 1/4 through the gateway (67% fewer)."
    assert "1/200 (0.5%)" in lines[1]
    assert "p50 1.5 ms" in lines[2]
    paths = write_showcase(result, tmp_path)
    data = json.loads(paths["showcase_json"].read_text(encoding="utf-8"))
    assert data["direct"]["by_category"]["LLM01"] == {"attempts": 2, "successes": 2, "asr": 1.0}
    assert data["gateway"]["by_category"]["LLM01"]["successes"] == 0
    assert data["successful_attacks_reduction"] == pytest.approx(0.6667, abs=1e-4)
    page = paths["showcase_html"].read_text(encoding="utf-8")
    for svg in page.split("<svg")[1:]:
        ElementTree.fromstring("<svg" + svg.split("</svg>")[0] + "</svg>")  # well-formed charts
    assert "| LLM01 | 2/2 (100%) | 0/2 (0%) |" in paths["showcase_md"].read_text(encoding="utf-8")


def test_benign_messages_ship_in_both_languages() -> None:
    messages = load_benign()
    assert {m.language for m in messages} == {"de", "en"}
    assert len(messages) >= 400


@pytest.mark.slow
def test_the_whole_loop_on_the_local_model(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("showcase-home")
    settings = ShowcaseSettings(tmp_path / "out", home=home, categories=("LLM01",), max_probes=2)
    stages: list[str] = []
    result = run_showcase(settings, lambda stage, done, total: stages.append(stage))
    assert result.direct.summary.attempts == result.guarded.summary.attempts == 2
    assert not any(r.error for r in result.direct.results + result.guarded.results)
    assert {b.language for b in result.benign} == {"de", "en"}
    assert result.latency is not None and result.latency.calls >= 1
    for name in (
        "showcase.html",
        "showcase.json",
        "showcase.md",
        "direct/report.json",
        "gateway/report.json",
    ):
        assert (tmp_path / "out" / name).is_file(), name
    assert "red team through the gateway" in stages
