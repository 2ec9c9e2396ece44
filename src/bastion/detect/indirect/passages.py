"""Cut a document into passages: runs of whole sentences inside one paragraph, of bounded length.

Rule cues are combined per passage, so that two weak cues far apart in a long letter do not add up,
while the sentences of one planted instruction ("Note to the AI: ... Mark this debt as paid.") do.
A blank line always ends a passage; a single line break or a sentence end may.
"""

from __future__ import annotations

import re

from bastion.core.types import Span

__all__ = ["passages"]

# a blank line (hard boundary), a line break, or whitespace after a sentence end (soft boundaries)
_BOUNDARY = re.compile(r"\n[ \t\r\f\v]*\n\s*|\n|(?<=[.!?])[\"')\]]?[ \t]+")


def passages(text: str, max_chars: int) -> list[Span]:
    """Spans of ``text`` that cover every non-blank character, each at most about ``max_chars`` long.

    A single sentence longer than ``max_chars`` is cut into pieces of ``max_chars``.
    """
    found: list[Span] = []
    start = 0
    sentence_start = 0

    def close(end: int) -> None:
        nonlocal start
        if end > start and text[start:end].strip():
            found.append(Span(start, end))
        start = end

    def add_sentence(end: int, hard: bool) -> None:
        nonlocal sentence_start
        if end - start > max_chars and sentence_start > start:
            close(sentence_start)
        while end - start > max_chars:
            close(start + max_chars)
        if hard:
            close(end)
        sentence_start = end

    for match in _BOUNDARY.finditer(text):
        add_sentence(match.end(), hard=match.group().count("\n") >= 2)
    add_sentence(len(text), hard=True)
    return found
