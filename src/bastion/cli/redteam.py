"""``bastion redteam``: run a campaign of probes against a target, compare two runs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError
from bastion.core.settings import BastionSettings
from bastion.core.types import Severity

if TYPE_CHECKING:
    from bastion.redteam.types import RunResult

redteam_app = typer.Typer(
    help="Attack an LLM application with probes, mutators and judges.", no_args_is_help=True
)

#: exit code when a --fail-on threshold is exceeded
FAIL_EXIT = 3


def _fail_check(fail_on: str) -> Callable[[RunResult], str]:
    """A check for ``fail_on`` (a severity such as ``high``, or ``asr>0.1``) that says why a run fails it
    (empty: it passes). Parsed before the run, so a typo costs nothing."""
    rule = fail_on.strip().lower()
    if not rule:
        return lambda _run: ""
    if rule.startswith("asr>"):
        try:
            limit = float(rule.removeprefix("asr>"))
        except ValueError as error:
            raise UsageError(f"--fail-on {fail_on!r}: expected a severity or asr>FRACTION") from error

        def asr_check(run: RunResult) -> str:
            asr = run.summary.asr
            return f"attack success rate {asr:.1%} exceeds {limit:.1%}" if asr > limit else ""

        return asr_check
    try:
        threshold = Severity(rule)
    except ValueError as error:
        raise UsageError(f"--fail-on {fail_on!r}: expected a severity or asr>FRACTION") from error

    def severity_check(run: RunResult) -> str:
        worst = [f for f in run.findings if f.attempt.probe.severity.rank >= threshold.rank]
        return f"{len(worst)} findings of severity {threshold.value} or higher" if worst else ""

    return severity_check


@redteam_app.command("run")
@cli_errors
def run(
    output: Annotated[
        Path, typer.Option(help="Directory for report.json/html/sarif, junit.xml, summary.md.")
    ],
    target: Annotated[
        str, typer.Option(help="demo, demo:naive, demo:hardened, openai or http.")
    ] = "demo:hardened",
    config: Annotated[Path | None, typer.Option(help="http target: its YAML description.")] = None,
    base_url: Annotated[str, typer.Option(help="openai target: base URL, e.g. http://host/v1.")] = "",
    model: Annotated[str, typer.Option(help="openai target: model name.")] = "",
    api_key_env: Annotated[
        str, typer.Option(help="openai target: variable holding the key.")
    ] = "OPENAI_API_KEY",
    rate: Annotated[float | None, typer.Option(help="openai target: requests per second at most.")] = None,
    suite: Annotated[str, typer.Option(help="Probe suite.")] = "owasp-llm-2025",
    categories: Annotated[str, typer.Option(help="Comma-separated OWASP ids, e.g. LLM01,LLM07.")] = "",
    languages: Annotated[str, typer.Option(help="Comma-separated: en,de.")] = "",
    variants: Annotated[int, typer.Option(help="Mutated copies per probe, besides the probe itself.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Attempts in flight at once.")] = 1,
    max_requests: Annotated[int | None, typer.Option(help="Cap on target requests.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of probe order, mutators and the demo.")] = 7,
    resume: Annotated[str, typer.Option(help="Continue the run with this id (same settings).")] = "",
    fail_on: Annotated[str, typer.Option(help="Exit 3 at findings of this severity or asr>FRACTION.")] = "",
    home: Annotated[
        Path | None, typer.Option(help="Where Bastion keeps state (default $BASTION_HOME).")
    ] = None,
) -> None:
    """Run a campaign and write the reports; exit 3 when --fail-on is exceeded."""
    from bastion.redteam.probes import load_suite, select
    from bastion.redteam.report import write_reports
    from bastion.redteam.runner import CampaignSettings, plan, run_campaign
    from bastion.redteam.store import RunStore
    from bastion.redteam.targets import create_target

    state = home or BastionSettings().home
    fail_check = _fail_check(fail_on)
    if variants < 0 or concurrency < 1:
        raise UsageError("--variants must be >= 0 and --concurrency >= 1")
    store = RunStore(state / "redteam" / "runs.sqlite")
    settings = CampaignSettings(
        seed=seed, variants=variants, concurrency=concurrency, max_requests=max_requests
    )
    settings.extra.update({"suite": suite, "categories": categories, "languages": languages})
    if resume:
        info = store.run_info(resume)
        stored = info["settings"]
        settings = CampaignSettings(
            seed=int(stored["seed"]),
            variants=int(stored["variants"]),
            chain_length=int(stored["chain_length"]),
            mutators=tuple(stored["mutators"]),
            concurrency=concurrency,
            max_requests=stored["max_requests"],
            extra={k: str(stored.get(k, "")) for k in ("suite", "categories", "languages")},
        )
        target, suite = str(info["target"]), settings.extra["suite"]
        categories, languages = settings.extra["categories"], settings.extra["languages"]
    probes = select(load_suite(suite), categories.split(","), languages.split(","))
    if not probes:
        raise UsageError("no probes match the given categories and languages")
    attempts = plan(probes, settings)
    console = Console(stderr=True)
    console.print(f"[bold]{target}[/bold]: {len(attempts)} attempts from {len(probes)} probes ({suite})")
    the_target = create_target(
        target,
        home=home,
        seed=settings.seed,
        base_url=base_url,
        model=model,
        api_key_env=api_key_env,
        rate=rate,
    )
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("attacking", total=len(attempts))
            result = asyncio.run(
                run_campaign(
                    the_target,
                    attempts,
                    store,
                    settings,
                    run_id=resume or None,
                    progress=lambda _: bar.advance(task),
                )
            )
    finally:
        the_target.close()
        store.close()
    written = write_reports(result, output)
    _print_summary(result, console)
    console.print(f"run {result.run_id}: reports in {output} ({', '.join(p.name for p in written.values())})")
    reason = fail_check(result)
    if reason:
        console.print(f"[red]fail:[/red] {reason}")
        raise typer.Exit(FAIL_EXIT)


def _print_summary(result: RunResult, console: Console) -> None:
    summary = result.summary
    table = Table(title=f"{result.target}: attack success rate {summary.asr:.0%}")
    for column in ("category", "attempts", "successes", "ASR"):
        table.add_column(column, justify="right" if column != "category" else "left")
    for category, row in summary.by_category.items():
        table.add_row(category, str(row.attempts), str(row.successes), f"{row.asr:.0%}")
    table.add_row("all", str(summary.attempts), str(summary.successes), f"{summary.asr:.0%}", style="bold")
    console.print(table)
    if summary.errors:
        console.print(f"[yellow]{summary.errors} attempts failed to get an answer[/yellow]")


@redteam_app.command("diff")
@cli_errors
def diff(
    run_a: Annotated[Path, typer.Argument(help="report.json (or its directory) of the earlier run.")],
    run_b: Annotated[Path, typer.Argument(help="report.json (or its directory) of the later run.")],
) -> None:
    """Regressions (attacks that now succeed) and fixes (attacks that no longer do) between two runs."""
    from bastion.redteam.report import diff_runs, load_run_json

    def _load(path: Path) -> dict[str, Any]:
        return load_run_json(path / "report.json" if path.is_dir() else path)

    changes = diff_runs(_load(run_a), _load(run_b))
    typer.echo(json.dumps(changes.to_dict(), indent=2, ensure_ascii=False))
    if changes.regressions:
        raise typer.Exit(FAIL_EXIT)
