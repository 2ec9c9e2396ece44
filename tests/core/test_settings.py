from __future__ import annotations

import pytest

from bastion.core.errors import ConfigError
from bastion.core.settings import BastionSettings
from bastion.core.types import Policy


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASTION_POLICY", "strict")
    monkeypatch.setenv("BASTION_MAX_INPUT_CHARS", "1000")
    settings = BastionSettings()
    assert settings.policy is Policy.STRICT
    assert settings.max_input_chars == 1000


def test_vault_key_is_required_outside_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BASTION_VAULT_KEY", raising=False)
    monkeypatch.setenv("BASTION_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="BASTION_VAULT_KEY"):
        BastionSettings().require_vault_key()
    monkeypatch.setenv("BASTION_VAULT_KEY", "s3cr3t-key-material")
    settings = BastionSettings()
    assert settings.require_vault_key() == b"s3cr3t-key-material"
    assert "s3cr3t" not in repr(settings)
