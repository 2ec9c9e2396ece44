"""The templated HTTP target: any JSON-over-HTTP chat endpoint, described in a YAML file.

::

    # target.yaml
    url: https://bot.example.com/api/chat
    headers:
      Authorization: "Bearer ${BOT_API_KEY}"      # ${VAR} comes from the environment, never from the file
    body: |                                        # JSON with placeholders, each replaced by a JSON value:
      {"session": {{conversation_id}}, "text": {{message}}, "history": {{messages}}}
    response_path: $.reply.text                    # JSONPath (jsonpath-ng) to the answer text
    tool_calls_path: $.actions[*]                  # optional: items with "name" and "arguments"
    timeout_s: 30
    retries: 3
    rate: 5                                        # requests per second at most

Placeholders: ``{{message}}`` (the current attack turn), ``{{messages}}`` (the conversation so far as
OpenAI-style messages), ``{{conversation_id}}`` (the attempt id). Each is inserted as a JSON literal, so no
attack text can break out of its string. Errors name the file and the field; header values are never
printed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bastion.core.errors import ConfigError, UpstreamError
from bastion.core.types import Role
from bastion.redteam.targets import TargetSession, _FunctionSession, _JsonSender, play
from bastion.redteam.types import Attempt, JudgeContext, ToolCallRecord, Transcript, Turn

__all__ = ["HttpTarget", "HttpTargetConfig", "load_http_target"]

_PLACEHOLDER = re.compile(r"\{\{\s*(message|messages|conversation_id)\s*\}\}")
_ENVIRONMENT = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")


class HttpTargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    body: str
    response_path: str
    tool_calls_path: str = ""
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    retries: int = Field(default=3, ge=0, le=10)
    rate: float | None = Field(default=None, gt=0)

    @field_validator("body")
    @classmethod
    def _body_is_json_after_filling(cls, value: str) -> str:
        if "{{message}}" not in value.replace(" ", "") and "{{messages}}" not in value.replace(" ", ""):
            raise ValueError("the body must contain {{message}} or {{messages}}")
        try:
            json.loads(_fill(value, {"message": "x", "messages": [], "conversation_id": "x"}))
        except json.JSONDecodeError as error:
            raise ValueError(f"the body is not JSON once its placeholders are filled: {error.msg}") from error
        return value

    @field_validator("response_path", "tool_calls_path")
    @classmethod
    def _parses(cls, value: str) -> str:
        if value:
            _compile(value)
        return value


def _compile(expression: str) -> Any:
    from jsonpath_ng.ext.parser import parse

    try:
        return parse(expression)
    except Exception as error:  # jsonpath-ng raises its own and generic errors for bad expressions
        raise ValueError(f"not a JSONPath expression: {expression!r}") from error


def _fill(template: str, values: dict[str, Any]) -> str:
    return _PLACEHOLDER.sub(lambda match: json.dumps(values[match.group(1)], ensure_ascii=False), template)


def load_http_target(path: Path, context: JudgeContext | None = None) -> HttpTarget:
    """The target described by the YAML file at ``path``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the target configuration: {type(error).__name__}") from error
    try:
        config = HttpTargetConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "configuration"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from error
    return HttpTarget(config, name=f"http:{path.name}", context=context)


class HttpTarget:
    """Talks to the endpoint of an :class:`HttpTargetConfig`, one request per attack turn."""

    def __init__(
        self, config: HttpTargetConfig, name: str = "http", context: JudgeContext | None = None
    ) -> None:
        self.config = config
        self._name = name
        self._context = context or JudgeContext()
        self._answer = _compile(config.response_path)
        self._tools = _compile(config.tool_calls_path) if config.tool_calls_path else None
        self._sender = _JsonSender(config.timeout_s, config.retries, config.rate)

    @property
    def name(self) -> str:
        return self._name

    def _headers(self) -> dict[str, str]:
        def expand(match: re.Match[str]) -> str:
            value = os.environ.get(match.group(1))
            if value is None:
                raise ConfigError(f"the target's headers need the environment variable {match.group(1)}")
            return value

        return {name: _ENVIRONMENT.sub(expand, value) for name, value in self.config.headers.items()}

    def _ask(self, messages: list[dict[str, str]], conversation_id: str) -> tuple[Turn, int | None, str]:
        body = json.loads(
            _fill(
                self.config.body,
                {
                    "message": messages[-1]["content"],
                    "messages": messages,
                    "conversation_id": conversation_id,
                },
            )
        )
        decoded = self._sender.post(self.config.url, body, self._headers())
        matches = self._answer.find(decoded)
        if not matches:
            raise UpstreamError(f"{self._name}: the answer has nothing at {self.config.response_path}")
        reply = matches[0].value
        content = reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)
        return Turn(Role.ASSISTANT, content, self._tool_calls(decoded)), None, "stop"

    @property
    def rewindable(self) -> bool:
        """True when the body sends the whole conversation (``{{messages}}``): we shape the history."""
        return "{{messages}}" in self.config.body.replace(" ", "")

    def open_session(self, attempt: Attempt) -> TargetSession:
        if "upload" in attempt.probe.setup:
            raise UpstreamError("this target cannot plant documents; the probe needs a demo target")
        self._headers()  # a missing variable fails before the first request
        return _FunctionSession(lambda messages: self._ask(messages, attempt.attempt_id), self.rewindable)

    def run(self, attempt: Attempt) -> Transcript:
        return play(self.open_session(attempt), attempt.turns)

    def _tool_calls(self, decoded: Any) -> tuple[ToolCallRecord, ...]:
        if self._tools is None:
            return ()
        records = []
        for match in self._tools.find(decoded):
            item = match.value
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                arguments = item.get("arguments")
                if isinstance(arguments, str):
                    try:
                        arguments = json.loads(arguments)
                    except json.JSONDecodeError:
                        arguments = {"_raw": arguments}
                records.append(ToolCallRecord(item["name"], arguments if isinstance(arguments, dict) else {}))
        return tuple(records)

    def judge_context(self, attempt: Attempt) -> JudgeContext:
        return self._context

    def close(self) -> None:
        return None
