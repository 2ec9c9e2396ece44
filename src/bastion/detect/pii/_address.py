"""ADDRESS: German and English street addresses, German postcode lines, UK postcodes and US ZIP lines.

Streets and localities are found separately and joined when they stand next to each other (a comma,
spaces or one line break apart): ``Musterstraße 12a, 10115 Berlin`` and ``221B Baker Street\\nLondon
NW1 6XE`` are one address each. The patterns are built from the word lists in ``address.yaml``; the
code confirms what they narrow (the number is a house number, not ``3 Tage`` or ``12 Uhr``; the city
is a known city or stands at the start of a line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from pydantic import BaseModel, ConfigDict

from bastion.detect.pii._candidate import Candidate
from bastion.detect.pii._data import DataModel, Examples, read_data
from bastion.detect.pii._text import WORD, char_before, fold, word_list

__all__ = ["AddressFile", "AddressRecogniser", "load_address_file", "load_address_recogniser"]

PRIORITY = 4
RULE_ID = "pii.address"
_UPPER = "A-ZÄÖÜ"
_LOWER = "a-zäöüß"
_ARTICLES = frozenset(
    {
        "der",
        "die",
        "das",
        "den",
        "dem",
        "des",
        "ein",
        "eine",
        "einer",
        "jede",
        "jeder",
        "diese",
        "dieser",
        "ihre",
        "ihrer",
        "meine",
        "meiner",
        "seine",
        "unsere",
        "keine",
        "the",
        "a",
        "an",
    }
)
_JOIN = re.compile(r",[ \t]*(?:\r?\n[ \t]*)?|[ \t]*\r?\n[ \t]*|[ \t]+")
#: words that open town names ("New Rosieton", "East Kilbride") although they are function words elsewhere
_TOWN_OPENERS = frozenset(
    {
        "new",
        "old",
        "east",
        "west",
        "north",
        "south",
        "upper",
        "lower",
        "great",
        "little",
        "saint",
        "st",
        "port",
        "lake",
        "mount",
        "fort",
        "kings",
        "high",
    }
)
_TOWN_BEFORE = re.compile(r"((?:[A-Z][a-z'’-]+[ ]){0,2}[A-Z][a-z'’-]+)(?:,[ ]?|[ ])$")


class GermanVocabulary(DataModel):
    strong_suffixes: tuple[str, ...]
    weak_suffixes: tuple[str, ...]
    street_words: tuple[str, ...]
    prefixes: tuple[str, ...]
    prefix_stop_words: tuple[str, ...]
    city_joiners: tuple[str, ...]
    city_prefixes: tuple[str, ...]


class EnglishVocabulary(DataModel):
    street_types: tuple[str, ...]
    abbreviations: tuple[str, ...]
    unit_words: tuple[str, ...]
    trailing_units: tuple[str, ...]
    directions: tuple[str, ...]
    us_states: tuple[str, ...]


class AddressFile(DataModel):
    version: int
    german: GermanVocabulary
    english: EnglishVocabulary
    number_stop_words: tuple[str, ...]
    cities: dict[str, str]
    countries: str
    examples: Examples = Examples()


class _NonNameWords(BaseModel):
    """The part of ``person.yaml`` that tells a city from a noun ("12345 Kunden")."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    function_words: str
    common_nouns: str


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class _Piece:
    start: int
    end: int
    score: float
    reason: str


