"""Run many regular expressions over one long text, trying each only where one of its matches can begin.

The indirect detector runs about eighty signature rules over every document. Running each with
``finditer`` over the whole text costs one pass of the regular-expression engine per rule (seconds per
megabyte). Almost every rule, though, can only match where the text starts with one of a few short
strings: ``\\b(?:dear|hey|hello) (?:ai|assistant)`` only where ``dear a``, ``hey a``, ``hello a`` ... begin.
:func:`match_starts` derives these strings from the pattern itself (from the parse tree of Python's own
``re`` module), and :class:`PatternScanner` finds the places where any of them occur for all patterns at
once, in a few array passes, then calls ``pattern.match`` only at those places.

The result is exactly what ``finditer`` returns, for every text:

- a match of a pattern at position ``p`` begins with one of the pattern's start strings (they are derived
  conservatively: character classes, optional parts and alternatives are expanded; anything too wide to
  expand ends the string early, which only makes it match more places), so every position where a match
  can begin is tried;
- ``pattern.match(text, p)`` makes the same attempt at ``p`` that ``finditer`` makes (look-behinds and
  ``\\b`` see the text before ``p``; ``^`` matches only at 0);
- positions are tried in increasing order and those inside the previous match are skipped, as ``finditer``
  does. Patterns that can match the empty string, or whose start cannot be narrowed, run with ``finditer``
  over the whole text (skipped when every match must contain one of a few strings, see
  :func:`required_strings`, and none occurs); so does a pattern whose candidates are so dense that one
  pass is cheaper.

Whitespace is compared as one space and decimal digits as ``0`` on both sides (``\\s`` and ``\\d`` then
need a single start character), so the comparison never misses a place, it may only try a few more.
"""

from __future__ import annotations

import importlib
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "MatchStarts",
    "PatternScanner",
    "canonical_character",
    "canonical_codes",
    "match_starts",
    "required_strings",
]

# the regular-expression parser of the standard library (private, typed here as Any; every use is guarded:
# a construct the walk does not know makes the pattern fall back to ``finditer``, and a test checks that
# the shipped rules are still narrowed, so a changed parse tree in a new Python shows up there)
_PARSER: Any = importlib.import_module("re._parser")
_CODES: Any = importlib.import_module("re._constants")

#: start strings are cut after this many characters (longer ones narrow the candidates more)
MAX_START_CHARS = 8
#: a pattern with more start strings than this (after trying shorter ones) is run over the whole text
MAX_STARTS = 4096
#: a character class with more characters than this ends a start string
MAX_CLASS_CHARS = 16
#: when more than one position in this many is a candidate, one ``finditer`` pass is cheaper
DENSE_CANDIDATES = 24
#: texts are searched for start strings in chunks of this many characters (bounds the memory used)
CHUNK_CHARS = 1 << 18

_SPACE = " "
_DIGIT = "0"
_PAD = 0x110000  # past the end of the text: equal to no character
_FIRST_KEY_BITS = 20
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
_ROLLING_MULTIPLIER = np.uint64(0x100000001B3)
_UINT64 = 0xFFFF_FFFF_FFFF_FFFF


class _UnsupportedError(Exception):
    """The walk met a construct it does not model, or too many start strings."""


@dataclass(frozen=True, slots=True)
class MatchStarts:
    """Every match of a pattern begins with one of ``prefixes`` (canonical characters, see the module
    docstring), or at position 0 when ``at_text_start`` (a branch that starts with ``^``)."""

    prefixes: frozenset[str]
    at_text_start: bool


def canonical_character(character: str) -> str:
    """The character as the scanner compares it: whitespace as one space, decimal digits as ``0``."""
    if character.isspace():
        return _SPACE
    if character.isdecimal():
        return _DIGIT
    return character


class _State(NamedTuple):
    """A start string being built: ``open`` while the pattern's next element still extends it."""

    text: str
    open: bool


