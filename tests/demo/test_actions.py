"""The textual action protocol: what the model writes, what the app accepts."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.demo.actions import MAX_ACTIONS, CloseCase, LookupCase, UpdatePaymentPlan, parse_actions


def test_an_action_line_is_parsed_and_removed_from_the_text() -> None:
    text, calls = parse_actions('Let me check.\nACTION: lookup_case {"case_id": "c-000123"}\nOne moment.')
    assert text == "Let me check.\nOne moment."
    assert len(calls) == 1
    assert calls[0].name == "lookup_case"
    assert calls[0].arguments == LookupCase(case_id="c-000123")
    assert calls[0].id.startswith("call_")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('action: CLOSE_CASE {"case_id": "c-1", "reason": "paid"}', CloseCase(case_id="c-1", reason="paid")),
        (
            '- ACTION:update_payment_plan {"case_id": "c-2", "monthly_eur": 25.5, "installments": 4} thanks',
            UpdatePaymentPlan(case_id="c-2", monthly_eur=25.5, installments=4),
        ),
        ('`ACTION: lookup_case {"case_id": " c-3 "}`', LookupCase(case_id="c-3")),
    ],
)
def test_variants_the_model_writes_are_understood(line: str, expected: object) -> None:
    _, calls = parse_actions(line)
    assert calls[0].arguments == expected


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('ACTION: delete_database {"all": true}', "unknown tool"),
        ("ACTION: lookup_case case c-1", "not a JSON object"),
        ('ACTION: lookup_case {"case_id": "c-1"', "not a JSON object"),
        ('ACTION: lookup_case {"case_id": "c-1", "tenant_id": "t-other"}', "tenant_id"),
        (
            'ACTION: update_payment_plan {"case_id": "c-1", "monthly_eur": -5, "installments": 3}',
            "monthly_eur",
        ),
        ('ACTION: send_email {"to": "not-an-address", "subject": "x", "body": "y"}', "to"),
        ('ACTION: lookup_case {"case_id": "' + "x" * 41 + '"}', "case_id"),
    ],
)
def test_invalid_calls_carry_an_error_and_no_arguments(line: str, error: str) -> None:
    text, calls = parse_actions(line)
    assert text == ""
    assert len(calls) == 1
    assert not calls[0].valid
    assert error in calls[0].error


def test_ids_are_stable_and_distinct() -> None:
    answer = 'ACTION: lookup_case {"case_id": "c-1"}\nACTION: lookup_case {"case_id": "c-2"}'
    first = [c.id for c in parse_actions(answer)[1]]
    assert first == [c.id for c in parse_actions(answer)[1]]
    assert len(set(first)) == 2


def test_at_most_max_actions_are_returned_but_all_lines_are_removed() -> None:
    answer = "\n".join(f'ACTION: lookup_case {{"case_id": "c-{i}"}}' for i in range(MAX_ACTIONS + 3))
    text, calls = parse_actions(answer)
    assert len(calls) == MAX_ACTIONS
    assert text == ""


def test_text_without_actions_is_returned_unchanged() -> None:
    answer = "Sie können per Überweisung zahlen.\nDie IBAN steht im Schreiben."
    assert parse_actions(answer) == (answer, [])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_and_leaves_no_action_behind(text: str) -> None:
    remaining, calls = parse_actions(text)
    assert len(calls) <= MAX_ACTIONS
    assert parse_actions(remaining) == (remaining, [])
