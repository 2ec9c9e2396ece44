"""Gateway overhead: latency it adds (p50/p99) and throughput, with and without detectors.

Three processes on this machine: a stand-in upstream that answers every call at once with a fixed
completion (it stands in for a model only to isolate the gateway's own cost), the gateway (``bastion
gateway serve --config``) and this load generator (httpx, asyncio). Each configuration is measured
against the same upstream directly and through the gateway; "added" is the difference of the medians and
of the 99th percentiles, and the gateway's own histogram (total minus upstream time) is read from /metrics.

Configurations:
- ``passthrough``: no detectors, no pseudonymisation (auth, limits, routing, audit only);
- ``default``: the default policy (injection, secrets and PII on input with pseudonymisation; leakage on
  output);

Messages are realistic customer messages (German and English, 60-400 characters) with personal data in
half of them, so pseudonymisation does real work.

    .venv/bin/python benchmarks/bench_gateway.py [--requests 400] [--concurrency 1 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bastion.evaluation.machine import describe_machine
from bastion.guard.keys import KeyStore

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"

MESSAGES = [
    "Guten Tag, ich kann die Rate für März erst am 15. zahlen. Geht das auch in zwei Teilen?",
    "Hallo, ich bin Erika Mustermann (erika.mustermann@example.de). Meine IBAN ist DE89370400440532013000, "
    "bitte buchen Sie die Rate von dort ab.",
    "Hi, I received a reminder for invoice 2024-118 but I already paid on Monday. Can you check?",
    "My name is John Smith, phone +49 170 1234567. I would like a payment plan of 50 euros a month.",
    "Warum wurden mir Mahngebühren von 5 Euro berechnet? Ich habe die erste Mahnung nie bekommen.",
    "Please send the statement to my new address: Hauptstraße 12, 10115 Berlin. Thanks, Max Müller.",
    "Kann ich die Forderung mit einem Rabatt auf einmal begleichen? Ich hätte 300 Euro zur Verfügung.",
    "Could you tell me which company the debt is from? The letter only mentions a reference number.",
]


STANDIN = """
import json
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

ANSWER = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1, "model": "bench",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
        "content": "Vielen Dank für Ihre Nachricht. Ihre offene Forderung beträgt EUR 412,50; Sie können "
                   "in bis zu sechs Raten zahlen. Möchten Sie einen Ratenplan anlegen?"}}],
    "usage": {"prompt_tokens": 60, "completion_tokens": 30, "total_tokens": 90},
}).encode()

async def chat(request):
    await request.body()
    return Response(ANSWER, media_type="application/json")

async def models(request):
    body = b'{"object":"list","data":[{"id":"bench","object":"model"}]}'
    return Response(body, media_type="application/json")

