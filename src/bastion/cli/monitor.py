"""``bastion monitor``: ingest events, run the rule pack, deliver alerts, manage incidents; and
``bastion retention``: apply retention policies, legal holds, data-subject erasure.

The stable contract: ``bastion monitor ingest --audit`` reads the gateway's audit store
(``.bastion/audit.sqlite`` or ``$BASTION_AUDIT_DB``), ``bastion monitor ingest FILE...`` reads JSONL or
OTLP/JSON files, and ``bastion monitor run --format json`` prints a JSON list of the alerts raised by this
run, each with at least ``rule``, ``severity``, ``group``, ``count``, ``first_seen`` and ``last_seen``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UpstreamError, UsageError

if TYPE_CHECKING:
    from bastion.monitor.store import EventStore

monitor_app = typer.Typer(
    help="Watch LLM traffic: ingest events, run detection rules, alerts and incidents.", no_args_is_help=True
)
rules_app = typer.Typer(help="The detection rules: list, test their fixtures, export.", no_args_is_help=True)
incident_app = typer.Typer(help="Incidents: open, triage, contain, resolve, close.", no_args_is_help=True)
retention_app = typer.Typer(
    help="Retention policies, deletion receipts, legal holds and data-subject erasure.", no_args_is_help=True
)
hold_app = typer.Typer(help="Legal holds that suspend deletion.", no_args_is_help=True)
monitor_app.add_typer(rules_app, name="rules")
monitor_app.add_typer(incident_app, name="incident")
retention_app.add_typer(hold_app, name="hold")

StoreOption = Annotated[
    Path | None, typer.Option("--store", help="Monitor store (default .bastion/monitor.duckdb).")
]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]


def _format(value: str) -> str:
    if value not in ("table", "json"):
        raise UsageError(f"--format {value!r}: choose table or json")
    return value


def _require_monitor() -> None:
    """A clear error when the monitor's extra is not installed."""
    try:
        import duckdb  # noqa: F401
        import sqlglot  # noqa: F401
    except ImportError as error:
        raise UpstreamError(f"the monitor needs {error.name}: pip install 'bastion-ai[monitor]'") from error


def _open(store: Path | None) -> EventStore:
    _require_monitor()
    from bastion.monitor.store import DEFAULT_STORE, EventStore

    return EventStore(store or DEFAULT_STORE)


def _time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(f"{value!r} is not an ISO 8601 time (e.g. 2026-11-30T09:00:00+00:00)") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


# -- ingest ----------------------------------------------------------------------------------------------
@monitor_app.command("ingest")
@cli_errors
def ingest_command(
    files: Annotated[list[Path] | None, typer.Argument(help="JSONL or OTLP/JSON files.")] = None,
    audit: Annotated[bool, typer.Option("--audit", help="Read the gateway's audit store.")] = False,
    audit_db: Annotated[
        str, typer.Option(help="Audit store: SQLite path or postgresql:// URL (default $BASTION_AUDIT_DB).")
    ] = "",
    source_format: Annotated[str, typer.Option("--source-format", help="auto, jsonl or otlp.")] = "auto",
    restart: Annotated[bool, typer.Option(help="Read from the start, ignoring saved cursors.")] = False,
    store: StoreOption = None,
    output_format: FormatOption = "table",
) -> None:
    """Ingest events (idempotent by event id, resumable); bad lines are reported with their position."""
    from bastion.monitor.sources import audit_location, guess_kind, ingest, source_items, source_name

    output_format = _format(output_format)
    if not files and not audit:
        raise UsageError("name FILE... or --audit")
    if source_format not in ("auto", "jsonl", "otlp"):
        raise UsageError("--source-format: auto, jsonl or otlp")
    sources: list[tuple[str, str]] = []
    if audit:
        sources.append(("audit", audit_location(audit_db or None)))
    for path in files or []:
        sources.append((guess_kind(path) if source_format == "auto" else source_format, str(path)))
    console = Console(stderr=True)
    reports = []
    with _open(store) as the_store:
        for kind, location in sources:
            name = source_name(kind, location)
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"{kind} {Path(location).name}: 0 events", total=None)

                def advance(
                    read: int, task: Any = task, bar: Any = bar, label: str = f"{kind} {Path(location).name}"
                ) -> None:
                    bar.update(task, description=f"{label}: {read} events")

                report = ingest(
                    the_store, name, source_items(kind, location, the_store, resume=not restart), advance
                )
            reports.append(report)
    if output_format == "json":
        _echo_json([report.as_dict() for report in reports])
        return
    table = Table(title="ingested")
    for column in ("source", "read", "added", "duplicates", "skipped", "bad"):
        table.add_column(column, justify="left" if column == "source" else "right")
    for report in reports:
        table.add_row(
            report.source,
            *(str(v) for v in (report.read, report.added, report.duplicates, report.skipped, report.bad)),
        )
    console.print(table)
    for report in reports:
        for error in report.errors:
            console.print(f"[yellow]{report.source}[/yellow] {error}", soft_wrap=True, highlight=False)
        if report.bad > len(report.errors):
            console.print(f"[yellow]... and {report.bad - len(report.errors)} more bad items[/yellow]")


