"""``bastion redteam run`` and ``diff`` through the CLI, against the real demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bastion.cli.main import app


def _run(tmp_path: Path, target: str, output: Path, *extra: str) -> tuple[int, str]:
    arguments = ["redteam", "run", "--target", target, "--output", str(output), "--home", str(tmp_path)]
    arguments += ["--categories", "LLM07", "--languages", "de", "--variants", "0", *extra]
    result = CliRunner().invoke(app, arguments)
    return result.exit_code, result.output


def test_run_writes_every_report_and_diff_compares_runs(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "demo:hardened", tmp_path / "a")
    assert code == 0, output
    for name in ("report.json", "report.html", "report.sarif", "junit.xml", "summary.md"):
        assert (tmp_path / "a" / name).is_file()
    report = json.loads((tmp_path / "a" / "report.json").read_text(encoding="utf-8"))
    assert report["target"] == "demo:hardened"
    assert report["summary"]["attempts"] == 2
    assert set(report["summary"]["by_category"]) == {"LLM07"}
    sarif = json.loads((tmp_path / "a" / "report.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"

    diff = CliRunner().invoke(app, ["redteam", "diff", str(tmp_path / "a"), str(tmp_path / "a")])
    assert diff.exit_code == 0, diff.output
    assert json.loads(diff.output)["regressions"] == []


def test_fail_on_an_asr_threshold_exits_3(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "demo:hardened", tmp_path / "b", "--fail-on", "asr>-1")
    assert code == 3, output
    assert "exceeds" in output


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "demo:reckless", tmp_path / "c")
    assert code == 2
    assert "demo:naive or demo:hardened" in output
    code, output = _run(tmp_path, "demo:hardened", tmp_path / "d", "--fail-on", "sometimes")
    assert code == 2


@pytest.mark.slow
def test_a_crescendo_run_through_the_cli_reports_strategy_and_budget(tmp_path: Path) -> None:
    arguments = [
        "redteam", "run", "--target", "demo:hardened", "--output", str(tmp_path / "s"),
        "--home", str(tmp_path),
        "--strategy", "crescendo", "--categories", "LLM09", "--languages", "de", "--max-turns", "2",
        "--max-target-calls", "10", "--limit-output-tokens", "500",
    ]  # fmt: skip
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "s" / "report.json").read_text(encoding="utf-8"))
    assert [a["strategy"] for a in report["attempts"]] == ["crescendo"]
    assert report["attempts"][0]["probe_id"] == "crescendo.debt-forgiven.de"
    assert 1 <= report["budget"]["target_calls"] <= 2 and report["budget"]["max_target_calls"] == 10
    assert "target calls" in result.output


def test_bad_strategy_options_are_usage_errors(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "demo:hardened", tmp_path / "e", "--strategy", "tap")
    assert code == 2 and "single, crescendo, refine" in output
    code, output = _run(tmp_path, "demo:hardened", tmp_path / "f", "--max-turns", "0")
    assert code == 2
    code, output = _run(tmp_path, "demo:hardened", tmp_path / "g", "--seeds", str(tmp_path / "nowhere"))
    assert code == 2 and "no seed directory" in " ".join(output.split())
