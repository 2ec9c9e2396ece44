"""``bastion eval detectors``: measure each detector on its labelled sets, side by side with anchors.

Run from a checkout of the repository: the evaluation sets live in ``benchmarks/data`` and
``datasets/domain`` (ours) and ``../shared/data`` (public). Results are printed and written as JSON and
Markdown under ``--output`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError
from bastion.core.types import Policy

eval_app = typer.Typer(help="Measure detectors (quality, latency) on labelled sets.", no_args_is_help=True)


def machine() -> dict[str, Any]:
    """A description of this machine for result files."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _injection(shared: Path, root: Path, policy: Policy, anchors: bool) -> dict[str, Any]:
    from bastion.evaluation.injection import evaluate_injection

    return evaluate_injection(shared, root / "datasets" / "domain", policy=policy, anchors=anchors)


EVALUATIONS: dict[str, Callable[[Path, Path, Policy, bool], dict[str, Any]]] = {"injection": _injection}


def _render_injection(console: Console, result: dict[str, Any]) -> None:
    table = Table(title=f"injection detector, {result['split']} split, {result['policy']} policy")
    for column in (
        "scorer",
        "slice",
        "pos",
        "neg",
        "precision",
        "recall",
        "FPR",
        "AUC",
        "R@1%FPR",
        "R@0.1%FPR",
    ):
        table.add_column(column, justify="right" if column not in ("scorer", "slice") else "left")
    for report in result["reports"]:
        for row in report["slices"]:
            table.add_row(
                report["name"],
                row["name"],
                str(row["positives"]),
                str(row["negatives"]),
                f"{row['precision']:.3f}",
                f"{row['recall']:.3f}",
                f"{row['fpr']:.4f}",
                f"{row['roc_auc']:.4f}",
                f"{row['recall_at_1pct_fpr']:.3f}",
                f"{row['recall_at_01pct_fpr']:.3f}",
            )
    console.print(table)
    latency = Table(title="injection latency (one core, per message)")
    for column in ("scorer", "p50 ms", "p99 ms", "ms / 1000 chars", "messages/s", "size", "load s"):
        latency.add_column(column)
    for report in result["reports"]:
        lat = report["latency"]
        size = f"{report['size_bytes'] / 1e6:.2f} MB" if report.get("size_bytes") else "-"
        load = f"{report['load_seconds']:.3f}" if report.get("load_seconds") is not None else "-"
        latency.add_row(
            report["name"],
            f"{lat['p50_ms']:.3f}",
            f"{lat['p99_ms']:.3f}",
            f"{lat['ms_per_1000_chars']:.3f}",
            f"{lat['per_second']:.0f}",
            size,
            load,
        )
    console.print(latency)
    for missing in result.get("anchors_missing", []):
        console.print(f"[yellow]anchor not run:[/yellow] {missing}")


@eval_app.command("detectors")
@cli_errors
def eval_detectors(
    detector_list: Annotated[
        str, typer.Option("--detectors", "-d", help="Comma-separated ids.")
    ] = "injection",
    shared: Annotated[Path, typer.Option(help="The public datasets folder (shared/data).")] = Path(
        "../shared/data"
    ),
    root: Annotated[Path, typer.Option(help="Repository root (holds datasets/ and benchmarks/).")] = Path(
        "."
    ),
    output: Annotated[Path, typer.Option(help="Where to write results.")] = Path("benchmarks/results"),
    policy: Annotated[Policy, typer.Option(help="Policy whose thresholds are measured.")] = Policy.BALANCED,
    anchors: Annotated[bool, typer.Option(help="Also run the anchors that are installed.")] = True,
) -> None:
    """Measure detectors and write ``<output>/<detector>.json``."""
    console = Console()
    ids = [part.strip() for part in detector_list.split(",") if part.strip()]
    unknown = [i for i in ids if i not in EVALUATIONS]
    if unknown:
        raise UsageError(f"no evaluation for {', '.join(unknown)}; available: {', '.join(EVALUATIONS)}")
    if not shared.is_dir():
        raise UsageError(f"public datasets not found at {shared} (pass --shared)")
    output.mkdir(parents=True, exist_ok=True)
    for detector_id in ids:
        result = EVALUATIONS[detector_id](shared, root, policy, anchors)
        result["machine"] = machine()
        (output / f"{detector_id}.json").write_text(json.dumps(result, indent=2) + "\n")
        if detector_id == "injection":
            _render_injection(console, result)
        console.print(f"wrote {output / f'{detector_id}.json'}")
