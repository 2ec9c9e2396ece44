"""``bastion tour``: the detection engine on a bundled sample of English and German messages."""

from __future__ import annotations

import json
from importlib import resources
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bastion.core.types import Policy
from bastion.detect.engine import Scanner
from bastion.detect.registry import TEXT_DETECTORS


def _samples() -> list[dict[str, str]]:
    text = resources.files("bastion.data.samples").joinpath("tour.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def tour(
    policy: Annotated[Policy, typer.Option(help="Operating point of the detectors.")] = Policy.BALANCED,
) -> None:
    """Run every text detector over bundled sample messages and show what each one finds."""
    console = Console()
    scanner = Scanner.from_ids(TEXT_DETECTORS, policy=policy)
    table = Table(title=f"Bastion detection tour ({policy} policy)", show_lines=True)
    table.add_column("sample", style="bold")
    table.add_column("message", max_width=60)
    table.add_column("findings")
    flagged = 0
    for sample in _samples():
        text = sample["text"]
        result = scanner.scan(text)
        flagged += result.flagged
        findings = [
            f"[red]{d.detector}:{d.type}[/red] {d.score:.2f}"
            + (f" [dim]{text[d.span.start : d.span.end][:40]!r}[/dim]" if d.span is not None else "")
            for d in result.detections
            if d.flagged
        ]
        table.add_row(sample["id"], text, "\n".join(findings) or "[green]clean[/green]")
    console.print(table)
    console.print(
        f"{flagged} of {len(_samples())} samples flagged. Scan your own text with "
        '[bold]bastion scan "..."[/bold] or [bold]bastion scan --input file.jsonl[/bold].'
    )
