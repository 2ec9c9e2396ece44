"""Threat model from the inventory's components and data flows: rules as data, a Mermaid DFD, diffs.

Each rule of ``data/govern/threat_rules.yaml`` matches components or flows (see the file's header) and
yields a threat per lifecycle stage with STRIDE letters, OWASP LLM ids, MITRE ATLAS techniques, PLOT4ai cards
and the controls that mitigate it. Threat ids are stable (``system/rule/subject``), so two models diff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from bastion.core.errors import ConfigError, InputError
from bastion.core.taxonomy import load_taxonomy
from bastion.govern._data import load_data
from bastion.govern.inventory import Component, DataFlow, Inventory, System

__all__ = [
    "STAGES",
    "STRIDE",
    "Threat",
    "ThreatDiff",
    "ThreatRule",
    "component_subject",
    "diff_threats",
    "flow_subject",
    "load_rules",
    "matches",
    "mermaid",
    "threat_model",
    "threats_for",
    "threats_to_dict",
]

STAGES: tuple[str, ...] = ("data", "training", "deployment", "monitoring")
STRIDE = {
    "S": "Spoofing",
    "T": "Tampering",
    "R": "Repudiation",
    "I": "Information disclosure",
    "D": "Denial of service",
    "E": "Elevation of privilege",
}
_CONDITION_KEYS = {
    "component": {"kind", "stores_personal_data", "exposed"},
    "flow": {"source_kind", "target_kind", "crosses_boundary", "personal_data", "authenticated", "encrypted"},
}


@dataclass(frozen=True, slots=True)
class ThreatRule:
    id: str
    title: str
    stage: str
    subject: str
    when: dict[str, Any]
    stride: tuple[str, ...]
    owasp: tuple[str, ...]
    atlas: tuple[str, ...]
    plot4ai: tuple[str, ...]
    controls: tuple[str, ...]
    likelihood: int
    impact: int
    match_examples: tuple[dict[str, Any], ...]
    no_match_examples: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Threat:
    id: str
    rule: ThreatRule
    system: str
    subject: str
    subject_name: str

    @property
    def stage(self) -> str:
        return self.rule.stage


@dataclass(frozen=True, slots=True)
class ThreatDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int


@cache
def load_rules() -> tuple[ThreatRule, ...]:
    """The shipped rules, validated against the taxonomy, the PLOT4ai excerpt and the control catalog."""
    taxonomy = load_taxonomy()
    cards = {card["label"] for card in load_data("plot4ai_cards.yaml")["cards"]}
    control_ids = {c["id"] for c in load_data("controls.yaml")["controls"]}
    rules: list[ThreatRule] = []
    for entry in load_data("threat_rules.yaml")["rules"]:
        rule_id = str(entry["id"])
        problems: list[str] = []
        if entry["stage"] not in STAGES:
            problems.append(f"stage {entry['stage']!r}")
        if entry["subject"] not in _CONDITION_KEYS:
            problems.append(f"subject {entry['subject']!r}")
        elif set(entry["when"]) - _CONDITION_KEYS[entry["subject"]]:
            problems.append(f"conditions {sorted(set(entry['when']) - _CONDITION_KEYS[entry['subject']])}")
        problems += [f"STRIDE {s!r}" for s in entry["stride"] if s not in STRIDE]
        problems += [f"PLOT4ai card {c!r}" for c in entry["plot4ai"] if c not in cards]
        problems += [f"control {c!r}" for c in entry["controls"] if c not in control_ids]
        try:
            taxonomy.validate(tuple(entry["owasp"]), tuple(entry["atlas"]))
        except ConfigError as error:
            problems.append(str(error))
        if problems:
            raise ConfigError(f"threat_rules.yaml: {rule_id}: unknown {'; '.join(problems)}")
        rules.append(
            ThreatRule(
                id=rule_id,
                title=str(entry["title"]),
                stage=str(entry["stage"]),
                subject=str(entry["subject"]),
                when=dict(entry["when"]),
                stride=tuple(entry["stride"]),
                owasp=tuple(entry["owasp"]),
                atlas=tuple(entry["atlas"]),
                plot4ai=tuple(entry["plot4ai"]),
                controls=tuple(entry["controls"]),
                likelihood=int(entry["likelihood"]),
                impact=int(entry["impact"]),
                match_examples=tuple(entry["examples"]["match"]),
                no_match_examples=tuple(entry["examples"]["no_match"]),
            )
        )
    if len({r.id for r in rules}) != len(rules):
        raise ConfigError("threat_rules.yaml: duplicate rule ids")
    return tuple(rules)


def matches(rule: ThreatRule, subject: Mapping[str, Any]) -> bool:
    """Whether every condition of ``rule`` holds for ``subject`` (a missing key never matches)."""
    for key, wanted in rule.when.items():
        if key not in subject:
            return False
        value = subject[key]
        if isinstance(wanted, list):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def _exposed(component: Component, system: System) -> bool:
    if component.zone == "internet":
        return True
    zones = {c.id: c.zone for c in system.components}
    return any(f.target == component.id and zones.get(f.source) == "internet" for f in system.flows)


def component_subject(component: Component, system: System) -> dict[str, Any]:
    return {
        "kind": component.kind,
        "stores_personal_data": component.stores_personal_data,
        "exposed": _exposed(component, system),
    }


def flow_subject(flow: DataFlow, system: System) -> dict[str, Any]:
    source, target = system.component(flow.source), system.component(flow.target)
    return {
        "source_kind": source.kind,
        "target_kind": target.kind,
        "crosses_boundary": source.zone != target.zone,
        "personal_data": flow.personal_data,
        "authenticated": flow.authenticated,
        "encrypted": flow.encrypted,
    }


def threats_for(system: System) -> list[Threat]:
    """Every threat the rules find in one system, rules in file order."""
    found: list[Threat] = []
    for rule in load_rules():
        if rule.subject == "component":
            for component in system.components:
                if matches(rule, component_subject(component, system)):
                    found.append(
                        Threat(
                            f"{system.id}/{rule.id}/{component.id}",
                            rule,
                            system.id,
                            component.id,
                            component.name,
                        )
                    )
        else:
            for flow in system.flows:
                if matches(rule, flow_subject(flow, system)):
                    subject = f"{flow.source}->{flow.target}"
                    names = f"{system.component(flow.source).name} → {system.component(flow.target).name}"
                    found.append(Threat(f"{system.id}/{rule.id}/{subject}", rule, system.id, subject, names))
    return found


def threat_model(inventory: Inventory) -> list[Threat]:
    """Threats of every system, ordered by lifecycle stage, then system and rule order."""
    threats = [t for system in inventory.systems for t in threats_for(system)]
    return sorted(threats, key=lambda t: STAGES.index(t.stage))


def threats_to_dict(threats: Sequence[Threat]) -> dict[str, Any]:
    """The ``govern threats --format json`` document (input of ``--diff``)."""
    return {
        "schema_version": 1,
        "threats": [
            {
                "id": t.id,
                "system": t.system,
                "rule": t.rule.id,
                "title": t.rule.title,
                "stage": t.stage,
                "subject": t.subject,
                "subject_name": t.subject_name,
                "stride": list(t.rule.stride),
                "owasp": list(t.rule.owasp),
                "atlas": list(t.rule.atlas),
                "plot4ai": list(t.rule.plot4ai),
                "controls": list(t.rule.controls),
                "likelihood": t.rule.likelihood,
                "impact": t.rule.impact,
            }
            for t in threats
        ],
    }


def diff_threats(previous: Mapping[str, Any], current: Sequence[Threat]) -> ThreatDiff:
    """Threats added and removed since ``previous`` (a :func:`threats_to_dict` document)."""
    try:
        old = {str(t["id"]) for t in previous["threats"]}
    except (KeyError, TypeError) as error:
        raise InputError("previous threat model: expected {'threats': [{'id': ...}, ...]}") from error
    new = {t.id for t in current}
    return ThreatDiff(tuple(sorted(new - old)), tuple(sorted(old - new)), len(new & old))


def _node_id(text: str) -> str:
    return "n_" + re.sub(r"[^A-Za-z0-9_]", "_", text)


def _label(text: str) -> str:
    return text.replace('"', "'").replace("<", "‹").replace(">", "›")


_SHAPES = {
    "user": ('(["', '"])'),
    "database": ('[("', '")]'),
    "vector_store": ('[("', '")]'),
    "feature_store": ('[("', '")]'),
    "model_registry": ('[("', '")]'),
    "training_data": ('[("', '")]'),
    "llm_local": ('{{"', '"}}'),
    "llm_api": ('{{"', '"}}'),
    "scoring_service": ('{{"', '"}}'),
}


def mermaid(system: System) -> str:
    """A Mermaid flowchart of the system: one subgraph per trust zone (the trust boundaries); flows that
    cross a boundary are thick arrows labelled with the data they carry."""
    lines = ["flowchart LR"]
    zones: dict[str, list[Component]] = {}
    for component in system.components:
        zones.setdefault(component.zone, []).append(component)
    for zone, members in zones.items():
        lines.append(f'  subgraph {_node_id("zone_" + zone)}["trust zone: {_label(zone)}"]')
        for component in members:
            left, right = _SHAPES.get(component.kind, ('["', '"]'))
            lines.append(f"    {_node_id(component.id)}{left}{_label(component.name)}{right}")
        lines.append("  end")
    zone_of = {c.id: c.zone for c in system.components}
    for flow in system.flows:
        arrow = "==>" if zone_of[flow.source] != zone_of[flow.target] else "-->"
        data = ", ".join(flow.data) or "no personal data"
        if not flow.encrypted:
            data += ", unencrypted"
        lines.append(f'  {_node_id(flow.source)} {arrow}|"{_label(data)}"| {_node_id(flow.target)}')
    return "\n".join(lines) + "\n"
