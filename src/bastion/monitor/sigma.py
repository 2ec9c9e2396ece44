"""Export rules as Sigma (https://github.com/SigmaHQ/sigma-specification) where the format can say them.

A rule with a ``sigma`` section becomes a Sigma detection rule over the gateway's events (log source
``product: bastion, service: gateway``; field names are the event attribute names). A ``count_by`` in
that section adds a Sigma *correlation* rule (``event_count`` grouped by the field within the rule's
window), the Sigma 2 way of saying "N times per key in 10 minutes". Rules built on robust statistics,
joins with reference tables or distinct counts across accounts (``sigma: false``) have no Sigma form and
are listed as skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import yaml

from bastion.core.types import Severity
from bastion.monitor.rules import Rule

__all__ = ["export_sigma", "sigma_documents"]

_NAMESPACE = uuid.UUID("6f1e4d2a-3b7c-5e8f-9a0b-1c2d3e4f5a6b")
_LEVEL = {
    Severity.INFO: "informational",
    Severity.LOW: "low",
    Severity.MEDIUM: "medium",
    Severity.HIGH: "high",
    Severity.CRITICAL: "critical",
}


def _timespan(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def sigma_documents(rule: Rule) -> list[dict[str, Any]]:
    """The Sigma document(s) of ``rule`` (empty when it has no Sigma form)."""
    if rule.sigma is None:
        return []
    rule_uuid = str(uuid.uuid5(_NAMESPACE, rule.id))
    base: dict[str, Any] = {
        "title": rule.title,
        "id": rule_uuid,
        "name": rule.id.replace(".", "_"),
        "status": "experimental",
        "description": " ".join(rule.description.split()),
        "author": "Bastion",
        "tags": [f"owasp.{item.lower()}" for item in rule.owasp] + [f"atlas.{t.lower()}" for t in rule.atlas],
        "logsource": {"product": "bastion", "service": "gateway"},
        "detection": {"selection": dict(rule.sigma.selection), "condition": rule.sigma.condition},
        "level": _LEVEL[rule.severity],
    }
    documents = [base]
    if rule.sigma.count_by:
        documents.append(
            {
                "title": f"{rule.title} (count)",
                "id": str(uuid.uuid5(_NAMESPACE, f"{rule.id}#correlation")),
                "status": "experimental",
                "correlation": {
                    "type": "event_count",
                    "rules": [base["name"]],
                    "group-by": [rule.sigma.count_by],
                    "timespan": _timespan(rule.window),
                    "condition": {"gte": rule.sigma.count_gte or 1},
                },
                "level": _LEVEL[rule.severity],
            }
        )
    return documents


def export_sigma(rules: Sequence[Rule]) -> tuple[str, list[str]]:
    """A multi-document Sigma YAML of every expressible rule, and the ids of the rules skipped."""
    documents: list[dict[str, Any]] = []
    skipped: list[str] = []
    for rule in rules:
        found = sigma_documents(rule)
        if found:
            documents.extend(found)
        else:
            skipped.append(rule.id)
    text = yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True) if documents else ""
    return text, skipped
