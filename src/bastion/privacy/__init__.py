"""Privacy testing of tabular models and dataset anonymisation.

- :mod:`bastion.privacy.targets`: what is attacked (a fitted estimator, a PyTorch module, an HTTP
  scoring endpoint answering probabilities or labels);
- :mod:`bastion.privacy.attacks`: membership inference (loss and confidence thresholds, shadow models,
  LiRA offline and online, label-only gap and noise robustness), attribute inference and model
  inversion, each a small class registered by a stable id;
- :mod:`bastion.privacy.metrics`: ROC AUC, TPR at low FPR, membership advantage;
- :mod:`bastion.privacy.assessment`: run the attacks, judge them against a :mod:`~bastion.privacy.policy`,
  and compare training recipes (the mitigation study);
- :mod:`bastion.privacy.report` and :mod:`bastion.privacy.evidence`: JSON/HTML reports with log-log ROC
  curves and evidence records for governance;
- :mod:`bastion.privacy.anonymize`: CSV/Parquet anonymisation with k-anonymity and l-diversity.

Heavy libraries (scikit-learn, pyarrow, diffprivlib, torch) are imported only where they are used.
"""

from bastion.privacy.assessment import PrivacyAssessment, Recipe, assess, mitigation_study
from bastion.privacy.attacks import DEFAULT_ATTACKS, AttackContext, AttackResult, attacks
from bastion.privacy.datasets import TabularData
from bastion.privacy.evidence import PrivacyEvidence
from bastion.privacy.policy import PolicyVerdict, PrivacyPolicy, load_policy
from bastion.privacy.targets import BaseTarget, EstimatorTarget, HttpTarget, Output, TorchTarget

__all__ = [
    "DEFAULT_ATTACKS",
    "AttackContext",
    "AttackResult",
    "BaseTarget",
    "EstimatorTarget",
    "HttpTarget",
    "Output",
    "PolicyVerdict",
    "PrivacyAssessment",
    "PrivacyEvidence",
    "PrivacyPolicy",
    "Recipe",
    "TabularData",
    "TorchTarget",
    "assess",
    "attacks",
    "load_policy",
    "mitigation_study",
]
