"""The same rules on Apache Spark: the views and every rule query transpiled from DuckDB SQL by sqlglot.

:func:`transpile` rewrites DuckDB SQL for another engine (``spark``, ``clickhouse``, ...).
:class:`SparkRunner`
copies the store's tables to Parquet (DuckDB ``COPY``), registers them as Spark temporary views, creates the
stable views from their transpiled definitions and evaluates the rules; :func:`compare` checks that both
engines return the same alerts. pyspark is optional (``pip install 'bastion-ai[spark]'``) and imported only
here; a Java 17 runtime must be on the machine.

What sqlglot rewrites for Spark: ``//`` becomes ``DIV``, ``regexp_matches`` becomes ``RLIKE``, ``VARCHAR``
becomes ``STRING``. Integer microseconds (``ts``) keep window arithmetic identical on both engines; ``MEDIAN``
is exact on DuckDB and Spark 4 (an interpolated 50th percentile on both). See ``docs/monitor.md`` for
ClickHouse.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot.errors import SqlglotError

from bastion.core.errors import ConfigError, UpstreamError
from bastion.monitor.rules import Rule, RuleHit, hits_from_rows
from bastion.monitor.store import TABLES, VIEWS, EventStore

__all__ = ["Comparison", "SparkRunner", "compare", "transpile"]


def transpile(sql: str, dialect: str = "spark") -> str:
    """``sql`` (DuckDB dialect) rewritten for ``dialect``; raises :class:`ConfigError` if sqlglot cannot."""
    try:
        statements = sqlglot.transpile(sql, read="duckdb", write=dialect, pretty=False)
    except SqlglotError as error:
        raise ConfigError(f"cannot transpile to {dialect}: {error}") from error
    if len(statements) != 1:
        raise ConfigError(f"expected one statement, got {len(statements)}")
    return statements[0]


def create_session(app_name: str = "bastion-monitor", partitions: int = 2) -> Any:
    """A local SparkSession (``local[2]``, UTC, few shuffle partitions: the data here is small)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise UpstreamError("Spark needs pyspark: pip install 'bastion-ai[spark]' (and Java 17)") from error
    return (
        SparkSession.builder.master(f"local[{partitions}]")
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.ansi.enabled", "false")
        .getOrCreate()
    )


class SparkRunner:
    """Evaluates rules on Spark over a copy of an :class:`EventStore`'s tables.

    ``session`` is a SparkSession (one per process is plenty; :func:`create_session` makes a local one).
    """

    def __init__(self, session: Any) -> None:
        self.session = session
        self._folder = tempfile.TemporaryDirectory(prefix="bastion-spark-")
        self.load_seconds = 0.0

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> SparkRunner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def load(self, store: EventStore) -> None:
        """Copy the tables to Parquet, register them and create the views."""
        started = time.perf_counter()
        folder = Path(self._folder.name) / f"load-{time.monotonic_ns()}"
        folder.mkdir()
        for table in TABLES:
            path = folder / f"{table}.parquet"
            store.connection.execute(f"COPY (SELECT * FROM {table}) TO '{path}' (FORMAT PARQUET)")
            self.session.read.parquet(str(path)).createOrReplaceTempView(table)
        for name, sql in VIEWS.items():
            self.session.sql(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {transpile(sql)}")
        self.load_seconds = time.perf_counter() - started

    def evaluate(self, rule: Rule, start: int, end: int) -> list[RuleHit]:
        """The rule's hits on Spark."""
        rows = self.session.sql(transpile(rule.sql(start, end))).collect()
        return hits_from_rows(rule.id, [tuple(row) for row in rows])


@dataclass(frozen=True, slots=True)
class Comparison:
    """Per rule: DuckDB and Spark hits, whether they agree, and the seconds each engine took."""

    rule: str
    duckdb: tuple[RuleHit, ...]
    spark: tuple[RuleHit, ...]
    duckdb_seconds: float
    spark_seconds: float

    @property
    def identical(self) -> bool:
        return [h.key() for h in self.duckdb] == [h.key() for h in self.spark]


def compare(store: EventStore, runner: SparkRunner, rules: Sequence[Rule]) -> list[Comparison]:
    """Evaluate every rule over the whole store on both engines (the runner must have loaded it)."""
    end = int(store.query("SELECT COALESCE(MAX(ts), 0) + 1 FROM event_rows")[0][0])
    results = []
    for rule in rules:
        started = time.perf_counter()
        local = rule.evaluate(store.connection, 0, end)
        middle = time.perf_counter()
        remote = runner.evaluate(rule, 0, end)
        finished = time.perf_counter()
        results.append(Comparison(rule.id, tuple(local), tuple(remote), middle - started, finished - middle))
    return results
