"""Key handling: one master key in, one independent key per tenant and purpose out (HKDF-SHA256).

The master key never signs or encrypts anything itself. Each use gets its own key, derived with HKDF
(RFC 5869) from the master key, a fixed salt and an ``info`` string that names the purpose and the tenant:

- ``token``: the HMAC key that turns a value into its stable token (:mod:`._tokens`);
- ``record``: the AES-256-GCM key that seals a vault record (:mod:`._vault`);
- ``key-check``: a one-way fingerprint stored in the vault to recognise a wrong key when it is opened.

Keys for different purposes or tenants are computationally independent, so one master key can serve
both the :class:`~bastion.pseudonymize.Pseudonymizer` and the :class:`~bastion.pseudonymize.Vault`.
"""

from __future__ import annotations

from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bastion.core.errors import ConfigError, UsageError

__all__ = ["MINIMUM_KEY_BYTES", "check_master_key", "check_tenant", "derive_key"]

#: shortest master key accepted (128 bits); use 32 random bytes (``secrets.token_bytes(32)``)
MINIMUM_KEY_BYTES: Final = 16
#: longest tenant id accepted, in characters
MAXIMUM_TENANT_CHARS: Final = 256

_SALT: Final = b"bastion.pseudonymize.v1"
_PURPOSES: Final = frozenset({"token", "record", "key-check"})


def check_master_key(key: object) -> bytes:
    """``key`` as bytes, or :class:`ConfigError` when it is not bytes or shorter than 16 bytes."""
    if not isinstance(key, bytes | bytearray | memoryview):
        raise ConfigError(f"the pseudonymisation key must be bytes, not {type(key).__name__}")
    key_bytes = bytes(key)
    if len(key_bytes) < MINIMUM_KEY_BYTES:
        raise ConfigError(
            f"the pseudonymisation key is {len(key_bytes)} bytes; at least {MINIMUM_KEY_BYTES} are needed"
        )
    return key_bytes


def check_tenant(tenant: object) -> str:
    """``tenant`` when it is a usable tenant id, otherwise :class:`UsageError`."""
    if not isinstance(tenant, str) or not tenant or len(tenant) > MAXIMUM_TENANT_CHARS:
        raise UsageError(
            f"a tenant id must be a non-empty string of at most {MAXIMUM_TENANT_CHARS} characters"
        )
    try:
        tenant.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("a tenant id must be valid Unicode (no lone surrogates)") from None
    return tenant


def derive_key(master_key: bytes, purpose: str, tenant: str = "") -> bytes:
    """A 32-byte key for ``purpose`` (``token``, ``record`` or ``key-check``) and ``tenant``."""
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    info = purpose.encode("ascii") + b"\x00" + tenant.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(master_key)
