"""``bastion gateway keys``: issue, rotate, revoke and list the gateway's API keys.

Every action is recorded as an ``admin`` event in the audit log (``--audit-db``), with the key id only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError

keys_app = typer.Typer(help="Manage the gateway's per-tenant API keys.", no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Key store: SQLite file or postgresql:// URL (default: $BASTION_GATEWAY_DB or "
        ".bastion/gateway.sqlite)."
    ),
]  # fmt: skip
AuditOption = Annotated[
    str | None,
    typer.Option(
        "--audit-db",
        help="Audit log for the admin events (default: $BASTION_AUDIT_DB or .bastion/audit.sqlite).",
    ),
]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]

_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``30d``, ``2w`` or combinations (``1d12h``)."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or _DURATION.sub("", cleaned).strip():
        raise UsageError(f"{text[:40]!r} is not a duration like 30m, 24h or 30d")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in parts)
    if seconds > 3650 * 86_400:
        raise UsageError("durations are limited to ten years")
    return timedelta(seconds=seconds)


@contextmanager
def _store(db: str | None, audit_db: str | None) -> Iterator[Any]:
    from bastion.guard.audit import open_audit_log
    from bastion.guard.keys import KeyStore

    with open_audit_log(audit_db) as log:
        log.check_writable()  # before any key is written, so a key is never issued unaudited
        with KeyStore(db, on_event=log.append) as store:
            yield store


def _key_json(key: Any) -> dict[str, Any]:
    def when(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat(timespec="seconds")

    return {
        "key_id": key.key_id,
        "tenant": key.tenant,
        "scopes": sorted(s.value for s in key.scopes),
        "label": key.label,
        "created_at": when(key.created_at),
        "expires_at": when(key.expires_at),
        "revoked_at": when(key.revoked_at),
        "rotated_to": key.rotated_to,
        "grace_until": when(key.grace_until),
        "requests_per_minute": key.requests_per_minute,
        "tokens_per_day": key.tokens_per_day,
    }


def _check_format(output_format: str) -> None:
    if output_format not in ("text", "json"):
        raise UsageError("--format must be text or json")


def _print_issued(issued: Any, output_format: str) -> None:
    if output_format == "json":
        typer.echo(json.dumps({**_key_json(issued.key), "key": issued.plaintext}, sort_keys=True))
        return
    typer.echo(issued.plaintext)
    Console(stderr=True).print(
        f"key id {issued.key.key_id} for tenant {issued.key.tenant}: shown once, store it now",
        highlight=False,
    )


@keys_app.command("issue")
@cli_errors
def issue(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to.")],
    scope: Annotated[
        list[str] | None, typer.Option(help="chat, completions, embeddings, models, admin (repeatable).")
    ] = None,
    label: Annotated[str, typer.Option(help="Free text to recognise the key (no secrets).")] = "",
    requests_per_minute: Annotated[int | None, typer.Option(help="Request limit.", min=1)] = None,
    tokens_per_day: Annotated[int | None, typer.Option(help="Token budget per UTC day.", min=1)] = None,
    expires_in: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d.")] = None,
    db: DbOption = None,
    audit_db: AuditOption = None,
    output_format: FormatOption = "text",
) -> None:
    """Issue a key; prints it once (on standard output, the rest on standard error)."""
    _check_format(output_format)
    expires_at = None if expires_in is None else datetime.now(UTC) + parse_duration(expires_in)
    with _store(db, audit_db) as store:
        issued = store.issue(
            tenant,
            scope or ["chat", "completions", "embeddings", "models"],
            label=label,
            requests_per_minute=requests_per_minute,
            tokens_per_day=tokens_per_day,
            expires_at=expires_at,
        )
    _print_issued(issued, output_format)


@keys_app.command("rotate")
@cli_errors
def rotate(
    key_id: Annotated[str, typer.Argument(help="Id of the key to replace.")],
    grace: Annotated[str, typer.Option(help="How long the old key keeps working, e.g. 24h.")] = "24h",
    tenant: Annotated[str | None, typer.Option(help="Refuse unless the key belongs to this tenant.")] = None,
    db: DbOption = None,
    audit_db: AuditOption = None,
    output_format: FormatOption = "text",
) -> None:
    """Replace a key: prints the new one once; the old one works until the grace period ends."""
    _check_format(output_format)
    period = parse_duration(grace) if grace.strip() not in ("0", "") else timedelta(0)
    with _store(db, audit_db) as store:
        issued = store.rotate(key_id, period, tenant=tenant)
    _print_issued(issued, output_format)


@keys_app.command("revoke")
@cli_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="Id of the key to revoke.")],
    tenant: Annotated[str | None, typer.Option(help="Refuse unless the key belongs to this tenant.")] = None,
    db: DbOption = None,
    audit_db: AuditOption = None,
) -> None:
    """Revoke a key at once."""
    with _store(db, audit_db) as store:
        if not store.revoke(key_id, tenant=tenant):
            raise UsageError(f"no active key {key_id[:20]!r}")
    typer.echo(f"revoked {key_id}")


@keys_app.command("list")
@cli_errors
def list_keys(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    db: DbOption = None,
    output_format: FormatOption = "text",
) -> None:
    """List keys (ids, tenants, scopes, state); never a secret."""
    from bastion.guard.keys import KeyStore

    _check_format(output_format)
    with KeyStore(db) as store:
        keys = store.list(tenant)
    if output_format == "json":
        typer.echo(json.dumps([_key_json(key) for key in keys], sort_keys=True))
        return
    now = datetime.now(UTC)
    table = Table("key id", "tenant", "scopes", "state", "created", "limits", "label")
    for key in keys:
        if key.revoked_at is not None:
            state = "revoked"
        elif key.rotated_to is not None:
            state = f"rotated to {key.rotated_to}" + ("" if key.is_valid(now) else " (grace over)")
        else:
            state = "active" if key.is_valid(now) else "expired"
        limits = f"{key.requests_per_minute or '-'} rpm, {key.tokens_per_day or '-'} tokens/day"
        scopes = ",".join(sorted(s.value for s in key.scopes))
        table.add_row(
            key.key_id, key.tenant, scopes, state, key.created_at.date().isoformat(), limits, key.label
        )
    Console(width=160).print(table)
