"""Monitor detection quality on a labelled replay of gateway traffic: real red-team runs and benign messages.

Three sources, all written by the real gateway (`bastion.gateway`) into its audit log:

1. **The red team against the demo, through the gateway** — the audit log of a `bastion showcase` run
   (`--showcase DIR`, its `gateway-state/audit.sqlite`): the owasp-llm-2025 suite against the naive demo
   assistant on Gemma 3 270M, one attacker key. Label: `monitor.injection.repeated` for that key, plus
   `monitor.leakage.sensitive_output` / `monitor.tools.out_of_scope` when the gateway redacted personal data
   in an answer or blocked a tool call in that run.
2. **A campaign**: the suite's single-turn probe texts sent by six attacker keys through a gateway whose
   upstream is a stand-in that answers at once (the guard decides on input; the stand-in isolates the run
   from the model's speed). Labels: `monitor.injection.repeated` for each key, `monitor.injection.campaign`
   for each probe text the guard flagged (the rule can only see flagged text).
3. **Benign customers**: the shipped benign messages (200 German, 250 English) from 30 customer keys through
   the same gateway. No label: every alert on these keys is a false alert.

Then one `monitor run` over everything (the rule pack as shipped) and per rule: expected groups, alerts, false
alerts, missed, precision and recall.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_monitor_replay.py --showcase bastion-showcase
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from bastion.core.events import Attribute, Event, EventKind
from bastion.evaluation.machine import describe_machine
from bastion.gateway.app import build_gateway, create_app
from bastion.gateway.config import GatewayConfig
from bastion.guard.audit import open_audit_log
from bastion.monitor import EventStore, load_rules, run_rules
from bastion.redteam.probes import load_suite
from bastion.showcase.benign import load_benign

RESULTS = Path(__file__).resolve().parent / "results"
ANSWER = {
    "id": "chatcmpl-standin",
    "object": "chat.completion",
    "model": "demo",
    "choices": [
        {
            "index": 0,
            "finish_reason": "stop",
            "message": {"role": "assistant", "content": "Vielen Dank für Ihre Nachricht, wir melden uns."},
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 12, "total_tokens": 52},
}


def showcase_events(folder: Path) -> list[Event]:
    log = open_audit_log(folder / "gateway-state" / "audit.sqlite")
    try:
        return [event for _, event in log.iter_events() if event is not None]
    finally:
        log.close()


def gateway_traffic(work: Path) -> tuple[list[Event], dict[str, str], list[str], list[str]]:
    """Campaign and benign traffic through a real gateway with a stand-in upstream."""
    config = GatewayConfig.model_validate(
        {
            "upstreams": [
                {"name": "standin", "base_url": "http://standin.internal/v1", "provider": "bastion.demo"}
            ],
            "stores": {
                "audit": str(work / "audit.sqlite"),
                "keys": str(work / "keys.sqlite"),
                "vault": str(work / "vault.sqlite"),
            },
            "limits": {"default_requests_per_minute": 100_000},
        }
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=ANSWER))
    gateway, keys = build_gateway(config, transports={"standin": transport}, vault_key=bytes(range(32)))
    attackers = [keys.issue("demo", ["chat"], label=f"attacker-{i}") for i in range(6)]
    customers = [keys.issue("demo", ["chat"], label=f"customer-{i}") for i in range(30)]
    probes = [p.turns[0] for p in load_suite() if len(p.turns) == 1 and not p.setup]
    benign = load_benign()
    app = create_app(gateway, keys)
    first_turn_of: dict[str, str] = {}

    async def send(client: httpx.AsyncClient, key: str, text: str) -> None:
        body = {"model": "demo", "messages": [{"role": "user", "content": text}]}
        await client.post("/chat/completions", json=body, headers={"authorization": f"Bearer {key}"})

    async def run() -> None:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw/v1"
        ) as client:
            turn = 0
            for index, message in enumerate(benign):  # customers and attackers interleaved in time
                await send(client, customers[index % len(customers)].plaintext, message.text)
                if index % 3 == 0 and turn < len(probes) * len(attackers):
                    attacker = attackers[turn % len(attackers)]
                    text = probes[(turn // len(attackers)) % len(probes)]
                    first_turn_of[attacker.key.key_id] = text
                    await send(client, attacker.plaintext, text)
                    turn += 1

    asyncio.run(run())
    keys.close()
    log = open_audit_log(work / "audit.sqlite")
    try:
        events = [event for _, event in log.iter_events() if event is not None]
    finally:
        log.close()
    return events, first_turn_of, [a.key.key_id for a in attackers], [c.key.key_id for c in customers]


def labels_for(showcase: list[Event], traffic: list[Event], attackers: list[str]) -> dict[str, set[str]]:
    expected: dict[str, set[str]] = defaultdict(set)
    for event in showcase:
        if event.kind is not EventKind.CHAT:
            continue
        group = f"{event.tenant}/{event.get(Attribute.API_KEY_ID)}"
        stage, action = event.get(Attribute.GUARD_STAGE), event.get(Attribute.GUARD_ACTION)
        if stage == "input" and action == "block":
            expected["monitor.injection.repeated"].add(group)
        if stage == "tool_call" and action == "block":
            expected["monitor.tools.out_of_scope"].add(group)
        if stage == "output" and any(
            str(d.get("type", "")).startswith("PII:") for d in event.get(Attribute.DETECTIONS) or []
        ):
            expected["monitor.leakage.sensitive_output"].add(group)
    flagged_by: dict[str, set[str]] = defaultdict(set)
    for event in traffic:
        key = event.get(Attribute.API_KEY_ID)
        if event.kind is not EventKind.CHAT or key not in attackers:
            continue
        flagged = event.get(Attribute.GUARD_ACTION) == "block" or any(
            d.get("detector") in ("injection", "indirect") for d in event.get(Attribute.DETECTIONS) or []
        )
        if flagged:
            expected["monitor.injection.repeated"].add(f"{event.tenant}/{key}")
            flagged_by[str(event.get(Attribute.INPUT_SHA256))].add(key)
    expected["monitor.injection.campaign"] = {sha for sha, keys in flagged_by.items() if len(keys) >= 3}
    return expected


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--showcase", type=Path, default=Path("bastion-showcase"))
    args = parser.parse_args()
    showcase = showcase_events(args.showcase)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        traffic, _, attackers, customers = gateway_traffic(Path(folder))
        traffic_seconds = time.perf_counter() - started
    expected = labels_for(showcase, traffic, attackers)
    events = showcase + traffic
    rules = load_rules()
    store = EventStore(":memory:")
    store.set_reference(
        [("bastion.demo", "demo"), ("bastion.demo", "bastion-demo-naive")], [("demo", "*", "*")]
    )
    store.add(events)
    began = time.perf_counter()
    alerts = run_rules(store, rules).alerts
    run_seconds = time.perf_counter() - began
    found: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        found[alert.rule].add(alert.group)
    rows = []
    for rule in rules:
        want, got = expected.get(rule.id, set()), found.get(rule.id, set())
        hits = len(want & got)
        rows.append(
            {
                "rule": rule.id,
                "expected": len(want),
                "alerts": len(got),
                "false_alerts": len(got - want),
                "missed": len(want - got),
                "precision": hits / len(got) if got else None,
                "recall": hits / len(want) if want else None,
            }
        )
    customer_groups = {f"demo/{c}" for c in customers}
    on_customers = sorted({(a.rule, a.group) for a in alerts if a.group in customer_groups})
    unexpected = sorted({(a.rule, a.group) for a in alerts if a.group not in expected.get(a.rule, set())})
    report = {
        "machine": describe_machine(),
        "events": {"showcase": len(showcase), "campaign_and_benign": len(traffic)},
        "attacker_keys": 1 + len(attackers),
        "customer_keys": len(customers),
        "seconds": {"gateway_traffic": round(traffic_seconds, 1), "monitor_run": round(run_seconds, 3)},
        "rules": rows,
        "alerts_on_customer_keys": [list(pair) for pair in on_customers],
        "false_alerts": [list(pair) for pair in unexpected],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "monitor_replay.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    write_markdown(report, args.showcase)


def write_markdown(report: dict[str, Any], showcase: Path) -> None:
    machine = report["machine"]
    events = report["events"]
    lines = [
        "# Monitor on a replay of real gateway traffic",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine['cpu_model']} ({machine['nproc']} cores, "
        f"load average {machine['load_average_1min']}). "
        f"`PYTHONPATH=src .venv/bin/python benchmarks/bench_monitor_replay.py --showcase {showcase}`.",
        "",
        f"Events: {events['showcase']} from a `bastion showcase` run (the red-team suite through the gateway "
        f"against the naive demo on the local model), {events['campaign_and_benign']} from "
        f"{report['attacker_keys'] - 1} campaign keys sending the suite's probes and "
        f"{report['customer_keys']} customer keys sending the shipped benign messages through the gateway "
        f"(stand-in upstream). One `monitor run` over all: {report['seconds']['monitor_run']} s.",
        "",
        "| rule | expected groups | alerts | false alerts | missed | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["rules"]:
        precision = "n/a" if row["precision"] is None else f"{row['precision']:.2f}"
        recall = "n/a" if row["recall"] is None else f"{row['recall']:.2f}"
        lines.append(
            f"| {row['rule']} | {row['expected']} | {row['alerts']} | {row['false_alerts']} | "
            f"{row['missed']} | {precision} | {recall} |"
        )
    lines += [
        "",
        f"Alerts on customer keys: {report['alerts_on_customer_keys'] or 'none'}.",
        f"False alerts (rule, group): {report['false_alerts'] or 'none'}.",
        "",
    ]
    (RESULTS / "monitor_replay.md").write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
