"""Train the shipped injection model (reproducible: fixed data, fixed split, fixed seed).

Usage::

    python scripts/train_injection.py [--shared ../shared/data] [--domain datasets/domain] [--bits 18]

Reads the public sets and our domain corpus (see :mod:`bastion.evaluation.datasets`), trains logistic
regression over hashed positional n-gram features (:mod:`bastion.detect.injection.features`) on the train
split of the trainable sources, picks the regularisation on the validation split, then chooses the
threshold of each policy on the validation split of benign customer traffic at a fixed false-positive rate
(with the full detector: model, views and signature rules). Writes
``src/bastion/data/injection/model.npz`` and prints validation figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

from bastion.core.types import Policy
from bastion.detect.injection.detector import InjectionDetector
from bastion.detect.injection.features import feature_vector
from bastion.detect.injection.model import LinearModel, model_from_arrays
from bastion.detect.normalize import normalize
from bastion.evaluation.datasets import Sample, load_injection_corpus
from bastion.evaluation.metrics import recall_at_fpr, roc_auc, threshold_at_fpr

ROOT = Path(__file__).resolve().parents[1]
MODEL_PATH = ROOT / "src" / "bastion" / "data" / "injection" / "model.npz"
#: false-positive rate on validation customer traffic that fixes each policy's threshold
POLICY_FPR = {Policy.STRICT: 0.01, Policy.BALANCED: 0.003, Policy.PERMISSIVE: 0.001}
DOMAIN_WEIGHT = 3.0


def matrix(samples: list[Sample], bits: int) -> sparse.csr_matrix:
    indptr, indices, values = [0], [], []
    for sample in samples:
        idx, val = feature_vector(normalize(sample.text).text, bits)
        indices.append(idx)
        values.append(val)
        indptr.append(indptr[-1] + len(idx))
    return sparse.csr_matrix(
        (np.concatenate(values), np.concatenate(indices), np.array(indptr)), shape=(len(samples), 2**bits)
    )


def to_model(
    classifier: LogisticRegression, bits: int, thresholds: dict[Policy, float], info: dict
) -> LinearModel:
    arrays = {
        "weights": classifier.coef_[0].astype(np.float16).astype(np.float32),
        "bias": np.float32(classifier.intercept_[0]),
        "bits": np.int64(bits),
        "info": json.dumps({**info, "thresholds": {str(p): t for p, t in thresholds.items()}}),
    }
    return model_from_arrays(arrays)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--domain", type=Path, default=ROOT / "datasets" / "domain")
    parser.add_argument("--bits", type=int, default=18)
    parser.add_argument("--c", type=float, nargs="*", default=[0.5, 1.0, 2.0, 4.0, 8.0])
    parser.add_argument("--dry-run", action="store_true", help="do not write the model file")
    args = parser.parse_args()

    started = time.time()
    corpus = load_injection_corpus(args.shared, args.domain)
    train = [s for s in corpus if s.split == "train" and s.spec.trainable]
    validation = [s for s in corpus if s.split == "validation"]
    print(
        f"corpus {len(corpus)}: train {len(train)} (positives {sum(s.label for s in train)}), "
        f"validation {len(validation)}"
    )
    x_train = matrix(train, args.bits)
    y_train = np.array([s.label for s in train])
    weights = np.array([DOMAIN_WEIGHT if s.source == "bastion-domain" else 1.0 for s in train])
    x_val = matrix(validation, args.bits)
    y_val = np.array([s.label for s in validation])
    customer = np.array([s.spec.customer_traffic and s.label == 0 for s in validation])
    positives = y_val == 1

    best: tuple[float, float, LogisticRegression] | None = None
    for c in args.c:
        classifier = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000)
        classifier.fit(x_train, y_train, sample_weight=weights)
        scores = classifier.decision_function(x_val)
        mask = customer | positives
        recall = recall_at_fpr(positives[mask], scores[mask], 0.01)
        auc = roc_auc(y_val, scores)
        print(f"C={c:<5} validation: AUC {auc:.4f}, recall@1%FPR(customer) {recall:.4f}")
        if best is None or (recall, auc) > (best[0], best[1]):
            best = (recall, auc, classifier)
    assert best is not None
    classifier = best[2]

    info = {
        "trained": time.strftime("%Y-%m-%d"),
        "C": classifier.C,
        "train_samples": len(train),
        "train_positives": int(y_train.sum()),
        "features": f"hashed char 3-5 grams + word 1-2 grams, 2**{args.bits}",
    }
    provisional = to_model(classifier, args.bits, {p: 0.5 for p in Policy}, info)
    detector = InjectionDetector(model=provisional, threshold=0.5)
    detector_scores = np.array([detector.score(s.text) for s in validation])
    thresholds = {p: threshold_at_fpr(detector_scores[customer], fpr) for p, fpr in POLICY_FPR.items()}
    for policy, threshold in thresholds.items():
        recall = float((detector_scores[positives] >= threshold).mean())
        fpr = float((detector_scores[customer] >= threshold).mean())
        print(
            f"{policy:<10} threshold {threshold:.4f}: validation recall {recall:.4f}, customer FPR {fpr:.4f}"
        )
    info["validation_auc"] = roc_auc(y_val, detector_scores)
    model = to_model(classifier, args.bits, thresholds, info)
    if not args.dry_run:
        np.savez_compressed(
            MODEL_PATH,
            weights=model.weights.astype(np.float16),
            bias=np.float32(model.bias),
            bits=np.int64(model.bits),
            info=json.dumps({**info, "thresholds": {str(p): t for p, t in thresholds.items()}}),
        )
        print(
            f"wrote {MODEL_PATH} ({MODEL_PATH.stat().st_size / 1e6:.2f} MB) in {time.time() - started:.0f} s"
        )


if __name__ == "__main__":
    main()
