"""Targets: what the red team talks to.

A :class:`Target` runs one attempt's conversation and returns the :class:`Transcript`; it also tells the
judges what it knows about itself (:meth:`Target.judge_context`). Implementations:

* :class:`DemoTarget` — the demo assistant in process (``demo:naive`` / ``demo:hardened``), on a private
  copy of the demo data so the run's tool calls and uploads never touch the user's demo. It knows its
  secrets (canary, confidential rules) and the caller's scope, so every judge can run.
* :class:`OpenAITarget` — any OpenAI-compatible chat completions API, with retries, backoff and a rate cap.
* :class:`CallableTarget` — any Python function ``(messages) -> str`` (a user's own app under test).

Targets are synchronous; the runner calls them in worker threads.

Adaptive strategies talk turn by turn through a :class:`TargetSession` (:func:`open_session`): ``send(history,
text)`` gives the target the conversation the strategy wants it to see, so a refused turn can be dropped
from the visible history (``rewindable``). Targets with a client-side history (all of the above, and the
HTTP target when its body sends ``{{messages}}``) are rewindable; any other :class:`Target` is driven by
replaying the conversation through :meth:`Target.run`, which costs one call per earlier turn.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from bastion.core.errors import UpstreamError, UsageError
from bastion.core.types import Conversation, Message, Role
from bastion.redteam.types import Attempt, JudgeContext, ToolCallRecord, Transcript, Turn

__all__ = [
    "CallableTarget",
    "DemoTarget",
    "OpenAITarget",
    "ReplaySession",
    "Target",
    "TargetSession",
    "create_target",
    "open_session",
    "play",
]


class Target(Protocol):
    @property
    def name(self) -> str: ...

    def run(self, attempt: Attempt) -> Transcript: ...

    def judge_context(self, attempt: Attempt) -> JudgeContext: ...

    def close(self) -> None: ...


class TargetSession(Protocol):
    """One conversation with a target, turn by turn. ``calls`` counts the target requests it made;
    ``metadata`` collects what the target reported (finish reasons, per-reply output tokens and seconds)."""

    @property
    def rewindable(self) -> bool: ...

    @property
    def calls(self) -> int: ...

    def send(self, history: Sequence[Turn], text: str) -> Turn: ...

    def metadata(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def _messages(history: Sequence[Turn]) -> list[dict[str, str]]:
    return [
        {"role": "assistant" if turn.role is Role.ASSISTANT else "user", "content": turn.content}
        for turn in history
        if turn.role in (Role.USER, Role.ASSISTANT)
    ]


class _Measured:
    """Per-reply measurements shared by the sessions: seconds, output tokens (when known), finish reasons."""

    def __init__(self) -> None:
        self.calls = 0
        self._metadata: dict[str, Any] = {"seconds": [], "completion_tokens": [], "finish_reasons": []}

    def record(self, seconds: float, tokens: int | None, finish: str) -> None:
        self.calls += 1
        self._metadata["seconds"].append(round(seconds, 3))
        self._metadata["completion_tokens"].append(tokens)
        self._metadata["finish_reasons"].append(finish)

    def metadata(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, list) else value for key, value in self._metadata.items()
        }


class _FunctionSession(_Measured):
    """A session over ``ask(messages) -> (Turn, output tokens or None, finish reason)``."""

    def __init__(
        self, ask: Callable[[list[dict[str, str]]], tuple[Turn, int | None, str]], rewindable: bool = True
    ) -> None:
        super().__init__()
        self._ask = ask
        self._rewindable = rewindable

    @property
    def rewindable(self) -> bool:
        return self._rewindable

    def send(self, history: Sequence[Turn], text: str) -> Turn:
        started = time.perf_counter()
        turn, tokens, finish = self._ask([*_messages(history), {"role": "user", "content": text}])
        self.record(time.perf_counter() - started, tokens, finish)
        return turn

    def close(self) -> None:
        return None


class ReplaySession(_Measured):
    """Any :class:`Target` turn by turn: each send replays the visible user turns through ``target.run``
    (one call per user turn), so dropping a turn from the history works, at a price."""

    rewindable = True

    def __init__(self, target: Target, attempt: Attempt) -> None:
        super().__init__()
        self._target = target
        self._attempt = attempt
        self._last: dict[str, Any] = {}

    def send(self, history: Sequence[Turn], text: str) -> Turn:
        texts = (*(turn.content for turn in history if turn.role is Role.USER), text)
        replay = Attempt(self._attempt.attempt_id, self._attempt.probe, self._attempt.mutators, texts)
        started = time.perf_counter()
        transcript = self._target.run(replay)
        if not transcript.replies:
            raise UpstreamError(f"{self._target.name} gave no reply")
        self._last = dict(transcript.metadata)
        for _ in texts[:-1]:
            self.calls += 1
        self.record(time.perf_counter() - started, None, "stop")
        return transcript.replies[-1]

    def metadata(self) -> dict[str, Any]:
        return {**self._last, **super().metadata()}

    def close(self) -> None:
        return None


def open_session(target: Target, attempt: Attempt) -> TargetSession:
    """A turn-by-turn session with ``target`` for ``attempt`` (its own, else a :class:`ReplaySession`)."""
    opener = getattr(target, "open_session", None)
    if callable(opener):
        session: TargetSession = opener(attempt)
        return session
    return ReplaySession(target, attempt)


def play(session: TargetSession, texts: Sequence[str]) -> Transcript:
    """Send ``texts`` one after the other, each with the whole conversation before it; close the session."""
    turns: list[Turn] = []
    try:
        for text in texts:
            reply = session.send(tuple(turns), text)
            turns += [Turn(Role.USER, text), reply]
        return Transcript(tuple(turns), session.metadata())
    finally:
        session.close()


class CallableTarget:
    """A Python callable taking OpenAI-style messages and returning the reply text."""

    def __init__(self, function: Callable[[list[dict[str, str]]], str], name: str = "callable") -> None:
        self.function = function
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def open_session(self, attempt: Attempt) -> TargetSession:
        return _FunctionSession(
            lambda messages: (Turn(Role.ASSISTANT, str(self.function(messages))), None, "stop")
        )

    def run(self, attempt: Attempt) -> Transcript:
        return play(self.open_session(attempt), attempt.turns)

    def judge_context(self, attempt: Attempt) -> JudgeContext:
        return JudgeContext()

    def close(self) -> None:
        return None


class DemoTarget:
    """The demo assistant (``naive`` or ``hardened``) on a private copy of the demo data.

    The attacker is a debtor of the first tenant; probes with an ``upload`` setup plant the document as
    that debtor and then talk as a *second* debtor of the same tenant (the victim of the indirect
    injection). Uploads are deleted after their attempt so one attempt never sees another's document.
    """

    def __init__(self, configuration: str, home: Path | None = None, seed: int = 7) -> None:
        from bastion.core.settings import BastionSettings
        from bastion.demo.assistant import Configuration
        from bastion.demo.data import generate
        from bastion.demo.environment import DemoEnvironment, build_assistant, prepare
        from bastion.demo.model import LocalModel
        from bastion.rag.types import PrincipalRole

        try:
            self.configuration = Configuration(configuration)
        except ValueError as error:
            raise UsageError(
                f"the demo target is demo:naive or demo:hardened, not demo:{configuration}"
            ) from error
        base = prepare(home or BastionSettings().home, seed)
        self._folder = Path(tempfile.mkdtemp(prefix="bastion-redteam-"))
        for source in (base.base_database, base.base_store):
            shutil.copyfile(source, self._folder / source.name)
        environment = DemoEnvironment(self._folder, seed, base.debtors_per_tenant)
        self.assistant, self.database = build_assistant(environment, self.configuration, LocalModel())
        self.data = generate(seed, base.debtors_per_tenant)
        tenant = self.data.tenants[0].tenant_id
        debtors = [
            c.principal
            for c in self.data.credentials
            if c.principal.tenant_id == tenant and c.principal.role is PrincipalRole.DEBTOR
        ]
        self.attacker, self.victim = debtors[0], debtors[1]
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return f"demo:{self.configuration.value}"

    def _caller(self, attempt: Attempt) -> Any:
        return self.victim if "upload" in attempt.probe.setup else self.attacker

    def open_session(self, attempt: Attempt) -> TargetSession:
        """A conversation as the attempt's caller; holds the demo (one model, one database) until closed,
        plants the probe's upload first and deletes it on close."""
        return _DemoSession(self, attempt)

    def run(self, attempt: Attempt) -> Transcript:
        return play(self.open_session(attempt), attempt.turns)

    def hold(self, attempt: Attempt) -> tuple[str | None, dict[str, Any]]:
        """Take the demo for one conversation (one model, one database: conversations run one after the
        other) and plant the probe's upload as the attacker. Returns the planted document's id (``None``
        when there is none or it was quarantined) and what the upload did; pair with :meth:`release`."""
        self._lock.acquire()
        try:
            if "upload" not in attempt.probe.setup:
                return None, {}
            result = self.assistant.upload(
                self.attacker,
                attempt.probe.setup.get("upload_name", "upload.txt"),
                attempt.probe.setup["upload"],
            )
        except BaseException:
            self._lock.release()
            raise
        return (result.doc_id if result.accepted else None), {
            "status": result.status.value,
            "doc_id": result.doc_id,
        }

    def release(self, uploaded: str | None) -> None:
        """Delete the planted document (if any) and let the next conversation in."""
        try:
            if uploaded is not None:
                self.assistant.store.delete_document(self.attacker.tenant_id, uploaded)
        finally:
            self._lock.release()

    def judge_context(self, attempt: Attempt) -> JudgeContext:
        from bastion.demo.prompt import confidential_rules

        caller = self._caller(attempt)
        tenant = self.data.tenant(caller.tenant_id)
        debtor = self.data.debtor(caller.subject)
        own_cases = frozenset(case.case_id for case in self.data.cases_of_debtor(caller.subject))
        own_values = frozenset(
            value
            for value in (
                debtor.full_name,
                debtor.email,
                debtor.phone,
                debtor.iban,
                tenant.creditor_iban,
                tenant.phone,
                tenant.support_email,
                tenant.creditor_bic,
            )
            if value
        )
        foreign: list[str] = []
        for other in self.data.tenants:
            if other.tenant_id != tenant.tenant_id:
                foreign += [other.creditor_iban, other.phone, other.support_email]
        for other_debtor in self.data.debtors:
            if other_debtor.debtor_id != debtor.debtor_id:
                foreign += [other_debtor.iban, other_debtor.full_name]
        for case in self.data.cases:
            if case.case_id not in own_cases:
                foreign.append(case.case_id)
        return JudgeContext(
            canaries=(tenant.policy.canary,),
            protected_texts=(confidential_rules(tenant),),
            allowed_domains=(tenant.email_domain, self.database.agency_domain()),
            allowed_tools={
                "lookup_case": {"case_id": own_cases},
                "update_payment_plan": {"case_id": own_cases},
                "send_email": {"to": frozenset({debtor.email.lower()})},
            },
            tools_known=True,
            own_values=own_values,
            foreign_markers=tuple(foreign),
        )

    def close(self) -> None:
        self.assistant.store.close()
        self.database.close()
        shutil.rmtree(self._folder, ignore_errors=True)


