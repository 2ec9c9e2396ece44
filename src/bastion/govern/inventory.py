"""The AI-system inventory (``bastion.yaml``): schema, loading with file/line/field errors, the example.

>>> inventory = load_inventory_text(example_inventory_text(), "bastion.yaml")
>>> [system.id for system in inventory.systems]
['customer-assistant', 'payment-propensity']

Cross-references (model, vendor and component ids, use cases, practices, entity types, evidence kinds, control
ids) are checked after the schema, and every problem is reported at once with its line.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from bastion.core.errors import ConfigError, UsageError
from bastion.core.yamlfile import Location, describe, line_of, load_yaml_with_lines, read_text_file
from bastion.govern._data import data_text, load_data

__all__ = [
    "COMPONENT_KINDS",
    "EVIDENCE_KINDS",
    "AiActFacts",
    "Component",
    "DataFlow",
    "EvidenceSource",
    "GdprFacts",
    "Inventory",
    "Licence",
    "ManualRisk",
    "Model",
    "Organisation",
    "Supervisor",
    "System",
    "Vendor",
    "example_inventory_text",
    "load_inventory",
    "load_inventory_text",
    "write_example",
]

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(max_length=500)]
Score = Annotated[int, Field(ge=1, le=5)]

ComponentKind = Literal[
    "user",
    "chat_ui",
    "api_gateway",
    "application",
    "llm_api",
    "llm_local",
    "vector_store",
    "database",
    "document_ingestion",
    "tool",
    "external_service",
    "training_data",
    "feature_store",
    "training_pipeline",
    "model_registry",
    "scoring_service",
    "monitoring",
]
COMPONENT_KINDS: tuple[str, ...] = ComponentKind.__args__  # type: ignore[attr-defined]
DataCategory = Literal[
    "personal",
    "special_category",
    "financial",
    "criminal",
    "children",
    "public",
    "confidential",
    "credentials",
]
EvidenceKind = Literal[
    "redteam_report",
    "guard_policy",
    "gateway_config",
    "monitor_rules",
    "model_scan",
    "ai_bom",
    "privacy_report",
    "retention_settings",
    "signed_document",
    "vendor_assessment",
    "contract_check",
]
EVIDENCE_KINDS: tuple[str, ...] = EvidenceKind.__args__  # type: ignore[attr-defined]
Role = Literal["provider", "deployer", "importer", "distributor"]
PERSONAL_CATEGORIES = frozenset({"personal", "special_category", "financial", "criminal", "children"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Licence(_Model):
    entity_type: str
    name: Text
    authority: ShortText = ""
    reference: ShortText = ""
    source: ShortText = ""


class Supervisor(_Model):
    authority: Text
    scope: ShortText = ""
    source: ShortText = ""


class Organisation(_Model):
    name: Text
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    licences: list[Licence] = Field(min_length=1)
    supervisors: list[Supervisor] = []
    dora_scoped_clients: bool = False
    owner: ShortText = ""
    contact: ShortText = ""


class Model(_Model):
    id: Identifier
    name: Text
    provider: ShortText
    origin: Literal["in_house", "third_party", "open_weights"]
    version: ShortText = ""
    kind: Literal["llm", "embedding", "classifier", "regression", "ranking", "vision", "speech", "other"]
    licence: ShortText = ""
    gpai: bool = False
    gpai_provider: bool = False
    systemic_risk: bool = False
    trained_on: ShortText = ""


class Vendor(_Model):
    id: Identifier
    name: Text
    service: ShortText = ""
    country: ShortText = ""
    ict_service: bool = True
    personal_data: bool = False


class AiActFacts(_Model):
    use_cases: list[str] = []
    practices: list[str] = []
    annex_i_product: bool = False
    derogation: str | None = None
    profiling: bool = False
    interacts_with_natural_persons: bool = False
    synthetic_content: list[Literal["text", "image", "audio", "video"]] = []
    emotion_recognition: bool = False
    biometric_categorisation: bool = False
    deep_fake: bool = False
    public_interest_text: bool = False
    own_name_or_trademark: bool = False
    substantial_modification: bool = False
    changed_purpose: bool = False
    on_market_before: dt.date | None = None
    answers: dict[str, bool | None] = {}
    out_of_scope: ShortText = ""


class GdprFacts(_Model):
    solely_automated_decision: bool = False
    score_drives_decision: bool = False
    significant_effect: bool = False
    dpia_criteria: list[str] = []


class Component(_Model):
    id: Identifier
    name: Text
    kind: ComponentKind
    zone: Identifier
    stores_personal_data: bool = False
    model: Identifier | None = None
    vendor: Identifier | None = None


class DataFlow(_Model):
    source: Identifier
    target: Identifier
    data: list[DataCategory] = []
    authenticated: bool = True
    encrypted: bool = True
    protocol: ShortText = ""

    @property
    def personal_data(self) -> bool:
        return bool(PERSONAL_CATEGORIES.intersection(self.data))


class System(_Model):
    id: Identifier
    name: Text
    purpose: Text
    owner: ShortText = ""
    lifecycle: Literal["planned", "development", "production", "retired"] = "production"
    roles: list[Role] = Field(min_length=1)
    users: list[ShortText] = []
    affected_persons: list[ShortText] = []
    decisions: list[ShortText] = []
    data_categories: list[DataCategory] = []
    models: list[Identifier] = []
    vendors: list[Identifier] = []
    deployment: ShortText = ""
    human_oversight: ShortText = ""
    ai_act: AiActFacts = AiActFacts()
    gdpr: GdprFacts = GdprFacts()
    components: list[Component] = []
    flows: list[DataFlow] = []

    @property
    def personal_data(self) -> bool:
        return bool(PERSONAL_CATEGORIES.intersection(self.data_categories))

    def component(self, component_id: str) -> Component:
        for component in self.components:
            if component.id == component_id:
                return component
        raise KeyError(component_id)


class EvidenceSource(_Model):
    kind: EvidenceKind
    path: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    system: Identifier | None = None
    document: Identifier | None = None
    approved_by: ShortText = ""
    approved_at: dt.date | None = None
    max_age_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class ManualRisk(_Model):
    id: Identifier
    title: Text
    system: Identifier | None = None
    likelihood: Score
    impact: Score
    owner: ShortText = ""
    treatment: Literal["mitigate", "accept", "transfer", "avoid"] = "mitigate"
    controls: list[str] = []
    review: dt.date | None = None


class Inventory(_Model):
    version: Literal[1]
    organisation: Organisation
    models: list[Model] = []
    vendors: list[Vendor] = []
    systems: list[System] = Field(min_length=1)
    evidence: list[EvidenceSource] = []
    risks: list[ManualRisk] = []

    def system(self, system_id: str) -> System:
        for system in self.systems:
            if system.id == system_id:
                return system
        raise UsageError(f"no system {system_id!r} in the inventory")

    def model(self, model_id: str) -> Model:
        for model in self.models:
            if model.id == model_id:
                return model
        raise KeyError(model_id)


def _duplicates(ids: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    twice: set[str] = set()
    for item in ids:
        (twice if item in seen else seen).add(item)
    return twice


def _reference_problems(inventory: Inventory) -> list[tuple[Location, str]]:
    """Problems the schema cannot see: unknown ids and vocabulary, duplicates."""
    ai_act = load_data("ai_act.yaml")
    regimes = load_data("regimes.yaml")
    control_ids = {c["id"] for c in load_data("controls.yaml")["controls"]}
    problems: list[tuple[Location, str]] = []
    for index, licence in enumerate(inventory.organisation.licences):
        if licence.entity_type not in regimes["entity_types"]:
            problems.append(
                (
                    ("organisation", "licences", index, "entity_type"),
                    f"unknown entity type {licence.entity_type!r} "
                    f"(one of {', '.join(regimes['entity_types'])})",
                )
            )
    for name, ids in (
        ("models", [m.id for m in inventory.models]),
        ("vendors", [v.id for v in inventory.vendors]),
        ("systems", [s.id for s in inventory.systems]),
        ("risks", [r.id for r in inventory.risks]),
    ):
        for duplicate in sorted(_duplicates(ids)):
            problems.append(((name, ids.index(duplicate)), f"duplicate id {duplicate!r}"))
    model_ids = {m.id for m in inventory.models}
    vendor_ids = {v.id for v in inventory.vendors}
    system_ids = {s.id for s in inventory.systems}
    criteria = set(regimes["gdpr"]["art_35"]["criteria"])
    for s_index, system in enumerate(inventory.systems):
        at: Location = ("systems", s_index)
        for index, model_id in enumerate(system.models):
            if model_id not in model_ids:
                problems.append(((*at, "models", index), f"unknown model {model_id!r} (not under models:)"))
        for index, vendor_id in enumerate(system.vendors):
            if vendor_id not in vendor_ids:
                problems.append(
                    ((*at, "vendors", index), f"unknown vendor {vendor_id!r} (not under vendors:)")
                )
        for index, use_case in enumerate(system.ai_act.use_cases):
            if use_case not in ai_act["use_cases"]:
                problems.append(
                    (
                        (*at, "ai_act", "use_cases", index),
                        f"unknown use case {use_case!r} (one of {', '.join(sorted(ai_act['use_cases']))})",
                    )
                )
        for index, practice in enumerate(system.ai_act.practices):
            if practice not in ai_act["prohibited_practices"]:
                problems.append(((*at, "ai_act", "practices", index), f"unknown practice {practice!r}"))
        derogation = system.ai_act.derogation
        if derogation is not None and derogation not in ai_act["derogation_conditions"]:
            problems.append(
                (
                    (*at, "ai_act", "derogation"),
                    f"unknown Art. 6(3) condition {derogation!r} "
                    f"(one of {', '.join(ai_act['derogation_conditions'])})",
                )
            )
        questions = {
            q["id"] for case in ai_act["use_cases"].values() for q in case.get("deciding_questions", [])
        }
        for key in system.ai_act.answers:
            if key not in questions:
                problems.append(((*at, "ai_act", "answers", key), f"unknown deciding question {key!r}"))
        for index, criterion in enumerate(system.gdpr.dpia_criteria):
            if criterion not in criteria:
                problems.append(
                    ((*at, "gdpr", "dpia_criteria", index), f"unknown DPIA criterion {criterion!r}")
                )
        component_ids = [c.id for c in system.components]
        for duplicate in sorted(_duplicates(component_ids)):
            problems.append(
                ((*at, "components", component_ids.index(duplicate)), f"duplicate component {duplicate!r}")
            )
        for index, component in enumerate(system.components):
            if component.model is not None and component.model not in model_ids:
                problems.append(((*at, "components", index, "model"), f"unknown model {component.model!r}"))
            if component.vendor is not None and component.vendor not in vendor_ids:
                problems.append(
                    ((*at, "components", index, "vendor"), f"unknown vendor {component.vendor!r}")
                )
        for index, flow in enumerate(system.flows):
            for end in ("source", "target"):
                if getattr(flow, end) not in component_ids:
                    problems.append(
                        (
                            (*at, "flows", index, end),
                            f"unknown component {getattr(flow, end)!r} in this system",
                        )
                    )
    for index, source in enumerate(inventory.evidence):
        if source.system is not None and source.system not in system_ids:
            problems.append((("evidence", index, "system"), f"unknown system {source.system!r}"))
    for index, risk in enumerate(inventory.risks):
        if risk.system is not None and risk.system not in system_ids:
            problems.append((("risks", index, "system"), f"unknown system {risk.system!r}"))
        for c_index, control in enumerate(risk.controls):
            if control not in control_ids:
                problems.append((("risks", index, "controls", c_index), f"unknown control {control!r}"))
    return problems


def _format(name: str, problems: list[tuple[Location, str]], lines: dict[Location, int]) -> str:
    rendered = []
    for location, message in problems[:50]:
        line = line_of(location, lines)
        where = f"{name}:{line}" if line is not None else name
        rendered.append(f"{where}: {describe(location)}: {message}")
    more = f"\n... and {len(problems) - 50} more" if len(problems) > 50 else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return f"{name}: invalid inventory ({count})\n" + "\n".join(rendered) + more


_PYDANTIC_NOISE = re.compile(r"\s*\[type=.*$", re.DOTALL)


def load_inventory_text(text: str, name: str = "bastion.yaml") -> Inventory:
    """Validate inventory YAML ``text``; :class:`ConfigError` lists each problem as ``file:line: field``."""
    data, lines = load_yaml_with_lines(text, name)
    if not isinstance(data, dict):
        raise ConfigError(f"{name}:1: the inventory must be a mapping with version, organisation and systems")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as error:
        problems: list[tuple[Location, str]] = []
        for item in error.errors(include_url=False, include_input=False):
            location = tuple(item["loc"])
            message = _PYDANTIC_NOISE.sub("", item["msg"])
            if item["type"] == "extra_forbidden":
                message = "unknown field"
            problems.append((location, message))
        raise ConfigError(_format(name, problems, lines)) from None
    problems = _reference_problems(inventory)
    if problems:
        raise ConfigError(_format(name, problems, lines))
    return inventory


def load_inventory(path: Path) -> Inventory:
    """Read and validate the inventory at ``path`` (see :func:`load_inventory_text`)."""
    return load_inventory_text(read_text_file(path), str(path))


def example_inventory_text() -> str:
    """The commented example inventory (the demo system)."""
    return data_text("example_inventory.yaml")


def write_example(directory: Path, force: bool = False) -> Path:
    """Write ``bastion.yaml`` into ``directory``; refuses to overwrite unless ``force``."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "bastion.yaml"
    if target.exists() and not force:
        raise UsageError(f"{target} exists; pass --force to overwrite it")
    target.write_text(example_inventory_text(), encoding="utf-8")
    return target
