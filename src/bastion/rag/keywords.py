"""Turning user text into a safe FTS5 query, and German spelling variants for the index.

User text is never handed to FTS5 as syntax: :func:`fts_query` cuts it into words (runs of letters and
digits), drops English and German stop words, and writes each remaining word as a double-quoted string,
joined by ``OR``. A quoted string in FTS5 is only ever a phrase of tokens, so column filters
(``tenant_id:t2``), ``NEAR``, ``AND``/``NOT``, ``*``, ``^``, ``-`` and quotes in the query are just text.
Words of :data:`PREFIX_MIN_CHARS` or more also match as prefixes (``"zahlung"*`` finds *Zahlungen*),
a light stand-in for stemming.

German umlauts and ß: the FTS5 tokenizer (``unicode61 remove_diacritics 2``) already folds *Müller* to
*muller*; :func:`german_variants` adds the transcribed spellings (*mueller*, *strasse*) so that a query
written either way finds the other, both in the index (a ``variants`` column) and in queries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_QUERY_TERMS", "PREFIX_MIN_CHARS", "STOP_WORDS", "fts_query", "german_variants", "words"]

#: at most this many distinct words of a query are searched (bounds the FTS work)
MAX_QUERY_TERMS = 48
#: words at least this long also match as prefixes
PREFIX_MIN_CHARS = 5
#: a word longer than this is not a word (a pasted hash or base64 blob); it is skipped
MAX_WORD_CHARS = 64

_WORD = re.compile(r"[^\W_]+")
_TRANSCRIPTIONS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_UMLAUT_OR_SHARP_S = re.compile("[äöüß]")

_STOP_WORD_TEXT = """
    a an and are as at be been but by can could did do does for from had has have how i if in into is it
    its me my no not of on or our so than that the their them then there these they this to was we were
    what when where which who why will with would you your yours please
    aber als am an auch auf aus bei bin bis bitte da das dass dem den der des die dies diese dieser doch
    du ein eine einem einen einer eines er es fuer für hab habe haben hat ich ihr ihre im in ist ja kann
    mein meine mich mir mit muss nach nicht noch nur ob oder sich sie sind so um und uns von vor war was
    wer wie wir wird wo zu zum zur
"""
#: English and German words that say nothing about a topic; dropped from keyword queries
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


def words(text: str) -> list[str]:
    """The lower-cased words of ``text`` (runs of letters and digits), in order, repeats kept."""
    return [word for word in _WORD.findall(text.lower()) if len(word) <= MAX_WORD_CHARS]


def german_variants(found: Iterable[str]) -> list[str]:
    """Transcribed spellings (ä→ae, ö→oe, ü→ue, ß→ss) of the words that have umlauts or ß, deduplicated."""
    variants: dict[str, None] = {}
    for word in found:
        if _UMLAUT_OR_SHARP_S.search(word):
            variants[word.translate(_TRANSCRIPTIONS)] = None
    return list(variants)


def fts_query(text: str) -> str | None:
    """An FTS5 ``MATCH`` expression for ``text``: quoted words joined by ``OR``; ``None`` if it has none.

    >>> fts_query('tenant_id:t2 OR "Zahlung" NEAR(a b)')
    '"tenant"* OR "id" OR "t2" OR "zahlung"* OR "near"'
    """
    found = words(text)
    terms = [word for word in found if word not in STOP_WORDS and len(word) > 1] or found
    unique = list(dict.fromkeys([*terms, *german_variants(terms)]))[:MAX_QUERY_TERMS]
    if not unique:
        return None
    return " OR ".join(_quoted(term) for term in unique)


def _quoted(term: str) -> str:
    # terms are runs of letters and digits, so they never contain a double quote; checked all the same
    if '"' in term:
        raise ValueError("a query term contains a double quote")
    return f'"{term}"*' if len(term) >= PREFIX_MIN_CHARS else f'"{term}"'
