"""The records of the demo system: what the generator creates, the database stores and the tools read.

All records are frozen dataclasses with ``slots``; amounts are integers in cents (currency EUR), dates are
:class:`datetime.date` and timestamps timezone-aware :class:`datetime.datetime` in UTC. Ids are stable
strings: tenants ``t-…``, agents ``a-…``, debtors ``d-…``, cases ``c-…``, payments ``p-…``, payment plans
``pp-…``, notes ``n-…``.

Fields marked *confidential* (a tenant's :class:`NegotiationPolicy`, every :class:`NoteRecord`) belong in the
assistant's system prompt or in staff views only; a reply that repeats them to a debtor is a leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from bastion.rag.types import Principal

__all__ = [
    "Address",
    "AgencyRecord",
    "AgentRecord",
    "Bilingual",
    "CaseEvent",
    "CaseRecord",
    "CaseStatus",
    "Credential",
    "DebtorRecord",
    "EventAction",
    "Fee",
    "FeeCharge",
    "NegotiationPolicy",
    "NoteKind",
    "NoteRecord",
    "OutboxEmail",
    "PaymentMethod",
    "PaymentPlanRecord",
    "PaymentRecord",
    "TenantRecord",
]


class CaseStatus(StrEnum):
    """Where a collection case stands."""

    OPEN = "open"
    PAYMENT_PLAN = "payment_plan"
    DISPUTED = "disputed"
    CLOSED = "closed"


class PaymentMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    DIRECT_DEBIT = "direct_debit"
    CARD = "card"


class NoteKind(StrEnum):
    """The topic of an agent's internal note."""

    HARDSHIP = "hardship"
    DISCOUNT = "discount"
    DISPUTE = "dispute"
    CALLBACK = "callback"
    PAYMENT_PROMISE = "payment_promise"
    PAYMENT_PLAN = "payment_plan"
    CONTACT = "contact"
    IDENTITY = "identity"


class EventAction(StrEnum):
    """What a tool did to a case; every database write records one."""

    PAYMENT_PLAN_SET = "payment_plan_set"
    CASE_CLOSED = "case_closed"
    EMAIL_QUEUED = "email_queued"


@dataclass(frozen=True, slots=True)
class Bilingual:
    """One text in English and German."""

    en: str
    de: str

    def in_language(self, language: str) -> str:
        """The German text for ``"de"``, the English text for anything else."""
        return self.de if language == "de" else self.en


@dataclass(frozen=True, slots=True)
class Fee:
    """A line of a tenant's fee table."""

    code: str  # "reminder", "collection_flat", "returned_debit", ...
    label: Bilingual
    amount_cents: int


@dataclass(frozen=True, slots=True)
class NegotiationPolicy:
    """*Confidential* limits and rules of a tenant: the system prompt carries them, debtors must not see them.

    ``canary`` (``"CANARY-"`` + 12 hex digits) appears nowhere but in the system prompt.
    """

    max_discount_pct: int
    min_monthly_installment_cents: int
    max_installments: int
    internal_rules: tuple[Bilingual, ...]
    canary: str


@dataclass(frozen=True, slots=True)
class AgencyRecord:
    """The collection agency that runs the assistant for all tenants."""

    name: str
    street: str
    postcode: str
    city: str
    managing_director: str
    privacy_email: str
    staff_email_domain: str


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A client company on whose behalf the agency collects."""

    tenant_id: str
    name: str
    sector: str  # "telecom", "energy", "retail"
    language: str  # the tenant's working language, "de" | "en"
    email_domain: str
    support_email: str
    phone: str
    phone_hours: Bilingual
    creditor_iban: str  # compact, upper case, valid check digits
    creditor_bic: str
    bank_name: str
    reference_prefix: str  # the start of the tenant's creditor references, e.g. "TKN"
    payment_term_days: int  # deadline of a payment reminder
    final_demand_days: int  # deadline of a final demand
    fees: tuple[Fee, ...]
    policy: NegotiationPolicy

    def fee(self, code: str) -> Fee:
        """The fee with ``code``; :class:`KeyError` if the tenant has none."""
        for fee in self.fees:
            if fee.code == code:
                return fee
        raise KeyError(code)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A member of the agency's staff working on one tenant's cases."""

    agent_id: str
    tenant_id: str
    name: str
    email: str
    language: str
    team_lead: bool


@dataclass(frozen=True, slots=True)
class Address:
    street: str  # street and house number
    postcode: str
    city: str
    country: str  # ISO 3166 alpha-2

    def lines(self) -> tuple[str, ...]:
        """The address as printed under the name on a letter (UK style puts the postcode last)."""
        if self.country in ("GB", "IE"):
            return (self.street, self.city, self.postcode)
        return (self.street, f"{self.postcode} {self.city}")


@dataclass(frozen=True, slots=True)
class DebtorRecord:
    """A person who owes one of the tenants money."""

    debtor_id: str
    tenant_id: str
    first_name: str
    last_name: str
    salutation: str  # "mr" | "ms" | "" (none given)
    address: Address
    birth_date: date
    email: str
    phone: str
    iban: str  # the debtor's own account, compact, valid check digits
    language: str  # preferred language, "de" | "en"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A claim handed over for collection.

    ``outstanding_cents`` is what is still owed: ``original_amount_cents + fees_cents`` minus the payments,
    unless the case was closed (then it is 0 after full payment, or what was left when it was closed).
    ``due_on`` is the payment deadline of the latest letter.
    """

    case_id: str
    tenant_id: str
    debtor_id: str
    agent_id: str  # the agent in charge
    creditor_reference: str
    subject: Bilingual  # what the claim is for, e.g. "mobile phone bill March 2026"
    original_amount_cents: int
    fees_cents: int
    outstanding_cents: int
    currency: str
    opened_on: date
    due_on: date
    status: CaseStatus
    closed_reason: str = ""


@dataclass(frozen=True, slots=True)
class FeeCharge:
    """A fee of the tenant's table charged to a case; a case's ``fees_cents`` is the sum of its charges."""

    case_id: str
    fee_code: str
    amount_cents: int
    charged_on: date


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    payment_id: str
    case_id: str
    amount_cents: int
    paid_on: date
    method: PaymentMethod


@dataclass(frozen=True, slots=True)
class PaymentPlanRecord:
    """An agreed instalment plan; only one per case is ``active``."""

    plan_id: str
    case_id: str
    monthly_cents: int
    installments: int
    first_due_on: date
    created_by: str  # agent id, debtor id or tool actor
    created_at: datetime
    active: bool


@dataclass(frozen=True, slots=True)
class NoteRecord:
    """An agent's *confidential* internal note on a case."""

    note_id: str
    case_id: str
    author_id: str
    kind: NoteKind
    language: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    """A principal and the clear API key it authenticates with (the database keeps only its SHA-256)."""

    principal: Principal
    api_key: str


@dataclass(frozen=True, slots=True)
class OutboxEmail:
    """An e-mail a tool queued; the demo never sends mail, it only stores it here."""

    email_id: int
    tenant_id: str
    case_id: str | None
    recipient: str
    subject: str
    body: str
    actor: str
    queued_at: datetime


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One audited tool action: who (``actor``) did what to which case, with a short detail text."""

    event_id: int
    tenant_id: str
    case_id: str | None
    actor: str
    action: EventAction
    detail: str
    occurred_at: datetime
