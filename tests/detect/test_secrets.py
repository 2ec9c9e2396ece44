"""The secrets detector: rule examples, spans, look-alikes, policies and the checks behind them."""

from __future__ import annotations

import base64
import json
import re
import zlib

import pytest

from bastion.core.errors import ConfigError
from bastion.core.types import Policy
from bastion.detect.registry import detectors
from bastion.detect.secrets import SecretsDetector, load_rules
from bastion.detect.secrets.checks import (
    Check,
    character_classes,
    is_iban,
    is_sequential,
    is_uuid,
    name_parts,
    shannon_entropy,
)
from bastion.detect.secrets.rules import parse_rules

RULES = load_rules()
DETECTOR = SecretsDetector()

MATCH_EXAMPLES = [(rule.id, text) for rule in RULES for text in rule.examples.match]
NO_MATCH_EXAMPLES = [(rule.id, text) for rule in RULES for text in rule.examples.no_match]


def _github_token(body: str, prefix: str = "ghp_") -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number, digits = zlib.crc32(body.encode()), ""
    while number:
        number, remainder = divmod(number, 62)
        digits = alphabet[remainder] + digits
    return prefix + body + digits.rjust(6, "0")


def _jwt(header: dict[str, object], payload: dict[str, object]) -> str:
    def encode(part: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")

    return f"{encode(header)}.{encode(payload)}.Kv3azKgaS_m_x-SHuKBD-vok_nPTmZYl2dVAMH2vWD6"


# -- the rule catalogue ----------------------------------------------------------------------------


@pytest.mark.parametrize(("rule_id", "text"), MATCH_EXAMPLES)
def test_rule_finds_its_match_examples(rule_id: str, text: str) -> None:
    found = DETECTOR.candidates(text, frozenset({rule_id}))
    assert found, f"{rule_id} misses its example"


@pytest.mark.parametrize(("rule_id", "text"), NO_MATCH_EXAMPLES)
def test_rule_ignores_its_no_match_examples(rule_id: str, text: str) -> None:
    assert DETECTOR.candidates(text, frozenset({rule_id})) == []


def test_every_rule_type_is_declared_and_every_declared_type_has_a_rule() -> None:
    rule_types = {rule.type for rule in RULES}
    assert rule_types == set(SecretsDetector.types)


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES]
    assert len(ids) == len(set(ids))


def _unbounded_repeats(pattern: str) -> list[str]:
    """Repeats without an upper bound (``*``, ``+``, ``{n,}``) anywhere in a pattern."""
    parser = re._parser  # type: ignore[attr-defined]
    found: list[str] = []

    def walk(items: object) -> None:
        for op, argument in items:  # type: ignore[attr-defined]
            if op in (parser.MAX_REPEAT, parser.MIN_REPEAT, parser.POSSESSIVE_REPEAT):
                low, high, body = argument
                if high == parser.MAXREPEAT:
                    found.append(f"{op} {{{low},}}")
                walk(body)
            elif op is parser.SUBPATTERN:
                walk(argument[-1])
            elif op is parser.BRANCH:
                for branch in argument[1]:
                    walk(branch)
            elif op in (parser.ASSERT, parser.ASSERT_NOT):
                walk(argument[1])
            elif op is parser.ATOMIC_GROUP:
                walk(argument)

    walk(parser.parse(pattern))
    return found


@pytest.mark.parametrize("rule", RULES, ids=[rule.id for rule in RULES])
def test_rule_patterns_only_use_bounded_repeats(rule: object) -> None:
    assert _unbounded_repeats(rule.pattern.pattern) == []  # type: ignore[attr-defined]


def test_the_bounded_repeat_check_itself_catches_unbounded_patterns() -> None:
    assert (
        _unbounded_repeats(r"sk-[a-z]+")
        and _unbounded_repeats(r"(?:a|b{2,})")
        and not _unbounded_repeats(r"a{1,9}")
    )


def test_rule_file_errors_name_the_file_and_field() -> None:
    good = {
        "id": "demo-rule",
        "type": "DEMO",
        "description": "demo",
        "regex": "demo-[0-9]{4}",
        "confidence": 0.9,
        "examples": {"match": ["demo-1234"]},
    }
    assert parse_rules({"rules": [good]}, "demo.yaml")[0].id == "demo-rule"
    for broken in (
        {**good, "validator": "no_such_check"},
        {**good, "regex": "demo-("},
        {**good, "keywords": ["Upper"]},
        {**good, "unknown_field": 1},
        {**good, "id": "Not An Id"},
    ):
        with pytest.raises(ConfigError, match=r"demo\.yaml"):
            parse_rules({"rules": [broken]}, "demo.yaml")


def test_detector_is_registered_under_its_id() -> None:
    assert isinstance(detectors.create("secrets"), SecretsDetector)