# -- run -------------------------------------------------------------------------------------------------
@monitor_app.command("run")
@cli_errors
def run_command(
    since: Annotated[str, typer.Option(help="Evaluate from this ISO time, ignoring the run cursor.")] = "",
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule files or folders.")] = None,
    only: Annotated[str, typer.Option(help="Comma-separated rule ids to run.")] = "",
    reference: Annotated[
        Path | None, typer.Option(help="Reference data YAML (approved models, tool scopes).")
    ] = None,
    deliver: Annotated[Path | None, typer.Option(help="Delivery channels YAML: send new alerts.")] = None,
    store: StoreOption = None,
    output_format: FormatOption = "table",
) -> None:
    """Evaluate the rule pack over events new since the last run; print the alerts it raised."""
    from bastion.monitor.engine import run_rules
    from bastion.monitor.reference import apply_reference, load_reference
    from bastion.monitor.rules import load_rules

    output_format = _format(output_format)
    pack = load_rules(rules or [], [i.strip() for i in only.split(",") if i.strip()])
    with _open(store) as the_store:
        if reference is not None or not the_store.get_meta("reference.loaded"):
            apply_reference(the_store, load_reference(reference))
        result = run_rules(the_store, pack, _time(since) if since else None)
        if deliver is not None and result.alerts:
            from bastion.monitor.delivery import deliver_alerts, load_channels

            outcomes = deliver_alerts(the_store, load_channels(deliver), result.alerts)
            for outcome in outcomes:
                if not outcome.delivered:
                    Console(stderr=True).print(
                        f"[yellow]delivery to {outcome.channel} failed after {outcome.attempts} attempts; "
                        "kept in the dead-letter table[/yellow]"
                    )
    if output_format == "json":
        _echo_json([alert.to_dict() for alert in result.alerts])
        return
    console = Console()
    table = Table(
        title=f"run {result.run}: {len(result.alerts)} alerts over {result.evaluated_events} events"
    )
    for column in ("severity", "rule", "group", "count", "first seen", "last seen"):
        table.add_column(column)
    for alert in result.alerts:
        table.add_row(
            alert.severity.value,
            alert.rule,
            alert.group,
            str(alert.count),
            alert.first_seen.isoformat(timespec="seconds"),
            alert.last_seen.isoformat(timespec="seconds"),
        )
    console.print(table)
    if result.suppressed:
        console.print(f"{len(result.suppressed)} alerts suppressed (same rule and group within its window)")


@monitor_app.command("alerts")
@cli_errors
def alerts_command(
    rule: Annotated[str, typer.Option(help="Only this rule.")] = "",
    suppressed: Annotated[bool, typer.Option(help="Include suppressed alerts.")] = False,
    store: StoreOption = None,
    output_format: FormatOption = "json",
) -> None:
    """List stored alerts."""
    from bastion.monitor.alerts import AlertBook

    output_format = _format(output_format)
    with _open(store) as the_store:
        alerts = AlertBook(the_store).list(rule=rule, include_suppressed=suppressed)
    if output_format == "json":
        _echo_json([alert.to_dict() for alert in alerts])
        return
    for alert in alerts:
        typer.echo(f"{alert.id} {alert.severity.value:<8} {alert.rule:<36} {alert.group} x{alert.count}")


# -- rules -----------------------------------------------------------------------------------------------
@rules_app.command("list")
@cli_errors
def rules_list(
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule files or folders.")] = None,
    output_format: FormatOption = "table",
) -> None:
    """List the rules."""
    _require_monitor()
    from bastion.monitor.rules import load_rules

    pack = load_rules(rules or [])
    if _format(output_format) == "json":
        _echo_json(
            [
                {
                    "id": r.id,
                    "title": r.title,
                    "severity": r.severity.value,
                    "owasp": list(r.owasp),
                    "atlas": list(r.atlas),
                    "window": str(r.window),
                    "group_by": list(r.group_by),
                }
                for r in pack
            ]
        )
        return
    for r in pack:
        typer.echo(f"{r.id:<36} {r.severity.value:<8} {','.join(r.owasp):<14} {r.title}")


