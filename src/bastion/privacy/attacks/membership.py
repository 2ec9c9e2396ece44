"""Membership inference from the target's probabilities: thresholds, shadow models and LiRA.

- ``membership.loss``: the negative cross-entropy loss of the true class (Yeom et al., CSF 2018);
- ``membership.confidence``: the highest class probability (Salem et al., NDSS 2019);
- ``membership.shadow``: an attack classifier trained on shadow models' answers for records they did and
  did not train on (Shokri et al., S&P 2017), features = true-class probability, top probability,
  entropy and the logit-scaled confidence, plus the true class;
- ``membership.lira_offline`` / ``membership.lira_online``: the likelihood-ratio attack (Carlini et al.,
  S&P 2022). The logit-scaled confidence (probabilities clipped to [0.01, 0.99], see
  :data:`~bastion.privacy.attacks._base.CONFIDENCE_CLIP`) of each candidate under the shadows that did
  not (offline) or did and did not (online) train on it is modelled as Gaussian; the score is the
  one-sided z-score against the *out* distribution (offline) or the log-likelihood ratio *in* vs *out*
  (online). With fewer than 64 shadows the variance is pooled over all candidates, as the paper advises.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from bastion.privacy._optional import require
from bastion.privacy.attacks._base import (
    EPSILON,
    AttackContext,
    AttackKind,
    AttackOutcome,
    BaseAttack,
    logit_confidence,
)
from bastion.privacy.targets import Output

__all__ = [
    "ConfidenceThresholdAttack",
    "LiraOfflineAttack",
    "LiraOnlineAttack",
    "LossThresholdAttack",
    "ShadowModelAttack",
]

FloatArray = NDArray[np.float64]
#: from this many shadows per side on, LiRA uses each candidate's own variance
PER_EXAMPLE_VARIANCE_FROM = 32


class LossThresholdAttack(BaseAttack):
    id: ClassVar[str] = "membership.loss"
    kind = AttackKind.MEMBERSHIP
    needs = Output.PROBABILITIES
    description = "members have a lower loss on their true class"
    reference = "Yeom et al., Privacy Risk in Machine Learning, CSF 2018"

    def _attack(self, context: AttackContext) -> AttackOutcome:
        probabilities = context.target_prediction().probabilities
        assert probabilities is not None
        labels = context.candidates.labels
        true = np.clip(probabilities[np.arange(labels.size), labels], EPSILON, 1.0)
        return AttackOutcome(np.log(true), context.is_member)


class ConfidenceThresholdAttack(BaseAttack):
    id: ClassVar[str] = "membership.confidence"
    kind = AttackKind.MEMBERSHIP
    needs = Output.PROBABILITIES
    description = "members get more confident answers"
    reference = "Salem et al., ML-Leaks, NDSS 2019"

    def _attack(self, context: AttackContext) -> AttackOutcome:
        probabilities = context.target_prediction().probabilities
        assert probabilities is not None
        return AttackOutcome(probabilities.max(axis=1), context.is_member)


def _attack_features(probabilities: FloatArray, labels: NDArray[np.int64], classes: int) -> FloatArray:
    clipped = np.clip(probabilities, EPSILON, 1.0)
    entropy = -(clipped * np.log(clipped)).sum(axis=1)
    true = probabilities[np.arange(labels.size), labels]
    one_hot = np.eye(classes)[labels]
    return np.column_stack(
        [true, probabilities.max(axis=1), entropy, logit_confidence(probabilities, labels), one_hot]
    )


class ShadowModelAttack(BaseAttack):
    id: ClassVar[str] = "membership.shadow"
    kind = AttackKind.MEMBERSHIP
    needs = Output.PROBABILITIES
    description = "a classifier trained on shadow models tells members from non-members"
    reference = "Shokri et al., Membership Inference Attacks against ML Models, S&P 2017"
    uses_shadows = True

    def _attack(self, context: AttackContext) -> AttackOutcome:
        from sklearn.ensemble import HistGradientBoostingClassifier

        threadpool_limits = require("threadpoolctl", "train").threadpool_limits

        bank = context.shadow_bank()
        labels = context.candidates.labels
        features = np.concatenate(
            [_attack_features(bank.probabilities[s], labels, context.classes) for s in range(bank.count)]
        )
        attack_model = HistGradientBoostingClassifier(max_iter=100, random_state=context.seed)
        with threadpool_limits(limits=1):  # OpenMP threads only thrash a shared machine at this size
            attack_model.fit(features, bank.inside.ravel())
        probabilities = context.target_prediction().probabilities
        assert probabilities is not None
        target_features = _attack_features(probabilities, labels, context.classes)
        scores = np.asarray(attack_model.predict_proba(target_features)[:, 1], dtype=np.float64)
        return AttackOutcome(scores, context.is_member)


def _gaussian_fit(values: FloatArray, mask: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """Per-candidate mean of ``values`` where ``mask`` holds, and a standard deviation (per candidate
    with enough shadows, else pooled)."""
    counts = mask.sum(axis=0)
    means = np.where(mask, values, 0.0).sum(axis=0) / np.maximum(counts, 1)
    residuals = np.where(mask, values - means, 0.0)
    if counts.min() >= PER_EXAMPLE_VARIANCE_FROM:
        spread = np.sqrt((residuals**2).sum(axis=0) / np.maximum(counts - 1, 1))
    else:
        pooled = np.sqrt((residuals**2).sum() / max(int(counts.sum()) - counts.size, 1))
        spread = np.full(means.shape, pooled)
    return means, np.maximum(spread, 1e-3)


def _shadow_statistics(context: AttackContext) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    bank = context.shadow_bank()
    labels = context.candidates.labels
    shadow = np.stack([logit_confidence(bank.probabilities[s], labels) for s in range(bank.count)])
    probabilities = context.target_prediction().probabilities
    assert probabilities is not None
    return logit_confidence(probabilities, labels), shadow, bank.inside


class LiraOfflineAttack(BaseAttack):
    id: ClassVar[str] = "membership.lira_offline"
    kind = AttackKind.MEMBERSHIP
    needs = Output.PROBABILITIES
    description = "likelihood ratio against shadow models that did not train on the record"
    reference = "Carlini et al., Membership Inference Attacks From First Principles, S&P 2022"
    uses_shadows = True

    def _attack(self, context: AttackContext) -> AttackOutcome:
        observed, shadow, inside = _shadow_statistics(context)
        mean_out, spread_out = _gaussian_fit(shadow, ~inside)
        return AttackOutcome((observed - mean_out) / spread_out, context.is_member)


class LiraOnlineAttack(BaseAttack):
    id: ClassVar[str] = "membership.lira_online"
    kind = AttackKind.MEMBERSHIP
    needs = Output.PROBABILITIES
    description = "likelihood ratio between shadow models that did and did not train on the record"
    reference = "Carlini et al., Membership Inference Attacks From First Principles, S&P 2022"
    uses_shadows = True

    def _attack(self, context: AttackContext) -> AttackOutcome:
        observed, shadow, inside = _shadow_statistics(context)
        mean_in, spread_in = _gaussian_fit(shadow, inside)
        mean_out, spread_out = _gaussian_fit(shadow, ~inside)
        log_in = -np.log(spread_in) - 0.5 * ((observed - mean_in) / spread_in) ** 2
        log_out = -np.log(spread_out) - 0.5 * ((observed - mean_out) / spread_out) ** 2
        return AttackOutcome(log_in - log_out, context.is_member)
