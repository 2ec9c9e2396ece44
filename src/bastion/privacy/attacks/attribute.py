"""Attribute inference and model inversion of a binary sensitive column, each against a no-model baseline.

Threat model (as in IBM ART's black-box attribute inference): the attacker knows every column of a
training record except the sensitive one, plus its true class, and fully knows half of the training
records (the *known* half, chosen at random). The attacks are judged on the other half.

- The **baseline** uses no model: a random forest trained on the known half predicts the sensitive
  value from the other columns and the class. Whatever it achieves, the data alone gives away.
- ``attribute.inference``: the same learner, given in addition what the target answers for the record
  with the sensitive value set to 0 and to 1 (the true-class probability of each, or whether the label is
  right when the target answers labels only).
- ``attribute.inversion``: the maximum-a-posteriori inversion of Fredrikson et al. (USENIX Security
  2014): the posterior of value 1 is proportional to the model's probability of the true class with the
  value set to 1 times the value's prior among the known records; no training.

Their gain is their ROC AUC minus the baseline's on the same records.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from bastion.core.errors import InputError
from bastion.privacy.attacks._base import EPSILON, AttackContext, AttackKind, AttackOutcome, BaseAttack
from bastion.privacy.datasets import TabularData
from bastion.privacy.targets import Output

__all__ = ["AttributeInferenceAttack", "ModelInversionAttack"]

FloatArray = NDArray[np.float64]


def _halves(context: AttackContext) -> tuple[TabularData, TabularData, int]:
    assert context.sensitive is not None
    members = context.members
    column = members.column(context.sensitive)
    values = members.features[:, column]
    if not np.all((values == 0.0) | (values == 1.0)):
        raise InputError(f"the sensitive column {context.sensitive!r} must be binary (0 or 1)")
    rng = np.random.default_rng(context.seed + 2)
    order = rng.permutation(len(members))
    known, judged = members.subset(order[: len(order) // 2]), members.subset(order[len(order) // 2 :])
    if np.unique(judged.features[:, column]).size < 2 or np.unique(known.features[:, column]).size < 2:
        raise InputError(f"the sensitive column {context.sensitive!r} takes one value only")
    return known, judged, column


def _without(data: TabularData, column: int, classes: int) -> FloatArray:
    others = np.delete(data.features, column, axis=1)
    return np.column_stack([others, np.eye(classes)[data.labels]])


def _model_answers(context: AttackContext, data: TabularData, column: int) -> FloatArray:
    """Per record and sensitive value v in (0, 1): the true-class probability (or label correctness)."""
    columns = []
    for value in (0.0, 1.0):
        probe = data.features.copy()
        probe[:, column] = value
        prediction = context.target.predict(probe)
        if prediction.probabilities is not None:
            columns.append(prediction.probabilities[np.arange(len(data)), data.labels])
        else:
            columns.append((prediction.labels == data.labels).astype(np.float64))
    return np.column_stack(columns)


def _forest_scores(train: FloatArray, truth: NDArray[np.bool_], test: FloatArray, seed: int) -> FloatArray:
    from sklearn.ensemble import RandomForestClassifier

    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=3, random_state=seed, n_jobs=1)
    forest.fit(train, truth)
    return np.asarray(forest.predict_proba(test)[:, list(forest.classes_).index(True)], dtype=np.float64)


def _baseline(context: AttackContext, known: TabularData, judged: TabularData, column: int) -> FloatArray:
    truth = known.features[:, column] == 1.0
    return _forest_scores(
        _without(known, column, context.classes),
        truth,
        _without(judged, column, context.classes),
        context.seed,
    )


class AttributeInferenceAttack(BaseAttack):
    id: ClassVar[str] = "attribute.inference"
    kind = AttackKind.ATTRIBUTE
    needs = Output.LABELS
    description = "infer a sensitive column from the others plus the model's answers"
    reference = "Yeom et al. 2018; IBM ART AttributeInferenceBlackBox"

    def _attack(self, context: AttackContext) -> AttackOutcome:
        known, judged, column = _halves(context)
        truth = known.features[:, column] == 1.0

        def features(data: TabularData) -> FloatArray:
            answers = _model_answers(context, data, column)
            ratio = np.log(np.clip(answers[:, 1], EPSILON, 1.0)) - np.log(
                np.clip(answers[:, 0], EPSILON, 1.0)
            )
            return np.column_stack([_without(data, column, context.classes), answers, ratio])

        scores = _forest_scores(features(known), truth, features(judged), context.seed)
        return AttackOutcome(
            scores, judged.features[:, column] == 1.0, _baseline(context, known, judged, column)
        )


class ModelInversionAttack(BaseAttack):
    id: ClassVar[str] = "attribute.inversion"
    kind = AttackKind.ATTRIBUTE
    needs = Output.PROBABILITIES
    description = "pick the sensitive value that makes the model most confident in the true class"
    reference = "Fredrikson et al., Privacy in Pharmacogenetics, USENIX Security 2014"

    def _attack(self, context: AttackContext) -> AttackOutcome:
        known, judged, column = _halves(context)
        prior = float(np.mean(known.features[:, column] == 1.0))
        answers = np.clip(_model_answers(context, judged, column), EPSILON, 1.0)
        weight_one, weight_zero = answers[:, 1] * prior, answers[:, 0] * (1.0 - prior)
        scores = weight_one / (weight_one + weight_zero)
        return AttackOutcome(
            scores, judged.features[:, column] == 1.0, _baseline(context, known, judged, column)
        )