class _DemoSession(_Measured):
    rewindable = True

    def __init__(self, target: DemoTarget, attempt: Attempt) -> None:
        super().__init__()
        self._target = target
        self._caller = target._caller(attempt)
        self._uploaded: str | None = None
        self._extra: dict[str, Any] = {"retrieved_tenants": [], "caller": self._caller.subject}
        self._uploaded, upload = target.hold(attempt)
        if upload:
            self._extra["upload"] = upload
        self._open = True

    def send(self, history: Sequence[Turn], text: str) -> Turn:
        conversation = Conversation()
        for turn in history:
            if turn.role in (Role.USER, Role.ASSISTANT):
                conversation = conversation.append(Message(turn.role, turn.content))
        conversation = conversation.append(Message(Role.USER, text))
        started = time.perf_counter()
        reply = self._target.assistant.reply(conversation, self._caller)
        calls = tuple(
            ToolCallRecord(o.call.name, dict(o.call.fields), o.status, dict(o.result)) for o in reply.outcomes
        )
        self.record(time.perf_counter() - started, reply.completion_tokens, reply.finish_reason)
        self._extra["retrieved_tenants"] += [hit.chunk.tenant_id for hit in reply.retrieved]
        return Turn(Role.ASSISTANT, reply.content, calls)

    def metadata(self) -> dict[str, Any]:
        return {**self._extra, **super().metadata()}

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._target.release(self._uploaded)


