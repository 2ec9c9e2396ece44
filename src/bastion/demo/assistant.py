"""The debt-collection assistant: retrieval, prompt, model, tools and (hardened) checks in one turn.

::

    conversation, principal
        │  hardened: injection detector on the customer's message ──► flagged: refuse (content_filter)
        ├─► retrieval: hardened = tenant + ACL filter inside the store's query; naive = every tenant's chunks
        ├─► prompt (confidential rules, account, passages, tools) ──► model
        ├─► ACTION lines ──► Toolbox (naive: broad rights; hardened: scoped, server-side checks)
        │       └─► results go back to the model for the answer (at most ``max_tool_rounds``)
        └─► hardened: leakage detector on the answer: canary, system-prompt overlap or exfiltration link
              ──► refuse (content_filter); other people's personal data, secrets, foreign links ──► redacted

:class:`Assistant` is synchronous and thread-safe; the server runs it in a thread pool.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from bastion.core.errors import ConfigError, InputError
from bastion.core.types import Conversation, Detection, Message, Policy, Role, Span
from bastion.demo._records import DebtorRecord, TenantRecord
from bastion.demo.actions import parse_actions
from bastion.demo.db import DemoDatabase
from bastion.demo.model import LanguageModel, Prompt
from bastion.demo.prompt import AssistantPrompt, build_prompt, examples_for
from bastion.demo.tools import Toolbox, ToolOutcome
from bastion.detect.base import ScanContext
from bastion.detect.engine import Scanner
from bastion.detect.language import guess_language
from bastion.rag.ingest import Ingestor, IngestResult
from bastion.rag.sqlite_store import SQLiteRetrievalStore
from bastion.rag.types import Acl, Audience, Document, Hit, Principal, PrincipalRole

__all__ = ["Assistant", "AssistantSettings", "Configuration", "Reply"]

FinishReason = Literal["stop", "length", "content_filter"]

MAX_MESSAGE_CHARS = 8_000
MAX_TURNS = 6  # earlier turns are dropped: the local model's context is small
MAX_UPLOAD_CHARS = 200_000
#: leakage types that make the whole answer unusable; the others are redacted in place
_REFUSE_TYPES = frozenset({"CANARY", "PROTECTED_TEXT_OVERLAP", "EXFILTRATION_LINK"})
_LINK_TYPES = frozenset({"EXTERNAL_LINK", "EXFILTRATION_LINK"})

_REFUSAL = {
    "en": "I'm sorry, I can't help with that. I can answer questions about your case and your payments.",
    "de": "Das kann ich leider nicht beantworten. Gern helfe ich Ihnen bei Fragen zu Ihrem Fall und Ihren "
    "Zahlungen.",
}


class Configuration(StrEnum):
    NAIVE = "naive"
    HARDENED = "hardened"


@dataclass(frozen=True, slots=True)
class AssistantSettings:
    configuration: Configuration = Configuration.HARDENED
    policy: Policy = Policy.BALANCED
    k: int = 3  # passages per answer
    max_tokens: int = 160
    max_tool_rounds: int = 1


@dataclass(frozen=True, slots=True)
class Reply:
    """The assistant's answer to one turn, with everything a judge or an audit needs to see."""

    content: str
    finish_reason: FinishReason
    outcomes: tuple[ToolOutcome, ...] = ()
    retrieved: tuple[Hit, ...] = ()
    input_detections: tuple[Detection, ...] = ()
    output_detections: tuple[Detection, ...] = ()
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def trace(self) -> dict[str, Any]:
        """The ``bastion`` extension of the API response: tool outcomes, retrieved chunks, detections."""
        return {
            "tool_results": [outcome.to_dict() for outcome in self.outcomes],
            "retrieved": [
                {"chunk_id": hit.chunk.chunk_id, "doc_id": hit.chunk.doc_id, "tenant_id": hit.chunk.tenant_id}
                for hit in self.retrieved
            ],
            "input_detections": [d.to_dict() for d in self.input_detections],
            "output_detections": [d.to_dict() for d in self.output_detections],
        }


