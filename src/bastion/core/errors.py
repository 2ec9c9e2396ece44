"""Every error Bastion raises on purpose derives from :class:`BastionError`.

::

    BastionError                      exit code 1 unless stated
    ├── ConfigError                   bad settings, policy or data file (exit 2)
    ├── UsageError                    bad command-line or API use (exit 2)
    ├── InputError                    input that cannot be processed: binary, not UTF-8, too large
    ├── RegistryError                 unknown or duplicate plugin id (exit 2)
    ├── DetectorError                 a detector failed on an input (the guard decides fail-open/closed)
    ├── UpstreamError                 a model or service Bastion calls failed, timed out or is not installed
    └── VaultError                    pseudonymisation vault: wrong key, tampered or missing record

Third-party errors are wrapped with ``raise ... from`` so the cause stays visible. Messages never
contain the secret or personal value that caused them.
"""

from __future__ import annotations

__all__ = [
    "BastionError",
    "ConfigError",
    "DetectorError",
    "InputError",
    "RegistryError",
    "UpstreamError",
    "UsageError",
    "VaultError",
]


class BastionError(Exception):
    """Base class of all Bastion errors. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 1


class ConfigError(BastionError):
    """A settings, policy or data file is invalid; the message names the file and field."""

    exit_code = 2


class UsageError(BastionError):
    """The caller used a command or function wrongly."""

    exit_code = 2


class InputError(BastionError):
    """An input cannot be processed (binary, invalid UTF-8, over the size limit)."""


class RegistryError(BastionError):
    """A plugin id is unknown or registered twice."""

    exit_code = 2


class DetectorError(BastionError):
    """A detector failed on an input. Policies decide whether this fails open or closed."""


class UpstreamError(BastionError):
    """A model or service Bastion calls failed, timed out, answered nonsense or is not installed."""


class VaultError(BastionError):
    """The pseudonymisation vault cannot answer: wrong key, tampered or missing record."""