class _StartWalk:
    """Walks a parse tree and collects the start strings, cut at ``max_chars``."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.at_text_start = False

    def sequence(self, states: frozenset[_State], items: Iterable[tuple[Any, Any]]) -> frozenset[_State]:
        for operator, argument in items:
            if not any(state.open for state in states):
                break
            states = self.element(states, operator, argument)
            if len(states) > MAX_STARTS:
                raise _UnsupportedError
        return states

    def element(self, states: frozenset[_State], operator: Any, argument: Any) -> frozenset[_State]:
        codes = _CODES
        if operator is codes.LITERAL:
            return self._extend(states, frozenset({canonical_character(chr(argument))}))
        if operator is codes.IN:
            return self._extend(states, _class_characters(argument))
        if operator is codes.CATEGORY:
            return self._extend(states, _category_characters(argument))
        if operator in (codes.NOT_LITERAL, codes.ANY, codes.GROUPREF, codes.GROUPREF_EXISTS):
            return self._extend(states, None)
        if operator is codes.SUBPATTERN:
            _group, add_flags, _del_flags, body = argument
            if add_flags & (re.IGNORECASE | re.MULTILINE):
                raise _UnsupportedError
            return self.sequence(states, body)
        if operator is codes.ATOMIC_GROUP:
            return self.sequence(states, argument)
        if operator is codes.BRANCH:
            result: set[_State] = set()
            for branch in argument[1]:
                result |= self.sequence(states, branch)
            return frozenset(result)
        if operator in (codes.MAX_REPEAT, codes.MIN_REPEAT, codes.POSSESSIVE_REPEAT):
            return self._repeat(states, *argument)
        if operator is codes.AT:
            if argument in (codes.AT_BEGINNING, codes.AT_BEGINNING_STRING):
                return self._text_start(states)
            return states  # \b, \B, $, \Z: zero width, no constraint kept
        if operator in (codes.ASSERT, codes.ASSERT_NOT):
            return states  # look-arounds: zero width, no constraint kept
        raise _UnsupportedError

    def _extend(self, states: frozenset[_State], characters: frozenset[str] | None) -> frozenset[_State]:
        result: set[_State] = set()
        for state in states:
            if not state.open:
                result.add(state)
            elif characters is None:
                result.add(_State(state.text, open=False))
            else:
                for character in characters:
                    text = state.text + character
                    result.add(_State(text, open=len(text) < self.max_chars))
        return frozenset(result)

    def _text_start(self, states: frozenset[_State]) -> frozenset[_State]:
        """``^``: an open path that has consumed nothing can only match at 0; one that has cannot match."""
        result = set()
        for state in states:
            if not state.open:
                result.add(state)
            elif not state.text:
                self.at_text_start = True
        return frozenset(result)

    def _repeat(self, states: frozenset[_State], low: int, high: int, body: Any) -> frozenset[_State]:
        current = states
        for count in range(low):
            if not any(state.open for state in current):
                return current
            if count > self.max_chars:
                # the body can match the empty string: stop here; what was collected is a prefix, but
                # more repetitions may follow it, so the next element may not extend it
                return frozenset(_State(state.text, open=False) for state in current)
            current = self.sequence(current, body)
        # the optional repetitions: extend only the open strings not seen before, until none is new
        result = set(current)
        frontier = frozenset(state for state in current if state.open)
        for _ in range(high - low):
            if not frontier:
                break
            fresh = self.sequence(frontier, body) - result
            result |= fresh
            frontier = frozenset(state for state in fresh if state.open)
            if len(result) > MAX_STARTS:
                raise _UnsupportedError
        return frozenset(result)


def _category_characters(category: Any) -> frozenset[str] | None:
    if category is _CODES.CATEGORY_SPACE:
        return frozenset({_SPACE})
    if category is _CODES.CATEGORY_DIGIT:
        return frozenset({_DIGIT})
    return None


def _class_characters(items: Sequence[tuple[Any, Any]]) -> frozenset[str] | None:
    """The canonical characters of a character class, or ``None`` when it is negated or too wide."""
    characters: set[str] = set()
    for operator, argument in items:
        if operator is _CODES.LITERAL:
            characters.add(canonical_character(chr(argument)))
        elif operator is _CODES.RANGE:
            low, high = argument
            if high - low >= MAX_CLASS_CHARS:
                return None
            characters.update(canonical_character(chr(code)) for code in range(low, high + 1))
        elif operator is _CODES.CATEGORY:
            found = _category_characters(argument)
            if found is None:
                return None
            characters |= found
        else:  # NEGATE and anything else
            return None
        if len(characters) > MAX_CLASS_CHARS:
            return None
    return frozenset(characters)


@cache
def match_starts(pattern: str, flags: int = 0) -> MatchStarts | None:
    """The strings every match of ``pattern`` (compiled with ``flags``) begins with, or ``None`` when they
    cannot be narrowed: the pattern can match the empty string, starts with a wide class, ignores case,
    is multi-line, or uses a construct not modelled.
    """
    try:
        tree = _PARSER.parse(pattern, flags)
        if tree.state.flags & (re.IGNORECASE | re.MULTILINE) or tree.getwidth()[0] == 0:
            return None
        for max_chars in range(MAX_START_CHARS, 2, -1):
            walk = _StartWalk(max_chars)
            try:
                states = walk.sequence(frozenset({_State("", open=True)}), list(tree))
            except _UnsupportedError:
                continue
            prefixes = frozenset(state.text for state in states)
            if "" in prefixes:
                return None
            return MatchStarts(prefixes, walk.at_text_start)
    except (_UnsupportedError, re.error, TypeError, ValueError, AttributeError, RecursionError):
        return None
    return None


#: at most this many strings are kept while combining the exact strings of consecutive elements
MAX_FACTOR_STRINGS = 256

_Strings = frozenset[str]


def _best(first: _Strings | None, second: _Strings | None) -> _Strings | None:
    """The more selective of two required sets: longer shortest string, then fewer strings."""
    if first is None or "" in first:
        return None if second is None or "" in second else second
    if second is None or "" in second:
        return first
    return min(first, second, key=lambda strings: (-min(map(len, strings)), len(strings)))


def _cross(first: _Strings, second: _Strings) -> _Strings | None:
    if len(first) * len(second) > MAX_FACTOR_STRINGS:
        return None
    return frozenset(left + right for left in first for right in second)


def _element_factors(operator: Any, argument: Any) -> tuple[_Strings | None, _Strings | None]:
    """(the exact strings an element matches, strings one of which each of its matches contains)."""
    codes = _CODES
    if operator is codes.LITERAL:
        literal = frozenset({chr(argument)})
        return literal, literal
    if operator is codes.IN:
        characters = _raw_class_characters(argument)
        return characters, characters
    if operator in (codes.AT, codes.ASSERT, codes.ASSERT_NOT):
        return frozenset({""}), None
    if operator is codes.SUBPATTERN:
        if argument[1] & re.IGNORECASE:
            return None, None
        return _sequence_factors(argument[3])
    if operator is codes.ATOMIC_GROUP:
        return _sequence_factors(argument)
    if operator is codes.BRANCH:
        exact: _Strings | None = frozenset()
        required: _Strings | None = frozenset()
        for branch in argument[1]:
            branch_exact, branch_required = _sequence_factors(branch)
            exact = None if exact is None or branch_exact is None else exact | branch_exact
            if required is not None:
                usable = _best(branch_required, branch_exact)
                required = None if usable is None else required | usable
        if exact is not None and len(exact) > MAX_FACTOR_STRINGS:
            exact = None
        return exact, required
    if operator in (codes.MAX_REPEAT, codes.MIN_REPEAT, codes.POSSESSIVE_REPEAT):
        low, high, body = argument
        body_exact, body_required = _sequence_factors(body)
        repeated_required = _best(body_required, body_exact) if low >= 1 else None
        if body_exact is None or high > 4:
            return None, repeated_required
        repeated: _Strings | None = frozenset({""}) if low == 0 else None
        power = frozenset({""})
        for count in range(1, high + 1):
            crossed = _cross(power, body_exact)
            if crossed is None:
                return None, repeated_required
            power = crossed
            if count >= low:
                repeated = power if repeated is None else repeated | power
        if repeated is not None and len(repeated) > MAX_FACTOR_STRINGS:
            repeated = None
        return repeated, repeated_required
    return None, None


def _sequence_factors(items: Iterable[tuple[Any, Any]]) -> tuple[_Strings | None, _Strings | None]:
    """(exact strings, required strings) of a sequence: runs of exact elements are combined."""
    required: _Strings | None = None
    run: _Strings | None = frozenset({""})
    whole_is_exact = True
    for operator, argument in items:
        exact, element_required = _element_factors(operator, argument)
        required = _best(required, element_required)
        crossed = None if exact is None or run is None else _cross(run, exact)
        if crossed is None:
            whole_is_exact = False
            required = _best(required, run)
            run = exact
        else:
            run = crossed
    required = _best(required, run)
    return (run if whole_is_exact else None), required


def _raw_class_characters(items: Sequence[tuple[Any, Any]]) -> _Strings | None:
    """The characters of a small character class as written (no categories, not negated)."""
    characters: set[str] = set()
    for operator, argument in items:
        if operator is _CODES.LITERAL:
            characters.add(chr(argument))
        elif operator is _CODES.RANGE and argument[1] - argument[0] < MAX_CLASS_CHARS:
            characters.update(chr(code) for code in range(argument[0], argument[1] + 1))
        else:
            return None
    return frozenset(characters) if len(characters) <= MAX_CLASS_CHARS else None


@cache
def required_strings(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Strings one of which every match of ``pattern`` contains (as written), or ``None`` when unknown."""
    try:
        tree = _PARSER.parse(pattern, flags)
        if tree.state.flags & re.IGNORECASE:
            return None
        return _best(None, _sequence_factors(list(tree))[1])
    except (re.error, TypeError, ValueError, AttributeError, RecursionError):
        return None


