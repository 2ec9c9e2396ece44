"""Evaluating PII detection on labelled JSONL sets: per type and per language, exact and overlap spans.

A set is a JSONL file with one text per line::

    {"id": "de-t001", "lang": "de", "text": "...", "entities": [{"type": "IBAN", "start": 12, "end": 39}]}

:func:`evaluate_pii` scores Bastion's ``pii`` detector (its flagged detections at a policy);
:func:`evaluate_predictor` scores anything that maps a text to ``(type, start, end)`` triples, such as the
Presidio anchor from :func:`presidio_predictor`. Precision, recall and F1 come from
:func:`bastion.evaluation.metrics.span_metrics` (exact span match, and any-overlap match), latency from
:func:`bastion.evaluation.metrics.measure_latency`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.core.errors import ConfigError
from bastion.core.types import Policy
from bastion.evaluation.jsonl import read_jsonl
from bastion.evaluation.metrics import LatencyStats, SpanMetrics, measure_latency, span_metrics

__all__ = [
    "AnchorUnavailableError",
    "PIIExample",
    "PIIReport",
    "Predictor",
    "TypeScores",
    "evaluate_pii",
    "evaluate_predictor",
    "load_pii_set",
    "presidio_predictor",
]

#: a text in, ``(type, start, end)`` triples out
Predictor = Callable[[str], Iterable[tuple[str, int, int]]]

#: Presidio entity names -> Bastion types (only the pattern recognisers that run without a spaCy model)
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "EMAIL",
    "IBAN_CODE": "IBAN",
    "CREDIT_CARD": "CREDIT_CARD",
    "IP_ADDRESS": "IP_ADDRESS",
    "PHONE_NUMBER": "PHONE",
    "DE_TAX_ID": "TAX_ID",
}


class AnchorUnavailableError(RuntimeError):
    """An anchor (a third-party detector to compare with) cannot run here; the message says why."""


@dataclass(frozen=True, slots=True)
class PIIExample:
    """One labelled text."""

    id: str
    lang: str
    text: str
    entities: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class TypeScores:
    """Counts for one type (or one type in one language), exact and overlap span matching."""

    exact: SpanMetrics
    overlap: SpanMetrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "support": self.exact.true_positives + self.exact.false_negatives,
            "exact": _metrics_dict(self.exact),
            "overlap": _metrics_dict(self.overlap),
        }


@dataclass(frozen=True, slots=True)
class Mistake:
    """A missed or spurious entity (offsets only: the sets hold fake data, reports never copy text)."""

    id: str
    kind: str  # "missed" or "spurious" (exact matching)
    type: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PIIReport:
    """Scores of one predictor on one set."""

    name: str
    dataset: str
    texts: int
    types: tuple[str, ...]
    by_type: dict[str, TypeScores]
    by_language: dict[str, dict[str, TypeScores]]
    overall: TypeScores
    latency: LatencyStats | None = None
    mistakes: tuple[Mistake, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "name": self.name,
            "dataset": self.dataset,
            "texts": self.texts,
            "types": list(self.types),
            "overall": self.overall.to_dict(),
            "by_type": {name: scores.to_dict() for name, scores in self.by_type.items()},
            "by_language": {
                lang: {name: scores.to_dict() for name, scores in table.items()}
                for lang, table in self.by_language.items()
            },
        }
        if self.latency is not None:
            result["latency"] = {
                "count": self.latency.count,
                "p50_ms": round(self.latency.p50_ms, 4),
                "p99_ms": round(self.latency.p99_ms, 4),
                "mean_ms": round(self.latency.mean_ms, 4),
                "ms_per_1000_chars": round(self.latency.ms_per_1000_chars, 4),
                "per_second": round(self.latency.per_second, 1),
            }
        return result


def _metrics_dict(metrics: SpanMetrics) -> dict[str, Any]:
    return {
        "tp": metrics.true_positives,
        "fp": metrics.false_positives,
        "fn": metrics.false_negatives,
        "precision": round(metrics.precision, 4),
        "recall": round(metrics.recall, 4),
        "f1": round(metrics.f1, 4),
    }


def _add(first: SpanMetrics, second: SpanMetrics) -> SpanMetrics:
    return SpanMetrics(
        true_positives=first.true_positives + second.true_positives,
        false_positives=first.false_positives + second.false_positives,
        false_negatives=first.false_negatives + second.false_negatives,
    )


_ZERO = SpanMetrics(0, 0, 0)


def load_pii_set(path: str | Path) -> list[PIIExample]:
    """Read a labelled JSONL set; offsets are checked against the text."""
    location = Path(path)
    examples = []
    for number, row in read_jsonl(location):
        try:
            text = str(row["text"])
            entities = tuple((str(e["type"]), int(e["start"]), int(e["end"])) for e in row["entities"])
            example = PIIExample(str(row["id"]), str(row["lang"]), text, entities)
        except (ValueError, KeyError, TypeError) as error:
            raise ConfigError(f"{location}:{number}: not a PII example ({type(error).__name__})") from error
        if any(not 0 <= start < end <= len(text) for _, start, end in entities):
            raise ConfigError(f"{location}:{number}: entity offsets outside the text")
        examples.append(example)
    return examples


def evaluate_predictor(
    examples: Sequence[PIIExample],
    predict: Predictor,
    *,
    name: str,
    dataset: str = "",
    types: Iterable[str] | None = None,
    timed: Callable[[str], object] | None = None,
) -> PIIReport:
    """Score ``predict`` on ``examples`` for ``types`` (default: every type in the gold labels).

    Predictions and gold entities of other types are ignored, so an anchor is only judged on what it
    claims to find. ``timed`` (default ``predict``) is what the latency measurement calls.
    """
    wanted = (
        tuple(types) if types is not None else tuple(sorted({e[0] for ex in examples for e in ex.entities}))
    )
    wanted_set = set(wanted)
    exact: dict[tuple[str, str], SpanMetrics] = {}
    overlap: dict[tuple[str, str], SpanMetrics] = {}
    mistakes: list[Mistake] = []
    for example in examples:
        predicted = [p for p in predict(example.text) if p[0] in wanted_set]
        gold = [g for g in example.entities if g[0] in wanted_set]
        for entity_type in wanted:
            gold_of_type = [g for g in gold if g[0] == entity_type]
            predicted_of_type = [p for p in predicted if p[0] == entity_type]
            key = (example.lang, entity_type)
            exact[key] = _add(exact.get(key, _ZERO), span_metrics(gold_of_type, predicted_of_type))
            overlap[key] = _add(
                overlap.get(key, _ZERO), span_metrics(gold_of_type, predicted_of_type, overlap=True)
            )
        gold_set, predicted_set = set(gold), set(predicted)
        mistakes.extend(
            Mistake(example.id, "missed", *g) for g in sorted(gold_set - predicted_set, key=_by_start)
        )
        mistakes.extend(
            Mistake(example.id, "spurious", *p) for p in sorted(predicted_set - gold_set, key=_by_start)
        )
    languages = sorted({example.lang for example in examples})
    by_language = {
        lang: {t: TypeScores(exact.get((lang, t), _ZERO), overlap.get((lang, t), _ZERO)) for t in wanted}
        for lang in languages
    }
    by_type = {
        t: TypeScores(
            _sum(exact.get((lang, t), _ZERO) for lang in languages),
            _sum(overlap.get((lang, t), _ZERO) for lang in languages),
        )
        for t in wanted
    }
    overall = TypeScores(_sum(s.exact for s in by_type.values()), _sum(s.overlap for s in by_type.values()))
    function = timed if timed is not None else predict
    latency = measure_latency(function, [example.text for example in examples]) if examples else None
    return PIIReport(
        name=name,
        dataset=dataset,
        texts=len(examples),
        types=wanted,
        by_type=by_type,
        by_language=by_language,
        overall=overall,
        latency=latency,
        mistakes=tuple(mistakes),
    )


def _by_start(item: tuple[str, int, int]) -> tuple[int, int, str]:
    return (item[1], item[2], item[0])


def _sum(items: Iterable[SpanMetrics]) -> SpanMetrics:
    total = _ZERO
    for item in items:
        total = _add(total, item)
    return total


def evaluate_pii(path: str | Path, *, policy: Policy = Policy.BALANCED) -> PIIReport:
    """Score Bastion's ``pii`` detector (flagged detections at ``policy``) on the set at ``path``."""
    from bastion.detect.pii import BUILTIN_TYPES, PIIDetector

    detector = PIIDetector(policy=policy)

    def predict(text: str) -> list[tuple[str, int, int]]:
        return [
            (d.type, d.span.start, d.span.end)
            for d in detector.detect(text)
            if d.flagged and d.span is not None
        ]

    examples = load_pii_set(path)
    return evaluate_predictor(
        examples,
        predict,
        name=f"bastion pii ({policy.value})",
        dataset=Path(path).name,
        types=BUILTIN_TYPES,
        timed=detector.detect,
    )


