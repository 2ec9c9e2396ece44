"""Chat models the red team *uses* (not attacks): the attacker of the adaptive strategies and the LLM judge.

One small protocol, :class:`AttackerModel` (``generate(messages, max_tokens) -> Generation``), with two
implementations:

* :class:`OpenAIChatModel` — any OpenAI-compatible chat completions endpoint (OpenAI, vLLM, Ollama,
  llama.cpp's server, Bastion's gateway); token counts from the answer's ``usage``.
* :class:`LocalChatModel` — the demo's local Gemma 3 270M base model (``bastion.demo.model.LocalModel``,
  the ``local`` extra), for offline runs. It is weak: the strategies validate what it writes and fall back
  to their templates, so a run stays useful.

:func:`extract_json_object` is the tolerant reader both the attacker and the judge outputs go through.
Prompts are data (``bastion/data/redteam/prompts.yaml``), filled with :func:`fill`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bastion.core.errors import ConfigError, UpstreamError, UsageError
from bastion.core.types import Message, Role

__all__ = [
    "AttackerModel",
    "ChatTurn",
    "Generation",
    "LocalChatModel",
    "OpenAIChatModel",
    "PromptTemplate",
    "create_model",
    "estimate_tokens",
    "extract_json_object",
    "fill",
    "iter_json_objects",
    "load_prompts",
]

ChatRole = Literal["system", "user", "assistant"]
#: longest model output the tolerant JSON reader looks at (characters)
MAX_PARSE_CHARACTERS = 20_000


@dataclass(frozen=True, slots=True)
class ChatTurn:
    role: ChatRole
    content: str


@dataclass(frozen=True, slots=True)
class Generation:
    """What a model wrote and what it cost (tokens read and written; estimated when not reported)."""

    text: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class AttackerModel(Protocol):
    """A chat model: the attacker of the adaptive strategies, or the LLM judge."""

    @property
    def name(self) -> str: ...

    def generate(self, messages: Sequence[ChatTurn], max_tokens: int = 256) -> Generation: ...


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token) for models that do not report usage."""
    return len(text) // 4 + 1 if text else 0


class OpenAIChatModel:
    """An OpenAI-compatible chat completions endpoint. The key is read from ``api_key_env`` per request
    and never logged or put into an error."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        temperature: float = 0.7,
        timeout_s: float = 60.0,
        retries: int = 2,
    ) -> None:
        if not base_url.startswith(("http://", "https://")) or not model:
            raise UsageError("a chat model needs an http(s) base URL and a model name")
        from bastion.redteam.targets import _JsonSender

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.temperature = temperature
        self._sender = _JsonSender(timeout_s, retries)

    @property
    def name(self) -> str:
        return f"{self.model}@{self.base_url}"

    def generate(self, messages: Sequence[ChatTurn], max_tokens: int = 256) -> Generation:
        key = os.environ.get(self.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens,
            "temperature": self.temperature,
        }
        decoded = self._sender.post(f"{self.base_url}/chat/completions", body, headers)
        try:
            text = str(decoded["choices"][0]["message"].get("content") or "")
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise UpstreamError(f"{self.base_url} answered without a chat completion") from error
        usage = decoded.get("usage") if isinstance(decoded, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        prompt_text = "".join(m.content for m in messages)
        return Generation(
            text,
            int(usage.get("prompt_tokens") or estimate_tokens(prompt_text)),
            int(usage.get("completion_tokens") or estimate_tokens(text)),
        )


class LocalChatModel:
    """The demo's local base model (Gemma 3 270M via llama.cpp) behind the chat protocol.

    System messages become the instructions, the rest the transcript it continues; decoding is greedy
    unless ``temperature`` is set, so runs reproduce. Its own llama.cpp instance (``seed`` 8, the demo
    uses 7) keeps the demo's prompt cache warm when both play in one run.
    """

    name = "local:gemma-3-270m"

    def __init__(self, temperature: float = 0.0, seed: int = 8) -> None:
        from bastion.demo.model import LocalModel

        self._model = LocalModel(temperature=temperature, seed=seed)

    def generate(self, messages: Sequence[ChatTurn], max_tokens: int = 256) -> Generation:
        from bastion.demo.model import Prompt

        instructions = "\n".join(m.content for m in messages if m.role == "system")
        turns = tuple(
            Message(Role.ASSISTANT if m.role == "assistant" else Role.USER, m.content)
            for m in messages
            if m.role != "system"
        )
        completion = self._model.complete(Prompt(instructions or "Below is a chat.", turns), max_tokens)
        return Generation(completion.text, completion.prompt_tokens, completion.completion_tokens)


def create_model(
    url: str, model: str = "", api_key_env: str = "OPENAI_API_KEY", temperature: float = 0.7
) -> AttackerModel | None:
    """The model named on the command line: none for an empty ``url``, the local base model for
    ``local``, else an OpenAI-compatible endpoint (``model`` required)."""
    if not url:
        return None
    if url == "local":
        return LocalChatModel()
    return OpenAIChatModel(url, model, api_key_env=api_key_env, temperature=temperature)


# -- tolerant JSON -------------------------------------------------------------------------------------------

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'"})
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


def extract_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (a model's output), or None.

    Tolerates prose before and after it, markdown code fences, typographic quotes and trailing commas;
    looks at the first :data:`MAX_PARSE_CHARACTERS` characters only. Never raises.
    """
    return next(iter_json_objects(text), None)


def iter_json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Every JSON object in ``text``, in order, read as tolerantly as :func:`extract_json_object`."""
    if not isinstance(text, str) or "{" not in text:
        return
    text = text[:MAX_PARSE_CHARACTERS]
    candidates = [match.group(1) for match in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        for variant in (candidate, _TRAILING_COMMA.sub(r"\1", candidate.translate(_SMART_QUOTES))):
            start = variant.find("{")
            while start >= 0:
                try:
                    value, end = decoder.raw_decode(variant, start)
                except (json.JSONDecodeError, RecursionError):
                    value, end = None, start + 1
                if isinstance(value, dict):
                    yield value
                start = variant.find("{", max(end, start + 1))


# -- prompts as data -----------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


class PromptTemplate(BaseModel):
    """A system and a user message with ``{{name}}`` placeholders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    system: str = Field(min_length=1)
    user: str = Field(min_length=1)

    def render(self, values: Mapping[str, str]) -> list[ChatTurn]:
        return [ChatTurn("system", fill(self.system, values)), ChatTurn("user", fill(self.user, values))]


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    prompts: dict[str, PromptTemplate]


def fill(template: str, values: Mapping[str, str]) -> str:
    """``template`` with each ``{{name}}`` replaced by ``values[name]`` (inserted once, never re-read, so
    attack text holding braces stays inert); an unknown name is a :class:`ConfigError`."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(f"prompt placeholder {{{{{name}}}}} has no value")
        return values[name]

    return _PLACEHOLDER.sub(replace, template)


@cache
def load_prompts() -> dict[str, PromptTemplate]:
    """The prompts of ``bastion/data/redteam/prompts.yaml`` (attacker and judge), validated once."""
    package, name = "bastion.data.redteam", "prompts.yaml"
    try:
        raw = yaml.safe_load(resources.files(package).joinpath(name).read_text("utf-8"))
        return dict(_PromptFile.model_validate(raw).prompts)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ConfigError(f"{package}/{name}: {error}") from error
