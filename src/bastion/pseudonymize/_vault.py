"""The vault: token -> original value, sealed with AES-256-GCM per tenant, for authorised restoration.

Holding a :class:`Vault` means holding the key, and holding the key is what authorises restoring: there
is no other check. Give the key only to the component that must show clear values to their owner (the
guard, answering the caller who sent them), never to logs, analytics or the upstream model.

Each record is sealed on its own::

    sealed = format byte (1) | nonce (12, random) | AES-256-GCM(value) with its 16-byte tag
    key    = HKDF-SHA256(master key, info = "record" NUL tenant)
    associated data = "bastion.vault.record.v1" NUL len(tenant) tenant token

The associated data binds a record to its tenant and token: a record copied onto another token or into
another tenant fails authentication exactly like a flipped byte, and both raise :class:`VaultError`.
The vault also stores a one-way fingerprint of the master key, so opening it with another key fails at
once with a clear message instead of failing record by record.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from itertools import islice
from types import TracebackType
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.core.errors import UsageError, VaultError
from bastion.pseudonymize._keys import check_master_key, check_tenant, derive_key
from bastion.pseudonymize._store import SQLiteVaultStore, VaultStore
from bastion.pseudonymize._tokens import canonical_token, find_tokens, is_token, token_candidates

__all__ = ["RestoreResult", "Vault"]

logger = logging.getLogger(__name__)

_FORMAT: Final = b"\x01"
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_ASSOCIATED_DATA_PREFIX: Final = b"bastion.vault.record.v1\x00"
_KEY_CHECK: Final = "key_check.v1"
#: the reading of a match whose every token lies outside ``only``
_WITHHELD: Final = ("", "")


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What :meth:`Vault.restore_with_report` did. ``text`` holds clear values and stays out of ``repr``.

    ``restored`` are the tokens replaced by their values, ``unknown`` token-shaped strings without a
    record (left as they are), ``withheld`` tokens left because they were outside ``only``. Each tuple
    lists a token once, in order of first appearance.
    """

    text: str = field(repr=False)
    restored: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()


