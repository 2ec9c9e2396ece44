"""The inventory: the example is valid, errors name file, line and field, bad input fails clearly."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.core.errors import BastionError, ConfigError, InputError, UsageError
from bastion.govern.inventory import (
    example_inventory_text,
    load_inventory,
    load_inventory_text,
    write_example,
)

EXAMPLE = example_inventory_text()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_inventory_text(text, "bastion.yaml")
    return str(caught.value)


def test_example_is_valid_and_describes_the_demo() -> None:
    inventory = load_inventory_text(EXAMPLE)
    assert inventory.organisation.name == "Inkasso Nordstern GmbH"
    assert [licence.entity_type for licence in inventory.organisation.licences] == ["debt_collector"]
    assert inventory.organisation.supervisors, "supervisors are recorded as data"
    assistant = inventory.system("customer-assistant")
    kinds = {c.kind for c in assistant.components}
    assert {"llm_local", "vector_store", "tool", "database"} <= kinds
    assert inventory.model("gemma-3-270m").name.startswith("Gemma 3 270M")
    assert "collection_prioritisation" in inventory.system("payment-propensity").ai_act.use_cases


def test_example_is_commented_for_humans() -> None:
    comments = [line for line in EXAMPLE.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) >= 20


def test_wrong_enum_names_line_and_field() -> None:
    text = EXAMPLE.replace("kind: vector_store", "kind: vectorstore", 1)
    message = _error(text)
    line = _line_of(text, "kind: vectorstore")
    assert f"bastion.yaml:{line}: systems[0].components[5].kind" in message


def test_unknown_field_is_reported_with_its_line() -> None:
    text = EXAMPLE.replace("  dora_scoped_clients: false", "  dora_scoped_clients: false\n  colour: blue")
    message = _error(text)
    assert f"bastion.yaml:{_line_of(text, 'colour: blue')}: organisation.colour: unknown field" in message


def test_missing_field_points_at_its_parent() -> None:
    text = EXAMPLE.replace(
        "    purpose: >-\n      Answers debtors'", "    purpos: >-\n      Answers debtors'", 1
    )
    message = _error(text)
    assert "systems[0].purpose: Field required" in message


def test_broken_references_are_all_reported() -> None:
    text = EXAMPLE.replace("models: [gemma-3-270m, minilm-l6-v2]", "models: [gemma-9000, minilm-l6-v2]")
    text = text.replace("{source: debtor, target: chat-client", "{source: debtr, target: chat-client")
    text = text.replace(
        "use_cases: [customer_service, document_search]", "use_cases: [customer_servic, document_search]"
    )
    message = _error(text)
    assert "(3 problems)" in message
    assert f":{_line_of(text, 'gemma-9000')}: systems[0].models[0]: unknown model 'gemma-9000'" in message
    assert "systems[0].flows[0].source: unknown component 'debtr'" in message
    assert "unknown use case 'customer_servic'" in message


def test_duplicate_ids_are_refused() -> None:
    document = yaml.safe_load(EXAMPLE)
    document["systems"].append(document["systems"][0])
    assert "duplicate id 'customer-assistant'" in _error(yaml.safe_dump(document))


def test_invalid_yaml_names_the_line() -> None:
    message = _error("version: 1\norganisation: [unclosed\n")
    assert message.startswith("bastion.yaml:") and "invalid YAML" in message


@pytest.mark.parametrize("text", ["", "just a string", "- a\n- list\n", "version: 2\n"])
def test_not_an_inventory(text: str) -> None:
    with pytest.raises(ConfigError):
        load_inventory_text(text)


def test_binary_invalid_utf8_and_huge_files_fail_clearly(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"version: 1\x00\x01")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: M\xfcller".encode("latin-1"))
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(b"#" * (9 * 1024 * 1024))
    for path, words in ((binary, "binary"), (latin, "UTF-8"), (huge, "over the limit")):
        with pytest.raises(InputError, match=words):
            load_inventory(path)
    with pytest.raises(InputError, match="cannot read"):
        load_inventory(tmp_path / "absent.yaml")


def test_write_example_refuses_to_overwrite(tmp_path: Path) -> None:
    path = write_example(tmp_path)
    assert load_inventory(path).systems
    with pytest.raises(UsageError, match="--force"):
        write_example(tmp_path)
    path.write_text("changed", encoding="utf-8")
    write_example(tmp_path, force=True)
    assert path.read_text(encoding="utf-8") == EXAMPLE


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_an_inventory_or_a_bastion_error(text: str) -> None:
    with contextlib.suppress(BastionError):
        load_inventory_text(text)
