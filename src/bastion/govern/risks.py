"""Risk register: risks from the threat model plus manual ones, inherent and residual, with a heatmap.

One risk per (system, threat rule): the threats of a rule in a system share likelihood, impact and controls.
Residual risk follows from the controls' status (never typed in)::

    reduction  = mean effectiveness of the risk's applicable controls
                 (effective 1, stale 0.5, unsigned 0.25, failing or missing 0)
    residual L = max(1, ceil(L x (1 - 0.7 x reduction)))                 controls lower likelihood, not impact
    score      = L x I   (1-25): critical >= 15, high >= 10, medium >= 5, low < 5
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from bastion.govern.controls import ControlResult, ControlStatus
from bastion.govern.inventory import Inventory
from bastion.govern.threats import Threat

__all__ = ["CONTROL_WEIGHT", "RiskEntry", "heatmap", "level", "risk_register"]

#: the share of likelihood a fully effective set of controls removes
CONTROL_WEIGHT = 0.7


def level(score: int) -> str:
    if score >= 15:
        return "critical"
    if score >= 10:
        return "high"
    if score >= 5:
        return "medium"
    return "low"


@dataclass(frozen=True, slots=True)
class RiskEntry:
    id: str
    title: str
    system: str | None
    origin: str
    likelihood: int
    impact: int
    residual_likelihood: int
    controls: tuple[str, ...]
    control_status: tuple[tuple[str, str], ...]
    owner: str
    treatment: str
    review: dt.date | None
    threats: tuple[str, ...] = ()

    @property
    def inherent(self) -> int:
        return self.likelihood * self.impact

    @property
    def residual(self) -> int:
        return self.residual_likelihood * self.impact

    @property
    def inherent_level(self) -> str:
        return level(self.inherent)

    @property
    def residual_level(self) -> str:
        return level(self.residual)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "system": self.system,
            "origin": self.origin,
            "likelihood": self.likelihood,
            "impact": self.impact,
            "inherent": self.inherent,
            "inherent_level": self.inherent_level,
            "residual_likelihood": self.residual_likelihood,
            "residual": self.residual,
            "residual_level": self.residual_level,
            "controls": [{"id": c, "status": s} for c, s in self.control_status],
            "owner": self.owner,
            "treatment": self.treatment,
            "review": self.review.isoformat() if self.review else None,
            "threats": list(self.threats),
        }


def _residual(likelihood: int, statuses: Sequence[ControlStatus]) -> int:
    relevant = [s for s in statuses if s != ControlStatus.NOT_APPLICABLE]
    reduction = sum(s.effectiveness for s in relevant) / len(relevant) if relevant else 0.0
    return max(1, math.ceil(likelihood * (1 - CONTROL_WEIGHT * reduction) - 1e-9))


def risk_register(
    inventory: Inventory,
    threats: Sequence[Threat],
    controls: Sequence[ControlResult],
    as_of: dt.date,
) -> list[RiskEntry]:
    """Risks from ``threats`` (grouped per system and rule) and the inventory's manual risks, worst first."""
    status = {r.control.id: r.status for r in controls}
    owners = {s.id: s.owner or inventory.organisation.owner for s in inventory.systems}
    grouped: dict[tuple[str, str], list[Threat]] = {}
    for threat in threats:
        grouped.setdefault((threat.system, threat.rule.id), []).append(threat)
    entries: list[RiskEntry] = []
    for (system, rule_id), members in grouped.items():
        rule = members[0].rule
        pairs = tuple((c, status.get(c, ControlStatus.MISSING).value) for c in rule.controls)
        residual = _residual(rule.likelihood, [status.get(c, ControlStatus.MISSING) for c in rule.controls])
        days = 90 if level(rule.likelihood * rule.impact) in ("critical", "high") else 180
        entries.append(
            RiskEntry(
                id=f"risk-{system}-{rule_id.removeprefix('thr-')}",
                title=rule.title,
                system=system,
                origin="threat model",
                likelihood=rule.likelihood,
                impact=rule.impact,
                residual_likelihood=residual,
                controls=rule.controls,
                control_status=pairs,
                owner=owners.get(system, ""),
                treatment="mitigate",
                review=as_of + dt.timedelta(days=days),
                threats=tuple(t.id for t in members),
            )
        )
    for risk in inventory.risks:
        pairs = tuple((c, status.get(c, ControlStatus.MISSING).value) for c in risk.controls)
        entries.append(
            RiskEntry(
                id=risk.id,
                title=risk.title,
                system=risk.system,
                origin="manual",
                likelihood=risk.likelihood,
                impact=risk.impact,
                residual_likelihood=_residual(
                    risk.likelihood, [status.get(c, ControlStatus.MISSING) for c in risk.controls]
                ),
                controls=tuple(risk.controls),
                control_status=pairs,
                owner=risk.owner,
                treatment=risk.treatment,
                review=risk.review,
            )
        )
    return sorted(entries, key=lambda e: (-e.residual, -e.inherent, e.id))


def heatmap(entries: Sequence[RiskEntry], residual: bool = False) -> list[list[int]]:
    """Counts per cell: ``grid[impact - 1][likelihood - 1]``."""
    grid = [[0] * 5 for _ in range(5)]
    for entry in entries:
        likelihood = entry.residual_likelihood if residual else entry.likelihood
        grid[entry.impact - 1][likelihood - 1] += 1
    return grid
