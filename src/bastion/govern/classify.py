"""EU AI Act classification with GDPR and DORA triggers: a transparent procedure, every step cites its source.

The steps and their references are data (``data/govern/ai_act.yaml``: ``steps``); this module implements
each step under the same id, in that order. Facts come from the inventory; legal facts (Annex III points,
use cases, obligations, application dates, supervisors, DPIA criteria) from the data files.

>>> from bastion.govern.inventory import example_inventory_text, load_inventory_text
>>> inventory = load_inventory_text(example_inventory_text())
>>> [(c.system, c.risk, c.ambiguous) for c in classify_inventory(inventory)]
[('customer-assistant', 'limited', False), ('payment-propensity', 'high', True)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from bastion.core.errors import ConfigError, UsageError
from bastion.govern._data import load_data
from bastion.govern.inventory import Inventory, System

__all__ = [
    "RISK_ORDER",
    "Classification",
    "Deciding",
    "Obligation",
    "Reading",
    "Reason",
    "RegimeFinding",
    "Supervision",
    "classify_inventory",
    "classify_system",
    "render_text",
    "step_ids",
    "timelines",
]

Risk = Literal["prohibited", "high", "limited", "minimal"]
#: most severe first
RISK_ORDER: tuple[Risk, ...] = ("prohibited", "high", "limited", "minimal")


@dataclass(frozen=True, slots=True)
class Reason:
    ref: str
    text: str
    step: str = ""


@dataclass(frozen=True, slots=True)
class Obligation:
    id: str
    ref: str
    title: str
    applies_from: dt.date
    timeline: str
    by_timeline: dict[str, dt.date]
    roles: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class Reading:
    risk: Risk
    annex_iii: str
    text: str


@dataclass(frozen=True, slots=True)
class Deciding:
    id: str
    text: str
    answer: bool | None


@dataclass(frozen=True, slots=True)
class RegimeFinding:
    regime: str
    ref: str
    applies: bool
    text: str


@dataclass(frozen=True, slots=True)
class Supervision:
    authority: str
    ref: str
    status: str
    source: str


@dataclass(frozen=True, slots=True)
class Classification:
    system: str
    name: str
    risk: Risk
    ambiguous: bool
    roles: tuple[str, ...]
    reasons: tuple[Reason, ...]
    obligations: tuple[Obligation, ...]
    annex_iii: tuple[str, ...] = ()
    readings: tuple[Reading, ...] = ()
    deciding_questions: tuple[Deciding, ...] = ()
    gdpr: tuple[RegimeFinding, ...] = ()
    dora: RegimeFinding | None = None
    supervisor: Supervision | None = None

    @property
    def role(self) -> str:
        return self.roles[0]

    def to_dict(self) -> dict[str, Any]:
        """The ``govern classify --format json`` object of this system (the command contract)."""
        return {
            "system": self.system,
            "risk": self.risk,
            "ambiguous": self.ambiguous,
            "role": self.role,
            "roles": list(self.roles),
            "annex_iii": list(self.annex_iii),
            "reasons": [{"ref": r.ref, "text": r.text, "step": r.step} for r in self.reasons],
            "obligations": [
                {
                    "id": o.id,
                    "ref": o.ref,
                    "title": o.title,
                    "applies_from": o.applies_from.isoformat(),
                    "timeline": o.timeline,
                    "applies_from_by_timeline": {k: v.isoformat() for k, v in o.by_timeline.items()},
                    "roles": list(o.roles),
                    "note": o.note,
                }
                for o in self.obligations
            ],
            "readings": [{"risk": r.risk, "annex_iii": r.annex_iii, "text": r.text} for r in self.readings],
            "deciding_questions": [
                {"id": q.id, "text": q.text, "answer": q.answer} for q in self.deciding_questions
            ],
            "gdpr": [{"ref": g.ref, "applies": g.applies, "text": g.text} for g in self.gdpr],
            "dora": None
            if self.dora is None
            else {"ref": self.dora.ref, "applies": self.dora.applies, "text": self.dora.text},
            "supervisor": None
            if self.supervisor is None
            else {
                "authority": self.supervisor.authority,
                "ref": self.supervisor.ref,
                "status": self.supervisor.status,
                "source": self.supervisor.source,
            },
        }


@dataclass(slots=True)
class _Context:
    """What the steps have established so far (mutable while one system is classified)."""

    system: System
    inventory: Inventory
    reasons: list[Reason] = field(default_factory=list)
    prohibited: bool = False
    high: bool = False
    annex_i: bool = False
    annex_iii: list[str] = field(default_factory=list)
    ambiguous: bool = False
    readings: list[Reading] = field(default_factory=list)
    deciding: list[Deciding] = field(default_factory=list)
    derogated: bool = False
    transparency: set[str] = field(default_factory=set)
    gpai: bool = False
    gpai_systemic: bool = False
    roles: list[str] = field(default_factory=list)
    out_of_scope: bool = False

    def add(self, step: str, ref: str, text: str) -> None:
        self.reasons.append(Reason(ref=ref, text=text, step=step))


def timelines() -> dict[str, Any]:
    """The application-date timelines (``original`` and ``omnibus``) with title, status and source."""
    return dict(load_data("ai_act.yaml")["timelines"])


def _step_scope(ctx: _Context) -> None:
    reason = ctx.system.ai_act.out_of_scope
    if reason:
        ctx.out_of_scope = True
        ctx.add("scope", "Art. 2", f"Outside the Act's scope as recorded: {reason}")


def _step_prohibited(ctx: _Context) -> None:
    practices = load_data("ai_act.yaml")["prohibited_practices"]
    for practice in ctx.system.ai_act.practices:
        entry = practices[practice]
        ctx.prohibited = True
        ctx.add("prohibited", entry["ref"], f"Prohibited practice: {entry['text']}.")


def _step_annex_i(ctx: _Context) -> None:
    if ctx.system.ai_act.annex_i_product:
        ctx.high = ctx.annex_i = True
        ctx.add(
            "annex_i",
            "Art. 6(1)",
            "Product or safety component of a product under Annex I legislation that needs third-party "
            "conformity assessment: high-risk.",
        )


def _resolve_ambiguous(ctx: _Context, use_case: str, entry: dict[str, Any]) -> None:
    point = str(entry["ambiguous_with"])
    answers = ctx.system.ai_act.answers
    questions = [
        Deciding(q["id"], q["text"], answers.get(q["id"])) for q in entry.get("deciding_questions", [])
    ]
    ctx.deciding.extend(questions)
    yes = [q for q in questions if q.id in entry.get("high_if", []) and q.answer is True]
    clear = entry.get("clear_if_all_false", [])
    if yes:
        ctx.annex_iii.append(point)
        ctx.high = True
        ctx.add(
            "annex_iii",
            f"Annex III {point}",
            f"Use case {use_case!r} falls under Annex III {point} because the answer to "
            f"{yes[0].id!r} is yes: {entry['reading_high'].split('. ')[0]}.",
        )
    elif clear and all(answers.get(key) is False for key in clear):
        ctx.add(
            "annex_iii",
            f"Annex III {point}",
            f"Use case {use_case!r} is outside Annex III {point}: every deciding question is answered no. "
            f"{entry['reading_not']}",
        )
    else:
        ctx.annex_iii.append(point)
        ctx.high = True
        ctx.ambiguous = True
        ctx.readings.append(Reading("high", point, " ".join(str(entry["reading_high"]).split())))
        ctx.readings.append(Reading("minimal", "", " ".join(str(entry["reading_not"]).split())))
        open_questions = ", ".join(q.id for q in questions if q.answer is None)
        ctx.add(
            "annex_iii",
            f"Annex III {point}",
            f"Ambiguous: whether {use_case!r} is 'evaluating creditworthiness' under Annex III {point} is "
            f"not settled. Treated as high-risk (the stricter reading) until the deciding questions are "
            f"answered ({open_questions or 'see answers'}). {entry.get('recheck', '')}".strip(),
        )


def _step_annex_iii(ctx: _Context) -> None:
    data = load_data("ai_act.yaml")
    points = data["annex_iii"]
    for use_case in ctx.system.ai_act.use_cases:
        entry = data["use_cases"][use_case]
        if "annex_iii" in entry:
            point = str(entry["annex_iii"])
            ctx.annex_iii.append(point)
            ctx.high = True
            ctx.add("annex_iii", f"Annex III {point}", f"{points[point]['area']}: {points[point]['text']}.")
        elif "ambiguous_with" in entry:
            _resolve_ambiguous(ctx, use_case, entry)
        elif "excluded_from" in entry:
            ctx.add("annex_iii", f"Annex III {entry['excluded_from']}", str(entry["reason"]))
        elif entry.get("reason"):
            ctx.add("annex_iii", "Art. 6(2)", str(entry["reason"]))


def _step_derogation(ctx: _Context) -> None:
    if not ctx.annex_iii or ctx.annex_i:
        return
    facts = ctx.system.ai_act
    if facts.profiling:
        ctx.add(
            "derogation",
            "Art. 6(3)",
            "The system profiles natural persons, so it is always high-risk: the Art. 6(3) derogation is "
            "unavailable (Art. 6(3), last subparagraph).",
        )
        return
    if facts.derogation is None:
        return
    condition = load_data("ai_act.yaml")["derogation_conditions"][facts.derogation]
    ctx.derogated = True
    ctx.high = False
    ctx.ambiguous = False
    ctx.readings.clear()
    ctx.add(
        "derogation",
        str(condition),
        f"Not high-risk under the Art. 6(3) derogation ({facts.derogation.replace('_', ' ')}); the "
        "assessment must be documented and the system registered (Art. 6(4), 49(2)).",
    )


def _step_transparency(ctx: _Context) -> None:
    facts = ctx.system.ai_act
    if facts.interacts_with_natural_persons:
        ctx.transparency.add("transparency_interaction")
        ctx.add(
            "transparency",
            "Art. 50(1)",
            "Interacts directly with natural persons: they must be told it is AI.",
        )
    if facts.synthetic_content:
        ctx.transparency.add("transparency_synthetic")
        kinds = ", ".join(facts.synthetic_content)
        ctx.add(
            "transparency",
            "Art. 50(2)",
            f"Generates synthetic {kinds}: outputs must be marked machine-readably "
            "(assistive editing excepted)."
            + (
                " Whether conversational text replies need marking is debated; follow the Commission's "
                "Art. 50 guidelines and code of practice."
                if "text" in facts.synthetic_content
                else ""
            ),
        )
    if facts.emotion_recognition or facts.biometric_categorisation:
        ctx.transparency.add("transparency_emotion_biometric")
        ctx.add(
            "transparency",
            "Art. 50(3)",
            "Emotion recognition or biometric categorisation: inform those exposed.",
        )
    if facts.deep_fake or facts.public_interest_text:
        ctx.transparency.add("transparency_deepfake")
        ctx.add(
            "transparency", "Art. 50(4)", "Deep fakes or AI text on matters of public interest: disclose it."
        )


def _step_gpai(ctx: _Context) -> None:
    for model_id in ctx.system.models:
        model = ctx.inventory.model(model_id)
        if not model.gpai:
            continue
        if model.gpai_provider:
            ctx.gpai = True
            ctx.add(
                "gpai", "Art. 53(1)", f"The organisation provides the general-purpose model {model.name}."
            )
            if model.systemic_risk:
                ctx.gpai_systemic = True
                ctx.add("gpai", "Art. 51(1), 55", f"{model.name} is a GPAI model with systemic risk.")
        else:
            ctx.add(
                "gpai",
                "Art. 3(68)",
                f"Integrates the general-purpose model {model.name} of {model.provider}: "
                "downstream provider; "
                "the GPAI duties (Art. 53-55) stay with the model's provider.",
            )


def _step_role(ctx: _Context) -> None:
    roles: list[str] = list(dict.fromkeys(ctx.system.roles))
    facts = ctx.system.ai_act
    if ctx.high and "provider" not in roles:
        shifts = [
            ("own_name_or_trademark", "Art. 25(1)(a)", "puts its name or trademark on the high-risk system"),
            ("substantial_modification", "Art. 25(1)(b)", "substantially modifies the high-risk system"),
            (
                "changed_purpose",
                "Art. 25(1)(c)",
                "changed the intended purpose so that the system is high-risk",
            ),
        ]
        for attribute, ref, text in shifts:
            if getattr(facts, attribute):
                roles.insert(0, "provider")
                ctx.add("role", ref, f"The organisation {text}: it becomes the provider (Art. 16 duties).")
                break
    ctx.roles = roles
    ctx.add("role", "Art. 3(3)-(7)", f"Role of the organisation: {', '.join(roles)}.")


def _step_obligations(ctx: _Context) -> None:
    """Nothing to decide here; :func:`_obligations` reads the context (kept as a step for the audit trail)."""


_STEPS: dict[str, Callable[[_Context], None]] = {
    "scope": _step_scope,
    "prohibited": _step_prohibited,
    "annex_i": _step_annex_i,
    "annex_iii": _step_annex_iii,
    "derogation": _step_derogation,
    "transparency": _step_transparency,
    "gpai": _step_gpai,
    "role": _step_role,
    "obligations": _step_obligations,
}


def step_ids() -> tuple[str, ...]:
    """The step ids of the data file, in order (tests check that code and data agree)."""
    return tuple(step["id"] for step in load_data("ai_act.yaml")["steps"])


def _conditions(ctx: _Context) -> set[str]:
    found = {"any"} | set(ctx.transparency)
    if ctx.prohibited:
        found.add("prohibited")
    if ctx.high:
        found.add("high")
    if ctx.derogated:
        found.add("derogated")
    if ctx.high and {"5(b)", "5(c)"} & set(ctx.annex_iii):
        found.add("fria")
    if ctx.gpai:
        found.add("gpai")
    if ctx.gpai_systemic:
        found.add("gpai_systemic")
    return found


def _financial(inventory: Inventory) -> bool:
    types = load_data("regimes.yaml")["entity_types"]
    return any(
        types[licence.entity_type]["financial_institution"] for licence in inventory.organisation.licences
    )


def _obligations(ctx: _Context, timeline: str) -> list[Obligation]:
    data = load_data("ai_act.yaml")
    lines = data["timelines"]
    if timeline not in lines:
        raise UsageError(f"unknown timeline {timeline!r} (one of {', '.join(lines)})")
    conditions = _conditions(ctx)
    financial = _financial(ctx.inventory)
    legacy = ctx.system.ai_act.on_market_before
    found: list[Obligation] = []
    for entry in data["obligations"]:
        if entry["when"] not in conditions or not set(entry["roles"]) & set(ctx.roles):
            continue
        key = entry["date"]
        if (
            entry.get("legacy_date")
            and legacy is not None
            and legacy < lines["original"]["dates"]["transparency"]
        ):
            key = entry["legacy_date"]
        if ctx.annex_i and key == "annex_iii":
            key = "annex_i"
        by_timeline = {name: _date(line["dates"][key]) for name, line in lines.items()}
        note = entry.get("financial_note", "") if financial else ""
        found.append(
            Obligation(
                id=entry["id"],
                ref=entry["ref"],
                title=entry["title"],
                applies_from=by_timeline[timeline],
                timeline=timeline,
                by_timeline=by_timeline,
                roles=tuple(r for r in entry["roles"] if r in ctx.roles),
                note=note,
            )
        )
    return found


def _date(value: object) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as error:
        raise ConfigError(f"ai_act.yaml: bad date {value!r}") from error


def _gdpr(ctx: _Context) -> list[RegimeFinding]:
    system = ctx.system
    data = load_data("regimes.yaml")["gdpr"]
    if not system.personal_data:
        return [
            RegimeFinding(
                "gdpr", "GDPR Art. 2", False, "No personal data recorded: GDPR triggers not assessed."
            )
        ]
    facts = system.gdpr
    art_22 = facts.significant_effect and (facts.solely_automated_decision or facts.score_drives_decision)
    if art_22 and facts.score_drives_decision and not facts.solely_automated_decision:
        text_22 = (
            f"Applies: the score drives a decision with significant effect. {data['art_22']['case_law']}"
        )
    elif art_22:
        text_22 = f"Applies: {data['art_22']['text']}"
    else:
        text_22 = (
            "Not triggered: no solely automated decision with legal or similarly significant effect recorded."
        )
    criteria = set(facts.dpia_criteria)
    if ctx.system.ai_act.profiling or "5(b)" in ctx.annex_iii or "5(c)" in ctx.annex_iii:
        criteria.add("evaluation_scoring")
    if art_22:
        criteria.add("automated_decision_legal_effect")
    if {"special_category", "financial", "criminal"} & set(system.data_categories):
        criteria.add("sensitive_data")
    if "children" in system.data_categories:
        criteria.add("vulnerable_subjects")
    criteria.add("innovative_technology")
    threshold = int(data["art_35"]["threshold"])
    names = ", ".join(sorted(criteria))
    dpia = len(criteria) >= threshold or ctx.high
    text_35 = (
        f"DPIA required: {len(criteria)} WP248 criteria met ({names})"
        + ("; high-risk AI use (Art. 26(9) AI Act feeds it)" if ctx.high else "")
        if dpia
        else f"DPIA not indicated: {len(criteria)} WP248 criterion met ({names})"
    )
    return [
        RegimeFinding("gdpr", data["art_22"]["ref"], art_22, text_22),
        RegimeFinding("gdpr", data["art_35"]["ref"], dpia, text_35),
    ]


def _dora(ctx: _Context) -> RegimeFinding:
    regimes = load_data("regimes.yaml")
    organisation = ctx.inventory.organisation
    types = regimes["entity_types"]
    direct = [licence for licence in organisation.licences if types[licence.entity_type]["dora_art_2_1"]]
    vendors = [v.name for v in ctx.inventory.vendors if v.id in ctx.system.vendors and v.ict_service]
    listed = f" ICT third parties of this system: {', '.join(vendors)}." if vendors else ""
    if direct:
        kind = types[direct[0].entity_type]
        return RegimeFinding(
            "dora",
            f"DORA {kind.get('dora_ref', 'Art. 2(1)')}",
            True,
            regimes["dora"]["direct"]["text"] + listed,
        )
    if organisation.dora_scoped_clients:
        return RegimeFinding(
            "dora",
            regimes["dora"]["contractual"]["ref"],
            True,
            regimes["dora"]["contractual"]["text"] + listed,
        )
    notes = [
        str(types[lic.entity_type].get("note", ""))
        for lic in organisation.licences
        if types[lic.entity_type].get("note")
    ]
    return RegimeFinding(
        "dora", regimes["dora"]["none"]["ref"], False, " ".join([regimes["dora"]["none"]["text"], *notes])
    )


def _supervisor(inventory: Inventory) -> Supervision:
    regimes = load_data("regimes.yaml")
    organisation = inventory.organisation
    types = [licence.entity_type for licence in organisation.licences]
    for entry in regimes["supervisors"]:
        if entry["country"] == organisation.country and set(entry["applies_to"]) & set(types):
            return Supervision(entry["authority"], entry["ref"], entry["status"], entry["source"])
    default = regimes["default_supervisor"]
    return Supervision(default["authority"], default["ref"], default["status"], default["source"])


def classify_system(system: System, inventory: Inventory, timeline: str | None = None) -> Classification:
    """Run the procedure on one system of ``inventory``."""
    data = load_data("ai_act.yaml")
    chosen = timeline or str(data["default_timeline"])
    ctx = _Context(system=system, inventory=inventory)
    for step in step_ids():
        try:
            runner = _STEPS[step]
        except KeyError:
            raise ConfigError(f"ai_act.yaml: step {step!r} has no implementation") from None
        runner(ctx)
        if ctx.out_of_scope:
            ctx.roles = list(system.roles)
            break
    if ctx.prohibited:
        risk: Risk = "prohibited"
    elif ctx.high:
        risk = "high"
    elif ctx.transparency:
        risk = "limited"
    else:
        risk = "minimal"
    if risk == "minimal" and not ctx.out_of_scope:
        ctx.add(
            "obligations",
            "Art. 95",
            "Minimal risk: no AI Act duties beyond AI literacy (Art. 4); codes of conduct are voluntary.",
        )
    obligations = [] if ctx.out_of_scope else _obligations(ctx, chosen)
    return Classification(
        system=system.id,
        name=system.name,
        risk=risk,
        ambiguous=ctx.ambiguous,
        roles=tuple(ctx.roles or system.roles),
        reasons=tuple(ctx.reasons),
        obligations=tuple(obligations),
        annex_iii=tuple(dict.fromkeys(ctx.annex_iii)),
        readings=tuple(ctx.readings),
        deciding_questions=tuple(ctx.deciding),
        gdpr=tuple(_gdpr(ctx)),
        dora=_dora(ctx),
        supervisor=_supervisor(inventory),
    )


def classify_inventory(inventory: Inventory, timeline: str | None = None) -> list[Classification]:
    """Classify every system of the inventory, in inventory order."""
    return [classify_system(system, inventory, timeline) for system in inventory.systems]


def render_text(results: list[Classification]) -> str:
    """A readable report (Markdown) of the classifications."""
    data = load_data("ai_act.yaml")
    lines = ["# EU AI Act classification", ""]
    for name, line in data["timelines"].items():
        lines.append(f"- timeline `{name}`: {line['title']}; status: {' '.join(str(line['status']).split())}")
    for result in results:
        flag = " (ambiguous)" if result.ambiguous else ""
        lines += ["", f"## {result.name} (`{result.system}`): {result.risk}{flag}", ""]
        lines.append(f"Role: {', '.join(result.roles)}. Annex III: {', '.join(result.annex_iii) or 'none'}.")
        lines += ["", "Reasons:"]
        lines += [f"- **{r.ref}**: {r.text}" for r in result.reasons]
        if result.readings:
            lines += ["", "Readings:"]
            lines += [f"- *{r.risk}*: {r.text}" for r in result.readings]
            lines += ["", "Questions that decide it:"]
            lines += [
                f"- {q.text} (answer: {'open' if q.answer is None else q.answer})"
                for q in result.deciding_questions
            ]
        lines += ["", "Obligations:"]
        for o in result.obligations:
            other = ", ".join(f"{k} {v.isoformat()}" for k, v in o.by_timeline.items() if k != o.timeline)
            note = f" {o.note}" if o.note else ""
            lines.append(
                f"- **{o.ref}** {o.title}: from {o.applies_from.isoformat()} ({o.timeline}; {other}).{note}"
            )
        lines += ["", "GDPR and DORA:"]
        lines += [f"- **{g.ref}**: {g.text}" for g in result.gdpr]
        if result.dora is not None:
            lines.append(f"- **{result.dora.ref}**: {result.dora.text}")
        if result.supervisor is not None:
            s = result.supervisor
            lines.append(f"- AI Act market surveillance: {s.authority} ({s.ref}; {s.status})")
    return "\n".join(lines) + "\n"
