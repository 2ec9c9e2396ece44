"""The secrets detector on any text: properties, huge inputs and inputs built to make regexes backtrack."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.detect.secrets import SecretsDetector, load_rules
from bastion.detect.secrets.checks import shannon_entropy

DETECTOR = SecretsDetector()
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _github_token(body: str) -> str:
    number, digits = zlib.crc32(body.encode()), ""
    while number:
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
    return "ghp_" + body + digits.rjust(6, "0")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2_000))
def test_never_raises_and_spans_stay_in_bounds(text: str) -> None:
    for detection in DETECTOR.detect(text):
        assert detection.span is not None
        assert 0 <= detection.span.start < detection.span.end <= len(text)
        assert detection.type in SecretsDetector.types


_SECRETISH = st.sampled_from(
    [
        "password",
        "Passwort",
        "token",
        "api_key",
        "secret",
        "=",
        ": ",
        '"',
        "sk-",
        "ghp_",
        "eyJ",
        "AKIA",
        "://",
        "@",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "\\n",
        "Bearer ",
        "Basic ",
        ";Pwd=",
        "\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_SECRETISH, st.text(alphabet="aZ09+/=_-.: ", max_size=40)), max_size=40))
def test_secret_shaped_noise_never_breaks_the_detector(pieces: list[str]) -> None:
    text = "".join(pieces)
    for detection in DETECTOR.detect(text):
        assert detection.span is not None and 0 <= detection.span.start < detection.span.end <= len(text)


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.text(max_size=200),
    # a real token body: random-looking (the rule requires 3.5 bits per character; a body of mostly zeros
    # such as "000000000000000000123456789ABC" is a placeholder and rightly not reported)
    body=st.text(alphabet=_BASE62, min_size=30, max_size=30).filter(lambda b: shannon_entropy(b) >= 4.0),
    suffix=st.text(max_size=200),
)
def test_a_token_between_separators_is_found_with_its_exact_span(prefix: str, body: str, suffix: str) -> None:
    token = _github_token(body)
    text = f"{prefix} {token} {suffix}"
    spans = [d.span.of(text) for d in DETECTOR.detect(text) if d.type == "GITHUB_TOKEN" and d.span]
    assert token in spans


def test_odd_unicode_and_binary_looking_text() -> None:
    for text in ["\ud800\udfff" * 100, "\x00" * 1000, "ﬁ" * 500 + " password: Hx7!pQ2vLm9z", "\u202e" * 100]:
        for detection in DETECTOR.detect(text):
            assert detection.span is not None and detection.span.end <= len(text)
    [found] = DETECTOR.detect("ﬁ" * 500 + " password: Hx7!pQ2vLm9z")
    assert found.type == "GENERIC_SECRET"


@pytest.mark.slow
def test_ten_megabytes_of_config_and_prose_finds_every_planted_secret() -> None:
    token = _github_token("xY9B4bZWOz648JJnUfd7UACNWiP3sF")
    block = (
        "2024-05-01 12:00:01 INFO request_id=3f2b8c1e-6a4d-4e8b-9c1f-2d7a5b9e0c34 GET /v1/cases 200\n"
        "Sehr geehrte Frau Müller, bitte setzen Sie Ihr Passwort im Portal zurück. sha256=e3b0c44298fc1c149\n"
    )
    planted = f"\nGITHUB_TOKEN={token}\n"
    chunk = block * 500 + planted
    text = (chunk * (10_000_000 // len(chunk) + 1))[:10_000_000]
    expected = text.count(token)
    found = [d for d in DETECTOR.detect(text) if d.flagged]
    assert len(found) == expected > 0
    assert all(d.span is not None and d.span.of(text) == token for d in found)


ADVERSARIAL_PIECES = [
    "sk-",
    "eyJ",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----\nAAAA",
    "password=",
    "password: ",
    "a://b:",
    ":",
    "1",
    "M",
    "A",
    "xoxb-1-",
    'password"',
    "key ",
    "Bearer ",
    "AKIA",
    "ghp_",
    '"private_key": "-----BEGIN PRIVATE KEY-----',
    "8Q~",
    "12345678:",
    "--password ",
    "passwordpassword",
    "mongodb+srv://u:",
    "Password=;",
    "AccountKey=",
    "\\n",
    '"auth": "',
    "a:1:b:c:",
    "aws secret ",
    "sk-ant-api03-",
    "Passwort lautet ",
    "token is ",
]


@pytest.mark.slow
def test_ten_megabytes_built_to_trigger_backtracking_finish() -> None:
    share = 10_000_000 // len(ADVERSARIAL_PIECES)
    text = "".join((piece * (share // len(piece) + 1))[:share] for piece in ADVERSARIAL_PIECES)
    for detection in DETECTOR.detect(text):
        assert detection.span is not None and detection.span.end <= len(text)


@pytest.mark.slow
@pytest.mark.parametrize("rule", load_rules(), ids=[rule.id for rule in load_rules()])
def test_each_rule_stays_linear_on_its_own_examples_repeated(rule: object) -> None:
    for example in rule.examples.match:  # type: ignore[attr-defined]
        glued = (example * (300_000 // len(example) + 1))[:300_000]
        DETECTOR.candidates(glued, frozenset({rule.id}))  # type: ignore[attr-defined]
