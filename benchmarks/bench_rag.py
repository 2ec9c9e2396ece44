"""Benchmark of secure retrieval: model load, ingestion, search latency and retrieval quality.

Run from the repository root::

    source .venv/bin/activate && PYTHONPATH=src python benchmarks/bench_rag.py

Corpus: ``bastion.demo.data.demo_documents(generate())`` (three tenants' FAQs, payment instructions,
procedures, guidelines and debtor letters, EN and DE). Questions: ``datasets/demo/retrieval_questions.jsonl``
(each with the principal who asks and the relevant document ids). Every search runs as that principal
through :class:`bastion.rag.SQLiteRetrievalStore`, so the numbers include the tenant and ACL filter.

Measured:

- embedder load time (importing torch and sentence-transformers, loading MiniLM) and first-query latency;
- ingestion throughput (chunks per second) and store size, with scanning (``indirect`` + ``pii``, the
  hardened configuration, with the tenants' published contact and bank data allowed in public documents)
  and without (the naive configuration), and what the scan quarantined;
- search latency p50/p95/p99 per mode (hybrid, vector, keyword), one query at a time;
- recall@1/3/5 and MRR@10 per mode, overall, per language and per role: a retrieved chunk counts when its
  document is one of the question's relevant documents (the labels list alternatives: the FAQ *or* the
  payment instructions answer "which account?"); recall@k is the share of questions with a relevant chunk
  among the top k (what the assistant would put in its prompt), MRR the mean of 1 / rank of the first one;
- a leak check: every returned chunk must be readable by the asking principal.

Writes ``benchmarks/results/rag.json`` and ``benchmarks/results/rag.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
QUESTIONS = ROOT / "datasets" / "demo" / "retrieval_questions.jsonl"
MODES = ("hybrid", "vector", "keyword")
CUTOFFS = (1, 3, 5)
MRR_DEPTH = 10


@dataclass(frozen=True, slots=True)
class Question:
    question_id: str
    text: str
    language: str
    role: str
    principal: Any  # bastion.rag.types.Principal (imported after the model load is timed)
    relevant: frozenset[str]


def load_embedder() -> tuple[Any, dict[str, float]]:
    """The MiniLM embedder, timing the import of torch + sentence-transformers and the model load."""
    started = time.perf_counter()
    import sentence_transformers  # noqa: F401 - imported here to time it

    imported = time.perf_counter()
    from bastion.rag.embeddings import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    loaded = time.perf_counter()
    embedder.embed(["How can I pay my debt?"])
    first = time.perf_counter()
    return embedder, {
        "import_seconds": round(imported - started, 3),
        "load_seconds": round(loaded - imported, 3),
        "first_embedding_ms": round((first - loaded) * 1000, 2),
    }


def load_questions(path: Path) -> list[Question]:
    from bastion.evaluation.jsonl import read_jsonl
    from bastion.rag.types import Principal, PrincipalRole

    questions = []
    for _, row in read_jsonl(path):
        principal = Principal(row["tenant_id"], row["subject"], PrincipalRole(row["role"]))
        questions.append(
            Question(
                question_id=str(row["id"]),
                text=row["question"],
                language=row["language"],
                role=row["role"],
                principal=principal,
                relevant=frozenset(row["relevant_doc_ids"]),
            )
        )
    return questions


def ingest(
    documents: list[Any], embedder: Any, path: Path, scan: bool, published: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Ingest as the demo does: tenant-authored documents are trusted (indirect verdicts are warnings)."""
    from bastion.rag.ingest import Ingestor
    from bastion.rag.sqlite_store import SQLiteRetrievalStore

    quarantined: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    started = time.perf_counter()
    with SQLiteRetrievalStore(path, embedder) as store:
        ingestor = Ingestor(store, scan=scan, published_values=published)
        chunks = 0
        warned: list[str] = []
        for document in documents:
            result = ingestor.ingest(document, trusted=True)
            chunks += result.chunks
            if result.warnings:
                warned.append(document.doc_id)
            if result.quarantined:
                kinds = sorted({f"{r.detector}/{r.type}" for r in result.reasons})
                quarantined.append(
                    {"doc_id": document.doc_id, "audience": document.acl.audience.value, "reasons": kinds}
                )
                reasons.update(kinds)
    seconds = time.perf_counter() - started
    size = sum(
        Path(f"{path}{suffix}").stat().st_size for suffix in ("", "-wal") if Path(f"{path}{suffix}").exists()
    )
    return {
        "scan": scan,
        "documents": len(documents),
        "characters": sum(len(document.text) for document in documents),
        "chunks_stored": chunks,
        "seconds": round(seconds, 2),
        "chunks_per_second": round(chunks / seconds, 1),
        "documents_per_second": round(len(documents) / seconds, 2),
        "store_bytes": size,
        "quarantined": quarantined,
        "quarantine_reasons": dict(sorted(reasons.items())),
        "stored_with_warnings": warned,
    }


