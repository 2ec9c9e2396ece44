from __future__ import annotations

from pathlib import Path

import pytest

from bastion.core.errors import ConfigError
from bastion.core.types import Action, Policy
from bastion.guard.policy import DEFAULT_POLICY, DetectorRule, load_policy, parse_policy

EXAMPLE = """\
version: 1
defaults:
  level: balanced
  input:
    injection: {action: block}
  links: {allowed_domains: [inkasso-nord.de]}
tenants:
  telkonord:
    overrides:
      level: strict
      canaries: ['CANARY-00112233aabb']
    applications:
      chatbot:
        fail_mode: open
        input:
          injection: {action: flag, threshold: 0.9}
"""


def test_levels_merge_defaults_tenant_and_application() -> None:
    policy = parse_policy(EXAMPLE)
    plain = policy.rules("unknown-tenant")
    assert plain.level is Policy.BALANCED and plain.canaries == []
    tenant = policy.rules("telkonord")
    assert tenant.level is Policy.STRICT and tenant.canaries == ["CANARY-00112233aabb"]
    assert tenant.links.allowed_domains == ["inkasso-nord.de"]
    app = policy.rules("telkonord", "chatbot")
    assert app.fail_mode.value == "open"
    assert app.input["injection"].action is Action.FLAG and app.input["injection"].threshold == 0.9
    assert app.canaries == ["CANARY-00112233aabb"]  # inherited from the tenant
    assert set(app.input) == {"injection", "pii", "secrets"}  # the defaults' other input rules stay
    assert policy.rules("telkonord", "other-app") == tenant


def test_default_policy_blocks_injection_and_redacts_personal_data() -> None:
    rules = DEFAULT_POLICY.rules("anyone")
    assert rules.input["injection"].action is Action.BLOCK
    assert rules.input["pii"].action is Action.REDACT
    assert rules.output["leakage"].action_for("CANARY") is Action.BLOCK
    assert rules.output["leakage"].action_for("PII:EMAIL") is Action.REDACT
    assert rules.output["leakage"].action_for("SECRET:AWS_ACCESS_KEY") is Action.BLOCK


def test_type_patterns_pick_the_most_specific() -> None:
    rule = DetectorRule(
        action=Action.FLAG, types={"SECRET:*": Action.BLOCK, "SECRET:GITHUB_TOKEN": Action.REDACT}
    )
    assert rule.action_for("SECRET:GITHUB_TOKEN") is Action.REDACT
    assert rule.action_for("SECRET:AWS_ACCESS_KEY") is Action.BLOCK
    assert rule.action_for("EMAIL") is Action.FLAG


def test_an_allowlist_is_exhaustive_unless_default_says_otherwise() -> None:
    none = parse_policy("defaults: {}").rules("t").tools
    assert none.effective_default == "allow"
    listed = parse_policy("defaults:\n  tools: {allow: [{name: lookup}]}").rules("t").tools
    assert listed.effective_default == "deny"
    explicit = parse_policy("defaults:\n  tools: {default: allow, allow: [{name: lookup}]}").rules("t").tools
    assert explicit.effective_default == "allow"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("defaults:\n  input:\n    injection: {action: explode}\n", ":3: "),
        ("defaults:\n  level: medium\n", "level"),
        ("defaults:\n  input:\n    nosuchdetector: {action: block}\n", "unknown detector"),
        (
            "defaults:\n  tools:\n    allow:\n      - name: x\n        arguments: {a: {pattern: '(('}}\n",
            "regular expression",
        ),
        ("tenants:\n  'bad tenant!': {}\n", "tenant id"),
        ("tenants:\n  t1:\n    overrides: {fail_mode: sometimes}\n", "tenants.t1.overrides"),
        ("defaults: [1, 2\n", "<policy>:"),
        ("defaults:\n  canaries: [short]\n", "canaries"),
        ("surprise: 1\n", "surprise"),
    ],
)
def test_bad_policies_name_the_place(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_policy(text)
    assert expected in str(caught.value)


def test_load_policy_errors_carry_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("defaults:\n  input:\n    injection:\n      action: maybe\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"policy\.yaml:4: defaults"):
        load_policy(path)
    path.write_bytes(b"defaults: {level: \xff\xfe}")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_policy(path)
    path.write_bytes(b"\x00\x01binary")
    with pytest.raises(ConfigError, match="binary"):
        load_policy(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")


def test_null_turns_a_built_in_detector_off() -> None:
    rules = parse_policy("defaults:\n  input:\n    injection: null\n  output: {leakage: null}\n").rules("t")
    assert set(rules.input) == {"pii", "secrets"} and rules.output == {}
