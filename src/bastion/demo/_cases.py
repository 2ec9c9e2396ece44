"""Synthetic collection cases with their fees, payments, payment plan and agents' notes.

The amounts add up: a case owes ``original + fees`` and ``outstanding = original + fees - payments`` for
every case that is not closed; closed cases were paid in full or settled with a discount within the
tenant's limit (outstanding 0). Plans respect the tenant's minimum instalment and maximum number of
instalments. Notes fit the case's status and never promise more discount than the tenant allows.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bastion.demo._catalog import TenantSpec, Text
from bastion.demo._locale import format_date, format_money, month_name
from bastion.demo._records import (
    AgentRecord,
    Bilingual,
    CaseRecord,
    CaseStatus,
    DebtorRecord,
    FeeCharge,
    NoteKind,
    NoteRecord,
    PaymentMethod,
    PaymentPlanRecord,
    PaymentRecord,
    TenantRecord,
)
from bastion.demo._schedule import Letter, LetterKind, add_months, letters_for

__all__ = ["CaseBundle", "make_case"]

_STATUS_WEIGHTS = {
    CaseStatus.OPEN: 45,
    CaseStatus.PAYMENT_PLAN: 25,
    CaseStatus.DISPUTED: 12,
    CaseStatus.CLOSED: 18,
}
_NOTE_KINDS: dict[CaseStatus, tuple[NoteKind, ...]] = {
    CaseStatus.OPEN: (
        NoteKind.CONTACT,
        NoteKind.CALLBACK,
        NoteKind.PAYMENT_PROMISE,
        NoteKind.IDENTITY,
        NoteKind.DISCOUNT,
        NoteKind.HARDSHIP,
    ),
    CaseStatus.PAYMENT_PLAN: (NoteKind.HARDSHIP, NoteKind.CALLBACK, NoteKind.IDENTITY),
    CaseStatus.DISPUTED: (NoteKind.CONTACT, NoteKind.IDENTITY, NoteKind.CALLBACK),
    CaseStatus.CLOSED: (NoteKind.CONTACT,),
}
_DISCOUNT_STEPS = (5, 10, 15, 20, 25, 30)
_CALL_TIMES = ("08:30", "12:15", "16:00", "17:30", "18:45")
_REFERENCE_DIGITS = re.compile(r"\{n(\d+)\}")


@dataclass(frozen=True, slots=True)
class CaseBundle:
    """A case and everything that hangs off it."""

    case: CaseRecord
    fee_charges: tuple[FeeCharge, ...]
    payments: tuple[PaymentRecord, ...]
    plan: PaymentPlanRecord | None
    notes: tuple[NoteRecord, ...]


def _reference(rng: random.Random, pattern: str, opened_on: date) -> str:
    def digits(match: re.Match[str]) -> str:
        return "".join(rng.choice("0123456789") for _ in range(int(match.group(1))))

    filled = _REFERENCE_DIGITS.sub(digits, pattern)
    return filled.replace("{year}", str(opened_on.year)).replace("{yy}", f"{opened_on.year % 100:02d}")


def _subject(rng: random.Random, spec: TenantSpec, reference: str, period: date) -> tuple[Bilingual, int]:
    product = rng.choice(spec.products)
    item = rng.choice(spec.items) if spec.items else None

    def fill(template: str, language: str) -> str:
        return (
            template.replace("{month}", month_name(period.month, language))
            .replace("{year}", str(period.year))
            .replace("{order}", reference)
            .replace("{item}", "" if item is None else item.de if language == "de" else item.en)
        )

    amount = rng.randint(product.min_cents, product.max_cents)
    return Bilingual(en=fill(product.en, "en"), de=fill(product.de, "de")), amount


def _plan_terms(total: int, tenant: TenantRecord, rng: random.Random) -> tuple[int, int]:
    """(monthly cents, instalments) within the tenant's limits; at least two instalments."""
    policy = tenant.policy
    wanted = rng.randint(min(3, policy.max_installments), policy.max_installments)
    monthly = max(-(-total // wanted // 100) * 100, policy.min_monthly_installment_cents)
    count = -(-total // monthly)
    if count > policy.max_installments:
        monthly = -(-total // policy.max_installments // 100) * 100
        count = -(-total // monthly)
    if count < 2:
        monthly, count = -(-total // 2), 2
    return monthly, count


def _timestamp(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(rng.randint(7, 17), rng.randint(0, 59)), tzinfo=UTC)


def _between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


class _CaseBuilder:
    """Builds one case; a class only to share the many inputs between the steps."""

    def __init__(
        self,
        rng: random.Random,
        spec: TenantSpec,
        tenant: TenantRecord,
        notes: dict[str, tuple[Text, ...]],
        today: date,
    ) -> None:
        self.rng, self.spec, self.tenant, self.note_templates, self.today = rng, spec, tenant, notes, today

    def build(self, case_id: str, debtor: DebtorRecord, agent: AgentRecord) -> CaseBundle:
        rng, tenant, today = self.rng, self.tenant, self.today
        number = case_id.removeprefix("c-")
        status = rng.choices(tuple(_STATUS_WEIGHTS), weights=tuple(_STATUS_WEIGHTS.values()))[0]
        opened_on = today - timedelta(days=rng.randint(20, 420))
        reference = _reference(rng, self.spec.reference_format, opened_on)
        period = add_months(opened_on.replace(day=1), -rng.randint(1, 3))
        subject, original = _subject(rng, self.spec, reference, period)
        letters = letters_for(
            opened_on, status, None, tenant.payment_term_days, tenant.final_demand_days, today
        )
        charges = self._fees(case_id, opened_on, letters)
        total = original + sum(charge.amount_cents for charge in charges)
        plan: PaymentPlanRecord | None = None
        payments: list[PaymentRecord] = []
        closed_reason = ""
        due_on = letters[-1].due_on if status is CaseStatus.OPEN else letters[0].due_on
        if status is CaseStatus.PAYMENT_PLAN:
            setup = tenant.fee("plan_setup").amount_cents
            total += setup
            plan, payments = self._make_plan(case_id, number, total, letters[0].dated, agent)
            if setup > 0:
                charges.append(FeeCharge(case_id, "plan_setup", setup, plan.created_at.date()))
            due_on = add_months(plan.first_due_on, len(payments))
        elif status is CaseStatus.CLOSED:
            payments, closed_reason = self._settle(case_id, number, total, letters[0].dated)
        elif rng.random() < (0.3 if status is CaseStatus.OPEN else 0.15):
            share = rng.uniform(0.1, 0.4)
            payments = [self._payment(case_id, number, 1, round(total * share), letters[0].dated)]
        paid = sum(payment.amount_cents for payment in payments)
        outstanding = 0 if status is CaseStatus.CLOSED else total - paid
        case = CaseRecord(
            case_id=case_id,
            tenant_id=tenant.tenant_id,
            debtor_id=debtor.debtor_id,
            agent_id=agent.agent_id,
            creditor_reference=reference,
            subject=subject,
            original_amount_cents=original,
            fees_cents=total - original,
            outstanding_cents=outstanding,
            currency="EUR",
            opened_on=opened_on,
            due_on=due_on,
            status=status,
            closed_reason=closed_reason,
        )
        notes = self._notes(case, debtor, agent, plan, period, letters[0].dated, closed_reason)
        return CaseBundle(case, tuple(charges), tuple(payments), plan, notes)

    def _fees(self, case_id: str, opened_on: date, letters: tuple[Letter, ...]) -> list[FeeCharge]:
        """Collection flat rate, a reminder fee per reminder or final demand, sometimes a returned debit."""
        tenant = self.tenant
        charges = [
            FeeCharge(case_id, "collection_flat", tenant.fee("collection_flat").amount_cents, opened_on)
        ]
        if self.rng.random() < 0.15:
            charges.append(
                FeeCharge(case_id, "returned_debit", tenant.fee("returned_debit").amount_cents, opened_on)
            )
        for letter in letters:
            if letter.kind in (LetterKind.REMINDER, LetterKind.FINAL_DEMAND):
                charges.append(
                    FeeCharge(case_id, "reminder", tenant.fee("reminder").amount_cents, letter.dated)
                )
        return charges

    def _payment(self, case_id: str, number: str, index: int, cents: int, after: date) -> PaymentRecord:
        method = self.rng.choice(
            (PaymentMethod.BANK_TRANSFER, PaymentMethod.BANK_TRANSFER, PaymentMethod.CARD)
        )
        paid_on = _between(self.rng, after, self.today - timedelta(days=1))
        return PaymentRecord(f"p-{number}-{index}", case_id, cents, paid_on, method)

    def _make_plan(
        self, case_id: str, number: str, total: int, reminder_on: date, agent: AgentRecord
    ) -> tuple[PaymentPlanRecord, list[PaymentRecord]]:
        """A running plan: between none and all but one instalments are already due (and paid)."""
        rng, today = self.rng, self.today
        monthly, count = _plan_terms(total, self.tenant, rng)
        next_slot = today.replace(day=15) if today.day < 15 else add_months(today.replace(day=1), 1)
        already_due = rng.randint(0, count - 1)
        while True:
            first_due = add_months(next_slot, -already_due)
            created = first_due - timedelta(days=rng.randint(14, 20))
            if created > reminder_on or already_due == 0:
                break
            already_due -= 1
        created = min(max(created, reminder_on + timedelta(days=1)), today - timedelta(days=1))
        plan = PaymentPlanRecord(
            plan_id=f"pp-{number}",
            case_id=case_id,
            monthly_cents=monthly,
            installments=count,
            first_due_on=first_due,
            created_by=agent.agent_id,
            created_at=_timestamp(rng, created),
            active=True,
        )
        payments = []
        for index in range(already_due):
            due = add_months(first_due, index)
            paid_on = min(due + timedelta(days=rng.randint(0, 3)), today - timedelta(days=1))
            payments.append(
                PaymentRecord(
                    f"p-{number}-{index + 1}", case_id, monthly, paid_on, PaymentMethod.DIRECT_DEBIT
                )
            )
        return plan, payments

    def _settle(self, case_id: str, number: str, total: int, after: date) -> tuple[list[PaymentRecord], str]:
        allowed = [step for step in _DISCOUNT_STEPS if step <= self.tenant.policy.max_discount_pct]
        if allowed and self.rng.random() < 0.3:
            discount = self.rng.choice(allowed)
            payment = self._payment(case_id, number, 1, total * (100 - discount) // 100, after)
            return [payment], f"settled: {discount} % discount for a single payment"
        first_share = self.rng.choice((0, 0, 30, 50))
        if first_share == 0:
            return [self._payment(case_id, number, 1, total, after)], "paid in full"
        first = self._payment(case_id, number, 1, total * first_share // 100, after)
        second = self._payment(case_id, number, 2, total - first.amount_cents, first.paid_on)
        return [first, second], "paid in full"

    def _notes(
        self,
        case: CaseRecord,
        debtor: DebtorRecord,
        agent: AgentRecord,
        plan: PaymentPlanRecord | None,
        period: date,
        since: date,
        closed_reason: str,
    ) -> tuple[NoteRecord, ...]:
        rng = self.rng
        status = case.status
        kinds: list[NoteKind] = []
        if status is CaseStatus.PAYMENT_PLAN:
            kinds.append(NoteKind.PAYMENT_PLAN)
        elif status is CaseStatus.DISPUTED:
            kinds.append(NoteKind.DISPUTE)
        elif status is CaseStatus.CLOSED and closed_reason.startswith("settled"):
            kinds.append(NoteKind.DISCOUNT)
        extra = rng.randint(0, 1) if status is not CaseStatus.OPEN else rng.randint(1, 2)
        options = [kind for kind in _NOTE_KINDS[status] if kind not in kinds]
        kinds.extend(rng.sample(options, min(extra, len(options))))
        notes = []
        for index, kind in enumerate(kinds, start=1):
            language = self._note_language(debtor)
            written = _between(rng, since, self.today - timedelta(days=1))
            template = rng.choice(self.note_templates[kind.value])
            values = self._note_values(case, agent, plan, period, written, language, closed_reason)
            text = template.de if language == "de" else template.en
            for name, value in values.items():
                text = text.replace("{" + name + "}", value)
            notes.append(
                NoteRecord(
                    note_id=f"n-{case.case_id.removeprefix('c-')}-{index}",
                    case_id=case.case_id,
                    author_id=agent.agent_id,
                    kind=kind,
                    language=language,
                    text=text,
                    created_at=_timestamp(rng, written),
                )
            )
        notes.sort(key=lambda note: (note.created_at, note.note_id))
        return tuple(notes)

    def _note_language(self, debtor: DebtorRecord) -> str:
        tenant_language = self.tenant.language
        if debtor.language != tenant_language and self.rng.random() < 0.4:
            return debtor.language
        return tenant_language

    def _note_values(
        self,
        case: CaseRecord,
        agent: AgentRecord,
        plan: PaymentPlanRecord | None,
        period: date,
        written: date,
        language: str,
        closed_reason: str,
    ) -> dict[str, str]:
        rng = self.rng
        allowed = [step for step in _DISCOUNT_STEPS if step <= self.tenant.policy.max_discount_pct] or [0]
        discount = rng.choice(allowed)
        settled = re.search(r"(\d+) %", closed_reason)
        if settled:
            discount = int(settled.group(1))
        return {
            "discount": str(discount),
            "amount": format_money(
                case.outstanding_cents or case.original_amount_cents + case.fees_cents, language
            ),
            "date": format_date(written + timedelta(days=rng.randint(3, 21)), language),
            "past_date": format_date(written - timedelta(days=rng.randint(1, 10)), language),
            "month": month_name(period.month, language),
            "installments": str(plan.installments if plan else 0),
            "monthly": format_money(plan.monthly_cents if plan else 0, language),
            "time": rng.choice(_CALL_TIMES),
            "agent": agent.name.split()[0],
        }


def make_case(
    rng: random.Random,
    spec: TenantSpec,
    tenant: TenantRecord,
    notes: dict[str, tuple[Text, ...]],
    today: date,
    case_id: str,
    debtor: DebtorRecord,
    agent: AgentRecord,
) -> CaseBundle:
    """One case of ``debtor`` handled by ``agent`` (see the module docstring for the invariants)."""
    return _CaseBuilder(rng, spec, tenant, notes, today).build(case_id, debtor, agent)
