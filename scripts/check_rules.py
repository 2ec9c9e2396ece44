"""Show how often each injection signature rule fires on benign and attack rows of every corpus.

Usage: ``python scripts/check_rules.py [--show-benign]``. A rule that fires on benign customer traffic
needs narrowing before it ships; its hits on attacks show what it adds.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from bastion.detect.injection.detector import rules
from bastion.detect.normalize import normalize
from bastion.evaluation.datasets import load_injection_corpus

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--show-benign", action="store_true", help="print the benign texts a rule fires on")
    args = parser.parse_args()
    corpus = load_injection_corpus(args.shared, ROOT / "datasets" / "domain")
    views = [(sample, normalize(sample.text).text) for sample in corpus]
    for rule in rules():
        benign: Counter[str] = Counter()
        attacks = 0
        for sample, text in views:
            if rule.compiled.search(text):
                if sample.label:
                    attacks += 1
                else:
                    benign[sample.source] += 1
                    if args.show_benign:
                        print(f"    {rule.id} FP [{sample.source}] {sample.text[:140]!r}")
        print(f"{rule.id:<32} attacks {attacks:>5}  benign {sum(benign.values()):>3} {dict(benign)}")


if __name__ == "__main__":
    main()
