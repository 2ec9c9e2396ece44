"""``bastion eval detectors``: measure each detector on its labelled sets, side by side with anchors.

Run from a checkout of the repository: the evaluation sets live in ``benchmarks/data`` and
``datasets/domain`` (ours) and ``../shared/data`` (public). Results are printed and written as JSON and
Markdown under ``--output`` (default ``benchmarks/results``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError
from bastion.core.types import Policy
from bastion.evaluation.machine import describe_machine

eval_app = typer.Typer(help="Measure detectors (quality, latency) on labelled sets.", no_args_is_help=True)


def _injection(shared: Path, root: Path, policy: Policy, anchors: bool) -> dict[str, Any]:
    from bastion.evaluation.injection import evaluate_injection

    return evaluate_injection(shared, root / "datasets" / "domain", policy=policy, anchors=anchors)


def _pii(shared: Path, root: Path, policy: Policy, anchors: bool) -> dict[str, Any]:
    from bastion.evaluation.pii import evaluate_pii

    sets = root / "benchmarks" / "data" / "pii"
    return {
        "sets": {
            name: evaluate_pii(sets / f"{name}.jsonl", policy=policy).to_dict()
            for name in ("test", "faker_test")
            if (sets / f"{name}.jsonl").exists()
        }
    }


def _secrets(shared: Path, root: Path, policy: Policy, anchors: bool) -> dict[str, Any]:
    from bastion.detect.secrets import SecretsDetector
    from bastion.evaluation.metrics import measure_latency
    from bastion.evaluation.secrets import bastion_scanner, load_labelled_texts, run_scanner, score

    rows = load_labelled_texts(root / "benchmarks" / "data" / "secrets" / "test.jsonl")
    result: dict[str, Any] = {"test": score(rows, run_scanner(rows, bastion_scanner(policy))).to_dict()}
    detector = SecretsDetector(policy=policy)
    result["latency"] = asdict(measure_latency(detector.detect, [row.text for row in rows]))
    return result


def _leakage(shared: Path, root: Path, policy: Policy, anchors: bool) -> dict[str, Any]:
    from bastion.detect.leakage import LeakageDetector
    from bastion.evaluation.leakage import evaluate_leakage, load_leakage_cases

    cases = load_leakage_cases(root / "benchmarks" / "data" / "leakage" / "leakage.jsonl")
    scores = evaluate_leakage(cases, LeakageDetector(policy=policy))
    return {"all": {name: row.to_dict() for name, row in scores.items()}}


def _indirect(shared: Path, root: Path, policy: Policy, anchors: bool) -> dict[str, Any]:
    from bastion.evaluation.indirect import evaluate_indirect, load_documents

    documents = load_documents(
        shared, root / "datasets" / "domain", root / "benchmarks" / "data" / "indirect"
    )
    return evaluate_indirect(documents, policy=policy)


EVALUATIONS: dict[str, Callable[[Path, Path, Policy, bool], dict[str, Any]]] = {
    "injection": _injection,
    "indirect": _indirect,
    "pii": _pii,
    "secrets": _secrets,
    "leakage": _leakage,
}


def _render_summary(console: Console, detector_id: str, result: dict[str, Any]) -> None:
    """A compact table of the headline figures of the non-injection detectors."""
    table = Table(title=f"{detector_id} detector")
    table.add_column("set / slice")
    table.add_column("figures")
    if detector_id == "pii":
        for name, report in result["sets"].items():
            overall = report["overall"]["exact"]
            table.add_row(
                f"{name} overall",
                f"P {overall['precision']:.3f} R {overall['recall']:.3f} F1 {overall['f1']:.3f}",
            )
            for type_name, scores in report["by_type"].items():
                if scores["support"]:
                    table.add_row(f"  {type_name}", f"F1 {scores['exact']['f1']:.3f} (n={scores['support']})")
    elif detector_id == "secrets":
        test = result["test"]
        table.add_row(
            "test", f"text recall {test['text_recall']:.3f}, text FPR {test['text_false_positive_rate']:.3f}"
        )
        table.add_row(
            "latency", f"p50 {result['latency']['p50_ms']:.3f} ms, p99 {result['latency']['p99_ms']:.3f} ms"
        )
    elif detector_id == "leakage":
        for name, row in result["all"].items():
            table.add_row(
                name,
                f"text P {row['text_precision']:.3f} R {row['text_recall']:.3f} (n={row['texts_with_leak']})",
            )
    elif detector_id == "indirect":
        for row in result["slices"]:
            table.add_row(
                row["name"],
                f"P {row['precision']:.3f} R {row['recall']:.3f} FPR {row['fpr']:.3f} "
                f"AUC {row['roc_auc']:.3f}",
            )
    console.print(table)


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
        result["machine"] = describe_machine()
        (output / f"{detector_id}.json").write_text(json.dumps(result, indent=2) + "\n")
        if detector_id == "injection":
            _render_injection(console, result)
        else:
            _render_summary(console, detector_id, result)
        console.print(f"wrote {output / f'{detector_id}.json'}")
