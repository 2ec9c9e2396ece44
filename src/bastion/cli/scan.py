"""``bastion scan``: run detectors over a text or a JSONL file (the stable command contract).

With ``--input``, one output line per non-blank input line::

    {"id": <input id or null>, "flagged": bool, "detections": [{"detector", "type", "score", "flagged",
     "start", "end", "explanation"}]}

A line that cannot be used (not JSON, not UTF-8, no text field) gives ``{"id": ..., "flagged": false,
"detections": [], "error": "..."}`` in its place, so outputs stay aligned with inputs. Exit code 0 whether
or not something was flagged; 2 for usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import typer
from rich.console import Console
from rich.table import Table

from bastion.core.errors import BastionError, UsageError
from bastion.core.settings import BastionSettings
from bastion.core.types import Policy
from bastion.detect.engine import Scanner, ScanResult
from bastion.detect.registry import TEXT_DETECTORS, detectors


class OutputFormat(StrEnum):
    JSONL = "jsonl"
    JSON = "json"
    TABLE = "table"


def _detector_ids(value: str | None) -> list[str]:
    ids = [part.strip() for part in (value or ",".join(TEXT_DETECTORS)).split(",") if part.strip()]
    unknown = [i for i in ids if i not in detectors]
    if unknown or not ids:
        raise UsageError(
            f"unknown detector(s): {', '.join(unknown) or '(none given)'}; "
            f"known: {', '.join(detectors.ids())}"
        )
    return ids


def _record(item_id: Any, result: ScanResult) -> dict[str, Any]:
    return {"id": item_id, "flagged": result.flagged, "detections": [d.to_dict() for d in result.detections]}


def _error_record(item_id: Any, message: str) -> dict[str, Any]:
    return {"id": item_id, "flagged": False, "detections": [], "error": message}


def _lines(handle: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(handle, 1):
        if raw.strip():
            yield number, raw


def _scan_line(scanner: Scanner, number: int, raw: bytes, field: str) -> dict[str, Any]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _error_record(None, f"line {number}: not valid UTF-8")
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return _error_record(None, f"line {number}: not valid JSON ({error.msg})")
    if isinstance(row, str):
        row = {field: row}
    if not isinstance(row, dict):
        return _error_record(None, f"line {number}: expected a JSON object")
    item_id = row.get("id")
    text = row.get(field)
    if not isinstance(text, str):
        return _error_record(item_id, f"line {number}: field {field!r} is missing or not a string")
    try:
        return _record(item_id, scanner.scan(text))
    except BastionError as error:
        return _error_record(item_id, f"line {number}: {error}")


def _render_table(console: Console, records: list[dict[str, Any]], texts: list[str | None]) -> None:
    table = Table(show_lines=False)
    for column in ("id", "detector", "type", "score", "flagged", "span"):
        table.add_column(column)
    for record, text in zip(records, texts, strict=True):
        if "error" in record:
            table.add_row(str(record["id"]), "-", "error", "", "", record["error"])
        for detection in record["detections"]:
            span = ""
            if text is not None and detection["start"] is not None:
                span = repr(text[detection["start"] : detection["end"]][:60])
            flag = "[red]yes[/red]" if detection["flagged"] else "no"
            table.add_row(
                str(record["id"]),
                detection["detector"],
                detection["type"],
                f"{detection['score']:.2f}",
                flag,
                span,
            )
    console.print(table)


def scan(
    text: Annotated[
        str | None, typer.Argument(help="Text to scan ('-' reads it from standard input).")
    ] = None,
    input_file: Annotated[
        Path | None, typer.Option("--input", "-i", help="JSONL file, one object per line ('-' for stdin).")
    ] = None,
    field: Annotated[str, typer.Option(help="Field of each JSONL object that holds the text.")] = "text",
    detector_list: Annotated[
        str | None,
        typer.Option("--detectors", "-d", help="Comma-separated detector ids (default: all text detectors)."),
    ] = None,
    policy: Annotated[Policy, typer.Option(help="Operating point of the detectors.")] = Policy.BALANCED,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.JSONL,
) -> None:
    """Scan text for prompt injection, indirect injection, personal data and secrets."""
    if (text is None) == (input_file is None):
        raise UsageError("give either TEXT or --input FILE (not both)")
    settings = BastionSettings()
    scanner = Scanner.from_ids(
        _detector_ids(detector_list), policy=policy, max_chars=settings.max_input_chars
    )
    console = Console()
    records: list[dict[str, Any]] = []
    texts: list[str | None] = []
    if text is not None:
        body = sys.stdin.read() if text == "-" else text
        records.append(_record(None, scanner.scan(body)))
        texts.append(body)
    else:
        assert input_file is not None
        keep_texts = output_format is OutputFormat.TABLE
        try:
            handle: BinaryIO = sys.stdin.buffer if str(input_file) == "-" else input_file.open("rb")
        except OSError as error:
            raise UsageError(f"cannot read {input_file}: {error.strerror}") from error
        with handle:
            for number, raw in _lines(handle):
                record = _scan_line(scanner, number, raw, field)
                if output_format is OutputFormat.JSONL:
                    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
                else:
                    records.append(record)
                    texts.append(_text_of(raw, field) if keep_texts else None)
        if output_format is OutputFormat.JSONL:
            return
    if output_format is OutputFormat.JSONL:
        for record in records:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    elif output_format is OutputFormat.JSON:
        payload: Any = records[0] if text is not None else records
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        _render_table(console, records, texts)


def _text_of(raw: bytes, field: str) -> str | None:
    try:
        row = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    value = row.get(field) if isinstance(row, dict) else row
    return value if isinstance(value, str) else None
