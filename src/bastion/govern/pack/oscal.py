"""OSCAL exports of an assessment: catalog, component definition, assessment results and POA&M.

Documents are plain JSON built here (no dependency at write time). UUIDs are version-5 UUIDs derived from
stable names, so the same assessment gives the same documents. :func:`validate` checks the written files
with compliance-trestle's OSCAL models (extra ``govern``).

Mapping: Bastion controls -> catalog controls (framework mappings as properties); AI systems -> components
with implemented requirements; evidence records -> observations (relevant-evidence with sha256); control
status -> findings (satisfied / not-satisfied); risk register -> risks; open actions -> POA&M items.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from bastion import __version__
from bastion.core.errors import UpstreamError
from bastion.govern.assessment import Assessment
from bastion.govern.controls import ControlStatus
from bastion.govern.pack.documents import open_actions

__all__ = ["OSCAL_FILES", "OSCAL_VERSION", "oscal_documents", "validate", "write_oscal"]

OSCAL_VERSION = "1.2.1"
#: the namespace of Bastion's own OSCAL properties
NS = "urn:bastion:govern"
OSCAL_FILES = {
    "catalog": "catalog.json",
    "component-definition": "component-definition.json",
    "assessment-results": "assessment-results.json",
    "plan-of-action-and-milestones": "poam.json",
}
_SATISFIED = {ControlStatus.EFFECTIVE}


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "bastion:" + "/".join(parts)))


def _time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def _metadata(assessment: Assessment, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "last-modified": _time(assessment.generated_at),
        "version": assessment.inventory_sha256[:12],
        "oscal-version": OSCAL_VERSION,
        "props": [{"name": "generator", "ns": NS, "value": f"bastion {__version__}"}],
        "parties": [
            {
                "uuid": _uuid("party", assessment.inventory.organisation.name),
                "type": "organization",
                "name": assessment.inventory.organisation.name,
            }
        ],
    }


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": str(value) if str(value) else "-"}


def catalog(assessment: Assessment) -> dict[str, Any]:
    controls = []
    for result in assessment.controls:
        control = result.control
        props = [_prop("kind", control.kind), _prop("applies", control.applies)]
        for framework, refs in control.mappings.items():
            props += [_prop(f"maps-{framework.replace('_', '-')}", ref) for ref in refs]
        controls.append(
            {
                "id": control.id,
                "title": control.title,
                "props": props,
                "parts": [{"id": f"{control.id}_smt", "name": "statement", "prose": control.description}],
            }
        )
    return {
        "catalog": {
            "uuid": _uuid("catalog", assessment.inventory_sha256),
            "metadata": _metadata(assessment, "Bastion AI control catalog"),
            "controls": controls,
        }
    }


def component_definition(assessment: Assessment) -> dict[str, Any]:
    components = []
    for system in assessment.inventory.systems:
        classification = next(c for c in assessment.classifications if c.system == system.id)
        requirements = [
            {
                "uuid": _uuid("requirement", system.id, r.control.id),
                "control-id": r.control.id,
                "description": f"{r.status.value}: {r.reason}",
                "props": [_prop("status", r.status.value)],
            }
            for r in assessment.controls
            if system.id in r.systems
        ]
        component: dict[str, Any] = {
            "uuid": _uuid("component", system.id),
            "type": "software",
            "title": system.name,
            "description": " ".join(system.purpose.split()),
            "props": [
                _prop("ai-act-risk", classification.risk),
                _prop("ai-act-ambiguous", str(classification.ambiguous).lower()),
                _prop("ai-act-role", classification.role),
                _prop("lifecycle", system.lifecycle),
            ],
        }
        if requirements:
            component["control-implementations"] = [
                {
                    "uuid": _uuid("implementation", system.id),
                    "source": OSCAL_FILES["catalog"],
                    "description": f"Bastion controls applicable to {system.name}",
                    "implemented-requirements": requirements,
                }
            ]
        components.append(component)
    return {
        "component-definition": {
            "uuid": _uuid("component-definition", assessment.inventory_sha256),
            "metadata": _metadata(assessment, f"AI systems of {assessment.inventory.organisation.name}"),
            "components": components,
        }
    }


def _observations(assessment: Assessment) -> list[dict[str, Any]]:
    observations = []
    for index, record in enumerate(assessment.records):
        method = "TEST" if record.kind in {"redteam_report", "model_scan", "privacy_report"} else "EXAMINE"
        evidence: dict[str, Any] = {"href": record.source, "description": record.summary or record.kind}
        if record.sha256:
            evidence["props"] = [_prop("sha256", record.sha256)]
        observation: dict[str, Any] = {
            "uuid": _uuid("observation", str(index), record.kind, record.source),
            "title": f"{record.kind}: {record.source}",
            "description": f"{record.outcome.value}: {record.summary}",
            "methods": [method],
            "collected": _time(record.produced_at or assessment.generated_at),
            "relevant-evidence": [evidence],
            "props": [_prop("outcome", record.outcome.value)],
        }
        if record.expires_at is not None:
            observation["expires"] = _time(record.expires_at)
        observations.append(observation)
    return observations


def _risks(assessment: Assessment) -> list[dict[str, Any]]:
    return [
        {
            "uuid": _uuid("risk", risk.id),
            "title": risk.title,
            "description": f"{risk.origin} risk of {risk.system or 'the organisation'}",
            "statement": (
                f"Inherent {risk.inherent} ({risk.inherent_level}: likelihood {risk.likelihood} x impact "
                f"{risk.impact}); residual {risk.residual} ({risk.residual_level}) after controls "
                + ", ".join(f"{c} {s}" for c, s in risk.control_status)
            ),
            "status": "open" if risk.residual_level in ("critical", "high", "medium") else "closed",
            "props": [
                _prop("likelihood", risk.likelihood),
                _prop("impact", risk.impact),
                _prop("residual-likelihood", risk.residual_likelihood),
                _prop("owner", risk.owner),
                _prop("treatment", risk.treatment),
            ],
            **(
                {"deadline": _time(dt.datetime.combine(risk.review, dt.time(), dt.UTC))}
                if risk.review
                else {}
            ),
        }
        for risk in assessment.risks
    ]


def assessment_results(assessment: Assessment) -> dict[str, Any]:
    observations = _observations(assessment)
    by_kind: dict[str, list[str]] = {}
    for record, observation in zip(assessment.records, observations, strict=True):
        by_kind.setdefault(record.kind, []).append(observation["uuid"])
    findings = []
    for result in assessment.controls:
        if result.status == ControlStatus.NOT_APPLICABLE:
            continue
        related = [{"observation-uuid": u} for kind in result.control.evidence for u in by_kind.get(kind, [])]
        finding: dict[str, Any] = {
            "uuid": _uuid("finding", result.control.id),
            "title": f"{result.control.id}: {result.status.value}",
            "description": result.reason,
            "target": {
                "type": "objective-id",
                "target-id": result.control.id,
                "status": {
                    "state": "satisfied" if result.status in _SATISFIED else "not-satisfied",
                    "reason": result.status.value.replace("_", "-"),
                },
            },
        }
        if related:
            finding["related-observations"] = related
        findings.append(finding)
    result_doc: dict[str, Any] = {
        "uuid": _uuid("result", assessment.inventory_sha256, _time(assessment.generated_at)),
        "title": f"Bastion governance assessment of {assessment.inventory_path.name}",
        "description": "Control status computed from evidence records; risks from the threat model and the "
        "inventory.",
        "start": _time(assessment.generated_at),
        "end": _time(assessment.generated_at),
        "reviewed-controls": {"control-selections": [{"include-all": {}}]},
    }
    if observations:
        result_doc["observations"] = observations
    risks = _risks(assessment)
    if risks:
        result_doc["risks"] = risks
    if findings:
        result_doc["findings"] = findings
    return {
        "assessment-results": {
            "uuid": _uuid("assessment-results", assessment.inventory_sha256, _time(assessment.generated_at)),
            "metadata": _metadata(assessment, "Bastion governance assessment results"),
            "import-ap": {"href": assessment.inventory_path.name},
            "results": [result_doc],
        }
    }


def poam(assessment: Assessment) -> dict[str, Any]:
    items = [
        {
            "uuid": _uuid("poam-control", control_id),
            "title": f"{control_id}: {status}",
            "description": action,
            "props": [_prop("kind", "control")],
        }
        for control_id, status, action in open_actions(assessment)
    ]
    risks = [r for r in assessment.risks if r.residual_level in ("critical", "high")]
    items += [
        {
            "uuid": _uuid("poam-risk", risk.id),
            "title": f"Reduce {risk.residual_level} risk: {risk.title}",
            "description": f"Owner {risk.owner or '-'}; review by {risk.review or '-'}; controls "
            + ", ".join(f"{c} ({s})" for c, s in risk.control_status),
            "props": [_prop("kind", "risk")],
            "related-risks": [{"risk-uuid": _uuid("risk", risk.id)}],
        }
        for risk in risks
    ]
    document: dict[str, Any] = {
        "uuid": _uuid("poam", assessment.inventory_sha256, _time(assessment.generated_at)),
        "metadata": _metadata(assessment, "Bastion plan of action and milestones"),
        "system-id": {
            "identifier-type": "https://ietf.org/rfc/rfc4122",
            "id": _uuid("organisation", assessment.inventory.organisation.name),
        },
        "poam-items": items or [{"uuid": _uuid("poam-none"), "title": "No open action", "description": "-"}],
    }
    if risks:
        wanted = {_uuid("risk", x.id) for x in risks}
        document["risks"] = [r for r in _risks(assessment) if r["uuid"] in wanted]
    return {"plan-of-action-and-milestones": document}


def oscal_documents(assessment: Assessment) -> dict[str, dict[str, Any]]:
    """``{file name: document}`` of every OSCAL export."""
    return {
        OSCAL_FILES["catalog"]: catalog(assessment),
        OSCAL_FILES["component-definition"]: component_definition(assessment),
        OSCAL_FILES["assessment-results"]: assessment_results(assessment),
        OSCAL_FILES["plan-of-action-and-milestones"]: poam(assessment),
    }


def write_oscal(assessment: Assessment, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in oscal_documents(assessment).items():
        path = directory / name
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def validate(directory: Path) -> list[tuple[str, str]]:
    """Validate the OSCAL files in ``directory`` with compliance-trestle; ``[(file, problem)]``, empty
    when all are valid. :class:`UpstreamError` when compliance-trestle is not installed."""
    try:
        from pydantic import ValidationError
        from trestle.oscal.assessment_results import AssessmentResults
        from trestle.oscal.catalog import Catalog
        from trestle.oscal.component import ComponentDefinition
        from trestle.oscal.poam import PlanOfActionAndMilestones
    except ImportError as error:
        raise UpstreamError(
            "OSCAL validation needs compliance-trestle: pip install 'bastion-ai[govern]'"
        ) from error
    models: dict[str, Any] = {
        "catalog": Catalog,
        "component-definition": ComponentDefinition,
        "assessment-results": AssessmentResults,
        "plan-of-action-and-milestones": PlanOfActionAndMilestones,
    }
    problems: list[tuple[str, str]] = []
    for root, name in OSCAL_FILES.items():
        path = directory / name
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            models[root].model_validate(document[root])
        except FileNotFoundError:
            problems.append((name, "missing"))
        except (ValidationError, KeyError, json.JSONDecodeError) as error:
            problems.append((name, str(error)[:2000]))
    return problems
