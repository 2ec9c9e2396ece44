"""The indirect-injection detector's combination weights and policy thresholds (``thresholds.yaml``)."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError
from bastion.core.types import Policy

__all__ = ["IndirectConfig", "Weights", "load_config"]


class Weights(BaseModel):
    """How much the injection model's probability counts, by where the text sits."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    visible: float = Field(ge=0.0, le=1.0)
    plain_model: float = Field(ge=0.0, le=1.0)
    json_value: float = Field(ge=0.0, le=1.0)
    code_block: float = Field(ge=0.0, le=1.0)
    hidden: float = Field(ge=0.0, le=1.0)
    attribute: float = Field(ge=0.0, le=1.0)
    decoded: float = Field(ge=0.0, le=1.0)


class IndirectConfig(BaseModel):
    """The parsed ``thresholds.yaml`` (see the comments in that file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    passage_chars: int = Field(ge=50, le=5000)
    max_model_passages: int = Field(ge=1, le=10_000)
    injection_rule_factor: float = Field(ge=0.0, le=1.0)
    hidden_rule_exponent: float = Field(ge=1.0, le=10.0)
    mention_factor: float = Field(ge=0.0, le=1.0)
    weights: Weights
    thresholds: dict[Policy, float]

    def threshold(self, policy: Policy) -> float:
        """The score from which a document is flagged under ``policy``."""
        return self.thresholds[policy]


@cache
def load_config(name: str = "thresholds.yaml") -> IndirectConfig:
    """The shipped configuration (read and validated once per process)."""
    text = resources.files("bastion.data.indirect").joinpath(name).read_text(encoding="utf-8")
    try:
        config = IndirectConfig.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as error:
        raise ConfigError(f"bastion.data.indirect/{name}: {error}") from error
    missing = set(Policy) - set(config.thresholds)
    if missing:
        raise ConfigError(f"bastion.data.indirect/{name}: no threshold for {sorted(missing)}")
    return config
