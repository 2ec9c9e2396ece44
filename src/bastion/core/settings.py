"""Settings, read from ``BASTION_*`` environment variables by the entry points and passed down.

Nothing builds settings at import time. Secrets (the vault key) have no default outside development:
:meth:`BastionSettings.require_vault_key` refuses to run without one.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bastion.core.errors import ConfigError
from bastion.core.types import Policy

__all__ = ["BastionSettings"]


class BastionSettings(BaseSettings):
    """Process-wide settings. Build one in the entry point (``BastionSettings()``) and pass it on."""

    model_config = SettingsConfigDict(env_prefix="BASTION_", extra="ignore")

    environment: str = Field(default="development", description="development, test or production")
    policy: Policy = Field(default=Policy.BALANCED, description="default detector operating point")
    home: Path = Field(default=Path.home() / ".bastion", description="where Bastion keeps local state")
    max_input_chars: int = Field(default=20_000_000, gt=0, description="largest text a detector accepts")
    vault_key: SecretStr | None = Field(default=None, description="key of the pseudonymisation vault")
    log_level: str = "WARNING"

    def require_vault_key(self) -> bytes:
        """The vault key; refuses a missing key outside development."""
        if self.vault_key is not None:
            return self.vault_key.get_secret_value().encode()
        if self.environment == "development":
            return b"bastion-development-only-key-not-for-production"
        raise ConfigError("BASTION_VAULT_KEY must be set outside development")
