"""Govern benchmark: from `bastion govern init` to a PDF as a new user would, time to produce the pack, OSCAL
validation, completeness of the demo's pack and the classification table.

- new-user path: each command runs as a fresh process (what a person at a terminal waits for);
- in-process timings: assessment (inventory, classification, threats, evidence, controls, risks) and each pack
  format, median of --repeat runs;
- completeness: every pack file present, OSCAL valid (compliance-trestle), counts per section;
- classification table: the reference scenarios of tests/govern/test_classify.py, checked again here;
- optional (--redteam-report PATH): the same pack with a real `bastion redteam run` report as evidence.

    PYTHONPATH=src python benchmarks/bench_govern.py [--redteam-report reports/redteam/report.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))


def _cli() -> list[str]:
    """``bastion govern`` when it is registered, else the module entry point of the sub-app."""
    bastion = Path(sys.executable).parent / "bastion"
    if bastion.exists():
        probe = subprocess.run([str(bastion), "govern", "--help"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [str(bastion), "govern"]
    return [sys.executable, "-m", "bastion.cli.govern"]


def new_user_path(directory: Path) -> dict[str, Any]:
    """init -> pack --format pdf, each a fresh process; then the optional extras a user tries next."""
    cli = _cli()
    inventory = directory / "bastion.yaml"
    steps = [
        ("init", [*cli, "init", str(directory)]),
        (
            "pack --format pdf",
            [*cli, "pack", "-i", str(inventory), "--format", "pdf", "--output", str(directory / "pack")],
        ),
    ]
    extras = [
        ("classify --format json", [*cli, "classify", "-i", str(inventory), "--format", "json"]),
        ("threats --format mermaid", [*cli, "threats", "-i", str(inventory), "--format", "mermaid"]),
        (
            "pack --format html,pdf,oscal",
            [
                *cli,
                "pack",
                "-i",
                str(inventory),
                "--format",
                "html,pdf,oscal",
                "--output",
                str(directory / "full"),
            ],
        ),
    ]
    rows = []
    for name, command in [*steps, *extras]:
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=directory)
        rows.append(
            {
                "command": name,
                "required": (name, command) in steps,
                "exit_code": done.returncode,
                "seconds": round(time.perf_counter() - started, 3),
            }
        )
    pdf = directory / "pack" / "audit-pack.pdf"
    return {
        "cli": " ".join(Path(c).name for c in cli),
        "commands_to_pdf": sum(1 for r in rows if r["required"]),
        "pdf_bytes": pdf.stat().st_size if pdf.exists() else 0,
        "pdf_ok": pdf.exists() and pdf.read_bytes().startswith(b"%PDF-"),
        "steps": rows,
    }


def _median(function: Any, repeat: int) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings), 4), result


def in_process(directory: Path, repeat: int, redteam_report: Path | None) -> dict[str, Any]:
    from bastion.govern.assessment import assess
    from bastion.govern.controls import FRAMEWORKS, ControlStatus, coverage
    from bastion.govern.inventory import write_example
    from bastion.govern.pack import validate, write_pack

    inventory = write_example(directory)
    if redteam_report is not None:
        target = directory / "reports" / "redteam" / "report.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(redteam_report, target)
    import_started = time.perf_counter()
    import fpdf  # noqa: F401 - timed: the PDF library's import is part of the first pack
    import trestle.oscal.assessment_results  # noqa: F401 - timed: the OSCAL validator's import

    imports = round(time.perf_counter() - import_started, 3)
    assess_seconds, assessment = _median(lambda: assess(inventory), repeat)
    formats = {}
    for fmt in ("html", "pdf", "oscal"):
        out = directory / f"pack-{fmt}"
        formats[fmt], _ = _median(lambda out=out, fmt=fmt: write_pack(assessment, out, [fmt]), repeat)
    full = directory / "pack-all"
    all_seconds, written = _median(lambda: write_pack(assessment, full, ["html", "pdf", "oscal"]), repeat)
    validate_seconds, problems = _median(lambda: validate(full), repeat)
    statuses = Counter(r.status.value for r in assessment.controls)
    coverage_rows = {}
    for framework in FRAMEWORKS:
        rows = coverage(assessment.controls, framework)
        mapped = [r for r in rows if r.controls]
        coverage_rows[framework] = {
            "items": len(rows),
            "mapped": len(mapped),
            "effective": sum(1 for r in mapped if r.status == ControlStatus.EFFECTIVE),
        }
    return {
        "imports_seconds": imports,
        "assess_seconds": assess_seconds,
        "pack_seconds": formats,
        "pack_all_seconds": all_seconds,
        "oscal_validate_seconds": validate_seconds,
        "oscal_problems": [name for name, _ in problems],
        "files": sorted(p.name for p in written),
        "systems": [
            {"system": c.system, "risk": c.risk, "ambiguous": c.ambiguous, "obligations": len(c.obligations)}
            for c in assessment.classifications
        ],
        "threats_by_stage": dict(Counter(t.stage for t in assessment.threats)),
        "risks": len(assessment.risks),
        "residual_levels": dict(Counter(r.residual_level for r in assessment.risks)),
        "controls": dict(statuses),
        "coverage": coverage_rows,
        "redteam_evidence": next(
            (r.summary for r in assessment.records if r.kind == "redteam_report" and r.sha256), None
        ),
    }


def classification_table() -> dict[str, Any]:
    from tests.govern.test_classify import SCENARIOS, test_reference_scenario

    failed = []
    started = time.perf_counter()
    for scenario in SCENARIOS:
        try:
            test_reference_scenario(scenario)
        except AssertionError:
            failed.append(scenario.name)
    return {
        "scenarios": len(SCENARIOS),
        "passed": len(SCENARIOS) - len(failed),
        "failed": failed,
        "seconds": round(time.perf_counter() - started, 3),
        "tiers": dict(Counter(s.risk for s in SCENARIOS)),
    }


def render_markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    user, inproc, table = report["new_user"], report["in_process"], report["classification_table"]
    lines = [
        "# Govern benchmark",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"load average {machine['load_average_1min']} (shared with other workers)  ",
        f"Date: {report['date']}",
        "",
        f"## From `govern init` to a PDF: {user['commands_to_pdf']} commands ({user['cli']})",
        "",
        "| command | required for the PDF | exit code | seconds (fresh process) |",
        "|---|---|---:|---:|",
    ]
    for row in user["steps"]:
        lines.append(
            f"| `{row['command']}` | {'yes' if row['required'] else 'no'} | {row['exit_code']} "
            f"| {row['seconds']:.2f} |"
        )
    lines += [
        "",
        f"PDF written: {user['pdf_ok']} ({user['pdf_bytes']:,} bytes).",
        "",
        f"## Time to produce the pack (in process, median of {report['repeat']})",
        "",
        "| step | seconds |",
        "|---|---:|",
        f"| import fpdf2 + compliance-trestle (once per process) | {inproc['imports_seconds']:.3f} |",
        "| assessment (inventory, classification, threats, evidence, controls, risks) "
        f"| {inproc['assess_seconds']:.4f} |",
    ]
    for fmt, seconds in inproc["pack_seconds"].items():
        lines.append(f"| pack `{fmt}` (+ Markdown documents) | {seconds:.4f} |")
    lines += [
        f"| pack html + pdf + oscal | {inproc['pack_all_seconds']:.4f} |",
        f"| OSCAL validation (compliance-trestle, 4 documents) | {inproc['oscal_validate_seconds']:.4f} |",
        "",
        "## The demo's pack",
        "",
        f"Files: {', '.join(inproc['files'])}.  ",
        f"OSCAL problems: {inproc['oscal_problems'] or 'none (all four documents validate)'}.  ",
        "Systems: "
        + "; ".join(
            f"`{s['system']}` {s['risk']}{' (ambiguous)' if s['ambiguous'] else ''}, "
            f"{s['obligations']} obligations"
            for s in inproc["systems"]
        )
        + ".  ",
        f"Threats by stage: {inproc['threats_by_stage']}; risks: {inproc['risks']} "
        f"(residual {inproc['residual_levels']}).  ",
        f"Controls: {inproc['controls']}.  ",
        f"Red-team evidence: {inproc['redteam_evidence'] or 'none (run with --redteam-report)'}.",
        "",
        "| framework | items | mapped to a control | with an effective control |",
        "|---|---:|---:|---:|",
    ]
    for framework, row in inproc["coverage"].items():
        lines.append(f"| {framework} | {row['items']} | {row['mapped']} | {row['effective']} |")
    lines += [
        "",
        "## Classification table",
        "",
        f"{table['passed']} of {table['scenarios']} reference scenarios pass ({table['tiers']}) "
        f"in {table['seconds']:.2f} s. Failed: {table['failed'] or 'none'}.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--redteam-report", type=Path, default=None, help="a report.json to use as evidence")
    args = parser.parse_args()
    from bastion.evaluation.machine import describe_machine

    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        new_user = new_user_path(Path(first))
        inproc = in_process(Path(second), args.repeat, args.redteam_report)
    report = {
        "benchmark": "govern",
        "command": "PYTHONPATH=src python benchmarks/bench_govern.py"
        + (f" --redteam-report {args.redteam_report}" if args.redteam_report else ""),
        "date": time.strftime("%Y-%m-%d"),
        "machine": describe_machine(),
        "repeat": args.repeat,
        "new_user": new_user,
        "in_process": inproc,
        "classification_table": classification_table(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "govern.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = render_markdown(report)
    (RESULTS / "govern.md").write_text(markdown, encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    main()
