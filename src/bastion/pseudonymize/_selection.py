"""Choosing which detections to replace: flagged, with a span, of a wanted type, and never overlapping.

Detectors may report overlapping spans (a name inside an address, an IBAN and the account number inside
it). Only one replacement can stand at each character, so the detections are ranked (longest span first,
then highest score, then leftmost, then type) and taken greedily: a detection is kept when it overlaps
nothing kept before it and no *protected* range (a token already in the text). The result is sorted by
position. Each overlap test is a binary search, so thousands of detections cost little.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

from bastion.core.errors import InputError
from bastion.core.types import Detection, Span
from bastion.pseudonymize._tokens import type_label

__all__ = ["select_detections"]


def select_detections(
    text_length: int,
    detections: Iterable[Detection],
    *,
    allowed_labels: frozenset[str] | None,
    protected: Sequence[tuple[int, int]] = (),
) -> list[tuple[Span, Detection]]:
    """The detections to replace, as ``(span, detection)`` sorted by start.

    ``allowed_labels`` are token labels (:func:`type_label`); ``None`` allows every type. ``protected``
    ranges must be sorted and disjoint. Raises :class:`InputError` when a span lies outside the text; the
    message carries positions only.
    """
    candidates: list[tuple[Span, Detection]] = []
    for detection in detections:
        span = detection.span
        if span is None:
            continue
        if span.end > text_length:
            raise InputError(
                f"detection span [{span.start}, {span.end}) lies outside the text of {text_length} characters"
            )
        if not detection.flagged or span.start == span.end:
            continue
        if allowed_labels is not None and type_label(detection.type) not in allowed_labels:
            continue
        candidates.append((span, detection))
    candidates.sort(
        key=lambda item: (item[0].start - item[0].end, -item[1].score, item[0].start, item[1].type)
    )

    starts = [start for start, _ in protected]
    ends = [end for _, end in protected]
    kept: list[tuple[Span, Detection]] = []
    for span, detection in candidates:
        index = bisect_right(starts, span.start)
        if index > 0 and ends[index - 1] > span.start:
            continue
        if index < len(starts) and starts[index] < span.end:
            continue
        starts.insert(index, span.start)
        ends.insert(index, span.end)
        kept.append((span, detection))
    kept.sort(key=lambda item: item[0].start)
    return kept
