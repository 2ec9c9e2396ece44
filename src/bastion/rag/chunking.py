"""Cutting a document into retrievable chunks that keep their headings.

A document is read as *sections*: a section starts at a Markdown heading (``# Payment``) or an FAQ
question (``Q: ...``, ``Frage: ...``, or a short line of its own that ends with ``?``) and runs to the next
one; text before the first heading is a section without a heading. Sections are cut at paragraph, then
sentence, then word boundaries into bodies of at most ``max_chars`` characters, and every chunk of a
section starts with the section's heading, so a chunk never loses the question or title it answers.
Consecutive chunks of one section share up to ``overlap_chars`` characters (the previous chunk's last
sentence), and whole small sections are packed together while a chunk is shorter than ``min_chars``.

The result is deterministic: the same text and :class:`ChunkingConfig` always give the same chunk texts,
and :func:`chunk_document` numbers them from 0 with ids ``<doc_id>#<position>``.

>>> texts = split_text("# Payment\\n\\nPay by bank transfer.\\n\\n# Contact\\n\\nCall us.")
>>> texts
['Payment\\n\\nPay by bank transfer.\\n\\nContact\\n\\nCall us.']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from bastion.rag.types import Chunk, Document

__all__ = ["ChunkingConfig", "Section", "chunk_document", "chunk_id", "sections", "split_text"]

_MARKDOWN_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<title>\S.*?)\s*#*\s*$")
_QUESTION_PREFIX = re.compile(r"^\s*(?:\*\*)?\s*(?:Q|F|Frage|Question|FAQ)\s*[:.)]\s*\S", re.IGNORECASE)
_EMPHASIS = re.compile(r"^\s*(?:\*\*|__)(?P<inner>.*?)(?:\*\*|__)\s*$")
#: a sentence ends after ., !, ? or … (optionally closed by a quote or bracket) followed by white space
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’»)\]]*\s+")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
#: a stand-alone question line longer than this is treated as a paragraph, not a heading
MAX_QUESTION_HEADING_CHARS = 200


@dataclass(frozen=True, slots=True)
class ChunkingConfig:
    """Sizes in characters. ``min_chars`` = 0 never packs sections together."""

    min_chars: int = 400
    max_chars: int = 900
    overlap_chars: int = 150
    max_heading_chars: int = 200

    def __post_init__(self) -> None:
        if self.max_chars < 100:
            raise ValueError("max_chars must be at least 100")
        if not 0 <= self.min_chars <= self.max_chars:
            raise ValueError("min_chars must lie in [0, max_chars]")
        if not 0 <= self.overlap_chars <= self.max_chars // 3:
            raise ValueError("overlap_chars must lie in [0, max_chars / 3]")
        if not 0 < self.max_heading_chars <= self.max_chars // 3:
            raise ValueError("max_heading_chars must lie in (0, max_chars / 3]")


DEFAULT_CONFIG = ChunkingConfig()


@dataclass(frozen=True, slots=True)
class Section:
    """A heading (empty for text before the first one) and the paragraphs under it."""

    heading: str
    paragraphs: tuple[str, ...]


def chunk_id(doc_id: str, position: int) -> str:
    """The deterministic id of the chunk at ``position`` of document ``doc_id``."""
    return f"{doc_id}#{position}"


def chunk_document(
    document: Document, ingested_at: str, config: ChunkingConfig = DEFAULT_CONFIG
) -> list[Chunk]:
    """The chunks of ``document`` with their provenance (ids, sha256 of each text, ``ingested_at``)."""
    return [
        Chunk(
            chunk_id=chunk_id(document.doc_id, position),
            doc_id=document.doc_id,
            tenant_id=document.tenant_id,
            acl=document.acl,
            text=text,
            position=position,
            source=document.source,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            ingested_at=ingested_at,
            title=document.title,
            language=document.language,
        )
        for position, text in enumerate(split_text(document.text, config))
    ]


def split_text(text: str, config: ChunkingConfig = DEFAULT_CONFIG) -> list[str]:
    """The chunk texts of ``text``, each at most ``config.max_chars`` long, none empty."""
    pieces: list[str] = []
    for section in sections(text):
        pieces.extend(_section_chunks(section, config))
    return _pack(pieces, config) if config.min_chars else pieces


def sections(text: str) -> list[Section]:
    """``text`` as sections; headings lose their Markdown markers, paragraphs their surrounding space."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found: list[Section] = []
    heading = ""
    paragraphs: list[str] = []
    current: list[str] = []

    def end_paragraph() -> None:
        paragraph = "\n".join(current).strip()
        if paragraph:
            paragraphs.append(paragraph)
        current.clear()

    for index, line in enumerate(lines):
        starts_block = index == 0 or not lines[index - 1].strip()
        title = _heading_title(line, starts_block)
        if title is not None:
            end_paragraph()
            if heading or paragraphs:
                found.append(Section(heading, tuple(paragraphs)))
            heading, paragraphs = title, []
        elif line.strip():
            current.append(line.rstrip())
        else:
            end_paragraph()
    end_paragraph()
    if heading or paragraphs:
        found.append(Section(heading, tuple(paragraphs)))
    return found


