"""PERSON: names in German and English text, from gazetteers, context and capitalisation.

Every German noun is capitalised, so capitalisation alone proves nothing. A run of capitalised words
(a *chain*, on one line, separated by single spaces) becomes a name when

* it follows a title (``Herr``, ``Frau``, ``Mr``, ``Dr.``): any capitalised word counts;
* it follows a strong context phrase (``mein Name ist``, ``Kunde:``, ``Sehr geehrte``, a sign-off such as
  ``Mit freundlichen Grüßen`` on the line before): words that are not function words, nouns or places;
* it follows a weak context (``ich bin``, ``my husband``, ``customer``): it also needs a known name;
* without context: it starts with a known first name (``Ayşe Yılmaz``, ``Thomas Becker``), or a family
  name that comes first (``Nguyễn Thị Lan``, ``Chen Wei``).

Titles are never inside the span. A chain next to ``GmbH``, ``Ltd``, ``&`` or a street word is a company
or a street, not a person. Surnames and first names of names found once are found again on their own
later in the same text.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from bastion.detect.pii._address import load_address_file
from bastion.detect.pii._birth_date import load_dates_file
from bastion.detect.pii._candidate import Candidate
from bastion.detect.pii._data import DataModel, Examples, read_data
from bastion.detect.pii._text import WORD, char_before, fold, word_list

__all__ = ["PersonRecogniser", "load_person_recogniser"]

PRIORITY = 3
RULE_ID = "pii.person"
MAX_CHAIN = 5


class Triggers(DataModel):
    intro: tuple[str, ...]
    weak_intro: tuple[str, ...]
    label: tuple[str, ...]
    greeting: tuple[str, ...]
    attention: tuple[str, ...]
    sign_off: tuple[str, ...]
    role: tuple[str, ...]


class PersonFile(DataModel):
    version: int
    titles: str
    triggers: Triggers
    function_words: str
    organisation_words: str
    street_words: tuple[str, ...]
    common_nouns: str
    noun_suffixes: tuple[str, ...]
    examples: Examples = Examples()


class NamesFile(DataModel):
    version: int
    first_names: dict[str, str]
    ambiguous_first_names: str
    surnames: dict[str, str]
    surname_first: str
    particles: str
    feminine_forms: tuple[str, ...]


class Kind(enum.Enum):
    """What a capitalised word is, as far as names go."""

    TITLE = "title"
    FUNCTION = "function"
    ORGANISATION = "organisation"
    STREET = "street"
    FIRST = "first"
    AMBIGUOUS = "ambiguous"
    SURNAME = "surname"
    PLACE = "place"
    NOUN = "noun"
    INITIAL = "initial"
    UNKNOWN = "unknown"
    PARTICLE = "particle"


NAME_KINDS = frozenset({Kind.FIRST, Kind.AMBIGUOUS, Kind.SURNAME, Kind.UNKNOWN, Kind.INITIAL})
KNOWN_KINDS = frozenset({Kind.FIRST, Kind.SURNAME})

#: what may stand between a context phrase (or title) and the name, per kind of context
_GAPS = {
    "title": re.compile(r"[ \t\u00a0]*\.?[ \t\u00a0]*"),
    "intro": re.compile(r"[ \t]*[:,]?[ \t]*"),
    "intro_comma": re.compile(r"[ \t]*,[ \t]*"),
    "weak_intro": re.compile(r"[ \t]+"),
    "label": re.compile(r"[ \t]*:[ \t]*(?:\r?\n[ \t]*)?"),
    "greeting": re.compile(r"[ \t]*,?[ \t]*"),
    "attention": re.compile(r"[ \t]*\.?[ \t]*:?[ \t]*"),
    "sign_off": re.compile(r"[ \t]*[,!.]?[ \t]*(?:\r?\n[ \t]*){0,3}"),
    "role": re.compile(r"[ \t]*,?[ \t]*"),
}
_TITLE_ON_OWN_LINE = re.compile(r"[ \t]*\.?[ \t]*\r?\n[ \t]*")
_PHRASE_INNER_GAP = re.compile(r"[ \t]+|\.[ \t]*|/")
_DELEGATION = ("i a", "i v", "ppa")  # "i. A. Petra Wagner" after a sign-off
_STRONG = frozenset({"title", "intro", "label", "attention"})
_COMPANY_AFTER = re.compile(r"[ \t]*(?:&|\+[ \t])")
_NUMBER_AFTER = re.compile(r"[ \t]?\d")
#: the line under a name in a letter head: a house number or a street ("Vlasta Moravec\nAnneli-Kade-Platz 3")
_ADDRESS_LINE = re.compile(
    r"[ \t]*\r?\n[ \t]*(?:\d|(?:Flat|Apartment|Apt|Unit)\b|[^\W\d_][\w.-]*"
    r"(?:stra(?:ss|ß)e|str\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee)[ ]\d)",
    re.IGNORECASE,
)
#: a single word after a greeting or sign-off is a name when nothing follows it on its line
_ENDS_NAME = re.compile(r"[ \t]*(?:[,.!]|\r?\n|$)")


@dataclass(frozen=True, slots=True)
class Part:
    """One word of a name chain."""

    start: int
    end: int
    kind: Kind
    key: str


@dataclass(frozen=True, slots=True)
class PersonLexicon:
    """The word sets the recogniser consults (all folded: no case, no diacritics)."""

    titles: frozenset[str]
    first_names: frozenset[str]
    ambiguous_first_names: frozenset[str]
    surnames: frozenset[str]
    surname_first: frozenset[str]
    particles: frozenset[str]
    function_words: frozenset[str]
    organisation_words: frozenset[str]
    street_words: frozenset[str]
    places: frozenset[str]
    common_nouns: frozenset[str]
    noun_suffixes: tuple[str, ...]
    phrases: dict[str, tuple[str, ...]]

    def is_known(self, key: str) -> bool:
        return key in self.first_names or key in self.surnames or key in self.ambiguous_first_names

    def classify(self, word: str) -> Kind:
        """The kind of a capitalised ``word``."""
        key = fold(word)
        if len(word) == 1:
            return Kind.INITIAL if word.isupper() else Kind.FUNCTION
        if key in self.titles:
            return Kind.TITLE
        if key in self.organisation_words:
            return Kind.ORGANISATION
        if word.isupper() and len(word) <= 4 and not self.is_known(key):
            return Kind.FUNCTION  # an acronym: IBAN, EUR, SMS
        if key in self.function_words:
            return Kind.FUNCTION
        if key in self.street_words:
            return Kind.STREET
        if key in self.ambiguous_first_names:
            return Kind.AMBIGUOUS
        if key in self.first_names:
            return Kind.FIRST
        if key in self.surnames:
            return Kind.SURNAME
        if key in self.places:
            return Kind.PLACE
        if "-" in key:
            return self._classify_compound(key)
        if key in self.common_nouns or key.endswith(self.noun_suffixes):
            return Kind.NOUN
        return Kind.UNKNOWN

    def _classify_compound(self, key: str) -> Kind:
        parts = [part for part in key.split("-") if part]
        if any(part in self.organisation_words for part in parts):
            return Kind.ORGANISATION
        if any(
            part in self.street_words or part.endswith(("strasse", "str", "allee", "platz")) for part in parts
        ):
            return Kind.STREET
        if all(part in self.first_names or part in self.ambiguous_first_names for part in parts):
            return Kind.FIRST
        if any(self.is_known(part) for part in parts if part not in self.particles):
            return Kind.SURNAME
        if parts[-1] in self.common_nouns or parts[-1].endswith(self.noun_suffixes):
            return Kind.NOUN
        return Kind.UNKNOWN


class PersonRecogniser:
    """Finds PERSON candidates; immutable after construction, so safe to share between threads."""

    def __init__(self, lexicon: PersonLexicon) -> None:
        self.lexicon = lexicon

    def find(self, text: str) -> list[Candidate]:
        found: list[Candidate] = []
        recent: deque[tuple[int, int]] = deque(maxlen=8)
        skip_until = 0
        for match in WORD.finditer(text):
            start, end = match.span()
            if start >= skip_until and (
                text[start].isupper() or self._particle_after_title(text, start, end, recent)
            ):
                candidate = self._candidate_at(text, start, end, recent)
                if candidate is not None:
                    found.append(candidate)
                    skip_until = candidate.end
            recent.append((start, end))
        if found:
            found.extend(self._repeated_names(text, found))
        return found

    def _particle_after_title(self, text: str, start: int, end: int, recent: deque[tuple[int, int]]) -> bool:
        """A lower-case particle right after a title starts the name: "Herr von Hohenberg", "Mr van Dijk"."""
        if not recent or fold(text[start:end]) not in self.lexicon.particles:
            return False
        previous_start, previous_end = recent[-1]
        previous = text[previous_start:previous_end]
        return previous[0].isupper() and fold(previous) in self.lexicon.titles

    # -- context ---------------------------------------------------------------------------------

    def _context(self, text: str, start: int, recent: deque[tuple[int, int]]) -> str | None:
        if not recent:
            return None
        lexicon = self.lexicon
        previous_start, previous_end = recent[-1]
        gap = text[previous_end:start]
        previous = text[previous_start:previous_end]
        if previous[0].isupper() and fold(previous) in lexicon.titles:
            if _GAPS["title"].fullmatch(gap):
                return "title"
            if _TITLE_ON_OWN_LINE.fullmatch(gap) and char_before(text, previous_start) == "\n":
                return "title"
        words = list(recent)
        keys = [fold(text[word_start:word_end]) for word_start, word_end in words]
        if (len(keys) >= 2 and " ".join(keys[-2:]) in _DELEGATION) or keys[-1] == "ppa":
            cut = 1 if keys[-1] == "ppa" else 2
            gap = text[words[-cut - 1][1] : words[-cut][0]] if len(words) > cut else gap
            words, keys = words[:-cut], keys[:-cut]
            if not words:
                return None
        for length in range(min(5, len(words)), 0, -1):
            kinds = lexicon.phrases.get(" ".join(keys[-length:]))
            if kinds is None:
                continue
            inner = all(
                _PHRASE_INNER_GAP.fullmatch(text[words[index - 1][1] : words[index][0]])
                for index in range(len(words) - length + 1, len(words))
            )
            if not inner:
                continue
            for kind in kinds:
                if _GAPS[kind].fullmatch(gap) and self._phrase_fits(text, kind, words[-length][0]):
                    return kind
        return None

    @staticmethod
    def _phrase_fits(text: str, kind: str, phrase_start: int) -> bool:
        if kind == "intro_comma":  # "Ich, Ivana Horvat, bestätige": only at the start of a sentence
            return char_before(text, phrase_start) in ".!?:\n"
        return True

    # -- chains ----------------------------------------------------------------------------------

    def _part(self, text: str, start: int, end: int) -> Part:
        word = text[start:end]
        if word.endswith(("'s", "’s")) and len(word) > 3:
            end -= 2
            word = word[:-2]
        if word[0].islower():
            key = fold(word)
            return Part(start, end, Kind.PARTICLE if key in self.lexicon.particles else Kind.FUNCTION, key)
        kind = self.lexicon.classify(word)
        if kind is Kind.INITIAL and text.startswith(".", end):
            end += 1
        return Part(start, end, kind, fold(word))

    def _chain(self, text: str, first: Part, context: str | None) -> list[Part]:
        parts = [first]
        position = first.end
        while len(parts) < MAX_CHAIN and position < len(text) and text[position] in " \u00a0":
            following = WORD.match(text, position + 1)
            if following is None:
                break
            part = self._part(text, *following.span())
            after_particle = context == "title" and parts[-1].kind is Kind.PARTICLE
            if part.kind in NAME_KINDS or part.kind is Kind.PARTICLE:
                parts.append(part)
            elif after_particle and part.kind in (Kind.NOUN, Kind.PLACE, Kind.STREET):
                parts.append(part)  # "von Essen", "van Berg"
            else:
                break
            position = part.end
            if text[following.start() : following.end()].endswith(("'s", "’s")):
                break
        while parts and parts[-1].kind is Kind.PARTICLE:
            parts.pop()
        return parts

    def _candidate_at(
        self, text: str, start: int, end: int, recent: deque[tuple[int, int]]
    ) -> Candidate | None:
        first = self._part(text, start, end)
        if first.kind in (Kind.TITLE, Kind.ORGANISATION, Kind.STREET):
            return None
        context = self._context(text, start, recent)
        # the second letter of "B.V." or "z.B." is an initial only when a known name follows directly
        # ("A.B. Schmidt"), not in "B.V. den Fall"
        abbreviation = first.kind is Kind.INITIAL and context is None and char_before(text, start) == "."
        if context == "title":
            allowed = first.kind is not Kind.FUNCTION or self.lexicon.is_known(first.key)
            allowed = allowed or first.kind is Kind.PARTICLE
        elif context is not None:
            allowed = first.kind in NAME_KINDS
        else:
            allowed = (
                first.kind in (Kind.FIRST, Kind.AMBIGUOUS, Kind.INITIAL)
                or first.key in self.lexicon.surname_first
            )
        if not allowed and context is None and first.kind in NAME_KINDS and self._starts_line(text, start):
            parts = self._chain(text, first, "header")
            names = [part for part in parts if part.kind is not Kind.PARTICLE]
            if 2 <= len(names) <= 4 and _ADDRESS_LINE.match(text, parts[-1].end):
                reason = "PERSON (name line above an address)"
                return Candidate("PERSON", parts[0].start, parts[-1].end, 0.75, reason, PRIORITY, RULE_ID)
            return None
        if not allowed:
            return None
        parts = self._chain(text, first, context)
        if not parts or self._is_company_or_street(text, parts[-1].end):
            return None
        if abbreviation and (
            any(part.kind is Kind.PARTICLE for part in parts)
            or not any(part.kind in KNOWN_KINDS for part in parts[1:])
        ):
            return None
        score = self._score(text, context, parts)
        if score is None:
            return None
        if context is None and _NUMBER_AFTER.match(text, parts[-1].end):
            return None  # "Jan 2024", "May 12"
        reason = f"PERSON ({_REASONS[context]})"
        return Candidate("PERSON", parts[0].start, parts[-1].end, score, reason, PRIORITY, RULE_ID)

    @staticmethod
    def _starts_line(text: str, start: int) -> bool:
        return char_before(text, start) == "\n"

    def _is_company_or_street(self, text: str, end: int) -> bool:
        if _COMPANY_AFTER.match(text, end):
            return True
        position = end
        for _ in range(3):
            if position >= len(text) or text[position] != " ":
                return False
            following = WORD.match(text, position + 1)
            if following is None or not following.group()[0].isupper():
                return False
            kind = self.lexicon.classify(following.group())
            if kind in (Kind.ORGANISATION, Kind.STREET):
                return True
            position = following.end()
        return False

    def _score(self, text: str, context: str | None, parts: list[Part]) -> float | None:
        names = [part for part in parts if part.kind is not Kind.PARTICLE]
        kinds = [part.kind for part in names]
        known = any(kind in KNOWN_KINDS for kind in kinds) or (
            Kind.AMBIGUOUS in kinds and len(names) >= 2 and Kind.SURNAME in kinds
        )
        if context == "title":
            return 0.95 if known else 0.9
        if context in _STRONG:
            return 0.95 if known else 0.85
        if context in ("greeting", "sign_off"):
            if known:
                return 0.9
            if len(names) >= 2:
                return 0.8
            return 0.75 if _ENDS_NAME.match(text, parts[-1].end) else None
        if context in ("intro_comma", "weak_intro", "role"):
            if known:
                return 0.85
            return 0.7 if len(names) >= 2 else None
        return self._score_without_context(names)

    def _score_without_context(self, names: list[Part]) -> float | None:
        lexicon = self.lexicon
        head, rest = names[0], names[1:]
        rest_kinds = [part.kind for part in rest]
        if (
            head.key in lexicon.surname_first
            and rest
            and all(
                kind in (Kind.FIRST, Kind.AMBIGUOUS) or part.key in lexicon.first_names
                for kind, part in zip(rest_kinds, rest, strict=True)
            )
        ):
            return 0.85
        if head.kind is Kind.FIRST:
            if not rest:
                return 0.5
            return 0.9 if Kind.SURNAME in rest_kinds else 0.75
        if head.kind is Kind.AMBIGUOUS:
            if Kind.SURNAME in rest_kinds:
                return 0.8
            return 0.6 if Kind.FIRST in rest_kinds else None
        if head.kind is Kind.INITIAL and Kind.SURNAME in rest_kinds:
            return 0.6
        return None

    # -- repeated mentions -----------------------------------------------------------------------

    def _repeated_names(self, text: str, found: list[Candidate]) -> Iterable[Candidate]:
        keys: set[str] = set()
        for candidate in found:
            if candidate.score < 0.5:
                continue
            for match in WORD.finditer(text, candidate.start, candidate.end):
                word = match.group()
                if len(word) >= 3 and word[0].isupper():
                    keys.add(fold(word))
        keys -= self.lexicon.function_words
        if not keys:
            return []
        taken = sorted((candidate.start, candidate.end) for candidate in found)
        extra: list[Candidate] = []
        cursor = 0
        for match in WORD.finditer(text):
            start, end = match.span()
            while cursor < len(taken) and taken[cursor][1] <= start:
                cursor += 1
            if cursor < len(taken) and taken[cursor][0] < end:
                continue
            word = match.group()
            if not word[0].isupper() or fold(word) not in keys:
                continue
            if self._is_company_or_street(text, end):
                continue
            reason = "PERSON (name mentioned earlier in the text)"
            extra.append(Candidate("PERSON", start, end, 0.7, reason, PRIORITY, RULE_ID))
        return extra


_REASONS = {
    None: "known first name with capitalised name",
    "title": "title followed by a name",
    "intro": "introduction followed by a name",
    "intro_comma": "introduction followed by a name",
    "weak_intro": "introduction followed by a known name",
    "label": "name field",
    "greeting": "greeting followed by a name",
    "attention": "addressee line",
    "sign_off": "signature after a sign-off",
    "role": "relation or role followed by a name",
}


def _feminine_forms(key: str) -> tuple[str, ...]:
    """Feminine forms of Slavic and Czech family names: Kowalski -> Kowalska, Iwanow -> Iwanowa."""
    for masculine, feminine in (
        ("ski", "ska"),
        ("cki", "cka"),
        ("dzki", "dzka"),
        ("sky", "ska"),
        ("cky", "cka"),
    ):
        if key.endswith(masculine):
            return (key[: -len(masculine)] + feminine,)
    if key.endswith(("ov", "ev", "in", "yn", "ow", "ew")):
        return (key + "a",)
    if key.endswith("a"):
        return (key[:-1] + "ova",)
    if key[-1:].isalpha() and key[-1:] not in "aeiouy":
        return (key + "ova",)
    return ()


def _phrases(triggers: Triggers) -> dict[str, tuple[str, ...]]:
    phrases: dict[str, list[str]] = {}
    for kind, entries in triggers.model_dump().items():
        for entry in entries:
            effective = "intro_comma" if kind == "intro" and entry.rstrip().endswith(",") else kind
            key = " ".join(WORD.findall(fold(entry)))
            if key and effective not in phrases.setdefault(key, []):
                phrases[key].append(effective)
    order = ("label", "intro", "intro_comma", "attention", "greeting", "sign_off", "weak_intro", "role")
    return {key: tuple(sorted(kinds, key=order.index)) for key, kinds in phrases.items()}


@cache
def load_person_recogniser() -> PersonRecogniser:
    """The PERSON recogniser with its word lists (read once per process)."""
    person = read_data("person.yaml", PersonFile)
    names = read_data("names.yaml", NamesFile)
    address = load_address_file()
    dates = load_dates_file()

    def folded(words: Iterable[str]) -> frozenset[str]:
        return frozenset(fold(word) for word in words)

    particles = folded(word_list(names.particles))
    surname_first = folded(word_list(names.surname_first))
    surnames: set[str] = set()
    for group, text in names.surnames.items():
        for key in folded(word_list(text)):
            if key in particles and key not in surname_first:
                continue
            surnames.add(key)
            if group in names.feminine_forms:
                surnames.update(_feminine_forms(key))
    first_names = folded(word for text in names.first_names.values() for word in word_list(text))
    places = folded(
        [*word_list(" ".join(address.cities.values())), *word_list(address.countries)]
        + [month for spellings in dates.months.values() for month in spellings]
    )
    lexicon = PersonLexicon(
        titles=folded(word_list(person.titles)),
        first_names=first_names,
        ambiguous_first_names=folded(word_list(names.ambiguous_first_names)),
        surnames=frozenset(surnames),
        surname_first=surname_first,
        particles=particles,
        function_words=folded(word_list(person.function_words)),
        organisation_words=folded(word_list(person.organisation_words)),
        street_words=folded(person.street_words),
        places=places,
        common_nouns=folded(word_list(person.common_nouns)),
        noun_suffixes=tuple(fold(suffix) for suffix in person.noun_suffixes),
        phrases=_phrases(person.triggers),
    )
    return PersonRecogniser(lexicon)
