"""``report.html``: one self-contained page for people: summary table, then per category the findings with
their transcripts.

Self-contained: inline CSS, no JavaScript, no external URL (``<details>`` folds the transcripts without
script). Every value from a probe, a target or a judge is HTML-escaped after invisible control
characters are made visible, and a Content-Security-Policy forbids scripts and remote loads, so a reply
containing ``<script>`` or ``<img src=https://...>`` shows as text and does nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from html import escape
from pathlib import Path

from bastion.redteam.report._text import attempt_name, by_severity, category_title, visible_text
from bastion.redteam.report.markdown import percent
from bastion.redteam.types import AttemptResult, RunResult, Turn

__all__ = ["render_html", "write_html"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'"
_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; padding: 0 1rem;
       color: #1b1b1b; }
h1 { font-size: 1.5rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
details { border: 1px solid #ddd; border-radius: 4px; margin: .6rem 0; padding: .4rem .8rem; }
summary { cursor: pointer; }
.sev { font-weight: 600; padding: 0 .4rem; border-radius: 3px; }
.critical { background: #7a0010; color: #fff; } .high { background: #c62828; color: #fff; }
.medium { background: #ef6c00; color: #fff; } .low { background: #f9d71c; } .info { background: #ddd; }
.turn { margin: .5rem 0; } .role { font-weight: 600; font-size: .85rem; text-transform: uppercase; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; padding: .5rem; margin: .2rem 0; }
.muted { color: #666; }
"""


def _text(value: str) -> str:
    return escape(visible_text(value), quote=True)


def _turn(turn: Turn) -> str:
    parts = [
        f'<div class="turn"><div class="role">{_text(turn.role.value)}</div><pre>{_text(turn.content)}</pre>'
    ]
    for call in turn.to_dict()["tool_calls"]:
        call_text = json.dumps(call, ensure_ascii=False, sort_keys=True, indent=2, default=str)
        parts.append(f'<div class="role">tool call</div><pre>{_text(call_text)}</pre>')
    parts.append("</div>")
    return "".join(parts)


def _finding(result: AttemptResult) -> str:
    probe = result.attempt.probe
    verdict = result.deciding_verdict
    severity = probe.severity.value
    rows = "".join(
        f"<tr><td>{_text(v.judge)}</td><td>{'yes' if v.succeeded else 'no'}</td>"
        f'<td class="n">{v.score:.2f}</td><td>{_text(v.reason)}</td></tr>'
        for v in result.verdicts
    )
    mutators = ", ".join(result.attempt.mutators) or "none"
    atlas = ", ".join(probe.atlas) or "-"
    return (
        f'<details><summary><span class="sev {severity}">{severity}</span> '
        f"<strong>{_text(probe.title)}</strong> <code>{_text(attempt_name(result))}</code>"
        f"{' &mdash; ' + _text(verdict.reason) if verdict else ''}</summary>"
        f'<p class="muted">attempt <code>{_text(result.attempt.attempt_id)}</code>, language '
        f"{_text(probe.language)}, mutators {_text(mutators)}, ATLAS {_text(atlas)}, strategy "
        f"{_text(result.attempt.strategy)}, {result.requests} target calls, {result.attacker_tokens} "
        "attacker/judge tokens</p>"
        f"<table><tr><th>Judge</th><th>Succeeded</th><th>Score</th><th>Reason</th></tr>{rows}</table>"
        f"{''.join(_turn(turn) for turn in result.transcript.turns)}</details>"
    )


def render_html(run: RunResult) -> str:
    """``report.html`` as text; same run -> same text."""
    summary = run.summary
    findings: dict[str, list[AttemptResult]] = defaultdict(list)
    for result in by_severity(run.findings):
        findings[result.attempt.probe.category].append(result)
    summary_rows = "".join(
        f"<tr><td>{_text(category)}</td><td>{_text(category_title(category))}</td>"
        f'<td class="n">{row.attempts}</td><td class="n">{row.successes}</td>'
        f'<td class="n">{percent(row.asr)}</td></tr>'
        for category, row in summary.by_category.items()
    )
    sections = []
    for category in sorted(findings):
        title = category_title(category)
        heading = f"{_text(category)}{': ' + _text(title) if title else ''}"
        items = "".join(_finding(result) for result in findings[category])
        sections.append(f"<section><h2>{heading} ({len(findings[category])})</h2>{items}</section>")
    errors = [r for r in run.results if r.error]
    error_items = "".join(
        f"<li><code>{_text(attempt_name(r))}</code> ({_text(r.attempt.attempt_id)}): {_text(r.error)}</li>"
        for r in errors
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Bastion red team: {_text(run.target)}</title><style>{_CSS}</style></head>\n<body>"
        f"<h1>Bastion red team: {_text(run.target)}</h1>"
        f'<p class="muted">Run <code>{_text(run.run_id)}</code>, seed {run.seed}, '
        f"{_text(run.started_at)} to {_text(run.finished_at)}</p>"
        f"<p><strong>Attack success rate: {percent(summary.asr)}</strong> ({summary.successes} of "
        f"{summary.attempts} attempts succeeded; errors: {summary.errors})</p>"
        "<table><tr><th>Category</th><th>Title</th><th>Attempts</th><th>Successes</th><th>ASR</th></tr>"
        f'{summary_rows}<tr><th>Total</th><th></th><td class="n">{summary.attempts}</td>'
        f'<td class="n">{summary.successes}</td><td class="n">{percent(summary.asr)}</td></tr></table>'
        f"{''.join(sections) or '<p>No attack succeeded.</p>'}"
        f"{'<h2>Errors</h2><ul>' + error_items + '</ul>' if errors else ''}"
        "\n</body></html>\n"
    )


def write_html(run: RunResult, path: Path) -> Path:
    """Write ``report.html`` for ``run`` to ``path`` and return ``path``."""
    path.write_bytes(render_html(run).encode("utf-8"))
    return path
