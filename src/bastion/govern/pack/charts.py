"""Small SVG charts drawn by hand for the HTML pack: risk heatmap, control-status bars, data-flow diagram."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape

from bastion.govern.controls import ControlResult, ControlStatus
from bastion.govern.inventory import System

__all__ = ["STATUS_COLOURS", "dfd_svg", "heatmap_svg", "status_bars_svg"]

STATUS_COLOURS = {
    ControlStatus.EFFECTIVE: "#2e7d32",
    ControlStatus.STALE: "#f9a825",
    ControlStatus.UNSIGNED: "#ef6c00",
    ControlStatus.FAILING: "#c62828",
    ControlStatus.MISSING: "#9e9e9e",
    ControlStatus.NOT_APPLICABLE: "#e0e0e0",
}


def _cell_colour(likelihood: int, impact: int) -> str:
    score = likelihood * impact
    if score >= 15:
        return "#e57373"
    if score >= 10:
        return "#ffb74d"
    if score >= 5:
        return "#fff176"
    return "#aed581"


def heatmap_svg(grid: Sequence[Sequence[int]], title: str) -> str:
    """5 x 5 heatmap, impact up, likelihood right; ``grid[impact - 1][likelihood - 1]`` counts."""
    size, left, top = 44, 60, 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + 5 * size + 20}" '
        f'height="{top + 5 * size + 50}" '
        f'role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for impact in range(1, 6):
        y = top + (5 - impact) * size
        parts.append(
            f'<text x="{left - 8}" y="{y + size / 2 + 4}" font-size="11" text-anchor="end">{impact}</text>'
        )
        for likelihood in range(1, 6):
            x = left + (likelihood - 1) * size
            count = grid[impact - 1][likelihood - 1]
            parts.append(
                f'<rect x="{x}" y="{y}" width="{size - 2}" height="{size - 2}" '
                f'fill="{_cell_colour(likelihood, impact)}"/>'
            )
            if count:
                parts.append(
                    f'<text x="{x + size / 2 - 1}" y="{y + size / 2 + 5}" font-size="14" font-weight="bold" '
                    f'text-anchor="middle">{count}</text>'
                )
    base = top + 5 * size
    for likelihood in range(1, 6):
        centre = left + (likelihood - 1) * size + size / 2
        parts.append(
            f'<text x="{centre}" y="{base + 14}" font-size="11" text-anchor="middle">{likelihood}</text>'
        )
    parts.append(
        f'<text x="{left + 2.5 * size}" y="{base + 32}" font-size="11" text-anchor="middle">likelihood</text>'
    )
    parts.append(
        f'<text x="14" y="{top + 2.5 * size}" font-size="11" text-anchor="middle" '
        f'transform="rotate(-90 14 {top + 2.5 * size})">impact</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def status_bars_svg(results: Sequence[ControlResult]) -> str:
    """One horizontal stacked bar of control statuses with a legend."""
    counts = Counter(r.status for r in results)
    total = sum(counts.values()) or 1
    width, x = 520, 0.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="70" role="img" '
        'aria-label="control status">'
    ]
    for status in ControlStatus:
        share = counts.get(status, 0) / total * width
        if share:
            parts.append(
                f'<rect x="{x:.1f}" y="4" width="{share:.1f}" height="24" fill="{STATUS_COLOURS[status]}"/>'
            )
            x += share
    legend_x = 0
    for status in ControlStatus:
        if counts.get(status):
            parts.append(
                f'<rect x="{legend_x}" y="40" width="12" height="12" fill="{STATUS_COLOURS[status]}"/>'
            )
            label = f"{status.value.replace('_', ' ')} {counts[status]}"
            parts.append(f'<text x="{legend_x + 16}" y="51" font-size="11">{escape(label)}</text>')
            legend_x += 18 + 7 * len(label)
    parts.append("</svg>")
    return "".join(parts)


def dfd_svg(system: System) -> str:
    """A data-flow diagram: one column per trust zone (dashed boxes = trust boundaries), arrows for flows;
    flows across a boundary are red."""
    zones: dict[str, list[str]] = {}
    for component in system.components:
        zones.setdefault(component.zone, []).append(component.id)
    names = {c.id: c.name for c in system.components}
    zone_of = {c.id: c.zone for c in system.components}
    col_w, box_w, box_h, gap, top = 230, 180, 44, 26, 40
    position: dict[str, tuple[float, float]] = {}
    rows = max((len(m) for m in zones.values()), default=1)
    height = top + rows * (box_h + gap) + 20
    width = max(1, len(zones)) * col_w + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="data-flow diagram of {escape(system.name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#455a64"/></marker></defs>',
    ]
    for index, (zone, members) in enumerate(zones.items()):
        x = 10 + index * col_w
        parts.append(
            f'<rect x="{x}" y="10" width="{col_w - 20}" height="{height - 20}" fill="none" stroke="#78909c" '
            f'stroke-dasharray="6 4"/><text x="{x + 8}" y="28" font-size="12" fill="#37474f">'
            f"trust zone: {escape(zone)}</text>"
        )
        for row, component_id in enumerate(members):
            bx, by = x + (col_w - 20 - box_w) / 2, top + row * (box_h + gap)
            position[component_id] = (bx, by)
            label = names[component_id]
            label = label if len(label) <= 30 else label[:29] + "…"
            parts.append(
                f'<rect x="{bx}" y="{by}" width="{box_w}" height="{box_h}" rx="6" fill="#eceff1" '
                'stroke="#455a64"/>'
                f'<text x="{bx + box_w / 2}" y="{by + box_h / 2 + 4}" font-size="11" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    for flow in system.flows:
        (sx, sy), (tx, ty) = position[flow.source], position[flow.target]
        crossing = zone_of[flow.source] != zone_of[flow.target]
        colour = "#c62828" if crossing else "#455a64"
        offset = 6 if flow.source < flow.target else -6
        y1, y2 = sy + box_h / 2 + offset, ty + box_h / 2 + offset
        if tx == sx:  # same column: a curve outside the boxes, on the right
            edge = sx + box_w
            bulge = edge + 14 + abs(y2 - y1) / 12
            parts.append(
                f'<path d="M {edge} {y1} C {bulge} {y1}, {bulge} {y2}, {edge} {y2}" fill="none" '
                f'stroke="{colour}" stroke-width="1.4" marker-end="url(#arrow)"/>'
            )
            continue
        start_x = sx + box_w if tx > sx else sx
        end_x = tx if tx > sx else tx + box_w
        parts.append(
            f'<line x1="{start_x}" y1="{y1}" x2="{end_x}" y2="{y2}" '
            f'stroke="{colour}" stroke-width="1.4" marker-end="url(#arrow)"/>'
        )
    parts.append("</svg>")
    return "".join(parts)
