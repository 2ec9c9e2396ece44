"""Benchmark of the guard's stores: audit-log appends and verification, key lookups, rate-limit decisions.

Run from the repository root (PostgreSQL at 127.0.0.1:5432, database ``test``, and Redis at 127.0.0.1:6379
are used when reachable and reported as skipped otherwise)::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_audit.py

Measured, one process unless stated:

- audit appends, one event per transaction (``append``), latency p50/p99 and throughput: SQLite WAL with
  ``synchronous=NORMAL`` (the default: survives kill -9) and ``FULL`` (fsync per commit: survives power
  loss), unkeyed and with ``BASTION_AUDIT_KEY`` (HMAC); PostgreSQL (row lock on the head, one commit each);
- batched appends (``append_many``, 100 events per transaction);
- concurrent appenders: 8 threads, each with its own connection or all sharing one log object (group
  commit), on PostgreSQL and on one SQLite file;
- ``verify`` speed (rows per second) on the logs just written;
- ``KeyStore.authenticate`` latency (SQLite) and rate-limit decisions (in memory, Redis).

Events are realistic gateway ``chat`` events (about 600 bytes of JSON). The databases live in a temporary
folder on the machine's disk. Writes ``benchmarks/results/audit.json`` and ``benchmarks/results/audit.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.core.events import Attribute, Event, EventKind
from bastion.evaluation.machine import describe_machine
from bastion.guard.audit import ChainedAuditLog, PostgresAuditLog, SQLiteAuditLog
from bastion.guard.keys import KeyStore
from bastion.guard.limits import InMemoryRateLimiter, RedisRateLimiter

RESULTS = Path(__file__).resolve().parent / "results"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
AUDIT_KEY = "benchmark-audit-key-0123456789abcdef"


def chat_event(index: int) -> Event:
    return Event(
        id=f"evt-{uuid.uuid4().hex}",
        time=datetime.now(UTC),
        kind=EventKind.CHAT,
        tenant=f"tenant-{index % 3}",
        attributes={
            Attribute.OPERATION: "chat",
            Attribute.PROVIDER: "bastion.demo",
            Attribute.REQUEST_MODEL: "gemma-3-270m-it",
            Attribute.RESPONSE_MODEL: "gemma-3-270m-it",
            Attribute.RESPONSE_ID: f"chatcmpl-{index}",
            Attribute.FINISH_REASONS: ["stop"],
            Attribute.INPUT_TOKENS: 212,
            Attribute.OUTPUT_TOKENS: 87,
            Attribute.API_KEY_ID: "k3xq7vb2mna4",
            Attribute.GUARD_ACTION: "allow",
            Attribute.INPUT_TEXT: "Guten Tag, hier <PERSON_1>, ich möchte die Rate für Akte <CASE_2> ändern.",
            Attribute.OUTPUT_TEXT: "Gern. Ihre neue Rate beträgt 50 EUR im Monat, zahlbar an <IBAN_1>.",
            Attribute.LATENCY_MS: 412.5,
            Attribute.UPSTREAM_LATENCY_MS: 409.1,
            Attribute.PSEUDONYMS: ["<PERSON_1>", "<CASE_2>", "<IBAN_1>"],
        },
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def time_appends(log: ChainedAuditLog, count: int) -> dict[str, Any]:
    events = [chat_event(i) for i in range(count)]
    latencies: list[float] = []
    started = time.perf_counter()
    for item in events:
        before = time.perf_counter()
        log.append(item)
        latencies.append((time.perf_counter() - before) * 1000)
    elapsed = time.perf_counter() - started
    return {
        "events": count,
        "p50_ms": round(percentile(latencies, 0.50), 3),
        "p99_ms": round(percentile(latencies, 0.99), 3),
        "mean_ms": round(statistics.fmean(latencies), 3),
        "per_second": round(count / elapsed),
    }


def time_batches(log: ChainedAuditLog, batches: int, size: int = 100) -> dict[str, Any]:
    prepared = [[chat_event(i) for i in range(size)] for _ in range(batches)]
    started = time.perf_counter()
    for batch in prepared:
        log.append_many(batch)
    elapsed = time.perf_counter() - started
    return {"events": batches * size, "batch": size, "per_second": round(batches * size / elapsed)}


def time_concurrent(
    opener: Callable[[], ChainedAuditLog], threads: int, each: int, *, shared: bool
) -> dict[str, Any]:
    """``threads`` appenders, each with its own log object (connection) or all sharing one (group commit)."""
    logs = [opener()] * threads if shared else [opener() for _ in range(threads)]
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def work(index: int) -> None:
        for i in range(each):
            before = time.perf_counter()
            logs[index].append(chat_event(i))
            latencies[index].append((time.perf_counter() - before) * 1000)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    for log in set(logs):
        log.close()
    merged = [value for values in latencies for value in values]
    return {
        "threads": threads,
        "events": threads * each,
        "p50_ms": round(percentile(merged, 0.50), 3),
        "p99_ms": round(percentile(merged, 0.99), 3),
        "per_second": round(threads * each / elapsed),
    }


def time_verify(log: ChainedAuditLog) -> dict[str, Any]:
    started = time.perf_counter()
    result = log.verify()
    elapsed = time.perf_counter() - started
    assert result.ok, result
    return {
        "rows": result.events,
        "seconds": round(elapsed, 3),
        "rows_per_second": round(result.events / elapsed),
    }


def postgres_available() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as connection:
            row = connection.execute("SHOW synchronous_commit").fetchone()
            version = connection.execute("SHOW server_version").fetchone()
        return f"PostgreSQL {version[0] if version else '?'}, synchronous_commit={row[0] if row else '?'}"
    except Exception:
        return ""


def postgres_schema() -> tuple[str, Callable[[], None]]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")

    return f"{PG_URL}?options=-csearch_path%3D{schema}", drop


def bench_audit(folder: Path, count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"append": {}, "append_many": {}, "concurrent": {}, "verify": {}}
    cases: list[tuple[str, Callable[[], ChainedAuditLog]]] = [
        ("SQLite, synchronous=NORMAL", lambda: SQLiteAuditLog(folder / "normal.sqlite", key=None)),
        (
            "SQLite, synchronous=FULL",
            lambda: SQLiteAuditLog(folder / "full.sqlite", key=None, synchronous="FULL"),
        ),
        ("SQLite, NORMAL, HMAC key", lambda: SQLiteAuditLog(folder / "keyed.sqlite", key=AUDIT_KEY)),
    ]
    drops: list[Callable[[], None]] = []
    postgres = postgres_available()
    if postgres:
        url, drop = postgres_schema()
        drops.append(drop)
        cases.append(("PostgreSQL", lambda: PostgresAuditLog(url, key=None)))
    results["postgres"] = postgres or "not reachable: skipped"
    try:
        for name, opener in cases:
            with opener() as log:
                results["append"][name] = time_appends(
                    log, count if "FULL" not in name else max(count // 4, 200)
                )
                results["append_many"][name] = time_batches(log, max(count // 100, 5))
                print(f"{name}: append {results['append'][name]}, append_many {results['append_many'][name]}")
        concurrent_cases = [("SQLite, NORMAL, one file", cases[0][1])]
        if postgres:
            concurrent_cases.append(("PostgreSQL", cases[-1][1]))
        for name, opener in concurrent_cases:
            for shared in (False, True):
                label = f"{name}, {'one shared log (group commit)' if shared else 'a connection each'}"
                results["concurrent"][label] = time_concurrent(
                    opener, threads=8, each=max(count // 16, 50), shared=shared
                )
                print(f"{label}: 8 threads {results['concurrent'][label]}")
        for name, opener in cases:
            with opener() as log:
                results["verify"][name] = time_verify(log)
                print(f"{name}: verify {results['verify'][name]}")
    finally:
        for drop in drops:
            drop()
    return results


def bench_keys(folder: Path, count: int) -> dict[str, Any]:
    with KeyStore(folder / "gateway.sqlite") as store:
        issued = [store.issue(f"tenant-{i % 5}", ["chat"]) for i in range(200)]
        latencies = []
        for i in range(count):
            key = issued[i % len(issued)].plaintext
            before = time.perf_counter()
            assert store.authenticate(key) is not None
            latencies.append((time.perf_counter() - before) * 1000)
        misses = []
        for i in range(count // 4):
            before = time.perf_counter()
            assert store.authenticate(f"bst_{'a' * 12}_{'B' * 42}{i % 10}") is None
            misses.append((time.perf_counter() - before) * 1000)
    return {
        "keys": len(issued),
        "valid_p50_ms": round(percentile(latencies, 0.5), 4),
        "valid_p99_ms": round(percentile(latencies, 0.99), 4),
        "unknown_p50_ms": round(percentile(misses, 0.5), 4),
    }


async def _decisions(limiter: Any, count: int) -> dict[str, Any]:
    latencies = []
    for i in range(count):
        before = time.perf_counter()
        await limiter.check_request(f"key-{i % 50}", 1_000_000)
        latencies.append((time.perf_counter() - before) * 1000)
    token_latencies = []
    for i in range(count // 2):
        before = time.perf_counter()
        await limiter.charge_tokens(f"key-{i % 50}", 10, 10**12)
        token_latencies.append((time.perf_counter() - before) * 1000)
    started = time.perf_counter()
    await asyncio.gather(*(limiter.check_request(f"c-{i % 50}", 1_000_000) for i in range(count)))
    concurrent = count / (time.perf_counter() - started)
    return {
        "request_p50_ms": round(percentile(latencies, 0.5), 4),
        "request_p99_ms": round(percentile(latencies, 0.99), 4),
        "tokens_p50_ms": round(percentile(token_latencies, 0.5), 4),
        "gathered_per_second": round(concurrent),
    }


def bench_limits(count: int) -> dict[str, Any]:
    results: dict[str, Any] = {"memory": asyncio.run(_decisions(InMemoryRateLimiter(), count))}
    prefix = f"bench:{uuid.uuid4().hex}:"

    async def redis_case() -> dict[str, Any]:
        limiter = RedisRateLimiter(REDIS_URL, prefix=prefix)
        try:
            return await _decisions(limiter, count)
        finally:
            await limiter.aclose()

    try:
        results["redis"] = asyncio.run(redis_case())
    except Exception as error:  # Redis not reachable: reported, not fatal
        results["redis"] = f"skipped: {type(error).__name__}"
    finally:
        try:
            import redis

            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
        except Exception:
            pass
    return results


def filesystem(folder: Path) -> str:
    try:
        output = subprocess.run(["df", "-T", str(folder)], capture_output=True, text=True, check=True).stdout
        return output.splitlines()[1].split()[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown"


def markdown(report: dict[str, Any]) -> str:
    machine, audit = report["machine"], report["audit"]
    lines = [
        "# Guard stores benchmark: audit log, API keys, rate limits",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"load average {machine['load_average_1min']} (the machine is shared)  ",
        f"Databases in a temporary folder on `{report['filesystem']}`; {audit['postgres']}; "
        f"events are gateway chat events of {report['event_bytes']} bytes of JSON.",
        "",
        "## Audit appends, one event per transaction (durable when `append` returns)",
        "",
        "| store | events | p50 ms | p99 ms | mean ms | per second |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in audit["append"].items():
        lines.append(
            f"| {name} | {row['events']} | {row['p50_ms']} | {row['p99_ms']} | {row['mean_ms']} | "
            f"{row['per_second']:,} |"
        )
    lines += ["", "## Batched appends (`append_many`, 100 events per transaction)", ""]
    lines += ["| store | events | per second |", "|---|---:|---:|"]
    for name, row in audit["append_many"].items():
        lines.append(f"| {name} | {row['events']} | {row['per_second']:,} |")
    lines += ["", "## Concurrent appenders (8 threads; the chain stays linear)", ""]
    lines += ["| store | events | p50 ms | p99 ms | per second |", "|---|---:|---:|---:|---:|"]
    for name, row in audit["concurrent"].items():
        lines.append(
            f"| {name} | {row['events']} | {row['p50_ms']} | {row['p99_ms']} | {row['per_second']:,} |"
        )
    lines += ["", "## `verify` (every row re-hashed, head and key checked)", ""]
    lines += ["| store | rows | seconds | rows per second |", "|---|---:|---:|---:|"]
    for name, row in audit["verify"].items():
        lines.append(f"| {name} | {row['rows']} | {row['seconds']} | {row['rows_per_second']:,} |")
    keys = report["keys"]
    lines += [
        "",
        "## API keys (`KeyStore.authenticate`, SQLite)",
        "",
        f"{keys['keys']} keys: valid key p50 {keys['valid_p50_ms']} ms, p99 {keys['valid_p99_ms']} ms; "
        f"unknown key p50 {keys['unknown_p50_ms']} ms.",
        "",
        "## Rate-limit decisions",
        "",
        "| limiter | check_request p50 ms | p99 ms | charge_tokens p50 ms | gathered decisions / s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in report["limits"].items():
        if isinstance(row, str):
            lines.append(f"| {name} | {row} | | | |")
        else:
            lines.append(
                f"| {name} | {row['request_p50_ms']} | {row['request_p99_ms']} | {row['tokens_p50_ms']} | "
                f"{row['gathered_per_second']:,} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000, help="appends per single-append case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-", dir=os.environ.get("BENCH_TMP")) as name:
        folder = Path(name)
        report: dict[str, Any] = {
            "command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_audit.py"
            + (f" --events {args.events}" if args.events != 4000 else ""),
            "machine": describe_machine(),
            "filesystem": filesystem(folder),
            "event_bytes": len(chat_event(0).to_json().encode()),
        }
        report["audit"] = bench_audit(folder, args.events)
        report["keys"] = bench_keys(folder, 2000)
        print("keys", report["keys"])
    report["limits"] = bench_limits(4000)
    print("limits", report["limits"])
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "audit.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (RESULTS / "audit.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))


if __name__ == "__main__":
    main()