class Vault:
    """Encrypted, tenant-separated storage of the values behind tokens.

    ``key`` is the master key (at least 16 bytes; use 32 random bytes). ``store`` is a path to a SQLite
    file, ``":memory:"`` (the default) or any :class:`VaultStore`. Thread-safe. Raises
    :class:`VaultError` when the key does not open the store, a record is missing, damaged or tampered
    with, or the database fails; messages never contain a stored value.

    >>> vault = Vault(b"0123456789abcdef0123456789abcdef")
    >>> vault.put("acme", "PERSON_0123456789abcdef", "Erika Mustermann")
    True
    >>> vault.restore("acme", "Dear PERSON_0123456789abcdef,")
    'Dear Erika Mustermann,'
    """

    def __init__(self, key: bytes, store: VaultStore | str | os.PathLike[str] = ":memory:") -> None:
        master_key = check_master_key(key)
        self._store: VaultStore
        if isinstance(store, str | os.PathLike):
            self._store, owns_store = SQLiteVaultStore(store), True
        else:
            self._store, owns_store = store, False
        self._master_key = master_key
        self._ciphers: dict[str, AESGCM] = {}
        self._ciphers_lock = threading.Lock()
        fingerprint = derive_key(master_key, "key-check")
        try:
            stored = self._store.add_meta(_KEY_CHECK, fingerprint)
        except BaseException:
            if owns_store:
                self._store.close()
            raise
        if not hmac.compare_digest(stored, fingerprint):
            if owns_store:
                self._store.close()
            raise VaultError("this key does not open the vault: it was created with another key")

    def __repr__(self) -> str:
        return f"Vault(store={self._store!r})"

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the store. The vault cannot be used afterwards."""
        self._store.close()

    # -- writing ---------------------------------------------------------------------------------------

    def put(self, tenant: str, token: str, value: str) -> bool:
        """Store ``value`` under ``token``; True when new. A token already stored keeps its first value."""
        return self.put_many(tenant, [(token, value)]) == 1

    def put_many(self, tenant: str, items: Iterable[tuple[str, str]]) -> int:
        """Store ``(token, value)`` pairs in one transaction; return how many tokens were new."""
        check_tenant(tenant)
        records: list[tuple[str, bytes]] = []
        seen: set[str] = set()
        for token, value in items:
            if not isinstance(token, str) or not is_token(token):
                raise UsageError("put needs a canonical token such as PERSON_0123456789abcdef")
            if not isinstance(value, str):
                raise UsageError(f"a vault value must be a string, not {type(value).__name__}")
            if token not in seen:
                seen.add(token)
                records.append((token, self._seal(tenant, token, value)))
        return self._store.insert_new(tenant, records)

    # -- reading ---------------------------------------------------------------------------------------

    def get(self, tenant: str, token: str) -> str:
        """The value behind ``token``; :class:`VaultError` when there is none."""
        values = self.get_many(tenant, [token])
        if token not in values:
            raise VaultError(f"the vault holds no record for this token in tenant {tenant!r}")
        return values[token]

    def get_many(self, tenant: str, tokens: Iterable[str]) -> dict[str, str]:
        """The values behind those ``tokens`` that have a record."""
        check_tenant(tenant)
        sealed_records = self._store.fetch(tenant, [t for t in tokens if isinstance(t, str)])
        return {token: self._open(tenant, token, sealed) for token, sealed in sealed_records.items()}

    def restore(self, tenant: str, text: str, *, only: Collection[str] | None = None) -> str:
        """``text`` with every known token replaced by its value; unknown tokens are left and logged.

        ``only`` limits restoration to those tokens (pass the tokens of the request being answered, so a
        token a caller typed in from elsewhere is not unmasked); the others are left as they are.
        """
        result = self.restore_with_report(tenant, text, only=only)
        if result.unknown:
            logger.warning(
                "vault restore left %d unknown token(s) in place",
                len(result.unknown),
                extra={"tenant": tenant, "unknown_tokens": len(result.unknown)},
            )
        return result.text

    def known_token_spans(self, tenant: str, text: str) -> list[tuple[int, int]]:
        """``(start, end)`` of the tokens in ``text`` that have a record in ``tenant`` (nothing is decrypted).

        A token glued to the capitals before it is given without them. The pseudonymizer uses this to
        leave its own tokens alone without also sparing look-alikes such as ``DE89..._statement2024xx``.
        """
        check_tenant(tenant)
        spans = list(find_tokens(text))
        if not spans:
            return []
        readings, _ = self._read_matches(tenant, [text[start:end] for start, end in spans], None)
        return [
            (start + len(reading[0]), end)
            for (start, end), reading in zip(spans, readings, strict=True)
            if reading is not None and reading is not _WITHHELD
        ]

    def restore_with_report(
        self, tenant: str, text: str, *, only: Collection[str] | None = None
    ) -> RestoreResult:
        """Like :meth:`restore`, and say which tokens were restored, unknown or withheld."""
        check_tenant(tenant)
        if not isinstance(text, str):
            raise UsageError(f"restore needs text (str), not {type(text).__name__}")
        spans = list(find_tokens(text))
        if not spans:
            return RestoreResult(text=text)
        allowed = None if only is None else frozenset(only)
        matches = [text[start:end] for start, end in spans]
        readings, sealed_records = self._read_matches(tenant, matches, allowed)

        values: dict[str, str] = {}
        restored: dict[str, None] = {}
        unknown: dict[str, None] = {}
        withheld: dict[str, None] = {}
        parts: list[str] = []
        position = 0
        for (start, end), match, reading in zip(spans, matches, readings, strict=True):
            if reading is None or reading is _WITHHELD:
                (withheld if reading is _WITHHELD else unknown)[canonical_token(match)] = None
                continue
            prefix, token = reading
            if token not in values:
                values[token] = self._open(tenant, token, sealed_records[token])
            parts += [text[position:start], prefix, values[token]]
            position = end
            restored[token] = None
        parts.append(text[position:])
        return RestoreResult(
            text="".join(parts), restored=tuple(restored), unknown=tuple(unknown), withheld=tuple(withheld)
        )

    def _read_matches(
        self, tenant: str, matches: list[str], allowed: frozenset[str] | None
    ) -> tuple[list[tuple[str, str] | None], dict[str, bytes]]:
        """For each match, the ``(glued prefix, token)`` reading that has a record (None: unknown,
        :data:`_WITHHELD`: no reading allowed), and the sealed records of those readings.

        The whole match is looked up first; only where it is unknown are the shorter readings of a token
        glued to the capitals before it looked up, in one more query.
        """
        whole = [canonical_token(match) for match in matches]
        sealed_records = self._store.fetch(
            tenant, list(dict.fromkeys(t for t in whole if allowed is None or t in allowed))
        )
        readings: list[tuple[str, str] | None] = []
        shorter_readings: dict[int, list[tuple[str, str]]] = {}
        for index, (match, token) in enumerate(zip(matches, whole, strict=True)):
            permitted = allowed is None or token in allowed
            if permitted and token in sealed_records:
                readings.append(("", token))
                continue
            shorter = [
                (prefix, candidate)
                for prefix, candidate in islice(token_candidates(match), 1, None)
                if allowed is None or candidate in allowed
            ]
            readings.append(None if permitted or shorter else _WITHHELD)
            if shorter:
                shorter_readings[index] = shorter
        wanted = {candidate for shorter in shorter_readings.values() for _, candidate in shorter}
        if wanted:
            sealed_records.update(self._store.fetch(tenant, sorted(wanted)))
            for index, shorter in shorter_readings.items():
                readings[index] = next((r for r in shorter if r[1] in sealed_records), None)
        return readings, sealed_records

    def count(self, tenant: str | None = None) -> int:
        """How many records ``tenant`` (or the whole vault) holds."""
        return self._store.count(None if tenant is None else check_tenant(tenant))

    # -- erasure ---------------------------------------------------------------------------------------

    def forget(self, tenant: str, token: str) -> bool:
        """Delete the record of ``token`` (a data subject's erasure request); True when it existed."""
        return self._store.delete(check_tenant(tenant), token)

    def erase_tenant(self, tenant: str) -> int:
        """Delete every record of ``tenant``; return how many there were."""
        erased = self._store.delete_tenant(check_tenant(tenant))
        with self._ciphers_lock:
            self._ciphers.pop(tenant, None)
        return erased

    # -- sealing ---------------------------------------------------------------------------------------

    def _cipher(self, tenant: str) -> AESGCM:
        with self._ciphers_lock:
            cipher = self._ciphers.get(tenant)
            if cipher is None:
                cipher = AESGCM(derive_key(self._master_key, "record", tenant))
                self._ciphers[tenant] = cipher
            return cipher

    def _seal(self, tenant: str, token: str, value: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plaintext = value.encode("utf-8", "surrogatepass")
        ciphertext = self._cipher(tenant).encrypt(nonce, plaintext, _associated_data(tenant, token))
        return _FORMAT + nonce + ciphertext

    def _open(self, tenant: str, token: str, sealed: bytes) -> str:
        if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[:1] != _FORMAT:
            raise VaultError("a vault record is damaged: unknown format or too short")
        nonce = sealed[1 : 1 + _NONCE_BYTES]
        try:
            plaintext = self._cipher(tenant).decrypt(
                nonce, sealed[1 + _NONCE_BYTES :], _associated_data(tenant, token)
            )
        except InvalidTag as error:
            raise VaultError(
                "a vault record failed authentication: it was altered, moved to another token or tenant, "
                "or sealed with another key"
            ) from error
        return plaintext.decode("utf-8", "surrogatepass")


def _associated_data(tenant: str, token: str) -> bytes:
    tenant_bytes = tenant.encode("utf-8")
    return (
        _ASSOCIATED_DATA_PREFIX + len(tenant_bytes).to_bytes(4, "big") + tenant_bytes + token.encode("utf-8")
    )