# -- spans ------------------------------------------------------------------------------------------

GITHUB_TOKEN = _github_token("xY9B4bZWOz648JJnUfd7UACNWiP3sF")
JWT = _jwt({"alg": "HS256", "typ": "JWT"}, {"sub": "4711", "tenant": "acme"})
PEM_BODY = (
    "CMZCY7Bvqiy8CsT07Lq8TDIWG2x9aJTFMP9+2kUtMXhkPrSbbAjLGmsDx5StAZvl\n"
    "Mz/Bk4opH1Dr8/h97s+F/vauP7/L7V21jxUdcfQm9+seB1qRmUR8AK3R2GgLLT/Z"
)
PEM = f"-----BEGIN EC PRIVATE KEY-----\n{PEM_BODY}\n-----END EC PRIVATE KEY-----"

SPAN_CASES = [
    ("export GITHUB_TOKEN=" + GITHUB_TOKEN, "GITHUB_TOKEN", GITHUB_TOKEN),
    ("aws_access_key_id = AKIAUJZDEGXDNCF32EPF\n", "AWS_ACCESS_KEY", "AKIAUJZDEGXDNCF32EPF"),
    (
        "aws_secret_access_key = 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",
        "AWS_SECRET_KEY",
        "nyVmihA+2O76UMFxFkM+R5Kjp1vRt/1fjORS+6il",
    ),
    (
        'client = OpenAI(api_key="sk-proj-OjE2jBMptUsGr7CmY_uCu3ZR1zTOlUcR64cXQLioDnkH")',
        "OPENAI_API_KEY",
        "sk-proj-OjE2jBMptUsGr7CmY_uCu3ZR1zTOlUcR64cXQLioDnkH",
    ),
    ("Authorization: Bearer " + JWT, "JWT", JWT),
    ("DATABASE_URL=postgres://app:Hx7!pQ2vLm9z@db.internal:5432/ledger", "PASSWORD_IN_URL", "Hx7!pQ2vLm9z"),
    ("REDIS_URL=redis://:N8vq2LkP7xZt@cache:6379/0", "PASSWORD_IN_URL", "N8vq2LkP7xZt"),
    ("Server=sql01;Database=Ledger;User Id=sa;Password=R3d!Fox2024;", "CONNECTION_STRING", "R3d!Fox2024"),
    ("jdbc:postgresql://db:5432/x?user=app&password=Hx7pQ2vLm9z", "CONNECTION_STRING", "Hx7pQ2vLm9z"),
    ('password: "Sommer2024!Kanzlei"', "GENERIC_SECRET", "Sommer2024!Kanzlei"),
    ("DB_PASSWORD=Hx7!pQ2vLm9z\nLOG_LEVEL=info", "GENERIC_SECRET", "Hx7!pQ2vLm9z"),
    ("Das Passwort lautet Kx9#mPq2Lw, bitte nicht weitergeben.", "GENERIC_SECRET", "Kx9#mPq2Lw"),
    ("Passwort: Wint3r!Mahnung.", "GENERIC_SECRET", "Wint3r!Mahnung"),
    ("Das Einmalpasswort: Tz8#kLq2vW", "GENERIC_SECRET", "Tz8#kLq2vW"),
    ('os.environ["KEYCLOAK_ADMIN_PASSWORD"] = "GMGiiq^K_k1^Jyx"', "GENERIC_SECRET", "GMGiiq^K_k1^Jyx"),
    ("jwtSigningKey: q8Z2vLx7Tn4Kp1Rw6Yb3Jc5Hd0Gs9Fa", "GENERIC_SECRET", "q8Z2vLx7Tn4Kp1Rw6Yb3Jc5Hd0Gs9Fa"),
    (PEM + "\n", "PRIVATE_KEY", PEM),
    (
        "alerts: https://hooks.slack.com/services/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",
        "SLACK_WEBHOOK",
        "https://hooks.slack.com/services/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",
    ),
    ("stripe.api_key = 'sk_live_Ab3XZxPmzUzn8aB5kBh0fzK4'", "STRIPE_KEY", "sk_live_Ab3XZxPmzUzn8aB5kBh0fzK4"),
    (
        "AccountName=x;AccountKey=iA4uoRgnatmUdjAWtGSU8po+799NksnRH9ucAUsdMlHUvTCQCyEZDz/TddJ8HyS5SUkCnD8zRA9a9"
        "SkpXz9w3Q==;EndpointSuffix=core.windows.net",
        "AZURE_STORAGE_KEY",
        "iA4uoRgnatmUdjAWtGSU8po+799NksnRH9ucAUsdMlHUvTCQCyEZDz/TddJ8HyS5SUkCnD8zRA9a9SkpXz9w3Q==",
    ),
    (
        "Authorization: Basic c3ZjX2JpbGxpbmc6VHo4I2tMcTIhdldw",
        "BASIC_AUTH",
        "c3ZjX2JpbGxpbmc6VHo4I2tMcTIhdldw",
    ),
    (
        "ANTHROPIC_API_KEY=sk-ant-api03-" + "wIScGebcy8F5n3-YNBDRzrZSgqbjG3uhkWKFLf6xuI5aHUQPFeNB" + "AA",
        "ANTHROPIC_API_KEY",
        "sk-ant-api03-wIScGebcy8F5n3-YNBDRzrZSgqbjG3uhkWKFLf6xuI5aHUQPFeNBAA",
    ),
]


