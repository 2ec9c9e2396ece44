"""``junit.xml``: every attempt of a red-team run as a JUnit test case, for CI test-result views.

One ``<testsuite>`` per OWASP category (sorted), one ``<testcase>`` per attempt (``classname`` = category,
``name`` = probe id with its mutators). A successful attack is a ``<failure>`` (message = the deciding
judge's reason, body = the transcript); an attempt whose target failed is an ``<error>``. Counts sit on
every ``<testsuite>`` and on the ``<testsuites>`` root.

All text is escaped by the XML serializer, and characters XML 1.0 cannot carry (control characters, lone
surrogates) are first written as visible escapes, so hostile transcripts (``]]>``, ``\\x00``) stay inert
and the file stays well-formed.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from bastion.redteam.report._text import attempt_name, visible_text
from bastion.redteam.types import AttemptResult, RunResult, Transcript

__all__ = ["render_junit", "transcript_text", "write_junit"]


def transcript_text(transcript: Transcript) -> str:
    """The transcript as plain text, one ``[role] content`` block per turn, tool calls as JSON lines."""
    blocks: list[str] = []
    for turn in transcript.turns:
        lines = [f"[{turn.role.value}] {turn.content}"]
        lines.extend(
            f"  tool_call {json.dumps(call, ensure_ascii=False, sort_keys=True, default=str)}"
            for call in turn.to_dict()["tool_calls"]
        )
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _testcase(result: AttemptResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        {
            "classname": visible_text(result.attempt.probe.category),
            "name": visible_text(attempt_name(result)),
            "time": _seconds(result.seconds),
        },
    )
    properties = ET.SubElement(case, "properties")
    for name, value in (
        ("attempt_id", result.attempt.attempt_id),
        ("severity", result.attempt.probe.severity.value),
        ("judge", result.deciding_verdict.judge if result.deciding_verdict else ""),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": visible_text(value)})
    if result.error:
        error = ET.SubElement(case, "error", {"message": visible_text(result.error), "type": "TargetError"})
        error.text = visible_text(result.error)
    elif result.succeeded:
        deciding = result.deciding_verdict
        reason = deciding.reason if deciding else "the attack succeeded"
        failure = ET.SubElement(
            case,
            "failure",
            {"message": visible_text(reason), "type": result.attempt.probe.severity.value},
        )
        failure.text = visible_text(transcript_text(result.transcript))
    return case


def _counts(element: ET.Element, results: list[AttemptResult]) -> None:
    element.set("tests", str(len(results)))
    element.set("failures", str(sum(r.succeeded and not r.error for r in results)))
    element.set("errors", str(sum(bool(r.error) for r in results)))
    element.set("skipped", "0")
    element.set("time", _seconds(sum(r.seconds for r in results)))


def render_junit(run: RunResult) -> str:
    """``junit.xml`` as text (UTF-8 declaration, one element per line); same run -> same text."""
    by_category: dict[str, list[AttemptResult]] = defaultdict(list)
    for result in run.results:
        by_category[result.attempt.probe.category].append(result)
    root = ET.Element("testsuites", {"name": visible_text(f"bastion-redteam {run.target}")})
    _counts(root, list(run.results))
    for category in sorted(by_category):
        results = by_category[category]
        suite = ET.SubElement(
            root,
            "testsuite",
            {"name": visible_text(category), "timestamp": visible_text(run.started_at)},
        )
        _counts(suite, results)
        suite.extend(_testcase(result) for result in results)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write_junit(run: RunResult, path: Path) -> Path:
    """Write ``junit.xml`` for ``run`` to ``path`` and return ``path``."""
    path.write_bytes(render_junit(run).encode("utf-8"))
    return path
