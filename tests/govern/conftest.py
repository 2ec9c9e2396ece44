"""Helpers for govern tests: inventories built from small dicts, validated like a user's file."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from bastion.govern.inventory import Inventory, load_inventory_text

BASE_ORGANISATION: dict[str, Any] = {
    "name": "Example GmbH",
    "country": "DE",
    "licences": [{"entity_type": "other", "name": "Gewerbe"}],
}


def make_system(**overrides: Any) -> dict[str, Any]:
    system: dict[str, Any] = {
        "id": "sys",
        "name": "System",
        "purpose": "Purpose of the system.",
        "roles": ["provider", "deployer"],
        "data_categories": ["personal"],
        "ai_act": {},
    }
    system.update(copy.deepcopy(overrides))
    return system


def make_inventory(
    systems: list[dict[str, Any]] | None = None,
    organisation: dict[str, Any] | None = None,
    models: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> Inventory:
    document = {
        "version": 1,
        "organisation": copy.deepcopy(organisation or BASE_ORGANISATION),
        "models": models or [],
        "systems": systems or [make_system()],
        **extra,
    }
    return load_inventory_text(yaml.safe_dump(document, sort_keys=False), "test.yaml")
