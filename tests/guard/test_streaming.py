"""Hold-back checking of streamed output, with the real guard."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core.types import Action, Conversation, Message, Role
from bastion.guard.guard import Guard
from bastion.guard.policy import parse_policy
from bastion.guard.streaming import OutputStream
from bastion.pseudonymize import Vault

KEY = bytes(range(32))
CANARY = "CANARY-a1b2c3d4e5f6"
GUARD = Guard(parse_policy(f"defaults:\n  canaries: ['{CANARY}']\n"), master_key=KEY, vault=Vault(KEY))
ASKED = Conversation.of([Message(Role.USER, "Wie hoch ist meine Schuld?")])
BENIGN = (
    "Guten Tag! Ihre offene Forderung beträgt EUR 412,50. Sie können in bis zu sechs Raten zahlen; "
    "die erste Rate wäre am 15. Dezember fällig. Möchten Sie einen Ratenplan anlegen? "
) * 3


def stream(chunks: list[str], hold_back: int = 160, scan_every: int = 48) -> tuple[str, OutputStream]:
    output = OutputStream(
        lambda text: GUARD.check_output(ASKED, text, tenant="t"), hold_back=hold_back, scan_every=scan_every
    )
    released = []
    for chunk in chunks:
        step = output.feed(chunk)
        released.append(step.text)
        if step.stopped:
            return "".join(released), output
    released.append(output.finish().text)
    return "".join(released), output


def split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_benign_text_comes_out_unchanged_however_it_is_cut(cuts: list[int]) -> None:
    released, output = stream(split(BENIGN, cuts))
    assert released == BENIGN
    assert output.verdict is not None and output.verdict.action is Action.ALLOW


def test_a_canary_is_stopped_before_any_of_it_is_released() -> None:
    text = BENIGN[:300] + f" Interner Code: {CANARY}. " + BENIGN[:200]
    released, output = stream(split(text, list(range(0, len(text), 5))))
    assert output.stopped
    assert "CANARY" not in released and "a1b2c3" not in released
    assert released == text[: len(released)]  # only a clean prefix went out


def test_text_before_the_window_is_released_while_streaming() -> None:
    output = OutputStream(
        lambda text: GUARD.check_output(ASKED, text, tenant="t"), hold_back=160, scan_every=48
    )
    released = "".join(output.feed(piece).text for piece in split(BENIGN, list(range(0, len(BENIGN), 10))))
    assert len(released) >= len(BENIGN) - 160 - 48  # streaming, not buffering everything
    assert output.checks < len(BENIGN) // 48 + 2  # checks every 48 characters, not every delta


def test_tokens_are_restored_whole_even_when_cut_mid_token() -> None:
    verdict = GUARD.check_input(Conversation.of([Message(Role.USER, "Mail: erika@example.de")]), tenant="t")
    (token,) = verdict.pseudonyms
    answer = "Wir schreiben an " + token + ". " + BENIGN
    output = OutputStream(
        lambda text: GUARD.check_output(ASKED, text, tenant="t"),
        lambda text: GUARD.restore(text, tenant="t", only=verdict.pseudonyms),
    )
    pieces = [answer[i : i + 3] for i in range(0, len(answer), 3)]
    released = "".join(output.feed(p).text for p in pieces) + output.finish().text
    assert "erika@example.de" in released and token not in released


def test_other_peoples_data_is_masked_in_the_stream() -> None:
    text = BENIGN[:200] + " Herr Max Müller zahlt von DE44500105175407324931. " + BENIGN[:200]
    released, output = stream(split(text, list(range(0, len(text), 9))))
    assert not output.stopped
    assert "DE44500105175407324931" not in released
    assert "[PII_IBAN]" in released
