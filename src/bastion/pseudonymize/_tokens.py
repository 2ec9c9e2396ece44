"""The token format: what a pseudonym looks like, how it is made and how it is found again.

A token is ``<LABEL>_<code>``, for example ``PERSON_7f3a9c21xk0m4q2d``:

- ``LABEL`` is the detection type in upper-case ASCII (``PERSON``, ``IBAN``, ``DATE_OF_BIRTH``), so the
  model still knows what kind of thing stands there;
- ``code`` is 16 lower-case characters of Crockford's base-32 alphabet (digits and letters without
  ``i l o u``), the first 80 bits of ``HMAC-SHA256(tenant token key, label NUL normalised value)``.

Why this shape: it is made only of letters, digits and underscores, which language models copy as one
identifier and which need no escaping in JSON, Markdown, HTML, URLs or shells. There are no brackets,
guillemets or other punctuation that models drop, translate (``«»`` into ``„"``) or turn into markup.
The switch from upper-case label to lower-case code with a fixed length makes the token easy to find with
one regular expression (:data:`TOKEN_PATTERN`) and unlikely in real text: ordinary words rarely consist of
16 characters without ``i``, ``l``, ``o`` and ``u``. Eighty bits keep collisions negligible (for ten
million different values of one type in one tenant the chance of any collision is about 4e-11).

Tokens are found with :func:`find_tokens` (the pattern's matches, in linear time). Both accept what models
and renderers do to tokens: a Markdown-escaped underscore (``PERSON\\_7f3a...``) and letters glued after
the code (a German genitive ``s``). Capitals glued *before* the label end up in the match;
:func:`token_candidates` lists the shorter labels to try.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from hashlib import sha256
from typing import Final

__all__ = [
    "CODE_LENGTH",
    "TOKEN_PATTERN",
    "TokenMinter",
    "canonical_token",
    "find_tokens",
    "is_token",
    "normalize_value",
    "token_candidates",
    "type_label",
]

CODE_LENGTH: Final = 16
_CODE_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
_MAXIMUM_LABEL_SEGMENTS: Final = 5
_MAXIMUM_SEGMENT_CHARS: Final = 24
_FALLBACK_LABEL: Final = "PII"

#: one token anywhere in a text (use it to grep logs; code uses :func:`find_tokens`). Label segments start
#: with a letter and codes never contain a capital, so where the label ends and the code begins is never
#: ambiguous. Every repetition is bounded; the look-behind keeps a match from starting inside a word of
#: capitals.
TOKEN_PATTERN: Final = re.compile(
    r"(?<![A-Z])(?P<label>[A-Z][A-Z0-9]{0,23}(?:\\?_[A-Z][A-Z0-9]{0,23}){0,4})\\?_(?P<code>[0-9a-hjkmnp-tv-z]{16})"
)
#: a label read backwards from the code: the longest one ending at the code (greedy, bounded)
_REVERSED_LABEL: Final = re.compile(r"[A-Z0-9]{0,23}[A-Z](?:_\\?[A-Z0-9]{0,23}[A-Z]){0,4}")
_CODE_PATTERN: Final = re.compile(r"\\?_[0-9a-hjkmnp-tv-z]{16}")
_LONGEST_LABEL: Final = 24 + 4 * 26

_NON_LABEL_CHARACTERS: Final = re.compile(r"[^A-Z0-9]+")
_WHITESPACE: Final = re.compile(r"\s+")
_COMPACT_SEPARATORS: Final = re.compile(r"[\s\-./()]+")

#: label segments whose values are identifiers written with optional separators (``DE89 3704 ...``,
#: ``+49 30 1234-567``): spaces, hyphens, dots, slashes and brackets do not change the value
_COMPACT_SEGMENTS: Final = frozenset(
    {"IBAN", "BIC", "SWIFT", "CARD", "CREDITCARD", "TAX", "VAT", "PHONE", "TELEPHONE", "MOBILE", "FAX"}
)


@lru_cache(maxsize=4096)
def type_label(detection_type: str) -> str:
    """The token label for a detection type: upper-case ASCII words joined by ``_`` (``"PII"`` if none).

    Every word starts with a letter (a word that starts with a digit joins the one before it), so a label
    can never be mistaken for the start of a code.

    >>> type_label("date of birth")
    'DATE_OF_BIRTH'
    >>> type_label("Straße 2")
    'STRASSE2'
    """
    decomposed = unicodedata.normalize("NFKD", detection_type.upper())
    ascii_text = decomposed.encode("ascii", "ignore").decode("ascii").upper()
    segments: list[str] = []
    for word in _NON_LABEL_CHARACTERS.split(ascii_text):
        if not word:
            continue
        if word[0].isalpha() or not segments:
            segments.append(word)
        else:
            segments[-1] += word
    if not segments:
        return _FALLBACK_LABEL
    if not segments[0][0].isalpha():
        segments[0] = _FALLBACK_LABEL + segments[0]
    return "_".join(segment[:_MAXIMUM_SEGMENT_CHARS] for segment in segments[:_MAXIMUM_LABEL_SEGMENTS])


def normalize_value(label: str, value: str) -> str:
    """The form of ``value`` that decides its identity: equal forms get equal tokens.

    All values: Unicode NFKC and invisible format characters (zero-width, bidi) removed. Identifiers
    (IBAN, BIC, card, tax id, phone): separators removed and upper-cased. Everything else (names,
    addresses, e-mail, dates): case-folded with runs of whitespace collapsed.
    """
    text = unicodedata.normalize("NFKC", value)
    text = "".join(character for character in text if unicodedata.category(character) != "Cf")
    if _COMPACT_SEGMENTS.intersection(label.split("_")):
        return _COMPACT_SEPARATORS.sub("", text).upper()
    return _WHITESPACE.sub(" ", text).strip().casefold()


class TokenMinter:
    """Makes tokens with one tenant's HMAC key. Immutable and safe to share between threads."""

    __slots__ = ("_key",)

    def __init__(self, token_key: bytes) -> None:
        self._key = token_key

    def __repr__(self) -> str:
        return "TokenMinter(<key hidden>)"

    def token(self, detection_type: str, value: str) -> str:
        """The token for ``value`` of ``detection_type``; lone surrogates are hashed as they are."""
        label = type_label(detection_type)
        message = (
            label.encode("ascii") + b"\x00" + normalize_value(label, value).encode("utf-8", "surrogatepass")
        )
        digest = hmac.new(self._key, message, sha256).digest()
        return f"{label}_{_encode_code(digest)}"


