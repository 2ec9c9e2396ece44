"""The rule pack on Apache Spark (local mode) returns exactly the alerts DuckDB returns."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.monitor.replay import synthesize
from bastion.monitor.rules import load_rules
from bastion.monitor.spark import SparkRunner, compare
from bastion.monitor.store import EventStore

pytestmark = pytest.mark.slow


def test_spark_and_duckdb_raise_identical_alerts(spark_session: Any) -> None:
    replay = synthesize(events=3_000, seed=21, attack_share=0.02)
    rules = load_rules()
    with EventStore(":memory:") as store, SparkRunner(spark_session) as runner:
        store.set_reference(replay.reference["approved_models"], replay.reference["tool_scopes"])
        store.add(replay.events)
        runner.load(store)
        comparisons = compare(store, runner, rules)
    assert len(comparisons) == len(rules)
    for comparison in comparisons:
        assert comparison.identical, comparison.rule
    fired = {c.rule for c in comparisons if c.duckdb}
    assert fired == {rule.id for rule in rules}