@rules_app.command("test")
@cli_errors
def rules_test(
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule files or folders.")] = None,
) -> None:
    """Run every rule's match / no-match fixtures; exit 1 if one fails."""
    _require_monitor()
    from bastion.monitor.fixtures import check_rule
    from bastion.monitor.rules import load_rules

    failed = 0
    for rule in load_rules(rules or []):
        for outcome in check_rule(rule):
            mark = "ok  " if outcome.passed else "FAIL"
            failed += not outcome.passed
            detail = (
                "" if outcome.passed else f" expected {list(outcome.expected)}, got {list(outcome.groups)}"
            )
            typer.echo(f"{mark} {rule.id} {outcome.fixture}{detail}")
    if failed:
        raise typer.Exit(1)


@rules_app.command("export")
@cli_errors
def rules_export(
    to: Annotated[str, typer.Option(help="sigma, spark, clickhouse, or another sqlglot dialect.")] = "sigma",
    rules: Annotated[list[Path] | None, typer.Option("--rules", help="Extra rule files or folders.")] = None,
) -> None:
    """Print the rules as Sigma YAML, or their SQL transpiled for another engine."""
    _require_monitor()
    from bastion.monitor.rules import load_rules

    pack = load_rules(rules or [])
    if to == "sigma":
        from bastion.monitor.sigma import export_sigma

        text, skipped = export_sigma(pack)
        typer.echo(text, nl=False)
        if skipped:
            Console(stderr=True).print(f"no Sigma form (robust statistics, joins): {', '.join(skipped)}")
        return
    from bastion.monitor.spark import transpile
    from bastion.monitor.store import VIEWS

    for name, sql in VIEWS.items():
        typer.echo(f"-- view {name}\nCREATE VIEW {name} AS {transpile(sql, to)};\n")
    for rule in pack:
        typer.echo(
            f"-- rule {rule.id} (placeholders filled for the whole history)\n"
            f"{transpile(rule.sql(0, 2**62), to)};\n"
        )


# -- delivery --------------------------------------------------------------------------------------------
@monitor_app.command("deliver")
@cli_errors
def deliver_command(
    config: Annotated[Path, typer.Option("--config", help="Delivery channels YAML.")],
    alert_ids: Annotated[
        list[str] | None, typer.Option("--alert", help="Alert ids to send (default: none).")
    ] = None,
    retry_dead: Annotated[
        bool, typer.Option("--retry-dead-letters", help="Send dead letters again.")
    ] = False,
    store: StoreOption = None,
) -> None:
    """Send alerts to the configured channels, or retry the dead letters."""
    from bastion.monitor.alerts import AlertBook
    from bastion.monitor.delivery import deliver_alerts, load_channels, retry_dead_letters

    channels = load_channels(config)
    with _open(store) as the_store:
        if retry_dead:
            outcomes = retry_dead_letters(the_store, channels)
        else:
            book = AlertBook(the_store)
            alerts = [a for a in (book.get(i) for i in alert_ids or []) if a is not None]
            if len(alerts) != len(alert_ids or []):
                raise UsageError("unknown alert id")
            outcomes = deliver_alerts(the_store, channels, alerts)
    for outcome in outcomes:
        state = "delivered" if outcome.delivered else f"dead letter ({outcome.error})"
        typer.echo(f"{outcome.channel} {outcome.alert_id} after {outcome.attempts} attempts: {state}")
    if any(not o.delivered for o in outcomes):
        raise typer.Exit(1)


@monitor_app.command("dead-letters")
@cli_errors
def dead_letters_command(store: StoreOption = None) -> None:
    """List deliveries that failed every attempt and are not yet delivered."""
    from bastion.monitor.delivery import dead_letters

    with _open(store) as the_store:
        _echo_json(dead_letters(the_store))


# -- incidents -------------------------------------------------------------------------------------------
def _actor(actor: str) -> str:
    import getpass

    return actor or getpass.getuser()


ActorOption = Annotated[str, typer.Option(help="Who does this (default: the login name).")]


def _show(incident: Any) -> None:
    _echo_json(incident.to_dict())


