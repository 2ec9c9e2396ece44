"""Evaluate the injection detector on the held-out test split, per source and per language.

Slices:

- ``customer:<lang>`` -- attacks of that language against benign customer traffic of that language
  (banking77, NLU++ and our domain messages): the product bar (recall at 1 % FPR).
- ``all:<lang>`` -- the same attacks against every benign text of that language (incl. xSID, deepset, XSTest).
- ``never-trained:<lang>`` -- attacks from sources we never train on (XSafety: research-use-only licence,
  labels by category, some rows harmless) against that language's customer traffic.
- per source -- the share flagged at the policy threshold (recall for attack sources, FPR for benign ones).

Anchors run on the same texts when installed: ``securevector-guardian-model`` (pure-Python TF-IDF model).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bastion.core.types import Policy
from bastion.detect.injection.detector import InjectionDetector
from bastion.detect.injection.model import load_model
from bastion.evaluation.datasets import Sample, load_injection_corpus
from bastion.evaluation.metrics import SliceResult, measure_latency, slice_result

__all__ = ["Scorer", "evaluate_injection", "guardian_scorer"]

Scorer = Callable[[str], float]


@dataclass
class ScorerReport:
    name: str
    threshold: float
    slices: list[SliceResult] = field(default_factory=list)
    sources: dict[str, float] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    size_bytes: int | None = None
    load_seconds: float | None = None


def _slice(name: str, positives: np.ndarray, negatives: np.ndarray, threshold: float) -> SliceResult:
    labels = np.concatenate((np.ones(len(positives), dtype=bool), np.zeros(len(negatives), dtype=bool)))
    return slice_result(name, labels, np.concatenate((positives, negatives)), threshold)


def _report(name: str, scorer: Scorer, threshold: float, samples: Sequence[Sample]) -> ScorerReport:
    scores = np.array([scorer(s.text) for s in samples])
    labels = np.array([s.label for s in samples], dtype=bool)
    langs = np.array([s.lang if s.lang in ("en", "de") else "other" for s in samples])
    customer = np.array([s.spec.customer_traffic for s in samples])
    report = ScorerReport(name, threshold)
    external = np.array([not s.spec.trainable for s in samples])
    report.slices.append(_slice("all", scores[labels], scores[~labels], threshold))
    for lang in ("en", "de", "other"):
        in_lang = langs == lang
        attacks = scores[labels & in_lang & ~external]
        customer_benign = scores[~labels & customer & in_lang]
        if len(attacks) and len(customer_benign):
            report.slices.append(_slice(f"customer:{lang}", attacks, customer_benign, threshold))
        if len(attacks) and (~labels & in_lang).any():
            report.slices.append(_slice(f"all:{lang}", attacks, scores[~labels & in_lang], threshold))
        held_out = scores[labels & in_lang & external]
        if len(held_out) and len(customer_benign):
            report.slices.append(_slice(f"never-trained:{lang}", held_out, customer_benign, threshold))
    for source in sorted({s.source for s in samples}):
        for label in (True, False):
            mask = np.array([s.source == source for s in samples]) & (labels == label)
            if mask.any():
                kind = "recall" if label else "fpr"
                report.sources[f"{source} ({kind}, n={int(mask.sum())})"] = float(
                    (scores[mask] >= threshold).mean()
                )
    texts = [s.text for s in samples[:2000]]
    report.latency = asdict(measure_latency(scorer, texts))
    return report


def guardian_scorer() -> tuple[Scorer, float, float] | None:
    """The SecureVector Guardian anchor: (scorer, threshold, load seconds), or ``None`` if not installed."""
    try:
        from svguardian import resolve_runtime
        from svguardian.model.pure_infer import PureGuardian
        from svguardian.window import predict_windowed
    except ImportError:
        return None
    started = time.perf_counter()
    guardian = PureGuardian.load(str(resolve_runtime(download=False)))
    load_seconds = time.perf_counter() - started

    def score(text: str) -> float:
        return float(predict_windowed(guardian, text)["malicious_score"])

    return score, float(guardian.threshold), load_seconds


def evaluate_injection(
    shared_data: Path,
    domain_dir: Path | None,
    policy: Policy = Policy.BALANCED,
    split: str = "test",
    anchors: bool = True,
) -> dict[str, Any]:
    """Our detector (and the anchors) on ``split``; a JSON-ready dict."""
    corpus = [s for s in load_injection_corpus(shared_data, domain_dir) if s.split == split]
    samples = [s for s in corpus if s.in_scope]
    plain_requests = [s for s in corpus if not s.in_scope]
    load_model.cache_clear()
    started = time.perf_counter()
    detector = InjectionDetector(policy=policy)
    load_seconds = time.perf_counter() - started
    ours = _report("bastion", detector.score, detector.threshold, samples)
    if plain_requests:
        flagged = sum(detector.score(s.text) >= detector.threshold for s in plain_requests)
        ours.sources[f"plain abuse requests, out of scope (recall, n={len(plain_requests)})"] = flagged / len(
            plain_requests
        )
    ours.load_seconds = load_seconds
    ours.size_bytes = len(resources.files("bastion.data.injection").joinpath("model.npz").read_bytes())
    reports = [ours]
    missing: list[str] = []
    if anchors:
        anchor = guardian_scorer()
        if anchor is None:
            missing.append("securevector-guardian-model (not installed: pip install 'bastion-ai[anchors]')")
        else:
            score, threshold, anchor_load = anchor
            report = _report("securevector-guardian", score, threshold, samples)
            report.load_seconds = anchor_load
            reports.append(report)
    return {
        "split": split,
        "policy": str(policy),
        "samples": len(samples),
        "reports": [asdict(r) for r in reports],
        "anchors_missing": missing,
    }
