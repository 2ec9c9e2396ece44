"""Per-tenant API keys for the gateway, stored only as hashes.

A key reads ``bst_<key_id>_<secret>``: ``key_id`` is 12 lowercase base32 characters, public, and appears in
logs, metrics and audit events as ``bastion.api_key.id``; ``secret`` is 32 random bytes, URL-safe base64.
The store keeps ``sha256(secret)`` - or ``HMAC-SHA256(BASTION_KEY_PEPPER, secret)`` when a pepper is set, so
a stolen database alone cannot even confirm a guess - never the key. :meth:`KeyStore.issue` and
:meth:`KeyStore.rotate` return the plaintext once, in :class:`IssuedKey`; nothing else ever holds it.

Lifecycle::

    issue ──► active ──rotate(grace)──► old: valid until grace_until, new: active
                 │
                 └──revoke──► revoked (refused at once)         expires_at passed ──► refused

:meth:`KeyStore.authenticate` finds the row by ``key_id`` and compares hashes with
:func:`hmac.compare_digest`; a key belongs to exactly one tenant, and the caller gets that tenant and
nothing else. Keys supplied from outside (``BASTION_DEMO_KEY``) need not follow the format:
:meth:`KeyStore.ensure_key` stores them under a random ``key_id`` and they are found by the hash of the
whole string.

Every administrative action calls ``on_event`` with an ``admin`` :class:`~bastion.core.events.Event` that
carries the key id and the action, never the key.
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import hmac
import logging
import os
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from bastion.core.errors import ConfigError, UsageError
from bastion.core.events import Attribute, Event, EventKind
from bastion.guard._sql import Database, connect, is_postgres_url

__all__ = [
    "DEFAULT_GATEWAY_PATH",
    "ApiKey",
    "IssuedKey",
    "KeyStore",
    "Scope",
    "parse_scopes",
]

logger = logging.getLogger(__name__)

GATEWAY_DB_ENV: Final = "BASTION_GATEWAY_DB"
PEPPER_ENV: Final = "BASTION_KEY_PEPPER"
DEFAULT_GATEWAY_PATH: Final = Path(".bastion") / "gateway.sqlite"
KEY_PREFIX: Final = "bst_"
_KEY_ID_LENGTH: Final = 12
_KEY_PATTERN: Final = re.compile(r"bst_([a-z2-7]{12})_([A-Za-z0-9_-]{43,128})")
_EXTERNAL_PATTERN: Final = re.compile(r"[\x21-\x7e]{16,256}")
_TENANT_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MAX_PRESENTED: Final = 512
_COLUMNS: Final = (
    "key_id, tenant, scopes, created_at, expires_at, revoked_at, rotated_to, grace_until, "
    "requests_per_minute, tokens_per_day, label"
)


class Scope(StrEnum):
    """What a key may call."""

    CHAT = "chat"
    COMPLETIONS = "completions"
    EMBEDDINGS = "embeddings"
    MODELS = "models"
    ADMIN = "admin"


def parse_scopes(scopes: Iterable[str | Scope]) -> frozenset[Scope]:
    """Validated scopes; raises :class:`UsageError` naming an unknown one."""
    result: set[Scope] = set()
    for scope in scopes:
        try:
            result.add(Scope(str(scope).strip().lower()))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise UsageError(f"unknown scope {str(scope)[:40]!r}; expected one of {known}") from None
    if not result:
        raise UsageError("a key needs at least one scope")
    return frozenset(result)


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    tenant: str
    scopes: frozenset[Scope]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    rotated_to: str | None = None
    grace_until: datetime | None = None
    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    label: str = ""

    def allows(self, scope: Scope | str) -> bool:
        """Whether this key may use ``scope``."""
        return Scope(scope) in self.scopes

    def is_valid(self, now: datetime) -> bool:
        """Not revoked, not expired and, when rotated, still inside its grace period."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        if self.expires_at is not None and self.expires_at <= now:
            return False
        return self.rotated_to is None or (self.grace_until is not None and now < self.grace_until)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``plaintext`` is shown to the caller once and never stored."""

    key: ApiKey
    plaintext: str

    def __repr__(self) -> str:
        return f"IssuedKey(key={self.key!r}, plaintext='bst_{self.key.key_id}_***')"


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


def _check_tenant(tenant: str) -> str:
    if not isinstance(tenant, str) or not _TENANT_PATTERN.fullmatch(tenant):
        raise UsageError("a tenant id is 1-64 characters: letters, digits, '.', '_' or '-'")
    return tenant


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise UsageError(f"{name} must be a positive integer or None (unlimited)")
    return value


class KeyStore:
    """API keys in SQLite (default) or PostgreSQL, table ``api_keys``.

    ``target``: a path or ``postgresql://`` URL; ``None`` means ``BASTION_GATEWAY_DB`` or
    ``.bastion/gateway.sqlite``. ``pepper``: bytes, or ``None`` to read ``BASTION_KEY_PEPPER`` (unset: plain
    SHA-256). ``on_event`` receives an admin event per issue, rotation, revocation and registration.
    ``clock`` returns the current UTC time (tests pass their own).
    """

    def __init__(
        self,
        target: str | Path | None = None,
        *,
        on_event: Callable[[Event], object] | None = None,
        pepper: bytes | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if target is None or (isinstance(target, str) and not target.strip()):
            target = os.environ.get(GATEWAY_DB_ENV) or DEFAULT_GATEWAY_PATH
        if pepper is None and os.environ.get(PEPPER_ENV):
            pepper = os.environ[PEPPER_ENV].encode("utf-8")
        if pepper is not None and len(pepper) < 16:
            raise ConfigError(f"{PEPPER_ENV} must be at least 16 bytes long")
        self._pepper = pepper
        self._scheme = "hmac-sha256" if pepper is not None else "sha256"
        self._on_event = on_event
        self._clock = clock or (lambda: datetime.now(UTC))
        self._db: Database = connect(target if is_postgres_url(target) else Path(target), synchronous="FULL")
        self._create_schema()

    def _create_schema(self) -> None:
        with self._db.write() as cursor:
            if self._db.dialect == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(7283190456)")
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, "
                "secret_hash TEXT UNIQUE NOT NULL, hash_scheme TEXT NOT NULL, scopes TEXT NOT NULL, "
                "created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, rotated_to TEXT, "
                "grace_until TEXT, requests_per_minute INTEGER, tokens_per_day INTEGER, "
                "label TEXT NOT NULL DEFAULT '')"
            )
            cursor.execute("CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant)")

    # -- hashing ----------------------------------------------------------------------------------------

    def _hash(self, secret: str, scheme: str) -> str:
        data = secret.encode("utf-8")
        if scheme == "hmac-sha256":
            if self._pepper is None:
                return ""  # cannot be checked without the pepper; compare_digest("", x) is False
            return hmac.new(self._pepper, data, hashlib.sha256).hexdigest()
        return hashlib.sha256(data).hexdigest()

    # -- admin actions ----------------------------------------------------------------------------------

    def issue(
        self,
        tenant: str,
        scopes: Iterable[str | Scope],
        *,
        label: str = "",
        requests_per_minute: int | None = None,
        tokens_per_day: int | None = None,
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        """A new key for ``tenant``; the returned plaintext is the only copy."""
        key = ApiKey(
            key_id=_new_key_id(),
            tenant=_check_tenant(tenant),
            scopes=parse_scopes(scopes),
            created_at=self._clock(),
            expires_at=self._check_expiry(expires_at),
            requests_per_minute=_positive("requests_per_minute", requests_per_minute),
            tokens_per_day=_positive("tokens_per_day", tokens_per_day),
            label=_check_label(label),
        )
        secret = secrets.token_urlsafe(32)
        self._insert(key, self._hash(secret, self._scheme))
        self._emit("key.issued", key)
        return IssuedKey(key, f"{KEY_PREFIX}{key.key_id}_{secret}")

    def rotate(
        self, key_id: str, grace: timedelta = timedelta(hours=24), *, tenant: str | None = None
    ) -> IssuedKey:
        """A new key with the same tenant, scopes and limits; the old one keeps working for ``grace``.

        Raises :class:`UsageError` when ``key_id`` is unknown (or of another ``tenant``), revoked, expired or
        already rotated.
        """
        if grace < timedelta(0):
            raise UsageError("the grace period cannot be negative")
        now = self._clock()
        old = self.get(key_id)
        if old is None or (tenant is not None and old.tenant != tenant):
            raise UsageError(f"no key {key_id[:20]!r}")
        if old.revoked_at is not None or old.rotated_to is not None or not old.is_valid(now):
            raise UsageError(f"key {key_id} is revoked, expired or already rotated")
        new = ApiKey(
            key_id=_new_key_id(),
            tenant=old.tenant,
            scopes=old.scopes,
            created_at=now,
            expires_at=old.expires_at,
            requests_per_minute=old.requests_per_minute,
            tokens_per_day=old.tokens_per_day,
            label=old.label,
        )
        secret = secrets.token_urlsafe(32)
        with self._db.write() as cursor:
            changed = cursor.execute(
                "UPDATE api_keys SET rotated_to = ?, grace_until = ? "
                "WHERE key_id = ? AND rotated_to IS NULL AND revoked_at IS NULL",
                (new.key_id, _text(now + grace), key_id),
            )
            if changed != 1:
                raise UsageError(f"key {key_id} was changed concurrently; try again")
            self._insert_with(cursor, new, self._hash(secret, self._scheme))
        self._emit("key.rotated", new, rotated_from=key_id)
        return IssuedKey(new, f"{KEY_PREFIX}{new.key_id}_{secret}")

    def revoke(self, key_id: str, *, tenant: str | None = None) -> bool:
        """Refuse ``key_id`` from now on; ``False`` when unknown, of another ``tenant`` or already revoked."""
        where = "key_id = ? AND revoked_at IS NULL" + ("" if tenant is None else " AND tenant = ?")
        params: tuple[str, ...] = (key_id,) if tenant is None else (key_id, tenant)
        with self._db.write() as cursor:
            row = cursor.one(f"SELECT {_COLUMNS} FROM api_keys WHERE {where}", params)
            if row is None:
                return False
            cursor.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", (_text(self._clock()), key_id)
            )
        self._emit("key.revoked", _row_to_key(row))
        return True

    def ensure_key(
        self,
        tenant: str,
        plaintext: str,
        scopes: Iterable[str | Scope],
        *,
        label: str = "external",
        requests_per_minute: int | None = None,
        tokens_per_day: int | None = None,
    ) -> ApiKey:
        """Register a key supplied from outside (e.g. ``BASTION_DEMO_KEY``); idempotent.

        A ``bst_`` key keeps its id; any other string (16-256 printable ASCII characters) gets a random id
        and is found by its hash. Raises :class:`UsageError` when the key is malformed, revoked or belongs to
        another tenant (without saying which).
        """
        _check_tenant(tenant)
        parsed = _parse(plaintext)
        if parsed is None and not _EXTERNAL_PATTERN.fullmatch(plaintext or ""):
            raise UsageError("an external key must be 16-256 printable ASCII characters without spaces")
        key_id, secret = parsed if parsed is not None else (_new_key_id(), plaintext)
        secret_hash = self._hash(secret, self._scheme)
        existing = self._find(key_id if parsed is not None else None, secret_hash)
        if existing is not None:
            key, stored_hash, _scheme = existing
            if not hmac.compare_digest(stored_hash, secret_hash) or key.tenant != tenant:
                raise UsageError("this key is already registered differently; choose another key")
            if not key.is_valid(self._clock()):
                raise UsageError(f"key {key.key_id} is revoked, expired or rotated; choose another key")
            return key
        key = ApiKey(
            key_id=key_id,
            tenant=tenant,
            scopes=parse_scopes(scopes),
            created_at=self._clock(),
            requests_per_minute=_positive("requests_per_minute", requests_per_minute),
            tokens_per_day=_positive("tokens_per_day", tokens_per_day),
            label=_check_label(label),
        )
        self._insert(key, secret_hash)
        self._emit("key.registered", key)
        return key

    # -- lookups ----------------------------------------------------------------------------------------

    def authenticate(self, presented: str) -> ApiKey | None:
        """The valid key ``presented`` is, or ``None``: unknown, wrong, revoked, expired, past grace."""
        if not isinstance(presented, str) or not presented or len(presented) > _MAX_PRESENTED:
            return None
        parsed = _parse(presented)
        if parsed is None and not _EXTERNAL_PATTERN.fullmatch(presented):
            return None
        now = self._clock()
        if parsed is not None:
            found = self._find(parsed[0], None)
            secret = parsed[1]
        else:
            found = self._find(None, self._hash(presented, self._scheme))
            secret = presented
        if found is None:
            hmac.compare_digest(self._hash(secret, self._scheme), "0" * 64)  # same work as a miss with a row
            return None
        key, stored_hash, scheme = found
        if not hmac.compare_digest(self._hash(secret, scheme), stored_hash):
            return None
        return key if key.is_valid(now) else None

    def get(self, key_id: str) -> ApiKey | None:
        """The key with ``key_id`` in any state, or ``None``."""
        found = self._find(key_id, None)
        return None if found is None else found[0]

    def list(self, tenant: str | None = None) -> builtins.list[ApiKey]:
        """Keys (of ``tenant`` when given) in creation order, in every state; never a secret."""
        where, params = ("", ()) if tenant is None else (" WHERE tenant = ?", (tenant,))
        with self._db.read() as cursor:
            rows = cursor.all(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at, key_id", params)
        return [_row_to_key(row) for row in rows]

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------------------------

    def _find(self, key_id: str | None, secret_hash: str | None) -> tuple[ApiKey, str, str] | None:
        """``(key, secret_hash, hash_scheme)`` by id or by secret hash."""
        column, value = ("key_id", key_id) if key_id is not None else ("secret_hash", secret_hash)
        with self._db.read() as cursor:
            row = cursor.one(
                f"SELECT {_COLUMNS}, secret_hash, hash_scheme FROM api_keys WHERE {column} = ?", (value,)
            )
        return None if row is None else (_row_to_key(row[:-2]), str(row[-2]), str(row[-1]))

    def _check_expiry(self, expires_at: datetime | None) -> datetime | None:
        if expires_at is None:
            return None
        if expires_at.tzinfo is None:
            raise UsageError("expires_at must be timezone-aware")
        if expires_at <= self._clock():
            raise UsageError("expires_at is in the past")
        return expires_at.astimezone(UTC)

    def _insert(self, key: ApiKey, secret_hash: str) -> None:
        with self._db.write() as cursor:
            self._insert_with(cursor, key, secret_hash)

    def _insert_with(self, cursor: Any, key: ApiKey, secret_hash: str) -> None:
        cursor.execute(
            "INSERT INTO api_keys (key_id, tenant, secret_hash, hash_scheme, scopes, created_at, expires_at, "
            "requests_per_minute, tokens_per_day, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key.key_id,
                key.tenant,
                secret_hash,
                self._scheme,
                " ".join(sorted(s.value for s in key.scopes)),
                _text(key.created_at),
                _text(key.expires_at),
                key.requests_per_minute,
                key.tokens_per_day,
                key.label,
            ),
        )

    def _emit(self, action: str, key: ApiKey, *, rotated_from: str | None = None) -> None:
        logger.info("api key %s", action, extra={"api_key_id": key.key_id, "tenant": key.tenant})
        if self._on_event is None:
            return
        attributes: dict[str, Any] = {
            Attribute.ADMIN_ACTION: action,
            Attribute.API_KEY_ID: key.key_id,
            "bastion.api_key.scopes": sorted(s.value for s in key.scopes),
        }
        if rotated_from is not None:
            attributes["bastion.api_key.rotated_from"] = rotated_from
        event = Event(
            id=f"admin-{uuid.uuid4().hex}",
            time=self._clock(),
            kind=EventKind.ADMIN,
            tenant=key.tenant,
            attributes=attributes,
        )
        self._on_event(event)


def _new_key_id() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()[:_KEY_ID_LENGTH]


def _parse(presented: str) -> tuple[str, str] | None:
    match = _KEY_PATTERN.fullmatch(presented or "")
    return None if match is None else (match.group(1), match.group(2))


def _check_label(label: str) -> str:
    if len(label) > 200 or any(ord(c) < 32 for c in label):
        raise UsageError("a label is at most 200 printable characters")
    return label


def _row_to_key(row: tuple[Any, ...]) -> ApiKey:
    (key_id, tenant, scopes, created, expires, revoked, rotated_to, grace, per_minute, per_day, label) = row
    created_at = _time(created)
    assert created_at is not None
    return ApiKey(
        key_id=str(key_id),
        tenant=str(tenant),
        scopes=frozenset(Scope(s) for s in str(scopes).split()),
        created_at=created_at,
        expires_at=_time(expires),
        revoked_at=_time(revoked),
        rotated_to=None if rotated_to is None else str(rotated_to),
        grace_until=_time(grace),
        requests_per_minute=None if per_minute is None else int(per_minute),
        tokens_per_day=None if per_day is None else int(per_day),
        label=str(label or ""),
    )
