"""The audit pack as one self-contained HTML page (no scripts, no external resources)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from bastion.govern.assessment import Assessment
from bastion.govern.controls import FRAMEWORKS, ControlStatus, coverage, framework_title
from bastion.govern.pack.charts import STATUS_COLOURS, dfd_svg, heatmap_svg, status_bars_svg
from bastion.govern.pack.documents import open_actions
from bastion.govern.risks import heatmap
from bastion.govern.threats import STAGES, STRIDE, mermaid

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;
color:#212121;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #455a64;padding-bottom:.2rem;margin-top:2.4rem}
table{border-collapse:collapse;width:100%;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #cfd8dc;padding:.3rem .45rem;vertical-align:top;text-align:left}th{background:#eceff1}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:.7rem;color:#fff;font-size:.8rem;
font-weight:600}
.prohibited{background:#000}.high{background:#c62828}.limited{background:#ef6c00}.minimal{background:#2e7d32}
.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #cfd8dc;border-radius:.5rem;padding:.6rem 1rem;min-width:9rem}
.card b{font-size:1.6rem;display:block}.muted{color:#607d8b;font-size:.85rem}
pre{background:#f5f5f5;padding:.6rem;overflow-x:auto;font-size:.8rem}.charts{display:flex;gap:2rem;flex-wrap:wrap}
code{font-size:.85em}
"""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if raw else escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(status: ControlStatus) -> str:
    colour = STATUS_COLOURS[status]
    text_colour = "#000" if status in (ControlStatus.NOT_APPLICABLE, ControlStatus.STALE) else "#fff"
    return (
        f'<span class="badge" style="background:{colour};color:{text_colour}">'
        f"{escape(status.value.replace('_', ' '))}</span>"
    )


def _summary(assessment: Assessment) -> str:
    tiers = [c.risk for c in assessment.classifications]
    applicable = [r for r in assessment.controls if r.status != ControlStatus.NOT_APPLICABLE]
    effective = sum(1 for r in applicable if r.status == ControlStatus.EFFECTIVE)
    critical = sum(1 for r in assessment.risks if r.residual_level == "critical")
    cards = [
        ("AI systems", str(len(assessment.inventory.systems))),
        ("high-risk", str(tiers.count("high"))),
        ("ambiguous", str(sum(1 for c in assessment.classifications if c.ambiguous))),
        ("threats", str(len(assessment.threats))),
        ("controls effective", f"{effective}/{len(applicable)}"),
        ("critical risks (residual)", str(critical)),
        ("open actions", str(len(open_actions(assessment)))),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{escape(v)}</b><span class="muted">{escape(k)}</span></div>'
            for k, v in cards
        )
        + "</div>"
    )


def _classification(assessment: Assessment) -> str:
    parts = []
    for result in assessment.classifications:
        flag = ' <span class="badge limited">ambiguous</span>' if result.ambiguous else ""
        parts.append(
            f"<h3>{escape(result.name)} <code>{escape(result.system)}</code> "
            f'<span class="badge {result.risk}">{escape(result.risk)}</span>{flag}</h3>'
            f"<p>Role: {escape(', '.join(result.roles))}. "
            f"Annex III: {escape(', '.join(result.annex_iii) or 'none')}.</p>"
        )
        parts.append(_table(("reference", "reason"), ((r.ref, r.text) for r in result.reasons)))
        if result.readings:
            parts.append("<p><b>Both readings</b></p>")
            parts.append(_table(("reading", "argument"), ((r.risk, r.text) for r in result.readings)))
            parts.append("<p><b>Questions that decide it</b></p>")
            parts.append(
                _table(
                    ("question", "answer"),
                    (
                        (q.text, "open" if q.answer is None else ("yes" if q.answer else "no"))
                        for q in result.deciding_questions
                    ),
                )
            )
        parts.append(
            _table(
                ("reference", "obligation", "applies from", "by timeline", "note"),
                (
                    (
                        o.ref,
                        o.title,
                        f"{o.applies_from.isoformat()} ({o.timeline})",
                        ", ".join(f"{k}: {v.isoformat()}" for k, v in o.by_timeline.items()),
                        o.note,
                    )
                    for o in result.obligations
                ),
            )
        )
        regimes = [(g.ref, "applies" if g.applies else "not triggered", g.text) for g in result.gdpr]
        if result.dora is not None:
            regimes.append(
                (result.dora.ref, "applies" if result.dora.applies else "not directly", result.dora.text)
            )
        if result.supervisor is not None:
            s = result.supervisor
            regimes.append((s.ref, "market surveillance", f"{s.authority}. {s.status}. Source: {s.source}"))
        parts.append(_table(("reference", "result", "why"), regimes))
    return "".join(parts)


