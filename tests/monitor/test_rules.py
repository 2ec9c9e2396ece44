"""Every shipped rule: valid metadata and its own match / no-match fixtures; the rule loader's errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bastion.core.errors import ConfigError
from bastion.core.taxonomy import load_taxonomy
from bastion.monitor.fixtures import check_rule
from bastion.monitor.rules import OUTPUT_COLUMNS, load_rules, parse_duration
from bastion.monitor.store import EventStore

RULES = load_rules()
STARTING_PACK = {
    "monitor.injection.repeated",
    "monitor.injection.campaign",
    "monitor.leakage.system_prompt",
    "monitor.leakage.sensitive_output",
    "monitor.leakage.exfiltration_link",
    "monitor.tenant.cross_access",
    "monitor.wallet.token_spend",
    "monitor.tools.out_of_scope",
    "monitor.models.unapproved",
    "monitor.keys.revoked_use",
}


def test_the_starting_pack_is_complete_with_unique_ids() -> None:
    assert {rule.id for rule in RULES} == STARTING_PACK


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_metadata_is_valid(rule) -> None:  # type: ignore[no-untyped-def]
    load_taxonomy().validate(rule.owasp, rule.atlas)
    assert rule.owasp or rule.atlas
    assert rule.title and rule.description and "{" not in rule.description
    assert rule.window >= timedelta(minutes=1)
    assert rule.match and rule.no_match
    with EventStore(":memory:") as store:
        columns = [d[0] for d in store.connection.execute(rule.sql(0, 1)).description]
    assert tuple(columns) == OUTPUT_COLUMNS


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_rule_fixtures(rule) -> None:  # type: ignore[no-untyped-def]
    outcomes = check_rule(rule)
    failed = [o for o in outcomes if not o.passed]
    assert not failed, [(o.fixture, o.expected, o.groups) for o in failed]


def _rule(tmp_path: Path, **changes: object) -> Path:

    base = {
        "id": "custom.test.rule",
        "title": "t",
        "description": "d",
        "severity": "low",
        "owasp": ["LLM01"],
        "window": "5m",
        "group_by": ["tenant"],
        "query": "SELECT tenant AS group_key, 0 AS window_start, COUNT(*) AS count, MIN(ts) AS first_ts, "
        "MAX(ts) AS last_ts, MIN(event_id) AS sample_event FROM events WHERE ts < {end} GROUP BY tenant",
        "match": [{"name": "m", "events": [{}], "groups": ["acme"]}],
        "no_match": [{"name": "n", "events": []}],
    }
    base.update(changes)

    path = tmp_path / "rule.yaml"
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def test_a_custom_rule_file_loads_and_its_fixtures_run(tmp_path: Path) -> None:
    rules = load_rules([_rule(tmp_path)], only=["custom.test.rule"])
    assert [o.passed for o in check_rule(rules[0])] == [True, True]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Bad Id"}, "dotted"),
        ({"severity": "urgent"}, "severity"),
        ({"owasp": ["LLM99"]}, "LLM99"),
        ({"window": "soon"}, "duration"),
        ({"no_match": []}, "no_match"),
        ({"query": "SELECT {secret}"}, None),
        ({"id": "monitor.injection.repeated"}, "duplicate"),
    ],
)
def test_invalid_rule_files_are_config_errors(tmp_path: Path, changes: dict, message: str | None) -> None:  # type: ignore[type-arg]
    path = _rule(tmp_path, **changes)
    with pytest.raises(ConfigError) as caught:
        rules = load_rules([path], only=[str(changes.get("id", "custom.test.rule"))])
        rules[0].sql(0, 1)
    if message:
        assert message in str(caught.value)


def test_not_yaml_and_unknown_ids_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"id: [unclosed\n")
    with pytest.raises(ConfigError):
        load_rules([path])
    with pytest.raises(ConfigError, match="unknown rule ids"):
        load_rules(only=["monitor.nope"])


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("7d") == timedelta(days=7)
    for bad in ("0m", "5", "1w", "-1h"):
        with pytest.raises(ConfigError):
            parse_duration(bad)
