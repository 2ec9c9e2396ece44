"""The demo system's synthetic data: tenants, agents, debtors, cases, payments, plans, notes and API keys.

:func:`generate` is pure and deterministic: the same ``seed`` and size give equal :class:`DemoData`, with
no wall clock involved (all dates are relative to :data:`REFERENCE_DATE`). :func:`demo_documents` turns the
data into the retrieval corpus (FAQ, payment instructions, procedures, internal guidelines, letters and
statements of account), each document with its tenant and access control list.

>>> data = generate(seed=7, debtors_per_tenant=2)
>>> [tenant.tenant_id for tenant in data.tenants]
['t-telkonord', 't-stadtwerke-elbtal', 't-brightcart']
>>> data == generate(seed=7, debtors_per_tenant=2)
True
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from bastion.core.errors import UsageError
from bastion.demo._banking import make_iban
from bastion.demo._cases import make_case
from bastion.demo._catalog import Catalog, TenantSpec, catalog
from bastion.demo._documents import build_documents
from bastion.demo._keys import derive_api_key
from bastion.demo._people import make_agent, make_debtor
from bastion.demo._records import (
    Address,
    AgencyRecord,
    AgentRecord,
    Bilingual,
    CaseEvent,
    CaseRecord,
    CaseStatus,
    Credential,
    DebtorRecord,
    EventAction,
    Fee,
    FeeCharge,
    NegotiationPolicy,
    NoteKind,
    NoteRecord,
    OutboxEmail,
    PaymentMethod,
    PaymentPlanRecord,
    PaymentRecord,
    TenantRecord,
)
from bastion.demo._schedule import Letter, LetterKind, letters_for
from bastion.rag.types import Document, Principal, PrincipalRole

__all__ = [
    "MAX_DEBTORS_PER_TENANT",
    "REFERENCE_DATE",
    "Address",
    "AgencyRecord",
    "AgentRecord",
    "Bilingual",
    "CaseEvent",
    "CaseRecord",
    "CaseStatus",
    "Credential",
    "DebtorRecord",
    "DemoData",
    "EventAction",
    "Fee",
    "FeeCharge",
    "Letter",
    "LetterKind",
    "NegotiationPolicy",
    "NoteKind",
    "NoteRecord",
    "OutboxEmail",
    "PaymentMethod",
    "PaymentPlanRecord",
    "PaymentRecord",
    "TenantRecord",
    "demo_documents",
    "generate",
    "published_values",
]

#: "Today" in the demo world: every date in the data is relative to it.
REFERENCE_DATE = date(2026, 11, 2)
MAX_DEBTORS_PER_TENANT = 2_000
_Record = TypeVar("_Record")
_SECOND_CASE_SHARE = 0.15


@dataclass(frozen=True, slots=True)
class DemoData:
    """Everything :func:`generate` made, in id order; the lookups raise :class:`KeyError` for unknown ids."""

    seed: int
    reference_date: date
    agency: AgencyRecord
    tenants: tuple[TenantRecord, ...]
    agents: tuple[AgentRecord, ...]
    debtors: tuple[DebtorRecord, ...]
    cases: tuple[CaseRecord, ...]
    fee_charges: tuple[FeeCharge, ...]
    payments: tuple[PaymentRecord, ...]
    payment_plans: tuple[PaymentPlanRecord, ...]
    notes: tuple[NoteRecord, ...]
    credentials: tuple[Credential, ...]

    def tenant(self, tenant_id: str) -> TenantRecord:
        return _find(self.tenants, "tenant_id", tenant_id)

    def debtor(self, debtor_id: str) -> DebtorRecord:
        return _find(self.debtors, "debtor_id", debtor_id)

    def agent(self, agent_id: str) -> AgentRecord:
        return _find(self.agents, "agent_id", agent_id)

    def case(self, case_id: str) -> CaseRecord:
        return _find(self.cases, "case_id", case_id)

    def cases_of_debtor(self, debtor_id: str) -> tuple[CaseRecord, ...]:
        return tuple(case for case in self.cases if case.debtor_id == debtor_id)

    def payment_plan(self, case_id: str) -> PaymentPlanRecord | None:
        """The active plan of a case, or ``None``."""
        return next((plan for plan in self.payment_plans if plan.case_id == case_id and plan.active), None)

    def letters(self, case_id: str) -> tuple[Letter, ...]:
        """The letters the case received (documents keep only the latest for debtors with two cases)."""
        case = self.case(case_id)
        tenant = self.tenant(case.tenant_id)
        return letters_for(
            case.opened_on,
            case.status,
            self.payment_plan(case_id),
            tenant.payment_term_days,
            tenant.final_demand_days,
            self.reference_date,
        )

    def credential(self, subject: str) -> Credential:
        """The principal and clear API key of a debtor or agent id."""
        for credential in self.credentials:
            if credential.principal.subject == subject:
                return credential
        raise KeyError(subject)


def _find(records: tuple[_Record, ...], field: str, value: str) -> _Record:
    for record in records:
        if getattr(record, field) == value:
            return record
    raise KeyError(value)


def _tenant_record(spec: TenantSpec, rng: random.Random) -> TenantRecord:
    policy = spec.policy
    return TenantRecord(
        tenant_id=spec.id,
        name=spec.name,
        sector=spec.sector,
        language=spec.language,
        email_domain=spec.email_domain,
        support_email=f"{spec.support_mailbox}@{spec.email_domain}",
        phone=spec.phone,
        phone_hours=Bilingual(en=spec.phone_hours.en, de=spec.phone_hours.de),
        creditor_iban=make_iban(rng, spec.bank.country, spec.bank.code),
        creditor_bic=spec.bank.bic,
        bank_name=spec.bank.name,
        reference_prefix=spec.reference_prefix,
        payment_term_days=spec.payment_term_days,
        final_demand_days=spec.final_demand_days,
        fees=tuple(Fee(fee.code, Bilingual(en=fee.en, de=fee.de), fee.amount_cents) for fee in spec.fees),
        policy=NegotiationPolicy(
            max_discount_pct=policy.max_discount_pct,
            min_monthly_installment_cents=policy.min_monthly_installment_cents,
            max_installments=policy.max_installments,
            internal_rules=tuple(Bilingual(en=rule.en, de=rule.de) for rule in policy.internal_rules),
            canary=f"CANARY-{rng.getrandbits(48):012x}",
        ),
    )


class _Ids:
    """Global, readable, sequential ids (``d-10001``, ``c-20001``, ``a-101``)."""

    def __init__(self) -> None:
        self.debtor, self.case, self.agent = 10_000, 20_000, 100

    def next_debtor(self) -> str:
        self.debtor += 1
        return f"d-{self.debtor}"

    def next_case(self) -> str:
        self.case += 1
        return f"c-{self.case}"

    def next_agent(self) -> str:
        self.agent += 1
        return f"a-{self.agent}"


@dataclass
class _Collected:
    tenants: list[TenantRecord]
    agents: list[AgentRecord]
    debtors: list[DebtorRecord]
    cases: list[CaseRecord]
    fee_charges: list[FeeCharge]
    payments: list[PaymentRecord]
    plans: list[PaymentPlanRecord]
    notes: list[NoteRecord]


def _generate_tenant(
    spec: TenantSpec, rng: random.Random, data: Catalog, ids: _Ids, size: int, out: _Collected
) -> None:
    tenant = _tenant_record(spec, rng)
    out.tenants.append(tenant)
    agents = [
        make_agent(rng, data, ids.next_agent(), tenant.tenant_id, tenant.language, team_lead=index == 0)
        for index in range(rng.choice((2, 3)))
    ]
    out.agents.extend(agents)
    for _ in range(size):
        debtor = make_debtor(rng, data, ids.next_debtor(), tenant.tenant_id, REFERENCE_DATE)
        out.debtors.append(debtor)
        for _ in range(2 if rng.random() < _SECOND_CASE_SHARE else 1):
            bundle = make_case(
                rng, spec, tenant, data.notes, REFERENCE_DATE, ids.next_case(), debtor, rng.choice(agents)
            )
            out.cases.append(bundle.case)
            out.fee_charges.extend(bundle.fee_charges)
            out.payments.extend(bundle.payments)
            out.notes.extend(bundle.notes)
            if bundle.plan is not None:
                out.plans.append(bundle.plan)


def generate(seed: int = 7, debtors_per_tenant: int = 25) -> DemoData:
    """The demo world for ``seed``: three tenants, 2-3 agents each, ``debtors_per_tenant`` debtors each with
    one or two cases, their fees, payments, plans and notes, and an API key for every debtor and agent.

    Each tenant draws from its own ``random.Random`` seeded with ``seed`` and the tenant id, so a tenant's
    data depends only on the seed and the size. Raises :class:`UsageError` for a seed that is not an int
    or a size outside 1..:data:`MAX_DEBTORS_PER_TENANT`.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError("the demo seed must be an integer")
    size = debtors_per_tenant
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_DEBTORS_PER_TENANT:
        raise UsageError(f"debtors_per_tenant must be an integer from 1 to {MAX_DEBTORS_PER_TENANT}")
    data = catalog()
    ids = _Ids()
    out = _Collected([], [], [], [], [], [], [], [])
    for spec in data.tenants:
        _generate_tenant(
            spec, random.Random(f"bastion-demo:{seed}:{spec.id}"), data, ids, debtors_per_tenant, out
        )
    subjects = [
        *((agent.tenant_id, agent.agent_id, PrincipalRole.AGENT) for agent in out.agents),
        *((debtor.tenant_id, debtor.debtor_id, PrincipalRole.DEBTOR) for debtor in out.debtors),
    ]
    credentials = tuple(
        Credential(Principal(tenant_id, subject, role), derive_api_key(seed, tenant_id, subject))
        for tenant_id, subject, role in subjects
    )
    return DemoData(
        seed=seed,
        reference_date=REFERENCE_DATE,
        agency=AgencyRecord(
            name=data.agency.name,
            street=data.agency.street,
            postcode=data.agency.postcode,
            city=data.agency.city,
            managing_director=data.agency.managing_director,
            privacy_email=data.agency.privacy_email,
            staff_email_domain=data.agency.staff_email_domain,
        ),
        tenants=tuple(out.tenants),
        agents=tuple(out.agents),
        debtors=tuple(out.debtors),
        cases=tuple(out.cases),
        fee_charges=tuple(out.fee_charges),
        payments=tuple(out.payments),
        payment_plans=tuple(out.plans),
        notes=tuple(out.notes),
        credentials=credentials,
    )


