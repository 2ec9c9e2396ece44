"""``bastion govern``: inventory, EU AI Act classification, threats, controls, risks and audit packs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError

govern_app = typer.Typer(
    help="Inventory, EU AI Act classification, threat models, controls with evidence, risks, audit packs.",
    no_args_is_help=True,
)
vendor_app = typer.Typer(help="AI vendor questionnaires.", no_args_is_help=True)
contract_app = typer.Typer(help="Required clauses in AI vendor contracts (EN/DE).", no_args_is_help=True)
govern_app.add_typer(vendor_app, name="vendor")
govern_app.add_typer(contract_app, name="contract")

InventoryOption = Annotated[
    Path, typer.Option("--inventory", "-i", help="The inventory file.", dir_okay=False)
]
_DEFAULT_INVENTORY = Path("bastion.yaml")


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _check_format(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UsageError(f"--format {value!r}: expected one of {', '.join(allowed)}")
    return value


@govern_app.command("init")
@cli_errors
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write bastion.yaml.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite an existing bastion.yaml.")] = False,
) -> None:
    """Write the commented example inventory (the demo system) to DIR/bastion.yaml."""
    from bastion.govern.inventory import write_example

    path = write_example(directory, force=force)
    Console(stderr=True).print(
        f"wrote {escape(str(path))}: edit it, then run `bastion govern classify -i {escape(str(path))}`"
    )


@govern_app.command("validate")
@cli_errors
def validate_inventory(inventory: InventoryOption = _DEFAULT_INVENTORY) -> None:
    """Check the inventory (schema and references); errors name file, line and field."""
    from bastion.govern.inventory import load_inventory

    loaded = load_inventory(inventory)
    typer.echo(f"{inventory}: valid ({len(loaded.systems)} systems, {len(loaded.models)} models)")


@govern_app.command("classify")
@cli_errors
def classify(
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    output_format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
    timeline: Annotated[
        str,
        typer.Option(help="Application dates: original (Art. 113) or omnibus; default from the data file."),
    ] = "",
) -> None:
    """Classify every system under the EU AI Act, with GDPR and DORA triggers."""
    from bastion.govern.classify import classify_inventory, render_text
    from bastion.govern.inventory import load_inventory

    _check_format(output_format, ("json", "text"))
    results = classify_inventory(load_inventory(inventory), timeline or None)
    if output_format == "json":
        _echo_json([result.to_dict() for result in results])
    else:
        typer.echo(render_text(results))


@govern_app.command("threats")
@cli_errors
def threats(
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    output_format: Annotated[str, typer.Option("--format", help="json, text or mermaid.")] = "text",
    diff: Annotated[
        Path | None, typer.Option(help="A previous `threats --format json` file: show what changed.")
    ] = None,
    system: Annotated[str, typer.Option(help="Only this system.")] = "",
) -> None:
    """Threats per lifecycle stage from components and data flows (STRIDE, OWASP LLM, ATLAS, PLOT4ai)."""
    from bastion.core.yamlfile import read_text_file
    from bastion.govern.inventory import load_inventory
    from bastion.govern.threats import STAGES, diff_threats, mermaid, threat_model, threats_to_dict

    _check_format(output_format, ("json", "text", "mermaid"))
    loaded = load_inventory(inventory)
    systems = [loaded.system(system)] if system else loaded.systems
    found = [t for t in threat_model(loaded) if t.system in {s.id for s in systems}]
    if diff is not None:
        try:
            previous = json.loads(read_text_file(diff))
        except json.JSONDecodeError as error:
            raise UsageError(f"--diff {diff}: not JSON ({error.msg})") from None
        changes = diff_threats(previous, found)
        if output_format == "json":
            _echo_json(
                {
                    "added": list(changes.added),
                    "removed": list(changes.removed),
                    "unchanged": changes.unchanged,
                }
            )
        else:
            typer.echo(
                f"{len(changes.added)} added, {len(changes.removed)} removed, {changes.unchanged} unchanged"
            )
            for threat_id in changes.added:
                typer.echo(f"+ {threat_id}")
            for threat_id in changes.removed:
                typer.echo(f"- {threat_id}")
        return
    if output_format == "json":
        _echo_json(threats_to_dict(found))
    elif output_format == "mermaid":
        for item in systems:
            typer.echo(f"%% {item.name}")
            typer.echo(mermaid(item))
    else:
        console = Console()
        for stage in STAGES:
            rows = [t for t in found if t.stage == stage]
            if not rows:
                continue
            table = Table(title=f"stage: {stage}")
            for column in ("threat", "where", "STRIDE", "OWASP / ATLAS", "controls"):
                table.add_column(column)
            for t in rows:
                table.add_row(
                    escape(t.rule.title),
                    escape(f"{t.system}: {t.subject_name}"),
                    "".join(t.rule.stride) or "-",
                    escape(", ".join((*t.rule.owasp, *t.rule.atlas)) or "-"),
                    escape(", ".join(t.rule.controls)),
                )
            console.print(table)


def _assessment(inventory: Path, timeline: str = "") -> Any:
    from bastion.govern.assessment import assess

    return assess(inventory, timeline=timeline or None)


@govern_app.command("controls")
@cli_errors
def controls(
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    output_format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
    framework: Annotated[
        str,
        typer.Option(
            help="Coverage matrix of: eu_ai_act, iso42001, nist_ai_rmf, nist_genai, owasp_llm, dora, gdpr."
        ),
    ] = "",
) -> None:
    """Control status computed from evidence, or a framework's coverage matrix."""
    from bastion.govern.controls import FRAMEWORKS, coverage

    _check_format(output_format, ("json", "text"))
    assessment = _assessment(inventory)
    if framework:
        if framework not in FRAMEWORKS:
            raise UsageError(f"--framework {framework!r}: expected one of {', '.join(FRAMEWORKS)}")
        rows = coverage(assessment.controls, framework)
        if output_format == "json":
            _echo_json(
                [
                    {
                        "item": r.item,
                        "title": r.title,
                        "controls": list(r.controls),
                        "status": r.status.value if r.controls else None,
                    }
                    for r in rows
                ]
            )
            return
        table = Table(title=f"coverage: {framework}")
        for column in ("item", "title", "controls", "status"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                escape(r.item),
                escape(r.title[:70]),
                escape(", ".join(r.controls) or "not covered"),
                r.status.value if r.controls else "-",
            )
        Console().print(table)
        return
    if output_format == "json":
        _echo_json(
            [
                {
                    "id": r.control.id,
                    "title": r.control.title,
                    "status": r.status.value,
                    "systems": list(r.systems),
                    "reason": r.reason,
                    "evidence": [record.to_dict() for record in r.records],
                }
                for r in assessment.controls
            ]
        )
        return
    table = Table(title="controls")
    for column in ("control", "status", "systems", "evidence"):
        table.add_column(column)
    for r in assessment.controls:
        table.add_row(
            escape(r.control.id), r.status.value, escape(", ".join(r.systems) or "-"), escape(r.reason[:120])
        )
    Console().print(table)