@incident_app.command("open")
@cli_errors
def incident_open(
    title: Annotated[str, typer.Option(help="What happened.")],
    severity: Annotated[str, typer.Option(help="info, low, medium, high, critical.")] = "medium",
    owner: Annotated[str, typer.Option(help="Who owns it.")] = "",
    alert: Annotated[list[str] | None, typer.Option("--alert", help="Open from these alert ids.")] = None,
    playbook: Annotated[str, typer.Option(help="Playbook id (default: from the alert's rule).")] = "",
    flag: Annotated[list[str] | None, typer.Option("--flag", help="Regulatory classification flags.")] = None,
    aware_at: Annotated[str, typer.Option(help="When the organisation became aware (ISO time).")] = "",
    actor: ActorOption = "",
    store: StoreOption = None,
) -> None:
    """Open an incident by hand or from alerts."""
    from bastion.core.types import Severity
    from bastion.monitor.incidents import IncidentBook

    try:
        level = Severity(severity)
    except ValueError as error:
        raise UsageError(f"--severity {severity!r}: info, low, medium, high or critical") from error
    with _open(store) as the_store:
        incident = IncidentBook(the_store).open(
            title,
            severity=level,
            owner=owner,
            actor=_actor(actor),
            playbook=playbook,
            flags=flag or [],
            aware_at=_time(aware_at) if aware_at else None,
            alert_ids=alert or [],
        )
        _show(incident)


@incident_app.command("list")
@cli_errors
def incident_list(
    state: Annotated[str, typer.Option(help="Only incidents in this state.")] = "", store: StoreOption = None
) -> None:
    """List incidents with their state and running clocks."""
    from bastion.monitor.incidents import IncidentBook

    with _open(store) as the_store:
        for incident in IncidentBook(the_store).list(state):
            clocks = ", ".join(
                f"{c.clock.id} {c.state} {c.due:%Y-%m-%d %H:%M}" for c in incident.clocks() if c.due
            )
            typer.echo(
                f"{incident.id} {incident.state.value:<9} {incident.severity.value:<8} "
                f"{incident.owner or '-':<10} {incident.title}" + (f"  [{clocks}]" if clocks else "")
            )


@incident_app.command("show")
@cli_errors
def incident_show(incident_id: str, store: StoreOption = None) -> None:
    """Everything about one incident: timeline, evidence, playbook steps, regulatory clocks with sources."""
    from bastion.monitor.incidents import IncidentBook

    with _open(store) as the_store:
        _show(IncidentBook(the_store).get(incident_id))


@incident_app.command("move")
@cli_errors
def incident_move(
    incident_id: str,
    state: Annotated[str, typer.Argument(help="triaged, contained, resolved, closed (or open to reopen).")],
    note: Annotated[str, typer.Option(help="Why.")] = "",
    actor: ActorOption = "",
    store: StoreOption = None,
) -> None:
    """Move an incident to another state."""
    from bastion.monitor.incidents import IncidentBook, IncidentState

    try:
        target = IncidentState(state)
    except ValueError as error:
        raise UsageError(f"unknown state {state!r}") from error
    with _open(store) as the_store:
        _show(IncidentBook(the_store).move(incident_id, target, actor=_actor(actor), note=note))


@incident_app.command("update")
@cli_errors
def incident_update(
    incident_id: str,
    owner: Annotated[str, typer.Option(help="New owner.")] = "",
    note: Annotated[str, typer.Option(help="A timeline note.")] = "",
    evidence: Annotated[
        list[str] | None, typer.Option("--evidence", help="KIND:REFERENCE (alert, event, url, file, report).")
    ] = None,
    flag: Annotated[list[str] | None, typer.Option("--flag", help="Regulatory classification flag.")] = None,
    milestone: Annotated[
        list[str] | None, typer.Option("--milestone", help="NAME or NAME@ISO-TIME, e.g. gdpr.notified.")
    ] = None,
    actor: ActorOption = "",
    store: StoreOption = None,
) -> None:
    """Assign, annotate, link evidence, set classification flags and record milestones."""
    from bastion.monitor.incidents import IncidentBook

    who = _actor(actor)
    with _open(store) as the_store:
        book = IncidentBook(the_store)
        incident = book.get(incident_id)
        if owner:
            incident = book.assign(incident_id, owner, actor=who)
        if note:
            incident = book.note(incident_id, note, actor=who)
        for item in evidence or []:
            kind, _, reference = item.partition(":")
            if not reference:
                raise UsageError(f"--evidence {item!r}: use KIND:REFERENCE")
            incident = book.add_evidence(incident_id, kind, reference, actor=who)
        for name in flag or []:
            incident = book.flag(incident_id, name, actor=who)
        for item in milestone or []:
            name, _, at = item.partition("@")
            incident = book.milestone(incident_id, name, actor=who, at=_time(at) if at else None)
        _show(incident)


