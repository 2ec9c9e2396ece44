"""Privacy attacks by stable id, in a registry (third parties add theirs through ``bastion.privacy_attacks``).

>>> sorted(attacks.ids())[:3]
['attribute.inference', 'attribute.inversion', 'membership.confidence']
"""

from __future__ import annotations

from bastion.core.registry import Registry
from bastion.privacy.attacks._base import (
    AttackContext,
    AttackKind,
    AttackOutcome,
    AttackResult,
    BaseAttack,
    ShadowBank,
    logit_confidence,
)

__all__ = [
    "DEFAULT_ATTACKS",
    "AttackContext",
    "AttackKind",
    "AttackOutcome",
    "AttackResult",
    "BaseAttack",
    "ShadowBank",
    "attacks",
    "logit_confidence",
]

attacks: Registry[BaseAttack] = Registry("privacy attack", entry_point_group="bastion.privacy_attacks")

_BUILTINS = {
    "membership.loss": "bastion.privacy.attacks.membership:LossThresholdAttack",
    "membership.confidence": "bastion.privacy.attacks.membership:ConfidenceThresholdAttack",
    "membership.shadow": "bastion.privacy.attacks.membership:ShadowModelAttack",
    "membership.lira_offline": "bastion.privacy.attacks.membership:LiraOfflineAttack",
    "membership.lira_online": "bastion.privacy.attacks.membership:LiraOnlineAttack",
    "membership.label_gap": "bastion.privacy.attacks.label_only:LabelGapAttack",
    "membership.label_noise": "bastion.privacy.attacks.label_only:LabelNoiseAttack",
    "attribute.inference": "bastion.privacy.attacks.attribute:AttributeInferenceAttack",
    "attribute.inversion": "bastion.privacy.attacks.attribute:ModelInversionAttack",
}
for _id, _target in _BUILTINS.items():
    attacks.add(_id, _target)

#: every built-in attack, in the order the reports list them
DEFAULT_ATTACKS = tuple(_BUILTINS)
