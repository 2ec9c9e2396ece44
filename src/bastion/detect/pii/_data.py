"""Reading the PII data files (``bastion/data/pii/*.yaml``) into validated pydantic models, once."""

from __future__ import annotations

from importlib import resources
from typing import TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bastion.core.errors import ConfigError

__all__ = ["DataModel", "Examples", "read_data"]

_PACKAGE = "bastion.data.pii"

Model = TypeVar("Model", bound=BaseModel)


class DataModel(BaseModel):
    """Base of every data-file model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Examples(DataModel):
    """Texts a rule must find (``[[...]]`` marks the exact span) and texts it must not flag."""

    match: tuple[str, ...] = ()
    no_match: tuple[str, ...] = ()


def read_data(name: str, model: type[Model]) -> Model:
    """Parse ``bastion/data/pii/<name>`` into ``model``; a broken file raises :class:`ConfigError`."""
    try:
        text = resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")
        return model.model_validate(yaml.safe_load(text))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read PII data file {name}: {type(error).__name__}") from error
    except ValidationError as error:
        fields = ", ".join(".".join(str(part) for part in item["loc"]) for item in error.errors()[:5])
        raise ConfigError(f"invalid PII data file {name}: {fields}") from error