class Assistant:
    """One configuration of the demo assistant over a database, a retrieval store and a model."""

    def __init__(
        self,
        settings: AssistantSettings,
        database: DemoDatabase,
        store: SQLiteRetrievalStore,
        model: LanguageModel,
    ) -> None:
        self.settings = settings
        self.database = database
        self.store = store
        self.model = model
        self.hardened = settings.configuration is Configuration.HARDENED
        self._input_scanner = Scanner.from_ids(["injection"], settings.policy) if self.hardened else None
        self._output_scanner = Scanner.from_ids(["leakage"], settings.policy) if self.hardened else None
        self._ingestor = Ingestor(store, scan=self.hardened, policy=settings.policy)

    @property
    def model_id(self) -> str:
        return f"bastion-demo-{self.settings.configuration.value}"

    def warm_up(self) -> None:
        """Load the model, the embedder and the detectors now rather than on the first request."""
        self.model.complete(Prompt("Below is a chat.", (Message(Role.USER, "Hello"),)), max_tokens=1)
        self.store.search_unrestricted("warm up", k=1)
        for scanner in (self._input_scanner, self._output_scanner):
            if scanner is not None:
                scanner.scan("warm up")

    # --- chat -------------------------------------------------------------------------------------------

    def reply(self, conversation: Conversation, principal: Principal) -> Reply:
        """Answer the last customer message of ``conversation`` for the authenticated ``principal``."""
        question = _last_user_text(conversation)
        tenant = self._tenant(principal)
        debtor = self.database.debtor(principal.subject) if principal.role is PrincipalRole.DEBTOR else None
        language = guess_language(question, _lang(debtor.language if debtor is not None else tenant.language))
        if self._input_scanner is not None:
            found = self._input_scanner.scan(question).detections
            if any(d.flagged for d in found):
                return Reply(_REFUSAL[_lang(language)], "content_filter", input_detections=found)

        cases = tuple(self.database.cases_of(principal))[:3]
        notes = () if self.hardened else tuple(n for c in cases for n in self.database.notes(c.case_id))
        hits = tuple(self._retrieve(question, principal))
        prompt = build_prompt(
            hardened=self.hardened,
            agency=self.database.agency_name(),
            tenant=tenant,
            debtor=debtor,
            cases=cases,
            notes=notes,
            passages=hits,
            client_system="" if self.hardened else _client_system(conversation),
        )
        turns = _turns(conversation)
        text, outcomes, finish, usage = self._generate(prompt, turns, examples_for(cases), principal)
        if self._output_scanner is None:
            return Reply(
                text, finish, tuple(outcomes), hits, prompt_tokens=usage[0], completion_tokens=usage[1]
            )
        checked, detections, refused = self._check_output(text, prompt, tenant, debtor)
        return Reply(
            _REFUSAL[_lang(language)] if refused else checked,
            "content_filter" if refused else finish,
            tuple(outcomes),
            hits,
            output_detections=detections,
            prompt_tokens=usage[0],
            completion_tokens=usage[1],
        )

    def _tenant(self, principal: Principal) -> TenantRecord:
        tenant = self.database.tenant(principal.tenant_id)
        if tenant is None:
            raise ConfigError(f"unknown tenant {principal.tenant_id!r} in the demo database")
        return tenant

    def _retrieve(self, question: str, principal: Principal) -> list[Hit]:
        if self.hardened:
            return self.store.search(question, principal, k=self.settings.k)
        return self.store.search_unrestricted(question, k=self.settings.k)

    def _generate(
        self,
        prompt: AssistantPrompt,
        turns: tuple[Message, ...],
        examples: tuple[Message, ...],
        principal: Principal,
    ) -> tuple[str, list[ToolOutcome], FinishReason, tuple[int, int]]:
        toolbox = Toolbox(self.database, principal, hardened=self.hardened)
        outcomes: list[ToolOutcome] = []
        prompt_tokens = completion_tokens = 0
        for round_number in range(self.settings.max_tool_rounds + 1):
            completion = self.model.complete(
                Prompt(prompt.instructions, turns, examples, prompt.context),
                max_tokens=self.settings.max_tokens,
            )
            prompt_tokens += completion.prompt_tokens
            completion_tokens += completion.completion_tokens
            text, calls = parse_actions(completion.text)
            if not calls or round_number == self.settings.max_tool_rounds:
                break
            results = [toolbox.run(call) for call in calls]
            outcomes.extend(results)
            action_lines = "\n".join(f"ACTION: {c.name} {c.raw_arguments}" for c in calls)
            turns = (
                *turns,
                Message(Role.ASSISTANT, action_lines),
                Message(Role.TOOL, json.dumps([r.result for r in results], ensure_ascii=False)),
            )
        if not text:
            text = _summary(outcomes)
        return text, outcomes, completion.finish_reason, (prompt_tokens, completion_tokens)

    def _check_output(
        self, text: str, prompt: AssistantPrompt, tenant: TenantRecord, debtor: DebtorRecord | None
    ) -> tuple[str, tuple[Detection, ...], bool]:
        assert self._output_scanner is not None
        context = ScanContext(
            protected_texts=(prompt.confidential,),
            canaries=(prompt.canary,),
            allowed_domains=(tenant.email_domain, self.database.agency_domain()),
        )
        detections = self._output_scanner.scan(text, context).detections
        flagged = [d for d in detections if d.flagged]
        if any(d.type in _REFUSE_TYPES for d in flagged):
            return text, detections, True
        own = _own_values(tenant, debtor)
        # flagged personal data and secrets that are not the caller's own, and every link to a host outside
        # the tenant's domains whatever its score (the red team found plain links getting through)
        candidates = [
            (d.span, d)
            for d in sorted(detections, key=lambda d: -d.score)
            if d.span is not None
            and (d.flagged or d.type in _LINK_TYPES)
            and _normalised(d.span.of(text)) not in own
        ]
        kept: list[tuple[Span, Detection]] = []
        for span, detection in candidates:  # best first; overlapping lower-scored spans are dropped
            if not any(span.overlaps(other) for other, _ in kept):
                kept.append((span, detection))
        for span, detection in sorted(kept, key=lambda pair: pair[0].start, reverse=True):
            label = detection.type.split(":", 1)[-1]
            text = text[: span.start] + f"[{label}]" + text[span.end :]
        return text, detections, False

    # --- uploads ----------------------------------------------------------------------------------------

    def upload(self, principal: Principal, filename: str, text: str) -> IngestResult:
        """A document the customer sends (a payment receipt, a letter, a dispute).

        Naive: stored as a public document of the tenant, unscanned, so every customer's retrieval can
        pick it up. Hardened: scanned (``indirect`` and ``pii``), owned by the uploading debtor, and
        quarantined when it carries hidden instructions.
        """
        if not text.strip():
            raise InputError("the uploaded document is empty")
        if len(text) > MAX_UPLOAD_CHARS:
            raise InputError(f"the uploaded document exceeds {MAX_UPLOAD_CHARS:,} characters")
        owner_acl = (
            Acl(Audience.DEBTOR, principal.subject)
            if self.hardened and principal.role is PrincipalRole.DEBTOR
            else Acl(Audience.STAFF)
            if self.hardened
            else Acl(Audience.PUBLIC)
        )
        name = filename.strip()[:120] or "upload.txt"
        document = Document(
            doc_id=f"{principal.tenant_id}/upload/{principal.subject}/{_digest(name, text)}",
            tenant_id=principal.tenant_id,
            title=name,
            text=text,
            acl=owner_acl,
            language=_lang(self._tenant(principal).language),
            source=f"upload:{name}",
            kind="upload",
        )
        return self._ingestor.ingest(document)


