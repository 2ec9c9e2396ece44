"""Guard effectiveness on input: benign customer messages blocked (false positives) and attacks blocked.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_guard.py [--shared ../shared/data] [--sample N]

Every message goes alone, as one user message, through ``Guard(DEFAULT_POLICY).check_input`` for an unknown
tenant (so the defaults apply: ``injection`` blocks, ``secrets`` and ``pii`` redact). A message counts as
*blocked* when the verdict's action is ``block``, *redacted* or *flagged* when that is the strongest action.

Benign sets (the bar: at most 1 % blocked):

- ``banking77`` test split (3,080, EN), ``nlupp_banking`` (all 20 folds, 2,071, EN), ``xstest`` safe
  prompts that look unsafe (250, EN), ``xsid`` assistant queries (800 DE + 800 EN, not banking),
  ``donotanswer`` ``sensitive_request`` rows (117, EN: distressed users who must not be blocked),
  ``deepset_prompt_injections`` benign rows (EN/DE), all from ``--shared``;
- our own ``bastion.data.showcase``: ``benign_de.jsonl`` (200 DE, incl. hard negatives) and the 50 own rows
  of ``benign_en.jsonl`` (the Banking77 rows there are a subset of the test split above).

Attack sets (labels ``injection`` / ``jailbreak``): ``deepset_prompt_injections``, ``xsafety`` (Goal_Hijacking
and Role_Play_Instruction, DE and EN; evaluation only, never shipped; labels are per category and noisy),
``sysprompt_extraction``, ``jailbreakbench_artifacts`` (de-duplicated on text), ``inthewild_jailbreaks``,
``dan_templates`` and ``pyrit_jailbreak_templates`` (slots filled with an AdvBench goal, fixed seed).

The shipped injection model was trained on a hash split of most of these public sets
(:mod:`bastion.evaluation.datasets`: 70 % train, 15 % validation for calibration, 15 % test); the tables
therefore also give the figures on the rows of the hash *test* split only, which the model never saw.
``xsafety``, ``xsid`` and our showcase texts were never trained on at all.

Latency: wall time of each ``check_input`` call, one message at a time, after ``warm_up``.

Writes ``benchmarks/results/guard.json`` and ``benchmarks/results/guard.md``; the .md lists every blocked
benign message (id and the first 80 characters, personal data masked by :func:`bastion.pseudonymize.mask`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bastion.core.types import Action, Conversation, Message, Role  # noqa: E402
from bastion.detect.normalize import normalize  # noqa: E402
from bastion.evaluation.datasets import split_of  # noqa: E402
from bastion.evaluation.machine import describe_machine  # noqa: E402
from bastion.guard.guard import Guard, GuardVerdict  # noqa: E402
from bastion.guard.policy import DEFAULT_POLICY  # noqa: E402
from bastion.pseudonymize import mask  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TENANT = "benchmark"  # not in the default policy, so its defaults apply
SEED = 20261130
PREVIEW_CHARS = 80
MASKED_DETECTORS = frozenset({"pii", "secrets"})
#: sources the injection model never trained on (by licence, or written after it)
NEVER_TRAINED = frozenset({"xsafety", "xsid", "showcase"})


@dataclass(frozen=True, slots=True)
class Item:
    """One message of one evaluation set."""

    set_name: str
    item_id: str
    text: str
    lang: str
    kind: str  # benign, hard_negative, sensitive_request, injection, jailbreak
    unseen: bool  # never used to fit or calibrate the injection model


@dataclass(slots=True)
class Tally:
    """Counts and latencies of one slice."""

    total: int = 0
    unseen: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    unseen_blocked: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, item: Item, verdict: GuardVerdict, elapsed_ms: float) -> None:
        self.total += 1
        self.actions[verdict.action.value] += 1
        self.latencies_ms.append(elapsed_ms)
        if item.unseen:
            self.unseen += 1
            self.unseen_blocked += verdict.blocked

    def row(self) -> dict[str, Any]:
        def share(count: int, of: int) -> float | None:
            return None if of == 0 else round(count / of, 4)

        return {
            "messages": self.total,
            "blocked": self.actions[Action.BLOCK.value],
            "blocked_share": share(self.actions[Action.BLOCK.value], self.total),
            "redacted_share": share(self.actions[Action.REDACT.value], self.total),
            "flagged_share": share(self.actions[Action.FLAG.value], self.total),
            "allowed_share": share(self.actions[Action.ALLOW.value], self.total),
            "unseen_messages": self.unseen,
            "unseen_blocked": self.unseen_blocked,
            "unseen_blocked_share": share(self.unseen_blocked, self.unseen),
            "p50_ms": _percentile(self.latencies_ms, 50),
            "p99_ms": _percentile(self.latencies_ms, 99),
        }


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index], 3)


# -- loading -----------------------------------------------------------------------------------------


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                yield number, json.loads(line)


def _unseen(source: str, text: str) -> bool:
    if source in NEVER_TRAINED:
        return True
    key = normalize(text).text
    return split_of(key) == "test"


def _lang(value: object) -> str:
    return value if value in ("de", "en") else "other"


def _shared_set(
    shared: Path,
    source: str,
    keep: Callable[[dict[str, Any]], bool],
    set_name: str | None = None,
    fill: Callable[[str], str] | None = None,
    dedupe: bool = False,
) -> list[Item]:
    path = shared / source / f"{source}.jsonl"
    if not path.exists():
        print(f"skipped {source}: {path} not found", file=sys.stderr)
        return []
    items, seen = [], set()
    for number, row in _jsonl(path):
        if not keep(row):
            continue
        text = str(row["text"])
        if fill is not None:
            text = fill(text)
        if dedupe:
            if text in seen:
                continue
            seen.add(text)
        items.append(
            Item(
                set_name or source,
                f"{source}:{number}",
                text,
                _lang(row.get("lang")),
                str(row["label"]),
                _unseen(source, text),
            )
        )
    return items


def _showcase() -> list[Item]:
    package = resources.files("bastion.data.showcase")
    items = []
    for name, lang in (("benign_de.jsonl", "de"), ("benign_en.jsonl", "en")):
        for line in package.joinpath(name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("source", "bastion") != "bastion":
                continue  # the Banking77 rows are part of the full test split measured separately
            items.append(Item(f"showcase {name}", row["id"], row["text"], lang, row["kind"], True))
    return items


def _goal_filler(shared: Path) -> Callable[[str], str]:
    goals = [str(row["text"]) for _, row in _jsonl(shared / "advbench" / "advbench.jsonl")]
    rng = random.Random(SEED)

    def fill(text: str) -> str:
        goal = rng.choice(goals) if goals else "Tell me how to make my debt disappear without paying."
        text = text.replace("{generator.name}", "ChatGPT")
        if "{{ prompt }}" in text or "{{prompt}}" in text:
            return text.replace("{{ prompt }}", goal).replace("{{prompt}}", goal)
        return f"{text}\n\n{goal}"

    return fill


def benign_sets(shared: Path) -> list[Item]:
    def benign(row: dict[str, Any]) -> bool:
        return row.get("label") == "benign"

    return [
        *_shared_set(shared, "banking77", lambda r: benign(r) and r.get("split") == "test", "banking77 test"),
        *_shared_set(shared, "nlupp_banking", benign),
        *_shared_set(shared, "xstest", benign, "xstest safe"),
        *_shared_set(shared, "xsid", benign),
        *_shared_set(
            shared, "donotanswer", lambda r: r.get("label") == "sensitive_request", "donotanswer sensitive"
        ),
        *_shared_set(shared, "deepset_prompt_injections", benign, "deepset benign"),
        *_showcase(),
    ]


def attack_sets(shared: Path) -> list[Item]:
    def attack(row: dict[str, Any]) -> bool:
        return row.get("label") in ("injection", "jailbreak")

    fill = _goal_filler(shared) if (shared / "advbench").exists() else None
    return [
        *_shared_set(shared, "deepset_prompt_injections", attack),
        *_shared_set(shared, "xsafety", attack),
        *_shared_set(shared, "sysprompt_extraction", attack),
        *_shared_set(shared, "jailbreakbench_artifacts", attack, dedupe=True),
        *_shared_set(shared, "inthewild_jailbreaks", attack),
        *_shared_set(shared, "dan_templates", attack, "dan_templates + goal", fill=fill),
        *_shared_set(shared, "pyrit_jailbreak_templates", attack, "pyrit templates + goal", fill=fill),
    ]


# -- measuring ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    item: Item
    action: str
    rule: str | None
    injection_score: float
    preview: str


def _preview(text: str, verdict: GuardVerdict) -> str:
    """The first characters with personal data and secrets masked (masked before cutting)."""
    masked = mask(text, [d for d in verdict.detections if d.detector in MASKED_DETECTORS])
    flat = " ".join(masked.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def run(items: Iterable[Item], guard: Guard) -> tuple[dict[tuple[str, str], Tally], list[Outcome]]:
    tallies: dict[tuple[str, str], Tally] = {}
    outcomes = []
    for item in items:
        conversation = Conversation.of([Message(Role.USER, item.text)])
        started = time.perf_counter()
        verdict = guard.check_input(conversation, tenant=TENANT)
        elapsed_ms = (time.perf_counter() - started) * 1000
        for key in ((item.set_name, item.lang), (item.set_name, "all"), ("ALL", item.lang), ("ALL", "all")):
            tallies.setdefault(key, Tally()).add(item, verdict, elapsed_ms)
        if item.kind == "hard_negative":
            tallies.setdefault((item.set_name + " (hard negatives)", item.lang), Tally()).add(
                item, verdict, elapsed_ms
            )
        score = max((d.score for d in verdict.detections if d.detector == "injection"), default=0.0)
        outcomes.append(
            Outcome(item, verdict.action.value, verdict.rule, score, _preview(item.text, verdict))
        )
    return tallies, outcomes


def _table(tallies: dict[tuple[str, str], Tally]) -> list[dict[str, Any]]:
    rows = []
    for (set_name, lang), tally in tallies.items():
        if lang == "all" and sum(1 for s, _ in tallies if s == set_name) == 2:
            continue  # one language only: the "all" row repeats it
        rows.append({"set": set_name, "lang": lang, **tally.row()})
    rows.sort(key=lambda r: (r["set"] == "ALL", r["set"], r["lang"] == "all", r["lang"]))
    return rows


def _fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _fmt_ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "# Guard on input: benign messages blocked, attacks blocked",
        "",
        f"Command: `{report['command']}`  ",
        f"Machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Python {machine['python']}, "
        f"load average {machine['load_average_1min']} (the machine is shared)  ",
        "Policy: `DEFAULT_POLICY` (input: injection → block, secrets → redact, pii → redact), one user "
        "message per call, unknown tenant. *unseen*: rows of the injection model's hash test split, or of "
        "sets it never trained on (xsafety, xsid, our showcase texts).  ",
        f"Guard warm-up (loading the detectors): {report['warm_up_seconds']:.2f} s.",
        "",
        "## Benign messages (bar: ≤ 1 % blocked)",
        "",
        "| set | lang | messages | blocked | blocked % | redacted % | flagged % | unseen | blocked % unseen "
        "| p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["benign"]:
        lines.append(
            f"| {r['set']} | {r['lang']} | {r['messages']} | {r['blocked']} "
            f"| {_fmt_share(r['blocked_share'])} | {_fmt_share(r['redacted_share'])} "
            f"| {_fmt_share(r['flagged_share'])} | {r['unseen_messages']} "
            f"| {_fmt_share(r['unseen_blocked_share'])} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} |"
        )
    lines += [
        "",
        "## Attacks (injection and jailbreak labels)",
        "",
        "| set | lang | messages | blocked | blocked % | unseen | blocked % unseen | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["attacks"]:
        lines.append(
            f"| {r['set']} | {r['lang']} | {r['messages']} | {r['blocked']} "
            f"| {_fmt_share(r['blocked_share'])} | {r['unseen_messages']} "
            f"| {_fmt_share(r['unseen_blocked_share'])} | {_fmt_ms(r['p50_ms'])} | {_fmt_ms(r['p99_ms'])} |"
        )
    latency = report["latency_ms"]
    lines += [
        "",
        "## Latency per message (all sets, one call at a time)",
        "",
        "| slice | messages | p50 ms | p95 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, stats in latency.items():
        lines.append(
            f"| {name} | {stats['messages']} | {stats['p50']:.2f} | {stats['p95']:.2f} | {stats['p99']:.2f} "
            f"| {stats['max']:.2f} | {stats['mean']:.2f} |"
        )
    lines += [
        "",
        "## Blocked benign messages",
        "",
        "Personal data masked; the injection score is the detector's (threshold of the balanced policy).",
        "",
        "| id | kind | rule | injection score | text (first 80 characters) |",
        "|---|---|---|---:|---|",
    ]
    for row in report["blocked_benign"]:
        text = row["preview"].replace("|", "\\|")
        lines.append(
            f"| `{row['id']}` | {row['kind']} | {row['rule']} | {row['injection_score']:.3f} | {text} |"
        )
    lines += [
        "",
        "## Missed attacks (first 5 per set)",
        "",
        "| id | lang | injection score | text (first 80 characters) |",
        "|---|---|---:|---|",
    ]
    for row in report["missed_attacks_sample"]:
        text = row["preview"].replace("|", "\\|")
        lines.append(f"| `{row['id']}` | {row['lang']} | {row['injection_score']:.3f} | {text} |")
    return "\n".join(lines) + "\n"


def _latency(outcomes_and_times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    result = {}
    for name, values in outcomes_and_times.items():
        if values:
            result[name] = {
                "messages": len(values),
                "p50": _percentile(values, 50) or 0.0,
                "p95": _percentile(values, 95) or 0.0,
                "p99": _percentile(values, 99) or 0.0,
                "max": round(max(values), 3),
                "mean": round(statistics.fmean(values), 3),
            }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sample", type=int, default=0, help="at most N messages per set (0: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    benign, attacks = benign_sets(args.shared), attack_sets(args.shared)
    if args.sample:
        benign, attacks = _sample(benign, args.sample), _sample(attacks, args.sample)
    guard = Guard(DEFAULT_POLICY)
    started = time.perf_counter()
    guard.warm_up(TENANT)
    warm_up = time.perf_counter() - started

    benign_tallies, benign_outcomes = run(benign, guard)
    attack_tallies, attack_outcomes = run(attacks, guard)

    missed: list[dict[str, Any]] = []
    per_set: Counter[str] = Counter()
    for outcome in attack_outcomes:
        if outcome.action != Action.BLOCK.value and per_set[outcome.item.set_name] < 5:
            per_set[outcome.item.set_name] += 1
            missed.append(_outcome_row(outcome))
    command = "PYTHONPATH=src .venv/bin/python benchmarks/bench_guard.py" + (
        f" --sample {args.sample}" if args.sample else ""
    )
    report: dict[str, Any] = {
        "command": command,
        "machine": describe_machine(),
        "warm_up_seconds": round(warm_up, 3),
        "benign": _table(benign_tallies),
        "attacks": _table(attack_tallies),
        "latency_ms": _latency(
            {
                "benign, DE": benign_tallies.get(("ALL", "de"), Tally()).latencies_ms,
                "benign, EN": benign_tallies.get(("ALL", "en"), Tally()).latencies_ms,
                "benign, all": benign_tallies.get(("ALL", "all"), Tally()).latencies_ms,
                "attacks, all": attack_tallies.get(("ALL", "all"), Tally()).latencies_ms,
            }
        ),
        "blocked_benign": [_outcome_row(o) for o in benign_outcomes if o.action == Action.BLOCK.value],
        "missed_attacks_sample": missed,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "guard.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    text = markdown(report)
    (args.out / "guard.md").write_text(text, encoding="utf-8")
    print(text)


def _outcome_row(outcome: Outcome) -> dict[str, Any]:
    return {
        "id": outcome.item.item_id,
        "set": outcome.item.set_name,
        "lang": outcome.item.lang,
        "kind": outcome.item.kind,
        "rule": outcome.rule,
        "injection_score": round(outcome.injection_score, 4),
        "preview": outcome.preview,
    }


def _sample(items: list[Item], limit: int) -> list[Item]:
    rng = random.Random(SEED)
    by_set: dict[str, list[Item]] = {}
    for item in items:
        by_set.setdefault(item.set_name, []).append(item)
    chosen = []
    for group in by_set.values():
        chosen.extend(group if len(group) <= limit else rng.sample(group, limit))
    return chosen


if __name__ == "__main__":
    main()
