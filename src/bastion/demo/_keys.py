"""Deterministic demo API keys and the hash the database stores instead of them.

A key is ``"bdk_"`` + 32 hex digits of HMAC-SHA256(seed-derived key, ``tenant_id:subject``): the same seed
gives the same keys, so a demo script can print them, but nobody can derive a key without the seed.

>>> key = derive_api_key(7, "t-telkonord", "d-10001")
>>> key.startswith("bdk_"), len(key)
(True, 36)
>>> key == derive_api_key(7, "t-telkonord", "d-10001") != derive_api_key(8, "t-telkonord", "d-10001")
True
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["API_KEY_PREFIX", "derive_api_key", "key_sha256"]

API_KEY_PREFIX = "bdk_"


def derive_api_key(seed: int, tenant_id: str, subject: str) -> str:
    """The demo API key of ``subject`` in ``tenant_id`` for generator ``seed``."""
    secret = hashlib.sha256(f"bastion-demo/api-keys/{seed}".encode()).digest()
    digest = hmac.new(secret, f"{tenant_id}:{subject}".encode(), hashlib.sha256).hexdigest()
    return API_KEY_PREFIX + digest[:32]


def key_sha256(api_key: str) -> str:
    """The hex SHA-256 of a key as stored in the ``principals`` table (lone surrogates kept, not lost)."""
    return hashlib.sha256(api_key.encode("utf-8", "surrogatepass")).hexdigest()
