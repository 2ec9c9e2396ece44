"""Benchmark of pseudonymisation: per-message latency and vault throughput.

Run from the repository root::

    source .venv/bin/activate && PYTHONPATH=src python benchmarks/bench_pseudonymize.py

Messages are synthetic English and German customer messages of a debt collector with 1-5 personal values
each (names, IBANs, e-mail addresses, phone numbers, case numbers) and hand-made detections, so the
numbers measure the pseudonymizer and the vault alone, not a detector. Writes
``benchmarks/results/pseudonymize.json`` and ``benchmarks/results/pseudonymize.md``.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bastion.core.types import Detection, Span
from bastion.evaluation.machine import describe_machine
from bastion.evaluation.metrics import LatencyStats, measure_latency
from bastion.pseudonymize import Pseudonymizer, Vault, mask

RESULTS = Path(__file__).resolve().parent / "results"
KEY = bytes(range(32))

_FIRST_NAMES = ["Erika", "Max", "Jürgen", "Aylin", "Sophie", "Lukas", "Mehmet", "Anna", "Jonas", "Marie"]
_LAST_NAMES = ["Mustermann", "Schmidt", "Groß", "Yılmaz", "Weber", "Becker", "Hoffmann", "Schäfer", "Koch"]
_TEMPLATES = [
    "Hallo, hier ist {PERSON}. Ich kann die Rate für Fall {CASE_NUMBER} diesen Monat nicht zahlen. "
    "Bitte buchen Sie stattdessen am 15. von meinem Konto {IBAN} ab.",
    "Guten Tag, mein Name ist {PERSON}, Sie erreichen mich unter {PHONE} oder {EMAIL}. "
    "Ich möchte eine Ratenzahlung für die offene Forderung vereinbaren.",
    "Hi, I am {PERSON} and I already paid the invoice from {IBAN}. Please confirm to {EMAIL}.",
    "Sehr geehrte Damen und Herren, bezüglich Aktenzeichen {CASE_NUMBER}: Die Forderung ist verjährt. "
    "Mit freundlichen Grüßen, {PERSON}",
    "Can you change my payment plan? My new account is {IBAN}, my phone {PHONE}. Thanks, {PERSON}",
    "Warum habe ich eine Mahnung bekommen? Ich habe alles bezahlt. {PERSON}, {EMAIL}, {PHONE}, Konto {IBAN}",
]


def _value(kind: str, generator: random.Random) -> str:
    if kind == "PERSON":
        return f"{generator.choice(_FIRST_NAMES)} {generator.choice(_LAST_NAMES)}"
    if kind == "IBAN":
        digits = "".join(generator.choice("0123456789") for _ in range(20))
        return "DE" + " ".join(digits[i : i + 4] for i in range(0, 20, 4))
    if kind == "EMAIL":
        return f"{generator.choice(_FIRST_NAMES).lower()}.{generator.randrange(10_000)}@example.com"
    if kind == "PHONE":
        return f"+49 {generator.randrange(30, 999)} {generator.randrange(1_000_000, 9_999_999)}"
    return f"AZ-{generator.randrange(2020, 2027)}-{generator.randrange(100_000, 999_999)}"


def build_messages(count: int, seed: int = 7) -> dict[str, list[Detection]]:
    """``count`` distinct messages, each with the detections of its personal values."""
    generator = random.Random(seed)
    messages: dict[str, list[Detection]] = {}
    while len(messages) < count:
        template = generator.choice(_TEMPLATES)
        parts: list[str] = []
        detections: list[Detection] = []
        length = 0
        for literal, field_name, _, _ in _formatter_parse(template):
            parts.append(literal)
            length += len(literal)
            if field_name:
                value = _value(field_name, generator)
                detections.append(Detection("pii", field_name, 0.95, True, Span(length, length + len(value))))
                parts.append(value)
                length += len(value)
        messages["".join(parts)] = detections
    return messages


def _formatter_parse(template: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(template))


def _stats_row(name: str, stats: LatencyStats) -> dict[str, Any]:
    row = {"case": name, **asdict(stats)}
    return {key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}


def _rate(function: Callable[[int], object], count: int) -> float:
    start = time.perf_counter()
    for index in range(count):
        function(index)
    return count / (time.perf_counter() - start)


def _vault_throughput(label: str, open_vault: Callable[[str], Vault], tokens: list[str]) -> dict[str, Any]:
    """Single puts, single gets and batched puts (100 per call) per second on fresh vaults."""
    operations = len(tokens)
    vault = open_vault("single")

    def put(index: int) -> object:
        return vault.put("bench", tokens[index], f"value {index}")

    def get(index: int) -> object:
        return vault.get("bench", tokens[index])

    put_rate, get_rate = _rate(put, operations), _rate(get, operations)
    vault.close()

    batch = 100
    batched_vault = open_vault("batched")
    batches = [
        [(tokens[i], f"value {i}") for i in range(start, min(start + batch, operations))]
        for start in range(0, operations, batch)
    ]

    def put_many(index: int) -> object:
        return batched_vault.put_many("bench", batches[index])

    batched_rate = _rate(put_many, len(batches)) * batch
    batched_vault.close()
    return {
        "vault": label,
        "operations": operations,
        "put_per_second": round(put_rate),
        "get_per_second": round(get_rate),
        "put_many_records_per_second": round(batched_rate),
    }


def run(count: int) -> dict[str, Any]:
    messages = build_messages(count)
    texts = list(messages)
    with tempfile.TemporaryDirectory() as directory:
        file_vault = Vault(KEY, Path(directory) / "vault.sqlite")
        memory_vault = Vault(KEY)
        latency: list[dict[str, Any]] = []

        def pseudonymize_and_restore(pseudonymizer: Pseudonymizer) -> Callable[[str], object]:
            def step(text: str) -> object:
                result = pseudonymizer.pseudonymize(text, messages[text])
                restored = pseudonymizer.restore(result.text, only=result.tokens)
                if restored != text:
                    raise AssertionError("round trip failed")
                return restored

            return step

        without_vault = Pseudonymizer(KEY, "bench")
        in_memory = Pseudonymizer(KEY, "bench", vault=memory_vault)
        on_disk = Pseudonymizer(KEY, "bench", vault=file_vault)
        cases: list[tuple[str, Callable[[str], object]]] = [
            ("tokens only (no vault)", lambda text: without_vault.pseudonymize(text, messages[text])),
            ("mask", lambda text: mask(text, messages[text])),
            ("pseudonymize, vault in memory", lambda text: in_memory.pseudonymize(text, messages[text])),
            ("pseudonymize + restore, vault in memory", pseudonymize_and_restore(in_memory)),
            ("pseudonymize + restore, vault on disk (SQLite WAL)", pseudonymize_and_restore(on_disk)),
        ]
        for name, function in cases:
            latency.append(_stats_row(name, measure_latency(function, texts)))

        throughput: list[dict[str, Any]] = []
        operations = min(count * 5, 20_000)
        tokens = [on_disk.token("PERSON", f"value {index}") for index in range(operations)]
        throughput.append(_vault_throughput("memory", lambda name: Vault(KEY), tokens))
        throughput.append(
            _vault_throughput("disk", lambda name: Vault(KEY, Path(directory) / f"{name}.sqlite"), tokens)
        )

        # a long answer with 500 different tokens, all known to the disk vault
        file_vault.put_many("bench", [(token, f"Kunde {index}") for index, token in enumerate(tokens[:500])])
        long_answer = " ".join(f"Sehr geehrte {token}, Ihr Fall ist erledigt." for token in tokens[:500])

        def restore_long_answer(text: str) -> object:
            report = file_vault.restore_with_report("bench", text)
            if len(report.restored) != 500:
                raise AssertionError("restore of the long answer failed")
            return report

        restore_long = measure_latency(restore_long_answer, [long_answer] * 50, warmup=5)
        latency.append(_stats_row("restore a 25 kB answer with 500 tokens (disk)", restore_long))
        file_vault.close()
        memory_vault.close()

    return {
        "benchmark": "pseudonymize",
        "messages": count,
        "mean_message_chars": round(sum(map(len, texts)) / len(texts), 1),
        "mean_values_per_message": round(sum(len(d) for d in messages.values()) / len(texts), 2),
        "machine": describe_machine(),
        "latency_ms": latency,
        "vault_throughput": throughput,
        "command": "PYTHONPATH=src python benchmarks/bench_pseudonymize.py",
    }


def render_markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "# Pseudonymisation benchmark",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}  ",
        f"Messages: {report['messages']} synthetic EN/DE customer messages, "
        f"{report['mean_message_chars']} characters and {report['mean_values_per_message']} personal values "
        "on average; one thread.",
        "",
        "| case | p50 ms | p99 ms | mean ms | per second |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["latency_ms"]:
        lines.append(
            f"| {row['case']} | {row['p50_ms']:.3f} | {row['p99_ms']:.3f} | {row['mean_ms']:.3f} | "
            f"{row['per_second']:,.0f} |"
        )
    lines += [
        "",
        "| vault | put / s | get / s | put_many (100 per call) records / s |",
        "|---|---:|---:|---:|",
    ]
    for row in report["vault_throughput"]:
        lines.append(
            f"| {row['vault']} | {row['put_per_second']:,} | {row['get_per_second']:,} | "
            f"{row['put_many_records_per_second']:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2_000, help="how many messages to time")
    arguments = parser.parse_args()
    report = run(arguments.messages)
    markdown = render_markdown(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pseudonymize.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "pseudonymize.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
