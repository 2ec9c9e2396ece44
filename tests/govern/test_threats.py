"""Threat rules (each with its match / no-match examples), the demo's threat model, the DFD and diffs."""

from __future__ import annotations

import pytest
import yaml

from bastion.core.taxonomy import load_taxonomy
from bastion.govern._data import load_data
from bastion.govern.inventory import example_inventory_text, load_inventory_text
from bastion.govern.threats import (
    STAGES,
    ThreatRule,
    diff_threats,
    load_rules,
    matches,
    mermaid,
    threat_model,
    threats_to_dict,
)

RULES = load_rules()
EXAMPLE = example_inventory_text()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_matches_its_examples(rule: ThreatRule) -> None:
    assert rule.match_examples and rule.no_match_examples
    for example in rule.match_examples:
        assert matches(rule, example), example
    for example in rule.no_match_examples:
        assert not matches(rule, example), example


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_is_mapped_and_mitigated(rule: ThreatRule) -> None:
    taxonomy = load_taxonomy()
    taxonomy.validate(rule.owasp, rule.atlas)
    assert rule.controls
    assert rule.stride or rule.plot4ai, "a rule names STRIDE letters or privacy/fairness cards"
    assert 1 <= rule.likelihood <= 5 and 1 <= rule.impact <= 5


def test_rules_cover_every_stage_owasp_item_and_stride_letter() -> None:
    assert {r.stage for r in RULES} == set(STAGES)
    owasp = {item for r in RULES for item in r.owasp}
    assert owasp == set(load_taxonomy().owasp_items)
    assert {s for r in RULES for s in r.stride} == set("STRIDE")


def test_plot4ai_excerpt_is_attributed_share_alike() -> None:
    header = load_data("plot4ai_cards.yaml")
    assert header["source_commit"]
    from bastion.govern._data import data_text

    assert "CC BY-SA 4.0" in data_text("plot4ai_cards.yaml").split("version:")[0]


def test_demo_threat_model_spans_the_lifecycle() -> None:
    threats = threat_model(load_inventory_text(EXAMPLE))
    by_stage = {stage: [t for t in threats if t.stage == stage] for stage in STAGES}
    assert all(by_stage.values()), {k: len(v) for k, v in by_stage.items()}
    ids = {t.id for t in threats}
    assert "customer-assistant/thr-direct-injection/chat-client->assistant-api" in ids
    assert "customer-assistant/thr-cross-tenant-retrieval/vector-store" in ids
    assert "customer-assistant/thr-excessive-agency/tools" in ids
    assert "payment-propensity/thr-automated-decision/scoring->work-queue" in ids
    assert "payment-propensity/thr-membership-inference/scoring" in ids
    assert len(ids) == len(threats), "threat ids are unique"


def test_mermaid_draws_trust_boundaries_and_crossing_flows() -> None:
    system = load_inventory_text(EXAMPLE).system("customer-assistant")
    text = mermaid(system)
    assert text.startswith("flowchart LR")
    assert text.count("subgraph ") == len({c.zone for c in system.components})
    assert 'n_chat_client ==>|"personal, financial, unencrypted"| n_assistant_api' in text
    assert "n_assistant_api -->" in text


def test_diff_after_an_architecture_change() -> None:
    before = threat_model(load_inventory_text(EXAMPLE))
    document = yaml.safe_load(EXAMPLE)
    assistant = document["systems"][0]
    assistant["components"].append(
        {"id": "openai", "name": "Vendor LLM API", "kind": "llm_api", "zone": "vendor"}
    )
    assistant["flows"].append({"source": "assistant-api", "target": "openai", "data": ["personal"]})
    assistant["components"] = [c for c in assistant["components"] if c["id"] != "ingestion"]
    assistant["flows"] = [f for f in assistant["flows"] if "ingestion" not in (f["source"], f["target"])]
    after = threat_model(load_inventory_text(yaml.safe_dump(document)))
    changes = diff_threats(threats_to_dict(before), after)
    assert "customer-assistant/thr-third-party-disclosure/assistant-api->openai" in changes.added
    assert "customer-assistant/thr-vendor-model-change/openai" in changes.added
    assert "customer-assistant/thr-rag-poisoning/ingestion" in changes.removed
    assert changes.unchanged > 10
    same = diff_threats(threats_to_dict(before), before)
    assert (same.added, same.removed) == ((), ())
