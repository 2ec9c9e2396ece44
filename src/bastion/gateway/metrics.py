"""Prometheus metrics of the gateway (one registry per app, so tests and several apps do not collide).

Labels carry tenant ids, endpoints, actions and upstream names; never keys, key ids or content.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bastion_gateway_requests",
            "Requests by tenant, endpoint and outcome.",
            ["tenant", "endpoint", "outcome"],
            registry=self.registry,
        )
        self.guard_actions = Counter(
            "bastion_gateway_guard_actions",
            "Guard verdicts by tenant, stage and action.",
            ["tenant", "stage", "action"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "bastion_gateway_tokens",
            "Tokens reported by upstreams, by tenant and direction.",
            ["tenant", "direction"],
            registry=self.registry,
        )
        self.added_seconds = Histogram(
            "bastion_gateway_added_seconds",
            "Time the gateway adds to a call (total minus upstream).",
            ["endpoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_seconds = Histogram(
            "bastion_gateway_upstream_seconds",
            "Upstream call duration by upstream.",
            ["upstream"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "bastion_gateway_upstream_errors",
            "Upstream failures by upstream and code.",
            ["upstream", "code"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
