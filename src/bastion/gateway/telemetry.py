"""OpenTelemetry GenAI spans for gateway calls, when an exporter is configured.

One span per call, named ``"{operation} {model}"`` (the GenAI convention: ``chat gpt-4o``), with kind
CLIENT, the call's start and end, and the attributes of its audit event that are safe to export: provider,
models, token usage, finish reasons, tenant, key id, guard action and rule, latency. Text attributes
(prompts, answers, tool arguments) are never exported; an error status marks failed calls.

``telemetry.otlp_endpoint`` in ``gateway.yaml`` sends spans over OTLP/HTTP (extra ``telemetry``);
tests pass their own tracer provider with an in-memory exporter.
"""

from __future__ import annotations

import time
from typing import Any

from bastion.core.errors import ConfigError
from bastion.core.events import Attribute, Event

__all__ = ["SpanRecorder", "otlp_tracer_provider"]

_NOT_EXPORTED = frozenset(
    {
        Attribute.INPUT_TEXT,
        Attribute.OUTPUT_TEXT,
        Attribute.TOOL_CALLS,
        Attribute.PSEUDONYMS,
        Attribute.DETECTIONS,
    }
)


class SpanRecorder:
    """Turns a call's ``chat`` event into a span on ``tracer_provider``."""

    def __init__(self, tracer_provider: Any) -> None:
        self._tracer = tracer_provider.get_tracer("bastion.gateway")

    def record(self, event: Event, started_ns: int) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        operation = str(event.get(Attribute.OPERATION, "chat"))
        model = str(event.get(Attribute.REQUEST_MODEL, ""))
        attributes = {
            name: value
            for name, value in event.attributes.items()
            if name not in _NOT_EXPORTED and isinstance(value, str | int | float | bool | list)
        }
        attributes["bastion.event.id"] = event.id
        span = self._tracer.start_span(
            f"{operation} {model}".strip(), kind=SpanKind.CLIENT, attributes=attributes, start_time=started_ns
        )
        status = event.get(Attribute.HTTP_STATUS, 200)
        if isinstance(status, int) and status >= 400:
            span.set_status(Status(StatusCode.ERROR, str(event.get(Attribute.ERROR_TYPE, status))))
        span.end(end_time=time.time_ns())


def otlp_tracer_provider(endpoint: str, service_name: str) -> Any:
    """A tracer provider exporting to an OTLP/HTTP collector at ``endpoint`` (batched)."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as error:
        raise ConfigError(
            "telemetry.otlp_endpoint needs the extra: pip install 'bastion-ai[telemetry]'"
        ) from error
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider
