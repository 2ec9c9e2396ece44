from __future__ import annotations

import numpy as np
import pytest

from bastion.evaluation.metrics import binary_metrics, recall_at_fpr, roc_auc, span_metrics, threshold_at_fpr


def test_auc_of_perfect_random_and_inverted_scores() -> None:
    labels = [0, 0, 1, 1]
    assert roc_auc(labels, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc(labels, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc(labels, [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_threshold_at_fpr_keeps_the_false_positive_budget() -> None:
    negatives = np.linspace(0, 1, 1000)
    threshold = threshold_at_fpr(negatives, 0.01)
    assert (negatives >= threshold).mean() <= 0.01
    assert (negatives >= threshold).sum() == 10


def test_recall_at_fpr() -> None:
    labels = np.array([0] * 100 + [1] * 4)
    scores = np.concatenate((np.linspace(0, 0.5, 100), [0.9, 0.8, 0.45, 0.1]))
    assert recall_at_fpr(labels, scores, 0.01) == pytest.approx(0.5)


def test_binary_metrics_at_a_threshold() -> None:
    metrics = binary_metrics([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1], 0.5)
    assert (metrics.precision, metrics.recall, metrics.fpr) == (0.5, 0.5, 0.5)


def test_span_metrics_exact_and_overlap() -> None:
    gold = [("EMAIL", 0, 10), ("IBAN", 20, 42)]
    predicted = [("EMAIL", 0, 10), ("IBAN", 21, 42), ("PERSON", 50, 55)]
    exact = span_metrics(gold, predicted)
    assert (exact.true_positives, exact.false_positives, exact.false_negatives) == (1, 2, 1)
    assert span_metrics(gold, predicted, overlap=True).true_positives == 2
