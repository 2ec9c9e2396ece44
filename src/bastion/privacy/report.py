"""Reports of a privacy test: the command's JSON, a full JSON report, HTML with ROC curves, evidence.

The ROC curves are drawn here as inline SVG on log-log axes (false-positive rate and true-positive rate
from 10^-3 to 1), the view Carlini et al. (2022) recommend because the low-FPR corner is what matters;
the chance line is the diagonal. No plotting library is needed.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bastion.privacy.assessment import MitigationRow, PrivacyAssessment
from bastion.privacy.attacks import AttackResult
from bastion.privacy.evidence import PrivacyEvidence, write_evidence
from bastion.privacy.metrics import RocCurve, resolvable

__all__ = ["assessment_json", "command_json", "roc_svg", "write_reports"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
#: lowest rate drawn on the log axes
_FLOOR = 1e-3
#: points kept per curve in the JSON report
_CURVE_POINTS = 200


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _attack_json(result: AttackResult) -> dict[str, Any]:
    summary = result.summary
    row: dict[str, Any] = {
        "name": result.attack_id,
        "auc": round(summary.auc, 4),
        "tpr_at_1pct_fpr": round(summary.tpr_at_1pct_fpr, 4),
        "tpr_at_0.1pct_fpr": round(summary.tpr_at_01pct_fpr, 4),
        "seconds": round(result.seconds, 3),
        "kind": result.kind.value,
        "advantage": round(summary.advantage, 4),
        "positives": summary.positives,
        "negatives": summary.negatives,
        "tpr_at_0.1pct_fpr_resolvable": resolvable(0.001, summary.negatives),
    }
    if result.baseline is not None:
        row["baseline_auc"] = round(result.baseline.auc, 4)
        row["gain"] = _round(result.gain)
    return row


def command_json(assessment: PrivacyAssessment) -> dict[str, Any]:
    """What ``bastion privacy test --format json`` prints: ``target``, ``attacks`` (each with ``name``,
    ``auc``, ``tpr_at_1pct_fpr``, ``tpr_at_0.1pct_fpr``, ``seconds``, and more) and ``verdict``."""
    return {
        "target": assessment.target,
        "attacks": [_attack_json(result) for result in assessment.results],
        "verdict": assessment.verdict.label,
        "verdict_reasons": list(assessment.verdict.reasons),
        "notes": list(assessment.verdict.notes),
        "policy": assessment.verdict.policy_id,
        "output": assessment.output,
        "members": assessment.members,
        "nonmembers": assessment.nonmembers,
        "shadows": assessment.shadows,
        "skipped": [{"name": name, "reason": reason} for name, reason in assessment.skipped],
        "utility": None
        if assessment.utility is None
        else {
            "accuracy": round(assessment.utility.accuracy, 4),
            "auc": _round(assessment.utility.auc),
            "majority_accuracy": round(assessment.utility.majority_accuracy, 4),
        },
    }


def _curve_points(curve: RocCurve) -> list[list[float]]:
    step = max(1, math.ceil(curve.fpr.size / _CURVE_POINTS))
    keep = np.unique(np.concatenate([np.arange(0, curve.fpr.size, step), [curve.fpr.size - 1]]))
    return [[round(float(curve.fpr[i]), 5), round(float(curve.tpr[i]), 5)] for i in keep]


def assessment_json(
    assessment: PrivacyAssessment, mitigation: Sequence[MitigationRow] = ()
) -> dict[str, Any]:
    """The full report: the command's JSON, the ROC curves and the mitigation study."""
    report = command_json(assessment)
    report["schema"] = "bastion.privacy.report/v1"
    report["curves"] = {result.attack_id: _curve_points(result.curve) for result in assessment.results}
    report["mitigation"] = [
        {
            "recipe": row.recipe.name,
            "description": row.recipe.description,
            "accuracy": round(row.utility.accuracy, 4),
            "auc": _round(row.utility.auc),
            "majority_accuracy": round(row.utility.majority_accuracy, 4),
            "train_seconds": round(row.train_seconds, 3),
            "worst_membership_auc": round(row.assessment.worst_membership_auc(), 4),
            "worst_tpr_at_1pct_fpr": round(row.assessment.worst_tpr_at_1pct(), 4),
            "verdict": row.assessment.verdict.label,
            "attacks": [_attack_json(result) for result in row.assessment.results],
        }
        for row in mitigation
    ]
    return report


def _log_position(rate: float, size: float) -> float:
    clipped = min(max(rate, _FLOOR), 1.0)
    return size * (math.log10(clipped) - math.log10(_FLOOR)) / -math.log10(_FLOOR)


