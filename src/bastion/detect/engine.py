"""Run several detectors over a text and collect what they found."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bastion.core.types import Detection, Policy
from bastion.detect.base import DEFAULT_MAX_CHARS, BaseDetector, ScanContext
from bastion.detect.registry import detectors

__all__ = ["ScanResult", "Scanner"]


@dataclass(frozen=True, slots=True)
class ScanResult:
    """All detections for one text; ``flagged`` when any detection is."""

    detections: tuple[Detection, ...]

    @property
    def flagged(self) -> bool:
        return any(d.flagged for d in self.detections)


class Scanner:
    """A fixed set of loaded detectors, applied in order.

    >>> scanner = Scanner.from_ids(["secrets"])
    >>> scanner.scan("nothing to see here").flagged
    False
    """

    def __init__(self, loaded: Sequence[BaseDetector]) -> None:
        self.detectors = tuple(loaded)

    @classmethod
    def from_ids(
        cls, ids: Iterable[str], policy: Policy = Policy.BALANCED, max_chars: int = DEFAULT_MAX_CHARS
    ) -> Scanner:
        """Load the detectors registered under ``ids`` with one policy and input size limit."""
        return cls([detectors.create(detector_id, policy=policy, max_chars=max_chars) for detector_id in ids])

    def scan(self, text: str, context: ScanContext | None = None) -> ScanResult:
        found: list[Detection] = []
        for detector in self.detectors:
            found.extend(detector.detect(text, context))
        return ScanResult(tuple(found))
