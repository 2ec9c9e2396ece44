"""k-anonymity and l-diversity by full-domain generalisation (Samarati 2001; Machanavajjhala et al. 2007).

The first pass over the data fills a :class:`CombinationCounter`: how many rows share each combination
of quasi-identifier values (at each column's minimum level), one raw example of the combination, and
the distinct sensitive values seen with it. Memory grows with the number of distinct combinations, not
with the rows, and is capped.

:func:`search` then tries every node of the generalisation lattice (one level per quasi-identifier),
groups the combinations into equivalence classes at that node, and counts the rows of classes smaller
than ``k`` or with fewer than ``l`` distinct values of a sensitive column: those rows would be
suppressed. Nodes are tried in order of the precision they lose (Sweeney's Prec: the mean of
level / height over the columns); among the least lossy nodes whose suppression stays within the budget
it picks the one that suppresses fewest rows, and stops. Each node is a few numpy operations over the
combinations coded as integers.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bastion.core.errors import InputError
from bastion.privacy.anonymize.rules import Generalizer

__all__ = ["CombinationCounter", "Solution", "search"]

#: lattice nodes tried at most
MAX_NODES = 20_000


class _Entry:
    __slots__ = ("count", "example", "sensitive")

    def __init__(self, example: tuple[str, ...], sensitive_columns: int) -> None:
        self.count = 0
        self.example = example
        self.sensitive: list[set[str]] = [set() for _ in range(sensitive_columns)]


class CombinationCounter:
    """Rows per quasi-identifier combination (pass 1), merged from per-chunk group counts."""

    def __init__(
        self,
        generalizers: Sequence[Generalizer],
        min_levels: Sequence[int],
        sensitive_columns: int,
        limit: int,
    ) -> None:
        self.generalizers = tuple(generalizers)
        self.min_levels = tuple(min_levels)
        self.sensitive_columns = sensitive_columns
        self.limit = limit
        self.entries: dict[tuple[str, ...], _Entry] = {}
        self.rows = 0

    def merge(
        self,
        combinations: Sequence[tuple[str, ...]],
        examples: Sequence[tuple[str, ...]],
        counts: Sequence[int],
        sensitive: Sequence[Sequence[Sequence[str]]],
    ) -> None:
        """Add one chunk's groups: ``combinations[g]`` (labels at the minimum levels) was seen ``counts[g]``
        times, ``examples[g]`` is one raw value tuple of it, ``sensitive[j][g]`` the distinct values of
        sensitive column ``j`` with it."""
        for index, combination in enumerate(combinations):
            entry = self.entries.get(combination)
            if entry is None:
                if len(self.entries) >= self.limit:
                    raise InputError(
                        f"more than {self.limit:,} distinct quasi-identifier combinations: raise min_level "
                        "of the most varied quasi-identifier or max_combinations"
                    )
                entry = _Entry(examples[index], self.sensitive_columns)
                self.entries[combination] = entry
            entry.count += counts[index]
            for values, column in zip(entry.sensitive, sensitive, strict=True):
                values.update(column[index])
            self.rows += counts[index]


@dataclass(frozen=True, slots=True)
class Solution:
    """The chosen node: ``levels`` per quasi-identifier and the classes whose rows are suppressed."""

    levels: tuple[int, ...]
    suppressed_rows: int
    suppressed_classes: frozenset[tuple[str, ...]]
    classes: int
    smallest_class: int
    precision_loss: float
    discernibility: int
    nodes_tried: int


class _Lattice:
    """The combinations as integer codes, so that a node is evaluated with a few numpy operations."""

    def __init__(self, counter: CombinationCounter) -> None:
        entries = list(counter.entries.values())
        self.counter = counter
        self.counts = np.array([entry.count for entry in entries], dtype=np.int64)
        self.values: list[list[str]] = []
        self.value_codes: list[NDArray[np.int64]] = []
        for position in range(len(counter.generalizers)):
            index: dict[str, int] = {}
            codes = [index.setdefault(entry.example[position], len(index)) for entry in entries]
            self.values.append(list(index))
            self.value_codes.append(np.array(codes, dtype=np.int64))
        self._labels: dict[tuple[int, int], tuple[NDArray[np.int64], list[str]]] = {}
        self.pairs: list[tuple[NDArray[np.int64], NDArray[np.int64], int]] = []
        for column in range(counter.sensitive_columns):
            lookup: dict[str, int] = {}
            owners: list[int] = []
            codes = []
            for number, entry in enumerate(entries):
                for value in entry.sensitive[column]:
                    owners.append(number)
                    codes.append(lookup.setdefault(value, len(lookup)))
            self.pairs.append(
                (np.array(owners, dtype=np.int64), np.array(codes, dtype=np.int64), max(len(lookup), 1))
            )

    def labels(self, position: int, level: int) -> tuple[NDArray[np.int64], list[str]]:
        """Per combination, the code of its label at ``level``, and the labels."""
        key = (position, level)
        if key not in self._labels:
            generalizer = self.counter.generalizers[position]
            index: dict[str, int] = {}
            per_value = np.array(
                [
                    index.setdefault(generalizer.label(value, level), len(index))
                    for value in self.values[position]
                ],
                dtype=np.int64,
            )
            self._labels[key] = (per_value[self.value_codes[position]], list(index))
        return self._labels[key]

    def evaluate(self, levels: tuple[int, ...], k: int, l_diversity: int) -> tuple[int, Any, Any, Any]:
        """Rows suppressed, the class of each combination, the class sizes and which classes are dropped."""
        labelled = [self.labels(position, level) for position, level in enumerate(levels)]
        key = np.zeros(self.counts.size, dtype=np.int64)
        radix = 1
        for codes, names in labelled:  # mixed-radix code of the label tuple (fits: bounded by the entries)
            key += codes * radix
            radix *= max(len(names), 1)
        if radix < 2**62:
            _, classes = np.unique(key, return_inverse=True)
        else:
            _, classes = np.unique(
                np.stack([codes for codes, _ in labelled], axis=1), axis=0, return_inverse=True
            )
        classes = classes.ravel()
        sizes = np.bincount(classes, weights=self.counts).astype(np.int64)
        dropped = sizes < k
        if l_diversity > 1:
            for owners, codes, width in self.pairs:
                distinct = np.unique(classes[owners] * width + codes)
                diversity = np.bincount(distinct // width, minlength=sizes.size)
                dropped |= diversity < l_diversity
        return int(sizes[dropped].sum()), classes, sizes, dropped


def search(counter: CombinationCounter, k: int, l_diversity: int, max_suppression: float) -> Solution:
    """The least-generalised node that reaches ``k`` and ``l`` suppressing at most ``max_suppression`` of
    the rows; :class:`InputError` when none does."""
    budget = int(max_suppression * counter.rows + 1e-9)
    heights = [g.height for g in counter.generalizers]
    ranges = [range(low, height + 1) for low, height in zip(counter.min_levels, heights, strict=True)]
    nodes = 1
    for options in ranges:
        nodes *= len(options)
    if nodes > MAX_NODES:
        raise InputError(f"{nodes:,} generalisation combinations exceed {MAX_NODES:,}: use fewer levels")

    def loss(levels: tuple[int, ...]) -> float:
        return sum(level / height for level, height in zip(levels, heights, strict=True)) / max(
            len(levels), 1
        )

    if not counter.entries:  # no rows: nothing to generalise
        lowest = tuple(counter.min_levels)
        return Solution(lowest, 0, frozenset(), 0, 0, loss(lowest), 0, 0)
    lattice = _Lattice(counter)
    best: tuple[float, int, tuple[int, ...], Any] | None = None
    tried = 0
    for levels in sorted(itertools.product(*ranges), key=lambda node: (loss(node), node)):
        node_loss = loss(levels)
        if best is not None and node_loss > best[0] + 1e-12:
            break  # nodes come in order of loss: nothing later can be better
        tried += 1
        suppressed, classes, sizes, dropped = lattice.evaluate(levels, k, l_diversity)
        if suppressed <= budget and (best is None or suppressed < best[1]):
            best = (node_loss, suppressed, levels, (classes, sizes, dropped))
    if best is None:
        raise InputError(
            f"no generalisation reaches k={k}"
            + (f" and l={l_diversity}" if l_diversity > 1 else "")
            + f" while suppressing at most {max_suppression:.1%} of {counter.rows:,} rows"
        )
    node_loss, suppressed, levels, (classes, sizes, dropped) = best
    labels = [lattice.labels(position, level) for position, level in enumerate(levels)]
    first = np.full(sizes.size, -1, dtype=np.int64)
    first[classes[::-1]] = np.arange(classes.size)[::-1]  # one combination per class
    suppressed_classes = frozenset(
        tuple(names[codes[first[number]]] for codes, names in labels) for number in np.flatnonzero(dropped)
    )
    kept = sizes[~dropped]
    return Solution(
        levels=levels,
        suppressed_rows=suppressed,
        suppressed_classes=suppressed_classes,
        classes=int(kept.size),
        smallest_class=int(kept.min()) if kept.size else 0,
        precision_loss=node_loss,
        discernibility=int((kept.astype(np.int64) ** 2).sum()) + suppressed * counter.rows,
        nodes_tried=tried,
    )
