"""Build the German domain corpus (JSONL) from the hand-written source files next to this script.

Source formats (all UTF-8):

* ``benign.txt``, ``hard_benign.txt``: one message per line. ``@category NAME`` starts a section.
* ``attacks.txt``: one message per line. ``@technique NAME LABEL`` starts a section (LABEL is
  ``injection`` or ``jailbreak``).
* ``documents.txt``: blocks that start with a header line
  ``=== key=K kind=KIND label=LABEL category=C`` (benign) or
  ``=== key=K kind=KIND label=indirect_injection technique=T [derived_from=K2 at=N|end]``.
  A block with ``derived_from`` holds only the planted text; it is inserted into the paragraphs of the
  referenced benign document before paragraph ``N`` (0-based, split on blank lines) or at the end.
  In document bodies ``{ZWSP}``, ``{ZWNJ}``, ``{WJ}`` and ``{SHY}`` stand for the invisible characters
  U+200B, U+200C, U+2060 and U+00AD (used to hide planted text).

In message lines the escapes ``\\n``, ``\\t`` and ``\\uXXXX`` are decoded; lines starting with ``//`` and
empty lines are skipped. Run ``python build.py`` to rewrite the JSONL files, ``python build.py --check`` to
only validate (duplicates, labels, JSON tool outputs, JSONL files up to date) and print the counts.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = "bastion-domain"
LANGUAGE = "de"
MESSAGE_LABELS = {"benign", "injection", "jailbreak"}
DOCUMENT_KINDS = {"letter", "email", "faq", "tool_output", "web"}
ESCAPE_PATTERN = re.compile(r"\\(n|t|u[0-9a-fA-F]{4})")
HEADER_PATTERN = re.compile(r"(\w+)=(\S+)")
INVISIBLE_PLACEHOLDERS = {"{ZWSP}": "\u200b", "{ZWNJ}": "\u200c", "{WJ}": "\u2060", "{SHY}": "\u00ad"}


def decode_escapes(line: str) -> str:
    """Turn the escapes ``\\n``, ``\\t`` and ``\\uXXXX`` of a source line into characters."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "n":
            return "\n"
        if code == "t":
            return "\t"
        return chr(int(code[1:], 16))

    return ESCAPE_PATTERN.sub(replace, line)


def read_message_file(path: Path, directive: str) -> list[dict[str, str]]:
    """Read a one-message-per-line source file into rows without ids."""
    rows: list[dict[str, str]] = []
    section: list[str] = []
    for number, raw_line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw_line.rstrip()
        if not line.strip() or line.startswith("//"):
            continue
        if line.startswith("@"):
            parts = line[1:].split()
            if parts[0] != directive:
                raise SystemExit(f"{path.name}:{number}: expected @{directive}, got {line!r}")
            section = parts[1:]
            continue
        if not section:
            raise SystemExit(f"{path.name}:{number}: message before the first @{directive}")
        text = decode_escapes(line.strip())
        if directive == "category":
            rows.append({"text": text, "label": "benign", "category": section[0]})
        else:
            rows.append({"text": text, "label": section[1], "technique": section[0]})
    return rows


def expand_placeholders(text: str) -> str:
    """Replace the invisible-character placeholders of ``documents.txt`` with the characters themselves."""
    for placeholder, character in INVISIBLE_PLACEHOLDERS.items():
        text = text.replace(placeholder, character)
    return text


def read_document_blocks(path: Path) -> list[tuple[dict[str, str], str]]:
    """Split ``documents.txt`` into (header fields, body) pairs."""
    blocks: list[tuple[dict[str, str], list[str]]] = []
    for raw_line in path.read_text(encoding="utf-8").splitlines():
        if raw_line.startswith("=== "):
            blocks.append((dict(HEADER_PATTERN.findall(raw_line)), []))
        elif raw_line.startswith("//") and not blocks:
            continue
        elif blocks:
            blocks[-1][1].append(raw_line)
    return [(header, expand_placeholders("\n".join(body).strip("\n"))) for header, body in blocks]


