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
    strategy: Annotated[
        str, typer.Option(help="single, crescendo, refine, or a comma-separated mix.")
    ] = "single",
    attacker_url: Annotated[
        str, typer.Option(help="Attacker model: OpenAI-compatible base URL, or 'local' (the demo's model).")
    ] = "",
    attacker_model: Annotated[str, typer.Option(help="Attacker model name.")] = "",
    attacker_key_env: Annotated[
        str, typer.Option(help="Variable holding the attacker's API key.")
    ] = "OPENAI_API_KEY",
    judge_url: Annotated[
        str, typer.Option(help="LLM judge: OpenAI-compatible base URL, or 'local'; off when empty.")
    ] = "",
    judge_model: Annotated[str, typer.Option(help="LLM judge model name.")] = "",
    judge_key_env: Annotated[
        str, typer.Option(help="Variable holding the LLM judge's API key.")
    ] = "OPENAI_API_KEY",
    max_turns: Annotated[int, typer.Option(help="Target calls per adaptive attempt at most.")] = 6,
    max_target_calls: Annotated[
        int | None, typer.Option(help="Run budget: target calls at most (adaptive strategies included).")
    ] = None,
    max_attacker_tokens: Annotated[
        int | None, typer.Option(help="Run budget: attacker and LLM-judge tokens at most.")
    ] = None,
    width: Annotated[int, typer.Option(help="refine: branches kept per level.")] = 2,
    branching: Annotated[int, typer.Option(help="refine: candidates per branch and level.")] = 2,
    depth: Annotated[int, typer.Option(help="refine: levels.")] = 3,
    seeds: Annotated[
        Path | None, typer.Option(help="Folder of public seed sets (laid out like ../shared/data).")
    ] = None,
    seeds_limit: Annotated[int, typer.Option(help="Seed probes per set at most.")] = 5,
    limit_output_tokens: Annotated[
        int, typer.Option(help="LLM10 judge: output tokens one reply may use.")
    ] = 1000,
    limit_seconds: Annotated[float, typer.Option(help="LLM10 judge: seconds one reply may take.")] = 120.0,
    limit_tool_calls: Annotated[int, typer.Option(help="LLM10 judge: tool calls in one reply.")] = 5,
) -> None:
    """Run a campaign and write the reports; exit 3 when --fail-on is exceeded."""
    from bastion.redteam.goals import goal_attempts
    from bastion.redteam.models import create_model
    from bastion.redteam.probes import load_suite, select
    from bastion.redteam.report import write_reports
    from bastion.redteam.runner import CampaignSettings, plan, run_campaign
    from bastion.redteam.seeds import load_seeds
    from bastion.redteam.store import RunStore
    from bastion.redteam.strategies import STRATEGIES
    from bastion.redteam.targets import create_target
    from bastion.redteam.types import ConsumptionLimits

    state = home or BastionSettings().home
    fail_check = _fail_check(fail_on)
    if variants < 0 or concurrency < 1:
        raise UsageError("--variants must be >= 0 and --concurrency >= 1")
    if (
        min(max_turns, width, branching, depth, limit_output_tokens, limit_tool_calls) < 1
        or limit_seconds <= 0
    ):
        raise UsageError("--max-turns, --width, --branching, --depth and the --limit-* options must be > 0")
    strategies = tuple(dict.fromkeys(s.strip().lower() for s in strategy.split(",") if s.strip()))
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown or not strategies:
        raise UsageError(f"--strategy {strategy!r}: choose from {', '.join(STRATEGIES)}")
    store = RunStore(state / "redteam" / "runs.sqlite")
    settings = CampaignSettings(
        seed=seed,
        variants=variants,
        concurrency=concurrency,
        max_requests=max_requests,
        strategies=strategies,
        max_turns=max_turns,
        max_target_calls=max_target_calls,
        max_attacker_tokens=max_attacker_tokens,
        width=width,
        branching=branching,
        depth=depth,
        limits=ConsumptionLimits(limit_output_tokens, limit_seconds, limit_tool_calls),
    )
    settings.extra.update(
        {"suite": suite, "categories": categories, "languages": languages, "seeds": str(seeds or "")}
    )
    if resume:
        info = store.run_info(resume)
        settings = CampaignSettings.from_dict(info["settings"], concurrency=concurrency)
        target, suite = str(info["target"]), settings.extra["suite"]
        categories, languages = settings.extra["categories"], settings.extra["languages"]
        seeds = Path(settings.extra["seeds"]) if settings.extra["seeds"] else None
    attempts = []
    probes = []
    if "single" in settings.strategies:
        probes = select(load_suite(suite), categories.split(","), languages.split(","))
        if seeds is not None:
            seeded = load_seeds(seeds, seed=settings.seed, limit=seeds_limit)
            probes += select(seeded, categories.split(","), languages.split(","))
        attempts += plan(probes, settings)
    for adaptive in settings.strategies:
        if adaptive != "single":
            attempts += goal_attempts(adaptive, categories.split(","), languages.split(","))
    if not attempts:
        raise UsageError("no probes or goals match the given categories and languages")
    attacker = create_model(attacker_url, attacker_model, attacker_key_env, temperature=0.7)
    judge = create_model(judge_url, judge_model, judge_key_env, temperature=0.0)
    console = Console(stderr=True)
    console.print(
        f"[bold]{target}[/bold]: {len(attempts)} attempts ({', '.join(settings.strategies)}) from "
        f"{len(probes)} probes ({suite}) and the goals"
        + (f"; attacker {attacker.name}" if attacker else "")
        + (f"; LLM judge {judge.name}" if judge else "")
    )
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
                    attacker=attacker,
                    judge_model=judge,
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
    budget = result.budget
    if budget is not None:
        console.print(
            f"spent: {budget.target_calls} target calls, {budget.attacker_tokens} attacker/judge tokens"
            + (
                f"; budget reached ({budget.exhausted}), {budget.skipped} attempts skipped"
                if budget.exhausted
                else ""
            )
        )


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
