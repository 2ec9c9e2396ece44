"""Evaluating the output-leakage detector on a labelled set of assistant answers.

    PYTHONPATH=src python -m bastion.evaluation.leakage benchmarks/data/leakage/leakage.jsonl

A row is ``{"id", "lang", "text", "context": {"protected_texts", "canaries", "allowed_domains"},
"leaks": [{"type", "start", "end"}]}`` (see ``benchmarks/data/leakage/make_leakage_set.py``). Label types
are the detector's, with ``SECRET`` and ``PII`` standing for every ``SECRET:*`` / ``PII:*`` type. For each
type: text-level precision and recall (a text counts as predicted when a *flagged* detection of that type
is in it) and span precision and recall (a found span counts when it overlaps a label of that type).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bastion.core.errors import ConfigError
from bastion.core.types import Detection, Policy
from bastion.detect.base import BaseDetector, ScanContext
from bastion.evaluation.jsonl import read_jsonl
from bastion.evaluation.metrics import BinaryMetrics, SpanMetrics, binary_metrics, span_metrics

__all__ = [
    "DEFAULT_SET",
    "LeakageCase",
    "TypeScores",
    "category",
    "evaluate_leakage",
    "load_leakage_cases",
    "main",
]

DEFAULT_SET = Path("benchmarks/data/leakage/leakage.jsonl")


@dataclass(frozen=True, slots=True)
class LeakageCase:
    """One labelled assistant answer with the scan context it was produced under."""

    id: str
    lang: str
    text: str
    context: ScanContext
    leaks: tuple[tuple[str, int, int], ...]
    split: str = ""


@dataclass(frozen=True, slots=True)
class TypeScores:
    """Scores of one leak type: text level (``texts``) and span level (``spans``, overlap matching)."""

    type: str
    texts: BinaryMetrics
    spans: SpanMetrics

    def to_dict(self) -> dict[str, float | int]:
        return {
            "texts_with_leak": self.texts.n_positive,
            "text_precision": round(self.texts.precision, 4),
            "text_recall": round(self.texts.recall, 4),
            "span_precision": round(self.spans.precision, 4),
            "span_recall": round(self.spans.recall, 4),
        }


def load_leakage_cases(path: Path | str) -> list[LeakageCase]:
    """Read a labelled leakage set; raises :class:`ConfigError` naming the line of a bad row."""
    cases: list[LeakageCase] = []
    for number, raw in read_jsonl(path):
        try:
            context = ScanContext(
                protected_texts=tuple(raw["context"].get("protected_texts", ())),
                canaries=tuple(raw["context"].get("canaries", ())),
                allowed_domains=tuple(raw["context"].get("allowed_domains", ())),
            )
            leaks = tuple((leak["type"], int(leak["start"]), int(leak["end"])) for leak in raw["leaks"])
            split = raw.get("split", "")
            cases.append(LeakageCase(raw["id"], raw.get("lang", ""), raw["text"], context, leaks, split))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ConfigError(f"{path}:{number}: invalid row ({type(error).__name__})") from error
    return cases


def category(detection_type: str) -> str:
    """The label type a detection type is scored under: ``SECRET:JWT`` -> ``SECRET``."""
    return detection_type.split(":", 1)[0]


def evaluate_leakage(cases: Sequence[LeakageCase], detector: BaseDetector) -> dict[str, TypeScores]:
    """Per-type scores of ``detector`` on ``cases``, plus ``"ALL"`` over every type."""
    found: list[list[Detection]] = [
        [d for d in detector.detect(case.text, case.context) if d.flagged and d.span is not None]
        for case in cases
    ]
    types = sorted(
        {leak[0] for case in cases for leak in case.leaks} | {category(d.type) for f in found for d in f}
    )
    scores = {name: _scores(name, cases, found) for name in types}
    scores["ALL"] = _scores(None, cases, found)
    return scores


def _scores(name: str | None, cases: Sequence[LeakageCase], found: Sequence[list[Detection]]) -> TypeScores:
    labels: list[bool] = []
    predicted: list[float] = []
    tp = fp = fn = 0
    for case, detections in zip(cases, found, strict=True):
        gold = [("leak", start, end) for kind, start, end in case.leaks if name in (None, kind)]
        spans = [
            ("leak", d.span.start, d.span.end)
            for d in detections
            if d.span is not None and name in (None, category(d.type))
        ]
        labels.append(bool(gold))
        predicted.append(1.0 if spans else 0.0)
        counts = span_metrics(gold, spans, overlap=True)
        tp, fp, fn = tp + counts.true_positives, fp + counts.false_positives, fn + counts.false_negatives
    spans_total = SpanMetrics(true_positives=tp, false_positives=fp, false_negatives=fn)
    return TypeScores(name or "ALL", binary_metrics(labels, predicted, threshold=0.5), spans_total)


def main(argv: Sequence[str] | None = None) -> int:
    """Print per-type precision and recall of the leakage detector; ``--json`` writes them to a file."""
    from bastion.detect.leakage import LeakageDetector

    parser = argparse.ArgumentParser(description="Evaluate the output-leakage detector on a labelled set.")
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_SET)
    parser.add_argument("--policy", choices=[p.value for p in Policy], default=Policy.BALANCED.value)
    parser.add_argument("--json", type=Path, help="write the scores to this file")
    args = parser.parse_args(argv)

    cases = load_leakage_cases(args.path)
    detector = LeakageDetector(policy=Policy(args.policy))
    groups = {"all": list(cases)}
    for split in sorted({case.split for case in cases if case.split}):
        groups[split] = [case for case in cases if case.split == split]
    by_split: dict[str, dict[str, dict[str, float | int]]] = {}
    for group, members in groups.items():
        scores = evaluate_leakage(members, detector)
        by_split[group] = {name: result.to_dict() for name, result in scores.items()}
        print(f"\n{group}: {len(members)} answers, policy {args.policy}")
        print(f"{'type':24} {'texts':>5} {'text P':>7} {'text R':>7} {'span P':>7} {'span R':>7}")
        for name, row in by_split[group].items():
            print(
                f"{name:24} {row['texts_with_leak']:5d} {row['text_precision']:7.3f} "
                f"{row['text_recall']:7.3f} {row['span_precision']:7.3f} {row['span_recall']:7.3f}"
            )
    if args.json:
        payload = {"policy": args.policy, "rows": len(cases), "splits": by_split}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
