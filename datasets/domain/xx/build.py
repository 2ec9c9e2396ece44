"""Build the French, Spanish, Italian and Portuguese domain corpus (JSONL) from ``sources/``.

Source files are named ``attacks_<lang>.txt`` and ``benign_<lang>.txt``. A header line
``@@ key=value key=value`` sets the fields of the rows that follow; every other non-blank line is one
message, and the two characters ``\\n`` inside a message stand for a line break.

Run ``python datasets/domain/xx/build.py`` from the repository root. It writes ``attacks.jsonl`` and
``benign.jsonl`` next to this script, refuses exact or normalised duplicates, and prints counts.
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
LANGUAGES = ("fr", "es", "it", "pt")
SOURCE_TAG = "bastion-domain"
TEST_SHARE_PERCENT = 30
ALLOWED_LABELS = {"benign", "injection", "jailbreak"}


def parse_header(line: str) -> dict[str, str]:
    """Turn ``@@ a=b c=d`` into a field dictionary."""
    fields: dict[str, str] = {}
    for token in line[3:].split():
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
        line = raw.strip()
        if not line:
            continue
        if line.startswith("@@ "):
            fields = parse_header(line)
            continue
        if fields is None:
            raise ValueError(f"{path.name}:{number}: message before any @@ header")
        rows.append({**fields, "text": line.replace("\\n", "\n"), "origin": f"{path.name}:{number}"})
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


def build(kind: str) -> list[dict[str, str]]:
    """All rows of one output file (``attacks`` or ``benign``), language by language."""
    rows: list[dict[str, str]] = []
    for language in LANGUAGES:
        path = SOURCES / f"{kind}_{language}.txt"
        if not path.exists():
            continue
        for index, raw in enumerate(read_line_file(path), start=1):
            fields = dict(raw)
            origin = fields.pop("origin")
            label = fields.pop("label", "benign")
            if label not in ALLOWED_LABELS or (kind == "benign") != (label == "benign"):
                raise ValueError(f"{origin}: label {label!r} does not fit {kind}")
            if "category" not in fields and "technique" not in fields:
                raise ValueError(f"{origin}: row needs a category or a technique")
            text = fields.pop("text")
            row = {"id": f"{language}-{kind}-{index:04d}", "text": text, "label": label, "lang": language}
            row.update(fields)
            row["source"] = SOURCE_TAG
            row["split"] = split_for(text)
            rows.append(row)
    return rows


def main() -> int:
    """Build both files; return a process exit code."""
    outputs = {kind: build(kind) for kind in ("attacks", "benign")}
    seen: dict[str, str] = {}
    problems: list[str] = []
    for rows in outputs.values():
        for row in rows:
            key = normalise_for_duplicates(row["text"])
            if key in seen:
                problems.append(f"duplicate: {row['id']} repeats {seen[key]}: {row['text'][:70]!r}")
            seen.setdefault(key, row["id"])
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    for kind, rows in outputs.items():
        with (HERE / f"{kind}.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{kind}.jsonl: {len(rows)} rows")
        for language in LANGUAGES:
            subset = [row for row in rows if row["lang"] == language]
            labels = Counter(row["label"] for row in subset)
            groups = Counter(row.get("technique") or row.get("subset", "") for row in subset)
            print(
                f"  {language}: {len(subset)} {dict(sorted(labels.items()))} {dict(sorted(groups.items()))}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
