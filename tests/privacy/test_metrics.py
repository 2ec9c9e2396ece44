"""Metrics on inputs whose answers are known, and against scikit-learn's implementation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from bastion.core.errors import InputError
from bastion.privacy.metrics import (
    membership_advantage,
    resolvable,
    roc_auc,
    roc_curve,
    summarize,
    tpr_at_fpr,
)


def test_perfect_reversed_and_tied_scores() -> None:
    truth = np.array([True, True, False, False])
    assert roc_auc(np.array([4.0, 3.0, 2.0, 1.0]), truth) == 1.0
    assert roc_auc(np.array([1.0, 2.0, 3.0, 4.0]), truth) == 0.0
    assert roc_auc(np.zeros(4), truth) == 0.5


def test_hand_computed_example() -> None:
    # positives 0.9, 0.4; negatives 0.5, 0.1: pairs won 3 of 4
    scores, truth = np.array([0.9, 0.5, 0.4, 0.1]), np.array([True, False, True, False])
    assert roc_auc(scores, truth) == pytest.approx(0.75)
    curve = roc_curve(scores, truth)
    assert curve.fpr.tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert curve.tpr.tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert tpr_at_fpr(curve, 0.0) == 0.5
    assert tpr_at_fpr(curve, 0.49) == 0.5
    assert tpr_at_fpr(curve, 0.5) == 1.0
    assert membership_advantage(curve) == pytest.approx(0.5)


def test_ties_form_one_operating_point() -> None:
    curve = roc_curve(np.array([1.0, 1.0, 0.0]), np.array([True, False, False]))
    assert curve.fpr.tolist() == [0.0, 0.5, 1.0]
    assert curve.tpr.tolist() == [0.0, 1.0, 1.0]


def test_low_fpr_is_only_resolvable_with_enough_negatives() -> None:
    assert resolvable(0.001, 1000) and not resolvable(0.001, 999)
    assert resolvable(0.01, 100) and not resolvable(0.01, 50)
    # with 500 negatives the first false positive already costs 0.2% FPR
    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(1, 1, 500), rng.normal(0, 1, 500)])
    truth = np.arange(1000) < 500
    summary, curve = summarize(scores, truth)
    assert summary.negatives == 500
    assert summary.tpr_at_01pct_fpr == tpr_at_fpr(curve, 0.0)


@pytest.mark.parametrize(
    ("scores", "truth"),
    [
        (np.array([1.0, 2.0]), np.array([True, True])),
        (np.array([1.0]), np.array([True, False])),
        (np.array([np.nan, 1.0]), np.array([True, False])),
        (np.array([np.inf, 1.0]), np.array([True, False])),
    ],
)
def test_bad_input_is_an_input_error(scores: np.ndarray, truth: np.ndarray) -> None:
    with pytest.raises(InputError):
        roc_auc(scores, truth)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=200).filter(
        lambda rows: 0 < sum(t for _, t in rows) < len(rows)
    )
)
def test_auc_matches_scikit_learn_and_curve_is_monotone(rows: list[tuple[int, bool]]) -> None:
    scores = np.array([float(s) for s, _ in rows])
    truth = np.array([t for _, t in rows])
    assert roc_auc(scores, truth) == pytest.approx(roc_auc_score(truth, scores))
    curve = roc_curve(scores, truth)
    assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.tpr) >= 0)
    assert (curve.fpr[0], curve.tpr[0], curve.fpr[-1], curve.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    # the trapezoid area under the exact curve is the AUC
    assert np.trapezoid(curve.tpr, curve.fpr) == pytest.approx(roc_auc(scores, truth))
    assert 0.0 <= membership_advantage(curve) <= 1.0
