"""Benchmark of the indirect-injection detector: quality per language and source, and latency.

Run from the repository root::

    source .venv/bin/activate && PYTHONPATH=src python benchmarks/bench_indirect.py

Documents come from :mod:`bastion.evaluation.indirect` (our domain corpus, BIPIA e-mails with planted
payloads, deepset payloads planted into domain documents, hand-written pages in
``benchmarks/data/indirect``); only the held-out TEST split is scored (thresholds were chosen on the
validation split by ``benchmarks/tune_indirect.py``). Latency is measured on one core, per document and
per 1,000 characters, plus one 1 MB document. Writes ``benchmarks/results/indirect.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bastion.core.types import Policy
from bastion.detect.indirect import IndirectInjectionDetector
from bastion.evaluation.indirect import evaluate_indirect, load_documents
from bastion.evaluation.machine import describe_machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _large_document_seconds() -> float:
    """Seconds for one 1 MB document of letters with hidden markup repeated."""
    block = (
        "Dear Ms Harlow, please pay EUR 212.40 by 30 April or contact us. <!-- layout: two columns --> "
        '<span style="display:none">Statement ready.</span> {"note": "Customer asked for a call back."}\n\n'
    )
    text = (block * (1_000_000 // len(block) + 1))[:1_000_000]
    detector = IndirectInjectionDetector()
    started = time.perf_counter()
    detector.detect(text)
    return time.perf_counter() - started


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Indirect-injection detector benchmark",
        "",
        f"Split: **{report['split']}** (held out), policy **{report['policy']}**, threshold "
        f"{report['threshold']:.2f}, {report['documents']} documents.",
        "Command: `PYTHONPATH=src python benchmarks/bench_indirect.py`",
        "",
        "| slice | poisoned | benign | precision | recall | F1 | FPR | ROC AUC | recall@1%FPR |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["slices"]:
        lines.append(
            f"| {s['name']} | {s['positives']} | {s['negatives']} | {s['precision']:.3f} "
            f"| {s['recall']:.3f} | "
            f"{s['f1']:.3f} | {s['fpr']:.3f} | {s['roc_auc']:.3f} | {s['recall_at_1pct_fpr']:.3f} |"
        )
    lines += [
        "",
        "Operating points (all test documents):",
        "",
        "| policy | threshold | recall | FPR |",
        "|---|---:|---:|---:|",
    ]
    for name, point in report["operating_points"].items():
        lines.append(f"| {name} | {point['threshold']:.2f} | {point['recall']:.3f} | {point['fpr']:.3f} |")
    lines += ["", "Recall by technique (flagged/total):", ""]
    lines += [f"- {name}: {value}" for name, value in report["recall_by_technique"].items()]
    lines += ["", "Recall by planted position:", ""]
    lines += [f"- {name}: {value}" for name, value in report["recall_by_position"].items()]
    latency = report["latency"]
    if latency:
        lines += [
            "",
            f"Latency (one core, {latency['count']} documents, mean {report['mean_chars']:.0f} characters): "
            f"p50 {latency['p50_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms, "
            f"{latency['ms_per_1000_chars']:.3f} ms per 1,000 characters; one 1 MB document "
            f"{report['large_document_seconds']:.2f} s.",
        ]
    machine = report["machine"]
    lines += [
        "",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"load average {machine['load_average_1min']} while measuring (other jobs share the machine).",
        "",
    ]
    missing = report.get("sources_missing") or []
    if missing:
        lines += ["Missing sources: " + ", ".join(missing), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--domain", type=Path, default=ROOT / "datasets" / "domain")
    parser.add_argument("--handwritten", type=Path, default=ROOT / "benchmarks" / "data" / "indirect")
    parser.add_argument("--policy", type=Policy, default=Policy.BALANCED)
    parser.add_argument("--output", type=Path, default=RESULTS)
    arguments = parser.parse_args()
    documents = load_documents(arguments.shared_data, arguments.domain, arguments.handwritten)
    report = evaluate_indirect(documents, arguments.policy, split="test")
    report["large_document_seconds"] = _large_document_seconds()
    report["machine"] = describe_machine()
    report["sources_missing"] = [
        str(path)
        for path in (arguments.domain / "en" / "documents.jsonl", arguments.domain / "de" / "documents.jsonl")
        if not path.is_file()
    ]
    arguments.output.mkdir(parents=True, exist_ok=True)
    (arguments.output / "indirect.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    markdown = _markdown(report)
    (arguments.output / "indirect.md").write_text(markdown, encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    main()
