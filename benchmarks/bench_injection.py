"""Injection detector benchmark: test-split quality and latency beside the anchor, and generalisation.

Usage (from the repository root, with the dev and anchors extras installed)::

    python benchmarks/bench_injection.py [--shared ../shared/data] [--skip-generalisation]

1. ``bastion eval detectors -d injection`` figures (test split, per language and source, latency, anchors).
2. Leave-source-out: for each group of sources, train the same way as the shipped model without that group
   (:func:`bastion.evaluation.training.train_injection_model`), then measure on every row of the held-out
   group: recall of its attacks and false-positive rate on its benign messages at the balanced threshold, and
   ROC AUC where it has both. This is the honest figure for text unlike anything trained on.

Writes ``benchmarks/results/injection.json`` / ``.md`` and ``injection_generalisation.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bastion.core.types import Policy  # noqa: E402
from bastion.detect.injection.detector import InjectionDetector  # noqa: E402
from bastion.evaluation.datasets import AUGMENTED, Sample, load_injection_corpus  # noqa: E402
from bastion.evaluation.injection import evaluate_injection  # noqa: E402
from bastion.evaluation.machine import describe_machine  # noqa: E402
from bastion.evaluation.metrics import roc_auc  # noqa: E402
from bastion.evaluation.training import train_injection_model  # noqa: E402

JAILBREAK_SOURCES = {
    "jailbreakbench_artifacts",
    "inthewild_jailbreaks",
    "dan_templates",
    "pyrit_jailbreak_templates",
}
GROUPS = {
    "our domain corpus, all languages": lambda s: s.source == "bastion-domain",
    "our domain corpus, German": lambda s: s.source == "bastion-domain" and s.lang == "de",
    "our domain corpus, FR/ES/IT/PT": lambda s: s.source == "bastion-domain" and s.lang not in ("en", "de"),
    "public jailbreak collections": lambda s: s.source in JAILBREAK_SOURCES,
    "deepset prompt injections (EN/DE)": lambda s: s.source == "deepset_prompt_injections",
}


def generalisation(corpus: list[Sample]) -> list[dict[str, object]]:
    rows = []
    for name, in_group in GROUPS.items():
        held_out = [s for s in corpus if in_group(s) and s.in_scope and s.kind != AUGMENTED]
        if not held_out:
            continue
        train = [
            s for s in corpus if s.split == "train" and s.spec.trainable and s.in_scope and not in_group(s)
        ]
        validation = [s for s in corpus if s.split == "validation" and s.in_scope and not in_group(s)]
        started = time.time()
        result = train_injection_model(train, validation)
        detector = InjectionDetector(model=result.model, policy=Policy.BALANCED)
        scores = np.array([detector.score(s.text) for s in held_out])
        labels = np.array([s.label for s in held_out], dtype=bool)
        row: dict[str, object] = {
            "held_out": name,
            "attacks": int(labels.sum()),
            "benign": int((~labels).sum()),
            "recall_at_balanced": float((scores[labels] >= detector.threshold).mean())
            if labels.any()
            else None,
            "fpr_at_balanced": float((scores[~labels] >= detector.threshold).mean())
            if (~labels).any()
            else None,
            "roc_auc": roc_auc(labels, scores) if labels.any() and (~labels).any() else None,
            "seconds": round(time.time() - started, 1),
        }
        print(row, flush=True)
        rows.append(row)
    return rows


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--skip-generalisation", action="store_true")
    args = parser.parse_args()
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    domain = ROOT / "datasets" / "domain"

    result = evaluate_injection(args.shared, domain)
    result["machine"] = describe_machine()
    result["command"] = "python benchmarks/bench_injection.py"
    (out / "injection.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Injection detector: test split",
        "",
        f"Machine: {result['machine']['cpu_model']}, {result['machine']['nproc']} cores, Python "
        f"{result['machine']['python']}. Command: `python benchmarks/bench_injection.py`. Policy: balanced.",
        "",
        "| scorer | slice | attacks | benign | precision | recall | FPR | AUC | R@1%FPR | R@0.1%FPR |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for report in result["reports"]:
        for s in report["slices"]:
            lines.append(
                f"| {report['name']} | {s['name']} | {s['positives']} | {s['negatives']} | "
                f"{s['precision']:.3f} | "
                f"{s['recall']:.3f} | {s['fpr']:.4f} | {s['roc_auc']:.4f} | {s['recall_at_1pct_fpr']:.3f} | "
                f"{s['recall_at_01pct_fpr']:.3f} |"
            )
    lines += ["", "| scorer | source (kind, n) | share flagged |", "|---|---|---:|"]
    for report in result["reports"]:
        lines += [f"| {report['name']} | {k} | {v:.4f} |" for k, v in report["sources"].items()]
    lines += [
        "",
        "| scorer | p50 ms | p99 ms | ms/1000 chars | msgs/s | model size | load s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for report in result["reports"]:
        lat = report["latency"]
        size = f"{report['size_bytes'] / 1e6:.2f} MB" if report.get("size_bytes") else "-"
        load = f"{report['load_seconds']:.3f}" if report.get("load_seconds") is not None else "-"
        lines.append(
            f"| {report['name']} | {lat['p50_ms']:.3f} | {lat['p99_ms']:.3f} | "
            f"{lat['ms_per_1000_chars']:.3f} | "
            f"{lat['per_second']:.0f} | {size} | {load} |"
        )
    lines += [f"\nAnchor not run: {m}" for m in result["anchors_missing"]]
    (out / "injection.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    if args.skip_generalisation:
        return
    corpus = load_injection_corpus(args.shared, domain)
    rows = generalisation(corpus)
    (out / "injection_generalisation.json").write_text(
        json.dumps(
            {"machine": describe_machine(), "rows": rows, "command": "python benchmarks/bench_injection.py"},
            indent=2,
        )
        + "\n"
    )
    table = [
        "# Injection detector: leave-source-out generalisation",
        "",
        "Each row trains without the held-out group (same recipe as the shipped model) and measures "
        "every row of that group at the balanced threshold. Command: `python benchmarks/bench_injection.py`.",
        "",
        "| held out | attacks | benign | recall | FPR | AUC |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        table.append(
            f"| {row['held_out']} | {row['attacks']} | {row['benign']} | {_fmt(row['recall_at_balanced'])} | "
            f"{_fmt(row['fpr_at_balanced'])} | {_fmt(row['roc_auc'])} |"
        )
    (out / "injection_generalisation.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
