"""The control catalog, control status computed from evidence, and coverage matrices per framework.

Status is never typed in: it follows from the evidence records (``evidence.py``) of the kinds a control
accepts. Fresh supporting evidence makes a control *effective*; contradicting evidence (a red-team ASR
over the limit, a flagged model file) makes it *failing*; evidence older than the control's
``max_age_days`` makes it *stale*; a document without approval leaves it *unsigned*; nothing at all
is *missing*.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache

from bastion.core.errors import ConfigError
from bastion.core.taxonomy import load_taxonomy
from bastion.govern._data import load_data
from bastion.govern.classify import Classification
from bastion.govern.evidence import EvidenceOutcome, EvidenceRecord
from bastion.govern.inventory import Inventory, System

__all__ = [
    "FRAMEWORKS",
    "Control",
    "ControlResult",
    "ControlStatus",
    "CoverageRow",
    "applicable_systems",
    "assess_controls",
    "coverage",
    "framework_items",
    "load_controls",
    "normalise_ref",
]

#: framework keys in display order
FRAMEWORKS: tuple[str, ...] = (
    "eu_ai_act",
    "iso42001",
    "nist_ai_rmf",
    "nist_genai",
    "owasp_llm",
    "dora",
    "gdpr",
)
_APPLIES = (
    "any",
    "high",
    "transparency",
    "llm",
    "personal_data",
    "trained_model",
    "vendors",
    "dora",
    "rag",
    "tools",
)


class ControlStatus(StrEnum):
    EFFECTIVE = "effective"
    STALE = "stale"
    UNSIGNED = "unsigned"
    FAILING = "failing"
    MISSING = "missing"
    NOT_APPLICABLE = "not_applicable"

    @property
    def effectiveness(self) -> float:
        """How much of a risk the control removes, for residual risk (1 = all it can)."""
        return {"effective": 1.0, "stale": 0.5, "unsigned": 0.25}.get(self.value, 0.0)

    @property
    def rank(self) -> int:
        """Higher is better (for the best status of several controls)."""
        order = ("not_applicable", "missing", "failing", "unsigned", "stale", "effective")
        return order.index(self.value)


@dataclass(frozen=True, slots=True)
class Control:
    id: str
    title: str
    kind: str
    applies: str
    description: str
    evidence: tuple[str, ...]
    max_age_days: int
    mappings: dict[str, tuple[str, ...]]
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)
    document: str | None = None


@dataclass(frozen=True, slots=True)
class ControlResult:
    control: Control
    status: ControlStatus
    systems: tuple[str, ...]
    records: tuple[EvidenceRecord, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class CoverageRow:
    framework: str
    item: str
    title: str
    controls: tuple[str, ...]
    status: ControlStatus


@cache
def load_controls() -> tuple[Control, ...]:
    """The shipped control catalog (validated: unique ids, known applies values and frameworks)."""
    raw = load_data("controls.yaml")["controls"]
    controls: list[Control] = []
    seen: set[str] = set()
    for entry in raw:
        control_id = str(entry["id"])
        if control_id in seen:
            raise ConfigError(f"controls.yaml: duplicate control {control_id!r}")
        seen.add(control_id)
        unknown_kinds = set(entry.get("requires", {})) - set(entry["evidence"])
        if unknown_kinds:
            raise ConfigError(f"controls.yaml: {control_id}: requires words of kinds it does not accept")
        if entry["applies"] not in _APPLIES:
            raise ConfigError(f"controls.yaml: {control_id}: unknown applies {entry['applies']!r}")
        unknown = set(entry["mappings"]) - set(FRAMEWORKS)
        if unknown:
            raise ConfigError(f"controls.yaml: {control_id}: unknown frameworks {sorted(unknown)}")
        controls.append(
            Control(
                id=control_id,
                title=str(entry["title"]),
                kind=str(entry["kind"]),
                applies=str(entry["applies"]),
                description=str(entry["description"]),
                evidence=tuple(entry["evidence"]),
                max_age_days=int(entry["max_age_days"]),
                mappings={k: tuple(str(v) for v in values) for k, values in entry["mappings"].items()},
                requires={k: tuple(v) for k, v in entry.get("requires", {}).items()},
                document=entry.get("document"),
            )
        )
    return tuple(controls)


_ARTICLE = re.compile(r"^(Art\. \d+)")


def normalise_ref(framework: str, ref: str) -> str:
    """The coverage-matrix item of a mapping: ``Art. 9(6)`` -> ``Art. 9``; other ids unchanged."""
    if framework in ("eu_ai_act", "dora", "gdpr"):
        match = _ARTICLE.match(ref)
        return match.group(1) if match else ref
    return ref


@cache
def framework_items(framework: str) -> tuple[tuple[str, str], ...]:
    """(id, title) of every item of ``framework`` (OWASP from the core taxonomy)."""
    if framework == "owasp_llm":
        return tuple((item.id, item.title) for item in load_taxonomy().owasp_items.values())
    frameworks = load_data("frameworks.yaml")["frameworks"]
    if framework not in frameworks:
        raise ConfigError(f"unknown framework {framework!r}")
    return tuple((str(item["id"]), str(item["title"])) for item in frameworks[framework]["items"])


def framework_title(framework: str) -> str:
    if framework == "owasp_llm":
        return "OWASP Top 10 for LLM Applications 2025"
    return str(load_data("frameworks.yaml")["frameworks"][framework]["title"])


def _kinds(system: System) -> set[str]:
    return {component.kind for component in system.components}


def _applies(control: Control, system: System, inventory: Inventory, result: Classification | None) -> bool:
    kinds = _kinds(system)
    match control.applies:
        case "any":
            return True
        case "high":
            return result is not None and result.risk == "high"
        case "transparency":
            return result is not None and any(o.ref.startswith("Art. 50") for o in result.obligations)
        case "llm":
            models = {m.kind for m in inventory.models if m.id in system.models}
            return bool(kinds & {"llm_api", "llm_local"}) or "llm" in models
        case "personal_data":
            return system.personal_data
        case "trained_model":
            return any(m.origin == "in_house" for m in inventory.models if m.id in system.models)
        case "vendors":
            ict = [v for v in inventory.vendors if v.id in system.vendors and v.ict_service]
            return bool(ict) or bool(kinds & {"llm_api", "external_service"})
        case "dora":
            return result is not None and result.dora is not None and result.dora.applies
        case "rag":
            return "vector_store" in kinds
        case "tools":
            return "tool" in kinds
    return False


def applicable_systems(
    control: Control, inventory: Inventory, classifications: Sequence[Classification]
) -> tuple[str, ...]:
    by_id = {c.system: c for c in classifications}
    return tuple(s.id for s in inventory.systems if _applies(control, s, inventory, by_id.get(s.id)))


def _serves(record: EvidenceRecord, control: Control, systems: tuple[str, ...]) -> bool:
    if record.kind not in control.evidence:
        return False
    if record.kind == "signed_document" and control.document and record.document != control.document:
        return False
    return record.system is None or record.system in systems


def _judge(
    control: Control, records: Sequence[EvidenceRecord], now: dt.datetime
) -> tuple[ControlStatus, str]:
    if not records:
        return ControlStatus.MISSING, f"no evidence of kind {' or '.join(control.evidence)}"
    fresh_support: list[EvidenceRecord] = []
    stale_support: list[EvidenceRecord] = []
    contradicting: list[EvidenceRecord] = []
    unsigned: list[EvidenceRecord] = []
    notes: list[str] = []
    limit = dt.timedelta(days=control.max_age_days)
    for record in records:
        outcome = record.outcome
        wanted = control.requires.get(record.kind, ())
        if outcome == EvidenceOutcome.SUPPORTS and wanted:
            lacking = [w for w in wanted if not any(w in fact for fact in record.facts)]
            if lacking:
                notes.append(f"{record.source} does not mention {', '.join(lacking)}")
                continue
        fresh = record.produced_at is not None and now - record.produced_at <= limit and not record.stale(now)
        if outcome == EvidenceOutcome.SUPPORTS:
            (fresh_support if fresh else stale_support).append(record)
        elif outcome == EvidenceOutcome.CONTRADICTS and fresh:
            contradicting.append(record)
        elif outcome == EvidenceOutcome.CONTRADICTS:
            notes.append(f"{record.source}: negative but stale ({record.summary})")
        elif outcome == EvidenceOutcome.UNSIGNED:
            unsigned.append(record)
        else:
            notes.append(f"{record.source}: {record.outcome.value} ({record.summary})")
    if contradicting:
        return ControlStatus.FAILING, "; ".join(f"{r.source}: {r.summary}" for r in contradicting)
    if fresh_support:
        return ControlStatus.EFFECTIVE, "; ".join(f"{r.source}: {r.summary}" for r in fresh_support)
    if stale_support:
        oldest = min(r.produced_at for r in stale_support if r.produced_at is not None)
        return ControlStatus.STALE, f"evidence from {oldest.date()} is older than {control.max_age_days} days"
    if unsigned:
        return ControlStatus.UNSIGNED, "; ".join(f"{r.source}: {r.summary}" for r in unsigned)
    return ControlStatus.MISSING, "; ".join(notes) or "no usable evidence"


def assess_controls(
    inventory: Inventory,
    classifications: Sequence[Classification],
    records: Iterable[EvidenceRecord],
    now: dt.datetime | None = None,
) -> list[ControlResult]:
    """The status of every control of the catalog for this inventory."""
    moment = now or dt.datetime.now(dt.UTC)
    evidence = list(records)
    results: list[ControlResult] = []
    for control in load_controls():
        systems = applicable_systems(control, inventory, classifications)
        if not systems:
            results.append(ControlResult(control, ControlStatus.NOT_APPLICABLE, (), (), "no system needs it"))
            continue
        mine = tuple(r for r in evidence if _serves(r, control, systems))
        status, reason = _judge(control, mine, moment)
        results.append(ControlResult(control, status, systems, mine, reason))
    return results


def coverage(results: Sequence[ControlResult], framework: str) -> list[CoverageRow]:
    """One row per framework item: the controls mapped to it and the best status among them."""
    rows: list[CoverageRow] = []
    for item, title in framework_items(framework):
        mapped = [
            r
            for r in results
            if any(normalise_ref(framework, ref) == item for ref in r.control.mappings.get(framework, ()))
        ]
        best = max((r.status for r in mapped), key=lambda s: s.rank, default=ControlStatus.MISSING)
        rows.append(CoverageRow(framework, item, title, tuple(r.control.id for r in mapped), best))
    return rows
