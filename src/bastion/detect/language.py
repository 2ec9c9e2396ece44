"""A cheap guess whether a short text is German or English, for choosing the language of a reply.

Counts umlauts and ß and common function words of each language; no model, no dependency. Enough to answer
a customer in their language or to phrase an attack wrapper; not a language identifier for arbitrary text.
"""

from __future__ import annotations

import re

__all__ = ["guess_language"]

_GERMAN_WORDS = frozenset(
    " ".join(
        (
            "und der die das den dem des ist sind bin nicht kein keine ich du sie wir ihr ein eine mit auf",
            "für fuer zu von bitte alle alles habe hat haben kann können koennen muss soll mein meine mich",
            "mir dich auch noch nur schon wie was wer warum wann wo oder aber wenn dann schuld zahlung",
            "vorherigen anweisungen ignoriere vergiss zeige",
        )
    ).split()
)
_ENGLISH_WORDS = frozenset(
    " ".join(
        (
            "and the is are am not no i you she we they a an with on for to of all have has can must",
            "should my me your please this that what who why when where still already or but if then",
            "debt payment previous instructions ignore forget show reveal",
        )
    ).split()
)
_WORD = re.compile(r"[^\W\d_]+")
_SAMPLE_CHARS = 4_000


def guess_language(text: str, default: str = "en") -> str:
    """``"de"`` or ``"en"``, whichever the start of ``text`` reads as more; ``default`` on a tie."""
    sample = text[:_SAMPLE_CHARS].lower()
    german = sum(sample.count(mark) for mark in "äöüß")
    english = 0
    for word in _WORD.findall(sample):
        german += word in _GERMAN_WORDS
        english += word in _ENGLISH_WORDS
    if german == english:
        return default
    return "de" if german > english else "en"
