"""Run the attacks against a target, judge the result, and compare training recipes (the mitigation study).

- :func:`assess`: every applicable attack against one :class:`AttackContext`, the skipped ones with their
  reason, and the verdict of the policy.
- :func:`mitigation_study`: for each :class:`Recipe` (a way to train the model: the overfit original, a
  more regularised one, a differentially private one), train on the members, measure utility on the
  non-members and run the same attacks, so utility and leakage sit side by side.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bastion.core.errors import UpstreamError
from bastion.privacy.attacks import DEFAULT_ATTACKS, AttackContext, AttackResult, attacks
from bastion.privacy.datasets import TabularData
from bastion.privacy.metrics import roc_auc
from bastion.privacy.policy import PolicyVerdict, PrivacyPolicy, judge
from bastion.privacy.targets import BaseTarget, EstimatorTarget

__all__ = [
    "MitigationRow",
    "PrivacyAssessment",
    "Recipe",
    "Utility",
    "assess",
    "measure_utility",
    "mitigation_study",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Utility:
    """How good the model is on records it did not train on."""

    accuracy: float
    auc: float | None  # binary tasks with probabilities only
    majority_accuracy: float  # what always answering the most common class achieves


@dataclass(frozen=True, slots=True)
class PrivacyAssessment:
    target: str
    output: str
    results: tuple[AttackResult, ...]
    skipped: tuple[tuple[str, str], ...]
    verdict: PolicyVerdict
    members: int
    nonmembers: int
    shadows: int
    utility: Utility | None = None

    def result(self, attack_id: str) -> AttackResult:
        for result in self.results:
            if result.attack_id == attack_id:
                return result
        raise KeyError(attack_id)

    def worst_membership_auc(self) -> float:
        return max((r.summary.auc for r in self.results if r.kind.value == "membership"), default=0.5)

    def worst_tpr_at_1pct(self) -> float:
        return max(
            (r.summary.tpr_at_1pct_fpr for r in self.results if r.kind.value == "membership"), default=0.0
        )


@dataclass(frozen=True, slots=True)
class Recipe:
    """A way to train the target: ``factory`` builds an unfitted estimator (used for shadows too)."""

    name: str
    description: str
    factory: Callable[[], Any]


@dataclass(frozen=True, slots=True)
class MitigationRow:
    recipe: Recipe
    utility: Utility
    assessment: PrivacyAssessment
    train_seconds: float


def measure_utility(target: BaseTarget, holdout: TabularData) -> Utility:
    """Accuracy (and ROC AUC for two classes) on ``holdout``."""
    prediction = target.predict(holdout.features)
    accuracy = float(np.mean(prediction.labels == holdout.labels))
    majority = float(np.bincount(holdout.labels).max() / len(holdout))
    auc = None
    if prediction.probabilities is not None and prediction.probabilities.shape[1] == 2:
        truth = holdout.labels == 1
        if 0 < truth.sum() < truth.size:
            auc = roc_auc(prediction.probabilities[:, 1], truth)
    return Utility(accuracy, auc, majority)


def assess(
    context: AttackContext,
    policy: PrivacyPolicy,
    attack_ids: Sequence[str] = DEFAULT_ATTACKS,
    *,
    holdout: TabularData | None = None,
    progress: Callable[[str], None] | None = None,
) -> PrivacyAssessment:
    """Run ``attack_ids`` that apply to the target; the others are listed as skipped with the reason."""
    results: list[AttackResult] = []
    skipped: list[tuple[str, str]] = []
    for attack_id in attack_ids:
        attack = attacks.create(attack_id)
        reason = attack.applicable(context)
        if reason:
            skipped.append((attack_id, reason))
        else:
            started = time.perf_counter()
            results.append(attack.run(context))
            logger.info("attack done", extra={"attack": attack_id, "seconds": time.perf_counter() - started})
        if progress is not None:
            progress(attack_id)
    utility = measure_utility(context.target, holdout) if holdout is not None else None
    return PrivacyAssessment(
        target=context.target.name,
        output=context.target.output.value,
        results=tuple(results),
        skipped=tuple(skipped),
        verdict=judge(tuple(results), policy),
        members=len(context.members),
        nonmembers=len(context.nonmembers),
        shadows=context.shadows,
        utility=utility,
    )


def mitigation_study(
    members: TabularData,
    nonmembers: TabularData,
    recipes: Sequence[Recipe],
    policy: PrivacyPolicy,
    *,
    name: str,
    sensitive: str | None = None,
    shadows: int = 16,
    seed: int = 7,
    attack_ids: Sequence[str] = DEFAULT_ATTACKS,
    progress: Callable[[str], None] | None = None,
) -> list[MitigationRow]:
    """Train each recipe on ``members``, attack it with shadows of the same recipe, measure utility on
    ``nonmembers``."""
    rows: list[MitigationRow] = []
    for recipe in recipes:
        started = time.perf_counter()
        model = recipe.factory()
        try:
            model.fit(members.features, members.labels)
        except Exception as error:
            raise UpstreamError(f"recipe {recipe.name!r} failed to train: {type(error).__name__}") from error
        train_seconds = time.perf_counter() - started
        target = EstimatorTarget(model, name=f"{name}:{recipe.name}")
        context = AttackContext(
            target,
            members,
            nonmembers,
            shadow_factory=recipe.factory,
            shadows=shadows,
            sensitive=sensitive,
            seed=seed,
        )
        assessment = assess(context, policy, attack_ids, holdout=nonmembers, progress=progress)
        assert assessment.utility is not None
        rows.append(MitigationRow(recipe, assessment.utility, assessment, train_seconds))
    return rows
