"""The vocabulary of secure retrieval: who asks (:class:`Principal`), what may be seen (:class:`Acl`), and
what is stored and found (:class:`Document`, :class:`Chunk`, :class:`Hit`).

Access is decided by three fields on every chunk, ``tenant_id``, ``audience`` and ``owner``, and the
principal's :meth:`Principal.may_read` rule. Stores enforce the same rule inside their query; ``may_read``
is the reference the tests compare them with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Acl", "Audience", "Chunk", "Document", "Hit", "Principal", "PrincipalRole"]


class Audience(StrEnum):
    """Who inside a tenant may read a document."""

    PUBLIC = "public"  # every authenticated principal of the tenant (FAQ, payment instructions)
    DEBTOR = "debtor"  # only the debtor who owns it (letters to that debtor, their uploads) and staff
    STAFF = "staff"  # only the tenant's agents (internal guidelines, negotiation limits)


class PrincipalRole(StrEnum):
    DEBTOR = "debtor"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class Acl:
    """A document's audience; ``owner`` is the debtor id for :attr:`Audience.DEBTOR`, else empty."""

    audience: Audience
    owner: str = ""

    def __post_init__(self) -> None:
        if (self.audience is Audience.DEBTOR) != bool(self.owner):
            raise ValueError("a DEBTOR acl needs an owner; other audiences must not have one")


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. It comes from the server's authentication, never from the model or the
    request body."""

    tenant_id: str
    subject: str  # debtor id or agent id
    role: PrincipalRole

    def __post_init__(self) -> None:
        if not self.tenant_id or not self.subject:
            raise ValueError("a principal needs a tenant and a subject")

    def may_read(self, tenant_id: str, acl: Acl) -> bool:
        """The access rule, in Python, for tests and documentation (stores apply it in their query)."""
        if tenant_id != self.tenant_id:
            return False
        if self.role is PrincipalRole.AGENT:
            return True
        if acl.audience is Audience.PUBLIC:
            return True
        return acl.audience is Audience.DEBTOR and acl.owner == self.subject


@dataclass(frozen=True, slots=True)
class Document:
    """A source document before chunking."""

    doc_id: str
    tenant_id: str
    title: str
    text: str
    acl: Acl
    language: str = "en"  # "en" | "de"
    source: str = ""  # where it came from: a package path, an upload file name, a URL
    kind: str = ""  # "faq", "letter", "payment_instructions", "guideline", "upload", ...


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrievable piece of a document with its provenance."""

    chunk_id: str
    doc_id: str
    tenant_id: str
    acl: Acl
    text: str
    position: int  # index of the chunk within its document
    source: str
    sha256: str  # of ``text``
    ingested_at: str  # ISO 8601, UTC
    title: str = ""
    language: str = "en"


@dataclass(frozen=True, slots=True)
class Hit:
    """A chunk found by a search, with its fused score and the rank it had in each retriever."""

    chunk: Chunk
    score: float
    ranks: dict[str, int] = field(default_factory=dict)  # e.g. {"vector": 1, "keyword": 4}
