from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from bastion.core.types import Span
from bastion.detect.spans import keep_non_overlapping


def test_better_ranked_items_win_and_result_is_in_position_order() -> None:
    assert keep_non_overlapping([Span(2, 8), Span(0, 4), Span(8, 9), Span(7, 10)]) == [Span(2, 8), Span(8, 9)]


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 10)), max_size=40))
def test_kept_spans_never_overlap(pairs: list[tuple[int, int]]) -> None:
    spans = [Span(start, start + length) for start, length in pairs]
    kept = keep_non_overlapping(spans)
    assert kept == sorted(kept)
    assert all(a.end <= b.start for a, b in itertools.pairwise(kept))
    # every dropped span overlaps a kept one
    assert all(any(s.overlaps(k) for k in kept) for s in spans if s not in kept)
