"""Read the govern package data (``bastion.data.govern``) once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

from bastion.core.errors import ConfigError

__all__ = ["data_text", "load_data"]

_PACKAGE = "bastion.data.govern"


def data_text(name: str, package: str = _PACKAGE) -> str:
    """The text of a shipped data file."""
    try:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise ConfigError(f"govern data file {name!r} is missing from {package}") from error


@cache
def load_data(name: str) -> dict[str, Any]:
    """A shipped YAML data file as a mapping (cached; treat it as read-only)."""
    try:
        loaded = yaml.safe_load(data_text(name))
    except yaml.YAMLError as error:
        raise ConfigError(f"govern data file {name!r} is not valid YAML") from error
    if not isinstance(loaded, dict):
        raise ConfigError(f"govern data file {name!r} must hold a mapping")
    return loaded
