"""The one detector interface.

A detector takes a text (and an optional :class:`ScanContext`) and returns :class:`Detection` values.
Detectors are pure and synchronous: the same text gives the same detections, nothing is written anywhere,
and a loaded detector is safe to share between threads.

Writing one: subclass :class:`BaseDetector`, set the class attributes (``id``, ``description``, ``types``,
``owasp``, ``atlas``) and implement :meth:`BaseDetector._detect`. The public :meth:`BaseDetector.detect`
validates the input, calls ``_detect`` and checks what comes back (spans inside the text, scores in
range), so every detector behaves the same on empty, huge or odd input. Register it in
:mod:`bastion.detect.registry` (built-ins) or through the ``bastion.detectors`` entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, final, runtime_checkable

from bastion.core.errors import BastionError, DetectorError, InputError
from bastion.core.types import Detection, Policy

__all__ = ["DEFAULT_MAX_CHARS", "BaseDetector", "Detector", "ScanContext"]

DEFAULT_MAX_CHARS = 20_000_000


@dataclass(frozen=True, slots=True)
class ScanContext:
    """What a detector may need to know beyond the text itself.

    ``protected_texts`` are texts that must not appear in output (the system prompt), ``canaries`` are
    tokens planted to detect leakage, ``allowed_domains`` are the hosts that links may point to.
    """

    protected_texts: tuple[str, ...] = ()
    canaries: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()


EMPTY_CONTEXT = ScanContext()


@runtime_checkable
class Detector(Protocol):
    """What every detector offers. ``id`` is stable and never reused."""

    id: ClassVar[str]
    types: ClassVar[tuple[str, ...]]

    def detect(self, text: str, context: ScanContext | None = None) -> list[Detection]: ...


class BaseDetector(ABC):
    """Base class with input validation, error wrapping and output checks around ``_detect``."""

    id: ClassVar[str]
    description: ClassVar[str]
    #: every ``Detection.type`` this detector can emit
    types: ClassVar[tuple[str, ...]]
    #: OWASP LLM Top 10 2025 ids and MITRE ATLAS technique ids this detector addresses
    owasp: ClassVar[tuple[str, ...]] = ()
    atlas: ClassVar[tuple[str, ...]] = ()

    def __init__(self, policy: Policy = Policy.BALANCED, max_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.policy = Policy(policy)
        self.max_chars = max_chars

    @final
    def detect(self, text: str, context: ScanContext | None = None) -> list[Detection]:
        """Detections in ``text``, sorted by position (whole-text detections first).

        Raises :class:`InputError` for a non-string or an over-long text and :class:`DetectorError` when
        the detector itself fails; never returns a span outside the text.
        """
        if not isinstance(text, str):
            raise InputError(f"{self.id}: expected text (str), got {type(text).__name__}")
        if len(text) > self.max_chars:
            raise InputError(
                f"{self.id}: text of {len(text):,} characters exceeds the limit of {self.max_chars:,}"
            )
        try:
            detections = self._detect(text, context or EMPTY_CONTEXT)
        except BastionError:
            raise
        except Exception as error:  # a detector bug must surface as a DetectorError, never as a crash
            raise DetectorError(f"{self.id} failed: {type(error).__name__}") from error
        for detection in detections:
            if detection.span is not None and detection.span.end > len(text):
                raise DetectorError(f"{self.id} returned a span outside the text")
        return sorted(detections, key=_position)

    @abstractmethod
    def _detect(self, text: str, context: ScanContext) -> Sequence[Detection]:
        """Find what this detector looks for. ``text`` is a ``str`` within the size limit."""


def _position(detection: Detection) -> tuple[int, int, str]:
    if detection.span is None:
        return (-1, -1, detection.type)
    return (detection.span.start, detection.span.end, detection.type)
