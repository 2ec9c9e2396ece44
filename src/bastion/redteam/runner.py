"""The campaign runner: plan attempts, play them against the target, judge them, store them as they finish.

::

    probes ─► plan(seed): each probe as written, plus ``variants`` mutated copies (seeded mutator chains)
    goals  ─► goal_attempts(strategy)                       (crescendo / refine, bastion.redteam.goals)
          ─► asyncio workers (``concurrency``) ─► strategy.execute(target, attempt) in a thread
          ─► judges (+ the LLM judge when configured) ─► store ─► RunResult (with the budget spent)

The same seed plans the same attempts with the same ids, which is what makes ``--resume`` and
``redteam diff`` work. ``max_requests`` caps the target turns a run *plans*; ``max_target_calls`` and
``max_attacker_tokens`` cap what it *spends* (adaptive strategies decide their calls as they go); attempts
not started when a cap is reached are skipped and counted in the report's budget.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bastion.core.errors import BastionError
from bastion.redteam.judges import get_judge
from bastion.redteam.llm_judge import LlmJudge
from bastion.redteam.models import AttackerModel
from bastion.redteam.mutators import MUTATORS, apply_chain
from bastion.redteam.store import RunStore
from bastion.redteam.strategies import Budget, Evaluator, StrategySettings, StrategyTools, get_strategy
from bastion.redteam.targets import Target
from bastion.redteam.types import (
    Attempt,
    AttemptResult,
    BudgetReport,
    ConsumptionLimits,
    JudgeContext,
    JudgeVerdict,
    Probe,
    RunResult,
    Transcript,
)

__all__ = ["CampaignSettings", "plan", "run_campaign"]

#: mutators the planner draws from by default (the encodings need a model that decodes them)
DEFAULT_MUTATORS: tuple[str, ...] = (
    "leetspeak",
    "homoglyphs",
    "zero_width",
    "casing",
    "spacing",
    "markdown_wrap",
    "payload_split",
    "base64",
)

Progress = Callable[[AttemptResult], None]


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    seed: int = 7
    variants: int = 1  # mutated copies per probe, besides the probe as written
    chain_length: int = 1
    mutators: tuple[str, ...] = DEFAULT_MUTATORS
    concurrency: int = 1
    max_requests: int | None = None
    timeout_s: float = 300.0  # per attempt; adaptive attempts get this per turn (times max_turns)
    extra: dict[str, str] = field(default_factory=dict)
    strategies: tuple[str, ...] = ("single",)
    max_turns: int = 6  # per adaptive attempt
    max_target_calls: int | None = None  # per run
    max_attacker_tokens: int | None = None  # per run (attacker and LLM judge)
    width: int = 2
    branching: int = 2
    depth: int = 3
    limits: ConsumptionLimits | None = None  # per-target limits for the unbounded_consumption judge

    def to_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "variants": self.variants,
            "chain_length": self.chain_length,
            "mutators": list(self.mutators),
            "concurrency": self.concurrency,
            "max_requests": self.max_requests,
            "strategies": list(self.strategies),
            "max_turns": self.max_turns,
            "max_target_calls": self.max_target_calls,
            "max_attacker_tokens": self.max_attacker_tokens,
            "width": self.width,
            "branching": self.branching,
            "depth": self.depth,
            "limits": self.limits.to_dict() if self.limits else None,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, stored: dict[str, object], concurrency: int = 1) -> CampaignSettings:
        """The settings a stored run was started with (for ``--resume``); older runs get the defaults."""

        def number(key: str, default: int | None) -> int | None:
            value = stored.get(key, default)
            return int(value) if isinstance(value, int | float | str) and value != "" else default

        limits = stored.get("limits")
        return cls(
            seed=number("seed", 7) or 0,
            variants=number("variants", 1) or 0,
            chain_length=number("chain_length", 1) or 1,
            mutators=tuple(str(m) for m in stored.get("mutators", DEFAULT_MUTATORS)),  # type: ignore[attr-defined]
            concurrency=concurrency,
            max_requests=number("max_requests", None),
            strategies=tuple(str(s) for s in stored.get("strategies", ("single",))),  # type: ignore[attr-defined]
            max_turns=number("max_turns", 6) or 6,
            max_target_calls=number("max_target_calls", None),
            max_attacker_tokens=number("max_attacker_tokens", None),
            width=number("width", 2) or 2,
            branching=number("branching", 2) or 2,
            depth=number("depth", 3) or 3,
            limits=ConsumptionLimits(**limits) if isinstance(limits, dict) else None,
            extra={k: str(stored.get(k, "")) for k in ("suite", "categories", "languages", "seeds")},
        )

    def strategy_settings(self) -> StrategySettings:
        return StrategySettings(
            max_turns=self.max_turns,
            width=self.width,
            branching=self.branching,
            depth=self.depth,
            seed=self.seed,
        )


def _attempt_id(probe: Probe, chain: Sequence[str]) -> str:
    digest = hashlib.sha256(f"{probe.id}|{'+'.join(chain)}".encode()).hexdigest()[:12]
    return f"{probe.id}#{digest}"


def plan(probes: Sequence[Probe], settings: CampaignSettings) -> list[Attempt]:
    """Every probe as written, then ``variants`` seeded mutator chains of it; capped by ``max_requests``."""
    unknown = [m for m in settings.mutators if m not in MUTATORS]
    if unknown:
        raise BastionError(f"unknown mutators {unknown}")
    rng = random.Random(settings.seed)
    attempts: list[Attempt] = []
    requests = 0
    for probe in probes:
        chains: list[tuple[str, ...]] = [()]
        for _ in range(settings.variants):
            chain = tuple(rng.sample(settings.mutators, min(settings.chain_length, len(settings.mutators))))
            if chain not in chains:
                chains.append(chain)
        for chain in chains:
            if settings.max_requests is not None and requests + len(probe.turns) > settings.max_requests:
                return attempts
            mutate = random.Random(f"{settings.seed}:{probe.id}:{'+'.join(chain)}")
            turns = tuple(apply_chain(turn, chain, mutate) for turn in probe.turns)
            attempts.append(Attempt(_attempt_id(probe, chain), probe, chain, turns))
            requests += len(probe.turns)
    return attempts


@dataclass(frozen=True, slots=True)
class _Helpers:
    """What every attempt of a run shares: the budget, the attacker and the LLM judge (both optional)."""

    budget: Budget
    attacker: AttackerModel | None
    llm_judge: LlmJudge | None
    settings: CampaignSettings


def _context(target: Target, attempt: Attempt, settings: CampaignSettings) -> JudgeContext:
    context = target.judge_context(attempt)
    return dataclasses.replace(context, limits=settings.limits) if settings.limits is not None else context


def _judge(
    context: JudgeContext, attempt: Attempt, transcript: Transcript, llm_judge: LlmJudge | None
) -> tuple[tuple[JudgeVerdict, ...], bool, int]:
    """The probe's judges (any success = the attack worked), then the LLM judge when there is one: its
    success counts too, and its explanation is kept with the verdicts. Returns the judge's tokens."""
    verdicts = tuple(get_judge(judge_id).judge(transcript, context) for judge_id in attempt.probe.judges)
    succeeded = any(verdict.succeeded for verdict in verdicts)
    tokens = 0
    if llm_judge is not None and transcript.replies:
        verdict, _judgement, tokens = llm_judge.assess(transcript, attempt.probe)
        verdicts += (verdict,)
        succeeded = succeeded or verdict.succeeded
    return verdicts, succeeded, tokens


