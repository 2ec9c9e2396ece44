"""Sigma export: expressible rules become valid Sigma documents, the others are listed as skipped."""

from __future__ import annotations

import uuid

import yaml

from bastion.monitor.rules import load_rules
from bastion.monitor.sigma import export_sigma, sigma_documents


def test_every_rule_is_exported_or_skipped_with_stable_ids() -> None:
    rules = load_rules()
    text, skipped = export_sigma(rules)
    documents = list(yaml.safe_load_all(text))
    detection_rules = [d for d in documents if "detection" in d]
    assert len(detection_rules) + len(skipped) == len(rules)
    assert set(skipped) >= {"monitor.wallet.token_spend", "monitor.injection.campaign"}
    for document in detection_rules:
        uuid.UUID(document["id"])
        assert document["logsource"] == {"product": "bastion", "service": "gateway"}
        assert document["level"] in {"informational", "low", "medium", "high", "critical"}
        assert document["detection"]["condition"] == "selection"
    assert export_sigma(rules) == (text, skipped)


def test_a_counting_rule_gets_a_correlation_over_its_window() -> None:
    (repeated,) = load_rules(only=["monitor.injection.repeated"])
    base, correlation = sigma_documents(repeated)
    assert correlation["correlation"] == {
        "type": "event_count",
        "rules": [base["name"]],
        "group-by": ["bastion.api_key.id"],
        "timespan": "10m",
        "condition": {"gte": 3},
    }
