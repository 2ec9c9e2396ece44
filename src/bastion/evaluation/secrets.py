"""Evaluating secret scanners on a labelled set: ours and detect-secrets, side by side.

A labelled set is JSON lines ``{"id", "kind", "format", "text", "secrets": [{"type", "start", "end"}]}``
(see ``benchmarks/data/secrets/make_secrets_set.py``). A *scanner* maps a row to found spans
``(type, start, end)``. Scores per kind and overall:

* text level: recall on texts holding a secret, false-positive rate on texts holding none;
* span level, overlap: a found span counts when it overlaps a labelled secret (types ignored, because
  detect-secrets names types differently and reports only part of some tokens);
* span level, exact: type and span must match exactly (meaningful for our detector only).

detect-secrets is an optional anchor (``pip install bastion-ai[anchors]``); it is imported only by
:class:`DetectSecretsScanner`. It scans files, so each text is written to a temporary file named after
the row's format (its parsers and keyword patterns depend on the file extension).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from bastion.core.errors import ConfigError, UsageError
from bastion.core.types import Policy
from bastion.evaluation.jsonl import read_jsonl
from bastion.evaluation.metrics import SpanMetrics, span_metrics

__all__ = [
    "DetectSecretsScanner",
    "FoundSpan",
    "LabelledSecret",
    "LabelledText",
    "ScannerScores",
    "SecretScanner",
    "bastion_scanner",
    "load_labelled_texts",
    "recall_by_type",
    "run_scanner",
    "score",
    "score_by_kind",
]

#: ``(type, start, end)`` of one found or labelled secret
FoundSpan = tuple[str, int, int]
#: maps a labelled row to what a scanner found in its text
SecretScanner = Callable[["LabelledText"], list[FoundSpan]]

#: file names detect-secrets sees for each row format
FILE_NAMES = {
    "env": ".env",
    "yaml": "config.yaml",
    "json": "config.json",
    "ini": "config.ini",
    "properties": "application.properties",
    "toml": "pyproject.toml",
    "tfvars": "terraform.tfvars",
    "conf": "rclone.conf",
    "xml": "web.config.xml",
    "netrc": ".netrc",
    "pgpass": ".pgpass",
    "dockerfile": "Dockerfile",
    "log": "app.log",
    "txt": "message.txt",
}


@dataclass(frozen=True, slots=True)
class LabelledSecret:
    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One row of a labelled set."""

    id: str
    kind: str
    format: str
    text: str
    secrets: tuple[LabelledSecret, ...]


def load_labelled_texts(path: Path | str) -> list[LabelledText]:
    """Read a labelled JSON-lines set; raises :class:`ConfigError` naming the line on bad rows."""
    rows: list[LabelledText] = []
    for number, raw in read_jsonl(path):
        try:
            secrets = tuple(LabelledSecret(s["type"], int(s["start"]), int(s["end"])) for s in raw["secrets"])
            rows.append(LabelledText(raw["id"], raw["kind"], raw.get("format", "txt"), raw["text"], secrets))
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"{path}:{number}: invalid row ({type(error).__name__})") from error
    return rows


def bastion_scanner(policy: Policy = Policy.BALANCED) -> SecretScanner:
    """Our secrets detector as a scanner: the flagged detections of ``SecretsDetector(policy)``."""
    from bastion.detect.secrets import SecretsDetector

    detector = SecretsDetector(policy=policy)

    def scan(row: LabelledText) -> list[FoundSpan]:
        return [
            (d.type, d.span.start, d.span.end)
            for d in detector.detect(row.text)
            if d.flagged and d.span is not None
        ]

    return scan