@cache
def _canonical_table() -> np.ndarray:
    """The canonical code of every code point below U+20000 (higher ones are mapped one by one)."""
    table = np.arange(0x20000, dtype=np.int64)
    every = "".join(map(chr, range(0x20000)))
    table[[code for code, character in enumerate(every) if character.isspace()]] = ord(_SPACE)
    table[[code for code, character in enumerate(every) if character.isdecimal()]] = ord(_DIGIT)
    return table


def canonical_codes(text: str) -> np.ndarray:
    """The code points of ``text`` (int64), whitespace and decimal digits made canonical."""
    if text.isascii():
        codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        return _canonical_table()[codes]
    codes32 = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    high = codes32 >= 0x20000
    codes = _canonical_table()[np.where(high, 0, codes32)]
    if high.any():
        distinct, inverse = np.unique(codes32[high], return_inverse=True)
        mapped = [ord(canonical_character(chr(code))) for code in distinct.tolist()]
        codes[high] = np.array(mapped, dtype=np.int64)[inverse]
    return codes


def _first_key_index(keys: np.ndarray) -> np.ndarray:
    """Slot of a first-characters key in a bit table (a multiplicative hash)."""
    return ((keys.astype(np.uint64) * _HASH_MULTIPLIER) >> np.uint64(64 - _FIRST_KEY_BITS)).astype(np.int64)


