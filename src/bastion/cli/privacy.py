"""``bastion privacy``: attack a model's privacy (``test``) and anonymise a data set (``anonymize``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from bastion.cli.errors import cli_errors
from bastion.core.errors import UsageError

if TYPE_CHECKING:
    from bastion.privacy.assessment import MitigationRow, PrivacyAssessment
    from bastion.privacy.attacks import AttackContext
    from bastion.privacy.datasets import TabularData

privacy_app = typer.Typer(
    help="Membership and attribute inference against tabular models; dataset anonymisation.",
    no_args_is_help=True,
)

#: exit code of ``test --fail-on-leak`` when the policy fails
FAIL_EXIT = 3


def _shadow_factory(estimator: Any, spec: str) -> Callable[[], Any] | None:
    if spec:
        import importlib

        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise UsageError("--shadow-model takes module:attribute (a function returning an unfitted model)")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise UsageError(f"cannot load --shadow-model {spec!r}: {error}") from error
        if not callable(factory):
            raise UsageError(f"--shadow-model {spec!r} is not callable")
        return factory  # type: ignore[no-any-return]
    if estimator is None:
        return None
    try:
        from sklearn.base import clone

        clone(estimator)
    except Exception:
        return None
    return lambda: clone(estimator)


def _subsample(data: TabularData, limit: int | None, seed: int) -> TabularData:
    if limit is None or len(data) <= limit:
        return data
    import numpy as np

    rows = np.sort(np.random.default_rng(seed).choice(len(data), size=limit, replace=False))
    return data.subset(rows)


def _user_context(
    model: str,
    endpoint: str,
    endpoint_output: str,
    train: Path | None,
    holdout: Path | None,
    label: str,
    allow_pickle: bool,
    shadow_model: str,
    **options: Any,
) -> tuple[AttackContext, TabularData]:
    from bastion.privacy.attacks import AttackContext
    from bastion.privacy.datasets import read_csv_table
    from bastion.privacy.targets import EstimatorTarget, HttpTarget, Output, load_estimator

    if not model and not endpoint:
        raise UsageError("give --demo, --model or --endpoint")
    if model and endpoint:
        raise UsageError("give --model or --endpoint, not both")
    if train is None or holdout is None:
        raise UsageError("--train and --holdout (CSV files) are needed with --model or --endpoint")
    members = read_csv_table(train, label)
    nonmembers = read_csv_table(holdout, label, members.columns)
    estimator = None
    if model:
        estimator = load_estimator(model, allow_pickle=allow_pickle)
        target: Any = EstimatorTarget(estimator, name=model)
    else:
        try:
            output_kind = Output(endpoint_output)
        except ValueError:
            raise UsageError("--endpoint-output must be probabilities or labels") from None
        target = HttpTarget(endpoint, output_kind)
    factory = _shadow_factory(estimator, shadow_model)
    if factory is None and endpoint:
        from bastion.privacy.demos import recipes

        factory = recipes(len(members.columns))[0].factory  # a black box: guess a full-depth forest
    seed = options["seed"]
    context = AttackContext(
        target,
        _subsample(members, options["max_candidates"], seed),
        _subsample(nonmembers, options["max_candidates"], seed),
        shadow_factory=factory,
        shadows=options["shadows"],
        sensitive=options["sensitive"] or None,
        seed=seed,
    )
    return context, nonmembers


@privacy_app.command("test")
@cli_errors
def test(
    demo: Annotated[str, typer.Option(help="Demo target: german-credit or payments.")] = "",
    model: Annotated[str, typer.Option(help="module:attribute of a fitted model, or a .joblib file.")] = "",
    endpoint: Annotated[str, typer.Option(help="URL of a scoring endpoint (black box).")] = "",
    endpoint_output: Annotated[
        str, typer.Option(help="What the endpoint answers: probabilities or labels.")
    ] = "probabilities",
    train: Annotated[Path | None, typer.Option(help="CSV of (some of) the training records.")] = None,
    holdout: Annotated[
        Path | None, typer.Option(help="CSV of records from the same population, not trained on.")
    ] = None,
    label: Annotated[str, typer.Option(help="Label column of the CSV files.")] = "label",
    sensitive: Annotated[str, typer.Option(help="Binary column for attribute inference.")] = "",
    allow_pickle: Annotated[bool, typer.Option(help="Load a pickled --model (scan it first).")] = False,
    shadow_model: Annotated[
        str, typer.Option(help="module:attribute returning an unfitted shadow model.")
    ] = "",
    shadows: Annotated[int, typer.Option(help="Shadow models (even; LiRA wants many).")] = 16,
    attacks: Annotated[str, typer.Option(help="Comma-separated attack ids (default: all).")] = "",
    max_candidates: Annotated[int | None, typer.Option(help="Members and non-members used, each.")] = None,
    mitigation: Annotated[bool, typer.Option(help="Also retrain regularised and DP models (demos).")] = False,
    policy: Annotated[Path | None, typer.Option(help="Privacy policy YAML (default: shipped).")] = None,
    output: Annotated[
        Path | None, typer.Option(help="Directory for report.json/html and evidence.json.")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    fail_on_leak: Annotated[bool, typer.Option(help="Exit 3 when the policy fails.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of splits, shadows and noise.")] = 7,
) -> None:
    """Run membership, attribute-inference and inversion attacks and judge them against the policy."""
    from bastion.privacy.assessment import assess, mitigation_study
    from bastion.privacy.attacks import DEFAULT_ATTACKS, AttackContext
    from bastion.privacy.attacks import attacks as registry
    from bastion.privacy.policy import load_policy
    from bastion.privacy.report import command_json, write_reports
    from bastion.privacy.targets import EstimatorTarget

    if output_format not in ("table", "json"):
        raise UsageError("--format must be table or json")
    if mitigation and not demo:
        raise UsageError("--mitigation retrains the model: use it with --demo")
    attack_ids = tuple(a.strip() for a in attacks.split(",") if a.strip()) or DEFAULT_ATTACKS
    for attack_id in attack_ids:
        registry.factory(attack_id)  # unknown ids fail before any training
    the_policy = load_policy(policy)
    console = Console(stderr=True)
    rows: list[MitigationRow] = []
    if demo:
        from bastion.privacy.demos import demo_setup

        setup = demo_setup(demo, seed=seed)
        members = _subsample(setup.members, max_candidates, seed)
        nonmembers = _subsample(setup.nonmembers, max_candidates, seed)
        console.print(
            f"[bold]{demo}[/bold]: training the deliberately overfit model on {len(members)} records"
        )
        recipe = setup.recipes[0]
        estimator = recipe.factory()
        estimator.fit(members.features, members.labels)
        context = AttackContext(
            EstimatorTarget(estimator, name=demo),
            members,
            nonmembers,
            shadow_factory=recipe.factory,
            shadows=shadows,
            sensitive=sensitive or setup.sensitive,
            seed=seed,
        )
        holdout_data = nonmembers
    else:
        context, holdout_data = _user_context(
            model,
            endpoint,
            endpoint_output,
            train,
            holdout,
            label,
            allow_pickle,
            shadow_model,
            seed=seed,
            max_candidates=max_candidates,
            shadows=shadows,
            sensitive=sensitive,
        )
    try:
        with console.status("attacking") as status:
            result = assess(
                context,
                the_policy,
                attack_ids,
                holdout=holdout_data,
                progress=lambda attack_id: status.update(f"done: {attack_id}"),
            )
            if mitigation:
                rows = mitigation_study(
                    members,
                    nonmembers,
                    setup.recipes,
                    the_policy,
                    name=demo,
                    sensitive=context.sensitive,
                    shadows=shadows,
                    seed=seed,
                    attack_ids=attack_ids,
                    progress=lambda attack_id: status.update(f"mitigation: {attack_id}"),
                )
    finally:
        context.target.close()
    if output is not None:
        written = write_reports(result, output, rows)
        console.print(f"reports in {output} ({', '.join(path.name for path in written.values())})")
    if output_format == "json":
        payload = command_json(result)
        if rows:
            from bastion.privacy.report import assessment_json

            payload["mitigation"] = assessment_json(result, rows)["mitigation"]
        typer.echo(json.dumps(payload, indent=2))
    else:
        screen = Console()
        if not screen.is_terminal:
            screen.width = 140  # a pipe or a file gets the whole table
        _print_assessment(result, rows, screen)
    if fail_on_leak and not result.verdict.passed:
        raise typer.Exit(FAIL_EXIT)


def _print_assessment(result: PrivacyAssessment, rows: list[MitigationRow], console: Console) -> None:
    table = Table(title=f"{result.target}: {result.members} members, {result.nonmembers} non-members")
    for column in ("attack", "AUC", "TPR@1%FPR", "TPR@0.1%FPR", "advantage", "gain", "seconds"):
        table.add_column(column, justify="left" if column == "attack" else "right")
    for attack in result.results:
        s = attack.summary
        gain = "" if attack.gain is None else f"{attack.gain:+.3f}"
        table.add_row(
            attack.attack_id,
            f"{s.auc:.3f}",
            f"{s.tpr_at_1pct_fpr:.3f}",
            f"{s.tpr_at_01pct_fpr:.3f}",
            f"{s.advantage:.3f}",
            gain,
            f"{attack.seconds:.2f}",
        )
    console.print(table)
    for attack_id, reason in result.skipped:
        console.print(f"[yellow]skipped[/yellow] {attack_id}: {reason}")
    if rows:
        study = Table(title="mitigation study")
        for column in ("recipe", "accuracy", "AUC", "worst MIA AUC", "worst TPR@1%", "verdict"):
            study.add_column(column, justify="left" if column == "recipe" else "right")
        for row in rows:
            study.add_row(
                row.recipe.name,
                f"{row.utility.accuracy:.3f}",
                "-" if row.utility.auc is None else f"{row.utility.auc:.3f}",
                f"{row.assessment.worst_membership_auc():.3f}",
                f"{row.assessment.worst_tpr_at_1pct():.3f}",
                row.assessment.verdict.label,
            )
        console.print(study)
    colour = "green" if result.verdict.passed else "red"
    console.print(f"verdict: [{colour}]{result.verdict.label}[/{colour}] ({result.verdict.policy_id})")
    for line in (*result.verdict.reasons, *result.verdict.notes):
        console.print(f"  - {line}")


@privacy_app.command("anonymize")
@cli_errors
def anonymize(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet file to anonymise.")],
    output: Annotated[Path, typer.Argument(help="Where to write the result (CSV or Parquet).")],
    config: Annotated[Path, typer.Option(help="Anonymisation config (YAML).")],
    key_env: Annotated[str, typer.Option(help="Variable holding the HMAC key (overrides the config).")] = "",
    input_format: Annotated[str, typer.Option(help="csv or parquet (default: from the name).")] = "",
    output_format: Annotated[str, typer.Option(help="csv or parquet (default: from the name).")] = "",
    report: Annotated[Path | None, typer.Option(help="Write the JSON report (and evidence) here.")] = None,
    report_format: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """Apply column rules and PII redaction, generalise until k-anonymity (and l-diversity) holds."""
    from bastion.privacy.anonymize import anonymize_file, load_config
    from bastion.privacy.evidence import PrivacyEvidence, write_evidence

    if report_format not in ("table", "json"):
        raise UsageError("--format must be table or json")
    settings = load_config(config)
    if key_env:
        settings = settings.model_copy(update={"key_env": key_env})
    console = Console(stderr=True)
    with console.status("anonymising") as status:
        seen = [0]

        def advance(rows: int) -> None:
            seen[0] += rows
            status.update(f"anonymising: {seen[0]:,} rows")

        result = anonymize_file(
            source,
            output,
            settings,
            input_format=input_format or None,
            output_format=output_format or None,
            progress=advance,
        )
    data = result.to_dict()
    if report is not None:
        body = (json.dumps(data, indent=2) + "\n").encode("utf-8")
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_bytes(body)
        evidence = PrivacyEvidence.for_artifact(
            kind="privacy.anonymization",
            source="bastion privacy anonymize",
            subject=output.name,
            artifact=body,
            verdict="pass",
            figures={"k": float(settings.k), "suppressed_rows": float(result.suppressed_rows)},
        )
        write_evidence(evidence, report.with_name(report.stem + ".evidence.json"))
    if report_format == "json":
        typer.echo(json.dumps(data, indent=2))
        return
    loss = data["information_loss"]
    console.print(
        f"{result.input_rows:,} rows in, {result.output_rows:,} out ({result.suppressed_rows:,} suppressed), "
        f"{result.chunks} chunks, {data['rows_per_second'] or 0:,.0f} rows/s"
    )
    for name, level in loss.get("levels", {}).items():
        console.print(f"  {name}: level {level['level']} of {level['height']}")
    if "smallest_class" in loss:
        console.print(
            f"  k={settings.k}: {loss['equivalence_classes']} classes, smallest {loss['smallest_class']}, "
            f"precision loss {loss['precision_loss']:.2f}"
        )
    for entity, count in data["pii_replacements"].items():
        console.print(f"  PII replaced: {entity} x {count}")
