"""Reciprocal rank fusion: one ranking from several retrievers' rankings.

Each item scores ``sum(1 / (constant + rank))`` over the retrievers that found it (ranks start at 1), so
an item that two retrievers both rank well beats one that a single retriever ranks first; raw scores
(cosine distances, bm25) never need to be made comparable.

>>> [item for item, _, _ in fuse({"vector": [7, 3], "keyword": [3, 9]})]
[3, 7, 9]
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

__all__ = ["RRF_CONSTANT", "fuse"]

#: the usual constant of reciprocal rank fusion (Cormack et al., 2009)
RRF_CONSTANT = 60
Item = TypeVar("Item", bound=Hashable)


def fuse(
    rankings: Mapping[str, Sequence[Item]], constant: int = RRF_CONSTANT
) -> list[tuple[Item, float, dict[str, int]]]:
    """``(item, fused score, {retriever: rank})`` for every item, best first.

    Ties are broken by the best single rank, then by the order of first appearance (retrievers in the
    mapping's order), so the result is deterministic.
    """
    scores: dict[Item, float] = {}
    ranks: dict[Item, dict[str, int]] = {}
    for retriever, ranking in rankings.items():
        for rank, item in enumerate(dict.fromkeys(ranking), start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (constant + rank)
            ranks.setdefault(item, {})[retriever] = rank
    order = {item: index for index, item in enumerate(scores)}
    fused = sorted(scores, key=lambda item: (-scores[item], min(ranks[item].values()), order[item]))
    return [(item, scores[item], ranks[item]) for item in fused]