def _heading_title(line: str, starts_block: bool) -> str | None:
    markdown = _MARKDOWN_HEADING.match(line)
    if markdown:
        return markdown.group("title")
    stripped = line.strip()
    if not stripped or len(stripped) > MAX_QUESTION_HEADING_CHARS:
        return None
    emphasis = _EMPHASIS.match(stripped)
    plain = emphasis.group("inner").strip() if emphasis else stripped
    if _QUESTION_PREFIX.match(stripped):
        return plain
    if starts_block and plain.endswith("?"):
        return plain
    return None


def _section_chunks(section: Section, config: ChunkingConfig) -> Iterator[str]:
    heading = section.heading[: config.max_heading_chars].strip()
    prefix = f"{heading}\n\n" if heading else ""
    budget = config.max_chars - len(prefix)
    if not section.paragraphs:
        if heading:
            yield heading
        return
    body = ""
    for unit, separator in _units(section.paragraphs, budget):
        candidate = f"{body}{separator}{unit}" if body else unit
        if len(candidate) <= budget:
            body = candidate
            continue
        yield prefix + body
        overlap = _overlap(body, config.overlap_chars, budget - len(unit) - 1)
        body = f"{overlap} {unit}" if overlap else unit
    if body:
        yield prefix + body


def _units(paragraphs: tuple[str, ...], budget: int) -> Iterator[tuple[str, str]]:
    """Paragraphs that fit, else their sentences, else word-bounded slices; each with its separator."""
    for paragraph in paragraphs:
        if len(paragraph) <= budget:
            yield paragraph, "\n\n"
            continue
        for index, sentence in enumerate(_sentences(paragraph)):
            separator = "\n\n" if index == 0 else " "
            for slice_index, piece in enumerate(_slices(sentence, budget)):
                yield piece, separator if slice_index == 0 else " "


def _sentences(paragraph: str) -> list[str]:
    return [sentence.strip() for sentence in _SENTENCE_END.split(paragraph) if sentence.strip()]


def _slices(sentence: str, budget: int) -> Iterator[str]:
    """``sentence`` cut at white space into pieces of at most ``budget`` characters."""
    rest = sentence
    while len(rest) > budget:
        cut = rest.rfind(" ", budget // 2, budget + 1)
        if cut <= 0:
            cut = budget
        yield rest[:cut].strip()
        rest = rest[cut:].strip()
    if rest:
        yield rest


def _overlap(body: str, overlap_chars: int, room: int) -> str:
    """The end of ``body`` to repeat in the next chunk: its last sentence, or its last words."""
    limit = min(overlap_chars, room)
    if limit <= 0:
        return ""
    sentences = _sentences(body.replace("\n\n", " "))
    last = sentences[-1] if sentences else ""
    if len(last) <= limit and len(last) < len(body):
        return last
    tail = body[-limit:]
    space = tail.find(" ")
    return tail[space + 1 :].strip() if space >= 0 else ""


def _pack(pieces: list[str], config: ChunkingConfig) -> list[str]:
    """Join consecutive pieces while the growing chunk is below ``min_chars`` and fits ``max_chars``."""
    packed: list[str] = []
    for piece in pieces:
        if packed and len(packed[-1]) < config.min_chars:
            joined = f"{packed[-1]}\n\n{piece}"
            if len(joined) <= config.max_chars:
                packed[-1] = joined
                continue
        packed.append(piece)
    return packed
