"""What a recogniser proposes before overlaps are resolved."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bastion.detect.spans import keep_non_overlapping

__all__ = ["BLOCKER", "Candidate", "resolve_overlaps"]

#: type of a candidate that only claims its span (an IBAN-shaped number with a bad checksum keeps
#: its digits from being reported as a phone number) and is never reported itself
BLOCKER = ""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A proposed entity: ``[start, end)`` in the text, a score and a reason that never holds the value."""

    type: str
    start: int
    end: int
    score: float
    reason: str
    priority: int
    rule: str


def resolve_overlaps(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Keep at most one candidate per character: higher priority first, then score, then length.

    Candidates are split into clusters of transitively overlapping spans (one pass over them sorted by
    start); only candidates inside a cluster compete, so typical texts cost ``O(n log n)``.
    """
    ordered = sorted(candidates, key=lambda candidate: (candidate.start, candidate.end))
    kept: list[Candidate] = []
    cluster: list[Candidate] = []
    cluster_end = -1
    for candidate in ordered:
        if cluster and candidate.start >= cluster_end:
            kept.extend(_resolve_cluster(cluster))
            cluster = []
        cluster.append(candidate)
        cluster_end = candidate.end if len(cluster) == 1 else max(cluster_end, candidate.end)
    if cluster:
        kept.extend(_resolve_cluster(cluster))
    return kept


def _resolve_cluster(cluster: list[Candidate]) -> list[Candidate]:
    if len(cluster) == 1:
        return cluster
    return keep_non_overlapping(
        sorted(cluster, key=lambda c: (-c.priority, -c.score, c.start - c.end, c.start))
    )
