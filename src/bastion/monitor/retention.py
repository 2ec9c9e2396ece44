"""Retention per data class with deletion receipts and legal holds; data-subject erasure (GDPR Art. 17).

Policies are data (YAML)::

    policies:
      - {id: events-400d, data_class: pseudonymised_events, keep: 400d, basis: "..."}
      - {id: prompts-30d, data_class: raw_prompts, keep: 30d}
      - {id: vault-400d, data_class: vault_entries, keep: 400d}
      - {id: transcripts-2y, data_class: redteam_transcripts, keep: 730d, path: ~/.bastion/redteam, glob: "*"}
      - {id: training-3y, data_class: training_datasets, keep: 1095d, path: datasets/train, glob: "*.jsonl"}

What each data class means here:

- ``pseudonymised_events``: rows of the monitor store older than ``keep`` are deleted (with their detections
  and tool calls).
- ``raw_prompts``: the prompt and response text of older events is removed; the event stays for counts.
- ``vault_entries``: vault tokens that only older events mention are forgotten in the pseudonymisation vault
  (its records carry no time of their own); run before ``pseudonymised_events`` in the same apply.
- ``redteam_transcripts`` / ``training_datasets``: files under ``path`` matching ``glob`` whose modification
  time is older than ``keep`` are deleted.

A **legal hold** (tenant, API key id, event id, data class, or a path prefix) suspends deletion of what it
covers until it is released; held items are counted in the receipt, never deleted.

Every apply writes one **deletion receipt** per policy (what, how much, when, under which policy, the
cutoff, a SHA-256 over the sorted ids or paths deleted, and a hash over the receipt that includes the
previous receipt's hash, so receipts form a chain). Receipts hold no personal data and no ids in clear.

**Erasure**: :func:`erase_subject` takes the person's tokens (made from their values with the tenant's
pseudonymisation key, see :func:`tokens_for`), finds every event that mentions them (the ``pseudonyms``
column, the texts, the attributes), tombstones those events (content removed, content hash kept, so the
gateway's audit chain, which hashes the same canonical JSON, still verifies) and forgets the tokens in the
vault. A legal hold on the tenant or an event withholds erasure (GDPR Art. 17(3)(e)) and says so.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError, UsageError
from bastion.monitor.rules import parse_duration
from bastion.monitor.store import EventStore, to_micros

__all__ = [
    "DATA_CLASSES",
    "ErasureResult",
    "Hold",
    "Receipt",
    "RetentionPolicies",
    "add_hold",
    "apply_policies",
    "erase_subject",
    "list_holds",
    "load_policies",
    "release_hold",
    "tokens_for",
]

logger = logging.getLogger(__name__)

DataClass = Literal[
    "raw_prompts", "pseudonymised_events", "vault_entries", "redteam_transcripts", "training_datasets"
]
DATA_CLASSES: tuple[str, ...] = (
    "raw_prompts",
    "pseudonymised_events",
    "vault_entries",
    "redteam_transcripts",
    "training_datasets",
)
#: the order policies run in (vault before events: it reads which tokens only old events mention)
_ORDER = {
    "vault_entries": 0,
    "raw_prompts": 1,
    "pseudonymised_events": 2,
    "redteam_transcripts": 3,
    "training_datasets": 4,
}
HOLD_SCOPES = ("tenant", "api_key", "event", "data_class", "path")
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS legal_holds (hold_id VARCHAR PRIMARY KEY, scope VARCHAR NOT NULL, "
    "value VARCHAR NOT NULL, reason VARCHAR NOT NULL, created_at VARCHAR NOT NULL, released_at VARCHAR)",
    "CREATE TABLE IF NOT EXISTS retention_receipts (receipt_id VARCHAR PRIMARY KEY, "
    "executed_at VARCHAR NOT NULL, "
    "body VARCHAR NOT NULL, hash VARCHAR NOT NULL)",
)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    data_class: DataClass
    keep: str
    basis: str = ""
    path: str | None = None
    glob: str = "*"


class RetentionPolicies(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[Policy] = Field(min_length=1)


def load_policies(path: Path) -> RetentionPolicies:
    """Read and check a policy file (durations, unique ids, a path for file-based classes)."""
    try:
        policies = RetentionPolicies.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read retention policies {path}: {error}") from error
    except (yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{path}: invalid retention policies: {error}") from error
    ids = [p.id for p in policies.policies]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path}: duplicate policy ids")
    for policy in policies.policies:
        parse_duration(policy.keep)
        if policy.data_class in ("redteam_transcripts", "training_datasets") and not policy.path:
            raise ConfigError(f"{path}: policy {policy.id} ({policy.data_class}) needs a path")
    return policies


def _ensure(store: EventStore) -> None:
    for statement in _SCHEMA:
        store.connection.execute(statement)


# -- legal holds -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    scope: str
    value: str
    reason: str
    created_at: str
    released_at: str | None


def add_hold(store: EventStore, scope: str, value: str, reason: str) -> Hold:
    if scope not in HOLD_SCOPES:
        raise UsageError(f"hold scope {scope!r}: one of {', '.join(HOLD_SCOPES)}")
    if not value.strip() or not reason.strip():
        raise UsageError("a legal hold needs a value and a reason (case or matter reference)")
    if scope == "data_class" and value not in DATA_CLASSES:
        raise UsageError(f"unknown data class {value!r}")
    _ensure(store)
    hold = Hold(
        f"HOLD-{uuid.uuid4().hex[:8]}",
        scope,
        value.strip(),
        reason.strip(),
        datetime.now(UTC).isoformat(),
        None,
    )
    store.connection.execute(
        "INSERT INTO legal_holds VALUES (?, ?, ?, ?, ?, NULL)",
        [hold.id, hold.scope, hold.value, hold.reason, hold.created_at],
    )
    return hold


def release_hold(store: EventStore, hold_id: str) -> None:
    _ensure(store)
    row = store.connection.execute(
        "SELECT COUNT(*) FROM legal_holds WHERE hold_id = ? AND released_at IS NULL", [hold_id]
    ).fetchone()
    if not row or not row[0]:
        raise UsageError(f"no active hold {hold_id!r}")
    store.connection.execute(
        "UPDATE legal_holds SET released_at = ? WHERE hold_id = ?", [datetime.now(UTC).isoformat(), hold_id]
    )


def list_holds(store: EventStore, active_only: bool = True) -> list[Hold]:
    _ensure(store)
    where = "WHERE released_at IS NULL" if active_only else ""
    rows = store.connection.execute(
        "SELECT hold_id, scope, value, reason, created_at, released_at FROM legal_holds "
        f"{where} ORDER BY created_at"
    ).fetchall()
    return [Hold(*row) for row in rows]


def _held_values(store: EventStore, scope: str) -> list[str]:
    return [h.value for h in list_holds(store) if h.scope == scope]


def _event_hold_clause(store: EventStore) -> tuple[str, list[Any]]:
    """SQL that is true for events under a hold, and its parameters."""
    return (
        "(list_contains(?, tenant) OR list_contains(?, api_key_id) OR list_contains(?, event_id))",
        [_held_values(store, "tenant"), _held_values(store, "api_key"), _held_values(store, "event")],
    )


# -- receipts --------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Receipt:
    """A deletion receipt. ``body`` is what ``hash`` covers (with the previous receipt's hash inside)."""

    id: str
    body: dict[str, Any]
    hash: str


def _digest(items: Sequence[str]) -> str:
    hasher = hashlib.sha256()
    for item in sorted(items):
        hasher.update(item.encode("utf-8"))
        hasher.update(b"\n")
    return hasher.hexdigest()


def _write_receipt(store: EventStore, body: dict[str, Any]) -> Receipt:
    previous = store.connection.execute(
        "SELECT hash FROM retention_receipts ORDER BY executed_at DESC, receipt_id DESC LIMIT 1"
    ).fetchone()
    body = {**body, "previous_hash": previous[0] if previous else "0" * 64}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    receipt = Receipt(body["receipt_id"], body, hashlib.sha256(canonical.encode()).hexdigest())
    store.connection.execute(
        "INSERT INTO retention_receipts VALUES (?, ?, ?, ?)",
        [receipt.id, body["executed_at"], canonical, receipt.hash],
    )
    return receipt


def receipts(store: EventStore) -> list[Receipt]:
    _ensure(store)
    rows = store.connection.execute(
        "SELECT receipt_id, body, hash FROM retention_receipts ORDER BY executed_at, receipt_id"
    ).fetchall()
    return [Receipt(row[0], json.loads(row[1]), row[2]) for row in rows]


def verify_receipts(store: EventStore) -> bool:
    """True when every receipt's hash matches its body and the chain of previous hashes is unbroken."""
    previous = "0" * 64
    for receipt in receipts(store):
        canonical = json.dumps(receipt.body, sort_keys=True, separators=(",", ":"))
        if hashlib.sha256(canonical.encode()).hexdigest() != receipt.hash:
            return False
        if receipt.body.get("previous_hash") != previous:
            return False
        previous = receipt.hash
    return True


# -- apply -----------------------------------------------------------------------------------------------
def _expired_ids(store: EventStore, cutoff: int, extra: str = "") -> tuple[list[str], int]:
    clause, parameters = _event_hold_clause(store)
    rows = store.connection.execute(
        f"SELECT event_id, {clause} AS held FROM event_rows WHERE ts < ? {extra}", [*parameters, cutoff]
    ).fetchall()
    return [str(r[0]) for r in rows if not r[1]], sum(1 for r in rows if r[1])


def _apply_one(
    store: EventStore, policy: Policy, now: datetime, dry_run: bool, vault: Any
) -> tuple[int, int, list[str]]:
    """(deleted, held, deleted ids or paths) for one policy."""
    cutoff_time = now - parse_duration(policy.keep)
    cutoff = to_micros(cutoff_time)
    if policy.data_class in _held_values(store, "data_class"):
        return 0, -1, []
    if policy.data_class == "pseudonymised_events":
        ids, held = _expired_ids(store, cutoff)
        if ids and not dry_run:
            for table in ("detection_rows", "tool_call_rows", "event_rows"):
                store.connection.execute(f"DELETE FROM {table} WHERE list_contains(?, event_id)", [ids])
        return len(ids), held, ids
    if policy.data_class == "raw_prompts":
        ids, held = _expired_ids(store, cutoff, "AND (input_text IS NOT NULL OR output_text IS NOT NULL)")
        if ids and not dry_run:
            store.connection.execute(
                "UPDATE event_rows SET input_text = NULL, output_text = NULL "
                "WHERE list_contains(?, event_id)",
                [ids],
            )
        return len(ids), held, ids
    if policy.data_class == "vault_entries":
        ids, held = _expired_ids(store, cutoff, "AND pseudonyms IS NOT NULL")
        old = store.connection.execute(
            "SELECT DISTINCT tenant, unnest(string_split(pseudonyms, ' ')) FROM event_rows "
            "WHERE list_contains(?, event_id)",
            [ids],
        ).fetchall()
        recent = store.connection.execute(
            "SELECT DISTINCT tenant, unnest(string_split(pseudonyms, ' ')) FROM event_rows "
            "WHERE pseudonyms IS NOT NULL AND NOT list_contains(?, event_id)",
            [ids],
        ).fetchall()
        tokens = sorted(set(map(tuple, old)) - set(map(tuple, recent)))
        forgotten = []
        for tenant, token in tokens:
            if dry_run or vault is None or vault.forget(tenant, token):
                forgotten.append(f"{tenant}/{token}")
        if vault is None and not dry_run and tokens:
            raise UsageError(f"policy {policy.id}: vault_entries needs the vault (--vault PATH)")
        return len(forgotten), held, forgotten
    # file-based classes
    root = Path(policy.path or ".").expanduser()
    held_paths = [Path(p).expanduser().resolve() for p in _held_values(store, "path")]
    deleted: list[str] = []
    held_count = 0
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            if not path.is_file() or not fnmatch.fnmatch(path.name, policy.glob):
                continue
            if datetime.fromtimestamp(path.stat().st_mtime, UTC) >= cutoff_time:
                continue
            resolved = path.resolve()
            if any(resolved == h or h in resolved.parents for h in held_paths):
                held_count += 1
                continue
            if not dry_run:
                path.unlink()
            deleted.append(str(resolved))
    return len(deleted), held_count, deleted


def apply_policies(
    store: EventStore,
    policies: RetentionPolicies,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    vault: Any = None,
    actor: str = "bastion",
) -> list[Receipt]:
    """Apply every policy (vault first, then texts, events, files); one receipt per policy.

    ``vault`` is a :class:`bastion.pseudonymize.Vault` (needed by ``vault_entries`` policies)."""
    _ensure(store)
    moment = now or datetime.now(UTC)
    written = []
    for policy in sorted(policies.policies, key=lambda p: _ORDER[p.data_class]):
        count, held, items = _apply_one(store, policy, moment, dry_run, vault)
        body: dict[str, Any] = {
            "receipt_id": f"RCPT-{uuid.uuid4().hex[:12]}",
            "kind": "retention",
            "policy": policy.id,
            "data_class": policy.data_class,
            "basis": policy.basis,
            "keep": policy.keep,
            "cutoff": (moment - parse_duration(policy.keep)).isoformat(),
            "deleted": count,
            "held": max(held, 0),
            "suspended_by_hold": held < 0,
            "items_sha256": _digest(items),
            "executed_at": datetime.now(UTC).isoformat(),
            "dry_run": dry_run,
            "actor": actor,
        }
        written.append(Receipt(body["receipt_id"], body, "") if dry_run else _write_receipt(store, body))
        logger.info("retention %s: %d deleted, %d held", policy.id, count, max(held, 0))
    return written


# -- erasure ---------------------------------------------------------------------------------------------
def tokens_for(key: bytes, tenant: str, values: Sequence[tuple[str, str]]) -> list[str]:
    """The vault tokens of ``(detection type, value)`` pairs in ``tenant`` (what the guard wrote)."""
    from bastion.pseudonymize import Pseudonymizer

    pseudonymizer = Pseudonymizer(key, tenant)
    return [pseudonymizer.token(kind, value) for kind, value in values]


@dataclass(frozen=True, slots=True)
class ErasureResult:
    erased_events: int
    withheld_events: int
    forgotten_tokens: int
    receipt: Receipt


def erase_subject(
    store: EventStore,
    tenant: str,
    tokens: Sequence[str],
    *,
    request_id: str,
    vault: Any = None,
    actor: str = "bastion",
) -> ErasureResult:
    """Erase every event of ``tenant`` that mentions one of ``tokens`` and forget the tokens in ``vault``."""
    if not tokens:
        raise UsageError("erasure needs at least one token or value")
    if not request_id.strip():
        raise UsageError("erasure needs the request id (the data-subject request it answers)")
    _ensure(store)
    ids = _find_mentions(store, tenant, tokens)
    clause, parameters = _event_hold_clause(store)
    held_rows = store.connection.execute(
        f"SELECT event_id FROM event_rows WHERE list_contains(?, event_id) AND {clause}", [ids, *parameters]
    ).fetchall()
    held = {str(r[0]) for r in held_rows}
    erasable = [i for i in ids if i not in held]
    erased = store.tombstone(erasable, f"GDPR Art. 17 request {request_id}")
    forgotten = 0
    if vault is not None and not held:
        forgotten = sum(1 for token in tokens if vault.forget(tenant, token))
    body: dict[str, Any] = {
        "receipt_id": f"RCPT-{uuid.uuid4().hex[:12]}",
        "kind": "erasure",
        "request": request_id,
        "basis": "GDPR Art. 17",
        "tenant_sha256": hashlib.sha256(tenant.encode()).hexdigest(),
        "tokens_sha256": _digest(tokens),
        "erased_events": erased,
        "withheld_by_legal_hold": len(held),
        "forgotten_tokens": forgotten,
        "items_sha256": _digest(erasable),
        "executed_at": datetime.now(UTC).isoformat(),
        "dry_run": False,
        "actor": actor,
    }
    return ErasureResult(erased, len(held), forgotten, _write_receipt(store, body))


def _find_mentions(store: EventStore, tenant: str, tokens: Sequence[str]) -> list[str]:
    ids: set[str] = set()
    for token in tokens:
        pattern = f"%{token}%"
        rows = store.connection.execute(
            "SELECT event_id FROM event_rows WHERE tenant = ? AND NOT erased AND (pseudonyms LIKE ? "
            "OR input_text LIKE ? OR output_text LIKE ? OR attributes LIKE ?)",
            [tenant, pattern, pattern, pattern, pattern],
        ).fetchall()
        ids.update(str(r[0]) for r in rows)
    return sorted(ids)
