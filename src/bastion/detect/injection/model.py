"""The shipped linear injection model: loading, window scoring and the span that drove a score.

The model file (``bastion/data/injection/model.npz``, numpy format, loaded with ``allow_pickle=False``)
holds the hashed feature weights, the bias, the hash size and the thresholds of each policy. It is
produced by ``scripts/train_injection.py``; see ``docs/detectors.md`` for how it was trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from bastion.core.errors import ConfigError
from bastion.core.types import Policy, Span
from bastion.detect.injection.features import positional_features

__all__ = ["POLICY_SCORES", "WINDOW", "LinearModel", "WindowScore", "load_model"]

#: the detector score at which each policy flags (model probabilities are mapped onto these)
POLICY_SCORES = {Policy.STRICT: 0.4, Policy.BALANCED: 0.5, Policy.PERMISSIVE: 0.6}
#: texts longer than this (normalised characters) are also scored window by window
WINDOW = 400
STRIDE = 200
#: long texts are featurised in chunks of this many characters to bound memory
CHUNK = 65_536


@dataclass(frozen=True, slots=True)
class WindowScore:
    """The best score of a text: probability, the window it came from and the span that drove it."""

    probability: float
    window: Span
    driver: Span


def _sigmoid(value: float) -> float:
    return float(1.0 / (1.0 + np.exp(-value)))


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression over hashed positional features."""

    weights: np.ndarray  # float32, 2**bits
    bias: float
    bits: int
    char_ngrams: tuple[int, ...]
    thresholds: dict[Policy, float]
    info: dict[str, Any]

    def calibrated(self, probability: float) -> float:
        """Map a model probability to the detector's risk score.

        The map is monotonic and piecewise linear, sending each policy's probability threshold to the fixed
        score of :data:`POLICY_SCORES`, so scores read the same across retrained models and signature rules
        (scored 0.85 and above) always sit above every policy threshold.
        """
        knots = [0.0]
        for policy in (Policy.STRICT, Policy.BALANCED, Policy.PERMISSIVE):
            knots.append(min(max(self.thresholds[policy], knots[-1] + 1e-6), 1.0 - 1e-6))
        scores = [0.0, *(POLICY_SCORES[p] for p in (Policy.STRICT, Policy.BALANCED, Policy.PERMISSIVE))]
        return float(np.interp(probability, [*knots, 1.0], [*scores, 1.0]))

    def score(self, text: str) -> WindowScore:
        """Score a normalised text: the whole text if short, else the best of its windows."""
        if len(text) <= WINDOW:
            return self._score_whole(text)
        best: WindowScore | None = None
        for chunk_start in range(0, len(text), CHUNK):
            # chunks overlap by one window so no window is lost at a boundary
            chunk = text[chunk_start : chunk_start + CHUNK + WINDOW]
            candidate = self._score_windows(chunk, chunk_start)
            if best is None or candidate.probability > best.probability:
                best = candidate
            if chunk_start + CHUNK + WINDOW >= len(text):
                break
        assert best is not None
        return best

    def _contributions(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Per position: summed weight of the features starting there, and how many start there."""
        features = positional_features(text, self.bits, self.char_ngrams)
        size = max(len(text), 1)
        weights = np.bincount(features.starts, weights=self.weights[features.buckets], minlength=size)
        counts = np.bincount(features.starts, minlength=size).astype(np.float64)
        return weights, counts

    def _score_whole(self, text: str) -> WindowScore:
        weights, counts = self._contributions(text)
        total = counts.sum()
        scale = 1.0 / np.sqrt(total) if total else 0.0
        probability = _sigmoid(self.bias + float(weights.sum()) * scale)
        window = Span(0, len(text))
        return WindowScore(probability, window, _driver(weights, window, text))

    def _score_windows(self, text: str, offset: int) -> WindowScore:
        weights, counts = self._contributions(text)
        weight_prefix = np.concatenate(([0.0], np.cumsum(weights)))
        count_prefix = np.concatenate(([0.0], np.cumsum(counts)))
        starts = np.arange(0, max(len(text) - WINDOW, 0) + 1, STRIDE)
        ends = np.minimum(starts + WINDOW, len(text))
        sums = weight_prefix[ends] - weight_prefix[starts]
        window_counts = np.maximum(count_prefix[ends] - count_prefix[starts], 1.0)
        logits = self.bias + sums / np.sqrt(window_counts)
        best = int(np.argmax(logits))
        window = Span(int(starts[best]), int(ends[best]))
        driver = _driver(weights, window, text)
        return WindowScore(
            _sigmoid(float(logits[best])),
            Span(window.start + offset, window.end + offset),
            Span(driver.start + offset, driver.end + offset),
        )


def _driver(weights: np.ndarray, window: Span, text: str) -> Span:
    """The run of positions inside ``window`` that contributes most above the window's average weight.

    Kadane's maximum-sum run over the centred weights (common features carry large weights that the bias
    offsets, so raw sums would favour long runs of ordinary text), widened to whole words of ``text``.
    """
    end_limit = min(window.end, len(weights))
    centred = weights[window.start : end_limit] - (
        weights[window.start : end_limit].mean() if end_limit > window.start else 0.0
    )
    best_sum, best = 0.0, Span(window.start, window.start)
    running, run_start = 0.0, window.start
    for offset, value in enumerate(centred.tolist()):
        index = window.start + offset
        if running <= 0.0:
            running, run_start = value, index
        else:
            running += value
        if running > best_sum:
            best_sum, best = running, Span(run_start, index + 1)
    if not len(best):
        return best
    start, end = best.start, min(best.end + 4, window.end)  # a feature at the last position spans a few more
    while start > window.start and not text[start - 1].isspace():
        start -= 1
    while end < window.end and not text[end].isspace():
        end += 1
    return Span(start, end)


def model_from_arrays(arrays: Any) -> LinearModel:
    """Build a model from the arrays of a model file (``np.load`` result or a dict)."""
    try:
        info = json.loads(str(arrays["info"]))
        thresholds = {Policy(name): float(value) for name, value in info["thresholds"].items()}
        return LinearModel(
            weights=np.asarray(arrays["weights"], dtype=np.float32),
            bias=float(arrays["bias"]),
            bits=int(arrays["bits"]),
            char_ngrams=tuple(int(n) for n in info["char_ngrams"]),
            thresholds=thresholds,
            info=info,
        )
    except (KeyError, ValueError, TypeError) as error:
        raise ConfigError(f"invalid injection model file: {error}") from error


@cache
def load_model(name: str = "model.npz") -> LinearModel:
    """The shipped model (loaded once per process; read-only afterwards, so thread-safe)."""
    resource = resources.files("bastion.data.injection").joinpath(name)
    try:
        with resource.open("rb") as handle, np.load(handle, allow_pickle=False) as arrays:
            return model_from_arrays({key: arrays[key] for key in arrays.files})
    except FileNotFoundError as error:
        raise ConfigError(f"injection model {name!r} is missing from the package") from error
