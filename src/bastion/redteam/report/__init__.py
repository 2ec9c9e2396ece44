"""Report writers for red-team runs: ``report.json`` (the contract), ``report.sarif``, ``junit.xml``,
``summary.md`` and ``report.html``.

Each format has a pure ``render_*(run) -> str`` and a ``write_*(run, path) -> Path``; the same
:class:`~bastion.redteam.types.RunResult` always gives the same bytes (nothing reads the clock).

>>> paths = write_reports(run, Path("out"))  # doctest: +SKIP
>>> sorted(paths)  # doctest: +SKIP
['html', 'json', 'junit', 'markdown', 'sarif']
"""

from __future__ import annotations

from pathlib import Path

from bastion.redteam.report.html import render_html, write_html
from bastion.redteam.report.json_report import (
    DiffEntry,
    RunDiff,
    diff_runs,
    load_run_json,
    render_json,
    run_to_dict,
    write_json,
)
from bastion.redteam.report.junit import render_junit, write_junit
from bastion.redteam.report.markdown import render_markdown, write_markdown
from bastion.redteam.report.sarif import render_sarif, sarif_dict, write_sarif
from bastion.redteam.types import RunResult

__all__ = [
    "REPORT_FILES",
    "DiffEntry",
    "RunDiff",
    "diff_runs",
    "load_run_json",
    "render_html",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_sarif",
    "run_to_dict",
    "sarif_dict",
    "write_html",
    "write_json",
    "write_junit",
    "write_markdown",
    "write_reports",
    "write_sarif",
]

#: Report kind -> file name inside the output directory.
REPORT_FILES: dict[str, str] = {
    "json": "report.json",
    "sarif": "report.sarif",
    "junit": "junit.xml",
    "markdown": "summary.md",
    "html": "report.html",
}


def write_reports(run: RunResult, directory: Path, sarif_artifact_uri: str | None = None) -> dict[str, Path]:
    """Write all five reports of ``run`` into ``directory`` (created if missing) and return their paths
    by kind (see :data:`REPORT_FILES`). ``sarif_artifact_uri`` is passed to :func:`write_sarif`."""
    directory.mkdir(parents=True, exist_ok=True)
    return {
        "json": write_json(run, directory / REPORT_FILES["json"]),
        "sarif": write_sarif(run, directory / REPORT_FILES["sarif"], sarif_artifact_uri),
        "junit": write_junit(run, directory / REPORT_FILES["junit"]),
        "markdown": write_markdown(run, directory / REPORT_FILES["markdown"]),
        "html": write_html(run, directory / REPORT_FILES["html"]),
    }
