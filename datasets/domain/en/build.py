"""Build the English domain corpus (JSONL) from the hand-written text sources in ``sources/``.

Source formats
--------------
Line files (``benign_*.txt``, ``hard_benign_*.txt``, ``attacks_*.txt``): a header line
``@@ key=value key=value`` sets the fields of the rows that follow; every other non-blank line is one
message. The two characters ``\\n`` inside a message stand for a line break.

Block files (``documents_*.txt``): ``=== key=value ...`` opens a document; every line up to the next
``===`` header belongs to its text (line breaks kept, surrounding blank lines stripped).

Run ``python datasets/domain/en/build.py`` from the repository root. It writes the JSONL files next to this
script, refuses exact or normalised duplicates, and prints counts per label and category.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
LANG = "en"
SOURCE_TAG = "bastion-domain"
TEST_SHARE_PERCENT = 30

LINE_FILES: dict[str, tuple[str, str | None]] = {
    # output name -> (glob of source files, fixed label or None when the header gives it)
    "benign": ("benign_*.txt", "benign"),
    "hard_benign": ("hard_benign_*.txt", "benign"),
    "attacks": ("attacks_*.txt", None),
}
BLOCK_FILES: dict[str, str] = {"documents": "documents_*.txt"}
ALLOWED_LABELS = {"benign", "injection", "jailbreak", "indirect_injection"}
ALLOWED_KINDS = {"letter", "email", "faq", "tool_output", "web"}


def parse_header(line: str, marker: str) -> dict[str, str]:
    """Turn ``@@ a=b c=d`` (or ``=== a=b``) into a field dictionary."""
    fields: dict[str, str] = {}
    for token in line[len(marker) :].split():
        key, separator, value = token.partition("=")
        if not separator or not value:
            raise ValueError(f"bad header token {token!r} in {line!r}")
        fields[key] = value
    return fields


def read_line_file(path: Path) -> list[dict[str, str]]:
    """Rows of a line file, each carrying the fields of its section header."""
    rows: list[dict[str, str]] = []
    fields: dict[str, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("@@ "):
            fields = parse_header(line, "@@ ")
            continue
        if fields is None:
            raise ValueError(f"{path.name}:{number}: message before any @@ header")
        text = line.strip().replace("\\n", "\n")
        rows.append({**fields, "text": text, "origin": f"{path.name}:{number}"})
    return rows


def read_block_file(path: Path) -> list[dict[str, str]]:
    """Documents of a block file."""
    rows: list[dict[str, str]] = []
    fields: dict[str, str] | None = None
    body: list[str] = []
    start = 0

    def flush() -> None:
        if fields is not None:
            text = "\n".join(body).strip("\n").rstrip()
            if not text.strip():
                raise ValueError(f"{path.name}:{start}: empty document")
            rows.append({**fields, "text": text, "origin": f"{path.name}:{start}"})

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if raw.startswith("=== "):
            flush()
            fields = parse_header(raw, "=== ")
            body = []
            start = number
            continue
        if fields is None:
            if raw.strip():
                raise ValueError(f"{path.name}:{number}: text before any === header")
            continue
        body.append(raw.rstrip())
    flush()
    return rows


def normalise_for_duplicates(text: str) -> str:
    """Lower-case, accent-folded, punctuation-free form used to find near-identical rows."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(character for character in folded if not unicodedata.combining(character))
    return " ".join(re.findall(r"\w+", folded))


def split_for(text: str) -> str:
    """Deterministic suggested split: about 30% ``test``, the rest ``train``."""
    bucket = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "test" if bucket < TEST_SHARE_PERCENT else "train"


def finalise(name: str, raw_rows: list[dict[str, str]], fixed_label: str | None) -> list[dict[str, str]]:
    """Validate rows, assign ids and the fixed field order."""
    rows: list[dict[str, str]] = []
    for index, raw in enumerate(raw_rows, start=1):
        fields = dict(raw)
        origin = fields.pop("origin")
        label = fixed_label or fields.pop("label", "")
        if fixed_label is not None:
            fields.pop("label", None)
        if label not in ALLOWED_LABELS:
            raise ValueError(f"{origin}: label {label!r} not allowed")
        if "kind" in fields and fields["kind"] not in ALLOWED_KINDS:
            raise ValueError(f"{origin}: kind {fields['kind']!r} not allowed")
        if "category" not in fields and "technique" not in fields:
            raise ValueError(f"{origin}: row needs a category or a technique")
        text = fields.pop("text")
        row = {"id": f"{LANG}-{name}-{index:04d}", "text": text, "label": label, "lang": LANG}
        row.update(fields)
        row["source"] = SOURCE_TAG
        row["split"] = split_for(text)
        rows.append(row)
    return rows


def check_duplicates(all_rows: dict[str, list[dict[str, str]]]) -> list[str]:
    """Problems: the same text (exactly or after normalisation) twice anywhere in the corpus."""
    problems: list[str] = []
    seen: dict[str, str] = {}
    for rows in all_rows.values():
        for row in rows:
            key = normalise_for_duplicates(row["text"])
            if key in seen:
                problems.append(f"duplicate: {row['id']} repeats {seen[key]}: {row['text'][:70]!r}")
            else:
                seen[key] = row["id"]
    return problems


def main() -> int:
    """Build every output file; return a process exit code."""
    outputs: dict[str, list[dict[str, str]]] = {}
    for name, (pattern, fixed_label) in LINE_FILES.items():
        raw_rows = [row for path in sorted(SOURCES.glob(pattern)) for row in read_line_file(path)]
        outputs[name] = finalise(name, raw_rows, fixed_label)
    for name, pattern in BLOCK_FILES.items():
        raw_rows = [row for path in sorted(SOURCES.glob(pattern)) for row in read_block_file(path)]
        outputs[name] = finalise(name, raw_rows, None)

    problems = check_duplicates(outputs)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1

    for name, rows in outputs.items():
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        by_label = Counter(row["label"] for row in rows)
        print(f"{name}.jsonl: {len(rows)} rows; labels {dict(sorted(by_label.items()))}")
        if name == "attacks":
            by_scope = Counter((row["scope"], row["label"]) for row in rows)
            print(f"  scope x label: {dict(sorted(by_scope.items()))}")
            by_technique = Counter((row["technique"], row["scope"]) for row in rows)
            print(f"  technique x scope: {dict(sorted(by_technique.items()))}")
        elif name == "documents":
            by_kind = Counter((row["kind"], row["label"]) for row in rows)
            print(f"  kind x label: {dict(sorted(by_kind.items()))}")
            poisoned_techniques = Counter(row["technique"] for row in rows if "technique" in row)
            print(f"  technique (poisoned): {dict(sorted(poisoned_techniques.items()))}")
        else:
            by_category = Counter(row["category"] for row in rows)
            print(f"  category: {dict(sorted(by_category.items()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
