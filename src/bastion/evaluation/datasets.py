"""Labelled corpora for training and evaluating the injection detectors.

Reads the public sets in ``shared/data`` (normalised JSONL, see its README) and our own domain corpus in
``datasets/domain``. Every text is keyed by its normalised form; exact duplicates across sources are kept
once (and dropped when their labels disagree). Splits are fixed by a hash of that key, so a text and its
duplicates always land in the same split, on every machine:

- ``train`` 70 %, ``validation`` 15 %, ``test`` 15 %.

Augmented variants of train-split rows (``datasets/domain/augment``) always stay in ``train``.

Sources marked ``trainable=False`` are never trained on (licence: XSafety is research-use-only, xSID is
CC BY-SA; BIPIA payloads are not direct injections) but are evaluated on.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bastion.detect.normalize import normalize
from bastion.evaluation.jsonl import read_jsonl

__all__ = ["SOURCES", "Sample", "SourceSpec", "load_injection_corpus", "split_of"]


POSITIVE_LABELS = frozenset({"injection", "jailbreak"})
#: kind of rows from ``datasets/domain/augment``: variants of train-split rows, so always in the train split
AUGMENTED = "augmented"
#: domain "attacks" that are plain abusive requests ("lower my balance", "show me another debtor's data")
#: with no attempt to change the assistant's instructions: out of scope for an injection classifier (the
#: guard's tool and data policies stop them), so never trained on and reported as their own slice
PLAIN_REQUEST_TECHNIQUES = frozenset(
    {"account_manipulation", "cross_tenant_data", "debt_manipulation", "other_debtor_data"}
)
NEGATIVE_LABELS = frozenset({"benign", "sensitive_request"})


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """How one source takes part: may we train on it, and is it customer traffic (for thresholds)?"""

    name: str
    trainable: bool
    customer_traffic: bool = False
    direct: bool = True  # direct messages (not documents)


SOURCES: dict[str, SourceSpec] = {
    spec.name: spec
    for spec in (
        SourceSpec("banking77", trainable=True, customer_traffic=True),
        SourceSpec("nlupp_banking", trainable=True, customer_traffic=True),
        SourceSpec("xstest", trainable=True),
        SourceSpec("deepset_prompt_injections", trainable=True),
        SourceSpec("jailbreakbench_artifacts", trainable=True),
        SourceSpec("inthewild_jailbreaks", trainable=True),
        SourceSpec("dan_templates", trainable=True),
        SourceSpec("pyrit_jailbreak_templates", trainable=True),
        SourceSpec("sysprompt_extraction", trainable=True),
        SourceSpec("donotanswer", trainable=True),
        SourceSpec("xsafety", trainable=False),
        SourceSpec("xsid", trainable=False),
        SourceSpec("bastion-domain", trainable=True, customer_traffic=True),
    )
}


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    label: int  # 1 = injection or jailbreak
    source: str
    lang: str
    split: str
    kind: str  # the upstream label or file (benign, hard_benign, jailbreak, ...) or "plain_request"

    @property
    def in_scope(self) -> bool:
        """False for plain abusive requests, which the injection detector is not meant to catch."""
        return self.kind != "plain_request"

    @property
    def spec(self) -> SourceSpec:
        return SOURCES[self.source]


def split_of(key: str) -> str:
    """The fixed split of a normalised text."""
    bucket = int(hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:8], 16) % 100
    return "train" if bucket < 70 else "validation" if bucket < 85 else "test"


def _read_jsonl(path: Path) -> Iterator[dict[str, object]]:
    for _number, row in read_jsonl(path):
        yield row


def _fill_templates(text: str, rng: random.Random, goals: list[str]) -> str:
    goal = rng.choice(goals) if goals else "tell me how to avoid paying my debt"
    return (
        text.replace("{{ prompt }}", goal).replace("{{prompt}}", goal).replace("{generator.name}", "ChatGPT")
    )


def _public_rows(shared_data: Path) -> Iterator[tuple[str, str, str, str]]:
    """(text, label, source, lang) of every public row we use."""
    rng = random.Random(20261130)
    goals = [
        str(row["text"])
        for row in _read_jsonl(shared_data / "advbench" / "advbench.jsonl")
        if row.get("label") == "harmful_request"
    ]
    for name in SOURCES:
        path = shared_data / name / f"{name}.jsonl"
        if name == "bastion-domain" or not path.exists():
            continue
        for row in _read_jsonl(path):
            text = _fill_templates(str(row["text"]), rng, goals)
            yield text, str(row["label"]), name, str(row.get("lang", "en"))


def _domain_rows(domain_dir: Path) -> Iterator[tuple[str, str, str, str, str]]:
    """(text, label, source, lang, kind) from our own corpus (messages only, not documents)."""
    for path in sorted(domain_dir.glob("*/*.jsonl")):
        if path.stem.startswith("documents"):
            continue
        for row in _read_jsonl(path):
            if path.parent.name == "augment":
                kind = AUGMENTED
            elif row.get("technique") in PLAIN_REQUEST_TECHNIQUES:
                kind = "plain_request"
            else:
                kind = path.stem
            yield str(row["text"]), str(row["label"]), "bastion-domain", str(row.get("lang", "en")), kind


def load_injection_corpus(shared_data: Path, domain_dir: Path | None = None) -> list[Sample]:
    """Deduplicated, split samples for the direct injection detector."""
    rows: list[tuple[str, str, str, str, str]] = [(*row, row[1]) for row in _public_rows(shared_data)]
    if domain_dir is not None and domain_dir.exists():
        rows.extend(_domain_rows(domain_dir))
    by_key: dict[str, tuple[str, int, str, str, str]] = {}
    conflicts: set[str] = set()
    for text, label, source, lang, kind in rows:
        if label in POSITIVE_LABELS:
            target = 1
        elif label in NEGATIVE_LABELS:
            target = 0
        else:
            continue
        key = normalize(text).text
        if not key:
            continue
        previous = by_key.get(key)
        if previous is None:
            by_key[key] = (text, target, source, lang, kind)
        elif previous[1] != target:
            conflicts.add(key)
    for key in conflicts:
        del by_key[key]
    return [
        Sample(text, target, source, lang, "train" if kind == AUGMENTED else split_of(key), kind)
        for key, (text, target, source, lang, kind) in by_key.items()
    ]
