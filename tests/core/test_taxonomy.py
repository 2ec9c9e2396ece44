from __future__ import annotations

import pytest

from bastion.core.errors import ConfigError
from bastion.core.taxonomy import load_taxonomy


def test_owasp_llm_2025_has_ten_items_with_known_atlas_links() -> None:
    taxonomy = load_taxonomy()
    assert sorted(taxonomy.owasp_items) == [f"LLM{n:02d}" for n in range(1, 11)]
    assert taxonomy.owasp("LLM07").title == "System Prompt Leakage"
    for item in taxonomy.owasp_items.values():
        taxonomy.validate(atlas=item.atlas)


def test_atlas_techniques_and_subtechniques_resolve() -> None:
    taxonomy = load_taxonomy()
    assert taxonomy.atlas("AML.T0051").name == "LLM Prompt Injection"
    sub = taxonomy.atlas("AML.T0051.001")
    assert sub.parent == "AML.T0051"
    assert all(t in taxonomy.atlas_tactics for t in taxonomy.atlas("AML.T0051").tactics)


def test_unknown_ids_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        load_taxonomy().owasp("LLM11")
    with pytest.raises(ConfigError):
        load_taxonomy().validate(atlas=("AML.T9999",))


def test_every_detector_declares_valid_taxonomy_ids() -> None:
    from bastion.detect.registry import detectors

    taxonomy = load_taxonomy()
    for detector_id in detectors.ids():
        factory = detectors.factory(detector_id)
        taxonomy.validate(owasp=getattr(factory, "owasp", ()), atlas=getattr(factory, "atlas", ()))
