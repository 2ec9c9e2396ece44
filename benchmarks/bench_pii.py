"""PII detection benchmark: Bastion's ``pii`` detector vs Presidio's pattern recognisers.

    PYTHONPATH=src python benchmarks/bench_pii.py                  # everything
    PYTHONPATH=src python benchmarks/bench_pii.py --no-anchor --no-scaling

Prints a table (per type and language, ours vs Presidio) and writes ``benchmarks/results/pii.json`` and
``pii.md``. The sets come from ``benchmarks/data/pii/make_pii_sets.py``:

* ``test.jsonl`` (held out: written before the detector, never tuned on) and ``dev.jsonl`` (tuned on),
  200 hand-written texts each, half German, half English;
* ``faker_test.jsonl`` (held out) and ``faker_dev.jsonl`` (tuned on), 120 texts each from our templates
  with values from the Faker package (names from a dozen locales, streets, phones, cards...).

Presidio is run as its predefined pattern recognisers (no ``AnalyzerEngine``, so no spaCy model): it is
scored only on the types it has (e-mail, IBAN, card, IP, phone, German tax ID). Latency is per text,
one process, one thread. The benign corpora in ``shared/data`` (banking77, NLU++, xSID) give the share
of ordinary messages with a flagged detection.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.core.types import Policy
from bastion.detect.pii import BUILTIN_TYPES, PIIDetector
from bastion.evaluation.machine import describe_machine
from bastion.evaluation.metrics import measure_latency
from bastion.evaluation.pii import (
    AnchorUnavailableError,
    PIIExample,
    PIIReport,
    evaluate_pii,
    evaluate_predictor,
    load_pii_set,
    presidio_predictor,
)

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "pii"
RESULTS = ROOT / "results"
SETS = {
    "test": "held out: hand-written, never tuned on",
    "faker_test": "held out: Faker values in the faker_dev templates",
    "dev": "tuned on",
    "faker_dev": "tuned on",
}
STRUCTURED = ("IBAN", "CREDIT_CARD", "TAX_ID", "EMAIL", "PHONE")
TARGETS = {**dict.fromkeys(STRUCTURED, 0.97), "PERSON": 0.90, "ADDRESS": 0.90}
LATENCY_TARGET_MS = 1.0
BENIGN = {
    "banking77": "banking77/banking77.jsonl",
    "nlupp_banking": "nlupp_banking/nlupp_banking.jsonl",
    "xsid": "xsid/xsid.jsonl",
}

HISTORY = (
    "test.jsonl was written first, before any detector code, by the same author who then wrote the "
    "detector and its word lists; four label inconsistencies (fax and 'old' phone numbers left unlabelled) "
    "were corrected before the detector existed. It was never used for tuning and was scored for the first "
    "time by this script, after development stopped. That first run found one gold-label error: de-t013 "
    "labelled a deliberately invalid IBAN (its text says it has a typo; its English twin en-t013 leaves the "
    "same case unlabelled) as IBAN. Before the fix: overall F1 0.998, IBAN de 0.960 (Presidio also 0.960, "
    "for the same reason); the label was removed and nothing else changed. "
    "Because one person wrote the texts, the gazetteers and "
    "the rules, the hand-written sets share a style with the rules and their numbers are optimistic. "
    "faker_test uses the same templates as faker_dev (which was tuned on), so it measures unseen values "
    "(names, streets, phone formats), not unseen phrasing. Faker's own noise shows there: JCB numbers "
    "outside the assigned 3528-3589 range, 12-digit Maestro numbers (the detector needs 13-19 digits) and "
    "odd generated street names."
)


def f1_table(report: PIIReport) -> dict[str, dict[str, float]]:
    """``{type: {"de": f1, "en": f1, "all": f1}}`` with exact span matching."""
    table: dict[str, dict[str, float]] = {}
    for entity_type in report.types:
        row = {lang: report.by_language[lang][entity_type].exact.f1 for lang in report.by_language}
        row["all"] = report.by_type[entity_type].exact.f1
        table[entity_type] = row
    return table


def typical_messages(examples: Sequence[PIIExample], size: int = 300, count: int = 400) -> list[str]:
    """Messages of about ``size`` characters made by joining consecutive texts of a set."""
    texts = [example.text for example in examples]
    messages: list[str] = []
    index = 0
    while len(messages) < count:
        message = ""
        while len(message) < size:
            message = f"{message} {texts[index % len(texts)]}".strip()
            index += 1
        cut = message.rfind(" ", 0, size)
        messages.append(message[: cut if cut > size // 2 else size])
    return messages


def latency_of(function: Callable[[str], object], texts: Sequence[str]) -> dict[str, float]:
    stats = measure_latency(function, texts)
    return {
        "texts": stats.count,
        "mean_chars": round(sum(len(text) for text in texts) / len(texts), 1),
        "p50_ms": round(stats.p50_ms, 4),
        "p99_ms": round(stats.p99_ms, 4),
        "mean_ms": round(stats.mean_ms, 4),
        "per_second": round(stats.per_second, 1),
    }


def scaling(detector: PIIDetector) -> list[dict[str, float]]:
    """Seconds for realistic text of growing size: linear time shows as a flat microseconds-per-character."""
    sentence = (
        "Sehr geehrte Frau Yılmaz, Ihre IBAN DE89 3704 0044 0532 0130 00 ist gespeichert. Rückruf unter "
        "0341 5567823. Dear Mr Smith, your balance of £245.60 is overdue; please call 07700 900417. "
    )
    rows = []
    for megabytes in (1, 2, 5, 10):
        text = sentence * (megabytes * 1_000_000 // len(sentence) + 1)
        start = time.perf_counter()
        found = len(detector.detect(text))
        seconds = time.perf_counter() - start
        rows.append(
            {
                "megabytes": megabytes,
                "chars": len(text),
                "seconds": round(seconds, 3),
                "us_per_char": round(seconds / len(text) * 1e6, 4),
                "detections": found,
            }
        )
    return rows


def benign(detector: PIIDetector, shared: Path) -> dict[str, Any]:
    """Share of ordinary messages with a flagged detection, per corpus and language."""
    results: dict[str, Any] = {}
    for name, relative in BENIGN.items():
        path = shared / relative
        if not path.exists():
            results[name] = {"skipped": f"{path} not found"}
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        by_language: dict[str, Counter[str]] = {}
        for row in rows:
            counts = by_language.setdefault(str(row.get("lang", "?")), Counter())
            counts["texts"] += 1
            types = {d.type for d in detector.detect(str(row["text"])) if d.flagged}
            counts["flagged_texts"] += bool(types)
            counts.update(types)
        results[name] = {
            lang: {**dict(counts), "flagged_share": round(counts["flagged_texts"] / counts["texts"], 4)}
            for lang, counts in sorted(by_language.items())
        }
    return results


def run(anchor: bool, with_scaling: bool, shared: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "PYTHONPATH=src python benchmarks/bench_pii.py " + " ".join(sys.argv[1:]),
        "machine": describe_machine(),
        "history": HISTORY,
        "targets": TARGETS,
        "sets": {},
    }
    predictor: Callable[[str], Any] | None = None
    covered: tuple[str, ...] = ()
    if anchor:
        try:
            predictor, covered = presidio_predictor()
            report["anchor"] = {"name": "presidio-analyzer pattern recognisers", "types": list(covered)}
        except AnchorUnavailableError as error:
            report["anchor"] = {"name": "presidio-analyzer", "unavailable": str(error)}
    for name, role in SETS.items():
        path = DATA / f"{name}.jsonl"
        examples = load_pii_set(path)
        ours = evaluate_pii(path)
        entry: dict[str, Any] = {
            "role": role,
            "texts": len(examples),
            "ours": ours.to_dict(),
            "ours_f1": f1_table(ours),
            "policies": {
                policy.value: round(evaluate_pii(path, policy=policy).overall.exact.f1, 4)
                for policy in Policy
            },
        }
        if predictor is not None:
            theirs = evaluate_predictor(
                examples, predictor, name="presidio", dataset=path.name, types=covered
            )
            entry["presidio"] = theirs.to_dict()
            entry["presidio_f1"] = f1_table(theirs)
        report["sets"][name] = entry
    test_examples = load_pii_set(DATA / "test.jsonl")
    detector = PIIDetector()
    messages = typical_messages(test_examples)
    report["latency"] = {
        "ours_test_texts": latency_of(detector.detect, [e.text for e in test_examples]),
        "ours_300_chars": latency_of(detector.detect, messages),
    }
    if predictor is not None:
        report["latency"]["presidio_300_chars"] = latency_of(predictor, messages)
    if with_scaling:
        report["scaling"] = scaling(detector)
    report["benign"] = benign(detector, shared)
    report["targets_met"] = {
        name: {
            entity_type: {
                lang: report["sets"][name]["ours_f1"][entity_type][lang] >= target
                for lang in ("de", "en")
                if report["sets"][name]["ours"]["by_language"][lang][entity_type]["support"] > 0
            }
            for entity_type, target in TARGETS.items()
        }
        for name in ("test", "faker_test")
    }
    return report


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _scores(
    table: dict[str, Any], lang: str, entity_type: str, match: str = "exact"
) -> dict[str, Any] | None:
    cell = table.get(lang, {}).get(entity_type)
    return None if cell is None or cell["support"] == 0 else dict(cell[match])


def _f1(cell: dict[str, Any] | None) -> str:
    return _cell(None if cell is None else cell["f1"])


def _precision_recall(cell: dict[str, Any] | None) -> str:
    return "–" if cell is None else f"{cell['precision']:.3f}/{cell['recall']:.3f}"


def type_rows(entry: dict[str, Any]) -> list[str]:
    rows = []
    ours = entry["ours"]["by_language"]
    theirs = entry.get("presidio", {}).get("by_language", {})
    for entity_type in BUILTIN_TYPES:
        support = "/".join(str(ours[lang][entity_type]["support"]) for lang in ("de", "en"))
        exact = [_scores(ours, lang, entity_type) for lang in ("de", "en")]
        overlap = [_scores(ours, lang, entity_type, "overlap") for lang in ("de", "en")]
        anchor = [_scores(theirs, lang, entity_type) for lang in ("de", "en")]
        rows.append(
            f"| {entity_type} | {support} | {_f1(exact[0])} / {_f1(exact[1])} | "
            f"{_precision_recall(exact[0])} · {_precision_recall(exact[1])} | "
            f"{_f1(overlap[0])} / {_f1(overlap[1])} | {_f1(anchor[0])} / {_f1(anchor[1])} |"
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    machine_info = report["machine"]
    lines = [
        "# PII detection benchmark",
        "",
        f"Generated {report['generated']} by `{report['command'].strip()}`.",
        "",
        f"Machine: {machine_info['nproc']} CPUs ({machine_info['cpu_model']}), "
        f"Python {machine_info['python']}, {machine_info['platform']}; load average at start "
        f"{machine_info['load_average_1min']} "
        "(the machine is shared, so p99 latencies include waits for a CPU). "
        "Latency: one thread.",
        "",
        "Targets (on the held-out test set, per language, exact spans): F1 >= 0.97 for IBAN, "
        "CREDIT_CARD, TAX_ID, EMAIL, PHONE; >= 0.90 for PERSON and ADDRESS; "
        f"p50 < {LATENCY_TARGET_MS} ms per 300 characters.",
        "",
        f"**How the sets were used.** {report['history']}",
        "",
    ]
    anchor = report.get("anchor", {})
    if "unavailable" in anchor:
        lines += [f"Presidio could not run: {anchor['unavailable']}", ""]
    elif anchor:
        lines += [
            f"Anchor: {anchor['name']} (types: {', '.join(anchor['types'])}; its German tax ID "
            "recogniser is switched on here, it is off by default; it has no PERSON without an NLP model "
            "and no ADDRESS, BIC or DATE_OF_BIRTH at all).",
            "",
        ]
    for name, entry in report["sets"].items():
        overall = entry["ours"]["overall"]["exact"]
        lines += [
            f"## {name} ({entry['texts']} texts; {entry['role']})",
            "",
            f"Ours overall (balanced): exact-span P {overall['precision']:.3f} R {overall['recall']:.3f} "
            f"F1 {overall['f1']:.3f}; overall F1 by policy: "
            + ", ".join(f"{policy} {value:.3f}" for policy, value in entry["policies"].items()),
            "",
            "| type | support de/en | ours F1 de / en | ours P/R de · en | ours overlap F1 de / en | "
            "Presidio F1 de / en |",
            "|---|---|---|---|---|---|",
            *type_rows(entry),
            "",
        ]
    lines += [
        "## Targets on the held-out sets (exact-span F1)",
        "",
        "| type | target | test de | test en | faker_test de | faker_test en |",
        "|---|---|---|---|---|---|",
    ]
    for entity_type, target in report["targets"].items():
        cells = []
        for name in ("test", "faker_test"):
            met = report["targets_met"][name][entity_type]
            for lang in ("de", "en"):
                if lang not in met:
                    cells.append("–")
                    continue
                value = report["sets"][name]["ours_f1"][entity_type][lang]
                cells.append(f"{value:.3f} {'ok' if met[lang] else 'BELOW'}")
        lines.append(f"| {entity_type} | {target} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Latency",
        "",
        "| what | texts | mean chars | p50 ms | p99 ms | per second |",
        "|---|---|---|---|---|---|",
    ]
    for label, stats in report["latency"].items():
        lines.append(
            f"| {label} | {stats['texts']} | {stats['mean_chars']} | {stats['p50_ms']:.3f} | "
            f"{stats['p99_ms']:.3f} | {stats['per_second']:.0f} |"
        )
    if "scaling" in report:
        lines += [
            "",
            "## Large input (linear time)",
            "",
            "| MB | seconds | µs per char | detections |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {row['megabytes']} | {row['seconds']:.2f} | {row['us_per_char']:.3f} | {row['detections']} |"
            for row in report["scaling"]
        ]
    lines += [
        "",
        "## Ordinary messages with a flagged detection",
        "",
        "Benign corpora from `shared/data` (no PII labels): a flag is not always wrong. The xSID "
        "queries name musicians and contacts ('spiele etwas von David Mallett'), which are real person "
        "names; NLU++ holds a few addresses and birthdays.",
        "",
        "| corpus | lang | texts | flagged texts | share | by type |",
        "|---|---|---|---|---|---|",
    ]
    for corpus, table in report["benign"].items():
        if "skipped" in table:
            lines.append(f"| {corpus} | – | – | – | – | skipped: {table['skipped']} |")
            continue
        for lang, counts in table.items():
            types = ", ".join(f"{t} {counts[t]}" for t in BUILTIN_TYPES if counts.get(t))
            lines.append(
                f"| {corpus} | {lang} | {counts['texts']} | {counts['flagged_texts']} | "
                f"{counts['flagged_share']:.4f} | {types or '–'} |"
            )
    return "\n".join(lines) + "\n"


def print_table(report: dict[str, Any]) -> None:
    test = report["sets"]["test"]
    print(f"PII test set ({test['texts']} texts, held out), exact-span F1, balanced policy")
    print(f"{'type':14} {'support':>8} {'ours de':>8} {'ours en':>8} {'presidio de':>12} {'presidio en':>12}")
    theirs = test.get("presidio_f1", {})
    for entity_type in BUILTIN_TYPES:
        ours = test["ours_f1"][entity_type]
        support = "/".join(
            str(test["ours"]["by_language"][lang][entity_type]["support"]) for lang in ("de", "en")
        )
        anchor = theirs.get(entity_type, {})
        print(
            f"{entity_type:14} {support:>8} {ours['de']:8.3f} {ours['en']:8.3f} "
            f"{_cell(anchor.get('de')):>12} {_cell(anchor.get('en')):>12}"
        )
    for name, entry in report["sets"].items():
        print(f"{name:11} overall F1 {entry['ours']['overall']['exact']['f1']:.3f} ({entry['role']})")
    for label, stats in report["latency"].items():
        print(
            f"latency {label}: p50 {stats['p50_ms']:.3f} ms, p99 {stats['p99_ms']:.3f} ms "
            f"({stats['mean_chars']} chars)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-anchor", action="store_true", help="skip Presidio")
    parser.add_argument("--no-scaling", action="store_true", help="skip the 1-10 MB timing")
    parser.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("BASTION_SHARED_DATA", ROOT.parent.parent / "shared" / "data")),
        help="folder with the benign corpora (default: ../shared/data next to the repository)",
    )
    arguments = parser.parse_args(argv)
    report = run(
        anchor=not arguments.no_anchor, with_scaling=not arguments.no_scaling, shared=arguments.shared
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pii.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    (RESULTS / "pii.md").write_text(markdown(report), encoding="utf-8")
    print_table(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
