"""A user's model module, as ``--model tests.privacy.models:fitted_model`` loads it."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import RandomForestClassifier

from bastion.privacy.datasets import german_credit

NOT_A_MODEL = 42


def fitted_model() -> Any:
    """A full-depth forest fitted on the first 400 German Credit applicants."""
    data = german_credit()
    return RandomForestClassifier(n_estimators=30, random_state=0, n_jobs=1).fit(
        data.features[:400], data.labels[:400]
    )
