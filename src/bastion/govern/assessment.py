"""One governance assessment of an inventory: classification, threats, evidence, controls and risks.

Every command and the audit pack build on :func:`assess`, so they all show the same state::

    bastion.yaml ─► inventory ─► classify ─┐
                         ├──► threats ─────┼─► controls (status from evidence) ─► risk register
                         └──► evidence ────┘
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from bastion.core.yamlfile import read_text_file
from bastion.govern.classify import Classification, classify_inventory
from bastion.govern.controls import ControlResult, assess_controls
from bastion.govern.evidence import EvidenceOutcome, EvidenceRecord, collect
from bastion.govern.inventory import Inventory, load_inventory_text
from bastion.govern.risks import RiskEntry, risk_register
from bastion.govern.threats import Threat, threat_model

__all__ = ["Assessment", "assess"]


@dataclass(frozen=True, slots=True)
class Assessment:
    inventory: Inventory
    inventory_path: Path
    inventory_sha256: str
    generated_at: dt.datetime
    classifications: tuple[Classification, ...]
    threats: tuple[Threat, ...]
    records: tuple[EvidenceRecord, ...]
    controls: tuple[ControlResult, ...]
    risks: tuple[RiskEntry, ...]
    timeline: str | None = None


def _internal_records(
    inventory: Inventory, path: Path, digest: str, now: dt.datetime, classifications: int
) -> list[EvidenceRecord]:
    """Evidence Bastion produces itself: the inventory file, this classification, the risk register."""
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
    systems = len(inventory.systems)
    unowned = [r.id for r in inventory.risks if not r.owner]
    overdue = [r.id for r in inventory.risks if r.review is not None and r.review < now.date()]
    register_ok = not unowned and not overdue
    problems = ", ".join([*(f"{r} has no owner" for r in unowned), *(f"{r} review overdue" for r in overdue)])
    return [
        EvidenceRecord(
            kind="inventory",
            source=path.name,
            produced_at=modified,
            sha256=digest,
            expires_at=None,
            summary=f"{systems} systems, {len(inventory.models)} models, {len(inventory.vendors)} vendors",
        ),
        EvidenceRecord(
            kind="classification",
            source="bastion govern classify",
            produced_at=now,
            sha256=digest,
            expires_at=None,
            summary=f"{classifications} systems classified from {path.name}",
        ),
        EvidenceRecord(
            kind="risk_register",
            source="bastion govern risks",
            produced_at=now,
            sha256=digest,
            expires_at=None,
            summary="risk register generated; every manual risk has an owner and a review date"
            if register_ok
            else f"risk register incomplete: {problems}",
            outcome=EvidenceOutcome.SUPPORTS if register_ok else EvidenceOutcome.CONTRADICTS,
        ),
    ]


def assess(inventory_path: Path, now: dt.datetime | None = None, timeline: str | None = None) -> Assessment:
    """Read the inventory at ``inventory_path`` and compute the whole governance state as of ``now``."""
    moment = now or dt.datetime.now(dt.UTC)
    text = read_text_file(inventory_path)
    inventory = load_inventory_text(text, str(inventory_path))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    classifications = classify_inventory(inventory, timeline)
    threats = threat_model(inventory)
    records = _internal_records(inventory, inventory_path, digest, moment, len(classifications))
    records += collect(inventory.evidence, inventory_path.parent, moment)
    controls = assess_controls(inventory, classifications, records, moment)
    risks = risk_register(inventory, threats, controls, moment.date())
    return Assessment(
        inventory=inventory,
        inventory_path=inventory_path,
        inventory_sha256=digest,
        generated_at=moment,
        classifications=tuple(classifications),
        threats=tuple(threats),
        records=tuple(records),
        controls=tuple(controls),
        risks=tuple(risks),
        timeline=timeline,
    )