class AddressRecogniser:
    """Finds ADDRESS candidates; immutable after construction, so safe to share between threads."""

    def __init__(self, data: AddressFile, non_city_words: frozenset[str]) -> None:
        german, english = data.german, data.english
        strong = tuple(suffix for suffix in german.strong_suffixes)
        suffixes = _alternation([*strong, *german.weak_suffixes])
        street_words = _alternation(german.street_words)
        prefixes = "|".join(
            re.escape(prefix).replace(r"\ ", "[ ]")
            for prefix in sorted(german.prefixes, key=len, reverse=True)
        )
        number = r"(?P<number>\d{1,4}(?:[ ]?[a-zA-Z](?![\w]))?(?:[ ]?[-–/][ ]?\d{1,4}[a-zA-Z]?)?)"
        self._german_street = re.compile(
            rf"(?<![\w-])(?P<street>"
            rf"(?P<compound>(?:[{_UPPER}][{_LOWER}]+-)*[{_UPPER}][{_LOWER}]*(?:{suffixes}))"
            rf"|(?P<hyphenated>(?:[{_UPPER}][\w]*-)+(?:{street_words}))"
            rf"|(?P<two_words>(?P<adjective>[{_UPPER}][{_LOWER}]+)[ ](?P<street_word>{street_words}))"
            rf"|(?P<prefixed>(?:{prefixes})[ ](?P<name>[{_UPPER}][\w'’-]+)(?:[ ][{_UPPER}][\w'’-]+)?)"
            rf")[ ]{number}(?![\d]|[.,:]\d)"
        )
        joiners = "|".join(
            re.escape(joiner).replace(r"\ ", "[ ]")
            for joiner in sorted(german.city_joiners, key=len, reverse=True)
            if joiner not in ("in", "bei")
        )
        city_prefixes = _alternation(german.city_prefixes)
        self._german_locality = re.compile(
            rf"(?<![\w.,/-])(?:D-?)?\d{{5}}[ ]+(?P<city>(?:(?:{city_prefixes})[ ])?"
            rf"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)*"
            rf"(?:[ ](?:{joiners})[ ][{_UPPER}][{_LOWER}]+|[ ]\([{_UPPER}][{_LOWER}]+\)"
            rf"|[ ](?P<second>[{_UPPER}][{_LOWER}]+))?)(?![\w-])"
        )
        units = _alternation(english.unit_words)
        abbreviations = set(english.abbreviations)
        types = _alternation(word for word in english.street_types if word not in abbreviations)
        abbreviated = _alternation(abbreviations)
        directions = _alternation(english.directions)
        trailing_units = _alternation(english.trailing_units)
        self._english_street = re.compile(
            rf"(?<![\w/.,£$€-])(?:(?:{units})\.?[ ]\w{{1,5}},?[ ])?"
            rf"(?P<number>\d{{1,5}}[A-Za-z]?(?:-\d{{1,5}}[A-Za-z]?)?),?[ ]"
            rf"(?:[A-Z][\w'’]*[ ]){{1,3}}(?:(?:{types})|(?:{abbreviated})\.?)"
            rf"(?:[ ](?:{directions}))?(?:,?[ ](?:{trailing_units})[ ]?\d{{1,5}}[A-Za-z]?)?(?![\w'’])"
        )
        self._uk_postcode = re.compile(
            r"(?<![\w-])(?:[A-Z]{1,2}\d[A-Z\d]?|GIR)[ ]?\d[ABD-HJLNP-UW-Z]{2}(?![\w-])"
        )
        states = _alternation(english.us_states)
        self._us_locality = re.compile(
            rf"(?<![\w-])[A-Z][a-z]+(?:[ ][A-Z][a-z]+){{0,2}},[ ](?:{states})[ ]\d{{5}}(?:-\d{{4}})?(?![\w-])"
        )
        self._strong_suffixes = tuple(fold(suffix) for suffix in strong)
        strong_endings = {fold(suffix).rstrip(".") for suffix in strong}
        self._strong_street_words = frozenset(
            fold(word).rstrip(".") for word in german.street_words if fold(word).rstrip(".") in strong_endings
        ) | {"markt"}
        self._prefix_stop = frozenset(fold(word) for word in german.prefix_stop_words)
        self._number_stop = frozenset(fold(word) for word in data.number_stop_words)
        self._cities = frozenset(fold(city) for city in word_list(" ".join(data.cities.values())))
        self._non_city = non_city_words - self._cities - _TOWN_OPENERS

    def find(self, text: str) -> list[Candidate]:
        streets = [*self._german_streets(text), *self._english_streets(text)]
        localities = [*self._german_localities(text), *self._uk_localities(text), *self._us_localities(text)]
        by_start: dict[int, _Piece] = {}
        for locality in localities:
            if locality.start not in by_start or by_start[locality.start].end < locality.end:
                by_start[locality.start] = locality
        found: list[Candidate] = []
        joined: set[int] = set()
        for street in streets:
            gap = _JOIN.match(text, street.end)
            neighbour = by_start.get(gap.end()) if gap else None
            if neighbour is not None:
                joined.add(neighbour.start)
                score = min(0.95, max(street.score, neighbour.score) + 0.1)
                reason = "ADDRESS (street and house number with postcode and city)"
                found.append(
                    Candidate("ADDRESS", street.start, neighbour.end, score, reason, PRIORITY, RULE_ID)
                )
            else:
                found.append(
                    Candidate(
                        "ADDRESS", street.start, street.end, street.score, street.reason, PRIORITY, RULE_ID
                    )
                )
        for locality in localities:
            if locality.start not in joined:
                found.append(
                    Candidate(
                        "ADDRESS",
                        locality.start,
                        locality.end,
                        locality.score,
                        locality.reason,
                        PRIORITY,
                        RULE_ID,
                    )
                )
        return found

    # -- streets ---------------------------------------------------------------------------------

    def _number_is_unit(self, text: str, end: int) -> bool:
        """True when the "house number" is a quantity: ``3 Tage``, ``12 Uhr``, ``5 %``."""
        rest = text[end : end + 24].lstrip(" \t")
        if rest[:1] in ("%", "€", "$", "£"):
            return True
        following = WORD.match(rest)
        return following is not None and fold(following.group()) in self._number_stop

    def _german_streets(self, text: str) -> Iterable[_Piece]:
        for match in self._german_street.finditer(text):
            if self._number_is_unit(text, match.end()):
                continue
            number = match.group("number")
            year_like = len(number) == 4 and number[:2] in ("19", "20")
            if match.group("prefixed") is not None:
                if fold(match.group("name")) in self._prefix_stop or year_like:
                    continue
                score = 0.55
            elif match.group("two_words") is not None:
                if fold(match.group("adjective")) in _ARTICLES:
                    continue
                score = (
                    0.8 if fold(match.group("street_word")).rstrip(".") in self._strong_street_words else 0.45
                )
            elif match.group("hyphenated") is not None:
                score = 0.8
            else:
                score = 0.8 if fold(match.group("compound")).endswith(self._strong_suffixes) else 0.45
            if year_like:
                score = min(score, 0.45)
            yield _Piece(match.start(), match.end(), score, "ADDRESS (street and house number)")

    def _english_streets(self, text: str) -> Iterable[_Piece]:
        for match in self._english_street.finditer(text):
            if self._number_is_unit(text, match.end("number")):
                continue
            yield _Piece(match.start(), match.end(), 0.75, "ADDRESS (house number and street)")

    # -- localities ------------------------------------------------------------------------------

    def _german_localities(self, text: str) -> Iterable[_Piece]:
        for match in self._german_locality.finditer(text):
            city = match.group("city")
            first_word = fold(WORD.findall(city)[0])
            head = fold(city.split(" ")[-1]) if first_word in ("bad", "sankt", "st") else first_word
            if head in self._non_city:
                continue
            end = match.end()
            second = match.group("second")
            if second is not None and fold(second) in self._non_city:
                end = match.start("second") - 1  # "10115 Berlin Telefon ...": the city is one word
            if head in self._cities or first_word in self._cities:
                score = 0.8
            else:
                score = 0.6 if char_before(text, match.start()) in ",\n:" else 0.35
            yield _Piece(match.start(), end, score, "ADDRESS (postcode and city)")

    def _uk_localities(self, text: str) -> Iterable[_Piece]:
        for match in self._uk_postcode.finditer(text):
            start = match.start()
            line_start = text.rfind("\n", max(0, start - 60), start) + 1
            town = _TOWN_BEFORE.search(text, max(line_start, start - 60), start)
            town_start = None
            if town is not None:
                for word in re.finditer(r"\S+", town.group(1)):
                    if fold(word.group()) in self._non_city:
                        town_start = None  # only the words after a noun or function word belong to the town
                    elif town_start is None:
                        town_start = town.start(1) + word.start()
            if town_start is not None:
                yield _Piece(town_start, match.end(), 0.75, "ADDRESS (town and UK postcode)")
            else:
                yield _Piece(start, match.end(), 0.6, "ADDRESS (UK postcode)")

    def _us_localities(self, text: str) -> Iterable[_Piece]:
        for match in self._us_locality.finditer(text):
            yield _Piece(match.start(), match.end(), 0.75, "ADDRESS (city, state and ZIP code)")


@cache
def load_address_file() -> AddressFile:
    """``address.yaml``, parsed and validated (once per process)."""
    return read_data("address.yaml", AddressFile)


@cache
def load_address_recogniser() -> AddressRecogniser:
    """The ADDRESS recogniser (built once per process)."""
    words = read_data("person.yaml", _NonNameWords)
    non_city = frozenset(
        fold(word) for word in [*word_list(words.function_words), *word_list(words.common_nouns)]
    )
    return AddressRecogniser(load_address_file(), non_city)
