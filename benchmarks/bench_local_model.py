"""Benchmark of the demo's local model: Gemma 3 270M (GGUF Q4_K_M) through llama.cpp on the CPU.

Run from the repository root (needs the ``local`` extra)::

    .venv/bin/python benchmarks/bench_local_model.py

Measures the GGUF assembly and model load, resident memory, prompt processing and generation speed
(tokens/s), and the first-token latency of a realistic assistant prompt. Every prompt starts with a different
number so llama.cpp's prefix cache cannot serve it. Writes ``benchmarks/results/local_model.json`` and
``.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from bastion.core.types import Message, Role
from bastion.demo.model import LocalModel, Prompt, local_model_path, render_transcript
from bastion.evaluation.machine import describe_machine

RESULTS = Path(__file__).resolve().parent / "results"
FILLER = (
    "Payments go to the account of the creditor with the case reference. "
    "Instalments are possible on request. "
)
QUESTION = "Hello, I received a reminder for my phone bill. Can I pay it in three instalments?"


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _prompt_of(tokens_wanted: int, model: LocalModel, salt: int) -> str:
    text = f"{salt}. "
    while model.count_tokens(text) < tokens_wanted:
        text += FILLER
    return text


def _prompt_speed(model: LocalModel, tokens: int, repeats: int) -> dict[str, float]:
    rates = []
    for repeat in range(repeats):
        text = _prompt_of(tokens, model, salt=tokens * 100 + repeat)
        count = model.count_tokens(text)
        started = time.perf_counter()
        model.llama.create_completion(text, max_tokens=1, temperature=0.0)
        rates.append(count / (time.perf_counter() - started))
    return {"prompt_tokens": tokens, "tokens_per_s": round(statistics.median(rates), 1)}


def _generation_speed(model: LocalModel, new_tokens: int, repeats: int) -> dict[str, float]:
    rates, firsts = [], []
    for repeat in range(repeats):
        text = f"{repeat + 7}. Once upon a time, in a small town by the sea,"
        started = time.perf_counter()
        first = None
        produced = 0
        for piece in model.llama.create_completion(text, max_tokens=new_tokens, temperature=0.0, stream=True):
            if first is None:
                first = time.perf_counter()
            produced += 1 if piece["choices"][0]["text"] else 0
        ended = time.perf_counter()
        assert first is not None
        firsts.append(first - started)
        rates.append((produced - 1) / (ended - first) if produced > 1 else float("nan"))
    return {"new_tokens": new_tokens, "tokens_per_s": round(statistics.median(rates), 1)}


def _assistant_first_token(model: LocalModel, repeats: int) -> dict[str, Any]:
    """Time to the first streamed token and to the whole answer, for an assistant-sized prompt."""
    instructions = (
        "Below is a chat between a customer and the support assistant of a debt collection agency. "
        + FILLER * 20
    )
    firsts, totals, lengths = [], [], []
    for repeat in range(repeats):
        prompt = Prompt(f"{repeat}. {instructions}", (Message(Role.USER, QUESTION),))
        started = time.perf_counter()
        first = None
        for delta in model.stream(prompt, max_tokens=120):
            if first is None and delta.text:
                first = time.perf_counter()
        totals.append(time.perf_counter() - started)
        firsts.append((first or time.perf_counter()) - started)
    lengths.append(
        model.count_tokens(render_transcript(Prompt(instructions, (Message(Role.USER, QUESTION),))))
    )
    return {
        "prompt_tokens": lengths[0],
        "first_token_s_p50": round(statistics.median(firsts), 3),
        "answer_s_p50": round(statistics.median(totals), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    started = time.perf_counter()
    path = local_model_path()
    assemble_s = time.perf_counter() - started
    rss_before = _rss_mib()
    model = LocalModel(model_path=path)
    started = time.perf_counter()
    _ = model.llama
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mib()
    started = time.perf_counter()
    model.llama.create_completion("Hello", max_tokens=1, temperature=0.0)
    first_call_s = time.perf_counter() - started

    prompt_rows = [_prompt_speed(model, tokens, args.repeats) for tokens in (128, 512, 1024)]
    generation = _generation_speed(model, 128, args.repeats)
    assistant = _assistant_first_token(model, args.repeats)
    rss_after = _rss_mib()
    result = {
        "machine": describe_machine(),
        "model": {"name": model.name, "file": path.name, "size_mb": round(path.stat().st_size / 1e6, 1)},
        "threads": model.n_threads,
        "context": model.n_ctx,
        "assemble_or_find_s": round(assemble_s, 3),
        "load_s": round(load_s, 3),
        "first_call_s": round(first_call_s, 3),
        "rss_mib": {
            "before_load": round(rss_before, 1),
            "loaded": round(rss_loaded, 1),
            "after_runs": round(rss_after, 1),
        },
        "prompt_processing": prompt_rows,
        "generation": generation,
        "assistant_prompt": assistant,
        "repeats": args.repeats,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "local_model.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "local_model.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))


def _markdown(result: dict[str, Any]) -> str:
    machine = result["machine"]
    lines = [
        "# Local model: Gemma 3 270M Q4_K_M through llama.cpp",
        "",
        f"Machine: {machine['cpu_model']}, {machine['nproc']} cores, Python {machine['python']}, load "
        f"{machine['load_average_1min']}. Threads {result['threads']}, context {result['context']} tokens, "
        f"medians of {result['repeats']} runs. Command: `.venv/bin/python benchmarks/bench_local_model.py`.",
        "",
        "| what | value |",
        "|---|---|",
        f"| model file | {result['model']['file']} ({result['model']['size_mb']} MB) |",
        f"| assemble (or find) the GGUF | {result['assemble_or_find_s']} s |",
        f"| load | {result['load_s']} s |",
        f"| first call after load (one token) | {result['first_call_s']} s |",
        f"| resident memory before load / loaded / after runs | {result['rss_mib']['before_load']} / "
        f"{result['rss_mib']['loaded']} / {result['rss_mib']['after_runs']} MiB |",
    ]
    for row in result["prompt_processing"]:
        lines.append(f"| prompt processing, {row['prompt_tokens']} tokens | {row['tokens_per_s']} tokens/s |")
    generation = result["generation"]
    lines.append(
        f"| generation, {generation['new_tokens']} new tokens | {generation['tokens_per_s']} tokens/s |"
    )
    assistant = result["assistant_prompt"]
    lines += [
        f"| assistant prompt ({assistant['prompt_tokens']} tokens): first token | "
        f"{assistant['first_token_s_p50']} s |",
        f"| assistant prompt: whole answer (≤ 120 tokens) | {assistant['answer_s_p50']} s |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
