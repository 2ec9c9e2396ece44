"""Membership inference when the target answers labels only.

- ``membership.label_gap``: a candidate is called a member when the target classifies it correctly (the
  "gap attack" of Yeom et al. 2018, the baseline of every label-only paper);
- ``membership.label_noise``: the noise-robustness attack of Choquette-Choo et al. (ICML 2021). Members
  sit further from the decision boundary, so their label survives perturbation more often. Each candidate
  is queried with ``noise_queries`` copies whose continuous columns get Gaussian noise at three scales
  (0.1, 0.3 and 1 standard deviation of the column over the candidates) and whose binary columns are
  flipped with a small probability; the score is the share of copies (and the clean record) that keep the
  true label.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from bastion.privacy.attacks._base import AttackContext, AttackKind, AttackOutcome, BaseAttack
from bastion.privacy.targets import Output

__all__ = ["LabelGapAttack", "LabelNoiseAttack"]

#: noise scales, in standard deviations of each continuous column
NOISE_SCALES = (0.1, 0.3, 1.0)
#: chance of flipping a binary column in a copy, per noise scale
FLIP_CHANCE = (0.02, 0.05, 0.1)


class LabelGapAttack(BaseAttack):
    id: ClassVar[str] = "membership.label_gap"
    kind = AttackKind.MEMBERSHIP
    needs = Output.LABELS
    description = "correctly classified records are called members"
    reference = "Yeom et al., Privacy Risk in Machine Learning, CSF 2018"

    def _attack(self, context: AttackContext) -> AttackOutcome:
        correct = context.target_prediction().labels == context.candidates.labels
        return AttackOutcome(correct.astype(np.float64), context.is_member)


class LabelNoiseAttack(BaseAttack):
    id: ClassVar[str] = "membership.label_noise"
    kind = AttackKind.MEMBERSHIP
    needs = Output.LABELS
    description = "members keep their label under more perturbation"
    reference = "Choquette-Choo et al., Label-Only Membership Inference Attacks, ICML 2021"

    def _attack(self, context: AttackContext) -> AttackOutcome:
        candidates = context.candidates
        features, labels = candidates.features, candidates.labels
        rng = np.random.default_rng(context.seed + 1)
        binary = np.all((features == 0.0) | (features == 1.0), axis=0)
        spread = features.std(axis=0)
        copies_per_scale = max(1, context.noise_queries // len(NOISE_SCALES))
        batches = []
        for scale, flip in zip(NOISE_SCALES, FLIP_CHANCE, strict=True):
            repeated = np.repeat(features, copies_per_scale, axis=0)
            noise = rng.normal(0.0, 1.0, repeated.shape) * spread * scale
            noisy = repeated + np.where(binary, 0.0, noise)
            flips = (rng.random(repeated.shape) < flip) & binary
            noisy[flips] = 1.0 - noisy[flips]
            batches.append(noisy)
        noisy_labels = context.target.predict(np.concatenate(batches)).labels
        kept = (
            noisy_labels.reshape(len(NOISE_SCALES), len(candidates), copies_per_scale)
            == labels[None, :, None]
        )
        clean = context.target_prediction().labels == labels
        scores = (kept.sum(axis=(0, 2)) + clean) / (kept.shape[0] * kept.shape[2] + 1)
        return AttackOutcome(scores.astype(np.float64), context.is_member)
