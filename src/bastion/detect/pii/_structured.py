"""Structured PII: e-mail, IBAN, BIC, payment card, German tax ID, phone and IP addresses.

Each rule in ``patterns.yaml`` pairs a pattern (which only narrows) with a named validator here (which
confirms: checksum, country table, :mod:`ipaddress`) and context words that raise the score. Patterns
use possessive quantifiers and look-behinds that only allow a match to start at a token boundary, so a
scan is linear in the length of the text.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

from pydantic import Field

from bastion.core.errors import ConfigError
from bastion.detect.pii._candidate import BLOCKER, Candidate
from bastion.detect.pii._data import DataModel, Examples, read_data
from bastion.detect.pii._text import ContextWords, word_list
from bastion.detect.pii._validators import (
    bic_is_well_formed,
    card_issuer,
    iban_checksum_is_valid,
    luhn_is_valid,
    tax_id_is_valid,
)

__all__ = ["PatternFile", "StructuredRecogniser", "StructuredRule", "load_pattern_file", "load_structured"]

#: negative context (an invoice or customer number label) only counts this close to the match
NEGATIVE_WINDOW = 24


class ContextSpec(DataModel):
    words: tuple[str, ...]
    score: float = Field(ge=0.0, le=1.0)


class RuleSpec(DataModel):
    id: str
    type: str
    priority: int
    validator: str
    pattern: str
    score: float = Field(ge=0.0, le=1.0)
    context: ContextSpec | None = None
    negative_context: tuple[str, ...] = ()
    examples: Examples = Examples()


class Thresholds(DataModel):
    strict: float = Field(ge=0.0, le=1.0)
    balanced: float = Field(ge=0.0, le=1.0)
    permissive: float = Field(ge=0.0, le=1.0)


class ServicePrefixes(DataModel):
    national: tuple[str, ...]
    north_american_area_codes: tuple[str, ...]
    international: tuple[str, ...]


class PatternFile(DataModel):
    version: int
    thresholds: Thresholds
    floor: float = Field(ge=0.0, le=1.0)
    context_window: int = Field(gt=0)
    rules: tuple[RuleSpec, ...]
    iban_lengths: dict[str, int]
    country_codes: str
    service_phone_prefixes: ServicePrefixes


@dataclass(frozen=True, slots=True)
class Hit:
    """A validated span; ``score=None`` keeps the rule's score, ``blocker`` only claims the span."""

    start: int
    end: int
    reason: str
    score: float | None = None
    blocker: bool = False


@dataclass(frozen=True, slots=True)
class Tables:
    """Reference data the validators need."""

    iban_lengths: Mapping[str, int]
    country_codes: frozenset[str]
    service_national: tuple[str, ...]
    service_north_american: frozenset[str]
    service_international: tuple[str, ...]


Validator = Callable[[str, "re.Match[str]", Tables], list[Hit]]

_DIGITS = re.compile(r"\d+")
_PHONE_PREFIX_BEFORE = re.compile(r"(?:\+|(?<!\d)00)\d{1,3}[ ./-]?$")
_PHONE_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?|Durchwahl|DW)[ ]?\d+$")


def _digits_of(value: str) -> str:
    return "".join(_DIGITS.findall(value))


