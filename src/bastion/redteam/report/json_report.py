"""``report.json``: the stable, machine-readable result of a red-team run, and the diff of two runs.

The contract (docs/redteam.md)::

    {"schema_version": 1, "run_id", "target", "seed", "started_at", "finished_at",
     "summary": {"attempts", "successes", "asr", "errors",
                 "by_category": {"LLM01": {"attempts", "successes", "asr"}, ...}},
     "budget": {"max_turns", "max_target_calls", "max_attacker_tokens", "target_calls", "attacker_tokens",
                "exhausted", "skipped"},
     "findings": [{"id", "probe_id", "title", "category", "atlas", "severity", "language", "mutators",
                   "strategy", "target_calls", "attacker_tokens",
                   "verdict": {"judge", "succeeded", "score", "reason"}, "verdicts": [...],
                   "transcript": [{"role", "content", "tool_calls"}], "strategy_trace": {...}}],
     "attempts": [{"id", "probe_id", "category", "severity", "mutators", "strategy", "succeeded", "error",
                   "target_calls", "attacker_tokens"}]}

Every verdict carries its ``reason`` (for the LLM judge: its score and explanation). ``strategy_trace``
holds what an adaptive strategy did (why it stopped, backtracks, rewound exchanges, where each message
came from, the refine search tree); it is empty for ``single``.

``findings`` are the successful attempts, in run order. ``attempts`` lists every attempt without its
transcript, so that :func:`diff_runs` can tell "fixed" from "not run". ASR values are rounded to 4 places.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.core.errors import ConfigError
from bastion.redteam.report._text import json_text
from bastion.redteam.types import AttemptResult, RunResult

__all__ = [
    "SCHEMA_VERSION",
    "DiffEntry",
    "RunDiff",
    "diff_runs",
    "load_run_json",
    "render_json",
    "run_to_dict",
    "write_json",
]

SCHEMA_VERSION = 1
_REQUIRED = ("run_id", "target", "summary", "findings")


def _finding(result: AttemptResult) -> dict[str, Any]:
    probe = result.attempt.probe
    deciding = result.deciding_verdict
    return {
        "id": result.attempt.attempt_id,
        "probe_id": probe.id,
        "title": probe.title,
        "category": probe.category,
        "atlas": list(probe.atlas),
        "severity": probe.severity.value,
        "language": probe.language,
        "mutators": list(result.attempt.mutators),
        "strategy": result.attempt.strategy,
        "target_calls": result.requests,
        "attacker_tokens": result.attacker_tokens,
        "verdict": deciding.to_dict() if deciding else None,
        "verdicts": [verdict.to_dict() for verdict in result.verdicts],
        "transcript": result.transcript.to_list(),
        "strategy_trace": _trace(result),
    }


_TRACE_KEYS = (
    "stopped",
    "backtracks",
    "rewound_exchanges",
    "message_sources",
    "rewindable",
    "best_node",
    "tree",
)


def _trace(result: AttemptResult) -> dict[str, Any]:
    metadata = result.transcript.metadata
    return {key: metadata[key] for key in _TRACE_KEYS if key in metadata}


def _attempt(result: AttemptResult) -> dict[str, Any]:
    probe = result.attempt.probe
    return {
        "id": result.attempt.attempt_id,
        "probe_id": probe.id,
        "category": probe.category,
        "severity": probe.severity.value,
        "mutators": list(result.attempt.mutators),
        "strategy": result.attempt.strategy,
        "succeeded": result.succeeded,
        "error": result.error,
        "target_calls": result.requests,
        "attacker_tokens": result.attacker_tokens,
    }


def run_to_dict(run: RunResult) -> dict[str, Any]:
    """The ``report.json`` contract of ``run`` as plain Python values (see the module docstring)."""
    summary = run.summary
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run.run_id,
        "target": run.target,
        "seed": run.seed,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "summary": {
            "attempts": summary.attempts,
            "successes": summary.successes,
            "asr": round(summary.asr, 4),
            "errors": summary.errors,
            "by_category": {
                category: {"attempts": row.attempts, "successes": row.successes, "asr": round(row.asr, 4)}
                for category, row in summary.by_category.items()
            },
        },
        "budget": run.budget.to_dict() if run.budget is not None else None,
        "findings": [_finding(result) for result in run.findings],
        "attempts": [_attempt(result) for result in run.results],
    }


def render_json(run: RunResult) -> str:
    """``report.json`` as text: indented, UTF-8 safe, ending in a newline; same run -> same text."""
    return json_text(run_to_dict(run))


def write_json(run: RunResult, path: Path) -> Path:
    """Write ``report.json`` for ``run`` to ``path`` and return ``path``."""
    path.write_bytes(render_json(run).encode("utf-8"))
    return path


def load_run_json(path: Path) -> dict[str, Any]:
    """Read a ``report.json`` written by :func:`write_json`.

    Raises :class:`ConfigError` naming the file when it cannot be read, is not JSON or lacks a required
    key (``run_id``, ``target``, ``summary``, ``findings``) or has a newer ``schema_version``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a readable red-team report ({type(error).__name__})") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a red-team report must be a JSON object")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise ConfigError(f"{path}: red-team report lacks {', '.join(missing)}")
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ConfigError(f"{path}: unsupported schema_version {version!r}")
    return data