def build_documents(path: Path) -> list[dict[str, str]]:
    """Resolve derived poisoned documents and return rows without ids (keys kept for later)."""
    blocks = read_document_blocks(path)
    bodies = {header["key"]: body for header, body in blocks}
    rows: list[dict[str, str]] = []
    for header, body in blocks:
        row = {"key": header["key"], "kind": header["kind"], "label": header["label"]}
        if header["label"] == "benign":
            row["category"] = header["category"]
            row["text"] = body
        else:
            row["technique"] = header["technique"]
            base_key = header.get("derived_from")
            if base_key is None:
                row["text"] = body
            else:
                paragraphs = bodies[base_key].split("\n\n")
                position = header.get("at", "end")
                index = len(paragraphs) if position == "end" else int(position)
                paragraphs.insert(index, body)
                row["text"] = "\n\n".join(paragraphs)
                row["derived_from"] = base_key
        rows.append(row)
    return rows


def finish(rows: list[dict[str, str]], file_stem: str) -> list[dict[str, str]]:
    """Give rows their ids and the fixed fields, in the order the schema lists them."""
    keyed_ids = {row["key"]: f"de-{file_stem}-{n:04d}" for n, row in enumerate(rows, 1) if "key" in row}
    finished = []
    for number, row in enumerate(rows, start=1):
        out = {
            "id": f"de-{file_stem}-{number:04d}",
            "text": row["text"],
            "label": row["label"],
            "lang": LANGUAGE,
        }
        for field in ("category", "technique", "kind"):
            if field in row:
                out[field] = row[field]
        if "derived_from" in row:
            out["derived_from"] = keyed_ids[row["derived_from"]]
        out["source"] = SOURCE
        finished.append(out)
    return finished


def normalised(text: str) -> str:
    """Key for near-exact duplicate detection: case, spacing and Unicode form ignored."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def validate(corpus: dict[str, list[dict[str, str]]]) -> list[str]:
    """Return a list of problems: duplicates (within and across files), bad labels, empty texts."""
    problems = []
    seen: dict[str, str] = {}
    for rows in corpus.values():
        for row in rows:
            key = normalised(row["text"])
            if not key:
                problems.append(f"{row['id']}: empty text")
            if key in seen:
                problems.append(f"{row['id']}: duplicate of {seen[key]}")
            seen.setdefault(key, row["id"])
            if row["label"] not in MESSAGE_LABELS | {"indirect_injection"}:
                problems.append(f"{row['id']}: unknown label {row['label']}")
            if "kind" in row and row["kind"] not in DOCUMENT_KINDS:
                problems.append(f"{row['id']}: unknown kind {row['kind']}")
            if "\ufffd" in row["text"]:
                problems.append(f"{row['id']}: replacement character in text")
    for row in corpus["documents"]:
        if row["kind"] == "tool_output" and row["text"].lstrip().startswith("{"):
            try:
                json.loads(row["text"])
            except json.JSONDecodeError as error:
                problems.append(f"{row['id']}: tool output is not valid JSON ({error})")
    return problems


def summarise(corpus: dict[str, list[dict[str, str]]]) -> str:
    """Counts per file, label and category/technique/kind, plus word-count ranges."""
    lines = []
    for name, rows in corpus.items():
        words = [len(row["text"].split()) for row in rows]
        lines.append(
            f"{name}: {len(rows)} rows, words min {min(words)} median "
            f"{sorted(words)[len(words) // 2]} max {max(words)}"
        )
        for field in ("label", "kind", "category", "technique"):
            counter = collections.Counter(row[field] for row in rows if field in row)
            if counter:
                body = ", ".join(f"{key} {value}" for key, value in sorted(counter.items()))
                lines.append(f"  {field}: {body}")
    return "\n".join(lines)


def main() -> int:
    """Build, validate and (unless ``--check``) write the four JSONL files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="validate, count and compare with the JSONL files; write nothing"
    )
    arguments = parser.parse_args()
    corpus = {
        "benign": finish(read_message_file(HERE / "benign.txt", "category"), "benign"),
        "hard_benign": finish(read_message_file(HERE / "hard_benign.txt", "category"), "hard_benign"),
        "attacks": finish(read_message_file(HERE / "attacks.txt", "technique"), "attacks"),
        "documents": finish(build_documents(HERE / "documents.txt"), "documents"),
    }
    problems = validate(corpus)
    print(summarise(corpus))
    for problem in problems:
        print("PROBLEM", problem, file=sys.stderr)
    if problems:
        return 1
    for name, rows in corpus.items():
        path = HERE / f"{name}.jsonl"
        content = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if not arguments.check:
            path.write_text(content, encoding="utf-8", newline="\n")
        elif not path.exists() or path.read_text(encoding="utf-8") != content:
            print(f"PROBLEM {path.name} is stale: run python build.py", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