def presidio_predictor(threshold: float = 0.0) -> tuple[Predictor, tuple[str, ...]]:
    """Presidio's pattern recognisers as a predictor, and the Bastion types they cover.

    Calls the predefined recognisers directly (no ``AnalyzerEngine``, so no spaCy model is needed):
    e-mail, IBAN, credit card, IP, phone (``phonenumbers``, regions DE, GB, US and others) and the German
    tax ID recogniser, which Presidio ships but leaves off by default. Presidio has no recogniser for
    names without an NLP model, nor for BIC, street addresses or dates of birth. Raises
    :class:`AnchorUnavailableError` when ``presidio-analyzer`` is not installed.
    """
    try:
        from presidio_analyzer.predefined_recognizers import (
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
        )
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise AnchorUnavailableError(f"presidio-analyzer is not installed ({error})") from error
    # tldextract (used by the e-mail recogniser) tries to download the public suffix list first and
    # falls back to its bundled copy; the failed download is logged as an error we do not need.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)
    recognisers: list[Any] = [
        EmailRecognizer(),
        IbanRecognizer(),
        CreditCardRecognizer(),
        IpRecognizer(),
        PhoneRecognizer(supported_regions=("DE", "GB", "US", "AT", "CH", "FR", "NL", "PL", "TR", "IT", "ES")),
    ]
    try:
        from presidio_analyzer.predefined_recognizers import DeTaxIdRecognizer

        recognisers.append(DeTaxIdRecognizer(supported_language="en"))
    except ImportError:  # pragma: no cover - older Presidio versions
        pass
    covered = tuple(
        sorted({PRESIDIO_TYPES[e] for r in recognisers for e in r.supported_entities if e in PRESIDIO_TYPES})
    )

    def predict(text: str) -> list[tuple[str, int, int]]:
        found: list[tuple[str, int, int]] = []
        for recogniser in recognisers:
            for result in recogniser.analyze(
                text, entities=recogniser.supported_entities, nlp_artifacts=None
            ):
                mapped = PRESIDIO_TYPES.get(result.entity_type)
                if mapped is not None and result.score >= threshold:
                    found.append((mapped, int(result.start), int(result.end)))
        return found

    return predict, covered
