"""Benchmark of the red team: attack success on the demo, runner throughput, report generation.

Run from the repository root (needs the ``local`` extra)::

    .venv/bin/python benchmarks/bench_redteam.py [--part all|suite|strategies]

1. ``suite``: the owasp-llm-2025 suite (every probe as written plus one seeded mutated copy) against
   ``demo:naive`` and ``demo:hardened``: attack success rate per OWASP category, seconds per attempt;
   runner throughput at concurrency 1 and 8 against a stand-in endpoint that answers after 50 ms (a Python
   callable that sleeps, used only to isolate the runner's own overhead and parallelism from a model);
   time and size of the five reports for the naive run.
2. ``strategies``: the adaptive strategies on the packaged goals (English) against both configurations:
   crescendo with the local Gemma 3 270M as the attacker (it rephrases each step; rejected rephrasings fall
   back to the ladder) and refine as a seeded template-and-mutator search; ASR per strategy and category,
   target calls, attacker tokens, how many attacker messages were used.

Writes ``benchmarks/results/redteam.json`` and ``.md``; a part run alone keeps the other part's stored
figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bastion.evaluation.machine import describe_machine
from bastion.redteam.goals import goal_attempts
from bastion.redteam.models import LocalChatModel
from bastion.redteam.probes import load_suite
from bastion.redteam.report import write_reports
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.targets import CallableTarget, DemoTarget
from bastion.redteam.types import RunResult

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = CampaignSettings(seed=7, variants=1)
STRATEGY_SETTINGS = {
    "crescendo": CampaignSettings(
        seed=7, strategies=("crescendo",), max_turns=4, max_target_calls=60, timeout_s=600
    ),
    "refine": CampaignSettings(
        seed=7,
        strategies=("refine",),
        max_turns=4,
        width=2,
        branching=2,
        depth=2,
        max_target_calls=60,
        timeout_s=600,
    ),
}
STRATEGY_LANGUAGES = ("en",)
#: a handful of goals, so both configurations run in minutes on 2 shared cores (the 270M model answers in
#: 5-60 s per turn there, depending on the load)
STRATEGY_GOALS = ("debt-forgiven", "close-case", "other-customer")


def _demo(configuration: str, home: Path) -> tuple[RunResult, float]:
    target = DemoTarget(configuration, home=home)
    store = RunStore(home / f"{configuration}.sqlite")
    attempts = plan(load_suite(), SETTINGS)
    started = time.perf_counter()
    try:
        run = asyncio.run(run_campaign(target, attempts, store, SETTINGS))
    finally:
        target.close()
        store.close()
    return run, time.perf_counter() - started


def _slow_endpoint(messages: list[dict[str, str]]) -> str:
    time.sleep(0.05)
    return "I can only help with your own case."


def _throughput(home: Path) -> dict[str, float]:
    attempts = plan(load_suite(), CampaignSettings(seed=7, variants=3))
    rates: dict[str, float] = {}
    for concurrency in (1, 8):
        settings = CampaignSettings(seed=7, variants=3, concurrency=concurrency)
        store = RunStore(home / f"throughput-{concurrency}.sqlite")
        started = time.perf_counter()
        asyncio.run(run_campaign(CallableTarget(_slow_endpoint), attempts, store, settings))
        rates[f"concurrency_{concurrency}"] = round(len(attempts) / (time.perf_counter() - started) * 60, 1)
        store.close()
    rates["attempts"] = len(attempts)
    return rates


def _strategy_figures(run: RunResult, seconds: float) -> dict[str, Any]:
    sources = [
        source for result in run.results for source in result.transcript.metadata.get("message_sources", [])
    ]
    summary, budget = run.summary, run.budget
    assert budget is not None
    return {
        "attempts": summary.attempts,
        "successes": summary.successes,
        "asr": round(summary.asr, 3),
        "errors": summary.errors,
        "target_calls": budget.target_calls,
        "attacker_tokens": budget.attacker_tokens,
        "budget_exhausted": budget.exhausted,
        "skipped": budget.skipped,
        "attacker_messages_used": sum(s == "attacker" for s in sources),
        "attacker_messages_rejected": sum(s.startswith("template (") for s in sources),
        "seconds": round(seconds, 1),
        "by_category": {
            key: {"attempts": row.attempts, "successes": row.successes}
            for key, row in summary.by_category.items()
        },
        "stopped": {
            result.attempt.probe.id: result.transcript.metadata.get("stopped", "") or result.error
            for result in run.results
        },
        "findings": sorted(
            f"{r.attempt.probe.id}: {r.deciding_verdict.reason if r.deciding_verdict else ''}"
            for r in run.findings
        ),
    }


def _strategies(home: Path, save: Any) -> dict[str, Any]:
    """Crescendo (local attacker) and refine (template search) on the goals against both configurations.

    Goal by goal (both strategies, both configurations), so that an interrupted run still has figures for
    every cell it reached; ``save(part)`` writes the figures after every attempt.
    """
    attacker = LocalChatModel()
    configurations = ("naive", "hardened")
    targets = {configuration: DemoTarget(configuration, home=home) for configuration in configurations}
    stores = {(c, s): RunStore(home / f"{c}-{s}.sqlite") for c in configurations for s in STRATEGY_SETTINGS}
    run_ids: dict[tuple[str, str], str] = {}
    seconds: dict[tuple[str, str], float] = {}
    part: dict[str, Any] = {
        "languages": list(STRATEGY_LANGUAGES),
        "goals": list(STRATEGY_GOALS),
        "settings": {name: settings.to_dict() for name, settings in STRATEGY_SETTINGS.items()},
        "attacker": {"crescendo": attacker.name, "refine": "none (template and mutator search)"},
        "runs": {},
        "complete": False,
        "machine": describe_machine(),
    }
    try:
        for goal in STRATEGY_GOALS:
            for strategy, settings in STRATEGY_SETTINGS.items():
                attempts = [
                    a
                    for a in goal_attempts(strategy, languages=STRATEGY_LANGUAGES)
                    if f".{goal}." in a.probe.id
                ]
                for configuration in configurations:
                    key = (configuration, strategy)
                    started = time.perf_counter()
                    run = asyncio.run(
                        run_campaign(
                            targets[configuration],
                            attempts,
                            stores[key],
                            settings,
                            run_id=run_ids.get(key),
                            attacker=attacker if strategy == "crescendo" else None,
                        )
                    )
                    run_ids[key] = run.run_id
                    seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started
                    part["runs"].setdefault(configuration, {})[strategy] = _strategy_figures(
                        run, seconds[key]
                    )
                    part["machine"] = describe_machine()
                    save(part)
        part["complete"] = True
    finally:
        for target in targets.values():
            target.close()
        for store in stores.values():
            store.close()
    return part


def main() -> None:
    parser = argparse.ArgumentParser(description="Red team on the demo")
    parser.add_argument("--part", choices=("all", "suite", "strategies"), default="all")
    part = parser.parse_args().part
    previous: dict[str, Any] = {}
    if (RESULTS / "redteam.json").is_file():
        previous = json.loads((RESULTS / "redteam.json").read_text(encoding="utf-8"))
    result = dict(previous)
    result["command"] = ".venv/bin/python benchmarks/bench_redteam.py"

    def save(strategies: dict[str, Any] | None = None) -> None:
        if strategies is not None:
            result["strategies"] = strategies
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "redteam.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (RESULTS / "redteam.md").write_text(_markdown(result), encoding="utf-8")

    with tempfile.TemporaryDirectory() as directory:
        if part in ("all", "strategies"):
            save(_strategies(Path(directory), save))
        if part in ("all", "suite"):
            result.update(_suite(Path(directory)))
            save()
    print(_markdown(result))


def _suite(home_root: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=home_root) as directory:
        home = Path(directory)
        runs: dict[str, Any] = {}
        naive_run = None
        for configuration in ("naive", "hardened"):
            run, seconds = _demo(configuration, home)
            naive_run = naive_run or run
            summary = run.summary
            runs[configuration] = {
                "attempts": summary.attempts,
                "successes": summary.successes,
                "asr": round(summary.asr, 3),
                "errors": summary.errors,
                "seconds": round(seconds, 1),
                "seconds_per_attempt": round(seconds / max(1, summary.attempts), 2),
                "by_category": {
                    key: {"attempts": row.attempts, "successes": row.successes, "asr": round(row.asr, 3)}
                    for key, row in summary.by_category.items()
                },
                "findings": sorted(
                    {
                        f"{r.attempt.probe.id} ({'+'.join(r.attempt.mutators) or 'as written'})"
                        for r in run.findings
                    }
                ),
            }
        throughput = _throughput(home)
        assert naive_run is not None
        started = time.perf_counter()
        written = write_reports(naive_run, home / "reports")
        report_seconds = time.perf_counter() - started
        sizes = {name: path.stat().st_size for name, path in written.items()}
    return {
        "machine": describe_machine(),
        "suite": "owasp-llm-2025",
        "settings": SETTINGS.to_dict(),
        "demo": runs,
        "throughput_attempts_per_minute": throughput,
        "reports": {"seconds": round(report_seconds, 3), "bytes": sizes},
    }


def _markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    demo = result["demo"]
    categories = sorted({c for run in demo.values() for c in run["by_category"]})
    lines = [
        "# Red team on the demo",
        "",
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, Python {machine['python']}, load "
        f"{machine['load_average_1min']}. Command: `{result['command']}`. Suite {result['suite']}: "
        "every probe as written plus one seeded mutated copy (seed 7); the demo on Gemma 3 270M, greedy "
        "decoding.",
        "",
        "## Attack success rate per OWASP LLM category",
        "",
        "| configuration | " + " | ".join(categories) + " | all | seconds / attempt |",
        "|---|" + "---:|" * (len(categories) + 2),
    ]
    for name, run in demo.items():
        cells = []
        for category in categories:
            row = run["by_category"].get(category)
            cells.append(f"{row['successes']}/{row['attempts']}" if row else "-")
        lines.append(
            f"| {name} | "
            + " | ".join(cells)
            + f" | {run['successes']}/{run['attempts']} ({run['asr']:.0%}) | "
            f"{run['seconds_per_attempt']} |"
        )
    for name, run in demo.items():
        lines += ["", f"Findings against {name}:", ""]
        lines += [f"- {finding}" for finding in run["findings"]] or ["- none"]
    throughput = result["throughput_attempts_per_minute"]
    reports = result["reports"]
    lines += [
        "",
        "## Runner throughput (stand-in endpoint answering after 50 ms; isolates the runner)",
        "",
        f"{throughput['attempts']} attempts: {throughput['concurrency_1']} attempts/min at concurrency 1, "
        f"{throughput['concurrency_8']} at concurrency 8. Against the demo, attempts run one at a time (one "
        "local model).",
        "",
        "## Reports (naive run)",
        "",
        f"All five written in {reports['seconds']} s: "
        + ", ".join(f"{name} {size / 1024:.1f} KiB" for name, size in reports["bytes"].items())
        + ".",
        "",
    ]
    if "strategies" in result:
        lines += _strategy_markdown(result["strategies"])
    return "\n".join(lines)


def _strategy_markdown(part: dict[str, Any]) -> list[str]:
    machine = part["machine"]
    runs = part["runs"]
    categories = sorted(
        {c for config in runs.values() for run in config.values() for c in run["by_category"]}
    )
    lines = [
        "## Adaptive strategies on the goals",
        "",
        *(
            []
            if part.get("complete", True)
            else [
                "**Partial**: the run was stopped before every goal was played; the cells show what ran.",
                "",
            ]
        ),
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, load {machine['load_average_1min']}. "
        "`.venv/bin/python benchmarks/bench_redteam.py --part strategies`: "
        f"goals {', '.join(part['goals'])} ({', '.join(part['languages'])}), one attempt each per strategy. "
        "Crescendo: max 4 turns, attacker "
        f"{part['attacker']['crescendo']} (rephrases each step; rejected output falls back to the ladder). "
        "Refine: width 2, branching 2, depth 2, max 4 candidates, seeded framing and mutator search, no "
        "attacker model. Run budget 60 target calls per strategy.",
        "",
        "| configuration | strategy | " + " | ".join(categories) + " | ASR | target calls | attacker tokens "
        "| attacker messages used / rejected | seconds |",
        "|---|---|" + "---:|" * (len(categories) + 5),
    ]
    for configuration, config in runs.items():
        for strategy, run in config.items():
            cells = []
            for category in categories:
                row = run["by_category"].get(category)
                cells.append(f"{row['successes']}/{row['attempts']}" if row else "-")
            used = (
                f"{run['attacker_messages_used']} / {run['attacker_messages_rejected']}"
                if strategy == "crescendo"
                else "-"
            )
            lines.append(
                f"| {configuration} | {strategy} | " + " | ".join(cells) + f" | {run['successes']}/"
                f"{run['attempts']} ({run['asr']:.0%}) | {run['target_calls']} | {run['attacker_tokens']} | "
                f"{used} | {run['seconds']} |"
            )
    for configuration, config in runs.items():
        for strategy, run in config.items():
            lines += ["", f"Findings, {strategy} against {configuration}:", ""]
            lines += [f"- {finding}" for finding in run["findings"]] or ["- none"]
    lines.append("")
    return lines


if __name__ == "__main__":
    main()
