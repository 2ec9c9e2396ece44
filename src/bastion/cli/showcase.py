"""``bastion showcase``: the whole loop on embedded defaults (demo, red team direct and through the gateway,
benign traffic, latency) and one comparison report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bastion.cli.errors import cli_errors
from bastion.core.errors import UpstreamError


@cli_errors
def showcase(
    output: Annotated[Path, typer.Option("--output", help="Where the reports go.")] = Path(
        "bastion-showcase"
    ),
    configuration: Annotated[
        str, typer.Option("--config", help="The demo configuration to attack: naive or hardened.")
    ] = "naive",
    categories: Annotated[str, typer.Option(help="OWASP categories to probe, e.g. LLM01,LLM02 (all).")] = "",
    variants: Annotated[int, typer.Option(help="Mutated copies per probe besides the probe as written.")] = 0,
    max_probes: Annotated[
        int | None, typer.Option("--max-probes", help="Stop after this many probes.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the demo data and the mutators.")] = 7,
    home: Annotated[Path | None, typer.Option(help="Where demo data lives (default: $BASTION_HOME).")] = None,
) -> None:
    """Attack the demo assistant directly and through the gateway, and compare the two."""
    try:
        import fastapi  # noqa: F401
        import llama_cpp  # noqa: F401
    except ImportError as error:
        raise UpstreamError("the showcase needs: pip install 'bastion-ai[local,gateway]'") from error
    from bastion.showcase.loop import ShowcaseSettings, run_showcase
    from bastion.showcase.report import headline

    settings = ShowcaseSettings(
        output=output,
        home=home,
        seed=seed,
        configuration=configuration,
        categories=tuple(c.strip().upper() for c in categories.split(",") if c.strip()),
        variants=variants,
        max_probes=max_probes,
    )
    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        result = run_showcase(settings, update)
    out = Console()
    for line in headline(result):
        out.print(f"- {line}")
    out.print(f"Report: {result.files['showcase_html']}")
