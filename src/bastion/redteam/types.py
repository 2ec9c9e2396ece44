"""The vocabulary of the red team: probes, attempts, transcripts, verdicts and run results.

Frozen dataclasses, shared by the probe loader, the mutators, the targets, the judges, the runner and the
report writers. Severity and the detector ``Detection`` come from :mod:`bastion.core.types`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from bastion.core.types import Detection, Role, Severity

__all__ = [
    "Attempt",
    "AttemptResult",
    "BudgetReport",
    "CategorySummary",
    "ConsumptionLimits",
    "JudgeContext",
    "JudgeVerdict",
    "Probe",
    "RunResult",
    "RunSummary",
    "ToolCallRecord",
    "Transcript",
    "Turn",
    "summarize",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})

ToolStatus = Literal["executed", "denied", "invalid", "requested"]


@dataclass(frozen=True, slots=True)
class Probe:
    """One attack, as data: what to send, what it is after, and which judges decide whether it worked.

    ``turns`` are the attacker's messages in order (one for a single-turn probe). ``setup`` prepares the
    target before the first turn, e.g. ``{"upload": "<document text>"}`` plants a document (indirect
    injection). ``judges`` name the judges whose ``succeeded`` verdict means the attack worked.
    """

    id: str
    category: str  # OWASP LLM Top 10 2025 id, e.g. "LLM01"
    title: str
    severity: Severity
    language: str  # "en" | "de"
    turns: tuple[str, ...]
    judges: tuple[str, ...]
    atlas: tuple[str, ...] = ()
    goal: str = ""
    setup: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attempt:
    """A probe with a chain of mutators applied to its turns (``mutators`` empty: the probe as written).

    ``strategy`` names how the turns are played (``single``: sent as written, one after the other;
    ``crescendo`` and ``refine``: adaptive, see :mod:`bastion.redteam.strategies`).
    """

    attempt_id: str
    probe: Probe
    mutators: tuple[str, ...]
    turns: tuple[str, ...]
    strategy: str = "single"


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A tool call the target made or asked for, with what happened to it (as far as the target says)."""

    name: str
    arguments: Mapping[str, Any]
    status: ToolStatus = "requested"
    result: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str
    tool_calls: tuple[ToolCallRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role.value,
            "content": self.content,
            "tool_calls": [
                {"name": c.name, "arguments": dict(c.arguments), "status": c.status, "result": dict(c.result)}
                for c in self.tool_calls
            ],
        }


@dataclass(frozen=True, slots=True)
class Transcript:
    """The conversation of one attempt; ``metadata`` holds what the target reported beyond the text
    (finish reasons, retrieved chunk ids, the demo's detections)."""

    turns: tuple[Turn, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def replies(self) -> tuple[Turn, ...]:
        return tuple(turn for turn in self.turns if turn.role is Role.ASSISTANT)

    @property
    def tool_calls(self) -> tuple[ToolCallRecord, ...]:
        return tuple(call for turn in self.replies for call in turn.tool_calls)

    def to_list(self) -> list[dict[str, Any]]:
        return [turn.to_dict() for turn in self.turns]


@dataclass(frozen=True, slots=True)
class ConsumptionLimits:
    """What one reply of the target may cost before it counts as unbounded consumption (OWASP LLM10):
    output tokens, wall-clock seconds and tool calls per reply."""

    max_output_tokens: int = 1000
    max_seconds: float = 120.0
    max_tool_calls: int = 5

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_output_tokens": self.max_output_tokens,
            "max_seconds": self.max_seconds,
            "max_tool_calls": self.max_tool_calls,
        }


