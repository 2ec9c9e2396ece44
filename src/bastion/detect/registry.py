"""The detector registry: built-in detectors by id, third-party ones through ``bastion.detectors``."""

from __future__ import annotations

from bastion.core.registry import Registry
from bastion.detect.base import BaseDetector

__all__ = ["TEXT_DETECTORS", "detectors"]

detectors: Registry[BaseDetector] = Registry("detector", entry_point_group="bastion.detectors")

_BUILTINS = {
    "injection": "bastion.detect.injection:InjectionDetector",
    "indirect": "bastion.detect.indirect:IndirectInjectionDetector",
    "pii": "bastion.detect.pii:PIIDetector",
    "secrets": "bastion.detect.secrets:SecretsDetector",
    "leakage": "bastion.detect.leakage:LeakageDetector",
}
for _id, _target in _BUILTINS.items():
    detectors.add(_id, _target)

#: the detectors ``bastion scan`` runs by default (leakage needs an output and a context)
TEXT_DETECTORS = ("injection", "indirect", "pii", "secrets")
