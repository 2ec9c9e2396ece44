"""Small text helpers shared by the PII recognisers: folding, word lists and context look-ups."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["WORD", "ContextWords", "char_before", "fold", "word_list"]

#: a word: letters with inner apostrophes or hyphens ("O'Connor", "Klaus-Dieter", "Al-Hassan")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+|-[^\W\d_]+)*")

_SPECIAL_LETTERS = str.maketrans(
    {
        "ı": "i",
        "ł": "l",
        "Ł": "L",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "’": "'",
        "`": "'",
        "´": "'",
    }
)


@lru_cache(maxsize=65_536)
def fold(word: str) -> str:
    """``word`` without case and diacritics, for gazetteer look-ups: ``"Yılmaz"`` -> ``"yilmaz"``."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_SPECIAL_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def char_before(text: str, position: int, skip: str = " \t") -> str:
    """The nearest character before ``position`` that is not in ``skip``; ``"\n"`` at the start of the text.

    Walks back over ``skip`` characters only, so a scan that calls it once per token stays linear.
    """
    index = position - 1
    while index >= 0 and text[index] in skip:
        index -= 1
    return text[index] if index >= 0 else "\n"


def word_list(text: str | Iterable[str]) -> tuple[str, ...]:
    """A whitespace-separated string (or a list) of words from a data file, in order, without duplicates."""
    words = text.split() if isinstance(text, str) else [str(word) for word in text]
    return tuple(dict.fromkeys(word.strip() for word in words if word.strip()))


class ContextWords:
    """Finds any of a set of context words (case-insensitive, whole words) in a window of text."""

    __slots__ = ("_pattern",)

    def __init__(self, words: Iterable[str]) -> None:
        ordered = sorted({word.casefold() for word in words if word}, key=len, reverse=True)
        if not ordered:
            self._pattern: re.Pattern[str] | None = None
            return
        alternatives = "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in ordered)
        self._pattern = re.compile(rf"(?<![^\W\d_])(?:{alternatives})(?![^\W\d_])", re.IGNORECASE)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def occurs_in(self, window: str) -> bool:
        """True when one of the words occurs in ``window``."""
        return self._pattern is not None and self._pattern.search(window) is not None

    def last_end(self, window: str) -> int:
        """End offset of the last occurrence in ``window``, or -1."""
        if self._pattern is None:
            return -1
        last = -1
        for match in self._pattern.finditer(window):
            last = match.end()
        return last
