"""The shared vocabulary of Bastion.

Every capability (detectors, red team, guard, monitor, govern) speaks these types. They are frozen
dataclasses: cheap to create, hashable, safe to share between threads. Scores are floats in ``[0, 1]``
where 1 means risk.

None of these types carries raw secrets or personal data on purpose: a :class:`Detection` points at the
text with a :class:`Span`; whoever holds the text decides whether to show it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "Action",
    "Conversation",
    "Detection",
    "Finding",
    "Message",
    "Policy",
    "Role",
    "Severity",
    "Span",
    "Verdict",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Severity(StrEnum):
    """How bad a finding is, ordered from ``INFO`` to ``CRITICAL``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for ``INFO`` up to 4 for ``CRITICAL``; use it to compare severities."""
        return _SEVERITY_ORDER.index(self)

    @property
    def sarif_level(self) -> str:
        """The SARIF ``level``: critical/high -> error, medium -> warning, low/info -> note."""
        return ("note", "note", "warning", "error", "error")[self.rank]

    @property
    def security_score(self) -> float:
        """A CVSS-like number for SARIF's ``security-severity`` (code scanning buckets it: ≥ 9 critical,
        ≥ 7 high, ≥ 4 medium, > 0 low)."""
        return (0.0, 3.0, 5.5, 8.0, 9.5)[self.rank]


_SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


class Action(StrEnum):
    """What a policy decides to do with a message."""

    ALLOW = "allow"
    FLAG = "flag"
    REDACT = "redact"
    BLOCK = "block"


class Policy(StrEnum):
    """Operating points of the detectors, chosen on validation data at fixed false-positive rates.

    ``STRICT`` catches more and flags more benign traffic; ``PERMISSIVE`` flags almost no benign traffic.
    """

    STRICT = "strict"
    BALANCED = "balanced"
    PERMISSIVE = "permissive"


class Role(StrEnum):
    """Who wrote a message in a conversation (OpenAI chat roles)."""

    SYSTEM = "system"
    DEVELOPER = "developer"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A half-open character range ``[start, end)`` in a text (Python string indices)."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span [{self.start}, {self.end})")

    def __len__(self) -> int:
        return self.end - self.start

    def of(self, text: str) -> str:
        """The part of ``text`` this span covers."""
        return text[self.start : self.end]

    def overlaps(self, other: Span) -> bool:
        """True when the two spans share at least one character."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class Detection:
    """One thing a detector found (or scored) in a text.

    ``detector`` is the detector's stable id (``"pii"``), ``type`` what was found (``"IBAN"``,
    ``"prompt_injection"``). ``span`` is ``None`` for whole-text verdicts. ``explanation`` is a short,
    human-readable reason that never contains the secret or personal value itself.
    """

    detector: str
    type: str
    score: float
    flagged: bool
    span: Span | None = None
    explanation: str = ""
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score {self.score!r} is outside [0, 1]")

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by ``bastion scan`` and the reports."""
        return {
            "detector": self.detector,
            "type": self.type,
            "score": round(self.score, 4),
            "flagged": self.flagged,
            "start": None if self.span is None else self.span.start,
            "end": None if self.span is None else self.span.end,
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision about one message: what to do and why."""

    action: Action
    detections: tuple[Detection, ...] = ()
    reason: str = ""
    rule: str | None = None

    @property
    def flagged(self) -> bool:
        return any(d.flagged for d in self.detections)


@dataclass(frozen=True, slots=True)
class Finding:
    """A security finding with its taxonomy, produced by the red team, the monitor or a scanner."""

    rule_id: str
    title: str
    severity: Severity
    owasp: tuple[str, ...] = ()
    atlas: tuple[str, ...] = ()
    detections: tuple[Detection, ...] = ()
    message: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message."""

    role: Role
    content: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """An ordered, immutable list of messages."""

    messages: tuple[Message, ...] = ()

    @classmethod
    def of(cls, messages: Iterable[Message]) -> Conversation:
        return cls(tuple(messages))

    def __iter__(self) -> Iterator[Message]:
        return iter(self.messages)

    def __len__(self) -> int:
        return len(self.messages)

    def by_role(self, role: Role) -> tuple[Message, ...]:
        return tuple(m for m in self.messages if m.role is role)

    def last(self, role: Role | None = None) -> Message | None:
        """The last message, or the last one with ``role``."""
        for message in reversed(self.messages):
            if role is None or message.role is role:
                return message
        return None

    def append(self, message: Message) -> Conversation:
        """A new conversation with ``message`` added at the end."""
        return Conversation((*self.messages, message))
