"""Text helpers shared by the report writers: safe display of hostile text, stable names and ordering.

Transcripts are attacker-controlled text. The writers keep them as evidence but must never let them break
the file format around them, so every writer passes transcript text through :func:`visible_text` (XML,
HTML, Markdown) or :func:`json_text` (JSON) before it is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bastion.core.errors import ConfigError
from bastion.core.taxonomy import load_taxonomy
from bastion.redteam.types import AttemptResult

__all__ = [
    "attempt_name",
    "by_severity",
    "category_title",
    "json_text",
    "visible_text",
]

# Characters that XML 1.0 forbids or HTML treats as parse errors (C0 controls except tab, newline and
# carriage return, DEL and C1 controls, lone surrogates, U+FFFE/U+FFFF), plus the bidirectional controls
# that can make displayed text read differently from what it is ("Trojan Source").
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff\u202a-\u202e\u2066-\u2069]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")

#: GitHub code scanning's numeric severity per level (critical > 9, high 7-8.9, medium 4-6.9, low < 4).


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible_text(text: str) -> str:
    """``text`` with every forbidden or invisible control character written as a visible escape.

    ``"a\\x1bb"`` becomes ``"a\\\\x1bb"`` (the four characters ``\\x1b``); tab, newline and carriage
    return stay. The result is valid in XML 1.0, HTML and UTF-8 (no lone surrogates). Markup characters
    are left alone: escaping them is the caller's job, as it depends on the format.
    """
    return _INVISIBLE.sub(_escape_char, text)


def json_text(value: Any) -> str:
    """``value`` as indented JSON text that encodes to valid UTF-8.

    Non-ASCII stays readable (``ensure_ascii=False``); lone surrogates, which only occur inside string
    literals, are written as ``\\uXXXX`` escapes so that the text round-trips through ``json.loads``.
    Values JSON does not know (e.g. in tool-call arguments) are written with ``str``.
    """
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def attempt_name(result: AttemptResult) -> str:
    """The probe id with its mutator chain, e.g. ``"llm01.ignore-previous[base64+leet]"``."""
    attempt = result.attempt
    if not attempt.mutators:
        return attempt.probe.id
    return f"{attempt.probe.id}[{'+'.join(attempt.mutators)}]"


def category_title(category: str) -> str:
    """The OWASP LLM Top 10 2025 title of ``category`` (``"LLM01"`` -> ``"Prompt Injection"``), or ``""``
    for an id the taxonomy does not know."""
    try:
        return load_taxonomy().owasp(category).title
    except ConfigError:
        return ""


def by_severity(results: tuple[AttemptResult, ...]) -> list[AttemptResult]:
    """``results`` ordered most severe first, then by probe id and attempt id (a stable order)."""
    return sorted(
        results,
        key=lambda r: (-r.attempt.probe.severity.rank, r.attempt.probe.id, r.attempt.attempt_id),
    )
