"""The ``pii`` detector: runs the recognisers, resolves overlaps, scores against the policy."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bastion.core.errors import ConfigError
from bastion.core.types import Detection, Policy, Span
from bastion.detect.base import DEFAULT_MAX_CHARS, BaseDetector, ScanContext
from bastion.detect.pii._address import load_address_recogniser
from bastion.detect.pii._birth_date import load_birth_date_recogniser
from bastion.detect.pii._candidate import Candidate, resolve_overlaps
from bastion.detect.pii._person import load_person_recogniser
from bastion.detect.pii._structured import load_pattern_file, load_structured
from bastion.detect.pii._text import ContextWords

__all__ = ["BUILTIN_TYPES", "CustomPattern", "PIIDetector"]

BUILTIN_TYPES = (
    "PERSON",
    "IBAN",
    "BIC",
    "CREDIT_CARD",
    "TAX_ID",
    "PHONE",
    "EMAIL",
    "ADDRESS",
    "DATE_OF_BIRTH",
    "IP_ADDRESS",
)

#: custom patterns win overlaps: the user asked for them explicitly
CUSTOM_PRIORITY = 11
#: score factor for a custom pattern that names context words when none is near the match
CUSTOM_WITHOUT_CONTEXT = 0.6
_TYPE_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


@dataclass(frozen=True, slots=True)
class CustomPattern:
    """A user-defined PII type found by a regular expression, such as a case number.

    ``context`` words (case-insensitive, within the context window before the match) confirm a match;
    when a pattern names context words and none is near, its score is multiplied by 0.6. An invalid
    ``regex``, a name that is not ``UPPER_SNAKE_CASE`` or a score outside ``[0, 1]`` raise
    :class:`~bastion.core.errors.ConfigError`.

    >>> CustomPattern("CASE_NUMBER", r"AZ-\\d{4}-\\d{6}", context=("Aktenzeichen",)).name
    'CASE_NUMBER'
    """

    name: str
    regex: str
    context: tuple[str, ...] = ()
    score: float = 0.85
    compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _TYPE_NAME.fullmatch(self.name):
            raise ConfigError(f"custom PII pattern name {self.name!r} must be UPPER_SNAKE_CASE")
        if not 0.0 <= self.score <= 1.0:
            raise ConfigError(f"custom PII pattern {self.name}: score must be in [0, 1]")
        object.__setattr__(self, "context", tuple(str(word) for word in self.context))
        try:
            compiled = re.compile(self.regex)
        except (re.error, TypeError) as error:
            raise ConfigError(f"custom PII pattern {self.name}: invalid regular expression") from error
        if compiled.fullmatch("") is not None:
            raise ConfigError(f"custom PII pattern {self.name}: the expression matches the empty text")
        object.__setattr__(self, "compiled", compiled)


@dataclass(frozen=True, slots=True)
class _CustomRule:
    pattern: CustomPattern
    context: ContextWords

    def find(self, text: str, window: int) -> Iterator[Candidate]:
        name = self.pattern.name
        for match in self.pattern.compiled.finditer(text):
            start, end = match.span()
            if start == end:
                continue
            score = self.pattern.score
            if self.context and not self.context.occurs_in(text[max(0, start - window) : start]):
                score *= CUSTOM_WITHOUT_CONTEXT
            yield Candidate(
                name, start, end, score, f"{name} (custom pattern)", CUSTOM_PRIORITY, f"custom.{name.lower()}"
            )


class PIIDetector(BaseDetector):
    """Personal data in German and English text, validated by checksums where they exist.

    Finds names (``PERSON``), ``IBAN`` (mod-97), ``BIC`` (ISO 9362 with country code), payment cards
    (``CREDIT_CARD``: Luhn and issuer prefix), the German Steuer-ID (``TAX_ID``: ISO 7064 MOD 11,10),
    ``PHONE``, ``EMAIL``, postal ``ADDRESS``, ``DATE_OF_BIRTH`` (a date with birth context) and
    ``IP_ADDRESS``, plus the user's ``custom_patterns``. ``types`` limits what is reported.

    Every detection carries the exact span of the value; the explanation names the type and the check
    that confirmed it, never the value. Detections below the score floor are dropped; the rest are
    ``flagged`` when their score reaches the policy's threshold.

    >>> detector = PIIDetector()
    >>> [(d.type, d.span.start, d.span.end) for d in detector.detect("IBAN DE89 3704 0044 0532 0130 00")]
    [('IBAN', 5, 32)]
    """

    id = "pii"
    description = (
        "Personal data in German and English text: names, IBAN, BIC, payment cards, German tax ID, phone, "
        "e-mail, postal addresses, dates of birth and IP addresses, confirmed by checksums where they exist."
    )
    types = BUILTIN_TYPES
    owasp = ("LLM02",)
    atlas = ("AML.T0057",)

    def __init__(
        self,
        policy: Policy = Policy.BALANCED,
        max_chars: int = DEFAULT_MAX_CHARS,
        custom_patterns: Iterable[CustomPattern] = (),
        types: Iterable[str] | None = None,
    ) -> None:
        super().__init__(policy=policy, max_chars=max_chars)
        custom = tuple(custom_patterns)
        for pattern in custom:
            if not isinstance(pattern, CustomPattern):
                raise ConfigError(
                    f"custom_patterns must hold CustomPattern values, got {type(pattern).__name__}"
                )
        names = [pattern.name for pattern in custom]
        clashes = sorted({name for name in names if name in BUILTIN_TYPES or names.count(name) > 1})
        if clashes:
            raise ConfigError(
                f"custom PII pattern names clash with built-in or each other: {', '.join(clashes)}"
            )
        available = (*BUILTIN_TYPES, *names)
        if types is None:
            enabled = available
        else:
            enabled = tuple(dict.fromkeys(str(name) for name in types))
            unknown = sorted(set(enabled) - set(available))
            if unknown:
                raise ConfigError(f"unknown PII types: {', '.join(unknown)}")
        self.custom_patterns = custom
        #: the types this instance reports (built-in and custom), in a stable order
        self.enabled_types: tuple[str, ...] = enabled
        self._enabled = frozenset(enabled)
        settings = load_pattern_file()
        self.threshold: float = getattr(settings.thresholds, self.policy.value)
        self.floor: float = settings.floor
        self._window = settings.context_window
        self._structured = load_structured()
        self._birth_dates = load_birth_date_recogniser() if "DATE_OF_BIRTH" in self._enabled else None
        self._addresses = load_address_recogniser() if "ADDRESS" in self._enabled else None
        self._persons = load_person_recogniser() if "PERSON" in self._enabled else None
        self._custom_rules = tuple(
            _CustomRule(pattern, ContextWords(pattern.context))
            for pattern in custom
            if pattern.name in self._enabled
        )

    def _detect(self, text: str, context: ScanContext) -> Sequence[Detection]:
        if not text:
            return []
        candidates = self._structured.find(text)
        if self._birth_dates is not None:
            candidates.extend(self._birth_dates.find(text))
        if self._addresses is not None:
            candidates.extend(self._addresses.find(text))
        if self._persons is not None:
            candidates.extend(self._persons.find(text))
        for rule in self._custom_rules:
            candidates.extend(rule.find(text, self._window))
        detections = []
        for candidate in resolve_overlaps(candidates):
            if candidate.type not in self._enabled or candidate.score < self.floor:
                continue
            score = round(min(1.0, candidate.score), 4)
            detections.append(
                Detection(
                    detector=self.id,
                    type=candidate.type,
                    score=score,
                    flagged=score >= self.threshold,
                    span=Span(candidate.start, candidate.end),
                    explanation=candidate.reason,
                    metadata=MappingProxyType({"rule": candidate.rule}),
                )
            )
        return detections
