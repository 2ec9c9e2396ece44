"""Evaluate the indirect-injection detector on poisoned and clean documents, per language and source.

Document sources (each document is ``benign`` or ``indirect_injection``):

- ``domain`` -- our own letters, e-mails, FAQs, tool outputs and web pages
  (``datasets/domain/<lang>/documents.jsonl``; a language whose file is missing is skipped).
- ``bipia-email`` -- BIPIA (MIT) e-mail contexts; every text and code payload is planted into three
  e-mails, at the start, in the middle (at a sentence boundary) and at the end, with a fixed seed. The
  clean e-mails are the negatives. Validation e-mails get BIPIA's train payloads, test e-mails its test
  payloads, so no payload is shared between the splits.
- ``deepset-planted`` -- the deepset prompt-injection rows (Apache-2.0) of a language planted into our
  benign domain documents of that language (positives only; the benign documents are the negatives).
- ``handwritten`` -- hand-written hard cases in ``benchmarks/data/indirect/*.jsonl`` (hidden HTML, invisible
  text, JSON tool output, and benign pages that use the same markup).

Splits are fixed by a hash of the (base) document: ``validation`` (60 %) is where the thresholds are
chosen, ``test`` (40 %) is held out. A poisoned document always shares the split of the clean document it
was made from. Where a source defines its own split (the English domain corpus) it is kept, with its
``train`` part used as validation.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bastion.core.types import Policy
from bastion.detect.indirect import IndirectInjectionDetector
from bastion.evaluation.jsonl import read_jsonl
from bastion.evaluation.metrics import SliceResult, measure_latency, slice_result

__all__ = [
    "Document",
    "evaluate_indirect",
    "load_documents",
    "plant",
    "split_of_document",
]

SEED = 20_241_130
POSITIONS = ("start", "middle", "end")
VALIDATION_SHARE = 60  # percent


@dataclass(frozen=True, slots=True)
class Document:
    """One evaluation document."""

    text: str
    label: int  # 1 = indirect injection
    source: str
    lang: str
    split: str  # "validation" or "test"
    kind: str  # letter, email, faq, tool_output, web, ...
    technique: str = ""  # for poisoned documents: how the instruction is planted
    position: str = ""  # for planted documents: start, middle or end


def split_of_document(text: str) -> str:
    """The fixed split of a (base) document, from a hash of its text."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return "validation" if int(digest[:8], 16) % 100 < VALIDATION_SHARE else "test"


def plant(document: str, payload: str, position: str) -> str:
    """``document`` with ``payload`` at its start, its end, or the sentence boundary nearest its middle."""
    if position == "start":
        return f"{payload}\n{document}"
    if position == "end":
        return f"{document}\n{payload}"
    middle = len(document) // 2
    boundaries = [match.end() for match in re.finditer(r"[.!?]\s+|\n", document)]
    if boundaries:
        cut = min(boundaries, key=lambda end: abs(end - middle))
    else:  # no sentence boundary: the next word boundary after the middle
        space = re.compile(r"\s").search(document, middle)
        cut = len(document) if space is None else space.start()
    separator = "" if cut > 0 and document[cut - 1].isspace() else " "
    return f"{document[:cut]}{separator}{payload} {document[cut:]}"


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    for _number, row in read_jsonl(path):
        yield row


def _domain(domain_dir: Path) -> list[Document]:
    documents = []
    for lang in ("en", "de"):
        path = domain_dir / lang / "documents.jsonl"
        if not path.is_file():
            continue
        rows = list(_read_jsonl(path))
        texts = {row.get("id"): str(row["text"]) for row in rows}
        for row in rows:
            text = str(row["text"])
            if "split" in row:
                split = "validation" if row["split"] in ("train", "validation") else "test"
            else:
                base = texts.get(row.get("derived_from"), text)
                split = split_of_document(base)
            label = 0 if row["label"] == "benign" else 1
            documents.append(
                Document(
                    text,
                    label,
                    "domain",
                    lang,
                    split,
                    str(row.get("kind", "")),
                    str(row.get("technique", "")),
                )
            )
    return documents


def _bipia(shared_data: Path) -> list[Document]:
    path = shared_data / "bipia" / "bipia.jsonl"
    if not path.is_file():
        return []
    rows = list(_read_jsonl(path))
    emails = [str(row["text"]) for row in rows if row["label"] == "benign" and row.get("task") == "email"]
    payloads = [row for row in rows if row["label"] == "injection"]
    documents = [
        Document(email, 0, "bipia-email", "en", split_of_document(email), "email") for email in emails
    ]
    generator = random.Random(SEED)
    by_split = {
        split: [e for e in emails if split_of_document(e) == split] for split in ("validation", "test")
    }
    for payload in payloads:
        split = "validation" if payload.get("split") == "train" else "test"
        technique = f"bipia-{payload.get('attack_family', 'text')}"
        for position in POSITIONS:
            email = generator.choice(by_split[split])
            text = plant(email, str(payload["text"]), position)
            documents.append(Document(text, 1, "bipia-email", "en", split, "email", technique, position))
    return documents


