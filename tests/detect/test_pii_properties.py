"""Properties of the PII detector on arbitrary and hostile input: it never raises, spans stay in the
text and never overlap, and huge adversarial texts finish (linear-time patterns)."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core.errors import InputError
from bastion.detect.pii import CustomPattern, PIIDetector

DETECTOR = PIIDetector(custom_patterns=[CustomPattern("CASE_NUMBER", r"AZ-\d{4}-\d{6}")])

# text that hits the recognisers often: digits, separators, capitalised words, trigger words
PII_ALPHABET = st.sampled_from(
    [
        *"0123456789 .,:;-/+()@\n\tDEATGBIBANXabcdefghijklmnopqrstuvwxyzäöüßÄÖÜıİŞğ",
        "Herr ",
        "Frau ",
        "Mr ",
        "geb. ",
        "DOB ",
        "Straße ",
        "Road ",
        "Maria ",
        "Yılmaz ",
        "Tel. ",
        "+49 ",
        "BIC ",
    ]
)
pii_like_text = st.lists(PII_ALPHABET, max_size=200).map("".join)


def check(text: str) -> None:
    detections = DETECTOR.detect(text)
    previous_end = -1
    for detection in detections:
        assert detection.span is not None
        assert 0 <= detection.span.start < detection.span.end <= len(text)
        assert detection.span.start >= previous_end, "spans overlap"
        previous_end = detection.span.end
        assert 0.0 <= detection.score <= 1.0
        assert detection.score >= DETECTOR.floor
        assert detection.flagged == (detection.score >= DETECTOR.threshold)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_unicode_text(text: str) -> None:
    check(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pii_like_text)
def test_pii_like_text(text: str) -> None:
    check(text)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(["\ud800", "\udfff"])))
def test_lone_surrogates_and_odd_unicode(text: str) -> None:
    check(text)


def test_detection_is_deterministic_and_thread_safe() -> None:
    sentence = (
        "Frau Ayşe Yılmaz, IBAN DE89 3704 0044 0532 0130 00, Tel. 0341 5567823, Musterstraße 1, 10115 Berlin."
    )
    text = (sentence + " ") * 20
    expected = DETECTOR.detect(text)
    results: list[object] = []

    def work() -> None:
        for _ in range(5):
            results.append(DETECTOR.detect(text))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert all(result == expected for result in results)


def test_non_string_and_too_long_input_are_input_errors() -> None:
    with pytest.raises(InputError):
        DETECTOR.detect(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        PIIDetector(max_chars=10).detect("x" * 11)


def test_empty_and_whitespace() -> None:
    assert DETECTOR.detect("") == []
    assert DETECTOR.detect(" \n\t " * 100) == []


TEN_MB = 10_000_000
#: adversarial shapes: quadratic behaviour would already take hours at this size
TWO_MB = 2_000_000

ADVERSARIAL = {
    "one long word": "a" * TWO_MB,
    "one long number": "1" * TWO_MB,
    "digit groups": "1234 " * (TWO_MB // 5),
    "dotted digits": "1." * (TWO_MB // 2),
    "hex and colons": "ab:" * (TWO_MB // 3),
    "dotted local part": "a." * (TWO_MB // 2) + "@",
    "capitalised hyphen chain": "Ab-" * (TWO_MB // 3),
    "capitalised words": "Herr Maria Ab " * (TWO_MB // 14),
    "plus and digits": "+49 " * (TWO_MB // 4),
    "number and capitalised words": "12 Aa Bb Cc " * (TWO_MB // 12),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_megabytes_of_adversarial_text(name: str) -> None:
    text = ADVERSARIAL[name]
    assert len(text) >= TWO_MB - 14
    for detection in DETECTOR.detect(text):
        assert detection.type in ("PERSON", "ADDRESS")  # names and streets may exist; no structured type


@pytest.mark.slow
def test_ten_megabytes_of_realistic_text() -> None:
    sentence = (
        "Sehr geehrte Frau Yılmaz, Ihre IBAN DE89 3704 0044 0532 0130 00, Tel. 0341 5567823, "
        "geb. 03.11.1962, Musterstraße 12a, 10115 Berlin, a.b@example.de. "
    )
    text = sentence * (TEN_MB // len(sentence) + 1)
    detections = PIIDetector().detect(text)
    per_sentence = PIIDetector().detect(sentence)
    assert len(per_sentence) == 6
    assert len(detections) == len(per_sentence) * (TEN_MB // len(sentence) + 1)
