"""Train the shipped injection model (reproducible: fixed data, fixed split, fixed solver).

Usage::

    python scripts/train_injection.py [--shared ../shared/data] [--domain datasets/domain] [--bits 18]

Reads the public sets and our domain corpus (:mod:`bastion.evaluation.datasets`), trains logistic regression
over hashed positional n-gram features on the train split of the trainable sources, picks the regularisation
on the validation split, then sets the threshold of each policy on the validation split of benign customer
traffic at a fixed false-positive rate, measured with the full detector (model, views and signature rules).
Writes ``src/bastion/data/injection/model.npz``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from bastion.evaluation.datasets import load_injection_corpus
from bastion.evaluation.training import model_arrays, train_injection_model

ROOT = Path(__file__).resolve().parents[1]
MODEL_PATH = ROOT / "src" / "bastion" / "data" / "injection" / "model.npz"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--domain", type=Path, default=ROOT / "datasets" / "domain")
    parser.add_argument("--bits", type=int, default=18)
    parser.add_argument("--c", type=float, nargs="*", default=[16.0, 32.0, 64.0])
    parser.add_argument("--output", type=Path, default=MODEL_PATH)
    args = parser.parse_args()

    started = time.time()
    corpus = load_injection_corpus(args.shared, args.domain)
    train = [s for s in corpus if s.split == "train" and s.spec.trainable and s.in_scope]
    validation = [s for s in corpus if s.split == "validation" and s.in_scope]
    print(
        f"corpus {len(corpus)}: train {len(train)} (positives {sum(s.label for s in train)}), "
        f"validation {len(validation)}"
    )
    result = train_injection_model(train, validation, bits=args.bits, c_values=args.c)
    print("\n".join(result.log))
    model = result.model
    np.savez_compressed(args.output, **model_arrays(model.weights, model.bias, model.bits, model.info))
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB) in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