def percentiles(timings: list[float]) -> dict[str, float]:
    values = np.asarray(timings)
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
        "mean_ms": round(float(values.mean()), 2),
    }


def evaluate(
    store: Any, questions: list[Question], mode: str
) -> tuple[list[dict[str, Any]], list[float], int]:
    """Per-question ranks and recalls, the latency of every search, and how many hits were not readable."""
    for question in questions[:10]:  # warm-up
        store.search(question.text, question.principal, k=MRR_DEPTH, mode=mode)
    rows: list[dict[str, Any]] = []
    timings: list[float] = []
    leaks = 0
    for question in questions:
        started = time.perf_counter_ns()
        hits = store.search(question.text, question.principal, k=MRR_DEPTH, mode=mode)
        timings.append((time.perf_counter_ns() - started) / 1e6)
        leaks += sum(not question.principal.may_read(h.chunk.tenant_id, h.chunk.acl) for h in hits)
        documents = [hit.chunk.doc_id for hit in hits]
        first = next((rank for rank, doc in enumerate(documents, start=1) if doc in question.relevant), None)
        row: dict[str, Any] = {
            "id": question.question_id,
            "language": question.language,
            "role": question.role,
            "reciprocal_rank": 0.0 if first is None else 1.0 / first,
        }
        for cutoff in CUTOFFS:
            row[f"recall@{cutoff}"] = len(question.relevant & set(documents[:cutoff])) / len(
                question.relevant
            )
        rows.append(row)
    return rows, timings, leaks


def quality(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"questions": 0}
    summary: dict[str, Any] = {"questions": len(rows)}
    for cutoff in CUTOFFS:
        summary[f"recall@{cutoff}"] = round(float(np.mean([r[f"recall@{cutoff}"] for r in rows])), 3)
    summary[f"mrr@{MRR_DEPTH}"] = round(float(np.mean([r["reciprocal_rank"] for r in rows])), 3)
    return summary


def run(questions_path: Path, seed: int) -> dict[str, Any]:
    embedder, load = load_embedder()
    from bastion.demo.data import demo_documents, generate, published_values
    from bastion.rag.sqlite_store import SQLiteRetrievalStore

    data = generate(seed=seed)
    documents = demo_documents(data)
    questions = load_questions(questions_path)
    published = published_values(data)
    report: dict[str, Any] = {
        "benchmark": "rag",
        "embedder": {"name": embedder.name, "dimension": embedder.dimension, **load},
        "machine": describe(),
        "command": "PYTHONPATH=src python benchmarks/bench_rag.py",
        "seed": seed,
        "questions_file": str(questions_path.relative_to(ROOT))
        if questions_path.is_relative_to(ROOT)
        else str(questions_path),
    }
    with tempfile.TemporaryDirectory() as directory:
        scanned = ingest(documents, embedder, Path(directory) / "scanned.sqlite", True, published)
        naive_path = Path(directory) / "all.sqlite"
        unscanned = ingest(documents, embedder, naive_path, False, published)
        report["ingestion"] = [scanned, unscanned]
        report["latency_ms"] = {}
        report["quality"] = {}
        report["leaks"] = {}
        # retrieval quality is measured over every document (the unscanned store), so that a detector's
        # false positive does not show up as a retrieval miss
        with SQLiteRetrievalStore(naive_path, embedder) as store:
            for mode in MODES:
                rows, timings, leaks = evaluate(store, questions, mode)
                report["latency_ms"][mode] = percentiles(timings)
                report["leaks"][mode] = leaks
                slices: dict[str, Any] = {"all": quality(rows)}
                for language in sorted({r["language"] for r in rows}):
                    slices[f"language={language}"] = quality([r for r in rows if r["language"] == language])
                for role in sorted({r["role"] for r in rows}):
                    slices[f"role={role}"] = quality([r for r in rows if r["role"] == role])
                report["quality"][mode] = slices
    return report