def roc_svg(results: Sequence[AttackResult], title: str = "", size: int = 360) -> str:
    """ROC curves of ``results`` on log-log axes as a standalone ``<svg>`` element."""
    margin, legend = 48, 230
    width, height = size + margin + legend, size + 2 * margin
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img">',
        f"<title>{html.escape(title or 'ROC curves')}</title>",
        f'<rect x="{margin}" y="{margin}" width="{size}" height="{size}" fill="#fff" stroke="#333"/>',
    ]
    for exponent in range(-3, 1):
        offset = _log_position(10.0**exponent, size)
        x, y = margin + offset, margin + size - offset
        label = f"10^{exponent}" if exponent else "1"
        parts += [
            f'<line x1="{x:.1f}" y1="{margin}" x2="{x:.1f}" y2="{margin + size}" stroke="#ddd"/>',
            f'<line x1="{margin}" y1="{y:.1f}" x2="{margin + size}" y2="{y:.1f}" stroke="#ddd"/>',
            f'<text x="{x:.1f}" y="{margin + size + 14}" text-anchor="middle">{label}</text>',
            f'<text x="{margin - 4}" y="{y + 4:.1f}" text-anchor="end">{label}</text>',
        ]
    parts += [
        f'<line x1="{margin}" y1="{margin + size}" x2="{margin + size}" y2="{margin}" '
        'stroke="#999" stroke-dasharray="4 3"/>',
        f'<text x="{margin + size / 2}" y="{height - 12}" text-anchor="middle">false-positive rate</text>',
        f'<text x="14" y="{margin + size / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {margin + size / 2})">true-positive rate</text>',
    ]
    for index, result in enumerate(results):
        colour = _COLOURS[index % len(_COLOURS)]
        points = " ".join(
            f"{margin + _log_position(float(rate), size):.1f},"
            f"{margin + size - _log_position(float(hits), size):.1f}"
            for rate, hits in zip(result.curve.fpr, result.curve.tpr, strict=True)
        )
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{points}"/>')
        y = margin + 14 + index * 16
        parts += [
            f'<line x1="{margin + size + 12}" y1="{y - 4}" x2="{margin + size + 30}" y2="{y - 4}" '
            f'stroke="{colour}" stroke-width="2"/>',
            f'<text x="{margin + size + 34}" y="{y}">{html.escape(result.attack_id)} '
            f"(AUC {result.summary.auc:.2f})</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(row.get(column)))}</td>" for column in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render_html(assessment: PrivacyAssessment, mitigation: Sequence[MitigationRow] = ()) -> str:
    report = assessment_json(assessment, mitigation)
    verdict = assessment.verdict
    colour = "#2ca02c" if verdict.passed else "#d62728"
    reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in (*verdict.reasons, *verdict.notes))
    membership = [r for r in assessment.results if r.kind.value == "membership"]
    attribute = [r for r in assessment.results if r.kind.value == "attribute"]
    sections = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Privacy test: {html.escape(assessment.target)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "th:first-child,td:first-child{text-align:left}</style></head><body>",
        f"<h1>Privacy test: {html.escape(assessment.target)}</h1>",
        f"<p>Verdict: <strong style='color:{colour}'>{verdict.label.upper()}</strong> "
        f"(policy {html.escape(verdict.policy_id)}); {assessment.members} members, "
        f"{assessment.nonmembers} non-members, {assessment.shadows} shadow models; "
        f"the target answers {html.escape(assessment.output)}.</p>",
        f"<ul>{reasons}</ul>" if reasons else "",
        "<h2>Attacks</h2>",
        _table(
            report["attacks"],
            (
                "name",
                "auc",
                "tpr_at_1pct_fpr",
                "tpr_at_0.1pct_fpr",
                "advantage",
                "baseline_auc",
                "gain",
                "seconds",
            ),
        ),
    ]
    if report["skipped"]:
        sections.append(_table(report["skipped"], ("name", "reason")))
    if membership:
        sections += [
            "<h2>Membership inference (log-log ROC)</h2>",
            roc_svg(membership, "membership inference"),
        ]
    if attribute:
        sections += ["<h2>Attribute inference (log-log ROC)</h2>", roc_svg(attribute, "attribute inference")]
    if mitigation:
        sections += [
            "<h2>Mitigation study: utility against leakage</h2>",
            _table(
                report["mitigation"],
                (
                    "recipe",
                    "description",
                    "accuracy",
                    "majority_accuracy",
                    "auc",
                    "worst_membership_auc",
                    "worst_tpr_at_1pct_fpr",
                    "verdict",
                ),
            ),
        ]
    sections.append("</body></html>")
    return "\n".join(sections)


def write_reports(
    assessment: PrivacyAssessment, directory: Path, mitigation: Sequence[MitigationRow] = ()
) -> dict[str, Path]:
    """Write ``report.json``, ``report.html`` and ``evidence.json`` (for the JSON report) to ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    report_bytes = (json.dumps(assessment_json(assessment, mitigation), indent=2) + "\n").encode("utf-8")
    paths = {"json": directory / "report.json", "html": directory / "report.html"}
    paths["json"].write_bytes(report_bytes)
    paths["html"].write_text(render_html(assessment, mitigation), encoding="utf-8")
    evidence = PrivacyEvidence.for_artifact(
        kind="privacy.model_leakage",
        source="bastion privacy test",
        subject=assessment.target,
        artifact=report_bytes,
        verdict=assessment.verdict.label,
        figures={
            "worst_membership_auc": round(assessment.worst_membership_auc(), 4),
            "worst_tpr_at_1pct_fpr": round(assessment.worst_tpr_at_1pct(), 4),
        },
    )
    paths["evidence"] = write_evidence(evidence, directory / "evidence.json")
    return paths
