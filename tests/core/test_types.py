from __future__ import annotations

import pytest

from bastion.core.types import Conversation, Detection, Message, Role, Severity, Span


def test_span_rejects_inverted_and_negative_ranges() -> None:
    with pytest.raises(ValueError):
        Span(5, 2)
    with pytest.raises(ValueError):
        Span(-1, 2)


def test_span_slices_and_overlaps() -> None:
    assert Span(6, 11).of("hello world") == "world"
    assert Span(0, 5).overlaps(Span(4, 8))
    assert not Span(0, 4).overlaps(Span(4, 8))
    assert len(Span(2, 7)) == 5


def test_detection_score_must_be_a_probability() -> None:
    with pytest.raises(ValueError):
        Detection("pii", "EMAIL", 1.5, True)


def test_detection_json_shape_matches_the_scan_contract() -> None:
    detection = Detection("pii", "IBAN", 0.99, True, Span(3, 25), "IBAN (mod-97 valid)")
    assert detection.to_dict() == {
        "detector": "pii",
        "type": "IBAN",
        "score": 0.99,
        "flagged": True,
        "start": 3,
        "end": 25,
        "explanation": "IBAN (mod-97 valid)",
    }
    assert Detection("injection", "prompt_injection", 0.1, False).to_dict()["start"] is None


def test_severity_ranks_are_ordered() -> None:
    ranks = [s.rank for s in (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)]
    assert ranks == sorted(ranks) and len(set(ranks)) == 5


def test_conversation_is_immutable_and_queries_by_role() -> None:
    conversation = Conversation.of([Message(Role.SYSTEM, "rules"), Message(Role.USER, "hi")])
    longer = conversation.append(Message(Role.ASSISTANT, "hello"))
    assert len(conversation) == 2 and len(longer) == 3
    assert longer.last(Role.USER) == Message(Role.USER, "hi")
    assert longer.by_role(Role.SYSTEM)[0].content == "rules"
    assert Conversation().last() is None


def test_severity_maps_to_sarif_level_and_score_in_order() -> None:
    from bastion.core.types import Severity

    ordered = sorted(Severity, key=lambda s: s.rank)
    assert [s.sarif_level for s in ordered] == ["note", "note", "warning", "error", "error"]
    scores = [s.security_score for s in ordered]
    assert scores == sorted(scores)
    assert Severity.CRITICAL.security_score >= 9.0 and Severity.INFO.security_score == 0