@pytest.mark.parametrize(("text", "secret_type", "value"), SPAN_CASES, ids=[case[1] for case in SPAN_CASES])
def test_span_is_the_secret_value_only(text: str, secret_type: str, value: str) -> None:
    flagged = [d for d in DETECTOR.detect(text) if d.flagged]
    assert [(d.type, d.span.of(text)) for d in flagged if d.span] == [(secret_type, value)]


def test_explanations_name_the_rule_never_the_value() -> None:
    for text, _type, value in SPAN_CASES:
        for detection in DETECTOR.detect(text):
            assert value not in detection.explanation
            assert "rule " in detection.explanation


def test_overlapping_rules_keep_the_most_specific_type() -> None:
    text = f"GITHUB_TOKEN={GITHUB_TOKEN}\ngit clone https://oauth2:{GITHUB_TOKEN}@github.com/acme/app.git"
    assert {d.type for d in DETECTOR.detect(text)} == {"GITHUB_TOKEN"}


def test_truncated_and_json_escaped_private_keys() -> None:
    truncated = "here is the key\n-----BEGIN OPENSSH PRIVATE KEY-----\n" + PEM_BODY[:90]
    [detection] = DETECTOR.detect(truncated)
    assert detection.type == "PRIVATE_KEY" and detection.span is not None
    assert detection.span.of(truncated).endswith(PEM_BODY[:90].rstrip())
    escaped = (
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\n'
        + PEM_BODY.replace("\n", "\\n")
        + ('\\n-----END PRIVATE KEY-----\\n", "type": "service_account"}')
    )
    [gcp] = DETECTOR.detect(escaped)
    assert gcp.type == "GCP_SERVICE_ACCOUNT_KEY" and gcp.span is not None
    assert gcp.span.of(escaped).startswith("-----BEGIN PRIVATE KEY-----")
    assert gcp.span.of(escaped).endswith("-----END PRIVATE KEY-----")


# -- look-alikes --------------------------------------------------------------------------------------

