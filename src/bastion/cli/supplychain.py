"""``bastion supplychain``: scan model files without running them, write AI-BOMs, verify hashes.

Exit codes: 0 nothing over the threshold, 1 runtime error, 2 usage error, 3 (``FAIL_EXIT``) a file is over
the ``--fail-on`` threshold (scan) or a hash does not match (verify).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError
from bastion.supplychain.types import FileResult, FileVerdict

supplychain_app = typer.Typer(
    help="Scan model files statically, write AI-BOMs (CycloneDX 1.6) and verify hashes.", no_args_is_help=True
)

#: exit code when --fail-on is exceeded or verification fails
FAIL_EXIT = 3
_FAIL_SETS = {
    "suspicious": {FileVerdict.SUSPICIOUS, FileVerdict.MALICIOUS, FileVerdict.ERROR},
    "malicious": {FileVerdict.MALICIOUS, FileVerdict.ERROR},
    "never": set(),
}
_COLOURS = {"safe": "green", "suspicious": "yellow", "error": "magenta", "malicious": "red"}


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        typer.echo(text, nl=not text.endswith("\n"))
    else:
        output.write_text(text, encoding="utf-8")


def _table(results: list[FileResult]) -> None:
    console = Console()
    table = Table(title="supply-chain scan")
    for column in ("file", "format", "verdict", "findings"):
        table.add_column(column)
    for result in results:
        shown = [f for f in result.findings if f.verdict is not FileVerdict.SAFE]
        lines = [f"{f.rule}: {f.message}" + (f" [{f.member}]" if f.member else "") for f in shown[:5]] + (
            [f"... {len(shown) - 5} more"] if len(shown) > 5 else []
        )
        colour = _COLOURS[result.verdict.value]
        table.add_row(
            escape(result.path),
            result.format,
            f"[{colour}]{result.verdict.value}[/{colour}]",
            escape("\n".join(lines)),
        )
    console.print(table)


@supplychain_app.command("scan")
@cli_errors
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (scanned recursively).")],
    output_format: Annotated[str, typer.Option("--format", help="json, sarif or table.")] = "table",
    output: Annotated[Path | None, typer.Option(help="Write the report here instead of stdout.")] = None,
    fail_on: Annotated[
        str,
        typer.Option(
            help="Exit 3 at: suspicious (also errors and malicious), malicious (and errors), never."
        ),
    ] = "suspicious",
    allow: Annotated[
        list[str] | None,
        typer.Option(help="Extra allowed pickle global, e.g. mypkg.models.Net (repeatable)."),
    ] = None,
    max_file_mb: Annotated[int, typer.Option(help="Largest file or member read into memory, in MiB.")] = 512,
) -> None:
    """Scan model files and folders by content; never loads or runs them."""
    from bastion.supplychain.sarif import render_sarif
    from bastion.supplychain.scanner import Scanner
    from bastion.supplychain.types import ScanLimits

    if output_format not in ("json", "sarif", "table"):
        raise UsageError(f"--format {output_format!r}: choose json, sarif or table")
    if fail_on not in _FAIL_SETS:
        raise UsageError(f"--fail-on {fail_on!r}: choose suspicious, malicious or never")
    if max_file_mb < 1:
        raise UsageError("--max-file-mb must be at least 1")
    limits = ScanLimits(
        max_file_bytes=max_file_mb * 1024 * 1024, extra_allowed_globals=frozenset(allow or ())
    )
    results = Scanner(limits).scan(paths)
    if output_format == "json":
        _emit(json.dumps({"files": [r.to_dict() for r in results]}, indent=2) + "\n", output)
    elif output_format == "sarif":
        _emit(render_sarif(results), output)
    else:
        _table(results)
    failing = [r for r in results if r.verdict in _FAIL_SETS[fail_on]]
    if failing:
        Console(stderr=True).print(
            f"[red]{len(failing)} of {len(results)} files at or over --fail-on {fail_on}[/red]",
            highlight=False,
        )
        raise typer.Exit(code=FAIL_EXIT)


@supplychain_app.command("bom")
@cli_errors
def bom(
    path: Annotated[Path, typer.Argument(help="Model folder, project folder or single file.")],
    output_format: Annotated[
        str, typer.Option("--format", help="cyclonedx (JSON, 1.6) or lock.")
    ] = "cyclonedx",
    output: Annotated[Path | None, typer.Option(help="Write the BOM here instead of stdout.")] = None,
    name: Annotated[str, typer.Option(help="Name of the BOM's subject (default: the folder name).")] = "",
) -> None:
    """Write an AI-BOM (CycloneDX 1.6 ML-BOM) or a sha256 lockfile of a folder."""
    from bastion.supplychain.bom import build_entries, render_cyclonedx, render_lockfile

    if output_format not in ("cyclonedx", "lock"):
        raise UsageError(f"--format {output_format!r}: choose cyclonedx or lock")
    entries = build_entries(path)
    text = render_cyclonedx(path, entries, name) if output_format == "cyclonedx" else render_lockfile(entries)
    _emit(text, output)


@supplychain_app.command("verify")
@cli_errors
def verify(
    path: Annotated[Path, typer.Argument(help="The folder (or file) to check.")],
    against: Annotated[Path, typer.Option(help="A CycloneDX BOM from `bom` or a sha256 lockfile.")],
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    allow_unlisted: Annotated[bool, typer.Option(help="Do not fail on files the BOM does not list.")] = False,
) -> None:
    """Check files against the hashes of a BOM or lockfile; exit 3 on any difference."""
    from bastion.supplychain.verify import HashStatus, read_expected, summary, verify_folder

    if output_format not in ("table", "json"):
        raise UsageError(f"--format {output_format!r}: choose table or json")
    checks = verify_folder(path, read_expected(against))
    bad = {HashStatus.CHANGED, HashStatus.MISSING} | (set() if allow_unlisted else {HashStatus.UNLISTED})
    failing = [c for c in checks if c.status in bad]
    if output_format == "json":
        typer.echo(json.dumps({"files": [c.to_dict() for c in checks], "summary": summary(checks)}, indent=2))
    else:
        table = Table(title=f"verify against {escape(str(against))}")
        table.add_column("file")
        table.add_column("status")
        for check in checks:
            colour = "green" if check.status is HashStatus.OK else "red" if check.status in bad else "yellow"
            table.add_row(escape(check.path), f"[{colour}]{check.status.value}[/{colour}]")
        Console().print(table)
    if failing:
        Console(stderr=True).print(f"[red]{len(failing)} files differ from {escape(str(against))}[/red]")
        raise typer.Exit(code=FAIL_EXIT)
