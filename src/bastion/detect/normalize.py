"""Normalisation against obfuscation, with a map back to the original text.

Attackers hide instructions from filters with Unicode tricks (full-width letters, mathematical
alphanumerics, Cyrillic look-alikes, zero-width and bidi characters, Unicode tag characters that smuggle
invisible ASCII), leetspeak (``1gn0r3``) and spacing (``i g n o r e``). Detectors score a *normalised view*
of the text and report spans in the *original* text; :class:`NormalizedText` carries both and the map.

The canonical view (:func:`normalize`):

- drops zero-width, bidi-control, soft-hyphen and variation-selector characters;
- decodes Unicode tag characters (U+E0020..U+E007E) to the ASCII they stand for;
- applies NFKC per character, maps common homoglyphs to Latin, folds German umlauts and ß to their
  two-letter forms (``für`` and ``fuer`` become the same) and strips other diacritics;
- lower-cases and collapses every run of whitespace to one space.

Further views (:func:`deleet`, :func:`despace`) start from the canonical one. All of them run in time
linear in the text; ASCII runs take a fast path.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bastion.core.types import Span

__all__ = ["NormalizedText", "deleet", "despace", "has_invisible_characters", "normalize", "rot13"]

_INVISIBLE = frozenset(
    [
        *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
        *range(0x200B, 0x2010),  # zero-width space/joiners, LRM, RLM
        *range(0x202A, 0x202F),  # bidi embeddings and overrides
        *range(0x2060, 0x2070),  # word joiner, invisible operators, bidi isolates
        *range(0xFE00, 0xFE10),  # variation selectors
        *range(0xE0100, 0xE01F0),  # variation selectors supplement
    ]
)
_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F

# Look-alikes that NFKC leaves alone: Cyrillic, Greek and a few Latin extensions that render like ASCII.
_HOMOGLYPHS = {
    "а": "a",
    "в": "b",
    "е": "e",
    "ё": "e",
    "к": "k",
    "м": "m",
    "н": "h",
    "о": "o",
    "р": "p",
    "с": "c",
    "т": "t",
    "у": "y",
    "х": "x",
    "ѕ": "s",
    "і": "i",
    "ї": "i",
    "ј": "j",
    "ԁ": "d",
    "ԛ": "q",
    "ԝ": "w",
    "ɡ": "g",
    "ᴠ": "v",
    "ɩ": "i",
    "ı": "i",
    "ℓ": "l",
    "ο": "o",
    "α": "a",
    "ε": "e",
    "ι": "i",
    "κ": "k",
    "ν": "v",
    "ρ": "p",
    "τ": "t",
    "υ": "u",
    "χ": "x",
    "β": "b",
    "γ": "y",
    "η": "n",
    "μ": "u",
    "ω": "w",
    "ϲ": "c",
    "ј̇": "j",
    "ӏ": "l",
    "ᴏ": "o",
    "ꮃ": "w",
    "ꭰ": "d",
    "ꓲ": "i",
    "ꓳ": "o",
}
_GERMAN_FOLDS = {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ẞ": "ss"}
_WHITESPACE_CODES = np.array(sorted(c for c in range(0x3001) if chr(c).isspace()), dtype=np.uint32)


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A normalised view of ``original``: ``text[i]`` came from ``original[origins[i]]``."""

    original: str
    text: str
    origins: np.ndarray  # int64, len(text) + 1; the last entry is len(original)

    def to_original(self, span: Span) -> Span:
        """Map a span of the normalised text back to the smallest covering span of the original."""
        if len(self.text) == 0 or span.start >= len(self.text) or span.end == span.start:
            return (
                Span(0, 0)
                if len(self.text) == 0
                else Span(int(self.origins[span.start]), int(self.origins[span.start]))
            )
        start = int(self.origins[span.start])
        end = int(self.origins[min(span.end, len(self.text)) - 1]) + 1
        return Span(start, max(end, start))


@lru_cache(maxsize=65536)
def _fold_char(char: str) -> str:
    """The canonical replacement of one non-ASCII character (possibly empty or several characters)."""
    code = ord(char)
    if code in _INVISIBLE or 0xD800 <= code <= 0xDFFF:
        return ""
    if _TAG_FIRST <= code <= _TAG_LAST:
        decoded = code - _TAG_FIRST
        return chr(decoded).lower() if 0x20 <= decoded < 0x7F else ""
    out = []
    for piece in unicodedata.normalize("NFKC", char):
        lowered = piece.lower()
        if lowered in _GERMAN_FOLDS:
            out.append(_GERMAN_FOLDS[lowered])
            continue
        lowered = _HOMOGLYPHS.get(lowered, lowered)
        for part in unicodedata.normalize("NFKD", lowered):
            if unicodedata.category(part) == "Mn":
                continue
            out.append(_HOMOGLYPHS.get(part, part))
    return "".join(out)