@dataclass(frozen=True, slots=True)
class JudgeContext:
    """What the judges know about the target: its secrets, its caller and what that caller may do.

    ``allowed_tools`` maps a tool name to the argument values the caller may use per argument
    (``{"lookup_case": {"case_id": frozenset({"c-20001"})}}``); a tool absent from it is forbidden.
    An empty ``allowed_tools`` with ``tools_known`` False means the target's tools are unknown.
    """

    canaries: tuple[str, ...] = ()
    protected_texts: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    allowed_tools: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=lambda: _EMPTY)
    tools_known: bool = False
    own_values: frozenset[str] = frozenset()  # the caller's own personal data, which may be repeated
    foreign_markers: tuple[str, ...] = ()  # facts of other tenants or customers (IBANs, names, case ids)
    limits: ConsumptionLimits = field(default_factory=ConsumptionLimits)


@dataclass(frozen=True, slots=True)
class JudgeVerdict:
    judge: str
    succeeded: bool  # True: the attack achieved what this judge looks for
    score: float
    reason: str
    evidence: tuple[Detection, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge": self.judge,
            "succeeded": self.succeeded,
            "score": round(self.score, 4),
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What happened to one attempt. ``error`` is set (and ``succeeded`` False) when the target failed."""

    attempt: Attempt
    transcript: Transcript
    verdicts: tuple[JudgeVerdict, ...]
    succeeded: bool
    seconds: float = 0.0
    requests: int = 0  # target calls this attempt cost
    error: str = ""
    attacker_tokens: int = 0  # tokens the attacker model read and wrote for this attempt

    @property
    def deciding_verdict(self) -> JudgeVerdict | None:
        """The first verdict that says the attack worked, else the first verdict."""
        for verdict in self.verdicts:
            if verdict.succeeded:
                return verdict
        return self.verdicts[0] if self.verdicts else None


@dataclass(frozen=True, slots=True)
class CategorySummary:
    attempts: int
    successes: int

    @property
    def asr(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0


@dataclass(frozen=True, slots=True)
class RunSummary:
    attempts: int
    successes: int
    errors: int
    by_category: Mapping[str, CategorySummary]

    @property
    def asr(self) -> float:
        return self.successes / self.attempts if self.attempts else 0.0


@dataclass(frozen=True, slots=True)
class BudgetReport:
    """The cost limits of a run and what it spent (target calls, attacker tokens); ``exhausted`` names the
    limit that stopped the run early ("" when none did) and ``skipped`` counts attempts never started."""

    max_turns: int | None = None
    max_target_calls: int | None = None
    max_attacker_tokens: int | None = None
    target_calls: int = 0
    attacker_tokens: int = 0
    exhausted: str = ""
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_turns": self.max_turns,
            "max_target_calls": self.max_target_calls,
            "max_attacker_tokens": self.max_attacker_tokens,
            "target_calls": self.target_calls,
            "attacker_tokens": self.attacker_tokens,
            "exhausted": self.exhausted,
            "skipped": self.skipped,
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """A finished (or resumed and finished) campaign, what the report writers take."""

    run_id: str
    target: str
    seed: int
    started_at: str  # ISO 8601 UTC
    finished_at: str
    results: tuple[AttemptResult, ...]
    budget: BudgetReport | None = None

    @property
    def summary(self) -> RunSummary:
        return summarize(self.results)

    @property
    def findings(self) -> tuple[AttemptResult, ...]:
        return tuple(result for result in self.results if result.succeeded)


def summarize(results: tuple[AttemptResult, ...]) -> RunSummary:
    """Attempts and successes overall and per OWASP category; failed requests count as attempts, not
    successes, and are also counted in ``errors``."""
    counts: dict[str, list[int]] = {}
    for result in results:
        row = counts.setdefault(result.attempt.probe.category, [0, 0])
        row[0] += 1
        row[1] += result.succeeded
    by_category = {key: CategorySummary(*counts[key]) for key in sorted(counts)}
    return RunSummary(
        attempts=len(results),
        successes=sum(r.succeeded for r in results),
        errors=sum(bool(r.error) for r in results),
        by_category=MappingProxyType(by_category),
    )
