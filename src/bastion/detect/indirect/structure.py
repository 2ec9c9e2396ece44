"""Find the parts of a document that a person does not see but a language model reads.

Poisoned documents hide their instructions where the reader's eye does not go: HTML and markdown
comments, elements styled invisible (``display:none``, zero font size, white text), ``hidden``
attributes, ``<script>``/``<template>`` bodies, ``<meta content>``, image alt texts and titles, Unicode tag
characters (invisible ASCII) and text interleaved with zero-width characters. Tool output carries them in
JSON string values; fenced code blocks come with the sentence that introduces them ("Add the following
snippet to your code:"). :func:`find_segments` returns each such part with its kind and its span in the
original text.

Every scan here runs in time linear in the text: regular expressions only use character classes that
stop at the next delimiter, closing tags are looked up in a precomputed index, and the number of
segments is capped (:data:`MAX_SEGMENTS`).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass
from enum import StrEnum

from bastion.core.types import Span

__all__ = ["MAX_SEGMENTS", "ZERO_WIDTH_CHARACTERS", "Segment", "SegmentKind", "find_segments", "segment_text"]

#: at most this many segments per document (the largest ones are kept when there are more)
MAX_SEGMENTS = 256
#: a hidden element's body is cut after this many characters
MAX_SEGMENT_CHARS = 20_000
#: the shortest segment text worth scoring (shorter ones cannot hold an instruction)
MIN_SEGMENT_CHARS = 12


class SegmentKind(StrEnum):
    """Where a segment hides. Every kind except ``JSON_VALUE`` is invisible to a human reader."""

    HTML_COMMENT = "html_comment"
    HIDDEN_ELEMENT = "hidden_element"
    SCRIPT = "script"
    META = "meta"
    ATTRIBUTE = "attribute"
    MARKDOWN_COMMENT = "markdown_comment"
    TAG_CHARACTERS = "tag_characters"
    ZERO_WIDTH = "zero_width"
    JSON_VALUE = "json_value"
    CODE_BLOCK = "code_block"

    @property
    def hidden(self) -> bool:
        """True for the kinds a human reader does not see."""
        return self not in (SegmentKind.JSON_VALUE, SegmentKind.CODE_BLOCK)


@dataclass(frozen=True, slots=True)
class Segment:
    """A part of the document with its kind; ``span`` covers the content, not the markup around it."""

    kind: SegmentKind
    span: Span


# An opening tag: the body stops at the next "<" or ">", so every character is scanned at most once.
_OPENING_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]{0,30})(\s[^<>]{0,4000})?>")
_CLOSING_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]{0,30})\s{0,10}>")
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|opacity\s*:\s*0(?:\.0\d*)?(?![\w.])"
    r"|font-size\s*:\s*(?:0(?:px|pt|em|rem|%)?|1px|0?\.\d{1,3}(?:px|pt))(?![\w.])"
    r"|(?<![-\w])color\s*:\s*(?:white|#fff(?:fff)?\b|rgb\(\s*255\s*,\s*255\s*,\s*255\s*\))"
    r"|(?:left|top|text-indent)\s*:\s*-\d{3,}|(?<![-\w])(?:height|width|max-height)\s*:\s*0(?:px)?\s*(?:;|$)",
    re.IGNORECASE,
)
_HIDDEN_ATTRIBUTE = re.compile(
    r"(?:^|\s)(?:hidden(?:\s*=\s*[\"']?[^\"'\s]*[\"']?)?(?=\s|$)|aria-hidden\s*=\s*[\"']?true)", re.IGNORECASE
)
_WHITE_FONT = re.compile(r"\bcolor\s*=\s*[\"']?(?:white|#fff(?:fff)?)\b", re.IGNORECASE)
_ATTRIBUTE_VALUE = re.compile(
    r"(?:^|\s)(alt|title|aria-label|content|data-[\w-]{1,30})\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.IGNORECASE
)
_BODY_TAGS = frozenset({"script", "noscript", "template"})
_MARKDOWN_COMMENT = re.compile(r"(?m)^[ \t]{0,3}\[(?://|comment|#|_)\]:[ \t]*(?:#|<>)[ \t]*[(\"']([^\n]*)")
_MARKDOWN_IMAGE_ALT = re.compile(r"!\[([^\[\]\n]{1,500})\]\(")
_JSON_STRING = re.compile(r'"((?:[^"\\\n]|\\.){1,20000})"(\s*:)?')
#: the zero-width characters that hide text (or glue words together)
ZERO_WIDTH_CHARACTERS = "\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e"
# a character followed by zero-width characters, three times or more ("I\u200cg\u200cn\u200co..."); the two
# classes are disjoint, so the match is unambiguous and linear
_INVISIBLE_RUN = re.compile(
    f"(?:[^{ZERO_WIDTH_CHARACTERS}][{ZERO_WIDTH_CHARACTERS}]+){{3,}}[^{ZERO_WIDTH_CHARACTERS}\\s]?"
)
_TAG_RUN = re.compile("[\U000e0000-\U000e007f]+")


def find_segments(text: str) -> list[Segment]:
    """Every hidden segment and JSON string value of ``text``, in order of position."""
    segments: list[Segment] = []
    if "<" in text:
        segments.extend(_html_comments(text))
        segments.extend(_html_elements(text))
    if "]:" in text:
        segments.extend(_markdown_comments(text))
    if "![" in text:
        segments.extend(
            Segment(SegmentKind.ATTRIBUTE, Span(match.start(1), match.end(1)))
            for match in _MARKDOWN_IMAGE_ALT.finditer(text)
        )
    if not text.isascii():
        segments.extend(_invisible_text(text))
    if "```" in text:
        segments.extend(_code_blocks(text))
    if '"' in text and _looks_like_json(text):
        segments.extend(_json_values(text))
    kept = [
        segment for segment in segments if len(segment.span) >= MIN_SEGMENT_CHARS or _is_smuggled(segment)
    ]
    if len(kept) > MAX_SEGMENTS:
        kept = sorted(kept, key=lambda segment: -len(segment.span))[:MAX_SEGMENTS]
    return sorted(set(kept), key=lambda segment: (segment.span.start, segment.span.end, segment.kind))


def _is_smuggled(segment: Segment) -> bool:
    return segment.kind in (SegmentKind.TAG_CHARACTERS, SegmentKind.ZERO_WIDTH)


def _html_comments(text: str) -> list[Segment]:
    """``<!-- ... -->`` bodies; an unclosed comment runs to the end of the text (as browsers read it)."""
    found: list[Segment] = []
    position = text.find("<!--")
    while position != -1 and len(found) < MAX_SEGMENTS:
        body_start = position + 4
        end = text.find("-->", body_start)
        body_end = len(text) if end == -1 else end
        found.append(
            Segment(SegmentKind.HTML_COMMENT, Span(body_start, min(body_end, body_start + MAX_SEGMENT_CHARS)))
        )
        if end == -1:
            break
        position = text.find("<!--", end + 3)
    return found


class _ClosingTags:
    """Positions of every closing tag by name, so finding the end of an element is a binary search."""

    def __init__(self, text: str) -> None:
        self._starts: dict[str, list[int]] = {}
        self._ends: dict[str, list[int]] = {}
        for match in _CLOSING_TAG.finditer(text):
            name = match.group(1).lower()
            self._starts.setdefault(name, []).append(match.start())
            self._ends.setdefault(name, []).append(match.end())

    def after(self, name: str, position: int) -> int | None:
        """Where the first ``</name>`` at or after ``position`` starts, or ``None``."""
        starts = self._starts.get(name, [])
        index = bisect.bisect_left(starts, position)
        return starts[index] if index < len(starts) else None


def _html_elements(text: str) -> list[Segment]:
    """Bodies of hidden elements and of script-like elements, and the text of telling attributes."""
    found: list[Segment] = []
    closing: _ClosingTags | None = None
    for match in _OPENING_TAG.finditer(text):
        if len(found) >= MAX_SEGMENTS:
            break
        name = match.group(1).lower()
        attributes = match.group(2) or ""
        for attribute in _ATTRIBUTE_VALUE.finditer(attributes):
            if attribute.group(1).lower() == "content" and name != "meta":
                continue
            group = 2 if attribute.group(2) is not None else 3
            offset = match.start(2)
            kind = SegmentKind.META if name == "meta" else SegmentKind.ATTRIBUTE
            found.append(Segment(kind, Span(offset + attribute.start(group), offset + attribute.end(group))))
        hides = name in _BODY_TAGS or _hides(name, attributes)
        if not hides:
            continue
        closing = closing or _ClosingTags(text)
        end = closing.after(name, match.end())
        body_end = min(len(text) if end is None else end, match.end() + MAX_SEGMENT_CHARS)
        kind = SegmentKind.SCRIPT if name in _BODY_TAGS else SegmentKind.HIDDEN_ELEMENT
        found.append(Segment(kind, Span(match.end(), body_end)))
    return found


def _hides(name: str, attributes: str) -> bool:
    if not attributes:
        return False
    if _HIDDEN_ATTRIBUTE.search(attributes) or (name == "font" and _WHITE_FONT.search(attributes)):
        return True
    style = re.search(r"style\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", attributes, re.IGNORECASE)
    return style is not None and _HIDING_STYLE.search(style.group(1) or style.group(2) or "") is not None


def _markdown_comments(text: str) -> list[Segment]:
    """Link-reference comments such as ``[//]: # (text)`` that markdown renderers drop."""
    found: list[Segment] = []
    for match in _MARKDOWN_COMMENT.finditer(text):
        body = match.group(1).rstrip()
        closing = len(body) - len(body.rstrip(")\"'"))
        found.append(
            Segment(
                SegmentKind.MARKDOWN_COMMENT,
                Span(match.start(1), match.start(1) + len(body) - min(closing, 1)),
            )
        )
    return found


def _invisible_text(text: str) -> list[Segment]:
    """Runs of Unicode tag characters, and text whose letters are interleaved with zero-width characters."""
    found = [Segment(SegmentKind.TAG_CHARACTERS, Span(m.start(), m.end())) for m in _TAG_RUN.finditer(text)]
    if any(character in text for character in ZERO_WIDTH_CHARACTERS):
        found.extend(
            Segment(SegmentKind.ZERO_WIDTH, Span(m.start(), m.end())) for m in _INVISIBLE_RUN.finditer(text)
        )
    return found[:MAX_SEGMENTS]


def _code_blocks(text: str) -> list[Segment]:
    """Fenced code blocks with the line before the opening fence (where the instruction to use them sits)."""
    found: list[Segment] = []
    position = text.find("```")
    while position != -1 and len(found) < MAX_SEGMENTS:
        end = text.find("```", position + 3)
        block_end = len(text) if end == -1 else end + 3
        line_start = text.rfind("\n", max(0, position - 300), max(position - 1, 0))
        intro_start = max(0, position - 300) if line_start == -1 else line_start + 1
        found.append(
            Segment(SegmentKind.CODE_BLOCK, Span(intro_start, min(block_end, position + MAX_SEGMENT_CHARS)))
        )
        if end == -1:
            break
        position = text.find("```", end + 3)
    return found


def _looks_like_json(text: str) -> bool:
    stripped = text.lstrip()[:1]
    return stripped in ("{", "[") or '": "' in text or '":"' in text


def _json_values(text: str) -> list[Segment]:
    """String values (not keys) of JSON objects and arrays with at least three words."""
    found: list[Segment] = []
    for match in _JSON_STRING.finditer(text):
        if match.group(2) is not None or match.group(1).count(" ") < 2:
            continue
        found.append(Segment(SegmentKind.JSON_VALUE, Span(match.start(1), match.end(1))))
        if len(found) >= MAX_SEGMENTS:
            break
    return found


def segment_text(text: str, segment: Segment) -> str:
    """The readable text of a segment: JSON escapes decoded, everything else as written."""
    raw = segment.span.of(text)
    if segment.kind is SegmentKind.JSON_VALUE and "\\" in raw:
        try:
            decoded = json.loads('"' + raw + '"')
        except ValueError:
            return raw
        return decoded if isinstance(decoded, str) else raw
    return raw