class DetectSecretsScanner:
    """detect-secrets 1.x with its default plugins and filters, one temporary file per text.

    Use as a context manager: it holds detect-secrets' global settings and a temporary folder.
    ``unlocated`` counts reported secrets whose value could not be found again in the text (they are
    kept as text-level hits with an empty span).
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._folder: Path | None = None
        self._scan_file: Callable[[str], Iterable[Any]] | None = None
        self.unlocated = 0

    def __enter__(self) -> DetectSecretsScanner:
        try:
            from detect_secrets.core.scan import scan_file
            from detect_secrets.settings import default_settings
        except ImportError as error:
            raise UsageError("detect-secrets is not installed (pip install 'bastion-ai[anchors]')") from error
        self._stack.enter_context(default_settings())
        self._folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="bastion-ds-")))
        self._scan_file = scan_file
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stack.close()

    def __call__(self, row: LabelledText) -> list[FoundSpan]:
        if self._folder is None or self._scan_file is None:
            raise UsageError("use DetectSecretsScanner as a context manager")
        name = FILE_NAMES.get(row.format, f"source.{row.format}")
        path = self._folder / name
        path.write_text(row.text, encoding="utf-8")
        found = list(self._scan_file(str(path)))
        return self._locate(row.text, found)

    def _locate(self, text: str, found: Sequence[Any]) -> list[FoundSpan]:
        lines = text.split("\n")
        line_starts = [0]
        for line in lines[:-1]:
            line_starts.append(line_starts[-1] + len(line) + 1)
        cursors: dict[int, int] = {}
        spans: list[FoundSpan] = []
        for secret in found:
            value = secret.secret_value or ""
            number = int(secret.line_number) - 1
            start = -1
            if 0 <= number < len(lines) and value:
                start = lines[number].find(value, cursors.get(number, 0))
                if start >= 0:
                    cursors[number] = start + len(value)
                    start += line_starts[number]
            if start < 0 and value:
                start = text.find(value)
            if start < 0:
                self.unlocated += 1
                spans.append((str(secret.type), 0, 0))
            else:
                spans.append((str(secret.type), start, start + len(value)))
        return spans


@dataclass(frozen=True, slots=True)
class ScannerScores:
    """Text- and span-level scores of one scanner on a group of rows."""

    texts_with_secrets: int
    texts_without_secrets: int
    text_recall: float
    text_false_positive_rate: float
    span_overlap: SpanMetrics
    span_exact: SpanMetrics

    def to_dict(self) -> dict[str, float | int]:
        return {
            "texts_with_secrets": self.texts_with_secrets,
            "texts_without_secrets": self.texts_without_secrets,
            "text_recall": round(self.text_recall, 4),
            "text_false_positive_rate": round(self.text_false_positive_rate, 4),
            "span_precision": round(self.span_overlap.precision, 4),
            "span_recall": round(self.span_overlap.recall, 4),
            "span_exact_precision": round(self.span_exact.precision, 4),
            "span_exact_recall": round(self.span_exact.recall, 4),
        }


def run_scanner(rows: Sequence[LabelledText], scanner: SecretScanner) -> list[list[FoundSpan]]:
    """What ``scanner`` finds in each row, in row order."""
    return [scanner(row) for row in rows]


def _sum(metrics: Iterator[SpanMetrics]) -> SpanMetrics:
    tp = fp = fn = 0
    for item in metrics:
        tp, fp, fn = tp + item.true_positives, fp + item.false_positives, fn + item.false_negatives
    return SpanMetrics(true_positives=tp, false_positives=fp, false_negatives=fn)


def score(rows: Sequence[LabelledText], found: Sequence[Sequence[FoundSpan]]) -> ScannerScores:
    """Text- and span-level scores of ``found`` (one list per row) against the labels."""
    if len(rows) != len(found):
        raise UsageError("one list of found spans per row is needed")
    positives = [i for i, row in enumerate(rows) if row.secrets]
    negatives = [i for i, row in enumerate(rows) if not row.secrets]
    hits = sum(1 for i in positives if found[i])
    false_alarms = sum(1 for i in negatives if found[i])
    overlap = _sum(
        span_metrics(
            [("secret", s.start, s.end) for s in row.secrets],
            [("secret", start, end) for _type, start, end in spans],
            overlap=True,
        )
        for row, spans in zip(rows, found, strict=True)
    )
    exact = _sum(
        span_metrics([(s.type, s.start, s.end) for s in row.secrets], list(spans))
        for row, spans in zip(rows, found, strict=True)
    )
    return ScannerScores(
        texts_with_secrets=len(positives),
        texts_without_secrets=len(negatives),
        text_recall=hits / len(positives) if positives else float("nan"),
        text_false_positive_rate=false_alarms / len(negatives) if negatives else float("nan"),
        span_overlap=overlap,
        span_exact=exact,
    )


def score_by_kind(
    rows: Sequence[LabelledText], found: Sequence[Sequence[FoundSpan]]
) -> dict[str, ScannerScores]:
    """:func:`score` for each ``kind`` of row, in order of first appearance."""
    kinds = list(dict.fromkeys(row.kind for row in rows))
    result: dict[str, ScannerScores] = {}
    for kind in kinds:
        indices = [i for i, row in enumerate(rows) if row.kind == kind]
        result[kind] = score([rows[i] for i in indices], [found[i] for i in indices])
    return result


def recall_by_type(
    rows: Sequence[LabelledText], found: Sequence[Sequence[FoundSpan]]
) -> dict[str, tuple[int, int]]:
    """For each labelled type ``(found, total)``; a secret counts as found when any found span overlaps it."""
    counts: dict[str, list[int]] = {}
    for row, spans in zip(rows, found, strict=True):
        for secret in row.secrets:
            entry = counts.setdefault(secret.type, [0, 0])
            entry[1] += 1
            if any(start < secret.end and secret.start < end for _type, start, end in spans):
                entry[0] += 1
    return {name: (hit, total) for name, (hit, total) in sorted(counts.items())}