def _threats(assessment: Assessment) -> str:
    parts = []
    for system in assessment.inventory.systems:
        parts.append(f"<h3>{escape(system.name)}</h3>{dfd_svg(system)}")
        parts.append(
            f"<details><summary>Mermaid source</summary><pre>{escape(mermaid(system))}</pre></details>"
        )
        threats = [t for t in assessment.threats if t.system == system.id]
        for stage in STAGES:
            rows = [
                (
                    t.rule.title,
                    t.subject_name,
                    ", ".join(f"{s} {STRIDE[s]}" for s in t.rule.stride) or "-",
                    ", ".join((*t.rule.owasp, *t.rule.atlas)) or "-",
                    ", ".join(t.rule.plot4ai),
                    ", ".join(t.rule.controls),
                )
                for t in threats
                if t.stage == stage
            ]
            if rows:
                parts.append(f"<h4>Stage: {escape(stage)}</h4>")
                parts.append(
                    _table(("threat", "where", "STRIDE", "OWASP / ATLAS", "PLOT4ai", "controls"), rows)
                )
    return "".join(parts)


def _risks(assessment: Assessment) -> str:
    risks = assessment.risks
    charts = (
        f'<div class="charts">{heatmap_svg(heatmap(risks), "inherent risk")}'
        f"{heatmap_svg(heatmap(risks, residual=True), 'residual risk (after controls)')}</div>"
    )
    rows = (
        (
            r.title,
            r.system or "-",
            f"{r.inherent} {r.inherent_level}",
            f"{r.residual} {r.residual_level}",
            ", ".join(f"{c} ({s})" for c, s in r.control_status),
            r.owner or "-",
            r.treatment,
            r.review.isoformat() if r.review else "-",
        )
        for r in risks
    )
    return charts + _table(
        ("risk", "system", "inherent", "residual", "controls", "owner", "treatment", "review"), rows
    )


def _controls(assessment: Assessment) -> str:
    rows = (
        (
            f"<b>{escape(r.control.id)}</b><br>{escape(r.control.title)}",
            _status(r.status),
            escape(", ".join(r.systems) or "-"),
            escape(r.reason),
        )
        for r in assessment.controls
    )
    return status_bars_svg(assessment.controls) + _table(
        ("control", "status", "systems", "evidence"), rows, raw=True
    )


def _coverage(assessment: Assessment) -> str:
    parts = []
    for framework in FRAMEWORKS:
        rows = coverage(assessment.controls, framework)
        covered = sum(1 for r in rows if r.controls)
        parts.append(
            f"<details><summary><b>{escape(framework_title(framework))}</b>: "
            f"{covered} of {len(rows)} items mapped</summary>"
        )
        parts.append(
            _table(
                ("item", "title", "controls", "best status"),
                (
                    (
                        escape(r.item),
                        escape(r.title),
                        escape(", ".join(r.controls) or "not covered"),
                        _status(r.status) if r.controls else "-",
                    )
                    for r in rows
                ),
                raw=True,
            )
        )
        parts.append("</details>")
    return "".join(parts)


def _evidence(assessment: Assessment) -> str:
    rows = (
        (
            r.kind,
            r.source,
            r.produced_at.isoformat(timespec="seconds") if r.produced_at else "-",
            r.sha256[:16] or "-",
            r.expires_at.date().isoformat() if r.expires_at else "-",
            r.outcome.value,
            r.summary,
        )
        for r in assessment.records
    )
    return _table(("kind", "source", "produced", "sha256 (16)", "expires", "outcome", "summary"), rows)


def render_html(assessment: Assessment, documents: Sequence[str] = ()) -> str:
    """The whole pack as one HTML page; ``documents`` are file names of the generated Markdown documents."""
    organisation = assessment.inventory.organisation
    actions = open_actions(assessment)
    generated = assessment.generated_at.isoformat(timespec="seconds")
    digest = assessment.inventory_sha256[:16]
    links = "".join(f'<li><a href="{escape(name)}">{escape(name)}</a></li>' for name in documents)
    sections = [
        ("Summary", _summary(assessment)),
        ("Systems and EU AI Act classification", _classification(assessment)),
        ("Threat model", _threats(assessment)),
        ("Risk register", _risks(assessment)),
        ("Controls and evidence status", _controls(assessment)),
        ("Coverage per framework", _coverage(assessment)),
        ("Evidence records", _evidence(assessment)),
        ("Open actions", _table(("control", "status", "action"), actions) if actions else "<p>None.</p>"),
        ("Documents", f"<ul>{links}</ul>" if links else "<p>None.</p>"),
    ]
    body = "".join(f'<h2 id="s{i}">{escape(title)}</h2>{html}' for i, (title, html) in enumerate(sections))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>AI governance audit pack: {escape(organisation.name)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>AI governance audit pack: {escape(organisation.name)}</h1>"
        f'<p class="muted">Generated by Bastion on {escape(generated)} '
        f"from <code>{escape(assessment.inventory_path.name)}</code> (sha256 {escape(digest)}). "
        "Status is computed from evidence; classification reasons cite the legal text. Not legal advice.</p>"
        f"{body}</body></html>\n"
    )
