"""Choose the policy thresholds of the indirect-injection detector on the VALIDATION split.

Run from the repository root::

    source .venv/bin/activate && PYTHONPATH=src python benchmarks/tune_indirect.py

It scores every validation document (see :mod:`bastion.evaluation.indirect` for the sources and the
split), prints recall and false-positive rate over a grid of thresholds, and the thresholds that the
rule in ``src/bastion/data/indirect/thresholds.yaml`` picks on the benign validation documents:
strict, the lowest threshold with at most 2 % false positives (never below the model-only ceiling
``plain_model`` + 0.15); balanced, the lowest with at most 0.5 % plus a margin of 0.02 (so that the
1 % target holds on unseen documents); permissive, the highest benign score plus 0.1. It never reads
the test split. Copy the printed values into ``thresholds.yaml`` by hand (the file keeps its comments).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bastion.detect.indirect import IndirectInjectionDetector
from bastion.evaluation.indirect import load_documents
from bastion.evaluation.metrics import threshold_at_fpr

ROOT = Path(__file__).resolve().parents[1]
BALANCED_MARGIN = 0.02
PERMISSIVE_MARGIN = 0.1
STRICT_FLOOR_MARGIN = 0.15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared-data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--domain", type=Path, default=ROOT / "datasets" / "domain")
    parser.add_argument("--handwritten", type=Path, default=ROOT / "benchmarks" / "data" / "indirect")
    arguments = parser.parse_args()
    documents = [
        d
        for d in load_documents(arguments.shared_data, arguments.domain, arguments.handwritten)
        if d.split == "validation"
    ]
    detector = IndirectInjectionDetector()
    scores = np.array([detector.score(d.text) for d in documents])
    labels = np.array([d.label for d in documents], dtype=bool)
    negatives, positives = scores[~labels], scores[labels]
    print(f"validation: {int(labels.sum())} poisoned, {int((~labels).sum())} benign documents")
    print(f"{'threshold':>9} {'recall':>7} {'fpr':>7}")
    for threshold in np.arange(0.50, 0.96, 0.025):
        print(
            f"{threshold:9.3f} {(positives >= threshold).mean():7.3f} {(negatives >= threshold).mean():7.3f}"
        )
    # model-only evidence on visible text (at most `plain_model`) must never flag a document on its own
    floor = detector.config.weights.plain_model + STRICT_FLOOR_MARGIN
    chosen = {
        "strict": max(threshold_at_fpr(negatives, 0.02), floor),
        "balanced": threshold_at_fpr(negatives, 0.005) + BALANCED_MARGIN,
        "permissive": float(negatives.max()) + PERMISSIVE_MARGIN,
    }
    print("chosen (round up to 2 decimals in thresholds.yaml):")
    for name, threshold in chosen.items():
        print(
            f"  {name}: {threshold:.4f}  recall {(positives >= threshold).mean():.3f}"
            f"  fpr {(negatives >= threshold).mean():.3f}"
        )


if __name__ == "__main__":
    main()
