"""Differentially private learners for the mitigation study.

- :func:`diffprivlib_naive_bayes`: IBM diffprivlib's ``GaussianNB`` (epsilon-DP means and variances).
  diffprivlib 0.6.6 still imports two constants that scikit-learn 1.8 removed from
  ``sklearn.tree._tree`` (``DOUBLE`` = float64, ``DTYPE`` = float32, used only by its random forest);
  :func:`_import_diffprivlib` puts them back when they are missing so the package imports. (Its
  ``LogisticRegression`` passes ``multi_class`` to scikit-learn, which 1.8 no longer accepts, so it cannot
  be used with a current scikit-learn.)
- :class:`OutputPerturbationLogisticRegression`: epsilon-DP L2-regularised logistic regression by output
  perturbation (Chaudhuri, Monteleoni and Sarwate, JMLR 2011, algorithm 1), written here: features are
  scaled into the unit ball, the regularised minimiser has L2 sensitivity ``2 / (n * lambda)``, and noise
  with density proportional to ``exp(-epsilon * ||b|| / sensitivity)`` is added to the weights.

Both take the feature ``bounds`` (per-column minimum and maximum); when they are not given, they are
read from the training data, which leaks a little (a strict deployment fixes them from the schema).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.core.errors import InputError, UsageError
from bastion.privacy._optional import require

__all__ = ["OutputPerturbationLogisticRegression", "diffprivlib_naive_bayes"]

FloatArray = NDArray[np.float64]
Bounds = tuple[FloatArray, FloatArray]


def _import_diffprivlib() -> Any:
    tree = require("sklearn.tree._tree", "train")
    for name, value in (("DOUBLE", np.float64), ("DTYPE", np.float32)):
        if not hasattr(tree, name):
            setattr(tree, name, value)
    return require("diffprivlib.models")


def diffprivlib_naive_bayes(epsilon: float, bounds: Bounds | None = None, seed: int = 7) -> Any:
    """diffprivlib's epsilon-DP Gaussian naive Bayes (``bounds`` fixed at fit time when ``None``)."""
    return _BoundedNaiveBayes(epsilon, bounds, seed)


class _BoundedNaiveBayes:
    """Reads the bounds from the data at ``fit`` when none are given, then delegates to diffprivlib."""

    def __init__(self, epsilon: float, bounds: Bounds | None, seed: int) -> None:
        self.epsilon, self.bounds, self.seed = epsilon, bounds, seed
        self._model: Any = None

    def fit(self, features: FloatArray, labels: NDArray[np.int64]) -> _BoundedNaiveBayes:
        bounds = self.bounds or (features.min(axis=0), features.max(axis=0))
        model = _import_diffprivlib().GaussianNB(epsilon=self.epsilon, bounds=bounds, random_state=self.seed)
        model.fit(features, labels)
        self._model = model
        self.classes_ = model.classes_
        return self

    def predict_proba(self, features: FloatArray) -> FloatArray:
        if self._model is None:
            raise UsageError("fit the model first")
        return np.asarray(self._model.predict_proba(features), dtype=np.float64)

    def predict(self, features: FloatArray) -> NDArray[np.int64]:
        return np.asarray(self.predict_proba(features).argmax(axis=1), dtype=np.int64)


class OutputPerturbationLogisticRegression:
    """epsilon-DP binary logistic regression (labels 0 and 1) with L2 strength ``regularization``."""

    def __init__(
        self, epsilon: float = 1.0, regularization: float = 0.1, bounds: Bounds | None = None, seed: int = 7
    ) -> None:
        if epsilon <= 0 or regularization <= 0:
            raise UsageError("epsilon and regularization must be positive")
        self.epsilon, self.regularization, self.bounds, self.seed = epsilon, regularization, bounds, seed
        self.coef_: FloatArray | None = None
        self.classes_ = np.array([0, 1])

    def _scaled(self, features: FloatArray) -> FloatArray:
        assert self._low is not None and self._span is not None
        unit = np.clip((features - self._low) / self._span, 0.0, 1.0)
        augmented = np.column_stack([unit, np.ones(features.shape[0])])
        return np.asarray(augmented / np.sqrt(augmented.shape[1]), dtype=np.float64)  # ||x|| <= 1

    def fit(self, features: FloatArray, labels: NDArray[np.int64]) -> OutputPerturbationLogisticRegression:
        from sklearn.linear_model import LogisticRegression

        if not set(np.unique(labels).tolist()) <= {0, 1}:
            raise InputError("the DP logistic regression takes labels 0 and 1 only")
        low, high = self.bounds or (features.min(axis=0), features.max(axis=0))
        self._low, self._span = low, np.where(high > low, high - low, 1.0)
        scaled = self._scaled(features)
        rows = scaled.shape[0]
        # scikit-learn minimises C * sum(loss) + ||w||^2 / 2: mean loss + lambda/2 ||w||^2 at C = 1/(n lambda)
        model = LogisticRegression(C=1.0 / (rows * self.regularization), fit_intercept=False, max_iter=1000)
        model.fit(scaled, labels)
        sensitivity = 2.0 / (rows * self.regularization)
        rng = np.random.default_rng(self.seed)
        direction = rng.normal(size=scaled.shape[1])
        norm = float(rng.gamma(shape=scaled.shape[1], scale=sensitivity / self.epsilon))
        noise = norm * direction / float(np.linalg.norm(direction))
        self.coef_ = np.asarray(model.coef_[0] + noise, dtype=np.float64)
        return self

    def predict_proba(self, features: FloatArray) -> FloatArray:
        if self.coef_ is None:
            raise UsageError("fit the model first")
        positive = 1.0 / (1.0 + np.exp(-(self._scaled(features) @ self.coef_)))
        return np.column_stack([1.0 - positive, positive])

    def predict(self, features: FloatArray) -> NDArray[np.int64]:
        return np.asarray(self.predict_proba(features).argmax(axis=1), dtype=np.int64)

    _low: FloatArray | None = None
    _span: FloatArray | None = None
