"""The gateway as an OpenAI-compatible HTTP API (FastAPI).

``POST /v1/chat/completions`` (JSON and server-sent events), ``POST /v1/completions``,
``POST /v1/embeddings``, ``GET /v1/models``; ``GET /healthz`` (the process runs), ``GET /readyz`` (stores
open, an upstream circuit closed), ``GET /metrics`` (Prometheus). Callers authenticate with
``Authorization: Bearer <key>`` or Azure's ``api-key`` header; the key decides the tenant. The optional
``X-Bastion-Application`` header picks the application's policy within the tenant.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from bastion.core.errors import ConfigError, InputError
from bastion.gateway.config import Credential, GatewayConfig, read_credential, read_vault_key
from bastion.gateway.metrics import Metrics
from bastion.gateway.pipeline import ChatBody, CompletionBody, EmbeddingBody, Gateway
from bastion.gateway.telemetry import SpanRecorder, otlp_tracer_provider
from bastion.gateway.upstream import Upstream, UpstreamCallError
from bastion.guard.audit import open_audit_log
from bastion.guard.guard import Guard
from bastion.guard.keys import ApiKey, KeyStore, Scope
from bastion.guard.limits import InMemoryRateLimiter, RateLimiter, RedisRateLimiter
from bastion.guard.policy import DEFAULT_POLICY, PolicyDocument, load_policy
from bastion.pseudonymize import SQLiteVaultStore, Vault
from bastion.web.openai import BodyLimit, openai_error

__all__ = ["build_gateway", "create_app"]

logger = logging.getLogger(__name__)

_SCOPES = {
    "chat": Scope.CHAT,
    "completions": Scope.COMPLETIONS,
    "embeddings": Scope.EMBEDDINGS,
    "models": Scope.MODELS,
}


def build_gateway(
    config: GatewayConfig,
    *,
    policy: PolicyDocument | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    credentials: Mapping[str, Credential] | None = None,
    vault_key: bytes | None = None,
    on_key_event: Callable[..., None] | None = None,
    tracer_provider: Any = None,
) -> tuple[Gateway, KeyStore]:
    """The gateway's parts from a configuration. ``transports`` replaces the network for named upstreams
    (the in-process demo), ``credentials`` their API keys; ``vault_key`` overrides the key from the
    environment; ``tracer_provider`` (an OpenTelemetry SDK provider) receives a GenAI span per call,
    otherwise ``telemetry.otlp_endpoint`` in the configuration builds one."""
    if policy is None:
        policy = load_policy(config.policy) if config.policy is not None else DEFAULT_POLICY
    key = vault_key if vault_key is not None else read_vault_key(config.stores)
    for path in (config.stores.audit, config.stores.keys, config.stores.vault):
        if "://" not in path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    vault = Vault(key, SQLiteVaultStore(config.stores.vault))
    guard = Guard(policy, master_key=key, vault=vault)
    audit = open_audit_log(config.stores.audit)
    keys = KeyStore(config.stores.keys, on_event=on_key_event or (audit.append))
    limiter: RateLimiter = (
        RedisRateLimiter(config.stores.redis_url) if config.stores.redis_url else InMemoryRateLimiter()
    )
    given = credentials or {}
    upstreams = [
        Upstream(
            u,
            given[u.name] if u.name in given else read_credential(u),
            transport=(transports or {}).get(u.name),
        )
        for u in config.upstreams
    ]
    spans = None
    if tracer_provider is None and config.telemetry.otlp_endpoint:
        tracer_provider = otlp_tracer_provider(config.telemetry.otlp_endpoint, config.telemetry.service_name)
    if tracer_provider is not None:
        spans = SpanRecorder(tracer_provider)
    return Gateway(config, guard, limiter, audit, upstreams, Metrics(), spans), keys


def create_app(gateway: Gateway, keys: KeyStore, *, warm_up_tenants: tuple[str, ...] = ()) -> FastAPI:
    """The HTTP API around a built :class:`Gateway`."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> Any:
        for tenant in warm_up_tenants:
            gateway.guard.warm_up(tenant)
        yield
        await gateway.aclose()

    app = FastAPI(title="Bastion gateway", version="1", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=gateway.config.limits.max_body_bytes)
    header = gateway.config.application_header.lower()

    @app.exception_handler(InputError)
    async def _bad_input(_: Request, error: Exception) -> JSONResponse:
        return openai_error(400, str(error))

    @app.exception_handler(UpstreamCallError)
    async def _upstream(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, UpstreamCallError)
        return openai_error(error.status, str(error), "upstream_error", error.code)

    @app.exception_handler(ConfigError)
    async def _config(_: Request, error: Exception) -> JSONResponse:
        logger.error("configuration error while serving: %s", error)
        return openai_error(500, "the gateway is misconfigured", "server_error")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        # The message may quote request content: log the type only, answer with nothing of it.
        logger.error("unexpected %s while serving a request", type(error).__name__)
        return openai_error(500, "internal error in the gateway", "server_error")

    async def authorised(request: Request, endpoint: str) -> ApiKey | Response:
        presented = _presented_key(request)
        key = keys.authenticate(presented) if presented else None
        if key is None:
            gateway.metrics.requests.labels("", endpoint, "unauthorised").inc()
            return openai_error(401, "invalid or missing API key", code="invalid_api_key")
        if not key.allows(_SCOPES[endpoint]):
            gateway.metrics.requests.labels(key.tenant, endpoint, "forbidden").inc()
            return openai_error(403, f"this key may not call {endpoint}", code="insufficient_scope")
        refused = await gateway.admit(key, endpoint)
        return refused if refused is not None else key

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError("request body is not UTF-8") from None
        except json.JSONDecodeError as error:
            raise InputError(
                f"request body is not JSON (line {error.lineno}, column {error.colno})"
            ) from None
        if not isinstance(body, dict):
            raise InputError("request body must be a JSON object")
        return body

    def application(request: Request) -> str | None:
        value = request.headers.get(header)
        if value is None:
            return None
        if not value or len(value) > 64 or not value.replace("-", "").replace("_", "").isalnum():
            raise InputError(f"{header} must be 1-64 letters, digits, '-' or '_'")
        return value

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def ready() -> Response:
        try:
            gateway.audit.head()
        except Exception:  # any store failure means not ready
            return JSONResponse({"status": "audit store unavailable"}, status_code=503)
        if all(u.breaker.state == "open" for u in gateway.upstreams.values()):
            return JSONResponse({"status": "no upstream available"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        key = await authorised(request, "models")
        return key if isinstance(key, Response) else await gateway.models(key)

    async def proxied(request: Request, endpoint: str, handle: _Handler) -> Response:
        key = await authorised(request, endpoint)
        if isinstance(key, Response):
            return key
        return await handle(key, await json_body(request), application(request))

    @app.post("/v1/chat/completions", openapi_extra=_body_schema(ChatBody))
    async def chat(request: Request) -> Response:
        return await proxied(request, "chat", gateway.chat)

    @app.post("/v1/completions", openapi_extra=_body_schema(CompletionBody))
    async def completions(request: Request) -> Response:
        return await proxied(request, "completions", gateway.completions)

    @app.post("/v1/embeddings", openapi_extra=_body_schema(EmbeddingBody))
    async def embeddings(request: Request) -> Response:
        return await proxied(request, "embeddings", gateway.embeddings)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (ChatBody, CompletionBody, EmbeddingBody):
                definitions = model.model_json_schema(ref_template=_REF).pop("$defs", {})
                components.update(definitions)
            schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
            schema["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_REF = "#/components/schemas/{model}"
_Handler = Callable[[ApiKey, dict[str, Any], str | None], Awaitable[Response]]


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The request body of an endpoint that reads JSON itself, for the OpenAPI description."""
    schema = model.model_json_schema(ref_template=_REF)
    schema.pop("$defs", None)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _presented_key(request: Request) -> str | None:
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    api_key = request.headers.get("api-key", "").strip()
    return api_key or None
