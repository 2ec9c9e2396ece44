"""Deterministic red-team judges on their labelled check set: precision, recall and accuracy per judge.

    PYTHONPATH=src python benchmarks/bench_judges.py

Reads ``datasets/redteam/judge_labels.jsonl`` (our own transcripts, EN and DE), runs the judge each row
names and compares ``succeeded`` with the label. Prints a table and writes ``benchmarks/results/judges.md``
and ``judges.json``. The set was written together with the judges' patterns, so the figures are a
regression check, not a held-out estimate.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.core.types import Role
from bastion.evaluation.machine import describe_machine
from bastion.redteam.judges import get_judge
from bastion.redteam.types import JudgeContext, ToolCallRecord, Transcript, Turn

ROOT = Path(__file__).resolve().parent
LABELS = ROOT.parent / "datasets" / "redteam" / "judge_labels.jsonl"
RESULTS = ROOT / "results"

__all__ = ["LabelledTranscript", "evaluate", "load_labelled", "main"]


@dataclass(frozen=True, slots=True)
class LabelledTranscript:
    id: str
    judge: str
    transcript: Transcript
    context: JudgeContext
    label: bool


def _turn(raw: Mapping[str, Any]) -> Turn:
    calls = tuple(
        ToolCallRecord(call["name"], dict(call.get("arguments", {})), call.get("status", "requested"))
        for call in raw.get("tool_calls", [])
    )
    return Turn(Role(raw["role"]), raw["content"], calls)


def _context(raw: Mapping[str, Any]) -> JudgeContext:
    return JudgeContext(
        canaries=tuple(raw.get("canaries", ())),
        protected_texts=tuple(raw.get("protected_texts", ())),
        allowed_domains=tuple(raw.get("allowed_domains", ())),
        allowed_tools={
            tool: {argument: frozenset(values) for argument, values in arguments.items()}
            for tool, arguments in raw.get("allowed_tools", {}).items()
        },
        tools_known=bool(raw.get("tools_known", False)),
        own_values=frozenset(raw.get("own_values", ())),
        foreign_markers=tuple(raw.get("foreign_markers", ())),
    )


def load_labelled(path: Path = LABELS) -> list[LabelledTranscript]:
    """Every row of the labelled set, parsed into the red team's types."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            transcript = Transcript(tuple(_turn(turn) for turn in raw["transcript"]))
            rows.append(
                LabelledTranscript(
                    raw["id"], raw["judge"], transcript, _context(raw["context"]), raw["label"]
                )
            )
    return rows


def evaluate(rows: Sequence[LabelledTranscript]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per judge: counts, precision, recall, accuracy; and the ids of rows the judges got wrong."""
    table: dict[str, dict[str, Any]] = {}
    wrong: list[str] = []
    for row in rows:
        predicted = get_judge(row.judge).judge(row.transcript, row.context).succeeded
        cell = table.setdefault(row.judge, {"rows": 0, "tp": 0, "fp": 0, "fn": 0, "tn": 0})
        cell["rows"] += 1
        cell[("tp" if row.label else "fp") if predicted else ("fn" if row.label else "tn")] += 1
        if predicted != row.label:
            wrong.append(row.id)
    for cell in table.values():
        tp, fp, fn, tn = cell["tp"], cell["fp"], cell["fn"], cell["tn"]
        cell["precision"] = round(tp / (tp + fp), 4) if tp + fp else None
        cell["recall"] = round(tp / (tp + fn), 4) if tp + fn else None
        cell["accuracy"] = round((tp + tn) / cell["rows"], 4)
    return dict(sorted(table.items())), wrong


def _markdown(table: Mapping[str, Mapping[str, Any]], wrong: Sequence[str], meta: Mapping[str, Any]) -> str:
    machine = meta["machine"]
    lines = [
        "# Red-team judges on the labelled check set",
        "",
        f"Command: `{meta['command']}` — {meta['rows']} transcripts from "
        f"`datasets/redteam/judge_labels.jsonl`, {meta['seconds']:.2f} s in all. "
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, Python {machine['python']}, "
        f"load {machine['load_average_1min']}.",
        "",
        "Written together with the patterns: a regression check, not a held-out estimate.",
        "",
        "| judge | rows | TP | FP | FN | TN | precision | recall | accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for judge, cell in table.items():
        lines.append(
            f"| `{judge}` | {cell['rows']} | {cell['tp']} | {cell['fp']} | {cell['fn']} | {cell['tn']} | "
            f"{cell['precision']} | {cell['recall']} | {cell['accuracy']} |"
        )
    lines += ["", f"Misjudged rows: {', '.join(wrong) if wrong else 'none'}.", ""]
    return "\n".join(lines)


def main() -> None:
    rows = load_labelled()
    started = time.perf_counter()
    table, wrong = evaluate(rows)
    seconds = time.perf_counter() - started
    meta = {
        "command": "PYTHONPATH=src python benchmarks/bench_judges.py",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": len(rows),
        "seconds": round(seconds, 3),
        "machine": describe_machine(),
    }
    markdown = _markdown(table, wrong, meta)
    print(markdown)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "judges.md").write_text(markdown, encoding="utf-8")
    payload = {**meta, "judges": table, "misjudged": wrong}
    (RESULTS / "judges.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