def _email(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    local, _, domain = match.group().partition("@")
    if local.endswith(".") or ".." in local or ".." in domain:
        return []
    return [Hit(match.start(), match.end(), "EMAIL (address syntax)")]


def _iban(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    head = match.group().upper()
    length = tables.iban_lengths.get(head[:2])
    if length is None:
        return []
    chars = [head]
    count = len(head)
    position = match.end()
    size = len(text)
    while count < length and position < size:
        char = text[position]
        if char.isascii() and char.isalnum():
            chars.append(char.upper())
            count += 1
            position += 1
        elif (
            char == " "
            and count % 4 == 0
            and position + 1 < size
            and text[position + 1].isascii()
            and text[position + 1].isalnum()
        ):
            position += 1
        else:
            break
    if count != length or (position < size and text[position].isascii() and text[position].isalnum()):
        return []
    if iban_checksum_is_valid("".join(chars)):
        return [Hit(match.start(), position, "IBAN (mod-97 valid)")]
    return [Hit(match.start(), position, "", blocker=True)]


def _bic(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    code = match.group()
    if not bic_is_well_formed(code, tables.country_codes):
        return []
    distinctive = code.endswith("XXX") or any(char.isdigit() for char in code[6:])
    reason = "BIC (ISO 9362 structure, valid country code)"
    return [Hit(match.start(), match.end(), reason, score=0.45 if distinctive else None)]


def _card_layout_score(lengths: list[int]) -> float:
    """How much the digit grouping looks like a card as people write it."""
    if len(lengths) == 1:
        return 0.8
    if all(size == 4 for size in lengths[:-1]) and 1 <= lengths[-1] <= 4:
        return 0.9
    if lengths in ([4, 6, 5], [4, 6, 4]):
        return 0.9
    return 0.6


def _credit_card(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    base = match.start()
    groups = [(part.start() + base, part.end() + base) for part in _DIGITS.finditer(match.group())]
    hits: list[Hit] = []
    index = 0
    while index < len(groups):
        best: tuple[int, str] | None = None
        digits = ""
        separator: str | None = None
        for last in range(index, len(groups)):
            if last > index:
                gap = text[groups[last - 1][1] : groups[last][0]]
                if separator is None:
                    separator = gap
                elif gap != separator:
                    break
            digits += text[groups[last][0] : groups[last][1]]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_is_valid(digits):
                issuer = card_issuer(digits)
                if issuer is not None:
                    best = (last, issuer)
        lengths = [end - start for start, end in groups[index:]]
        if best is not None:
            last, issuer = best
            score = _card_layout_score(lengths[: last - index + 1])
            reason = f"CREDIT_CARD (Luhn valid, {issuer} prefix)"
            hits.append(Hit(groups[index][0], groups[last][1], reason, score=score))
            index = last + 1
            continue
        if lengths[:4] == [4, 4, 4, 4]:
            # card-shaped but failing the checks: keep its digits from being read as a phone number
            last = min(len(groups), index + 5) - 1
            hits.append(Hit(groups[index][0], groups[last][1], "", blocker=True))
            index = last + 1
            continue
        index += 1
    return hits


def _tax_id(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    if not tax_id_is_valid(match.group().replace(" ", "")):
        return []
    if _PHONE_PREFIX_BEFORE.search(text, max(0, match.start() - 6), match.start()):
        return []  # "+49 15123456789" is a phone number
    return [Hit(match.start(), match.end(), "TAX_ID (Steuer-ID check digit valid)")]


def _balanced_end(text: str, start: int, end: int) -> int:
    """Drop a closing parenthesis that belongs to the surrounding prose, not to the number."""
    value = text[start:end]
    while value.endswith(")") and value.count("(") < value.count(")"):
        value = value[:-1]
        end -= 1
    return end


def _phone_international(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    start = match.start()
    end = _balanced_end(text, start, match.end())
    raw = _PHONE_EXTENSION.sub("", text[start:end])
    digits = _digits_of(raw.replace("(0)", ""))
    if raw.startswith("00"):
        digits = digits[2:]
    if not 8 <= len(digits) <= 15 or digits.startswith(tables.service_international):
        return []
    return [Hit(start, end, "PHONE (international format)")]


def _phone_national(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    start = match.start()
    end = _balanced_end(text, start, match.end())
    digits = _digits_of(_PHONE_EXTENSION.sub("", text[start:end]))
    if not 7 <= len(digits) <= 13 or digits.startswith(tables.service_national):
        return []
    return [Hit(start, end, "PHONE (national format)")]


def _phone_north_american(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    digits = _digits_of(_PHONE_EXTENSION.sub("", match.group()))
    if digits[0] in "01" or digits[3] in "01" or digits[:3] in tables.service_north_american:
        return []
    return [Hit(match.start(), match.end(), "PHONE (North American format)")]


def _ipv4(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    try:
        ipaddress.IPv4Address(match.group())
    except ValueError:
        return []
    return [Hit(match.start(), match.end(), "IP_ADDRESS (valid IPv4)")]


def _ipv6(text: str, match: re.Match[str], tables: Tables) -> list[Hit]:
    value = match.group()
    colons = value.count(":")
    if "::" not in value and colons != 7 and not (colons == 6 and "." in value):
        return []
    if sum(char not in ":." for char in value) < 3:
        return []  # "::", "::1": not an address anyone owns
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return []
    return [Hit(match.start(), match.end(), "IP_ADDRESS (valid IPv6)")]


VALIDATORS: dict[str, Validator] = {
    "email": _email,
    "iban": _iban,
    "bic": _bic,
    "credit_card": _credit_card,
    "tax_id": _tax_id,
    "phone_international": _phone_international,
    "phone_national": _phone_national,
    "phone_north_american": _phone_north_american,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
}


@dataclass(frozen=True, slots=True)
class StructuredRule:
    """One compiled rule of ``patterns.yaml``."""

    id: str
    type: str
    priority: int
    pattern: re.Pattern[str]
    score: float
    context: ContextWords
    context_score: float
    negative_context: ContextWords
    validate: Validator

    def find(self, text: str, tables: Tables, window: int) -> Iterator[Candidate]:
        for match in self.pattern.finditer(text):
            for hit in self.validate(text, match, tables):
                if hit.blocker:
                    yield Candidate(BLOCKER, hit.start, hit.end, 1.0, "", self.priority, self.id)
                    continue
                before = text[max(0, hit.start - window) : hit.start]
                if self.negative_context and self.negative_context.occurs_in(before[-NEGATIVE_WINDOW:]):
                    continue
                score = self.score if hit.score is None else hit.score
                if self.context and self.context.occurs_in(before):
                    score = max(score, self.context_score)
                yield Candidate(self.type, hit.start, hit.end, score, hit.reason, self.priority, self.id)


@dataclass(frozen=True, slots=True)
class StructuredRecogniser:
    """All structured rules with their reference tables."""

    rules: tuple[StructuredRule, ...]
    tables: Tables
    context_window: int

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(rule.type for rule in self.rules))

    def find(self, text: str) -> list[Candidate]:
        found: list[Candidate] = []
        for rule in self.rules:
            found.extend(rule.find(text, self.tables, self.context_window))
        return found


def _compile_rule(spec: RuleSpec) -> StructuredRule:
    validate = VALIDATORS.get(spec.validator)
    if validate is None:
        raise ConfigError(f"patterns.yaml: rule {spec.id} names an unknown validator {spec.validator!r}")
    try:
        pattern = re.compile(spec.pattern)
    except re.error as error:
        raise ConfigError(f"patterns.yaml: rule {spec.id} has an invalid pattern ({error.msg})") from error
    return StructuredRule(
        id=spec.id,
        type=spec.type,
        priority=spec.priority,
        pattern=pattern,
        score=spec.score,
        context=ContextWords(spec.context.words if spec.context else ()),
        context_score=spec.context.score if spec.context else spec.score,
        negative_context=ContextWords(spec.negative_context),
        validate=validate,
    )


@cache
def load_pattern_file() -> PatternFile:
    """``patterns.yaml``, parsed and validated (once per process)."""
    return read_data("patterns.yaml", PatternFile)


@cache
def load_structured() -> StructuredRecogniser:
    """The compiled structured rules (once per process; immutable, so safe to share between threads)."""
    data = load_pattern_file()
    prefixes = data.service_phone_prefixes
    tables = Tables(
        iban_lengths=dict(data.iban_lengths),
        country_codes=frozenset(word_list(data.country_codes)),
        service_national=prefixes.national,
        service_north_american=frozenset(prefixes.north_american_area_codes),
        service_international=prefixes.international,
    )
    rules = tuple(_compile_rule(spec) for spec in data.rules)
    return StructuredRecogniser(rules=rules, tables=tables, context_window=data.context_window)
