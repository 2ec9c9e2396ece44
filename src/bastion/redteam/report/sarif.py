"""``report.sarif``: the findings of a red-team run as SARIF 2.1.0, for GitHub code scanning and others.

One rule per probe that produced a finding (id = probe id; OWASP and ATLAS ids as tags; a numeric
``security-severity``), one result per finding (level from the probe's severity, message = the deciding
judge's reason, ``partialFingerprints`` from the attempt id so that alerts stay stable across uploads).

A red-team finding has no line of source code. Every result names the target as a logical location and
carries one physical location, because code scanning only shows results that have one: ``artifact_uri``
(for example the application's config file in the repository) or, by default, a stable pseudo path
``bastion-redteam/<target>``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bastion import __version__
from bastion.core.types import Severity
from bastion.redteam.report._text import category_title, json_text, visible_text
from bastion.redteam.types import AttemptResult, Probe, RunResult

__all__ = ["INFORMATION_URI", "SARIF_SCHEMA", "level_of", "render_sarif", "sarif_dict", "write_sarif"]

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
#: Where users read about the tool. A placeholder until the project has a public home.
INFORMATION_URI = "https://bastion.invalid/docs/redteam"

_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9._-]+")


def level_of(severity: Severity) -> str:
    """The SARIF ``level`` of a severity: critical/high -> error, medium -> warning, low/info -> note."""
    return severity.sarif_level


def _rule(probe: Probe) -> dict[str, Any]:
    owasp = category_title(probe.category)
    help_text = f"{probe.goal or probe.title} (OWASP {probe.category}{': ' + owasp if owasp else ''})"
    return {
        "id": probe.id,
        "name": probe.id,
        "shortDescription": {"text": probe.title},
        "fullDescription": {"text": probe.goal or probe.title},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": level_of(probe.severity)},
        "properties": {
            "tags": ["security", "llm", probe.category, *probe.atlas],
            "security-severity": f"{probe.severity.security_score:.1f}",
            "problem.severity": level_of(probe.severity),
        },
    }


def _result(result: AttemptResult, rule_index: int, target: str, artifact_uri: str) -> dict[str, Any]:
    probe = result.attempt.probe
    deciding = result.deciding_verdict
    reason = deciding.reason if deciding and deciding.reason else f"{probe.title}: the attack succeeded"
    return {
        "ruleId": probe.id,
        "ruleIndex": rule_index,
        "level": level_of(probe.severity),
        "message": {"text": visible_text(reason)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{"name": target, "fullyQualifiedName": target, "kind": "module"}],
            }
        ],
        "partialFingerprints": {"bastionAttemptId/v1": result.attempt.attempt_id},
        "properties": {
            "category": probe.category,
            "atlas": list(probe.atlas),
            "severity": probe.severity.value,
            "language": probe.language,
            "mutators": list(result.attempt.mutators),
            "judge": deciding.judge if deciding else "",
            "score": round(deciding.score, 4) if deciding else 0.0,
        },
    }


def sarif_dict(run: RunResult, artifact_uri: str | None = None) -> dict[str, Any]:
    """The SARIF 2.1.0 log of ``run`` as plain Python values (see the module docstring).

    Rules are sorted by probe id; results follow the run's order of findings.
    """
    findings = run.findings
    probes = {result.attempt.probe.id: result.attempt.probe for result in findings}
    rule_ids = sorted(probes)
    index = {rule_id: position for position, rule_id in enumerate(rule_ids)}
    uri = artifact_uri or f"bastion-redteam/{_UNSAFE_PATH.sub('-', run.target).strip('-') or 'target'}"
    summary = run.summary
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bastion-redteam",
                        "informationUri": INFORMATION_URI,
                        "version": __version__,
                        "rules": [_rule(probes[rule_id]) for rule_id in rule_ids],
                    }
                },
                "automationDetails": {"id": f"bastion-redteam/{run.target}/"},
                "results": [
                    _result(result, index[result.attempt.probe.id], run.target, uri) for result in findings
                ],
                "properties": {
                    "runId": run.run_id,
                    "seed": run.seed,
                    "startedAt": run.started_at,
                    "finishedAt": run.finished_at,
                    "attempts": summary.attempts,
                    "successes": summary.successes,
                    "asr": round(summary.asr, 4),
                },
            }
        ],
    }


def render_sarif(run: RunResult, artifact_uri: str | None = None) -> str:
    """``report.sarif`` as text: indented JSON ending in a newline; same run -> same text."""
    return json_text(sarif_dict(run, artifact_uri))


def write_sarif(run: RunResult, path: Path, artifact_uri: str | None = None) -> Path:
    """Write ``report.sarif`` for ``run`` to ``path`` and return ``path``."""
    path.write_bytes(render_sarif(run, artifact_uri).encode("utf-8"))
    return path