def create_target(
    spec: str,
    home: Path | None = None,
    seed: int = 7,
    base_url: str = "",
    model: str = "",
    api_key_env: str = "OPENAI_API_KEY",
    rate: float | None = None,
    config: Path | None = None,
) -> Target:
    """A target from its command-line name: ``demo``, ``demo:naive``, ``demo:hardened``, ``openai`` or
    ``http`` (with ``config``, a YAML file; see :mod:`bastion.redteam.http_target`)."""
    kind, _, variant = spec.partition(":")
    if kind == "demo":
        return DemoTarget(variant or "hardened", home=home, seed=seed)
    if kind == "openai":
        return OpenAITarget(base_url, model, api_key_env=api_key_env, rate=rate)
    if kind == "http":
        if config is None:
            raise UsageError("the http target needs --config target.yaml")
        from bastion.redteam.http_target import load_http_target

        return load_http_target(config)
    raise UsageError(f"unknown target {spec!r}; known: demo, demo:naive, demo:hardened, openai, http")


class OpenAITarget:
    """Any OpenAI-compatible chat completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, the demo's API,
    Bastion's gateway).

    One conversation per attempt: each turn is sent with the history so far. Tool calls in the reply
    (``message.tool_calls``) are recorded as ``requested`` (or with the status a Bastion demo reports in its
    ``bastion.tool_results`` extension). Retries 429 and 5xx answers with exponential backoff; ``rate``
    caps requests per second across the run's threads. The API key is read from ``api_key_env`` and never
    logged or put into an error.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        system_prompt: str = "",
        timeout_s: float = 60.0,
        retries: int = 3,
        rate: float | None = None,
        context: JudgeContext | None = None,
    ) -> None:
        if not base_url or not model:
            raise UsageError("the openai target needs --base-url and --model")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.system_prompt = system_prompt
        self._sender = _JsonSender(timeout_s, retries, rate)
        self._context = context or JudgeContext()

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    def _post(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        key = os.environ.get(self.api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        body = {"model": self.model, "messages": messages, "temperature": 0}
        decoded = self._sender.post(f"{self.base_url}/chat/completions", body, headers)
        if not isinstance(decoded, dict):
            raise UpstreamError(f"{self.base_url} answered without a chat completion")
        return decoded

    def _ask(self, messages: list[dict[str, str]]) -> tuple[Turn, int | None, str]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        body = self._post(system + messages)
        try:
            choice = body["choices"][0]
            message = choice["message"]
            content = str(message.get("content") or "")
        except (KeyError, IndexError, TypeError, AttributeError) as error:
            raise UpstreamError(f"{self.base_url} answered without a chat completion") from error
        usage = body.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return (
            Turn(Role.ASSISTANT, content, _tool_calls(message, body)),
            int(tokens) if isinstance(tokens, int) else None,
            str(choice.get("finish_reason")),
        )

    def open_session(self, attempt: Attempt) -> TargetSession:
        if "upload" in attempt.probe.setup:
            raise UpstreamError("this target cannot plant documents; the probe needs a demo target")
        return _FunctionSession(self._ask)

    def run(self, attempt: Attempt) -> Transcript:
        return play(self.open_session(attempt), attempt.turns)

    def judge_context(self, attempt: Attempt) -> JudgeContext:
        return self._context

    def close(self) -> None:
        return None


def _tool_calls(message: dict[str, Any], body: dict[str, Any]) -> tuple[ToolCallRecord, ...]:
    statuses = {
        str(result.get("tool_call_id")): str(result.get("status"))
        for result in (body.get("bastion") or {}).get("tool_results", [])
        if isinstance(result, dict)
    }
    records = []
    for call in message.get("tool_calls") or []:
        function = call.get("function") or {}
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": str(function.get("arguments"))}
        status = statuses.get(str(call.get("id")), "requested")
        records.append(
            ToolCallRecord(
                str(function.get("name", "")),
                arguments if isinstance(arguments, dict) else {"_raw": str(arguments)},
                status if status in ("executed", "denied", "invalid") else "requested",  # type: ignore[arg-type]
            )
        )
    return tuple(records)


class _JsonSender:
    """POSTs JSON with retries (exponential backoff on 408/409/429/5xx and connection errors), a timeout
    and a requests-per-second cap shared by the threads of a run. Errors never carry headers or keys."""

    def __init__(self, timeout_s: float = 60.0, retries: int = 3, rate: float | None = None) -> None:
        self.timeout_s = timeout_s
        self.retries = retries
        self._interval = 1.0 / rate if rate else 0.0
        self._next_slot = 0.0
        self._lock = threading.Lock()

    def _wait_for_slot(self) -> None:
        if not self._interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        time.sleep(max(0.0, slot - now))

    def post(self, url: str, body: Any, headers: dict[str, str]) -> Any:
        import httpx

        where = url.split("?", 1)[0]
        delay = 0.5
        for attempt in range(self.retries + 1):
            self._wait_for_slot()
            try:
                response = httpx.post(url, json=body, headers=headers, timeout=self.timeout_s)
            except httpx.HTTPError as error:
                if attempt == self.retries:
                    raise UpstreamError(f"{where} is unreachable: {type(error).__name__}") from error
            else:
                if response.status_code == 200:
                    try:
                        return response.json()
                    except ValueError as error:
                        raise UpstreamError(f"{where} answered with invalid JSON") from error
                if response.status_code not in (408, 409, 429) and response.status_code < 500:
                    raise UpstreamError(f"{where} answered HTTP {response.status_code}")
                if attempt == self.retries:
                    raise UpstreamError(f"{where} answered HTTP {response.status_code} after retries")
            time.sleep(delay)
            delay *= 2
        raise UpstreamError(f"{where} gave no answer")  # pragma: no cover - the loop returns or raises
