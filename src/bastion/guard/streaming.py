"""Streamed output, checked before the client sees it: a hold-back window over the model's text.

The gateway feeds each streamed delta to an :class:`OutputStream`. It re-checks the whole text so far every
``scan_every`` characters and releases only text that is older than ``hold_back`` characters and was part
of a check, so a leak that the detectors recognise within ``hold_back`` characters of its start is stopped
before any of it leaves. Released text is masked where the check asked for redaction and has its vault
tokens restored for the caller; the release point never cuts a token or a redaction in two (the window is
longer than the longest token).

Limit: a leak that only becomes recognisable more than ``hold_back`` characters after it starts (a long
reproduction of the system prompt, say) is stopped from that point on, not from its start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bastion.core.types import Action, Detection, Span
from bastion.guard.guard import GuardVerdict
from bastion.pseudonymize import find_tokens, mask

__all__ = ["DEFAULT_HOLD_BACK", "OutputStream", "StreamStep"]

#: Longer than the longest vault token (about 145 characters), so a token is always whole when released.
DEFAULT_HOLD_BACK = 160
DEFAULT_SCAN_EVERY = 48


@dataclass(frozen=True, slots=True)
class StreamStep:
    """What may go to the client now; ``stopped`` once the check blocked the output."""

    text: str
    stopped: bool = False
    verdict: GuardVerdict | None = None


class OutputStream:
    """Hold-back checking of one streamed answer. ``check`` is the output check on the text so far,
    ``restore`` turns vault tokens back into values for the caller."""

    def __init__(
        self,
        check: Callable[[str], GuardVerdict],
        restore: Callable[[str], str] = lambda text: text,
        *,
        hold_back: int = DEFAULT_HOLD_BACK,
        scan_every: int = DEFAULT_SCAN_EVERY,
    ) -> None:
        if hold_back < 0 or scan_every < 1:
            raise ValueError("hold_back must be >= 0 and scan_every >= 1")
        self._check = check
        self._restore = restore
        self.hold_back = hold_back
        self.scan_every = scan_every
        self._raw = ""
        self._released = 0
        self._scanned = 0
        self._verdict: GuardVerdict | None = None
        self.stopped = False
        self.checks = 0

    @property
    def verdict(self) -> GuardVerdict | None:
        """The latest check's verdict."""
        return self._verdict

    @property
    def raw_text(self) -> str:
        """Everything the model sent so far (before masking and restoring); for the audit log's checks."""
        return self._raw

    def feed(self, delta: str) -> StreamStep:
        """Add a delta; returns the text that may be released now."""
        if self.stopped:
            return StreamStep("", True, self._verdict)
        self._raw += delta
        if len(self._raw) - self._scanned >= self.scan_every and self._scan():
            return StreamStep("", True, self._verdict)
        return StreamStep(self._release(self._scanned - self.hold_back), False, self._verdict)

    def finish(self) -> StreamStep:
        """The model is done: check everything and release the rest (or stop)."""
        if self.stopped:
            return StreamStep("", True, self._verdict)
        if (self._scanned < len(self._raw) or self._verdict is None) and self._scan():
            return StreamStep("", True, self._verdict)
        return StreamStep(self._release(len(self._raw)), False, self._verdict)

    def _scan(self) -> bool:
        self.checks += 1
        self._verdict = self._check(self._raw)
        self._scanned = len(self._raw)
        if self._verdict.action is Action.BLOCK:
            self.stopped = True
        return self.stopped

    def _release(self, until: int) -> str:
        end = self._safe_end(min(until, self._scanned))
        if end <= self._released:
            return ""
        start, self._released = self._released, end
        chunk = self._raw[start:end]
        redacted = self._verdict.redacted if self._verdict is not None else ()
        inside = [_shift(d, start) for d in redacted if d.span is not None and start <= d.span.start < end]
        if inside:
            chunk = mask(chunk, inside)
        return self._restore(chunk)

    def _safe_end(self, end: int) -> int:
        """Move ``end`` back so it cuts neither a vault token nor a redacted span."""
        if end >= len(self._raw):
            return len(self._raw)
        if end <= self._released:
            return end
        window_start = max(self._released, end - self.hold_back - 200)
        for start, stop in _token_spans(self._raw, window_start):
            if start < end < stop:
                end = start
        if self._verdict is not None:
            for detection in self._verdict.redacted:
                span = detection.span
                if span is not None and span.start < end < span.end:
                    end = span.start
        return max(end, self._released)


def _token_spans(text: str, offset: int) -> list[tuple[int, int]]:
    return [(offset + start, offset + end) for start, end in _spans(text[offset:])]


def _spans(text: str) -> list[tuple[int, int]]:
    return list(find_tokens(text))


def _shift(detection: Detection, offset: int) -> Detection:
    assert detection.span is not None
    return replace(detection, span=Span(detection.span.start - offset, detection.span.end - offset))
