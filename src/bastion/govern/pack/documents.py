"""Documents generated from templates and the assessment: Annex IV skeletons, AI policy, risk procedure.

Templates are Markdown files in ``bastion.data.govern.templates`` with ``$placeholders``
(:class:`string.Template`); every value inserted is escaped for Markdown tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from string import Template

from bastion.govern._data import data_text
from bastion.govern.assessment import Assessment
from bastion.govern.controls import ControlStatus
from bastion.govern.inventory import System

__all__ = ["annex_iv", "markdown_table", "open_actions", "policy_documents"]

_TEMPLATES = "bastion.data.govern.templates"


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) if len(lines) > 2 else "*none*"


def open_actions(assessment: Assessment) -> list[tuple[str, str, str]]:
    """(control id, status, what to do) for every applicable control that is not effective."""
    todo = {
        ControlStatus.MISSING: "produce the evidence",
        ControlStatus.FAILING: "fix what the evidence shows, then re-run",
        ControlStatus.STALE: "refresh the evidence",
        ControlStatus.UNSIGNED: "have the document approved",
    }
    return [
        (r.control.id, r.status.value, f"{todo[r.status]}: {r.reason}")
        for r in assessment.controls
        if r.status in todo
    ]


def _template(name: str) -> Template:
    return Template(data_text(name, _TEMPLATES))


def annex_iv(assessment: Assessment, system: System) -> str:
    """The Annex IV technical-documentation skeleton of one system, filled from the assessment."""
    inventory = assessment.inventory
    result = next(c for c in assessment.classifications if c.system == system.id)
    models = [inventory.model(m) for m in system.models]
    threats = [t for t in assessment.threats if t.system == system.id]
    risks = [r for r in assessment.risks if r.system == system.id]
    controls = [r for r in assessment.controls if system.id in r.systems]
    values = {
        "system_name": system.name,
        "inventory_name": assessment.inventory_path.name,
        "inventory_sha": assessment.inventory_sha256[:16],
        "generated": assessment.generated_at.date().isoformat(),
        "risk": result.risk,
        "ambiguous_note": " (ambiguous: see the classification's readings and deciding questions)"
        if result.ambiguous
        else "",
        "organisation": inventory.organisation.name,
        "country": inventory.organisation.country,
        "roles": ", ".join(result.roles),
        "annex_iii": ", ".join(result.annex_iii) or "none",
        "purpose": " ".join(system.purpose.split()),
        "owner": system.owner or "-",
        "lifecycle": system.lifecycle,
        "users": ", ".join(system.users) or "-",
        "affected": ", ".join(system.affected_persons) or "-",
        "decisions": ", ".join(system.decisions) or "-",
        "deployment": system.deployment or "-",
        "data_categories": ", ".join(system.data_categories) or "-",
        "human_oversight": system.human_oversight or "*TO COMPLETE*",
        "models_table": markdown_table(
            ("model", "provider", "origin", "version", "licence"),
            ((m.name, m.provider, m.origin, m.version, m.licence) for m in models),
        ),
        "components_table": markdown_table(
            ("component", "kind", "trust zone", "personal data"),
            ((c.name, c.kind, c.zone, "yes" if c.stores_personal_data else "no") for c in system.components),
        ),
        "flows_table": markdown_table(
            ("from", "to", "data", "authenticated", "encrypted"),
            (
                (f.source, f.target, ", ".join(f.data) or "-", f.authenticated, f.encrypted)
                for f in system.flows
            ),
        ),
        "threats_table": markdown_table(
            ("stage", "threat", "subject", "OWASP", "ATLAS", "controls"),
            (
                (
                    t.stage,
                    t.rule.title,
                    t.subject_name,
                    ", ".join(t.rule.owasp),
                    ", ".join(t.rule.atlas),
                    ", ".join(t.rule.controls),
                )
                for t in threats
            ),
        ),
        "risks_table": markdown_table(
            ("risk", "inherent", "residual", "owner", "review"),
            (
                (
                    r.title,
                    f"{r.inherent} {r.inherent_level}",
                    f"{r.residual} {r.residual_level}",
                    r.owner,
                    r.review or "-",
                )
                for r in risks
            ),
        ),
        "controls_table": markdown_table(
            ("control", "status", "evidence"),
            ((f"{r.control.id}: {r.control.title}", r.status.value, r.reason) for r in controls),
        ),
        "obligations_table": markdown_table(
            ("ref", "obligation", "applies from", "all timelines"),
            (
                (
                    o.ref,
                    o.title,
                    o.applies_from.isoformat(),
                    ", ".join(f"{k} {v}" for k, v in o.by_timeline.items()),
                )
                for o in result.obligations
            ),
        ),
    }
    return _template("annex_iv.md").safe_substitute(values)


def policy_documents(assessment: Assessment) -> dict[str, str]:
    """``{file name: Markdown}`` of the AI policy and the AI risk-management procedure."""
    inventory = assessment.inventory
    residual = [r.residual_level for r in assessment.risks]
    actions = open_actions(assessment)
    common = {
        "organisation": inventory.organisation.name,
        "inventory_name": assessment.inventory_path.name,
        "generated": assessment.generated_at.date().isoformat(),
        "owner": inventory.organisation.owner or "-",
    }
    policy = _template("ai_policy.md").safe_substitute(
        common,
        system_count=len(inventory.systems),
        system_names=", ".join(s.name for s in inventory.systems),
        system_owners="; ".join(f"{s.name}: {s.owner or '-'}" for s in inventory.systems),
        supervisors="; ".join(f"{s.authority} ({s.scope})" for s in inventory.organisation.supervisors)
        or "-",
    )
    procedure = _template("risk_management_policy.md").safe_substitute(
        common,
        risk_count=len(assessment.risks),
        critical_count=residual.count("critical"),
        high_count=residual.count("high"),
        open_actions=len(actions),
    )
    return {"ai-policy.md": policy, "ai-risk-management.md": procedure}
