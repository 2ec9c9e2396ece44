"""Find encoded payloads (base64, hex, URL encoding) embedded in a text and decode them.

Attackers wrap instructions in encodings so that filters see noise and the model sees the instruction.
:func:`decoded_payloads` returns every plausible payload with its span in the original text; payloads
are decoded again up to :data:`MAX_DEPTH` levels (base64 inside hex inside URL encoding). The work is
bounded: at most :data:`MAX_PAYLOADS` payloads per text, each at most :data:`MAX_PAYLOAD_CHARS`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import unquote

from bastion.core.types import Span

__all__ = ["MAX_DEPTH", "MAX_PAYLOADS", "DecodedPayload", "decoded_payloads", "looks_like_text"]

MAX_DEPTH = 3
MAX_PAYLOADS = 32
MAX_PAYLOAD_CHARS = 1_000_000

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/_\-]{16,}={0,2}(?![A-Za-z0-9+/=_\-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[ :]?){8,}(?![0-9A-Fa-f])")
_HEX_ESCAPES = re.compile(r"(?:\\x[0-9A-Fa-f]{2}){4,}")
_URL_ENCODED = re.compile(r"(?<!\S)[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]{0,40}){3,}")


@dataclass(frozen=True, slots=True)
class DecodedPayload:
    """A decoded payload: where it sits in the original text, the decoded text, the encodings peeled."""

    span: Span
    text: str
    encodings: tuple[str, ...]


def looks_like_text(decoded: str) -> bool:
    """True when ``decoded`` reads like natural-language text rather than binary noise."""
    if len(decoded) < 6:
        return False
    printable = sum(1 for c in decoded if c.isprintable() or c in "\n\t\r")
    letters = sum(1 for c in decoded if c.isalpha())
    return printable >= 0.9 * len(decoded) and letters >= 0.5 * len(decoded) and " " in decoded.strip()


def _decode_base64(token: str) -> str | None:
    if len(token) > MAX_PAYLOAD_CHARS or (token.isalpha() and (token.islower() or token.isupper())):
        return None
    try:
        raw = base64.b64decode(
            token.replace("-", "+").replace("_", "/") + "=" * (-len(token) % 4), validate=True
        )
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _decode_hex(token: str) -> str | None:
    digits = re.sub(r"[^0-9A-Fa-f]", "", token.replace("\\x", ""))
    if len(digits) % 2 or len(digits) > MAX_PAYLOAD_CHARS:
        return None
    try:
        return bytes.fromhex(digits).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def _decode_url(token: str) -> str | None:
    if len(token) > MAX_PAYLOAD_CHARS:
        return None
    decoded = unquote(token, errors="strict") if "%" in token else token
    return decoded if decoded != token else None


_DECODERS = (
    ("base64", _BASE64, _decode_base64),
    ("hex", _HEX, _decode_hex),
    ("hex", _HEX_ESCAPES, _decode_hex),
    ("url", _URL_ENCODED, _decode_url),
)


def decoded_payloads(text: str) -> list[DecodedPayload]:
    """Every encoded payload in ``text`` that decodes to readable text, nested ones included."""
    found: list[DecodedPayload] = []
    _collect(text, Span(0, len(text)), (), found, depth=0, offset=0)
    return found


def _collect(
    text: str, outer: Span, encodings: tuple[str, ...], found: list[DecodedPayload], depth: int, offset: int
) -> None:
    if depth >= MAX_DEPTH:
        return
    for name, pattern, decoder in _DECODERS:
        for match in pattern.finditer(text):
            if len(found) >= MAX_PAYLOADS:
                return
            try:
                decoded = decoder(match.group())
            except UnicodeDecodeError:
                decoded = None
            if decoded is None or not _printable(decoded):
                continue
            # nested payloads keep the span of their outermost container in the original text
            span = Span(offset + match.start(), offset + match.end()) if depth == 0 else outer
            chain = (*encodings, name)
            if looks_like_text(decoded):
                found.append(DecodedPayload(span, decoded, chain))
            _collect(decoded, span, chain, found, depth + 1, offset)


def _printable(decoded: str) -> bool:
    return len(decoded) >= 6 and sum(1 for c in decoded if c.isprintable() or c in "\n\t\r") >= 0.95 * len(
        decoded
    )
