"""``bastion audit``: verify the hash chain of the audit log, export its events."""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.markup import escape

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError

audit_app = typer.Typer(help="Verify and export the tamper-evident audit log.", no_args_is_help=True)

#: exit code of ``bastion audit verify`` when the chain is broken (1 and 2 mean runtime and usage errors)
BROKEN_EXIT = 4

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="SQLite file or postgresql:// URL (default: $BASTION_AUDIT_DB or .bastion/audit.sqlite)."
    ),
]


def _open_existing(db: str | None) -> Any:
    """The audit log at ``db``; an SQLite path must exist (a typo must not verify as an empty log)."""
    import os

    from bastion.guard._sql import is_postgres_url
    from bastion.guard.audit import AUDIT_DB_ENV, DEFAULT_AUDIT_PATH, open_audit_log

    target: str | Path = db or os.environ.get(AUDIT_DB_ENV) or DEFAULT_AUDIT_PATH
    if not is_postgres_url(target) and not Path(target).is_file():
        raise UsageError(f"no audit log at {target}")
    return open_audit_log(target)


@audit_app.command("verify")
@cli_errors
def verify(
    db: DbOption = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Check the hash chain, the head record and the key; exit 4 and say where when it is broken."""
    if output_format not in ("text", "json"):
        raise UsageError("--format must be text or json")
    with _open_existing(db) as log:
        result = log.verify()
        seq, _hash = log.head()
        target, algorithm = log.target, log.algorithm
    if output_format == "json":
        payload = {
            "ok": result.ok,
            "events": result.events,
            "first_broken_seq": result.first_broken_seq,
            "reason": result.reason,
            "head_seq": seq,
            "algorithm": algorithm,
            "target": target,
        }
        typer.echo(json.dumps(payload, sort_keys=True))
    elif result.ok:
        typer.echo(f"intact: {result.events} events, head {seq}, {algorithm} chain ({target})")
    else:
        Console(stderr=True).print(
            f"[red]BROKEN[/red] at seq {result.first_broken_seq}: {escape(result.reason)} "
            f"({result.events} events verified before it; {escape(target)})",
            highlight=False,
        )
    if not result.ok:
        raise typer.Exit(code=BROKEN_EXIT)


@audit_app.command("export")
@cli_errors
def export(
    db: DbOption = None,
    output_format: Annotated[
        str, typer.Option("--format", help="jsonl (one event record a line).")
    ] = "jsonl",
    output: Annotated[Path | None, typer.Option(help="File to write (default: standard output).")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's events.")] = None,
    after: Annotated[int, typer.Option(help="Only events after this seq.", min=0)] = 0,
) -> None:
    """Export events as JSON lines: the event record plus ``seq``, ``recorded_at`` and ``chain_hash``.

    Erased events appear as ``{"tombstone": true}`` lines with their id, tenant and kind.
    """
    if output_format != "jsonl":
        raise UsageError("--format must be jsonl")
    count = 0
    with _open_existing(db) as log, ExitStack() as stack:
        stream: TextIO = sys.stdout
        if output is not None:
            stream = stack.enter_context(output.open("w", encoding="utf-8"))
        for record in log.iter_records(after, tenant=tenant):
            line: dict[str, Any]
            if record.event is None:
                line = {
                    "id": record.event_id,
                    "tenant": record.tenant,
                    "kind": record.kind,
                    "tombstone": True,
                }
            else:
                line = record.event.to_record()
            line.update(seq=record.seq, recorded_at=record.recorded_at, chain_hash=record.chain_hash)
            stream.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    if output is not None:
        Console(stderr=True).print(f"{count} events written to {escape(str(output))}", highlight=False)