def _run_one(target: Target, attempt: Attempt, helpers: _Helpers) -> AttemptResult:
    started = time.perf_counter()
    try:
        context = _context(target, attempt, helpers.settings)
        evaluator = Evaluator(attempt.probe, context, helpers.llm_judge)
        tools = StrategyTools(
            helpers.budget, evaluator, helpers.attacker, helpers.settings.strategy_settings()
        )
        outcome = get_strategy(attempt.strategy).execute(target, attempt, tools)
    except BastionError as error:
        return AttemptResult(
            attempt,
            Transcript(),
            (),
            False,
            time.perf_counter() - started,
            0,
            f"{type(error).__name__}: {error}",
        )
    verdicts, succeeded, judge_tokens = _judge(context, attempt, outcome.transcript, helpers.llm_judge)
    helpers.budget.spend(attacker_tokens=judge_tokens)
    return AttemptResult(
        attempt,
        outcome.transcript,
        verdicts,
        succeeded,
        time.perf_counter() - started,
        outcome.target_calls,
        attacker_tokens=outcome.attacker_tokens + evaluator.tokens + judge_tokens,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def run_campaign(
    target: Target,
    attempts: Sequence[Attempt],
    store: RunStore,
    settings: CampaignSettings,
    run_id: str | None = None,
    progress: Progress | None = None,
    attacker: AttackerModel | None = None,
    judge_model: AttackerModel | None = None,
) -> RunResult:
    """Run ``attempts`` (skipping those ``run_id`` already stored) and return the whole run.

    ``attacker`` drives the adaptive strategies (their templates are used without it); ``judge_model``
    adds the LLM judge to every attempt. A resumed run starts its budget from what its stored attempts
    spent.
    """
    if run_id is None:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        store.start(run_id, target.name, settings.seed, settings.to_dict(), _now())
    info = store.run_info(run_id)
    done = store.done(run_id)
    stored = store.results(run_id) if done else []
    budget = Budget(
        settings.max_target_calls,
        settings.max_attacker_tokens,
        target_calls=sum(r.requests for r in stored),
        attacker_tokens=sum(r.attacker_tokens for r in stored),
    )
    helpers = _Helpers(budget, attacker, LlmJudge(judge_model) if judge_model is not None else None, settings)
    skipped: list[str] = []
    queue: asyncio.Queue[tuple[int, Attempt]] = asyncio.Queue()
    for position, attempt in enumerate(attempts):
        if attempt.attempt_id not in done:
            queue.put_nowait((position, attempt))

    async def worker() -> None:
        while not queue.empty():
            position, attempt = queue.get_nowait()
            if budget.exhausted():
                skipped.append(attempt.attempt_id)
                continue
            timeout = settings.timeout_s * (1 if attempt.strategy == "single" else max(1, settings.max_turns))
            try:
                result = await asyncio.wait_for(
                    asyncio.to_thread(_run_one, target, attempt, helpers), timeout
                )
            except TimeoutError:
                result = AttemptResult(attempt, Transcript(), (), False, timeout, 0, "timeout")
            store.save(run_id, position, result)
            if progress is not None:
                progress(result)

    await asyncio.gather(*(worker() for _ in range(max(1, settings.concurrency))))
    finished = _now()
    store.finish(run_id, finished)
    results = tuple(store.results(run_id))
    report = BudgetReport(
        max_turns=settings.max_turns if any(s != "single" for s in settings.strategies) else None,
        max_target_calls=settings.max_target_calls,
        max_attacker_tokens=settings.max_attacker_tokens,
        target_calls=sum(r.requests for r in results),
        attacker_tokens=sum(r.attacker_tokens for r in results),
        exhausted=budget.exhausted(),
        skipped=len(skipped),
    )
    return RunResult(
        run_id=run_id,
        target=str(info["target"]),
        seed=int(info["seed"]),
        started_at=str(info["started_at"]),
        finished_at=finished,
        results=results,
        budget=report,
    )
