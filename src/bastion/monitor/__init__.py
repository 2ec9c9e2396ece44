"""Monitor: misuse and data-leak detection over LLM events, alerts, incidents, retention and erasure.

Events (the shared schema of :mod:`bastion.core.events`) come from the guard gateway's audit store, JSONL
files or OTLP/JSON trace exports (:mod:`~bastion.monitor.sources`) into a DuckDB store with stable views
(:mod:`~bastion.monitor.store`). Detection rules are YAML with SQL over those views
(:mod:`~bastion.monitor.rules`), evaluated incrementally (:mod:`~bastion.monitor.engine`) into
deduplicated alerts (:mod:`~bastion.monitor.alerts`); the same SQL runs on Spark after sqlglot
transpilation (:mod:`~bastion.monitor.spark`). See ``docs/monitor.md``.
"""

from bastion.monitor.alerts import Alert, AlertBook
from bastion.monitor.engine import RunResult, run_rules
from bastion.monitor.rules import Rule, RuleHit, load_rules
from bastion.monitor.sources import IngestReport, ingest
from bastion.monitor.store import EventStore

__all__ = [
    "Alert",
    "AlertBook",
    "EventStore",
    "IngestReport",
    "Rule",
    "RuleHit",
    "RunResult",
    "ingest",
    "load_rules",
    "run_rules",
]
