"""Reading labelled JSON-lines sets: one place that knows about blank lines and names bad ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bastion.core.errors import ConfigError

__all__ = ["read_jsonl"]


def read_jsonl(path: Path | str) -> Iterator[tuple[int, Any]]:
    """``(line number, value)`` for every non-blank line of ``path``.

    Raises :class:`ConfigError` naming the file and line when a line is not JSON, and naming the file when
    it cannot be read.
    """
    location = Path(path)
    try:
        handle = location.open(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {location}: {type(error).__name__}") from error
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise ConfigError(f"{location}:{number}: not valid JSON ({error.msg})") from error
