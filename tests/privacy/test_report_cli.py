"""Reports (JSON, HTML with log-log SVG ROC curves, evidence) and the ``bastion privacy`` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import typer
from typer.testing import CliRunner

from bastion.cli.privacy import privacy_app
from bastion.privacy.assessment import assess
from bastion.privacy.attacks import AttackContext
from bastion.privacy.datasets import TabularData
from bastion.privacy.evidence import PrivacyEvidence
from bastion.privacy.policy import load_policy
from bastion.privacy.report import command_json, roc_svg, write_reports
from bastion.privacy.targets import EstimatorTarget

from .conftest import SENSITIVE

app = typer.Typer()
app.add_typer(privacy_app, name="privacy")


@app.command("version")
def _version() -> None:
    """A second command so that ``privacy`` stays a sub-command."""


runner = CliRunner()
Thirds = tuple[TabularData, TabularData, TabularData]


def test_reports_and_evidence(tmp_path: Path, overfit_model: Any, thirds: Thirds) -> None:
    members, nonmembers, _ = thirds
    context = AttackContext(
        EstimatorTarget(overfit_model, name="credit"), members, nonmembers, sensitive=SENSITIVE
    )
    assessment = assess(
        context, load_policy(), ["membership.loss", "membership.label_gap", "attribute.inversion"]
    )
    paths = write_reports(assessment, tmp_path)
    report = json.loads(paths["json"].read_text())
    assert report["schema"] == "bastion.privacy.report/v1" and report["verdict"] == "fail"
    assert set(report["curves"]) == {"membership.loss", "membership.label_gap", "attribute.inversion"}
    assert report["curves"]["membership.loss"][0] == [0.0, 0.0] and report["curves"]["membership.loss"][
        -1
    ] == [1.0, 1.0]
    html = paths["html"].read_text()
    assert html.count("<svg") == 2 and "FAIL" in html and "10^-3" in html
    evidence = PrivacyEvidence.from_dict(json.loads(paths["evidence"].read_text()))
    assert evidence.matches(paths["json"].read_bytes()) and evidence.verdict == "fail"
    assert evidence.subject == "credit" and evidence.figures["worst_membership_auc"] > 0.6
    svg = roc_svg(assessment.results[:2], "t")
    root = ElementTree.fromstring(svg)  # well-formed XML
    polylines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(polylines) == 2
    # log axes: a curve point at FPR 1e-3 sits at the left edge, FPR 1 at the right edge
    xs = [float(p.split(",")[0]) for p in polylines[0].get("points", "").split()]
    assert min(xs) >= 48 and max(xs) <= 48 + 360 + 1e-6
    assert command_json(assessment)["attacks"][0].keys() >= {
        "name",
        "auc",
        "tpr_at_1pct_fpr",
        "tpr_at_0.1pct_fpr",
        "seconds",
    }


@pytest.mark.slow
def test_the_command_contract() -> None:
    result = runner.invoke(app, ["privacy", "test", "--demo", "german-credit", "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["target"] == "german-credit" and payload["verdict"] in ("pass", "fail")
    assert isinstance(payload["attacks"], list) and len(payload["attacks"]) == 9
    for attack in payload["attacks"]:
        assert isinstance(attack["name"], str) and isinstance(attack["seconds"], float)
        for key in ("auc", "tpr_at_1pct_fpr", "tpr_at_0.1pct_fpr"):
            assert isinstance(attack[key], float) and 0.0 <= attack[key] <= 1.0
    by_name = {attack["name"]: attack for attack in payload["attacks"]}
    assert by_name["membership.lira_online"]["auc"] > 0.8  # the demo model is overfit on purpose
    assert payload["verdict"] == "fail" and payload["nonmembers"] == 500


def test_cli_user_model_reports_and_fail_exit(tmp_path: Path, german: TabularData) -> None:
    header = ",".join([*german.columns, "label"])

    def write(path: Path, rows: range) -> Path:
        lines = [header] + [
            ",".join([*(f"{v:g}" for v in german.features[i]), str(german.labels[i])]) for i in rows
        ]
        path.write_text("\n".join(lines) + "\n")
        return path

    train, holdout = (
        write(tmp_path / "train.csv", range(400)),
        write(tmp_path / "holdout.csv", range(400, 800)),
    )
    args = [
        "privacy",
        "test",
        "--model",
        "tests.privacy.models:fitted_model",
        "--train",
        str(train),
        "--holdout",
        str(holdout),
        "--sensitive",
        SENSITIVE,
        "--shadows",
        "4",
        "--output",
        str(tmp_path / "r"),
        "--attacks",
        "membership.loss,membership.lira_offline,attribute.inference",
        "--fail-on-leak",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    assert "membership.lira_offline" in result.stdout and "verdict: fail" in result.stdout
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "evidence.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--demo", "nope"], "unknown demo"),
        (["--demo", "german-credit", "--format", "xml"], "--format"),
        (["--demo", "german-credit", "--attacks", "membership.nope"], "unknown privacy attack"),
        (["--model", "tests.privacy.models:fitted_model"], "--train and --holdout"),
        (["--model", "x.joblib", "--train", "a.csv", "--holdout", "b.csv", "--mitigation"], "--mitigation"),
        ([], "give --demo, --model or --endpoint"),
    ],
)
def test_cli_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text("x,label\n1,0\n2,1\n")
    args = [a if not a.endswith(".csv") else str(tmp_path / a) for a in args]
    result = runner.invoke(app, ["privacy", "test", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr


def test_cli_anonymize(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "email,age,postcode\n" + "".join(f"p{i}@example.org,{30 + i % 7},1011{i % 3}\n" for i in range(60))
    )
    config = tmp_path / "c.yaml"
    config.write_text(
        "key_env: MY_KEY\ncolumns: {email: {action: hash}}\nk: 5\n"
        "quasi_identifiers:\n  age: {hierarchy: {type: interval, widths: [10, 20]}}\n"
        "  postcode: {hierarchy: {type: prefix, keep: [4]}}\n"
    )
    monkeypatch.setenv("MY_KEY", "a-key-of-enough-length")
    report = tmp_path / "report.json"
    result = runner.invoke(
        app,
        [
            "privacy",
            "anonymize",
            str(source),
            str(tmp_path / "out.parquet"),
            "--config",
            str(config),
            "--report",
            str(report),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["input_rows"] == 60 and data["information_loss"]["smallest_class"] >= 5
    assert json.loads(report.read_text()) == data
    evidence = PrivacyEvidence.from_dict(json.loads((tmp_path / "report.evidence.json").read_text()))
    assert evidence.kind == "privacy.anonymization" and evidence.matches(report.read_bytes())
    config.write_text("columns: {email: {action: teleport}}\n")
    bad = runner.invoke(
        app, ["privacy", "anonymize", str(source), str(tmp_path / "o.csv"), "--config", str(config)]
    )
    assert bad.exit_code == 2 and "columns.email.action" in bad.stderr


def test_cli_black_box_endpoint(tmp_path: Path, german: TabularData, overfit_model: Any) -> None:
    from ..net import serving
    from .test_targets import scoring_app

    header = ",".join([*german.columns, "label"])
    for name, rows in (("train.csv", range(100)), ("holdout.csv", range(900, 1000))):
        lines = [header] + [
            ",".join([*(f"{v:g}" for v in german.features[i]), str(german.labels[i])]) for i in rows
        ]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    with serving(scoring_app(overfit_model)) as base:
        result = runner.invoke(
            app,
            [
                "privacy",
                "test",
                "--endpoint",
                f"{base}/label",
                "--endpoint-output",
                "labels",
                "--train",
                str(tmp_path / "train.csv"),
                "--holdout",
                str(tmp_path / "holdout.csv"),
                "--attacks",
                "membership.label_gap,membership.loss",
                "--format",
                "json",
            ],
        )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [a["name"] for a in payload["attacks"]] == ["membership.label_gap"]
    assert payload["skipped"] == [{"name": "membership.loss", "reason": "the target answers labels only"}]
    assert payload["output"] == "labels"
