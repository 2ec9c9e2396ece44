"""Hashed character and word n-gram features, computed with numpy and tied to text positions.

The injection model is linear over these features. Every feature is anchored at the position where it
starts, so the score of any window of the text is a difference of prefix sums: a 10 MB text is scored
window by window in one pass, and the positions that drove a verdict map straight back to spans.

Features of a normalised text ``s`` (see :mod:`bastion.detect.normalize`), padded with one space on
each side:

- character n-grams for n in ``char_ngrams`` (default :data:`CHAR_NGRAMS`);
- word unigrams and bigrams (a word is a run of letters and digits).

Each feature is hashed into ``2**bits`` buckets with a 64-bit polynomial hash and a multiplicative mix.
A text's feature vector is ``counts / sqrt(number of features)`` (the same normalisation over any
window), so training (:func:`feature_vector`) and scoring (:func:`positional_features`) agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CHAR_NGRAMS", "PositionalFeatures", "feature_vector", "positional_features"]

#: default character n-gram lengths (a model file records the ones it was trained with)
CHAR_NGRAMS = (2, 3, 4, 5)
_BASE = np.uint64(1_000_003)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
_SALT_CHAR = np.uint64(0x165667B19E3779F9)
_SALT_WORD = np.uint64(0x27D4EB2F165667C5)
_SALT_BIGRAM = np.uint64(0x85EBCA77C2B2AE63)


@dataclass(frozen=True, slots=True)
class PositionalFeatures:
    """Feature buckets with the text position and length each one covers (in normalised characters)."""

    buckets: np.ndarray  # int64
    starts: np.ndarray  # int64, position in the unpadded normalised text (clipped to >= 0)
    lengths: np.ndarray  # int64


def _bucket(hashes: np.ndarray, salt: np.uint64, bits: int) -> np.ndarray:
    mixed = (hashes ^ salt) * _MIX
    return (mixed >> np.uint64(64 - bits)).astype(np.int64)


def _codes(text: str) -> np.ndarray:
    padded = (" " + text + " ").encode("utf-32-le", "surrogatepass")
    codes: np.ndarray = np.frombuffer(padded, dtype=np.uint32).astype(np.uint64)
    return codes


def _is_word(codes: np.ndarray) -> np.ndarray:
    letters = (codes >= 97) & (codes <= 122)
    digits = (codes >= 48) & (codes <= 57)
    other_scripts = (codes > 127) & (codes != 160)
    is_word: np.ndarray = letters | digits | other_scripts
    return is_word


def positional_features(
    text: str, bits: int, char_ngrams: tuple[int, ...] = CHAR_NGRAMS
) -> PositionalFeatures:
    """All features of the normalised ``text`` with their positions."""
    codes = _codes(text)
    length = len(codes)
    buckets: list[np.ndarray] = []
    starts: list[np.ndarray] = []
    lengths: list[np.ndarray] = []
    with np.errstate(over="ignore"):
        rolling = codes.copy()
        for n in range(2, max(char_ngrams) + 1):
            if length < n:
                break
            rolling = rolling[:-1] * _BASE + codes[n - 1 :]
            if n in char_ngrams:
                buckets.append(_bucket(rolling ^ np.uint64(n), _SALT_CHAR, bits))
                starts.append(np.arange(len(rolling), dtype=np.int64) - 1)
                lengths.append(np.full(len(rolling), n, dtype=np.int64))
        word_buckets, word_starts, word_lengths = _word_features(codes, bits)
    buckets.append(word_buckets)
    starts.append(word_starts)
    lengths.append(word_lengths)
    all_starts = np.clip(np.concatenate(starts), 0, max(len(text) - 1, 0))
    return PositionalFeatures(np.concatenate(buckets), all_starts, np.concatenate(lengths))


def _word_features(codes: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    is_word = _is_word(codes)
    edges = np.diff(is_word.astype(np.int8))
    word_starts = np.flatnonzero(edges == 1) + 1
    word_ends = np.flatnonzero(edges == -1) + 1
    if len(word_starts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    # polynomial hash of each word: prefix sums of c_i * B^i, shifted down by B^-start
    powers = np.cumprod(np.full(len(codes), _BASE, dtype=np.uint64)) // _BASE  # B^0, B^1, ...
    powers[0] = 1
    prefix = np.concatenate(([np.uint64(0)], np.cumsum(codes * powers, dtype=np.uint64)))
    inverse = np.uint64(pow(int(_BASE), -1, 2**64))
    inverse_powers = np.cumprod(np.full(len(codes), inverse, dtype=np.uint64))
    inverse_powers = np.concatenate(([np.uint64(1)], inverse_powers[:-1]))
    word_hashes = (prefix[word_ends] - prefix[word_starts]) * inverse_powers[word_starts]
    unigram = _bucket(word_hashes, _SALT_WORD, bits)
    bigram = _bucket(word_hashes[:-1] * _BIGRAM + word_hashes[1:], _SALT_BIGRAM, bits)
    starts = word_starts - 1
    return (
        np.concatenate((unigram, bigram)),
        np.concatenate((starts, starts[:-1])),
        np.concatenate((word_ends - word_starts, word_ends[1:] - word_starts[:-1])),
    )


def feature_vector(
    text: str, bits: int, char_ngrams: tuple[int, ...] = CHAR_NGRAMS
) -> tuple[np.ndarray, np.ndarray]:
    """Sparse feature vector of a whole normalised text: ``(bucket indices, values)``."""
    features = positional_features(text, bits, char_ngrams)
    if len(features.buckets) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    indices, counts = np.unique(features.buckets, return_counts=True)
    return indices, (counts / np.sqrt(len(features.buckets))).astype(np.float32)
