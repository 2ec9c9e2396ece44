"""Benchmark of the red team: attack success on the demo, runner throughput, report generation.

Run from the repository root (needs the ``local`` extra)::

    .venv/bin/python benchmarks/bench_redteam.py

1. The owasp-llm-2025 suite (every probe as written plus one seeded mutated copy) against ``demo:naive``
   and ``demo:hardened``: attack success rate per OWASP category, seconds per attempt.
2. Runner throughput at concurrency 1 and 8 against a stand-in endpoint that answers after 50 ms (a Python
   callable that sleeps, used only to isolate the runner's own overhead and parallelism from a model).
3. Time and size of the five reports for the naive run.

Writes ``benchmarks/results/redteam.json`` and ``.md``.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bastion.evaluation.machine import describe_machine
from bastion.redteam.probes import load_suite
from bastion.redteam.report import write_reports
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.targets import CallableTarget, DemoTarget
from bastion.redteam.types import RunResult

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = CampaignSettings(seed=7, variants=1)


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


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
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
    result = {
        "machine": describe_machine(),
        "command": ".venv/bin/python benchmarks/bench_redteam.py",
        "suite": "owasp-llm-2025",
        "settings": SETTINGS.to_dict(),
        "demo": runs,
        "throughput_attempts_per_minute": throughput,
        "reports": {"seconds": round(report_seconds, 3), "bytes": sizes},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "redteam.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "redteam.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))


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
    return "\n".join(lines)


if __name__ == "__main__":
    main()
