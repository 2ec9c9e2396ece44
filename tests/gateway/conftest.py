"""Fixtures: a stand-in upstream on a real port, and a gateway served in front of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bastion.gateway.app import build_gateway, create_app
from bastion.gateway.config import GatewayConfig
from bastion.gateway.pipeline import Gateway
from bastion.guard.keys import KeyStore
from bastion.guard.policy import PolicyDocument, parse_policy
from tests.gateway.standin import StandInState, create_standin
from tests.net import serving

VAULT_KEY = bytes(range(32))
SCOPES = ["chat", "completions", "embeddings", "models"]


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[str, StandInState]]:
    app, state = create_standin()
    with serving(app) as url:
        yield url, state


@dataclass
class Running:
    url: str
    gateway: Gateway
    keys: KeyStore
    key: str
    upstream: StandInState
    stores: Path

    def client(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {key or self.key}"}, timeout=30
        )

    def chat(self, content: str, **extra: Any) -> httpx.Response:
        with self.client() as client:
            body = {"model": "stand-in", "messages": [{"role": "user", "content": content}], **extra}
            return client.post("/chat/completions", json=body)


@pytest.fixture
def gateway_factory(standin: tuple[str, StandInState], tmp_path: Path) -> Iterator[Callable[..., Running]]:
    url, state = standin
    opened: list[Any] = []

    def make(
        policy: str | PolicyDocument | None = None,
        tenant: str = "acme",
        tracer_provider: Any = None,
        **config: Any,
    ) -> Running:
        state.reset()
        stores = tmp_path / f"stores{len(opened)}"
        upstream = {"name": "standin", "base_url": url, "models": ["stand-in*"], "retries": 1}
        upstream.update(config.pop("upstream", {}))
        settings = GatewayConfig.model_validate(
            {
                "upstreams": [upstream],
                "stores": {
                    "audit": str(stores / "audit.sqlite"),
                    "keys": str(stores / "keys.sqlite"),
                    "vault": str(stores / "vault.sqlite"),
                },
                **config,
            }
        )
        document = parse_policy(policy) if isinstance(policy, str) else policy
        gateway, keys = build_gateway(
            settings, policy=document, vault_key=VAULT_KEY, tracer_provider=tracer_provider
        )
        issued = keys.issue(tenant, SCOPES)
        server = serving(create_app(gateway, keys, warm_up_tenants=(tenant,)))
        base = server.__enter__()
        opened.append(server)
        return Running(base, gateway, keys, issued.plaintext, state, stores)

    yield make
    for server in opened:
        server.__exit__(None, None, None)