LOOK_ALIKES = [
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b",
    "request_id=3f2b8c1e-6a4d-4e8b-9c1f-2d7a5b9e0c34 status=200",
    'idempotency_key: "3f2b8c1e-6a4d-4e8b-9c1f-2d7a5b9e0c34"',
    "api_key: <your-api-key>",
    "password: changeme",
    "token: ${GITHUB_TOKEN}",
    'secret: "{{ secret }}"',
    "password = '***'",
    "OPENAI_API_KEY=sk-...",
    "OPENAI_API_KEY=sk-proj-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "stripe.api_key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc'",
    "OPENAI_API_KEY=sk-example-dummy-key-please-replace-me-0000000000",
    "avatar: data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAC"
    "hwGA60e6kg",
    '"account_key": "DE89370400440532013000"',
    "Bitte überweisen Sie auf IBAN DE89 3704 0044 0532 0130 00, Passwort vergessen? Hilfe unter /reset.",
    "password_hash: $2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    "token_expiry: 3600\nmax_tokens: 4096\npassword_min_length: 12",
    "Your password must be at least 12 characters long.",
    "Das Token ist abgelaufen, bitte melden Sie sich erneut an.",
    "-----BEGIN PUBLIC KEY-----\n" + PEM_BODY + "\n-----END PUBLIC KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq8Vt3hQ2 ops@bastion",
    "password = os.environ['DB_PASSWORD']",
    "PASSWORD=$DB_PASSWORD",
    "secretName: github-token",
    "passwordResetUrl: https://portal.acme.net/reset",
    "NEXT_PUBLIC_STRIPE_KEY=pk_live_Ab3XZxPmzUzn8aB5kBh0fzK4",
    "TWILIO_ACCOUNT_SID=AC3f2b8c1e6a4d4e8b9c1f2d7a5b9e0c34",
    "password: abcdefghijklmnop",
    "db_password: ENC[AES256_GCM,data:Tr7o=,iv:1=,tag:2=,type:str]",
    "postgres://user:password@localhost:5432/db",
    "https://user:Hx7pQ2vLm9z@example.com/login",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_not_flagged(text: str) -> None:
    assert [d.type for d in DETECTOR.detect(text) if d.flagged] == []


# -- policies ----------------------------------------------------------------------------------------


def test_policy_moves_the_flagging_threshold() -> None:
    weak_password = "password: hunter22"
    generic_token = "auth_token: Zt9Xq2Lm7Kv4Pw8Rn3Yb6Hc1"
    provider_key = "token " + GITHUB_TOKEN

    def flagged(policy: Policy, text: str) -> bool:
        return any(d.flagged for d in SecretsDetector(policy=policy).detect(text))

    assert flagged(Policy.STRICT, weak_password) and not flagged(Policy.BALANCED, weak_password)
    assert flagged(Policy.BALANCED, generic_token) and not flagged(Policy.PERMISSIVE, generic_token)
    assert all(flagged(policy, provider_key) for policy in Policy)


def test_stripe_test_keys_are_weak_and_live_keys_strong() -> None:
    [test_key] = DETECTOR.detect("STRIPE_KEY=sk_test_Ab3XZxPmzUzn8aB5kBh0fzK4")
    [live_key] = DETECTOR.detect("STRIPE_KEY=sk_live_Ab3XZxPmzUzn8aB5kBh0fzK4")
    assert not test_key.flagged and live_key.flagged


def test_checksum_confirmed_tokens_score_higher() -> None:
    [valid] = DETECTOR.detect(GITHUB_TOKEN)
    broken = GITHUB_TOKEN[:-1] + ("A" if GITHUB_TOKEN[-1] != "A" else "B")
    [invalid] = DETECTOR.detect(broken)
    assert valid.metadata["confirmed"] and valid.score >= 0.99
    assert not invalid.metadata["confirmed"] and invalid.flagged and invalid.score < valid.score


# -- checks --------------------------------------------------------------------------------------------


def test_value_statistics() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert character_classes("aA1!") == 4 and character_classes("abc") == 1
    assert is_sequential("abcdefghij") and is_sequential("1234567890") and is_sequential("qwertyuiop")
    assert not is_sequential("Hx7!pQ2vLm9z") and not is_sequential("abc")


def test_look_alike_shapes() -> None:
    assert is_uuid("3f2b8c1e-6a4d-4e8b-9c1f-2d7a5b9e0c34") and not is_uuid("3f2b8c1e6a4d4e8b9c1f2d7a5b9e0c34")
    assert is_iban("DE89 3704 0044 0532 0130 00") and is_iban("DE89370400440532013000")
    assert not is_iban("DE89370400440532013001") and not is_iban("Hx7pQ2vLm9zHx7pQ2vLm")


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("DB_PASSWORD", ["db", "password"]),
        ("clientSecret", ["client", "secret"]),
        ("X-API-Key", ["x", "api", "key"]),
        ("APIKey", ["api", "key"]),
        ("API-Schlüssel", ["api", "schlüssel"]),
        ("password2", ["password", "2"]),
        ("spring.datasource.password", ["spring", "datasource", "password"]),
    ],
)
def test_name_parts(name: str, parts: list[str]) -> None:
    assert name_parts(name) == parts


def test_jwt_needs_a_json_header_with_alg() -> None:
    assert [d.type for d in DETECTOR.detect(_jwt({"alg": "RS256"}, {"sub": "1"}))] == ["JWT"]
    assert DETECTOR.detect(_jwt({"typ": "JWT"}, {"sub": "1"})) == []


def test_discord_token_needs_a_numeric_user_id() -> None:
    user_id = base64.b64encode(b"986287750264524147").decode().rstrip("=")
    real = f"{user_id}.N3lg8z.V5yPU8d0FZfWe7ihGyiRUIQfHOJMaidDn87XG3"
    fake = "Mabcdefghijklmnopqrstuvw.N3lg8z.V5yPU8d0FZfWe7ihGyiRUIQfHOJMaidDn87XG3"
    assert [d.type for d in DETECTOR.detect(real)] == ["DISCORD_BOT_TOKEN"]
    assert DETECTOR.detect(fake) == []


def test_check_enum_orders_weak_below_accept() -> None:
    assert {check.value for check in Check} == {"reject", "weak", "accept", "confirmed"}


def test_keyword_prefilter_skips_rules_whose_keywords_are_absent() -> None:
    active = {DETECTOR.rules[index].id for index in DETECTOR._active_rules("plain prose without anything")}
    assert active == {rule.id for rule in RULES if not rule.keywords}
    assert "github-token" in {DETECTOR.rules[i].id for i in DETECTOR._active_rules("GHP_ upper case works")}


def test_rules_run_on_the_original_text_not_the_lowered_one() -> None:
    text = "İ" * 10 + " token " + GITHUB_TOKEN  # "İ".lower() is two characters long
    [detection] = DETECTOR.detect(text)
    assert detection.span is not None and detection.span.of(text) == GITHUB_TOKEN
    assert re.fullmatch(r"ghp_\w{36}", detection.span.of(text))
