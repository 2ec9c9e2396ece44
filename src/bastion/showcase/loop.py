"""The showcase loop: demo on the local model, red team directly and through the gateway, benign traffic,
latency, one comparison report.

1. The demo assistant (``naive`` by default: what teams ship first) on Gemma 3 270M through llama.cpp.
2. The red-team suite against it directly (:class:`OneCallerDemoTarget`).
3. The gateway in this process on a free local port, with the policy an operator of this assistant would
   write (:func:`bastion.gateway.demo.demo_policy`), in front of the *same* assistant; the same attempts
   through it (:class:`GatewayDemoTarget`).
4. Benign customer messages (German written for Bastion, English from Banking77) through the gateway's
   guard: the share it would refuse.
5. The latency the gateway added to each call, from its audit log (total minus upstream time).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.core.events import Attribute, EventKind
from bastion.core.types import Conversation, Message, Role
from bastion.redteam.probes import load_suite, select
from bastion.redteam.report import write_reports
from bastion.redteam.runner import CampaignSettings, plan, run_campaign
from bastion.redteam.store import RunStore
from bastion.redteam.types import AttemptResult, RunResult
from bastion.showcase.benign import BenignMessage, load_benign

__all__ = ["BenignOutcome", "LatencyOutcome", "ShowcaseResult", "ShowcaseSettings", "run_showcase"]

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ShowcaseSettings:
    output: Path
    home: Path | None = None
    seed: int = 7
    configuration: str = "naive"
    categories: tuple[str, ...] = ()
    variants: int = 0
    max_probes: int | None = None
    benign_per_language: int | None = None


@dataclass(frozen=True)
class BenignOutcome:
    language: str
    messages: int
    blocked: int
    blocked_ids: tuple[str, ...]
    p50_ms: float

    @property
    def blocked_share(self) -> float:
        return self.blocked / self.messages if self.messages else 0.0


@dataclass(frozen=True)
class LatencyOutcome:
    calls: int
    added_p50_ms: float
    added_p99_ms: float
    upstream_p50_ms: float


@dataclass
class ShowcaseResult:
    settings: ShowcaseSettings
    direct: RunResult
    guarded: RunResult
    benign: list[BenignOutcome]
    latency: LatencyOutcome | None
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


def run_showcase(settings: ShowcaseSettings, progress: Progress | None = None) -> ShowcaseResult:
    """Run the whole loop and write its reports into ``settings.output``."""
    import httpx

    from bastion.demo.server import create_app as demo_app
    from bastion.gateway.app import build_gateway, create_app
    from bastion.gateway.config import Credential, GatewayConfig
    from bastion.gateway.demo import DEMO_TENANT, demo_policy
    from bastion.guard.audit import open_audit_log
    from bastion.guard.keys import Scope
    from bastion.showcase.targets import GatewayDemoTarget, OneCallerDemoTarget
    from bastion.web.serve import serving

    started = time.perf_counter()
    report = progress or (lambda stage, done, total: None)
    output = settings.output
    output.mkdir(parents=True, exist_ok=True)
    probes = select(load_suite(), settings.categories)
    if settings.max_probes is not None:
        probes = probes[: settings.max_probes]
    campaign = CampaignSettings(seed=settings.seed, variants=settings.variants)
    attempts = plan(probes, campaign)
    store = RunStore(output / "runs.sqlite")

    report("starting the demo assistant", 0, 1)
    demo = OneCallerDemoTarget(settings.configuration, settings.home, settings.seed)
    try:
        direct = _campaign(demo, attempts, store, campaign, "direct", report)

        state = output / "gateway-state"
        per_tenant = len(demo.data.debtors) // len(demo.data.tenants)
        policy, upstream_key, _ = demo_policy(settings.seed, per_tenant)
        config = GatewayConfig.model_validate(
            {
                "upstreams": [
                    {
                        "name": "demo",
                        "base_url": "http://demo.internal/v1",
                        "provider": "bastion.demo",
                        "retries": 0,
                    }
                ],
                "stores": {
                    "audit": str(state / "audit.sqlite"),
                    "keys": str(state / "gateway.sqlite"),
                    "vault": str(state / "vault.sqlite"),
                },
                "limits": {"default_requests_per_minute": 100_000},
            }
        )
        transport = httpx.ASGITransport(app=demo_app(demo.assistant, demo.database))
        gateway, keys = build_gateway(
            config,
            policy=policy,
            transports={"demo": transport},
            credentials={"demo": Credential(upstream_key)},
            vault_key=secrets.token_bytes(32),
        )
        key = secrets.token_urlsafe(24)
        keys.ensure_key(DEMO_TENANT, key, [Scope.CHAT])
        with serving(create_app(gateway, keys, warm_up_tenants=(DEMO_TENANT,))) as url:
            target = GatewayDemoTarget(demo, url, key)
            try:
                guarded = _campaign(target, attempts, store, campaign, "through the gateway", report)
            finally:
                target.close()
        report("benign messages through the guard", 0, 1)
        benign = _benign(gateway.guard, DEMO_TENANT, settings.benign_per_language)
        log = open_audit_log(state / "audit.sqlite")
        try:
            latency = _latency(event for _, event in log.iter_events() if event is not None)
        finally:
            log.close()
        keys.close()
    finally:
        demo.close()
        store.close()
    result = ShowcaseResult(settings, direct, guarded, benign, latency, time.perf_counter() - started)
    from bastion.showcase.report import write_showcase

    result.files = {
        **{f"direct_{k}": v for k, v in write_reports(direct, output / "direct").items()},
        **{f"gateway_{k}": v for k, v in write_reports(guarded, output / "gateway").items()},
        **write_showcase(result, output),
    }
    return result


def _campaign(
    target: Any,
    attempts: list[Any],
    store: RunStore,
    settings: CampaignSettings,
    label: str,
    report: Progress,
) -> RunResult:
    done = 0

    def step(_: AttemptResult) -> None:
        nonlocal done
        done += 1
        report(f"red team {label}", done, len(attempts))

    report(f"red team {label}", 0, len(attempts))
    return asyncio.run(run_campaign(target, attempts, store, settings, progress=step))


def _benign(guard: Any, tenant: str, per_language: int | None) -> list[BenignOutcome]:
    outcomes = []
    by_language: dict[str, list[BenignMessage]] = {}
    for message in load_benign():
        by_language.setdefault(message.language, []).append(message)
    for language, messages in sorted(by_language.items()):
        chosen = messages[:per_language] if per_language else messages
        blocked: list[str] = []
        times = []
        for message in chosen:
            began = time.perf_counter()
            verdict = guard.check_input(Conversation.of([Message(Role.USER, message.text)]), tenant=tenant)
            times.append((time.perf_counter() - began) * 1000)
            if verdict.blocked:
                blocked.append(message.id)
        outcomes.append(
            BenignOutcome(
                language, len(chosen), len(blocked), tuple(blocked), statistics.median(times) if times else 0
            )
        )
    return outcomes


def _latency(events: Any) -> LatencyOutcome | None:
    added: list[float] = []
    upstream: list[float] = []
    for event in events:
        if event.kind is not EventKind.CHAT:
            continue
        total = event.get(Attribute.LATENCY_MS)
        spent = event.get(Attribute.UPSTREAM_LATENCY_MS) or 0.0
        if isinstance(total, int | float):
            added.append(max(0.0, float(total) - float(spent)))
            if spent:
                upstream.append(float(spent))
    if not added:
        return None
    added.sort()
    return LatencyOutcome(
        calls=len(added),
        added_p50_ms=statistics.median(added),
        added_p99_ms=added[min(len(added) - 1, int(len(added) * 0.99))],
        upstream_p50_ms=statistics.median(upstream) if upstream else 0.0,
    )


def result_to_dict(result: ShowcaseResult) -> dict[str, Any]:
    """The comparison as JSON (``showcase.json``)."""

    def categories(run: RunResult) -> dict[str, dict[str, Any]]:
        return {
            name: {"attempts": row.attempts, "successes": row.successes, "asr": round(row.asr, 4)}
            for name, row in run.summary.by_category.items()
        }

    direct, guarded = result.direct.summary, result.guarded.summary
    reduction = 1 - guarded.successes / direct.successes if direct.successes else None
    return {
        "schema_version": 1,
        "seconds": round(result.seconds, 1),
        "target": result.direct.target,
        "seed": result.settings.seed,
        "direct": {
            "run_id": result.direct.run_id,
            "attempts": direct.attempts,
            "successes": direct.successes,
            "asr": round(direct.asr, 4),
            "by_category": categories(result.direct),
        },
        "gateway": {
            "run_id": result.guarded.run_id,
            "attempts": guarded.attempts,
            "successes": guarded.successes,
            "asr": round(guarded.asr, 4),
            "by_category": categories(result.guarded),
        },
        "successful_attacks_reduction": None if reduction is None else round(reduction, 4),
        "benign": [
            {
                "language": b.language,
                "messages": b.messages,
                "blocked": b.blocked,
                "blocked_share": round(b.blocked_share, 4),
                "blocked_ids": list(b.blocked_ids),
                "guard_p50_ms": round(b.p50_ms, 3),
            }
            for b in result.benign
        ],
        "latency": None
        if result.latency is None
        else {
            "calls": result.latency.calls,
            "added_p50_ms": round(result.latency.added_p50_ms, 2),
            "added_p99_ms": round(result.latency.added_p99_ms, 2),
            "upstream_p50_ms": round(result.latency.upstream_p50_ms, 1),
        },
    }


def dumps(result: ShowcaseResult) -> str:
    return json.dumps(result_to_dict(result), indent=2, ensure_ascii=False) + "\n"
