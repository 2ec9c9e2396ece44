"""Shared fixtures: German Credit split three ways, an overfit model and models that cannot leak."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier

from bastion.privacy.datasets import GERMAN_CREDIT_SENSITIVE, TabularData, german_credit


def small_forest() -> RandomForestClassifier:
    """A full-depth forest (memorises its training records), small enough for fast tests."""
    return RandomForestClassifier(n_estimators=40, random_state=3, n_jobs=1)


@pytest.fixture(scope="session")
def german() -> TabularData:
    return german_credit()


@pytest.fixture(scope="session")
def thirds(german: TabularData) -> tuple[TabularData, TabularData, TabularData]:
    """Disjoint parts: 400 members, 400 non-members, 200 records an independent model trains on."""
    order = np.random.default_rng(11).permutation(len(german))
    return german.subset(order[:400]), german.subset(order[400:800]), german.subset(order[800:])


@pytest.fixture(scope="session")
def overfit_model(thirds: tuple[TabularData, TabularData, TabularData]) -> Any:
    members = thirds[0]
    return small_forest().fit(members.features, members.labels)


@pytest.fixture(scope="session")
def independent_model(thirds: tuple[TabularData, TabularData, TabularData]) -> Any:
    """Trained only on the third part: members and non-members are alike to it."""
    other = thirds[2]
    return small_forest().fit(other.features, other.labels)


@pytest.fixture(scope="session")
def constant_model(thirds: tuple[TabularData, TabularData, TabularData]) -> Any:
    """Answers the class prior whatever it is asked: no record can leak through it."""
    other = thirds[2]
    return DummyClassifier(strategy="prior").fit(other.features, other.labels)


@pytest.fixture(scope="session")
def forest_factory() -> Callable[[], Any]:
    return small_forest


SENSITIVE = GERMAN_CREDIT_SENSITIVE
