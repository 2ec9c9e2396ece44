"""Finding where a PEM private-key block ends, in time linear in the text.

A regular expression that runs from ``-----BEGIN ... PRIVATE KEY-----`` lazily to ``-----END`` rescans the
body once per BEGIN line, which is quadratic on a text of many BEGIN lines. Instead, all BEGIN/END
markers of the text are listed once; a block ends at the END marker that comes right after its BEGIN
line. A block without one (an answer cut off mid-key) ends where its base64 body ends.
"""

from __future__ import annotations

import re
from bisect import bisect_left

__all__ = ["MAX_BODY_CHARS", "PemMarkers"]

#: a private-key body longer than this is not treated as one block (RSA-16384 keys are ~12 k characters)
MAX_BODY_CHARS = 65_536

_MARKER = re.compile(r"-----(BEGIN|END) [A-Z0-9 ]{1,40}-----")
_TRUNCATED_BODY = re.compile(rf"[A-Za-z0-9+/=\s\\]{{0,{MAX_BODY_CHARS}}}")
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{40}")
_TRAILING_ESCAPES = ("\\n", "\\r", "\\t")


class PemMarkers:
    """The BEGIN/END markers of one text, listed on first use. Not shared between threads or texts."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None
        self._markers: list[tuple[str, int, int]] = []

    def _load(self) -> list[int]:
        if self._starts is None:
            self._markers = [(m.group(1), m.start(), m.end()) for m in _MARKER.finditer(self._text)]
            self._starts = [start for _kind, start, _end in self._markers]
        return self._starts

    def block_end(self, header_end: int) -> int | None:
        """Where the block whose BEGIN line ends at ``header_end`` ends, or ``None`` without key material.

        Key material is a run of at least 40 base64 characters; elided examples (``...``) have none.
        """
        text = self._text
        starts = self._load()
        index = bisect_left(starts, header_end)
        if index < len(starts):
            kind, start, end = self._markers[index]
            if kind == "END" and start - header_end <= MAX_BODY_CHARS:
                return end if _KEY_MATERIAL.search(text, header_end, start) else None
        body = _TRUNCATED_BODY.match(text, header_end)
        if body is None or not _KEY_MATERIAL.search(body.group(0)):
            return None
        kept = body.group(0).rstrip()
        while kept.endswith(_TRAILING_ESCAPES):
            kept = kept[:-2].rstrip()
        return header_end + len(kept)
