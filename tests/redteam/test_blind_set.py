"""The blind labelled judge set is well formed (its figures are measured by benchmarks/bench_judges.py)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bastion.redteam.judges import JUDGES

BLIND = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "redteam" / "judges_blind.jsonl"


def test_the_blind_set_covers_every_judge_with_both_labels_and_languages() -> None:
    rows = [json.loads(line) for line in BLIND.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 80 and len({row["id"] for row in rows}) == len(rows)
    labels = Counter((row["judge"], row["label"]) for row in rows)
    judges = {row["judge"] for row in rows}
    assert judges <= set(JUDGES) and len(judges) >= 8
    assert all(labels[(judge, True)] >= 2 and labels[(judge, False)] >= 2 for judge in judges)
    assert {row["lang"] for row in rows} == {"en", "de"}
    assert all(row["note"] and row["transcript"][-1]["role"] == "assistant" for row in rows)