def describe() -> dict[str, Any]:
    from bastion.evaluation.machine import describe_machine

    machine = describe_machine()
    machine["torch_threads"] = _torch_threads()
    return machine


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def render_markdown(report: dict[str, Any]) -> str:
    machine, embedder = report["machine"], report["embedder"]
    lines = [
        "# Secure retrieval benchmark",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"torch threads {machine['torch_threads']}, load average {machine['load_average_1min']}  ",
        f"Embedder: `{embedder['name']}` ({embedder['dimension']} dimensions); import of torch + "
        f"sentence-transformers {embedder['import_seconds']:.1f} s, "
        f"model load {embedder['load_seconds']:.2f} s, "
        f"first embedding {embedder['first_embedding_ms']:.0f} ms.  ",
        f"Corpus: `demo_documents(generate(seed={report['seed']}))`; "
        f"questions: `{report['questions_file']}`.",
        "",
        "## Ingestion",
        "",
        "| configuration | documents | characters | chunks | seconds | chunks / s | store size "
        "| quarantined |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["ingestion"]:
        name = "scan on (indirect + pii)" if row["scan"] else "scan off (naive)"
        lines.append(
            f"| {name} | {row['documents']} | {row['characters']:,} | {row['chunks_stored']} | "
            f"{row['seconds']:.1f} | {row['chunks_per_second']:.1f} | {row['store_bytes'] / 1e6:.2f} MB | "
            f"{len(row['quarantined'])} |"
        )
    scanned = report["ingestion"][0]
    if scanned["quarantined"]:
        lines += ["", "Quarantined with scanning on (detector/type over all quarantined documents):", ""]
        for entry in scanned["quarantined"]:
            lines.append(f"- `{entry['doc_id']}` ({entry['audience']}): {', '.join(entry['reasons'])}")
    if scanned["stored_with_warnings"]:
        lines += [
            "",
            "Stored with an `indirect` warning (trusted, tenant-authored documents; false positives of the "
            "detector on internal guidelines that speak about the assistant):",
            "",
        ]
        lines += [f"- `{doc_id}`" for doc_id in scanned["stored_with_warnings"]]
    lines += [
        "",
        "## Search latency (one query at a time, k = 10, embedding included)",
        "",
        "| mode | p50 ms | p95 ms | p99 ms | mean ms | hits not readable by the principal |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode, stats in report["latency_ms"].items():
        lines.append(
            f"| {mode} | {stats['p50_ms']:.1f} | {stats['p95_ms']:.1f} | {stats['p99_ms']:.1f} | "
            f"{stats['mean_ms']:.1f} | {report['leaks'][mode]} |"
        )
    lines += [
        "",
        "## Retrieval quality",
        "",
        "recall@k: share of questions with a chunk of a relevant document among the top k chunks (the labels "
        f"list alternative documents); MRR over the top {MRR_DEPTH} chunks. Searched over every document "
        "(scan off), as the asking principal.",
        "",
        f"| mode | slice | questions | recall@1 | recall@3 | recall@5 | MRR@{MRR_DEPTH} |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for mode, slices in report["quality"].items():
        for name, row in slices.items():
            if not row.get("questions"):
                continue
            lines.append(
                f"| {mode} | {name} | {row['questions']} | {row['recall@1']:.3f} | {row['recall@3']:.3f} | "
                f"{row['recall@5']:.3f} | {row[f'mrr@{MRR_DEPTH}']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="the labelled question file")
    parser.add_argument("--seed", type=int, default=7, help="seed of the demo data")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write the result files")
    arguments = parser.parse_args()
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(variable, "1")
    logging.basicConfig(level=logging.ERROR)  # quarantines are counted in the report, not logged
    report = run(arguments.questions, arguments.seed)
    markdown = render_markdown(report)
    if not arguments.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "rag.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        (RESULTS / "rag.md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