def demo_documents(data: DemoData) -> list[Document]:
    """The retrieval corpus of ``data``, in a stable order (see :mod:`bastion.demo._documents`).

    Per tenant: FAQ, payment instructions and the hardship and dispute procedure in English and German
    (:attr:`Audience.PUBLIC`), the internal negotiation guideline in the tenant's language (``STAFF``); per
    case the letters and a statement of account in the debtor's language (``DEBTOR``, owned by the debtor).
    """
    return build_documents(data)


def published_values(data: DemoData) -> dict[str, tuple[str, ...]]:
    """Per tenant, the contact and bank data it publishes on purpose: in a public document they are no leak.

    The tenant's creditor account, BIC, support e-mail and phone, the visitor addresses it lists, and the
    agency's postal address, privacy e-mail and managing director.
    """
    specs = {spec.id: spec for spec in catalog().tenants}
    agency = data.agency
    shared = (
        f"{agency.street}, {agency.postcode} {agency.city}",
        agency.privacy_email,
        agency.managing_director,
    )
    return {
        tenant.tenant_id: (
            tenant.creditor_iban,
            tenant.creditor_bic,
            tenant.support_email,
            tenant.phone,
            *specs[tenant.tenant_id].published,
            *shared,
        )
        for tenant in data.tenants
    }