def _last_user_text(conversation: Conversation) -> str:
    message = conversation.last(Role.USER)
    if message is None or not message.content.strip():
        raise InputError("the conversation has no customer message to answer")
    if len(message.content) > MAX_MESSAGE_CHARS:
        raise InputError(f"the customer message exceeds {MAX_MESSAGE_CHARS:,} characters")
    return message.content


def _turns(conversation: Conversation) -> tuple[Message, ...]:
    chat = [m for m in conversation if m.role in (Role.USER, Role.ASSISTANT) and m.content.strip()]
    return tuple(chat[-MAX_TURNS:])


def _client_system(conversation: Conversation) -> str:
    return "\n".join(m.content for m in conversation if m.role in (Role.SYSTEM, Role.DEVELOPER))


def _summary(outcomes: Sequence[ToolOutcome]) -> str:
    if not outcomes:
        return "How can I help you with your case?"
    parts = []
    for outcome in outcomes:
        if outcome.status == "executed":
            parts.append(f"{outcome.call.name}: done.")
        else:
            parts.append(f"{outcome.call.name}: not possible ({outcome.reason}).")
    return " ".join(parts)


def _lang(language: str) -> str:
    return "de" if language == "de" else "en"


def _normalised(value: str) -> str:
    return "".join(value.split()).casefold()


def _own_values(tenant: TenantRecord, debtor: DebtorRecord | None) -> frozenset[str]:
    """What the assistant may repeat: the tenant's published contact and bank data, the debtor's own data."""
    values: tuple[str, ...] = (tenant.creditor_iban, tenant.support_email, tenant.phone, tenant.creditor_bic)
    if debtor is None:
        return frozenset(_normalised(v) for v in values if v)
    values += (
        debtor.full_name,
        debtor.first_name,
        debtor.last_name,
        debtor.email,
        debtor.phone,
        debtor.iban,
        debtor.address.street,
        f"{debtor.address.postcode} {debtor.address.city}",
        debtor.birth_date.isoformat(),
    )
    return frozenset(_normalised(v) for v in values if v)


def _digest(name: str, text: str) -> str:
    return hashlib.sha256(f"{name}\0{text}".encode()).hexdigest()[:16]
