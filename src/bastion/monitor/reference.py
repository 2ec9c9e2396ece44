"""Reference data for the rules: approved provider/model pairs and tool scopes, read from YAML."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError
from bastion.monitor.store import EventStore

__all__ = ["Reference", "apply_reference", "load_reference"]


class ApprovedModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)


class ToolScope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(min_length=1)
    api_key_id: str = "*"
    tool: str = Field(min_length=1)


class Reference(BaseModel):
    """The file format (see ``src/bastion/data/monitor/reference.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    approved_models: list[ApprovedModel] = Field(default_factory=list)
    tool_scopes: list[ToolScope] = Field(default_factory=list)


def load_reference(path: Path | None = None) -> Reference:
    """``path``, or the shipped default (the demo's providers approved, no tool scopes)."""
    try:
        if path is None:
            text = (
                resources.files("bastion.data.monitor").joinpath("reference.yaml").read_text(encoding="utf-8")
            )
        else:
            text = path.read_text(encoding="utf-8")
        return Reference.model_validate(yaml.safe_load(text) or {})
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read reference file {path}: {error}") from error
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{path or 'reference.yaml'}: invalid reference data: {error}") from error


def apply_reference(store: EventStore, reference: Reference) -> None:
    """Replace the store's reference tables."""
    store.set_reference(
        [(m.provider, m.model) for m in reference.approved_models],
        [(s.tenant, s.api_key_id, s.tool) for s in reference.tool_scopes],
    )
    store.set_meta("reference.loaded", "1")
