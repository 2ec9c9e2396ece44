"""Keyword queries: user text never becomes FTS5 syntax; German spellings; rank fusion."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.rag.fusion import fuse
from bastion.rag.keywords import MAX_QUERY_TERMS, fts_query, german_variants, words

HOSTILE = [
    "tenant_id:t2",
    "text: secret",
    "NEAR(a b)",
    '"',
    "*",
    "-secret",
    "^start",
    "OR 1=1 --",
    "'; DROP TABLE chunks; --",
    "a AND NOT b",
    "{title text}: x",
    "secret*",
    "\u202e\u200bsecret\u0301",
]
_QUOTED_TERM = re.compile(r'"[^"\s]+"\*?')


@pytest.fixture(scope="module")
def fts() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute(
        "CREATE VIRTUAL TABLE f USING fts5(title, text, variants, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '3 5')"
    )
    rows = [
        ("public", "Payment by bank transfer to our account.", ""),
        ("private", "tenant_id t2 holds a secret near a b.", ""),
        (
            "German",
            "Herr Müller zahlt an der Hauptstraße.",
            " ".join(german_variants(["müller", "hauptstraße"])),
        ),
        ("plural", "Zahlungen erfolgen monatlich.", ""),
    ]
    connection.executemany("INSERT INTO f (title, text, variants) VALUES (?, ?, ?)", rows)
    yield connection
    connection.close()


def matches(connection: sqlite3.Connection, text: str) -> list[str]:
    expression = fts_query(text)
    if expression is None:
        return []
    return [row[0] for row in connection.execute("SELECT title FROM f WHERE f MATCH ?", (expression,))]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_becomes_quoted_terms_only(hostile: str, fts: sqlite3.Connection) -> None:
    expression = fts_query(hostile)
    if expression is not None:
        assert all(_QUOTED_TERM.fullmatch(term) for term in expression.split(" OR "))
    matches(fts, hostile)  # runs without an FTS5 syntax error


def test_column_filters_are_plain_words(fts: sqlite3.Connection) -> None:
    # as syntax, "title: public" would search the title column; as words it finds rows with those words
    assert matches(fts, "title: public") == ["public"]
    assert matches(fts, "tenant_id:t2") == ["private"]


def test_umlauts_and_sharp_s_match_their_folded_forms(fts: sqlite3.Connection) -> None:
    for spelling in ("Müller", "Muller", "Mueller", "MÜLLER", "Hauptstraße", "Hauptstrasse"):
        assert matches(fts, spelling) == ["German"], spelling


def test_long_words_match_as_prefixes(fts: sqlite3.Connection) -> None:
    assert matches(fts, "Zahlung") == ["plural"]
    assert fts_query("pay") == '"pay"'  # short words match whole


def test_stop_words_are_dropped_unless_nothing_else_is_left() -> None:
    assert fts_query("How can I pay the debt?") == '"pay" OR "debt"'
    assert fts_query("Wie kann ich das zahlen?") == '"zahlen"*'
    assert fts_query("the") == '"the"'
    assert fts_query("!!! ... ???") is None
    assert fts_query("") is None


def test_variants_are_added_for_query_words_with_umlauts() -> None:
    assert fts_query("Straße") == '"straße"* OR "strasse"*'
    assert german_variants(["müller", "muller", "größe"]) == ["mueller", "groesse"]


def test_queries_are_bounded() -> None:
    expression = fts_query(" ".join(f"word{index}" for index in range(500)))
    assert expression is not None and expression.count(" OR ") == MAX_QUERY_TERMS - 1
    assert words("x" * 65 + " short") == ["short"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_fts_expression(fts: sqlite3.Connection, text: str) -> None:
    expression = fts_query(text)
    if expression is not None:
        fts.execute("SELECT count(*) FROM f WHERE f MATCH ?", (expression,)).fetchone()


def test_fusion_prefers_items_found_by_both_retrievers() -> None:
    fused = fuse({"vector": ["a", "b", "c"], "keyword": ["c", "d"]})
    assert [item for item, _, _ in fused] == ["c", "a", "b", "d"]
    assert fused[0][2] == {"vector": 3, "keyword": 1}
    assert fused[0][1] == pytest.approx(1 / 63 + 1 / 61)


def test_fusion_breaks_ties_deterministically() -> None:
    fused = fuse({"vector": ["a", "b"], "keyword": ["b", "a"]})
    assert [item for item, _, _ in fused] == ["a", "b"]
    assert fuse({}) == []