# -- retention -------------------------------------------------------------------------------------------
def _vault(path: Path | None) -> Any:
    if path is None:
        return None
    from bastion.core.settings import BastionSettings
    from bastion.pseudonymize import SQLiteVaultStore, Vault

    return Vault(BastionSettings().require_vault_key(), SQLiteVaultStore(path))


@retention_app.command("apply")
@cli_errors
def retention_apply(
    policies: Annotated[Path, typer.Option("--policies", help="Retention policies YAML.")],
    vault: Annotated[Path | None, typer.Option(help="Pseudonymisation vault (for vault_entries).")] = None,
    dry_run: Annotated[bool, typer.Option(help="Count what would be deleted; delete nothing.")] = False,
    actor: ActorOption = "",
    store: StoreOption = None,
) -> None:
    """Apply the retention policies; print one deletion receipt per policy."""
    from bastion.monitor.retention import apply_policies, load_policies

    loaded = load_policies(policies)
    with _open(store) as the_store:
        written = apply_policies(the_store, loaded, dry_run=dry_run, vault=_vault(vault), actor=_actor(actor))
    _echo_json([{**r.body, "hash": r.hash} for r in written])


@retention_app.command("receipts")
@cli_errors
def retention_receipts(store: StoreOption = None) -> None:
    """Print every deletion receipt and whether the receipt chain verifies (exit 1 if not)."""
    from bastion.monitor.retention import receipts, verify_receipts

    with _open(store) as the_store:
        found = receipts(the_store)
        ok = verify_receipts(the_store)
    _echo_json({"verified": ok, "receipts": [{**r.body, "hash": r.hash} for r in found]})
    if not ok:
        raise typer.Exit(1)


@retention_app.command("erase")
@cli_errors
def retention_erase(
    tenant: Annotated[str, typer.Option(help="The tenant the person belongs to.")],
    request: Annotated[str, typer.Option(help="The data-subject request id.")],
    value: Annotated[
        list[str] | None,
        typer.Option("--value", help="TYPE:VALUE of the person, e.g. EMAIL:erika@example.org."),
    ] = None,
    token: Annotated[list[str] | None, typer.Option("--token", help="A vault token of the person.")] = None,
    vault: Annotated[
        Path | None, typer.Option(help="Pseudonymisation vault to forget the tokens in.")
    ] = None,
    actor: ActorOption = "",
    store: StoreOption = None,
) -> None:
    """GDPR Art. 17: erase every event mentioning the person (tombstones keep the audit hashes)."""
    from bastion.core.settings import BastionSettings
    from bastion.monitor.retention import erase_subject, tokens_for

    pairs = []
    for item in value or []:
        kind, _, text = item.partition(":")
        if not text:
            raise UsageError("--value: use TYPE:VALUE, e.g. PERSON:Erika Mustermann")
        pairs.append((kind, text))
    tokens = list(token or [])
    if pairs:
        tokens += tokens_for(BastionSettings().require_vault_key(), tenant, pairs)
    with _open(store) as the_store:
        result = erase_subject(
            the_store, tenant, tokens, request_id=request, vault=_vault(vault), actor=_actor(actor)
        )
    _echo_json(
        {
            "erased_events": result.erased_events,
            "withheld_by_legal_hold": result.withheld_events,
            "forgotten_tokens": result.forgotten_tokens,
            "receipt": {**result.receipt.body, "hash": result.receipt.hash},
        }
    )


@hold_app.command("add")
@cli_errors
def hold_add(
    scope: Annotated[str, typer.Argument(help="tenant, api_key, event, data_class or path.")],
    value: Annotated[str, typer.Argument(help="What the hold covers.")],
    reason: Annotated[str, typer.Option(help="Case or matter reference.")],
    store: StoreOption = None,
) -> None:
    """Place a legal hold: deletion and erasure of what it covers are suspended."""
    from bastion.monitor.retention import add_hold

    with _open(store) as the_store:
        hold = add_hold(the_store, scope, value, reason)
    typer.echo(hold.id)


@hold_app.command("release")
@cli_errors
def hold_release(hold_id: str, store: StoreOption = None) -> None:
    """Release a legal hold."""
    from bastion.monitor.retention import release_hold

    with _open(store) as the_store:
        release_hold(the_store, hold_id)


@hold_app.command("list")
@cli_errors
def hold_list(store: StoreOption = None) -> None:
    """List active legal holds."""
    from bastion.monitor.retention import list_holds

    with _open(store) as the_store:
        _echo_json(
            [
                {"id": h.id, "scope": h.scope, "value": h.value, "reason": h.reason, "since": h.created_at}
                for h in list_holds(the_store)
            ]
        )
