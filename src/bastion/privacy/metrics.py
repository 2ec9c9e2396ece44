"""Metrics of the privacy-attack literature, computed exactly from scores (numpy only).

An attack gives each candidate a score (higher: more likely a member, or more likely to hold the
sensitive value). From the scores and the truth:

- :func:`roc_curve`: every operating point (false-positive rate, true-positive rate), ties kept together;
- :func:`roc_auc`: the area under it (the Mann-Whitney statistic, ties counted as half);
- :func:`tpr_at_fpr`: the best true-positive rate among thresholds whose false-positive rate does not
  exceed the target (Carlini et al., "Membership Inference Attacks From First Principles", 2022). With
  ``n`` negatives the smallest non-zero false-positive rate is ``1 / n``: a rate of 0.1% needs at least
  1,000 negatives to mean anything, and :func:`resolvable` says whether it does;
- :func:`membership_advantage`: ``max(TPR - FPR)`` over thresholds (Yeom et al., 2018).

>>> import numpy as np
>>> roc_auc(np.array([0.9, 0.8, 0.3, 0.1]), np.array([True, True, False, False]))
1.0
>>> roc_auc(np.array([0.5, 0.5]), np.array([True, False]))
0.5
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bastion.core.errors import InputError

__all__ = [
    "RocCurve",
    "ScoreSummary",
    "membership_advantage",
    "resolvable",
    "roc_auc",
    "roc_curve",
    "summarize",
    "tpr_at_fpr",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class RocCurve:
    """Operating points from the strictest threshold (0, 0) to the loosest (1, 1)."""

    fpr: FloatArray
    tpr: FloatArray


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    """The figures reported for one attack."""

    auc: float
    tpr_at_1pct_fpr: float
    tpr_at_01pct_fpr: float
    advantage: float
    positives: int
    negatives: int


def _check(scores: FloatArray, truth: BoolArray) -> tuple[FloatArray, BoolArray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    truth = np.asarray(truth, dtype=bool).ravel()
    if scores.shape != truth.shape:
        raise InputError(f"{scores.size} scores for {truth.size} labels")
    if not np.all(np.isfinite(scores)):
        raise InputError("scores must be finite numbers")
    positives = int(truth.sum())
    if positives in (0, truth.size):
        raise InputError("the metrics need at least one positive and one negative")
    return scores, truth


def roc_curve(scores: FloatArray, truth: BoolArray) -> RocCurve:
    """All operating points of ``scores`` against ``truth``; equal scores form one point."""
    scores, truth = _check(scores, truth)
    order = np.argsort(-scores, kind="mergesort")
    ordered_scores, ordered_truth = scores[order], truth[order]
    # the last index of each run of equal scores is where a threshold can sit
    distinct = np.flatnonzero(np.diff(ordered_scores)) if ordered_scores.size > 1 else np.array([], int)
    cuts = np.concatenate([distinct, [ordered_truth.size - 1]])
    true_positives = np.cumsum(ordered_truth)[cuts]
    false_positives = (cuts + 1) - true_positives
    tpr = np.concatenate([[0.0], true_positives / truth.sum()])
    fpr = np.concatenate([[0.0], false_positives / (~truth).sum()])
    return RocCurve(fpr=fpr.astype(np.float64), tpr=tpr.astype(np.float64))


def roc_auc(scores: FloatArray, truth: BoolArray) -> float:
    """Area under the ROC curve: the chance a random positive scores above a random negative."""
    scores, truth = _check(scores, truth)
    ranks = _average_ranks(scores)
    positives = int(truth.sum())
    negatives = truth.size - positives
    statistic = ranks[truth].sum() - positives * (positives + 1) / 2.0
    return float(statistic / (positives * negatives))


def _average_ranks(values: FloatArray) -> FloatArray:
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    boundaries = np.concatenate([[0], np.flatnonzero(np.diff(sorted_values)) + 1, [values.size]])
    for start, end in itertools.pairwise(boundaries):
        ranks[order[start:end]] = (start + end + 1) / 2.0  # ranks start + 1 .. end, averaged
    return ranks


def tpr_at_fpr(curve: RocCurve, max_fpr: float) -> float:
    """The highest true-positive rate at a false-positive rate of at most ``max_fpr``."""
    if not 0.0 <= max_fpr <= 1.0:
        raise InputError(f"false-positive rate {max_fpr!r} is outside [0, 1]")
    allowed = curve.fpr <= max_fpr + 1e-12
    return float(curve.tpr[allowed].max())


def membership_advantage(curve: RocCurve) -> float:
    """``max(TPR - FPR)`` over thresholds: 0 for guessing, 1 for a perfect attack."""
    return float(max(0.0, float(np.max(curve.tpr - curve.fpr))))


def resolvable(max_fpr: float, negatives: int) -> bool:
    """Whether ``negatives`` negatives can show a false-positive rate as low as ``max_fpr``."""
    return negatives > 0 and 1.0 / negatives <= max_fpr + 1e-12


def summarize(scores: FloatArray, truth: BoolArray) -> tuple[ScoreSummary, RocCurve]:
    """AUC, TPR at 1% and 0.1% FPR and the advantage, with the curve they come from."""
    curve = roc_curve(scores, truth)
    truth = np.asarray(truth, dtype=bool).ravel()
    summary = ScoreSummary(
        auc=roc_auc(scores, truth),
        tpr_at_1pct_fpr=tpr_at_fpr(curve, 0.01),
        tpr_at_01pct_fpr=tpr_at_fpr(curve, 0.001),
        advantage=membership_advantage(curve),
        positives=int(truth.sum()),
        negatives=int((~truth).sum()),
    )
    return summary, curve
