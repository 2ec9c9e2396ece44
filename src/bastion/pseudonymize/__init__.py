"""Pseudonymisation of personal data: stable keyed tokens, an encrypted vault to restore them, and masking.

The guard uses it to replace personal data before a prompt leaves for a third-party model and to put the
values back into the answer for the caller; dataset anonymisation uses the same tokens.

- :class:`Pseudonymizer` turns detections (from the ``pii`` detector) into tokens such as
  ``PERSON_7f3a9c21xk0m4q2d``: ``HMAC-SHA256`` of the type and the normalised value under a per-tenant key,
  so one value always gets one token within a tenant and different tokens across tenants.
- :class:`Vault` keeps token -> value sealed with AES-256-GCM (per-tenant key, tenant and token bound as
  associated data) in SQLite, restores tokens in answers and erases records on request.
- :func:`mask` replaces detected values with ``[EMAIL]``-style labels for good.

See ``docs/pseudonymize.md`` for the token format, key handling and threat model.
"""

from bastion.pseudonymize._keys import MINIMUM_KEY_BYTES
from bastion.pseudonymize._pseudonymizer import PseudonymizedText, Pseudonymizer, Replacement, mask
from bastion.pseudonymize._store import SQLiteVaultStore, VaultStore
from bastion.pseudonymize._tokens import TOKEN_PATTERN, find_tokens, is_token, normalize_value, type_label
from bastion.pseudonymize._vault import RestoreResult, Vault

__all__ = [
    "MINIMUM_KEY_BYTES",
    "TOKEN_PATTERN",
    "PseudonymizedText",
    "Pseudonymizer",
    "Replacement",
    "RestoreResult",
    "SQLiteVaultStore",
    "Vault",
    "VaultStore",
    "find_tokens",
    "is_token",
    "mask",
    "normalize_value",
    "type_label",
]
