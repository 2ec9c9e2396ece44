"""``bastion gateway serve --demo``: the gateway in front of the demo assistant, configured from the demo.

One gateway tenant, ``demo``, whose API key comes from ``BASTION_DEMO_KEY``. Upstream is the demo assistant
(started in this process and called through an in-memory ASGI transport, or at ``--upstream URL``), as the
first debtor of the demo's first client company; the gateway holds that debtor's demo key as its upstream
credential. The policy is what the operator of such an assistant would write: the default detectors, the
assistant's canary and confidential rules as protected text, the client company's domain as the only link
target, and a tool allowlist with argument constraints (debtors may look up cases, propose plans within the
company's limits and write to the company's own address; closing cases is not on the list).

The demo assistant runs its tools itself, before the gateway sees the answer; so for it the tool-call check
filters and audits what the answer reports, it cannot undo an action. Applications that let the client run
tool calls (the usual OpenAI flow) get the full enforcement.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bastion.core.errors import ConfigError
from bastion.gateway.config import Credential, GatewayConfig, StoresConfig
from bastion.guard.policy import PolicyDocument

__all__ = ["DEMO_KEY_ENV", "DEMO_TENANT", "DemoGateway", "demo_gateway", "demo_policy"]

DEMO_KEY_ENV = "BASTION_DEMO_KEY"
DEMO_TENANT = "demo"
_VAULT_KEY_FILE = "vault.key"


@dataclass(frozen=True)
class DemoGateway:
    """What ``--demo`` needs to build the gateway."""

    config: GatewayConfig
    policy: PolicyDocument
    credential: Credential
    transport: httpx.AsyncBaseTransport | None
    vault_key: bytes
    upstream_subject: str


def demo_key() -> str:
    """The demo tenant's key from the environment; refuses to run without one."""
    value = os.environ.get(DEMO_KEY_ENV, "").strip()
    if len(value) < 16:
        raise ConfigError(
            f"--demo needs an API key of at least 16 characters in {DEMO_KEY_ENV} "
            f'(e.g. export {DEMO_KEY_ENV}="$(python -c "import secrets; print(secrets.token_urlsafe(24))")")'
        )
    return value


def demo_policy(seed: int = 7, debtors: int = 25) -> tuple[PolicyDocument, str, str]:
    """The policy for the demo tenant, the upstream debtor's demo key and its subject id."""
    from bastion.demo.data import generate
    from bastion.demo.prompt import confidential_rules

    data = generate(seed, debtors)
    tenant = data.tenants[0]
    credential = next(
        c
        for c in data.credentials
        if c.principal.tenant_id == tenant.tenant_id and c.principal.role.value == "debtor"
    )
    limits = tenant.policy
    case = {"pattern": r"^c-\d{5}$", "required": True}
    overrides: dict[str, Any] = {
        "canaries": [limits.canary],
        "protected_prompt": confidential_rules(tenant),
        "links": {"allowed_domains": [tenant.email_domain]},
        "tools": {
            "allow": [
                {"name": "lookup_case", "arguments": {"case_id": case}},
                {
                    "name": "update_payment_plan",
                    "arguments": {
                        "case_id": case,
                        "monthly_eur": {
                            "required": True,
                            "minimum": limits.min_monthly_installment_cents / 100,
                        },
                        "installments": {"required": True, "minimum": 1, "maximum": limits.max_installments},
                    },
                },
                {
                    "name": "send_email",
                    "arguments": {
                        "to": {
                            "required": True,
                            "pattern": r"^[^@\s]+@" + re.escape(tenant.email_domain) + "$",
                        },
                        "subject": {"required": True, "max_length": 200},
                        "body": {"required": True, "max_length": 5000},
                    },
                },
            ]
        },
    }
    policy = PolicyDocument.model_validate({"tenants": {DEMO_TENANT: {"overrides": overrides}}})
    return policy, credential.api_key, credential.principal.subject


def _vault_key(state: Path) -> bytes:
    """``BASTION_VAULT_KEY`` when set; otherwise a key generated once and kept in ``state/vault.key``."""
    configured = os.environ.get(StoresConfig().vault_key_env, "")
    if configured:
        try:
            return bytes.fromhex(configured)
        except ValueError:
            return configured.encode("utf-8")
    path = state / _VAULT_KEY_FILE
    if path.is_file():
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    state.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key.hex())
    return key


def demo_gateway(
    *,
    state: Path = Path(".bastion"),
    host: str = "127.0.0.1",
    port: int = 8410,
    upstream_url: str | None = None,
    demo_config: str = "naive",
    seed: int = 7,
    debtors: int = 25,
    home: Path | None = None,
    redis_url: str | None = None,
) -> DemoGateway:
    """Everything ``bastion gateway serve --demo`` runs on. Starts the demo assistant in this process
    unless ``upstream_url`` points at a running one."""
    policy, upstream_key, subject = demo_policy(seed, debtors)
    transport: httpx.AsyncBaseTransport | None = None
    base_url = upstream_url or "http://demo.internal/v1"
    if upstream_url is None:
        transport = _in_process_demo(demo_config, seed, debtors, home)
    config = GatewayConfig.model_validate(
        {
            "listen": {"host": host, "port": port},
            "upstreams": [
                {
                    "name": "demo",
                    "base_url": base_url,
                    "provider": "bastion.demo",
                    "models": ["*"],
                    "retries": 1,
                }
            ],
            "stores": {
                "audit": str(state / "audit.sqlite"),
                "keys": str(state / "gateway.sqlite"),
                "vault": str(state / "vault.sqlite"),
                "redis_url": redis_url,
            },
        }
    )
    return DemoGateway(config, policy, Credential(upstream_key), transport, _vault_key(state), subject)


def _in_process_demo(
    demo_config: str, seed: int, debtors: int, home: Path | None
) -> httpx.AsyncBaseTransport:
    from bastion.core.settings import BastionSettings
    from bastion.demo.assistant import Configuration
    from bastion.demo.environment import UpstreamSettings, build_assistant, prepare
    from bastion.demo.server import create_app

    try:
        configuration = Configuration(demo_config)
    except ValueError:
        raise ConfigError(f"--demo-config must be naive or hardened, not {demo_config!r}") from None
    environment = prepare(home or BastionSettings().home, seed, debtors)
    assistant, database = build_assistant(environment, configuration, UpstreamSettings("", "", "").create())
    assistant.warm_up()
    return httpx.ASGITransport(app=create_app(assistant, database))