@govern_app.command("evidence")
@cli_errors
def evidence(
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    output_format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
) -> None:
    """The evidence records read from the files the inventory lists (source, time, hash, expiry)."""
    _check_format(output_format, ("json", "text"))
    assessment = _assessment(inventory)
    if output_format == "json":
        _echo_json([record.to_dict() for record in assessment.records])
        return
    table = Table(title="evidence")
    for column in ("kind", "source", "produced", "sha256", "outcome", "summary"):
        table.add_column(column)
    for record in assessment.records:
        table.add_row(
            record.kind,
            escape(record.source),
            record.produced_at.isoformat(timespec="seconds") if record.produced_at else "-",
            record.sha256[:12] or "-",
            record.outcome.value,
            escape(record.summary[:90]),
        )
    Console().print(table)


@govern_app.command("risks")
@cli_errors
def risks(
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    output_format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
) -> None:
    """The risk register: inherent and residual risk after the controls' computed status, and a heatmap."""
    from bastion.govern.risks import heatmap

    _check_format(output_format, ("json", "text"))
    assessment = _assessment(inventory)
    if output_format == "json":
        _echo_json(
            {
                "risks": [r.to_dict() for r in assessment.risks],
                "heatmap": {
                    "inherent": heatmap(assessment.risks),
                    "residual": heatmap(assessment.risks, residual=True),
                },
            }
        )
        return
    table = Table(title="risk register")
    for column in ("risk", "system", "inherent", "residual", "owner", "review"):
        table.add_column(column)
    for r in assessment.risks:
        table.add_row(
            escape(r.title),
            escape(r.system or "-"),
            f"{r.inherent} {r.inherent_level}",
            f"{r.residual} {r.residual_level}",
            escape(r.owner or "-"),
            r.review.isoformat() if r.review else "-",
        )
    console = Console()
    console.print(table)
    grid = heatmap(assessment.risks, residual=True)
    console.print("residual heatmap (rows: impact 5..1, columns: likelihood 1..5)")
    for impact in range(5, 0, -1):
        console.print(f"{impact} " + " ".join(f"{n:>2}" if n else " ." for n in grid[impact - 1]))