_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}


def _fold(text: str) -> tuple[str, np.ndarray]:
    """Per-character folding with origins, done by ``str.translate`` over the distinct characters."""
    if text.isascii():
        return text.lower(), np.arange(len(text), dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    distinct = np.unique(codes[codes > 127])
    table: dict[int, str | int] = dict(_ASCII_LOWER)
    replacement_lengths = np.empty(len(distinct), dtype=np.int64)
    for index, code in enumerate(distinct.tolist()):
        replacement = _fold_char(chr(code))
        table[code] = replacement
        replacement_lengths[index] = len(replacement)
    lengths = np.ones(len(codes), dtype=np.int64)
    non_ascii = codes > 127
    lengths[non_ascii] = replacement_lengths[np.searchsorted(distinct, codes[non_ascii])]
    folded = text.translate(table)
    origins = np.repeat(np.arange(len(text), dtype=np.int64), lengths)
    return folded, origins


def _keep(text: str, origins: np.ndarray, keep: np.ndarray) -> tuple[str, np.ndarray]:
    """Keep the characters where ``keep`` is true."""
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    kept = codes[keep]
    return kept.tobytes().decode("utf-32-le", "surrogatepass"), origins[keep]


def _finish(original: str, text: str, origins: np.ndarray) -> NormalizedText:
    return NormalizedText(original, text, np.append(origins, len(original)).astype(np.int64))


def normalize(text: str) -> NormalizedText:
    """The canonical normalised view of ``text`` (see the module docstring)."""
    folded, origins = _fold(text)
    if not folded:
        return _finish(text, "", origins)
    # collapse whitespace runs to one space and trim the ends
    codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    is_space = np.isin(codes, _WHITESPACE_CODES)
    keep = ~is_space | np.concatenate(([False], ~is_space[:-1]))
    # strip leading/trailing space
    nonspace = np.flatnonzero(~is_space)
    if len(nonspace) == 0:
        return _finish(text, "", origins[:0])
    keep[: nonspace[0]] = False
    keep[nonspace[-1] + 1 :] = False
    if keep.all():
        return _finish(text, folded, origins)
    collapsed_codes = np.where(is_space, np.uint32(32), codes)[keep]
    return _finish(text, collapsed_codes.tobytes().decode("utf-32-le", "surrogatepass"), origins[keep])


_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
# a token that mixes letters with leet digits/symbols, e.g. "1gn0r3", "pr0mpt", "@dmin"
_LEET_TOKEN = re.compile(r"(?<![\w@$!|+€])(?=[\w@$!|+€]*[a-z])(?=[\w@$!|+€]*[0134579@$!|+€])[\w@$!|+€]{3,}")


def deleet(view: NormalizedText) -> NormalizedText | None:
    """The view with leetspeak undone inside mixed letter/digit tokens, or ``None`` if there is none."""
    text = view.text
    changed = False
    pieces: list[str] = []
    position = 0
    for match in _LEET_TOKEN.finditer(text):
        token = match.group()
        if token.isdigit():
            continue
        pieces.append(text[position : match.start()])
        pieces.append(token.translate(_LEET))
        position = match.end()
        changed = True
    if not changed:
        return None
    pieces.append(text[position:])
    result = "".join(pieces)
    # the translation is one character for one, so origins are unchanged
    return NormalizedText(view.original, result, view.origins)


# three or more single letters separated by one separator: "i g n o r e", "i.g.n.o.r.e", "i-g-n-o-r-e"
_SPACED = re.compile(r"(?<![\w])(?:\w[ .\-_*/|]){2,}\w(?![\w])")


def despace(view: NormalizedText) -> NormalizedText | None:
    """The view with letter-by-letter spacing joined (``i g n o r e`` -> ``ignore``), or ``None``."""
    text = view.text
    if not _SPACED.search(text):
        return None
    keep = np.ones(len(text), dtype=bool)
    for match in _SPACED.finditer(text):
        # the separators sit at every second position of the match
        keep[match.start() + 1 : match.end() : 2] = False
    joined, origins = _keep(text, view.origins[:-1], keep)
    return NormalizedText(view.original, joined, np.append(origins, view.origins[-1]))


_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
)


def rot13(view: NormalizedText) -> NormalizedText:
    """The rot13 view (one character for one, origins unchanged)."""
    return NormalizedText(view.original, view.text.translate(_ROT13), view.origins)


def has_invisible_characters(text: str) -> bool:
    """True when ``text`` holds zero-width, bidi-control or tag characters."""
    if text.isascii():
        return False
    return any(ord(c) in _INVISIBLE or _TAG_FIRST <= ord(c) <= _TAG_LAST for c in text)
