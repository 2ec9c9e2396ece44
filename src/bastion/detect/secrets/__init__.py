"""Secrets detection: rules as data (``bastion/data/secrets/rules_*.yaml``), checks in code.

>>> from bastion.detect.secrets import SecretsDetector
>>> SecretsDetector().detect("no secrets here")
[]
"""

from bastion.detect.secrets.detector import FLAG_THRESHOLDS, Finding, SecretsDetector
from bastion.detect.secrets.rules import SecretRule, load_look_alikes, load_rules

__all__ = ["FLAG_THRESHOLDS", "Finding", "SecretRule", "SecretsDetector", "load_look_alikes", "load_rules"]