@dataclass(frozen=True, slots=True, order=True)
class DiffEntry:
    """A probe with its mutator chain whose outcome changed between two runs."""

    probe_id: str
    mutators: tuple[str, ...]
    category: str
    severity: str


@dataclass(frozen=True, slots=True)
class RunDiff:
    """What changed from run A to run B, keyed by probe id and mutator chain.

    ``regressions`` succeeded in B but not in A (including keys A did not attempt: a new finding);
    ``fixes`` succeeded in A and were attempted in B without success (a finding of A that B did not
    attempt is not a fix). ``still_succeeding`` / ``still_failing`` count keys attempted in both with the
    same outcome; ``only_in_a`` / ``only_in_b`` count keys attempted in one run only.
    """

    regressions: tuple[DiffEntry, ...]
    fixes: tuple[DiffEntry, ...]
    still_succeeding: int
    still_failing: int
    only_in_a: int
    only_in_b: int

    def to_dict(self) -> dict[str, Any]:
        def entries(items: tuple[DiffEntry, ...]) -> list[dict[str, Any]]:
            return [
                {"probe_id": e.probe_id, "mutators": list(e.mutators), "category": e.category,
                 "severity": e.severity}
                for e in items
            ]  # fmt: skip

        return {
            "regressions": entries(self.regressions),
            "fixes": entries(self.fixes),
            "still_succeeding": self.still_succeeding,
            "still_failing": self.still_failing,
            "only_in_a": self.only_in_a,
            "only_in_b": self.only_in_b,
        }


_Key = tuple[str, tuple[str, ...]]


def _outcomes(report: Mapping[str, Any]) -> tuple[dict[_Key, bool], dict[_Key, DiffEntry]]:
    """Per (probe id, mutators): whether any attempt succeeded, and how to describe the key."""
    rows: Sequence[Mapping[str, Any]] = report.get("attempts") or [
        {**finding, "succeeded": True} for finding in report["findings"]
    ]
    outcome: dict[_Key, bool] = {}
    described: dict[_Key, DiffEntry] = {}
    for row in rows:
        key = (str(row["probe_id"]), tuple(str(m) for m in row.get("mutators", ())))
        outcome[key] = outcome.get(key, False) or bool(row.get("succeeded"))
        described.setdefault(
            key, DiffEntry(key[0], key[1], str(row.get("category", "")), str(row.get("severity", "")))
        )
    return outcome, described


def diff_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> RunDiff:
    """Compare two loaded reports (:func:`load_run_json`), A the baseline and B the new run.

    A key counts as succeeded when any of its attempts succeeded. Reports without an ``attempts`` list
    are compared by their findings alone (then every finding missing from the other run counts as a
    fix or a regression). Entries are sorted by probe id and mutators.
    """
    outcome_a, described_a = _outcomes(a)
    outcome_b, described_b = _outcomes(b)
    has_attempts_a, has_attempts_b = bool(a.get("attempts")), bool(b.get("attempts"))
    regressions: list[DiffEntry] = []
    fixes: list[DiffEntry] = []
    still_succeeding = still_failing = only_in_a = only_in_b = 0
    for key in outcome_a.keys() | outcome_b.keys():
        in_a = key in outcome_a or not has_attempts_a
        in_b = key in outcome_b or not has_attempts_b
        won_a, won_b = outcome_a.get(key, False), outcome_b.get(key, False)
        only_in_a += not in_b
        only_in_b += not in_a
        if won_b and not won_a:
            regressions.append(described_b[key])
        elif won_a and not won_b and in_b:
            fixes.append(described_a[key])
        elif in_a and in_b and won_a == won_b:
            if won_a:
                still_succeeding += 1
            else:
                still_failing += 1
    return RunDiff(
        regressions=tuple(sorted(regressions)),
        fixes=tuple(sorted(fixes)),
        still_succeeding=still_succeeding,
        still_failing=still_failing,
        only_in_a=only_in_a,
        only_in_b=only_in_b,
    )
