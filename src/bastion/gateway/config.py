"""The gateway's configuration file (``gateway.yaml``), validated with file/line/field errors.

```yaml
listen: {host: 127.0.0.1, port: 8410}
policy: policy.yaml                 # optional: the default policy otherwise
upstreams:
  - name: openai
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY     # or api_key_file: /run/secrets/openai (never in this file)
    models: ["gpt-*"]               # shell patterns of model names routed here; "*" catches the rest
stores:
  audit: .bastion/audit.sqlite      # or postgresql://...
  keys: .bastion/gateway.sqlite
  vault: .bastion/vault.sqlite
  redis_url: null                   # redis://127.0.0.1:6379/0 for shared rate limits
```

Upstream credentials are read from the environment or a file when the gateway starts; they are held in
:class:`Credential` objects whose ``repr`` never shows them.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from bastion.core.errors import ConfigError
from bastion.core.yamlfile import load_model

__all__ = [
    "Credential",
    "GatewayConfig",
    "LimitsConfig",
    "StoresConfig",
    "StreamingConfig",
    "TelemetryConfig",
    "UpstreamConfig",
    "load_gateway_config",
]

_MIN_VAULT_KEY_BYTES = 32


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8410, ge=0, le=65535)


class UpstreamConfig(_Strict):
    """One OpenAI-compatible upstream (OpenAI, Azure OpenAI, vLLM, Ollama, the demo)."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    base_url: HttpUrl
    api_key_env: str | None = None
    api_key_file: Path | None = None
    auth_header: Literal["authorization", "api-key"] = "authorization"  # api-key: Azure OpenAI
    query: dict[str, str] = Field(default_factory=dict)  # e.g. {"api-version": "2024-10-21"} for Azure
    provider: str = "openai"
    models: list[str] = Field(default_factory=lambda: ["*"], min_length=1)
    timeout_s: float = Field(default=120.0, gt=0, le=3600)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown_s: float = Field(default=30.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_credential_source(self) -> UpstreamConfig:
        if self.api_key_env is not None and self.api_key_file is not None:
            raise ValueError("give api_key_env or api_key_file, not both")
        return self

    def serves(self, model: str) -> bool:
        return any(fnmatch.fnmatchcase(model, pattern) for pattern in self.models)


class StoresConfig(_Strict):
    audit: str = ".bastion/audit.sqlite"
    keys: str = ".bastion/gateway.sqlite"
    vault: str = ".bastion/vault.sqlite"
    vault_key_env: str = "BASTION_VAULT_KEY"
    redis_url: str | None = None


class LimitsConfig(_Strict):
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    max_messages: int = Field(default=256, ge=1, le=10_000)
    default_requests_per_minute: int = Field(default=600, ge=1, le=1_000_000)
    default_tokens_per_day: int = Field(default=2_000_000, ge=1)


class StreamingConfig(_Strict):
    hold_back_chars: int = Field(default=160, ge=146, le=100_000)
    scan_every_chars: int = Field(default=48, ge=1, le=100_000)


class TelemetryConfig(_Strict):
    otlp_endpoint: str | None = None  # e.g. http://127.0.0.1:4318/v1/traces
    service_name: str = "bastion-gateway"


class GatewayConfig(_Strict):
    """A whole ``gateway.yaml``."""

    listen: ListenConfig = Field(default_factory=ListenConfig)
    policy: Path | None = None
    upstreams: list[UpstreamConfig] = Field(min_length=1)
    stores: StoresConfig = Field(default_factory=StoresConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    application_header: str = "x-bastion-application"

    @model_validator(mode="after")
    def _unique_names(self) -> GatewayConfig:
        names = [u.name for u in self.upstreams]
        if len(set(names)) != len(names):
            raise ValueError("upstream names must be unique")
        return self

    def upstream_for(self, model: str) -> UpstreamConfig | None:
        """The first upstream whose patterns match ``model``."""
        return next((u for u in self.upstreams if u.serves(model)), None)


@dataclass(frozen=True, slots=True)
class Credential:
    """A secret held in memory; its ``repr`` and ``str`` never show it."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "Credential(***)"

    def __bool__(self) -> bool:
        return bool(self.value)


def read_credential(upstream: UpstreamConfig) -> Credential | None:
    """The upstream's API key from its environment variable or file, or ``None`` when it has none."""
    if upstream.api_key_env is not None:
        value = os.environ.get(upstream.api_key_env, "")
        if not value:
            raise ConfigError(
                f"upstream {upstream.name}: environment variable {upstream.api_key_env} is empty"
            )
        return Credential(value.strip())
    if upstream.api_key_file is not None:
        try:
            value = upstream.api_key_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"upstream {upstream.name}: cannot read api_key_file: {error.strerror}"
            ) from None
        if not value:
            raise ConfigError(f"upstream {upstream.name}: api_key_file is empty")
        return Credential(value)
    return None


def read_vault_key(stores: StoresConfig) -> bytes:
    """The vault master key from the environment (hex or raw text of at least 32 bytes)."""
    value = os.environ.get(stores.vault_key_env, "")
    if not value:
        raise ConfigError(
            f"pseudonymisation needs a key: set {stores.vault_key_env} to 64 hex characters "
            '(python -c "import secrets; print(secrets.token_hex(32))")'
        )
    try:
        key = bytes.fromhex(value)
    except ValueError:
        key = value.encode("utf-8")
    if len(key) < _MIN_VAULT_KEY_BYTES:
        raise ConfigError(f"{stores.vault_key_env} must hold at least {_MIN_VAULT_KEY_BYTES} bytes")
    return key


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read ``gateway.yaml``; a relative policy path is taken relative to the file."""
    config = load_model(path, GatewayConfig)
    if config.policy is not None and not config.policy.is_absolute():
        config = config.model_copy(update={"policy": Path(path).parent / config.policy})
    return config
