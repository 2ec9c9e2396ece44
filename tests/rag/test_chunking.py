"""Chunking: sizes, headings kept with their sections, overlap, determinism and provenance."""

from __future__ import annotations

import hashlib
import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.rag.chunking import ChunkingConfig, chunk_document, chunk_id, sections, split_text
from bastion.rag.types import Acl, Audience

from .helpers import INGESTED_AT, make_document

SENTENCE = "The payment plan runs for twelve months and can be changed once a year."


def long_section(heading: str, sentences: int) -> str:
    body = " ".join(f"{SENTENCE[:-1]} (part {index})." for index in range(sentences))
    return f"# {heading}\n\n{body}\n"


def test_markdown_headings_start_sections_without_their_markers() -> None:
    found = sections("Intro line.\n\n# Payment\n\nPay by transfer.\n\n## Contact ##\nCall us.\nOr write.")
    assert [(s.heading, s.paragraphs) for s in found] == [
        ("", ("Intro line.",)),
        ("Payment", ("Pay by transfer.",)),
        ("Contact", ("Call us.\nOr write.",)),
    ]


@pytest.mark.parametrize(
    "question",
    ["Wie kann ich zahlen?", "Q: How can I pay", "Frage: Wie zahle ich", "**Can I pay in instalments?**"],
)
def test_faq_questions_start_sections(question: str) -> None:
    found = sections(f"{question}\nBy bank transfer.\n\nWhat else?\nNothing.")
    assert found[0].heading == question.strip("*")
    assert found[0].paragraphs == ("By bank transfer.",)
    assert found[1].heading == "What else?"


def test_a_question_inside_a_paragraph_is_not_a_heading() -> None:
    found = sections("The debt is due.\nWhy pay now?\nBecause interest grows.")
    assert [s.heading for s in found] == [""]


def test_every_chunk_of_a_long_section_starts_with_its_heading() -> None:
    texts = split_text(long_section("Payment plans", 40))
    assert len(texts) > 2
    assert all(text.startswith("Payment plans\n\n") for text in texts)


def test_chunks_respect_the_size_bounds() -> None:
    config = ChunkingConfig()
    text = "\n".join(long_section(f"Section {index}", 5 + 7 * index) for index in range(6))
    texts = split_text(text, config)
    assert all(len(chunk) <= config.max_chars for chunk in texts)
    # a chunk is shorter than min_chars only where the next one would not fit beside it
    for chunk, following in itertools.pairwise(texts):
        assert len(chunk) >= config.min_chars or len(chunk) + 2 + len(following) > config.max_chars


def test_consecutive_chunks_of_a_section_overlap_by_a_sentence() -> None:
    texts = split_text(long_section("Plans", 30))
    for previous, following in itertools.pairwise(texts):
        last_sentence = previous.rsplit("(part ", 1)[1]
        assert f"(part {last_sentence}" in following


def test_small_sections_are_packed_but_never_split() -> None:
    faq = "\n\n".join(f"Question number {index}?\nAnswer number {index} is short." for index in range(12))
    texts = split_text(faq)
    assert len(texts) < 12
    for index in range(12):
        holding = [text for text in texts if f"Question number {index}?" in text]
        assert len(holding) == 1 and f"Answer number {index} is short." in holding[0]


def test_packing_can_be_switched_off() -> None:
    faq = "\n\n".join(f"Question {index}?\nAnswer {index}." for index in range(3))
    assert split_text(faq, ChunkingConfig(min_chars=0)) == [f"Question {i}?\n\nAnswer {i}." for i in range(3)]


def test_a_word_longer_than_a_chunk_is_cut_hard() -> None:
    blob = "x" * 2500
    texts = split_text(blob)
    assert "".join(texts) == blob
    assert all(len(text) <= 900 for text in texts)


def test_chunk_document_gives_ids_hashes_and_provenance() -> None:
    document = make_document(
        "letter-7", long_section("Letter", 30), tenant_id="acme", acl=Acl(Audience.DEBTOR, "D-1")
    )
    chunks = chunk_document(document, INGESTED_AT)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert [c.chunk_id for c in chunks] == [chunk_id("letter-7", i) for i in range(len(chunks))]
    for chunk in chunks:
        assert chunk.sha256 == hashlib.sha256(chunk.text.encode()).hexdigest()
        assert (chunk.tenant_id, chunk.doc_id, chunk.acl, chunk.ingested_at) == (
            "acme",
            "letter-7",
            Acl(Audience.DEBTOR, "D-1"),
            INGESTED_AT,
        )
        assert (chunk.source, chunk.title, chunk.language) == ("tests/letter-7.md", "letter-7", "en")


def test_chunking_is_deterministic() -> None:
    document = make_document("d", long_section("A", 25) + long_section("B", 3))
    assert chunk_document(document, INGESTED_AT) == chunk_document(document, INGESTED_AT)


@pytest.mark.parametrize(
    "arguments",
    [{"max_chars": 50}, {"min_chars": 1000}, {"overlap_chars": 400}, {"max_heading_chars": 0}],
)
def test_invalid_configurations_are_refused(arguments: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        ChunkingConfig(**arguments)


_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß", min_size=1, max_size=15)
_SENTENCE = st.lists(_WORD, min_size=1, max_size=30).map(lambda words: " ".join(words) + ".")
_PARAGRAPH = st.lists(_SENTENCE, min_size=1, max_size=12).map(" ".join)
_HEADING = st.lists(_WORD, min_size=1, max_size=6).map(lambda words: "# " + " ".join(words))
_BLOCK = st.one_of(_PARAGRAPH, _HEADING)


@settings(max_examples=60, deadline=None)
@given(st.lists(_BLOCK, min_size=1, max_size=15).map("\n\n".join))
def test_chunking_keeps_every_word_within_bounds(text: str) -> None:
    config = ChunkingConfig()
    texts = split_text(text, config)
    assert texts and all(chunk.strip() for chunk in texts)
    assert all(len(chunk) <= config.max_chars for chunk in texts)
    covered = set(re.findall(r"\w+", " ".join(texts)))
    assert set(re.findall(r"\w+", text)) <= covered


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=3000))
def test_chunking_never_fails_on_any_text(text: str) -> None:
    texts = split_text(text)
    assert all(0 < len(chunk) <= 900 for chunk in texts)
    assert bool(texts) == bool(text.strip())
