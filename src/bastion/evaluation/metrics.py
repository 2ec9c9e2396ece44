"""Metrics for detectors: classification quality, span quality and latency. Pure numpy, no sklearn."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BinaryMetrics",
    "LatencyStats",
    "SliceResult",
    "SpanMetrics",
    "binary_metrics",
    "measure_latency",
    "recall_at_fpr",
    "roc_auc",
    "slice_result",
    "span_metrics",
    "threshold_at_fpr",
]


@dataclass(frozen=True, slots=True)
class BinaryMetrics:
    n_positive: int
    n_negative: int
    precision: float
    recall: float
    f1: float
    fpr: float
    roc_auc: float
    recall_at_1pct_fpr: float
    recall_at_01pct_fpr: float


@dataclass(frozen=True, slots=True)
class SpanMetrics:
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class LatencyStats:
    count: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    ms_per_1000_chars: float
    per_second: float


def roc_auc(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (ties count half), the Mann-Whitney U statistic."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=float)
    sorted_scores = s[order]
    # average ranks over ties
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(s)]))
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def threshold_at_fpr(negative_scores: Sequence[float] | np.ndarray, fpr: float) -> float:
    """The lowest threshold (flag when ``score >= threshold``) whose false-positive rate is ``<= fpr``."""
    neg = np.sort(np.asarray(negative_scores, dtype=float))[::-1]
    if len(neg) == 0:
        return 0.5
    allowed = int(np.floor(fpr * len(neg)))
    if allowed >= len(neg):
        return float(neg[-1])
    # flag strictly above the (allowed+1)-th highest negative score
    return float(np.nextafter(neg[allowed], np.inf))


def recall_at_fpr(
    labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray, fpr: float
) -> float:
    """Recall at the threshold that keeps the false-positive rate at or below ``fpr``."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if not y.any():
        return float("nan")
    threshold = threshold_at_fpr(s[~y], fpr)
    return float((s[y] >= threshold).mean())


def binary_metrics(
    labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float
) -> BinaryMetrics:
    """Precision, recall, F1 and FPR at ``threshold`` plus threshold-free AUC and recall at fixed FPR."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    predicted = s >= threshold
    tp = int((predicted & y).sum())
    fp = int((predicted & ~y).sum())
    fn = int((~predicted & y).sum())
    tn = int((~predicted & ~y).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return BinaryMetrics(
        n_positive=int(y.sum()),
        n_negative=int((~y).sum()),
        precision=precision,
        recall=recall,
        f1=f1,
        fpr=fp / (fp + tn) if fp + tn else float("nan"),
        roc_auc=roc_auc(y, s),
        recall_at_1pct_fpr=recall_at_fpr(y, s, 0.01),
        recall_at_01pct_fpr=recall_at_fpr(y, s, 0.001),
    )


@dataclass(frozen=True, slots=True)
class SliceResult:
    """Quality on one named slice at a threshold, plus threshold-free AUC and recall at fixed FPRs."""

    name: str
    positives: int
    negatives: int
    precision: float
    recall: float
    f1: float
    fpr: float
    roc_auc: float
    recall_at_1pct_fpr: float
    recall_at_01pct_fpr: float


def slice_result(
    name: str, labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float
) -> SliceResult:
    """:func:`binary_metrics` of one slice, named."""
    metrics = binary_metrics(labels, scores, threshold)
    return SliceResult(
        name,
        metrics.n_positive,
        metrics.n_negative,
        metrics.precision,
        metrics.recall,
        metrics.f1,
        metrics.fpr,
        metrics.roc_auc,
        metrics.recall_at_1pct_fpr,
        metrics.recall_at_01pct_fpr,
    )


def span_metrics(
    gold: Iterable[tuple[str, int, int]], predicted: Iterable[tuple[str, int, int]], *, overlap: bool = False
) -> SpanMetrics:
    """Entity-level counts: a prediction is right when type and span match exactly (or overlap).

    Items are ``(type, start, end)`` tuples for one document; sum several :class:`SpanMetrics` by hand
    or call this with document-qualified types.
    """
    gold_list = list(gold)
    unmatched = list(predicted)
    tp = 0
    for g_type, g_start, g_end in gold_list:
        for index, (p_type, p_start, p_end) in enumerate(unmatched):
            same = (p_start, p_end) == (g_start, g_end)
            if p_type == g_type and (same or (overlap and p_start < g_end and g_start < p_end)):
                tp += 1
                del unmatched[index]
                break
    return SpanMetrics(true_positives=tp, false_positives=len(unmatched), false_negatives=len(gold_list) - tp)


def measure_latency(
    function: Callable[[str], object], texts: Sequence[str], *, warmup: int = 20
) -> LatencyStats:
    """Time ``function`` on each text once (after a warm-up) with ``perf_counter_ns``."""
    for text in texts[:warmup]:
        function(text)
    timings = np.empty(len(texts), dtype=float)
    for index, text in enumerate(texts):
        start = time.perf_counter_ns()
        function(text)
        timings[index] = (time.perf_counter_ns() - start) / 1e6
    total_chars = sum(len(t) for t in texts) or 1
    total_ms = float(timings.sum()) or 1e-9
    return LatencyStats(
        count=len(texts),
        p50_ms=float(np.percentile(timings, 50)),
        p99_ms=float(np.percentile(timings, 99)),
        mean_ms=float(timings.mean()),
        ms_per_1000_chars=total_ms * 1000 / total_chars,
        per_second=len(texts) / (total_ms / 1000),
    )
