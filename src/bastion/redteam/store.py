"""The run store: every attempt's result is written to SQLite the moment it is judged.

An interrupted run loses nothing that finished; ``--resume RUN_ID`` plans the same attempts (same seed, same
probes) and skips those already stored. Records are JSON, so a report can be rebuilt from the store alone.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from types import MappingProxyType
from typing import Any

from bastion.core.errors import ConfigError, UsageError
from bastion.core.types import Role, Severity
from bastion.redteam.types import (
    Attempt,
    AttemptResult,
    JudgeVerdict,
    Probe,
    ToolCallRecord,
    Transcript,
    Turn,
)

__all__ = ["RunStore", "result_from_record", "result_to_record"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, target TEXT NOT NULL, seed INTEGER NOT NULL, settings TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL REFERENCES runs(run_id), attempt_id TEXT NOT NULL, position INTEGER NOT NULL,
    record TEXT NOT NULL, PRIMARY KEY (run_id, attempt_id)
);
"""


class RunStore:
    """Runs and their attempt results in one SQLite file (thread-safe)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._connection.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise ConfigError(f"cannot open the red-team run store {path}") from error
        self._lock = threading.Lock()

    def start(self, run_id: str, target: str, seed: int, settings: dict[str, Any], started_at: str) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO runs (run_id, target, seed, settings, started_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, target, seed, json.dumps(settings, sort_keys=True), started_at),
            )

    def run_info(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            row = self._connection.execute(
                "SELECT target, seed, settings, started_at, finished_at FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
        if row is None:
            raise UsageError(f"no run {run_id!r} in the store")
        return {
            "target": row[0],
            "seed": row[1],
            "settings": json.loads(row[2]),
            "started_at": row[3],
            "finished_at": row[4],
        }

    def save(self, run_id: str, position: int, result: AttemptResult) -> None:
        record = json.dumps(result_to_record(result), ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._connection.execute(
                "INSERT OR REPLACE INTO attempts (run_id, attempt_id, position, record) VALUES (?, ?, ?, ?)",
                (run_id, result.attempt.attempt_id, position, record),
            )

    def finish(self, run_id: str, finished_at: str) -> None:
        with self._lock:
            self._connection.execute(
                "UPDATE runs SET finished_at = ? WHERE run_id = ?", (finished_at, run_id)
            )

    def results(self, run_id: str) -> list[AttemptResult]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT record FROM attempts WHERE run_id = ? ORDER BY position", (run_id,)
            ).fetchall()
        return [result_from_record(json.loads(row[0])) for row in rows]

    def done(self, run_id: str) -> set[str]:
        with self._lock:
            rows = self._connection.execute("SELECT attempt_id FROM attempts WHERE run_id = ?", (run_id,))
            return {row[0] for row in rows.fetchall()}

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def result_to_record(result: AttemptResult) -> dict[str, Any]:
    probe = result.attempt.probe
    return {
        "attempt_id": result.attempt.attempt_id,
        "strategy": result.attempt.strategy,
        "attacker_tokens": result.attacker_tokens,
        "mutators": list(result.attempt.mutators),
        "turns": list(result.attempt.turns),
        "probe": {
            "id": probe.id,
            "category": probe.category,
            "title": probe.title,
            "severity": probe.severity.value,
            "language": probe.language,
            "turns": list(probe.turns),
            "judges": list(probe.judges),
            "atlas": list(probe.atlas),
            "goal": probe.goal,
            "setup": dict(probe.setup),
            "tags": list(probe.tags),
        },
        "transcript": {"turns": result.transcript.to_list(), "metadata": dict(result.transcript.metadata)},
        "verdicts": [verdict.to_dict() for verdict in result.verdicts],
        "succeeded": result.succeeded,
        "seconds": round(result.seconds, 3),
        "requests": result.requests,
        "error": result.error,
    }


def result_from_record(record: dict[str, Any]) -> AttemptResult:
    spec = record["probe"]
    probe = Probe(
        id=spec["id"],
        category=spec["category"],
        title=spec["title"],
        severity=Severity(spec["severity"]),
        language=spec["language"],
        turns=tuple(spec["turns"]),
        judges=tuple(spec["judges"]),
        atlas=tuple(spec["atlas"]),
        goal=spec["goal"],
        setup=MappingProxyType(dict(spec["setup"])),
        tags=tuple(spec["tags"]),
    )
    turns = tuple(
        Turn(
            Role(turn["role"]),
            turn["content"],
            tuple(
                ToolCallRecord(c["name"], c["arguments"], c["status"], c.get("result", {}))
                for c in turn["tool_calls"]
            ),
        )
        for turn in record["transcript"]["turns"]
    )
    return AttemptResult(
        attempt=Attempt(
            record["attempt_id"],
            probe,
            tuple(record["mutators"]),
            tuple(record["turns"]),
            str(record.get("strategy", "single")),
        ),
        transcript=Transcript(turns, MappingProxyType(dict(record["transcript"]["metadata"]))),
        verdicts=tuple(
            JudgeVerdict(v["judge"], v["succeeded"], v["score"], v["reason"]) for v in record["verdicts"]
        ),
        succeeded=record["succeeded"],
        seconds=record["seconds"],
        requests=record["requests"],
        error=record["error"],
        attacker_tokens=int(record.get("attacker_tokens", 0)),
    )
