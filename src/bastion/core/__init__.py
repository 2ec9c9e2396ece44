"""Shared vocabulary, errors, settings, registry and taxonomies. Imports nothing else of Bastion's."""

from bastion.core.errors import (
    BastionError,
    ConfigError,
    DetectorError,
    InputError,
    RegistryError,
    UpstreamError,
    UsageError,
    VaultError,
)
from bastion.core.registry import Registry
from bastion.core.types import (
    Action,
    Conversation,
    Detection,
    Finding,
    Message,
    Policy,
    Role,
    Severity,
    Span,
    Verdict,
)

__all__ = [
    "Action",
    "BastionError",
    "ConfigError",
    "Conversation",
    "Detection",
    "DetectorError",
    "Finding",
    "InputError",
    "Message",
    "Policy",
    "Registry",
    "RegistryError",
    "Role",
    "Severity",
    "Span",
    "UpstreamError",
    "UsageError",
    "VaultError",
    "Verdict",
]
