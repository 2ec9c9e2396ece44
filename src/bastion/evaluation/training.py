"""Training the injection model (needs the ``train`` extra: scikit-learn, scipy).

Used by ``scripts/train_injection.py`` (the shipped model) and by ``benchmarks/bench_injection.py``
(leave-source-out generalisation), so both train exactly the same way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.core.types import Policy
from bastion.detect.injection.detector import InjectionDetector
from bastion.detect.injection.features import CHAR_NGRAMS, feature_vector
from bastion.detect.injection.model import POLICY_SCORES, LinearModel, model_from_arrays
from bastion.detect.normalize import normalize
from bastion.evaluation.datasets import Sample
from bastion.evaluation.metrics import recall_at_fpr, roc_auc, threshold_at_fpr

__all__ = ["DOMAIN_WEIGHT", "POLICY_FPR", "TrainingResult", "model_arrays", "train_injection_model"]

#: false-positive rate on validation customer traffic that fixes each policy's threshold
POLICY_FPR = {Policy.STRICT: 0.03, Policy.BALANCED: 0.01, Policy.PERMISSIVE: 0.003}
#: our own domain messages count this many times in the loss (they are what the users' traffic looks like)
DOMAIN_WEIGHT = 3.0


@dataclass(frozen=True)
class TrainingResult:
    model: LinearModel
    log: list[str]


def _matrix(samples: Sequence[Sample], bits: int) -> Any:
    from scipy import sparse

    indptr, indices, values = [0], [], []
    for sample in samples:
        idx, val = feature_vector(normalize(sample.text).text, bits, CHAR_NGRAMS)
        indices.append(idx)
        values.append(val)
        indptr.append(indptr[-1] + len(idx))
    return sparse.csr_matrix(
        (np.concatenate(values), np.concatenate(indices), np.array(indptr)), shape=(len(samples), 2**bits)
    )


def model_arrays(weights: np.ndarray, bias: float, bits: int, info: dict[str, Any]) -> dict[str, Any]:
    """The arrays of a model file (weights stored as float16)."""
    return {
        "weights": weights.astype(np.float16),
        "bias": np.float32(bias),
        "bits": np.int64(bits),
        "info": json.dumps(info),
    }


def train_injection_model(
    train: Sequence[Sample],
    validation: Sequence[Sample],
    bits: int = 18,
    c_values: Sequence[float] = (16.0, 32.0, 64.0),
) -> TrainingResult:
    """Fit, pick C on validation, set each policy's threshold at its FPR on validation customer traffic."""
    from sklearn.linear_model import LogisticRegression

    log: list[str] = []
    x_train = _matrix(train, bits)
    y_train = np.array([s.label for s in train])
    weights = np.array([DOMAIN_WEIGHT if s.source == "bastion-domain" else 1.0 for s in train])
    x_val = _matrix(validation, bits)
    y_val = np.array([s.label for s in validation])
    customer = np.array([s.spec.customer_traffic and s.label == 0 for s in validation])
    positives = y_val == 1
    mask = customer | positives

    best: tuple[float, float, Any] | None = None
    for c in c_values:
        classifier = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000)
        classifier.fit(x_train, y_train, sample_weight=weights)
        scores = classifier.decision_function(x_val)
        recall = recall_at_fpr(positives[mask], scores[mask], 0.01)
        auc = roc_auc(y_val, scores)
        log.append(f"C={c:<5} validation: AUC {auc:.4f}, recall@1%FPR(customer) {recall:.4f}")
        if best is None or (recall, auc) > (best[0], best[1]):
            best = (recall, auc, classifier)
    assert best is not None
    classifier = best[2]
    info: dict[str, Any] = {
        "trained": time.strftime("%Y-%m-%d"),
        "C": classifier.C,
        "train_samples": len(train),
        "train_positives": int(y_train.sum()),
        "features": f"hashed char {CHAR_NGRAMS} grams + word 1-2 grams, 2**{bits} buckets",
        "char_ngrams": list(CHAR_NGRAMS),
    }
    coefficients = np.asarray(classifier.coef_[0], dtype=np.float32)
    bias = float(classifier.intercept_[0])
    provisional = model_from_arrays(
        model_arrays(
            coefficients, bias, bits, {**info, "thresholds": {str(p): POLICY_SCORES[p] for p in Policy}}
        )
    )
    # with the policy scores as thresholds the calibration is the identity: the detector reports probabilities
    detector = InjectionDetector(model=provisional, threshold=0.5)
    scores = np.array([detector.score(s.text) for s in validation])
    # each group of customer traffic must stay within the policy's FPR on its own, so the large and easy
    # public banking sets cannot hide false positives on our harder domain messages
    groups = [
        np.array([s.source != "bastion-domain" for s in validation]) & customer,
        *(
            np.array([s.source == "bastion-domain" and s.lang == lang for s in validation]) & customer
            for lang in ("en", "de")
        ),
    ]
    thresholds = {
        p: max(threshold_at_fpr(scores[group], fpr) for group in groups if group.any())
        for p, fpr in POLICY_FPR.items()
    }
    for policy, threshold in thresholds.items():
        recall = float((scores[positives] >= threshold).mean())
        fpr = float((scores[customer] >= threshold).mean())
        log.append(
            f"{policy:<10} threshold {threshold:.4f}: validation recall {recall:.4f}, customer FPR {fpr:.4f}"
        )
    info["validation_auc"] = roc_auc(y_val, scores)
    info["thresholds"] = {str(p): t for p, t in thresholds.items()}
    return TrainingResult(model_from_arrays(model_arrays(coefficients, bias, bits, info)), log)
