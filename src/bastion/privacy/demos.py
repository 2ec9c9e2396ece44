"""The demo targets and the training recipes of the mitigation study.

- ``german-credit``: a credit-scoring model on UCI German Credit (500 applicants to train on, 500 kept
  out), deliberately overfit (a full-depth random forest) so there is leakage to find;
- ``payments``: a payment-propensity model on the demo system's synthetic collection cases
  (``bastion.demo``), same recipe; large enough for 0.1% FPR to be measured (over 1,000 non-members).

Recipes: ``overfit`` (full-depth forest), ``regularised`` (depth 4, at least 20 records per leaf),
``dp-logistic`` (epsilon-DP logistic regression by output perturbation, :mod:`bastion.privacy.dp`) and
``dp-naive-bayes`` (diffprivlib's epsilon-DP Gaussian naive Bayes), both at epsilon 1 with the feature
bounds of the whole demo data set (the ranges a schema would declare).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bastion.core.errors import UsageError
from bastion.privacy.assessment import Recipe
from bastion.privacy.datasets import (
    GERMAN_CREDIT_SENSITIVE,
    PAYMENTS_SENSITIVE,
    TabularData,
    debtor_payments,
    german_credit,
    split,
)
from bastion.privacy.dp import Bounds, OutputPerturbationLogisticRegression, diffprivlib_naive_bayes

__all__ = ["DEMOS", "DemoSetup", "demo_setup", "recipes"]

DEMOS = ("german-credit", "payments")


@dataclass(frozen=True, slots=True)
class DemoSetup:
    name: str
    members: TabularData
    nonmembers: TabularData
    sensitive: str
    recipes: tuple[Recipe, ...]


def _forest(seed: int, **options: Any) -> Callable[[], Any]:
    def build() -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1, **options)

    return build


def recipes(
    features: int, seed: int = 7, epsilon: float = 1.0, bounds: Bounds | None = None
) -> tuple[Recipe, ...]:
    """The recipes for data with ``features`` columns; the first is the deliberately leaky one.
    ``bounds`` (per-column minimum and maximum) are what the DP learners assume about the data."""
    del features  # every recipe works on any number of columns
    return (
        Recipe("overfit", "random forest, 100 trees, full depth", _forest(seed)),
        Recipe(
            "regularised",
            "random forest, 100 trees, depth 4, >= 20 records per leaf",
            _forest(seed, max_depth=4, min_samples_leaf=20),
        ),
        Recipe(
            "dp-logistic",
            f"DP logistic regression, output perturbation (epsilon {epsilon:g})",
            lambda: OutputPerturbationLogisticRegression(epsilon=epsilon, bounds=bounds, seed=seed),
        ),
        Recipe(
            "dp-naive-bayes",
            f"diffprivlib GaussianNB (epsilon {epsilon:g})",
            lambda: diffprivlib_naive_bayes(epsilon, bounds, seed),
        ),
    )


def demo_setup(name: str, seed: int = 7, debtors_per_tenant: int = 1_000) -> DemoSetup:
    """The data split and recipes of demo ``name`` (one of :data:`DEMOS`)."""
    if name == "german-credit":
        data, sensitive = german_credit(), GERMAN_CREDIT_SENSITIVE
    elif name == "payments":
        data, sensitive = (
            debtor_payments(seed=seed, debtors_per_tenant=debtors_per_tenant),
            PAYMENTS_SENSITIVE,
        )
    else:
        raise UsageError(f"unknown demo {name!r} (known: {', '.join(DEMOS)})")
    members, nonmembers = split(data, 0.5, seed)
    bounds = (data.features.min(axis=0), data.features.max(axis=0))  # the schema's ranges, both halves
    return DemoSetup(name, members, nonmembers, sensitive, recipes(len(data.columns), seed, bounds=bounds))
