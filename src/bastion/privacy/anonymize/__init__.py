"""Dataset anonymisation: column rules, PII redaction, k-anonymity and l-diversity, streamed in chunks.

>>> from bastion.privacy.anonymize import parse_config
>>> parse_config({"quasi_identifiers": {"age": {"hierarchy": {"type": "interval", "widths": [5, 10]}}},
...               "k": 3}).k
3
"""

from bastion.privacy.anonymize.config import AnonymizationConfig, load_config, parse_config
from bastion.privacy.anonymize.engine import AnonymizationReport, anonymize_file, detect_format
from bastion.privacy.anonymize.kanonymity import Solution
from bastion.privacy.anonymize.rules import DateShifter, Generalizer, KeyedHasher

__all__ = [
    "AnonymizationConfig",
    "AnonymizationReport",
    "DateShifter",
    "Generalizer",
    "KeyedHasher",
    "Solution",
    "anonymize_file",
    "detect_format",
    "load_config",
    "parse_config",
]
