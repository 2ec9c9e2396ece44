"""Span helpers shared by detectors."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["keep_non_overlapping"]


class _Ranged(Protocol):
    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


RangedT = TypeVar("RangedT", bound=_Ranged)


def keep_non_overlapping(ranked: Iterable[RangedT]) -> list[RangedT]:
    """Walk ``ranked`` best first and keep every item that overlaps none kept so far.

    The result is in position order. Each step is a binary search, so the whole walk is
    ``O(n log n)`` plus the list insertions.

    >>> from bastion.core.types import Span
    >>> keep_non_overlapping([Span(2, 8), Span(0, 4), Span(8, 9)])
    [Span(start=2, end=8), Span(start=8, end=9)]
    """
    starts: list[int] = []
    kept: list[RangedT] = []
    for item in ranked:
        index = bisect_right(starts, item.start)
        if index > 0 and kept[index - 1].end > item.start:
            continue
        if index < len(kept) and kept[index].start < item.end:
            continue
        starts.insert(index, item.start)
        kept.insert(index, item)
    return kept
