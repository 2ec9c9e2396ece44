"""Every attack beats chance on a model that memorised its training data and stays at chance on models
that cannot leak; LiRA beats the global threshold at low false-positive rates (Carlini et al. 2022)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bastion.core.errors import InputError, UsageError
from bastion.privacy.assessment import assess
from bastion.privacy.attacks import DEFAULT_ATTACKS, AttackContext, AttackResult, attacks
from bastion.privacy.datasets import TabularData
from bastion.privacy.policy import load_policy
from bastion.privacy.targets import EstimatorTarget

from .conftest import SENSITIVE

MEMBERSHIP = [a for a in DEFAULT_ATTACKS if a.startswith("membership.")]
ATTRIBUTE = [a for a in DEFAULT_ATTACKS if a.startswith("attribute.")]
Thirds = tuple[TabularData, TabularData, TabularData]


def _run_all(model: Any, thirds: Thirds, factory: Callable[[], Any]) -> dict[str, AttackResult]:
    members, nonmembers, _ = thirds
    context = AttackContext(
        EstimatorTarget(model, name="m"),
        members,
        nonmembers,
        shadow_factory=factory,
        shadows=16,
        sensitive=SENSITIVE,
    )
    return {attack_id: attacks.create(attack_id).run(context) for attack_id in DEFAULT_ATTACKS}


@pytest.fixture(scope="module")
def leaky(overfit_model: Any, thirds: Thirds, forest_factory: Callable[[], Any]) -> dict[str, AttackResult]:
    return _run_all(overfit_model, thirds, forest_factory)


@pytest.fixture(scope="module")
def independent(
    independent_model: Any, thirds: Thirds, forest_factory: Callable[[], Any]
) -> dict[str, AttackResult]:
    return _run_all(independent_model, thirds, forest_factory)


def test_every_attack_is_registered_and_declared() -> None:
    assert sorted(attacks.ids()) == sorted(DEFAULT_ATTACKS)
    for attack_id in DEFAULT_ATTACKS:
        attack = attacks.create(attack_id)
        assert attack.id == attack_id and attack.description and attack.reference
        assert type(attack).__doc__ is None or isinstance(type(attack).__doc__, str)


@pytest.mark.parametrize("attack_id", MEMBERSHIP)
def test_membership_attacks_beat_chance_on_an_overfit_model(
    leaky: dict[str, AttackResult], attack_id: str
) -> None:
    result = leaky[attack_id]
    assert result.summary.auc > 0.58, result.summary
    assert result.summary.advantage > 0.15
    assert result.summary.positives == 400 and result.summary.negatives == 400
    assert result.seconds >= 0.0


@pytest.mark.parametrize("attack_id", MEMBERSHIP)
def test_membership_attacks_are_at_chance_on_an_independent_model(
    independent: dict[str, AttackResult], attack_id: str
) -> None:
    # 400 vs 400 exchangeable records: the AUC's standard error is about 0.02
    assert abs(independent[attack_id].summary.auc - 0.5) < 0.08, independent[attack_id].summary


def test_lira_beats_the_loss_threshold_at_low_false_positive_rates(leaky: dict[str, AttackResult]) -> None:
    loss = leaky["membership.loss"].summary
    offline, online = leaky["membership.lira_offline"].summary, leaky["membership.lira_online"].summary
    for lira in (offline, online):
        assert lira.tpr_at_1pct_fpr > 2 * loss.tpr_at_1pct_fpr + 0.05, (lira, loss)
        assert lira.auc > loss.auc
    # online (in and out shadows) is at least as strong as offline (out shadows only)
    assert online.auc >= offline.auc - 0.01


@pytest.mark.parametrize("attack_id", ATTRIBUTE)
def test_attribute_attacks_beat_chance_and_the_overfit_model_adds_to_the_baseline(
    leaky: dict[str, AttackResult], attack_id: str
) -> None:
    result = leaky[attack_id]
    assert result.summary.auc > 0.6
    assert result.baseline is not None and result.gain is not None
    assert result.summary.positives + result.summary.negatives == 200  # the judged half of the members


def test_attribute_inference_gains_over_the_baseline_on_the_overfit_model(
    leaky: dict[str, AttackResult],
) -> None:
    gain = leaky["attribute.inference"].gain
    assert gain is not None and gain > 0.02


@pytest.fixture(scope="module")
def constant_context(constant_model: Any, thirds: Thirds, forest_factory: Callable[[], Any]) -> AttackContext:
    members, nonmembers, _ = thirds
    return AttackContext(
        EstimatorTarget(constant_model),
        members,
        nonmembers,
        shadow_factory=forest_factory,
        shadows=4,
        sensitive=SENSITIVE,
    )


@pytest.mark.parametrize("attack_id", [*MEMBERSHIP, *ATTRIBUTE])
def test_a_constant_model_gives_nothing_away(constant_context: AttackContext, attack_id: str) -> None:
    result = attacks.create(attack_id).run(constant_context)
    if result.gain is not None:
        assert result.gain < 0.05, result  # nothing over what the data alone gives away
    else:
        # the prior differs by class and members and non-members differ a little in class balance
        assert abs(result.summary.auc - 0.5) < 0.08, result.summary


def test_labels_only_target_runs_only_label_attacks(overfit_model: Any, thirds: Thirds) -> None:
    members, nonmembers, _ = thirds
    context = AttackContext(
        EstimatorTarget(overfit_model, labels_only=True), members, nonmembers, sensitive=SENSITIVE
    )
    assessment = assess(context, load_policy())
    ran = {r.attack_id for r in assessment.results}
    assert ran == {"membership.label_gap", "membership.label_noise", "attribute.inference"}
    reasons = dict(assessment.skipped)
    assert reasons["membership.loss"] == "the target answers labels only"
    assert assessment.result("membership.label_noise").summary.auc > 0.55
    with pytest.raises(UsageError, match="labels only"):
        attacks.create("membership.lira_online").run(context)


def test_context_validation(overfit_model: Any, thirds: Thirds) -> None:
    members, nonmembers, _ = thirds
    target = EstimatorTarget(overfit_model)
    with pytest.raises(UsageError, match="even"):
        AttackContext(target, members, nonmembers, shadows=3)
    with pytest.raises(InputError):
        AttackContext(target, members.subset([0]), nonmembers)
    context = AttackContext(target, members, nonmembers, sensitive="age")
    with pytest.raises(InputError, match="binary"):
        attacks.create("attribute.inversion").run(context)
    assert "no shadow model factory" in attacks.create("membership.shadow").applicable(context)


def test_shadows_are_inside_for_exactly_half(
    overfit_model: Any, thirds: Thirds, forest_factory: Callable[[], Any]
) -> None:
    members, nonmembers, _ = thirds
    context = AttackContext(
        EstimatorTarget(overfit_model),
        members.subset(range(50)),
        nonmembers.subset(range(50)),
        shadow_factory=forest_factory,
        shadows=6,
    )
    bank = context.shadow_bank()
    assert bank.inside.shape == (6, 100)
    assert np.all(bank.inside.sum(axis=0) == 3)
    assert np.allclose(bank.probabilities.sum(axis=2), 1.0)
    assert context.shadow_bank() is bank  # trained once
