"""AI vendors: questionnaire scoring with reasons, and required-clause checks of contracts (EN/DE).

The questionnaire (``data/govern/vendor_questionnaire.yaml``) and the clause patterns
(``data/govern/contract_clauses.yaml``) are data. Contracts are read as paragraphs with their position:
``page N, paragraph M`` for PDF (pypdf), ``paragraph M`` for DOCX (python-docx), text and Markdown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from bastion.core.errors import InputError, UpstreamError
from bastion.core.yamlfile import MAX_YAML_BYTES as MAX_BYTES
from bastion.core.yamlfile import read_text_file
from bastion.govern._data import load_data

__all__ = [
    "ClauseResult",
    "ContractResult",
    "Paragraph",
    "QuestionResult",
    "VendorAnswers",
    "VendorResult",
    "assess_vendor",
    "check_contract",
    "check_paragraphs",
    "load_answers",
    "read_paragraphs",
]

#: paragraphs longer than this are cut before matching (bounded regex time)
MAX_PARAGRAPH = 5000
MAX_PARAGRAPHS = 20000
_GERMAN = re.compile(r"\b(der|die|das|und|nicht|wird|werden|Vertrag|Auftragsverarbeiter|Daten)\b")
_ENGLISH = re.compile(r"\b(the|and|not|shall|will|agreement|processor|data)\b", re.I)


class VendorAnswers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vendor: str
    assessed_at: dt.date | None = None
    answers: dict[str, Any]


@dataclass(frozen=True, slots=True)
class QuestionResult:
    id: str
    question: str
    answer: object
    points: int
    maximum: int
    reason: str
    ref: str
    blocker: bool = False


@dataclass(frozen=True, slots=True)
class VendorResult:
    vendor: str
    assessed_at: dt.date | None
    items: tuple[QuestionResult, ...]

    @property
    def score(self) -> int:
        return sum(i.points for i in self.items)

    @property
    def maximum(self) -> int:
        return sum(i.maximum for i in self.items)

    @property
    def rating(self) -> str:
        if any(i.blocker for i in self.items):
            return "unacceptable"
        thresholds = load_data("vendor_questionnaire.yaml")["ratings"]
        share = self.score / self.maximum if self.maximum else 0.0
        if share >= float(thresholds["good"]):
            return "good"
        if share >= float(thresholds["acceptable"]):
            return "acceptable"
        return "poor"

    def to_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "assessed_at": self.assessed_at.isoformat() if self.assessed_at else None,
            "score": self.score,
            "maximum": self.maximum,
            "rating": self.rating,
            "items": [
                {
                    "id": i.id,
                    "question": i.question,
                    "answer": i.answer,
                    "points": i.points,
                    "maximum": i.maximum,
                    "reason": i.reason,
                    "ref": i.ref,
                    "blocker": i.blocker,
                }
                for i in self.items
            ],
        }


def load_answers(path: Path) -> VendorAnswers:
    """A vendor's answers file (YAML or JSON)."""
    try:
        data = yaml.safe_load(read_text_file(path))
    except yaml.YAMLError as error:
        raise InputError(f"{path}: not valid YAML or JSON") from error
    try:
        return VendorAnswers.model_validate(data)
    except ValueError as error:
        raise InputError(
            f"{path}: expected {{vendor, assessed_at, answers: {{...}}}} ({error.__class__.__name__})"
        ) from None


def _score(scoring: Mapping[str, Any], answer: object) -> tuple[int, int]:
    kind = scoring["kind"]
    if kind == "bool":
        points = int(scoring["points"])
        return (points if answer is scoring["good"] else 0), points
    maximum = int(scoring["maximum"])
    if kind in ("max", "min"):
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            return 0, maximum
        for bound, points in scoring["steps"]:
            if (kind == "max" and answer <= bound) or (kind == "min" and answer >= bound):
                return int(points), maximum
        return 0, maximum
    if kind == "choice":
        return int(scoring["points"].get(str(answer).lower(), 0)), maximum
    if kind == "list":
        items = (
            {str(a).lower().replace(" ", "").replace("-", "") for a in answer}
            if isinstance(answer, list)
            else set()
        )
        return min(maximum, sum(int(p) for k, p in scoring["points"].items() if k in items)), maximum
    raise InputError(f"unknown scoring kind {kind!r}")


def assess_vendor(answers: VendorAnswers) -> VendorResult:
    """Score every question; unanswered questions score 0 with the reason 'not answered'."""
    items: list[QuestionResult] = []
    for question in load_data("vendor_questionnaire.yaml")["questions"]:
        answer = answers.answers.get(question["id"])
        points, maximum = _score(question["scoring"], answer)
        if answer is None:
            reason = "not answered"
        else:
            reason = question["reason_good"] if points == maximum else question["reason_bad"]
        blocker = bool(question.get("blocker")) and answer is not None and points == 0
        items.append(
            QuestionResult(
                question["id"], question["text"], answer, points, maximum, reason, question["ref"], blocker
            )
        )
    return VendorResult(answers.vendor, answers.assessed_at, tuple(items))


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    location: str


