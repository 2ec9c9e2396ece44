"""The campaign runner: plan attempts, send them to the target, judge them, store them as they finish.

::

    probes ─► plan(seed): each probe as written, plus ``variants`` mutated copies (seeded mutator chains)
          ─► asyncio workers (``concurrency``) ─► target.run(attempt) in a thread ─► judges ─► store
          ─► RunResult

The same seed plans the same attempts with the same ids, which is what makes ``--resume`` and
``redteam diff`` work. ``max_requests`` caps the number of target turns a run may send.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bastion.core.errors import BastionError
from bastion.redteam.judges import get_judge
from bastion.redteam.mutators import MUTATORS, apply_chain
from bastion.redteam.store import RunStore
from bastion.redteam.targets import Target
from bastion.redteam.types import Attempt, AttemptResult, JudgeVerdict, Probe, RunResult, Transcript

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
    timeout_s: float = 300.0
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "variants": self.variants,
            "chain_length": self.chain_length,
            "mutators": list(self.mutators),
            "concurrency": self.concurrency,
            "max_requests": self.max_requests,
            **self.extra,
        }


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


def _judge(target: Target, attempt: Attempt, transcript: Transcript) -> tuple[tuple[JudgeVerdict, ...], bool]:
    context = target.judge_context(attempt)
    verdicts = tuple(get_judge(judge_id).judge(transcript, context) for judge_id in attempt.probe.judges)
    return verdicts, any(verdict.succeeded for verdict in verdicts)


def _run_one(target: Target, attempt: Attempt) -> AttemptResult:
    started = time.perf_counter()
    try:
        transcript = target.run(attempt)
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
    verdicts, succeeded = _judge(target, attempt, transcript)
    return AttemptResult(
        attempt, transcript, verdicts, succeeded, time.perf_counter() - started, len(attempt.turns)
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
) -> RunResult:
    """Run ``attempts`` (skipping those ``run_id`` already stored) and return the whole run."""
    if run_id is None:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
        store.start(run_id, target.name, settings.seed, settings.to_dict(), _now())
    info = store.run_info(run_id)
    done = store.done(run_id)
    queue: asyncio.Queue[tuple[int, Attempt]] = asyncio.Queue()
    for position, attempt in enumerate(attempts):
        if attempt.attempt_id not in done:
            queue.put_nowait((position, attempt))

    async def worker() -> None:
        while not queue.empty():
            position, attempt = queue.get_nowait()
            try:
                result = await asyncio.wait_for(
                    asyncio.to_thread(_run_one, target, attempt), settings.timeout_s
                )
            except TimeoutError:
                result = AttemptResult(attempt, Transcript(), (), False, settings.timeout_s, 0, "timeout")
            store.save(run_id, position, result)
            if progress is not None:
                progress(result)

    await asyncio.gather(*(worker() for _ in range(max(1, settings.concurrency))))
    finished = _now()
    store.finish(run_id, finished)
    return RunResult(
        run_id=run_id,
        target=str(info["target"]),
        seed=int(info["seed"]),
        started_at=str(info["started_at"]),
        finished_at=finished,
        results=tuple(store.results(run_id)),
    )
