"""Properties that hold for any text and any valid spans: round trip, idempotence, never raising."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bastion.core.types import Detection, Span
from bastion.pseudonymize import Pseudonymizer, Vault, find_tokens, mask, normalize_value, type_label
from bastion.pseudonymize._tokens import token_candidates

KEY = bytes(range(32))
VAULT = Vault(KEY)
PSEUDONYMIZER = Pseudonymizer(KEY, "properties", vault=VAULT)

#: every character (lone surrogates and control characters included), with extra token-like pieces
ANY_TEXT = st.lists(
    st.one_of(
        st.text(st.characters(codec=None, categories=None), max_size=20),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.sampled_from(
            ["PERSON", "_", "\\", "A", "0123456789abcdef", " ", "\u200b", "ß", "KUNDENNUMMER" * 3]
        ),
    ),
    max_size=30,
).map("".join)
TYPES = st.sampled_from(["PERSON", "IBAN", "EMAIL", "date of birth", "", "Straße 2", "x-y_z", "123"])


@st.composite
def text_with_detections(draw: st.DrawFn, *, disjoint: bool) -> tuple[str, list[Detection]]:
    text = draw(ANY_TEXT)
    detections: list[Detection] = []
    if disjoint:
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12, unique=True)))
        for start, end in zip(cuts[::2], cuts[1::2], strict=False):
            detections.append(Detection("pii", draw(TYPES), draw(st.floats(0, 1)), True, Span(start, end)))
    else:
        for _ in range(draw(st.integers(0, 12))):
            start = draw(st.integers(0, len(text)))
            end = draw(st.integers(start, len(text)))
            flagged = draw(st.booleans())
            detections.append(Detection("pii", draw(TYPES), draw(st.floats(0, 1)), flagged, Span(start, end)))
    return text, detections


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text_with_detections(disjoint=False))
def test_never_raises_and_replacements_are_consistent(case: tuple[str, list[Detection]]) -> None:
    text, detections = case
    result = PSEUDONYMIZER.pseudonymize(text, detections)
    sources = [r.source for r in result.replacements]
    assert all(not a.overlaps(b) for a, b in itertools.pairwise(sources))
    assert all(r.target.of(result.text) == r.token for r in result.replacements)
    assert all(r.source.end <= len(text) for r in result.replacements)
    masked = mask(text, detections)
    assert isinstance(masked, str)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text_with_detections(disjoint=True))
def test_round_trip_restores_every_replaced_value(case: tuple[str, list[Detection]]) -> None:
    text, detections = case
    assume(not list(find_tokens(text)))
    result = PSEUDONYMIZER.pseudonymize(text, detections)
    # a token keeps the first form of its value; equivalent forms (case, spacing) come back in that form
    first_form: dict[str, str] = {}
    expected_parts: list[str] = []
    position = 0
    for replacement in result.replacements:
        value = replacement.source.of(text)
        first_form.setdefault(replacement.token, VAULT.get("properties", replacement.token))
        expected_parts += [text[position : replacement.source.start], first_form[replacement.token]]
        position = replacement.source.end
    expected = "".join([*expected_parts, text[position:]])
    assert PSEUDONYMIZER.restore(result.text, only=result.tokens) == expected
    for replacement in result.replacements:
        label = type_label(replacement.type)
        value = replacement.source.of(text)
        assert normalize_value(label, first_form[replacement.token]) == normalize_value(label, value)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(text_with_detections(disjoint=True))
def test_round_trip_is_exact_when_values_are_written_one_way(case: tuple[str, list[Detection]]) -> None:
    text, detections = case
    assume(not list(find_tokens(text)))
    pseudonymizer = Pseudonymizer(KEY, "exact", vault=Vault(KEY))
    result = pseudonymizer.pseudonymize(text, detections)
    forms: dict[str, set[str]] = {}
    for replacement in result.replacements:
        forms.setdefault(replacement.token, set()).add(replacement.source.of(text))
    assume(all(len(values) == 1 for values in forms.values()))
    assert pseudonymizer.restore(result.text, only=result.tokens) == text


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(text_with_detections(disjoint=False), st.data())
def test_pseudonymizing_the_output_again_changes_nothing(
    case: tuple[str, list[Detection]], data: st.DataObject
) -> None:
    text, detections = case
    first = PSEUDONYMIZER.pseudonymize(text, detections)
    # any detection that touches a token, as a detector run on the output might report
    again: list[Detection] = []
    for replacement in first.replacements:
        start = data.draw(st.integers(max(replacement.target.start - 3, 0), replacement.target.end - 1))
        end = data.draw(st.integers(max(start + 1, replacement.target.start + 1), len(first.text)))
        again.append(Detection("pii", data.draw(TYPES), 1.0, True, Span(start, end)))
    second = PSEUDONYMIZER.pseudonymize(first.text, again)
    assert second.text == first.text


@settings(max_examples=100)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=2, max_size=60, unique=True), TYPES)
def test_different_values_get_different_tokens(values: list[str], kind: str) -> None:
    label = type_label(kind)
    by_identity = {normalize_value(label, value): PSEUDONYMIZER.token(kind, value) for value in values}
    assert len(set(by_identity.values())) == len(by_identity)


@settings(max_examples=200)
@given(ANY_TEXT)
def test_restore_never_raises_on_any_text(text: str) -> None:
    report = PSEUDONYMIZER.restore_with_report(text)
    if not list(find_tokens(text)):
        assert report.text == text
    assert set(report.restored) <= {token for _, token in _readings(text)}


def _readings(text: str) -> list[tuple[str, str]]:
    return [reading for start, end in find_tokens(text) for reading in token_candidates(text[start:end])]