app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)])
"""

POLICIES = {
    "passthrough": (
        "defaults:\n  pseudonymize: false\n  input: {injection: null, pii: null, secrets: null}\n"
        "  tool_output: {indirect: null}\n  output: {leakage: null}\n  document: {indirect: null}\n"
    ),
    "default": "defaults: {}\n",
}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def started(command: list[str], ready_url: str, cwd: Path, env: dict[str, str]) -> Iterator[None]:
    log = (cwd / f"{command[2]}.log").open("wb")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(ready_url, process)
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


async def load(url: str, key: str, requests: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers={"authorization": f"Bearer {key}"}, limits=limits
    ) as client:
        for warm in range(5):
            await client.post("/chat/completions", json=_body(warm))

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                started_at = time.perf_counter()
                response = await client.post("/chat/completions", json=_body(index), timeout=30)
                latencies.append((time.perf_counter() - started_at) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "rps": requests / elapsed,
        "ok": statuses.get(200, 0) / requests,
    }


def _body(index: int) -> dict[str, Any]:
    return {"model": "bench", "messages": [{"role": "user", "content": MESSAGES[index % len(MESSAGES)]}]}


def added_histogram(metrics: str) -> float | None:
    """Mean of the gateway's own "added" histogram for chat (seconds -> ms)."""
    total = re.search(r'bastion_gateway_added_seconds_sum\{endpoint="chat"\} ([0-9.e+-]+)', metrics)
    count = re.search(r'bastion_gateway_added_seconds_count\{endpoint="chat"\} ([0-9.e+-]+)', metrics)
    if not total or not count or float(count.group(1)) == 0:
        return None
    return float(total.group(1)) / float(count.group(1)) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(os.environ.get("BENCH_DIR", folder))
        (work / "standin.py").write_text(STANDIN, encoding="utf-8")
        env = {**os.environ, "BASTION_VAULT_KEY": "11" * 32, "PYTHONPATH": str(work)}
        upstream_port = free_port()
        upstream = f"http://127.0.0.1:{upstream_port}/v1"
        standin = [
            sys.executable,
            "-m",
            "uvicorn",
            "standin:app",
            "--port",
            str(upstream_port),
            "--log-level",
            "warning",
        ]
        with started(standin, f"{upstream}/models", work, env):
            for name, policy in POLICIES.items():
                state = work / name
                state.mkdir()
                (state / "policy.yaml").write_text(policy, encoding="utf-8")
                (state / "gateway.yaml").write_text(
                    json.dumps(
                        {
                            "policy": "policy.yaml",
                            "upstreams": [{"name": "standin", "base_url": upstream, "retries": 0}],
                            "stores": {
                                "audit": str(state / "audit.sqlite"),
                                "keys": str(state / "keys.sqlite"),
                                "vault": str(state / "vault.sqlite"),
                            },
                            "limits": {
                                "default_requests_per_minute": 1_000_000,
                                "default_tokens_per_day": 10_000_000_000,
                            },
                        }
                    ),
                    encoding="utf-8",
                )
                with KeyStore(state / "keys.sqlite") as keys:
                    key = keys.issue("bench", ["chat", "models"]).plaintext
                port = free_port()
                gateway = f"http://127.0.0.1:{port}/v1"
                command = [
                    sys.executable,
                    "-m",
                    "bastion.cli.main",
                    "gateway",
                    "serve",
                    "--config",
                    str(state / "gateway.yaml"),
                    "--port",
                    str(port),
                ]
                with started(command, f"http://127.0.0.1:{port}/healthz", state, env):
                    for concurrency in args.concurrency:
                        direct = asyncio.run(load(upstream, "none", args.requests, concurrency))
                        through = asyncio.run(load(gateway, key, args.requests, concurrency))
                        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
                        row = {
                            "policy": name,
                            "concurrency": concurrency,
                            "direct_p50_ms": direct["p50_ms"],
                            "direct_p99_ms": direct["p99_ms"],
                            "gateway_p50_ms": through["p50_ms"],
                            "gateway_p99_ms": through["p99_ms"],
                            "added_p50_ms": through["p50_ms"] - direct["p50_ms"],
                            "added_p99_ms": through["p99_ms"] - direct["p99_ms"],
                            "gateway_own_mean_ms": added_histogram(metrics),
                            "direct_rps": direct["rps"],
                            "gateway_rps": through["rps"],
                            "gateway_ok": through["ok"],
                        }
                        rows.append(row)
                        print(
                            json.dumps(
                                {k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()}
                            )
                        )
    write(rows, args)


def write(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    machine = describe_machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "gateway.json").write_text(
        json.dumps({"machine": machine, "requests": args.requests, "rows": rows}, indent=2) + "\n",
        encoding="utf-8",
    )
    lines = [
        "# Gateway overhead",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine['cpu_model']} ({machine['nproc']} cores, "
        f"Python {machine['python']}, load average {machine['load_average_1min']}): upstream stand-in, "
        "gateway and load generator are three processes on the same 2 cores. The stand-in answers at once "
        f"(it isolates the gateway's own cost; it is not a model). {args.requests} chat requests per row, "
        "customer messages in German and English, half with personal data. "
        "`.venv/bin/python benchmarks/bench_gateway.py`",
        "",
        "| policy | concurrency | direct p50 / p99 ms | gateway p50 / p99 ms | added p50 / p99 ms | "
        "gateway's own mean ms | direct req/s | gateway req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        own = "n/a" if r["gateway_own_mean_ms"] is None else f"{r['gateway_own_mean_ms']:.2f}"
        lines.append(
            f"| {r['policy']} | {r['concurrency']} | {r['direct_p50_ms']:.2f} / {r['direct_p99_ms']:.2f} | "
            f"{r['gateway_p50_ms']:.2f} / {r['gateway_p99_ms']:.2f} | {r['added_p50_ms']:.2f} / "
            f"{r['added_p99_ms']:.2f} | {own} | {r['direct_rps']:.0f} | {r['gateway_rps']:.0f} |"
        )
    (RESULTS / "gateway.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
