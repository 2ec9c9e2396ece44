"""The privacy policy a model is judged against (YAML, validated with pydantic) and the verdict.

>>> policy = load_policy()
>>> policy.max_membership_auc
0.6
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError
from bastion.privacy.attacks import AttackKind, AttackResult
from bastion.privacy.metrics import resolvable

__all__ = ["PolicyVerdict", "PrivacyPolicy", "judge", "load_policy"]


class PrivacyPolicy(BaseModel):
    """Limits on what the attacks may achieve; any limit exceeded fails the model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    description: str = ""
    max_membership_auc: float = Field(ge=0.5, le=1.0)
    max_tpr_at_1pct_fpr: float = Field(ge=0.0, le=1.0)
    max_tpr_at_01pct_fpr: float = Field(ge=0.0, le=1.0)
    max_attribute_gain: float = Field(ge=0.0, le=0.5)


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    """``passed`` with the reasons it did not (one line per limit exceeded) and notes (limits that could
    not be checked, e.g. a false-positive rate too low for the number of non-members)."""

    policy_id: str
    passed: bool
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "pass" if self.passed else "fail"


def load_policy(path: Path | None = None) -> PrivacyPolicy:
    """The policy in ``path``, or the shipped default; :class:`ConfigError` names what is wrong."""
    name = path.name if path else "policy.yaml"
    try:
        if path is None:
            text = resources.files("bastion.data.privacy").joinpath("policy.yaml").read_text("utf-8")
        else:
            text = path.read_text(encoding="utf-8")
        raw: Any = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{name}: cannot read the policy ({type(error).__name__})") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{name}: not valid YAML") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: the policy must be a mapping")
    try:
        return PrivacyPolicy.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top)'}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"{name}: {problems}") from None


def judge(results: tuple[AttackResult, ...], policy: PrivacyPolicy) -> PolicyVerdict:
    """Compare every attack's figures with the policy's limits."""
    reasons: list[str] = []
    notes: list[str] = []
    for result in results:
        summary = result.summary
        if result.kind is AttackKind.MEMBERSHIP:
            if summary.auc > policy.max_membership_auc:
                reasons.append(f"{result.attack_id}: AUC {summary.auc:.3f} > {policy.max_membership_auc}")
            if summary.tpr_at_1pct_fpr > policy.max_tpr_at_1pct_fpr and resolvable(0.01, summary.negatives):
                reasons.append(
                    f"{result.attack_id}: TPR {summary.tpr_at_1pct_fpr:.3f} at 1% FPR"
                    f" > {policy.max_tpr_at_1pct_fpr}"
                )
            if not resolvable(0.001, summary.negatives):
                note = f"0.1% FPR needs >= 1000 non-members, had {summary.negatives}: limit not checked"
                if note not in notes:
                    notes.append(note)
            elif summary.tpr_at_01pct_fpr > policy.max_tpr_at_01pct_fpr:
                reasons.append(
                    f"{result.attack_id}: TPR {summary.tpr_at_01pct_fpr:.3f} at 0.1% FPR"
                    f" > {policy.max_tpr_at_01pct_fpr}"
                )
        elif result.gain is not None and result.gain > policy.max_attribute_gain:
            reasons.append(
                f"{result.attack_id}: gain {result.gain:+.3f} AUC over the baseline"
                f" > {policy.max_attribute_gain}"
            )
    return PolicyVerdict(policy.id, not reasons, tuple(reasons), tuple(notes))
