"""The showcase's comparison report: ``showcase.html`` (one self-contained page with charts drawn as inline
SVG), ``showcase.json`` and ``showcase.md``."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from bastion.redteam.types import RunResult
from bastion.showcase.loop import ShowcaseResult, dumps

__all__ = ["write_showcase"]

_DIRECT = "#c0392b"
_GATEWAY = "#2471a3"


@dataclass(frozen=True)
class _Row:
    category: str
    direct: tuple[int, int]  # successes, attempts
    gateway: tuple[int, int]

    @staticmethod
    def share(pair: tuple[int, int]) -> float:
        return pair[0] / pair[1] if pair[1] else 0.0

    @staticmethod
    def cell(pair: tuple[int, int]) -> str:
        return f"{pair[0]}/{pair[1]} ({_Row.share(pair):.0%})"


def write_showcase(result: ShowcaseResult, output: Path) -> dict[str, Path]:
    paths = {
        "showcase_json": output / "showcase.json",
        "showcase_md": output / "showcase.md",
        "showcase_html": output / "showcase.html",
    }
    paths["showcase_json"].write_text(dumps(result), encoding="utf-8")
    paths["showcase_md"].write_text(markdown(result), encoding="utf-8")
    paths["showcase_html"].write_text(_html(result), encoding="utf-8")
    return paths


def _rows(direct: RunResult, gateway: RunResult) -> list[_Row]:
    a, b = direct.summary.by_category, gateway.summary.by_category
    rows = []
    for name in sorted(set(a) | set(b)):
        left = (a[name].successes, a[name].attempts) if name in a else (0, 0)
        right = (b[name].successes, b[name].attempts) if name in b else (0, 0)
        rows.append(_Row(name, left, right))
    return rows


def headline(result: ShowcaseResult) -> list[str]:
    """The findings in a few sentences (the top of every report and of the CLI's output)."""
    direct, gateway = result.direct.summary, result.guarded.summary
    fewer = ""
    if direct.successes:
        fewer = f" ({1 - gateway.successes / direct.successes:.0%} fewer)"
    lines = [
        f"Successful attacks: {direct.successes}/{direct.attempts} directly, "
        f"{gateway.successes}/{gateway.attempts} through the gateway{fewer}."
    ]
    for benign in result.benign:
        lines.append(
            f"Benign {benign.language.upper()} customer messages blocked: {benign.blocked}/{benign.messages} "
            f"({benign.blocked_share:.1%}); guard p50 {benign.p50_ms:.2f} ms per message."
        )
    latency = result.latency
    if latency is not None:
        lines.append(
            f"Latency the gateway added: p50 {latency.added_p50_ms:.1f} ms, "
            f"p99 {latency.added_p99_ms:.1f} ms "
            f"over {latency.calls} calls (the model: p50 {latency.upstream_p50_ms / 1000:.1f} s)."
        )
    return lines


def markdown(result: ShowcaseResult) -> str:
    lines = [
        "# Bastion showcase: the demo assistant attacked directly and through the gateway",
        "",
        f"Target `{result.direct.target}`, seed {result.settings.seed}, {result.seconds:.0f} s.",
        "",
        *(f"- {line}" for line in headline(result)),
        "",
        "| category | direct | through the gateway |",
        "|---|---:|---:|",
    ]
    for row in _rows(result.direct, result.guarded):
        lines.append(f"| {row.category} | {_Row.cell(row.direct)} | {_Row.cell(row.gateway)} |")
    lines += ["", "Full red-team reports: `direct/report.html`, `gateway/report.html`.", ""]
    return "\n".join(lines)


def _bar_chart(rows: list[tuple[str, float, float]], title: str) -> str:
    """A grouped horizontal bar chart (direct vs gateway, shares 0-1) as inline SVG."""
    height, width, left = 28 * len(rows) + 60, 640, 130
    scale = width - left - 70
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="0" y="16" font-weight="bold">{html.escape(title)}</text>',
        f'<rect x="{left}" y="26" width="10" height="10" fill="{_DIRECT}"/>',
        f'<text x="{left + 14}" y="35">direct</text>',
        f'<rect x="{left + 80}" y="26" width="10" height="10" fill="{_GATEWAY}"/>',
        f'<text x="{left + 94}" y="35">through the gateway</text>',
    ]
    for index, (label, a, b) in enumerate(rows):
        y = 50 + index * 28
        parts.append(f'<text x="0" y="{y + 14}">{html.escape(label)}</text>')
        for offset, value, colour in ((0, a, _DIRECT), (12, b, _GATEWAY)):
            length = max(scale * value, 1.0)
            parts.append(
                f'<rect x="{left}" y="{y + offset}" width="{length:.1f}" height="10" fill="{colour}"/>'
                f'<text x="{left + length + 4:.1f}" y="{y + offset + 9}">{value:.0%}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _html(result: ShowcaseResult) -> str:
    rows = _rows(result.direct, result.guarded)
    overall = _bar_chart(
        [("all probes", result.direct.summary.asr, result.guarded.summary.asr)], "Attack success rate overall"
    )
    chart = _bar_chart(
        [(row.category, _Row.share(row.direct), _Row.share(row.gateway)) for row in rows],
        "Attack success rate by OWASP LLM category",
    )
    benign = "".join(
        f"<tr><td>{html.escape(b.language.upper())}</td><td>{b.messages}</td><td>{b.blocked}</td>"
        f"<td>{b.blocked_share:.1%}</td><td>{b.p50_ms:.2f}</td></tr>"
        for b in result.benign
    )
    table = "".join(
        f"<tr><td>{html.escape(row.category)}</td><td>{_Row.cell(row.direct)}</td>"
        f"<td>{_Row.cell(row.gateway)}</td></tr>"
        for row in rows
    )
    findings = "".join(f"<li>{html.escape(line)}</li>" for line in headline(result))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bastion showcase</title>
<style>body{{font-family:sans-serif;max-width:900px;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}</style></head><body>
<h1>The demo assistant, attacked directly and through the Bastion gateway</h1>
<p>Target <code>{html.escape(result.direct.target)}</code>, seed {result.settings.seed},
{result.seconds:.0f} s.</p>
<ul>{findings}</ul>
{overall}
{chart}
<h2>Per category</h2>
<table><tr><th>category</th><th>direct</th><th>through the gateway</th></tr>{table}</table>
<h2>Benign customer messages</h2>
<table><tr><th>language</th><th>messages</th><th>blocked</th><th>share</th><th>guard p50 ms</th></tr>
{benign}</table>
<p>Full red-team reports: <a href="direct/report.html">direct</a>,
<a href="gateway/report.html">through the gateway</a>.</p>
</body></html>
"""
