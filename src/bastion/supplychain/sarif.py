"""SARIF 2.1.0 for scan results: one rule per finding rule id, one result per non-safe finding, located at
the scanned file (the member path and byte offset in the message and properties)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bastion import __version__
from bastion.core.types import Severity
from bastion.supplychain.types import FileResult, FileVerdict

__all__ = ["render_sarif", "sarif_dict"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://bastion.invalid/docs/supplychain"


def sarif_dict(results: Sequence[FileResult]) -> dict[str, Any]:
    """The SARIF log as plain values; rules sorted by id, results in scan order."""
    rules: dict[str, Severity] = {}
    entries: list[dict[str, Any]] = []
    for result in results:
        for item in result.findings:
            if item.verdict is FileVerdict.SAFE:
                continue
            worst = rules.get(item.rule)
            if worst is None or item.severity.rank > worst.rank:
                rules[item.rule] = item.severity
            where = f" in {item.member}" if item.member else ""
            at = f" at byte {item.offset}" if item.offset is not None else ""
            entries.append(
                {
                    "ruleId": item.rule,
                    "level": item.severity.sarif_level,
                    "message": {"text": f"{item.verdict.value}: {item.message}{where}{at}"},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": result.path.replace("\\", "/")},
                                "region": {"startLine": 1},
                            }
                        }
                    ],
                    "partialFingerprints": {
                        "bastionSupplychain/v1": f"{result.path}|{item.member}|{item.rule}|{item.subject}"
                    },
                    "properties": {
                        "verdict": item.verdict.value,
                        "severity": item.severity.value,
                        "format": result.format,
                        "member": item.member,
                        "offset": item.offset,
                        "subject": item.subject,
                    },
                }
            )
    ids = sorted(rules)
    index = {rule: position for position, rule in enumerate(ids)}
    for entry in entries:
        entry["ruleIndex"] = index[entry["ruleId"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bastion-supplychain",
                        "informationUri": INFORMATION_URI,
                        "version": __version__,
                        "rules": [
                            {
                                "id": rule,
                                "name": rule,
                                "shortDescription": {"text": rule},
                                "defaultConfiguration": {"level": rules[rule].sarif_level},
                                "properties": {
                                    "tags": ["security", "supply-chain", "CWE-502"],
                                    "security-severity": f"{rules[rule].security_score:.1f}",
                                },
                            }
                            for rule in ids
                        ],
                    }
                },
                "results": entries,
                "properties": {"files": len(results)},
            }
        ],
    }


def render_sarif(results: Sequence[FileResult]) -> str:
    """SARIF as indented JSON text ending in a newline."""
    return json.dumps(sarif_dict(results), indent=2, sort_keys=False) + "\n"