@dataclass(frozen=True, slots=True)
class ClauseResult:
    id: str
    title: str
    ref: str
    status: str
    quote: str = ""
    location: str = ""


@dataclass(frozen=True, slots=True)
class ContractResult:
    source: str
    language: str
    clauses: tuple[ClauseResult, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "language": self.language,
            "clauses": [
                {
                    "id": c.id,
                    "title": c.title,
                    "ref": c.ref,
                    "status": c.status,
                    "quote": c.quote,
                    "location": c.location,
                }
                for c in self.clauses
            ],
        }


def _split(text: str, prefix: str = "") -> list[Paragraph]:
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return [
        Paragraph(" ".join(b.split()), f"{prefix}paragraph {i}")
        for i, b in enumerate(blocks[:MAX_PARAGRAPHS], 1)
    ]


def read_paragraphs(path: Path) -> list[Paragraph]:
    """Paragraphs of a .txt/.md, .pdf or .docx contract with their page and paragraph numbers."""
    suffix = path.suffix.lower()
    if suffix in (".txt", ".md", ".text", ""):
        return _split(read_text_file(path))
    if path.stat().st_size > 4 * MAX_BYTES:
        raise InputError(f"{path}: over {4 * MAX_BYTES} bytes")
    if suffix == ".pdf":
        try:
            from pypdf import PdfReader
            from pypdf.errors import PdfReadError
        except ImportError as error:
            raise UpstreamError("PDF contracts need pypdf: pip install 'bastion-ai[govern]'") from error
        try:
            reader = PdfReader(str(path))
            paragraphs: list[Paragraph] = []
            for number, page in enumerate(reader.pages, 1):
                paragraphs += _split(page.extract_text() or "", f"page {number}, ")
            return paragraphs
        except (PdfReadError, ValueError, KeyError) as error:
            raise InputError(f"{path}: not a readable PDF ({type(error).__name__})") from None
    if suffix == ".docx":
        try:
            import docx
        except ImportError as error:
            raise UpstreamError(
                "DOCX contracts need python-docx: pip install 'bastion-ai[govern]'"
            ) from error
        try:
            document = docx.Document(str(path))
        except Exception as error:  # python-docx raises zipfile, KeyError and its own errors on bad files
            raise InputError(f"{path}: not a readable DOCX ({type(error).__name__})") from None
        texts = [" ".join(p.text.split()) for p in document.paragraphs]
        return [Paragraph(t, f"paragraph {i}") for i, t in enumerate(texts, 1) if t][:MAX_PARAGRAPHS]
    raise InputError(f"{path}: unsupported contract format {suffix!r} (txt, md, pdf, docx)")


@cache
def _clauses() -> tuple[tuple[dict[str, Any], tuple[re.Pattern[str], ...], tuple[re.Pattern[str], ...]], ...]:
    data = load_data("contract_clauses.yaml")
    return tuple(
        (
            entry,
            tuple(re.compile(p, re.I) for p in entry["patterns"]),
            tuple(re.compile(p, re.I) for p in entry.get("weak", [])),
        )
        for entry in data["clauses"]
    )


@cache
def _hedges() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.I) for p in load_data("contract_clauses.yaml")["hedges"])


def _quote(paragraph: str, match: re.Match[str]) -> str:
    start = max(paragraph.rfind(". ", 0, match.start()) + 2, 0) if ". " in paragraph[: match.start()] else 0
    end = paragraph.find(". ", match.end())
    return paragraph[start : (end + 1 if end != -1 else len(paragraph))][:400]


def check_paragraphs(paragraphs: Sequence[Paragraph]) -> list[ClauseResult]:
    """Each required clause: present (quote and place), weak (hedged or only a weak form) or missing."""
    results: list[ClauseResult] = []
    for entry, strong, weak in _clauses():
        found: ClauseResult | None = None
        fallback: ClauseResult | None = None
        for paragraph in paragraphs:
            text = paragraph.text[:MAX_PARAGRAPH]
            match = next((m for p in strong if (m := p.search(text))), None)
            if match is not None:
                hedged = any(h.search(text) for h in _hedges())
                status = "weak" if hedged else "present"
                candidate = ClauseResult(
                    entry["id"], entry["title"], entry["ref"], status, _quote(text, match), paragraph.location
                )
                if status == "present":
                    found = candidate
                    break
                fallback = fallback or candidate
                continue
            weak_match = next((m for p in weak if (m := p.search(text))), None)
            if weak_match is not None and fallback is None:
                fallback = ClauseResult(
                    entry["id"],
                    entry["title"],
                    entry["ref"],
                    "weak",
                    _quote(text, weak_match),
                    paragraph.location,
                )
        results.append(
            found or fallback or ClauseResult(entry["id"], entry["title"], entry["ref"], "missing")
        )
    return results


def check_contract(path: Path) -> ContractResult:
    """Read a contract and check every required clause."""
    paragraphs = read_paragraphs(path)
    sample = " ".join(p.text for p in paragraphs[:200])
    german, english = len(_GERMAN.findall(sample)), len(_ENGLISH.findall(sample))
    language = "de" if german > english else "en" if english else "unknown"
    return ContractResult(str(path.name), language, tuple(check_paragraphs(paragraphs)))