def _encode_code(digest: bytes) -> str:
    number = int.from_bytes(digest[: CODE_LENGTH * 5 // 8], "big")
    characters = [_CODE_ALPHABET[(number >> shift) & 31] for shift in range(5 * (CODE_LENGTH - 1), -1, -5)]
    return "".join(characters)


def find_tokens(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every token in ``text``, left to right, in time linear in the text.

    Finds what :data:`TOKEN_PATTERN` finds, faster and more forgiving: it looks for the rare ``_`` + code
    first and then reads the longest label backwards from there (a greedy match on the reversed text
    before the code). A token glued to the capitals before it therefore starts inside them (``ABCPERSON_``
    starts at ``A``, ``REFERENCENUMBERTWOTHREEIBAN_`` 24 capitals before the code) where the pattern
    would start later or not at all; :func:`token_candidates` then separates the glued prefix.
    """
    floor = 0
    for code_match in _CODE_PATTERN.finditer(text):
        code_start = code_match.start()
        lowest = max(floor, code_start - _LONGEST_LABEL)
        label = _REVERSED_LABEL.match(text[lowest:code_start][::-1])
        if label is not None:
            floor = code_match.end()
            yield code_start - label.end(), floor


def canonical_token(matched: str) -> str:
    """A matched token without Markdown escapes (``PERSON\\_x`` becomes ``PERSON_x``)."""
    return matched.replace("\\", "")


def is_token(text: str) -> bool:
    """True when ``text`` is exactly one canonical token."""
    return "\\" not in text and TOKEN_PATTERN.fullmatch(text) is not None


def token_candidates(matched: str) -> Iterator[tuple[str, str]]:
    """``(glued prefix, canonical token)`` readings of one match, the longest label first.

    ``"IBANIBAN_x"`` (a token glued to the word before it) gives ``("", "IBANIBAN_x")``, then
    ``("I", "BANIBAN_x")``, ``("IB", "ANIBAN_x")`` ... down to ``("IBAN", "IBAN_x")``. Readings whose label
    does not start with a letter are skipped.
    """
    code_start = matched.rindex("_", 0, len(matched) - CODE_LENGTH)
    if code_start > 0 and matched[code_start - 1] == "\\":
        code_start -= 1
    for index in range(code_start):
        if "A" <= matched[index] <= "Z":
            yield matched[:index], canonical_token(matched[index:])