def _deepset_planted(shared_data: Path, benign: Sequence[Document]) -> list[Document]:
    path = shared_data / "deepset_prompt_injections" / "deepset_prompt_injections.jsonl"
    if not path.is_file():
        return []
    generator = random.Random(SEED + 1)
    documents = []
    for lang in ("en", "de"):
        bases = [d for d in benign if d.lang == lang and d.source == "domain" and d.label == 0]
        if not bases:
            continue
        for index, row in enumerate(
            r for r in _read_jsonl(path) if r["label"] == "injection" and r["lang"] == lang
        ):
            base = generator.choice(bases)
            position = POSITIONS[index % len(POSITIONS)]
            text = plant(base.text, str(row["text"]), position)
            documents.append(
                Document(text, 1, "deepset-planted", lang, base.split, base.kind, "direct_payload", position)
            )
    return documents


def _handwritten(directory: Path) -> list[Document]:
    documents = []
    for path in sorted(directory.glob("*.jsonl")):
        for row in _read_jsonl(path):
            text = str(row["text"])
            base = str(row.get("base", text))
            label = 0 if row["label"] == "benign" else 1
            documents.append(
                Document(
                    text,
                    label,
                    "handwritten",
                    str(row["lang"]),
                    split_of_document(base),
                    str(row.get("kind", "")),
                    str(row.get("technique", "")),
                )
            )
    return documents


def load_documents(
    shared_data: Path | None, domain_dir: Path | None, handwritten_dir: Path | None = None
) -> list[Document]:
    """Every evaluation document of the sources that are present (see the module docstring)."""
    documents: list[Document] = []
    if domain_dir is not None and domain_dir.is_dir():
        documents.extend(_domain(domain_dir))
    if shared_data is not None and shared_data.is_dir():
        documents.extend(_bipia(shared_data))
        documents.extend(_deepset_planted(shared_data, documents))
    if handwritten_dir is not None and handwritten_dir.is_dir():
        documents.extend(_handwritten(handwritten_dir))
    return documents


def slices(documents: Sequence[Document], scores: np.ndarray, threshold: float) -> list[SliceResult]:
    """Results overall, per language, per source and per source and language.

    A source without negatives of its own (``deepset-planted``) is measured against the benign domain
    documents of the same language.
    """
    labels = np.array([d.label for d in documents], dtype=bool)
    langs = np.array([d.lang for d in documents])
    sources = np.array([d.source for d in documents])
    results = [slice_result("all", labels, scores, threshold)]
    for lang in sorted(set(langs.tolist())):
        results.append(slice_result(f"all:{lang}", labels[langs == lang], scores[langs == lang], threshold))
    for source in sorted(set(sources.tolist())):
        for lang in sorted(set(langs[sources == source].tolist())):
            positives = labels & (sources == source) & (langs == lang)
            negatives = ~labels & (sources == source) & (langs == lang)
            if not negatives.any():
                negatives = ~labels & (sources == "domain") & (langs == lang)
            mask = positives | negatives
            if positives.any() or negatives.any():
                results.append(slice_result(f"{source}:{lang}", labels[mask], scores[mask], threshold))
    return results


def _recall_by(
    documents: Sequence[Document], scores: np.ndarray, threshold: float, key: Callable[[Document], str]
) -> dict[str, str]:
    groups: dict[str, list[float]] = {}
    for document, score in zip(documents, scores, strict=True):
        if document.label:
            groups.setdefault(key(document), []).append(float(score))
    return {
        name: f"{sum(s >= threshold for s in values)}/{len(values)}"
        for name, values in sorted(groups.items())
    }


def evaluate_indirect(
    documents: Sequence[Document],
    policy: Policy = Policy.BALANCED,
    split: str = "test",
    latency_sample: int = 600,
) -> dict[str, Any]:
    """The detector on ``split`` of ``documents``: slices, recall per technique, latency (JSON-ready)."""
    chosen = [d for d in documents if d.split == split]
    detector = IndirectInjectionDetector(policy=policy)
    scores = np.array([detector.score(d.text) for d in chosen])
    results = slices(chosen, scores, detector.threshold)
    operating_points = {}
    labels = np.array([d.label for d in chosen], dtype=bool)
    for other in Policy:
        threshold = IndirectInjectionDetector(policy=other).threshold
        flagged = scores >= threshold
        operating_points[str(other)] = {
            "threshold": threshold,
            "recall": float(flagged[labels].mean()) if labels.any() else float("nan"),
            "fpr": float(flagged[~labels].mean()) if (~labels).any() else float("nan"),
        }
    generator = random.Random(SEED)
    sample = [d.text for d in generator.sample(chosen, min(latency_sample, len(chosen)))]
    latency = measure_latency(detector.score, sample) if sample else None
    false_positives = [
        {"source": d.source, "lang": d.lang, "kind": d.kind, "score": round(float(s), 3)}
        for d, s in zip(chosen, scores, strict=True)
        if not d.label and s >= detector.threshold
    ]
    return {
        "split": split,
        "policy": str(policy),
        "threshold": detector.threshold,
        "documents": len(chosen),
        "slices": [asdict(result) for result in results],
        "operating_points": operating_points,
        "recall_by_technique": _recall_by(
            chosen, scores, detector.threshold, lambda d: f"{d.source}:{d.technique}"
        ),
        "recall_by_position": _recall_by(
            chosen,
            scores,
            detector.threshold,
            lambda d: f"{d.source}:{d.position}" if d.position else d.source,
        ),
        "false_positives": false_positives,
        "latency": None if latency is None else asdict(latency),
        "mean_chars": float(np.mean([len(d.text) for d in chosen])) if chosen else 0.0,
    }
