"""EU AI Act classification: the reference-scenario table, the procedure's data, dates, GDPR and DORA."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bastion.govern._data import load_data
from bastion.govern.classify import Classification, classify_inventory, render_text, step_ids
from bastion.govern.inventory import example_inventory_text, load_inventory_text
from tests.govern.conftest import make_inventory, make_system

BANK = {
    "name": "Bank AG",
    "country": "DE",
    "licences": [{"entity_type": "credit_institution", "name": "KWG licence"}],
}
INSURER = {
    "name": "Versicherung AG",
    "country": "DE",
    "licences": [{"entity_type": "insurance_undertaking", "name": "VAG"}],
}
PAYMENT = {
    "name": "Pay GmbH",
    "country": "DE",
    "licences": [{"entity_type": "payment_institution", "name": "ZAG"}],
}
COLLECTOR = {
    "name": "Inkasso GmbH",
    "country": "DE",
    "licences": [{"entity_type": "debt_collector", "name": "RDG"}],
}
COLLECTOR_BANK_CLIENTS = {**COLLECTOR, "dora_scoped_clients": True}
OWN_GPAI = [
    {
        "id": "own-llm",
        "name": "Own LLM",
        "provider": "us",
        "origin": "in_house",
        "kind": "llm",
        "gpai": True,
        "gpai_provider": True,
    }
]
SYSTEMIC_GPAI = [{**OWN_GPAI[0], "systemic_risk": True}]
THIRD_PARTY_GPAI = [
    {
        "id": "vendor-llm",
        "name": "Vendor LLM",
        "provider": "Vendor",
        "origin": "third_party",
        "kind": "llm",
        "gpai": True,
    }
]


@dataclass(frozen=True)
class Scenario:
    name: str
    system: dict[str, Any]
    risk: str
    refs: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    ambiguous: bool = False
    role: str = "provider"
    organisation: dict[str, Any] | None = None
    models: list[dict[str, Any]] = field(default_factory=list)


def ai(**facts: Any) -> dict[str, Any]:
    return facts


SCENARIOS = [
    Scenario(
        "customer chatbot",
        make_system(ai_act=ai(use_cases=["customer_service"], interacts_with_natural_persons=True)),
        "limited",
        refs=("Art. 50(1)",),
        obligations=("Art. 50(1)", "Art. 4"),
        absent=("Art. 9",),
    ),
    Scenario(
        "consumer credit scoring at a bank (deployer)",
        make_system(roles=["deployer"], ai_act=ai(use_cases=["credit_scoring"], profiling=True)),
        "high",
        refs=("Annex III 5(b)",),
        obligations=("Art. 26", "Art. 27", "Art. 86"),
        absent=("Art. 9",),
        role="deployer",
        organisation=BANK,
    ),
    Scenario(
        "transaction fraud detection",
        make_system(ai_act=ai(use_cases=["financial_fraud_detection"])),
        "minimal",
        refs=("Annex III 5(b)", "Art. 95"),
        absent=("Art. 9", "Art. 27"),
    ),
    Scenario(
        "life-insurance pricing",
        make_system(ai_act=ai(use_cases=["life_health_insurance_pricing"], profiling=True)),
        "high",
        refs=("Annex III 5(c)",),
        obligations=("Art. 9", "Art. 27", "Art. 17"),
        organisation=INSURER,
    ),
    Scenario(
        "car-insurance pricing",
        make_system(ai_act=ai(use_cases=["non_life_insurance_pricing"])),
        "minimal",
        refs=("Annex III 5(c)",),
        absent=("Art. 27",),
    ),
    Scenario(
        "CV screening",
        make_system(ai_act=ai(use_cases=["recruitment"], profiling=True)),
        "high",
        refs=("Annex III 4(a)",),
        obligations=("Art. 9", "Art. 26"),
        absent=("Art. 27",),
    ),
    Scenario(
        "emotion recognition of call-centre staff",
        make_system(ai_act=ai(practices=["emotion_recognition_workplace_education"])),
        "prohibited",
        refs=("Art. 5(1)(f)",),
        obligations=("Art. 5",),
    ),
    Scenario(
        "social scoring",
        make_system(ai_act=ai(practices=["social_scoring"])),
        "prohibited",
        refs=("Art. 5(1)(c)",),
    ),
    Scenario(
        "nudging over-indebted debtors",
        make_system(ai_act=ai(practices=["exploit_vulnerabilities"])),
        "prohibited",
        refs=("Art. 5(1)(b)",),
    ),
    Scenario(
        "collection prioritisation, questions open",
        make_system(ai_act=ai(use_cases=["collection_prioritisation"], profiling=True)),
        "high",
        refs=("Annex III 5(b)", "Art. 6(3)"),
        obligations=("Art. 27",),
        ambiguous=True,
        organisation=COLLECTOR,
    ),
    Scenario(
        "collection prioritisation shaping instalment offers",
        make_system(
            ai_act=ai(
                use_cases=["collection_prioritisation"],
                profiling=True,
                answers={"affects_credit_decisions": True},
            )
        ),
        "high",
        refs=("Annex III 5(b)",),
        obligations=("Art. 9", "Art. 27"),
        organisation=COLLECTOR,
    ),
    Scenario(
        "collection prioritisation, every deciding answer no",
        make_system(
            ai_act=ai(
                use_cases=["collection_prioritisation"],
                profiling=True,
                answers={
                    "affects_credit_decisions": False,
                    "scores_leave_company": False,
                    "decides_escalation": False,
                },
            )
        ),
        "minimal",
        refs=("Annex III 5(b)",),
        absent=("Art. 9", "Art. 27"),
        organisation=COLLECTOR,
    ),
    Scenario(
        "Annex III system for a narrow procedural task",
        make_system(ai_act=ai(use_cases=["recruitment"], derogation="narrow_procedural_task")),
        "minimal",
        refs=("Art. 6(3)(a)",),
        obligations=("Art. 6(4)",),
        absent=("Art. 9",),
    ),
    Scenario(
        "derogation claimed but the system profiles",
        make_system(ai_act=ai(use_cases=["recruitment"], derogation="preparatory_task", profiling=True)),
        "high",
        refs=("Art. 6(3)",),
        obligations=("Art. 9",),
        absent=("Art. 6(4)",),
    ),
    Scenario(
        "deployer rebrands a credit-scoring system",
        make_system(roles=["deployer"], ai_act=ai(use_cases=["credit_scoring"], own_name_or_trademark=True)),
        "high",
        refs=("Art. 25(1)(a)",),
        obligations=("Art. 9", "Art. 17", "Art. 26"),
        organisation=BANK,
    ),
    Scenario(
        "deployer substantially modifies a recruitment system",
        make_system(roles=["deployer"], ai_act=ai(use_cases=["recruitment"], substantial_modification=True)),
        "high",
        refs=("Art. 25(1)(b)",),
        obligations=("Art. 9",),
    ),
    Scenario(
        "marketing image generator",
        make_system(ai_act=ai(use_cases=["marketing_content"], synthetic_content=["image"])),
        "limited",
        refs=("Art. 50(2)",),
        obligations=("Art. 50(2)",),
    ),
    Scenario(
        "deep fakes in a campaign (deployer)",
        make_system(roles=["deployer"], ai_act=ai(deep_fake=True)),
        "limited",
        refs=("Art. 50(4)",),
        obligations=("Art. 50(4)",),
        role="deployer",
    ),
    Scenario(
        "own general-purpose model",
        make_system(models=["own-llm"], ai_act=ai()),
        "minimal",
        refs=("Art. 53(1)",),
        obligations=("Art. 53(1)",),
        absent=("Art. 55",),
        models=OWN_GPAI,
    ),
    Scenario(
        "own GPAI model with systemic risk",
        make_system(models=["own-llm"], ai_act=ai()),
        "minimal",
        refs=("Art. 51(1), 55",),
        obligations=("Art. 53(1)", "Art. 55"),
        models=SYSTEMIC_GPAI,
    ),
    Scenario(
        "chatbot on a vendor's GPAI model",
        make_system(models=["vendor-llm"], ai_act=ai(interacts_with_natural_persons=True)),
        "limited",
        refs=("Art. 3(68)", "Art. 50(1)"),
        absent=("Art. 53(1)",),
        models=THIRD_PARTY_GPAI,
    ),
    Scenario(
        "safety component of an Annex I product",
        make_system(ai_act=ai(annex_i_product=True)),
        "high",
        refs=("Art. 6(1)",),
        obligations=("Art. 9", "Art. 43"),
    ),
    Scenario(
        "internal document search",
        make_system(ai_act=ai(use_cases=["document_search"])),
        "minimal",
        obligations=("Art. 4",),
        absent=("Art. 50(1)", "Art. 9"),
    ),
    Scenario(
        "outside the Act (national security)",
        make_system(ai_act=ai(out_of_scope="national security use (Art. 2(3))")),
        "minimal",
        refs=("Art. 2",),
        absent=("Art. 4",),
    ),
    Scenario(
        "emergency-call triage",
        make_system(ai_act=ai(use_cases=["emergency_triage"])),
        "high",
        refs=("Annex III 5(d)",),
        obligations=("Art. 9",),
        absent=("Art. 27",),
    ),
]


def _run(scenario: Scenario) -> Classification:
    inventory = make_inventory([scenario.system], scenario.organisation, scenario.models)
    return classify_inventory(inventory)[0]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_reference_scenario(scenario: Scenario) -> None:
    result = _run(scenario)
    assert result.risk == scenario.risk
    assert result.ambiguous == scenario.ambiguous
    assert result.role == scenario.role
    reason_refs = {r.ref for r in result.reasons}
    obligation_refs = {o.ref for o in result.obligations}
    for ref in scenario.refs:
        assert ref in reason_refs, (ref, reason_refs)
    for ref in scenario.obligations:
        assert ref in obligation_refs, (ref, obligation_refs)
    for ref in scenario.absent:
        assert ref not in obligation_refs | reason_refs, ref


def test_table_has_at_least_twenty_scenarios_over_every_tier() -> None:
    assert len(SCENARIOS) >= 20
    assert {s.risk for s in SCENARIOS} == {"prohibited", "high", "limited", "minimal"}


def test_code_implements_every_step_of_the_data_in_order() -> None:
    assert step_ids() == (
        "scope",
        "prohibited",
        "annex_i",
        "annex_iii",
        "derogation",
        "transparency",
        "gpai",
        "role",
        "obligations",
    )


def test_ambiguous_case_gives_both_readings_and_the_deciding_questions() -> None:
    result = _run(SCENARIOS[9])
    assert {r.risk for r in result.readings} == {"high", "minimal"}
    assert [q.id for q in result.deciding_questions] == [
        "affects_credit_decisions",
        "scores_leave_company",
        "decides_escalation",
    ]
    assert all(q.answer is None for q in result.deciding_questions)


def test_application_dates_follow_the_chosen_timeline() -> None:
    inventory = make_inventory([SCENARIOS[1].system], BANK)
    original = {o.ref: o for o in classify_inventory(inventory, "original")[0].obligations}
    omnibus = {o.ref: o for o in classify_inventory(inventory, "omnibus")[0].obligations}
    assert original["Art. 26"].applies_from == dt.date(2026, 8, 2)
    assert omnibus["Art. 26"].applies_from == dt.date(2027, 12, 2)
    assert original["Art. 4"].applies_from == omnibus["Art. 4"].applies_from == dt.date(2025, 2, 2)
    assert original["Art. 26"].by_timeline == omnibus["Art. 26"].by_timeline


def test_annex_i_and_legacy_marking_dates() -> None:
    annex_i = _run(SCENARIOS[21])
    assert {o.ref: o.applies_from for o in annex_i.obligations}["Art. 9"] == dt.date(2027, 8, 2)
    legacy = make_inventory(
        [make_system(ai_act=ai(synthetic_content=["text"], on_market_before="2026-03-01"))]
    )
    marking = next(o for o in classify_inventory(legacy, "omnibus")[0].obligations if o.ref == "Art. 50(2)")
    assert marking.applies_from == dt.date(2026, 12, 2)


def test_timelines_are_data_with_status_and_source() -> None:
    timelines = load_data("ai_act.yaml")["timelines"]
    assert set(timelines) == {"original", "omnibus"}
    for timeline in timelines.values():
        assert timeline["status"] and timeline["source"]
    assert "NOT verified" in timelines["omnibus"]["status"]


def test_gdpr_article_22_follows_schufa_when_a_score_drives_the_decision() -> None:
    system = make_system(gdpr={"score_drives_decision": True, "significant_effect": True})
    result = classify_inventory(make_inventory([system]))[0]
    art_22 = next(g for g in result.gdpr if g.ref == "GDPR Art. 22")
    assert art_22.applies and "C-634/21" in art_22.text
    quiet = classify_inventory(make_inventory([make_system()]))[0]
    assert not next(g for g in quiet.gdpr if g.ref == "GDPR Art. 22").applies


def test_dpia_counts_wp248_criteria() -> None:
    few = classify_inventory(make_inventory([make_system(data_categories=["personal"])]))[0]
    many = classify_inventory(
        make_inventory([make_system(data_categories=["financial"], gdpr={"dpia_criteria": ["large_scale"]})])
    )[0]
    assert not next(g for g in few.gdpr if g.ref == "GDPR Art. 35").applies
    assert next(g for g in many.gdpr if g.ref == "GDPR Art. 35").applies


@pytest.mark.parametrize(
    ("organisation", "applies", "ref_part"),
    [
        (BANK, True, "Art. 2(1)(a)"),
        (PAYMENT, True, "Art. 2(1)(b)"),
        (COLLECTOR_BANK_CLIENTS, True, "through clients"),
        (COLLECTOR, False, "Art. 2(1)"),
    ],
)
def test_dora_scope_depends_on_the_licence(
    organisation: dict[str, Any], applies: bool, ref_part: str
) -> None:
    result = classify_inventory(make_inventory([make_system()], organisation))[0]
    assert result.dora is not None
    assert result.dora.applies is applies
    assert ref_part in result.dora.ref


def test_supervisor_is_the_financial_supervisor_for_financial_institutions_only() -> None:
    bank = classify_inventory(make_inventory([make_system()], BANK))[0]
    collector = classify_inventory(make_inventory([make_system()], COLLECTOR))[0]
    assert bank.supervisor is not None and collector.supervisor is not None
    assert "BaFin" in bank.supervisor.authority and bank.supervisor.ref == "AI Act Art. 74(6)"
    assert "Bundesnetzagentur" in collector.supervisor.authority and "draft" in collector.supervisor.status


def test_financial_institution_gets_the_governance_notes() -> None:
    result = classify_inventory(make_inventory([SCENARIOS[3].system], INSURER))[0]
    qms = next(o for o in result.obligations if o.ref == "Art. 17")
    assert "17(4)" in qms.note


def test_the_demo_inventory_classifies_as_the_issue_expects() -> None:
    results = classify_inventory(load_inventory_text(example_inventory_text()))
    chatbot, propensity = results
    assert (chatbot.risk, chatbot.ambiguous) == ("limited", False)
    assert "Art. 50(1)" in {r.ref for r in chatbot.reasons}
    assert (propensity.risk, propensity.ambiguous, propensity.annex_iii) == ("high", True, ("5(b)",))
    assert next(g for g in propensity.gdpr if g.ref == "GDPR Art. 22").applies
    assert chatbot.dora is not None and not chatbot.dora.applies


def test_json_contract_shape() -> None:
    results = classify_inventory(load_inventory_text(example_inventory_text()))
    for item in (r.to_dict() for r in results):
        assert {"system", "risk", "ambiguous", "role", "reasons", "obligations"} <= set(item)
        assert item["risk"] in {"prohibited", "high", "limited", "minimal"}
        assert isinstance(item["ambiguous"], bool)
        assert all(set(reason) >= {"ref", "text"} for reason in item["reasons"])
        for obligation in item["obligations"]:
            dt.date.fromisoformat(obligation["applies_from"])
            assert obligation["ref"]


def test_readable_report_names_every_system_and_reference() -> None:
    text = render_text(classify_inventory(load_inventory_text(example_inventory_text())))
    assert "customer-assistant" in text and "payment-propensity" in text
    assert "Annex III 5(b)" in text and "Art. 50(1)" in text and "Questions that decide it" in text


def test_demo_classification_matches_the_golden_file() -> None:
    """The contract output for the demo inventory; regenerate the file deliberately when the data changes."""
    golden = Path(__file__).parent / "data" / "classification_demo.json"
    results = classify_inventory(load_inventory_text(example_inventory_text()))
    assert [r.to_dict() for r in results] == json.loads(golden.read_text(encoding="utf-8"))