@govern_app.command("pack")
@cli_errors
def pack(
    output: Annotated[Path, typer.Option(help="Directory for the audit pack.")],
    output_format: Annotated[
        list[str], typer.Option("--format", help="html, pdf or oscal; repeat or comma-separate for several.")
    ],
    inventory: InventoryOption = _DEFAULT_INVENTORY,
    timeline: Annotated[str, typer.Option(help="Application dates: original or omnibus.")] = "",
    check: Annotated[bool, typer.Option("--validate/--no-validate", help="Validate OSCAL output.")] = True,
) -> None:
    """Write the audit pack (HTML, PDF, OSCAL JSON) plus Annex IV skeletons and policy documents."""
    from bastion.govern.pack import validate, write_pack

    formats = {part.strip() for value in output_format for part in value.split(",") if part.strip()}
    assessment = _assessment(inventory, timeline)
    written = write_pack(assessment, output, formats)
    console = Console(stderr=True)
    for path in written:
        console.print(f"wrote {escape(str(path))}")
    if "oscal" in formats and check:
        problems = validate(output)
        if problems:
            for name, problem in problems:
                console.print(f"[red]invalid OSCAL[/red] {escape(name)}: {escape(problem[:500])}")
            raise typer.Exit(1)
        console.print("OSCAL documents validate (compliance-trestle)")


@vendor_app.command("assess")
@cli_errors
def vendor_assess(
    answers: Annotated[Path, typer.Argument(help="The vendor's answers (YAML or JSON).", dir_okay=False)],
    output_format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
) -> None:
    """Score a vendor's answers to the AI vendor questionnaire, with the reason for every point."""
    from bastion.govern.vendors import assess_vendor, load_answers

    _check_format(output_format, ("json", "text"))
    result = assess_vendor(load_answers(answers))
    if output_format == "json":
        _echo_json(result.to_dict())
        return
    table = Table(title=f"{result.vendor}: {result.score}/{result.maximum} ({result.rating})")
    for column in ("question", "answer", "points", "reason"):
        table.add_column(column)
    for item in result.items:
        table.add_row(
            escape(item.question),
            escape(str(item.answer)),
            f"{item.points}/{item.maximum}",
            escape(item.reason),
        )
    Console().print(table)


@contract_app.command("check")
@cli_errors
def contract_check(
    file: Annotated[Path, typer.Argument(help="The contract: .txt, .md, .pdf or .docx.", dir_okay=False)],
    output_format: Annotated[str, typer.Option("--format", help="json or text.")] = "text",
) -> None:
    """Which required clauses (DORA Art. 30, GDPR Art. 28(3), AI terms) are present, weak or missing."""
    from bastion.govern.vendors import check_contract

    _check_format(output_format, ("json", "text"))
    result = check_contract(file)
    if output_format == "json":
        _echo_json(result.to_dict())
        return
    table = Table(title=f"{file.name}: {result.language}")
    for column in ("clause", "status", "where", "quote"):
        table.add_column(column)
    for clause in result.clauses:
        table.add_row(
            escape(clause.title),
            clause.status,
            escape(clause.location or "-"),
            escape(clause.quote[:160] or "-"),
        )
    Console().print(table)