def _length_tag(length: int) -> int:
    """Mixed into the hash of a string of ``length`` characters, so that all lengths share one table."""
    return (length * int(_HASH_MULTIPLIER)) & _UINT64


def _string_key(string: str) -> int:
    """The key of a string: the arithmetic of the array version in ``_chunk_candidates``."""
    value = 0
    for character in string:
        value = (value * int(_ROLLING_MULTIPLIER) + ord(character)) & _UINT64
    return value ^ _length_tag(len(string))


class PatternScanner:
    """All matches of several compiled patterns in one text, each pattern tried only where it can start.

    ``scan(text, limit)`` returns, for every pattern, the first ``limit`` matches that
    ``pattern.finditer(text)`` yields, in the same order. Thread-safe: nothing is written after ``__init__``.
    """

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.patterns = tuple(patterns)
        count = len(self.patterns)
        starts = [match_starts(pattern.pattern, pattern.flags) for pattern in self.patterns]
        #: patterns that run over the whole text (when one of their required strings occurs in it)
        self.whole_text = frozenset(index for index, start in enumerate(starts) if start is None)
        self.at_text_start = frozenset(
            index for index, start in enumerate(starts) if start is not None and start.at_text_start
        )
        # the strings looked for: start strings (owner = pattern index) and, for the patterns that run over
        # the whole text, the first characters of their required strings (owner = count + pattern index)
        owners: dict[str, list[int]] = {}
        self._gated: set[int] = set()
        for index, start in enumerate(starts):
            if start is not None:
                for prefix in start.prefixes:
                    owners.setdefault(prefix, []).append(index)
                continue
            required = required_strings(self.patterns[index].pattern, self.patterns[index].flags)
            if required is not None:
                self._gated.add(index)
                for string in required:
                    canonical = "".join(map(canonical_character, string[:MAX_START_CHARS]))
                    owners.setdefault(canonical, []).append(count + index)
        # first-character tables: one per key length (1, 2 or 3 characters), absent when no string is short
        self._first_tables: dict[int, np.ndarray] = {}
        for length in (1, 2, 3):
            keys = [_first_key(string[:length]) for string in owners if min(len(string), 3) == length]
            if keys:
                table = np.zeros(1 << _FIRST_KEY_BITS, dtype=bool)
                table[_first_key_index(np.array(keys, dtype=np.int64))] = True
                self._first_tables[length] = table
        # whole strings by their keys (hash tagged with the length); strings whose keys collide share one
        # entry and its owners, so a collision can only add candidates, never lose one
        by_key: dict[int, set[int]] = {}
        for string, string_owners in owners.items():
            by_key.setdefault(_string_key(string), set()).update(string_owners)
        entries = sorted(by_key)
        self._keys = np.array(entries, dtype=np.uint64)
        self._longest = max(map(len, owners), default=0)
        self._length_tags = np.array(
            [_length_tag(length) for length in range(1, self._longest + 1)], np.uint64
        )
        # the owners of every entry, as compressed rows
        owner_lists = [sorted(by_key[entry]) for entry in entries]
        self._owner_starts = np.concatenate(([0], np.cumsum([len(row) for row in owner_lists]))).astype(
            np.int64
        )
        self._owners = np.array([owner for row in owner_lists for owner in row], dtype=np.int64)
        _canonical_table()  # built now, not while the first document waits

    def scan(self, text: str, limit: int) -> list[list[re.Match[str]]]:
        """The first ``limit`` matches of every pattern in ``text`` (``finditer`` order)."""
        found: list[list[re.Match[str]]] = [[] for _ in self.patterns]
        candidates = self._candidates(text)
        count = len(self.patterns)
        for index in self.whole_text:
            if index not in self._gated or count + index in candidates:
                found[index] = list(itertools.islice(self.patterns[index].finditer(text), limit))
        for index in self.at_text_start:
            positions = candidates.get(index, [])
            candidates[index] = positions if positions[:1] == [0] else [0, *positions]
        for index, positions in candidates.items():
            if index >= count:
                continue  # a required string of a whole-text pattern
            pattern = self.patterns[index]
            if len(positions) * DENSE_CANDIDATES > len(text):
                found[index] = list(itertools.islice(pattern.finditer(text), limit))
            else:
                found[index] = _matches_at(pattern, text, positions, limit)
        return found

    def _candidates(self, text: str) -> dict[int, list[int]]:
        """Positions where a string of some owner begins, per owner, sorted (the text in chunks, so that
        memory stays bounded)."""
        if not self._first_tables:
            return {}
        found_positions: list[np.ndarray] = []
        found_entries: list[np.ndarray] = []
        for chunk_start in range(0, len(text), CHUNK_CHARS):
            size = min(CHUNK_CHARS, len(text) - chunk_start)
            codes = canonical_codes(text[chunk_start : chunk_start + size + self._longest - 1])
            padded = np.full(size + self._longest, _PAD, dtype=np.int64)
            padded[: len(codes)] = codes
            positions, entries = self._chunk_candidates(padded, size)
            found_positions.append(positions + chunk_start)
            found_entries.append(entries)
        if not found_positions:
            return {}
        return self._by_owner(np.concatenate(found_positions), np.concatenate(found_entries))

    def _chunk_candidates(self, padded: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
        """(position, entry) of every string found at positions ``0 .. size - 1`` of ``padded``."""
        hit = np.zeros(size, dtype=bool)
        key = np.zeros(size, dtype=np.int64)
        for length in (1, 2, 3):
            key = (key << 21) | padded[length - 1 : length - 1 + size]
            table = self._first_tables.get(length)
            if table is not None:
                hit |= table[_first_key_index(key)]
        starts = np.flatnonzero(hit)
        window = padded[starts[:, None] + np.arange(self._longest)].astype(np.uint64)
        keys = np.empty_like(window)
        rolling = np.zeros(len(starts), dtype=np.uint64)
        for column in range(self._longest):
            rolling = rolling * _ROLLING_MULTIPLIER + window[:, column]  # wraps around modulo 2**64
            keys[:, column] = rolling ^ self._length_tags[column]
        flat = keys.ravel()
        slots = np.minimum(np.searchsorted(self._keys, flat), len(self._keys) - 1)
        equal = np.flatnonzero(self._keys[slots] == flat)
        return starts[equal // self._longest], slots[equal]

    def _by_owner(self, positions: np.ndarray, matched: np.ndarray) -> dict[int, list[int]]:
        """The positions of the found entries grouped by owner (sorted, without repeats)."""
        # one row per (position, owner), sorted by owner then position, without repeats
        owner_counts = self._owner_starts[matched + 1] - self._owner_starts[matched]
        total = int(owner_counts.sum())
        if not total:
            return {}
        first_rows = np.repeat(self._owner_starts[matched], owner_counts)
        offsets = np.arange(total) - np.repeat(np.cumsum(owner_counts) - owner_counts, owner_counts)
        owners = self._owners[first_rows + offsets]
        positions = np.repeat(positions, owner_counts)
        order = np.lexsort((positions, owners))
        owners, positions = owners[order], positions[order]
        keep = np.ones(total, dtype=bool)
        keep[1:] = (owners[1:] != owners[:-1]) | (positions[1:] != positions[:-1])
        owner_list, position_list = owners[keep].tolist(), positions[keep].tolist()
        bounds = [0, *(np.flatnonzero(np.diff(owners[keep])) + 1).tolist(), len(owner_list)]
        return {owner_list[start]: position_list[start:end] for start, end in itertools.pairwise(bounds)}


def _first_key(string: str) -> int:
    """The first-characters key of a string of at most three characters (21 bits per character)."""
    key = 0
    for character in string:
        key = (key << 21) | ord(character)
    return key


def _matches_at(pattern: re.Pattern[str], text: str, positions: list[int], limit: int) -> list[re.Match[str]]:
    """``finditer`` restricted to the positions where a match can begin (sorted)."""
    found: list[re.Match[str]] = []
    resume = 0
    attempt = pattern.match
    for position in positions:
        if position < resume:
            continue
        match = attempt(text, position)
        if match is not None:
            found.append(match)
            if len(found) >= limit:
                break
            resume = match.end()
    return found
