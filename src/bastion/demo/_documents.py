"""The demo's retrieval corpus, rendered from the Markdown templates in ``bastion/data/demo/documents``.

Templates use ``{name}`` placeholders; a placeholder without a value raises :class:`ConfigError`, so a
typo in a template cannot slip through as literal braces. Document ids are stable:

=========================================  ========  ==================================================
id                                         audience  what
=========================================  ========  ==================================================
``<tenant>/faq-<en|de>``                   PUBLIC    frequently asked questions
``<tenant>/payment-instructions-<en|de>``  PUBLIC    bank details, reference format, ways to pay
``<tenant>/hardship-dispute-<en|de>``      PUBLIC    objections, hardship, complaints procedure
``<tenant>/negotiation-guideline``         STAFF     limits and escalation rules (tenant's language)
``<tenant>/letter/<case>/<kind>``          DEBTOR    reminder, final demand, instalment confirmation
``<tenant>/statement/<case>``              DEBTOR    statement of account as of the reference date
=========================================  ========  ==================================================

Letters and statements are in the debtor's language and owned by the debtor. A debtor with one case gets
all its letters (one or two); a debtor with two cases gets the latest letter of each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING

from bastion.core.errors import ConfigError
from bastion.demo._banking import format_iban
from bastion.demo._catalog import TenantSpec, catalog, read_text
from bastion.demo._locale import format_date, format_money
from bastion.demo._records import (
    AgencyRecord,
    CaseRecord,
    CaseStatus,
    DebtorRecord,
    PaymentMethod,
    TenantRecord,
)
from bastion.demo._schedule import Letter, LetterKind, add_months
from bastion.rag.types import Acl, Audience, Document

if TYPE_CHECKING:
    from bastion.demo.data import DemoData

__all__ = ["build_documents", "render_template"]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_BLANK_LINES = re.compile(r"\n{3,}")
_DOUBLE_STOP = re.compile(r"(?<=\.)\.(?=\s|$)")
_WRAPPED_LINE = 70
_SOURCE = "bastion.data.demo/documents/"
_LANGUAGES = ("en", "de")
_PUBLIC_KINDS = (
    ("faq", "faq", "faq"),
    ("payment-instructions", "payment_instructions", "payment_instructions"),
    ("hardship-dispute", "hardship_dispute", "procedure"),
)
_LETTER_TEMPLATES = {
    LetterKind.REMINDER: "reminder",
    LetterKind.FINAL_DEMAND: "final_demand",
    LetterKind.INSTALLMENT_CONFIRMATION: "installment_confirmation",
}
_COUNTRY_LINE = {
    "AT": {"de": "ÖSTERREICH", "en": "AUSTRIA"},
    "NL": {"de": "NIEDERLANDE", "en": "NETHERLANDS"},
    "IE": {"de": "IRLAND", "en": "IRELAND"},
    "GB": {"de": "VEREINIGTES KÖNIGREICH", "en": "UNITED KINGDOM"},
}
_METHOD_LABEL = {
    PaymentMethod.BANK_TRANSFER: {
        "en": "payment received (bank transfer)",
        "de": "Zahlungseingang (Überweisung)",
    },
    PaymentMethod.DIRECT_DEBIT: {
        "en": "instalment collected (direct debit)",
        "de": "Rate eingezogen (Lastschrift)",
    },
    PaymentMethod.CARD: {"en": "payment received (card)", "de": "Zahlungseingang (Karte)"},
}


def _unwrap(template: str) -> str:
    """Join the hard-wrapped lines of prose paragraphs, so inserted text does not leave ragged lines.

    A paragraph is prose when it does not start with a Markdown marker (heading, table, list) and every line
    but its last is at least :data:`_WRAPPED_LINE` characters long; short-line blocks (addresses, letter
    headers) keep their line breaks.
    """
    paragraphs = []
    for paragraph in template.split("\n\n"):
        lines = paragraph.strip("\n").split("\n")
        is_prose = (
            len(lines) > 1
            and not lines[0].startswith(("#", "|", "-", "*  "))
            and all(len(line) >= _WRAPPED_LINE for line in lines[:-1])
        )
        paragraphs.append(" ".join(line.strip() for line in lines) if is_prose else paragraph.strip("\n"))
    return "\n\n".join(paragraphs) + "\n"


def render_template(name: str, values: Mapping[str, str]) -> tuple[str, str]:
    """(title, text) of template ``documents/<name>.md`` with every ``{placeholder}`` filled from ``values``.

    The title is the template's first line without the leading ``#``. Raises :class:`ConfigError` when the
    template is missing or uses a placeholder that ``values`` lacks.
    """
    template = _unwrap(read_text(f"documents/{name}.md"))

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ConfigError(f"demo document template {name}.md uses unknown placeholder {{{key}}}")
        return values[key]

    text = _PLACEHOLDER.sub(fill, template)
    text = _DOUBLE_STOP.sub("", _BLANK_LINES.sub("\n\n", text)).strip() + "\n"  # "B.V.." -> "B.V."
    return text.splitlines()[0].lstrip("# ").strip(), text


def _fee_amount(cents: int, language: str) -> str:
    if cents == 0:
        return "kostenlos" if language == "de" else "free of charge"
    return format_money(cents, language)


def _fee_table(tenant: TenantRecord, language: str) -> str:
    header = "| Gebühr | Betrag |" if language == "de" else "| Fee | Amount |"
    rows = [
        f"| {fee.label.in_language(language)} | {_fee_amount(fee.amount_cents, language)} |"
        for fee in tenant.fees
    ]
    return "\n".join([header, "|---|---|", *rows])


def _example_reference(spec: TenantSpec) -> str:
    def digits(match: re.Match[str]) -> str:
        return ("1234567890" * 2)[: int(match.group(1))]

    creditor = (
        re.sub(r"\{n(\d+)\}", digits, spec.reference_format).replace("{year}", "2026").replace("{yy}", "26")
    )
    return spec.payment_reference.replace("{case_id}", "c-20001").replace("{creditor_reference}", creditor)


def _tenant_values(
    tenant: TenantRecord, spec: TenantSpec, agency: AgencyRecord, language: str
) -> dict[str, str]:
    values = {
        "tenant_name": tenant.name,
        "agency_name": agency.name,
        "agency_street": agency.street,
        "agency_postcode": agency.postcode,
        "agency_city": agency.city,
        "managing_director": agency.managing_director,
        "privacy_email": agency.privacy_email,
        "support_email": tenant.support_email,
        "email_domain": tenant.email_domain,
        "phone": tenant.phone,
        "phone_hours": tenant.phone_hours.in_language(language),
        "iban": format_iban(tenant.creditor_iban),
        "bic": tenant.creditor_bic,
        "bank_name": tenant.bank_name,
        "payment_term_days": str(tenant.payment_term_days),
        "final_demand_days": str(tenant.final_demand_days),
        "fee_table": _fee_table(tenant, language),
        "fee_returned": _fee_amount(tenant.fee("returned_debit").amount_cents, language),
        "fee_plan_setup": _fee_amount(tenant.fee("plan_setup").amount_cents, language)
        .replace("free of charge", "nothing")
        .replace("kostenlos", "nichts"),
        "example_reference": _example_reference(spec),
    }
    for key, text in spec.texts.items():
        values[f"text_{key}"] = text.de if language == "de" else text.en
    return values


def _public_documents(tenant: TenantRecord, spec: TenantSpec, agency: AgencyRecord) -> list[Document]:
    documents = []
    for language in _LANGUAGES:
        values = _tenant_values(tenant, spec, agency, language)
        for slug, template, kind in _PUBLIC_KINDS:
            title, text = render_template(f"{template}_{language}", values)
            documents.append(
                Document(
                    doc_id=f"{tenant.tenant_id}/{slug}-{language}",
                    tenant_id=tenant.tenant_id,
                    title=title,
                    text=text,
                    acl=Acl(Audience.PUBLIC),
                    language=language,
                    source=f"{_SOURCE}{template}_{language}.md",
                    kind=kind,
                )
            )
    return documents


def _guideline(data: DemoData, tenant: TenantRecord, spec: TenantSpec, agency: AgencyRecord) -> Document:
    language = tenant.language
    policy = tenant.policy
    leads = [agent.name for agent in data.agents if agent.tenant_id == tenant.tenant_id and agent.team_lead]
    values = _tenant_values(tenant, spec, agency, language) | {
        "max_discount": str(policy.max_discount_pct),
        "min_monthly": format_money(policy.min_monthly_installment_cents, language),
        "max_installments": str(policy.max_installments),
        "internal_rules": "\n".join(f"- {rule.in_language(language)}" for rule in policy.internal_rules),
        "team_lead": ", ".join(leads),
    }
    title, text = render_template(f"guideline_{language}", values)
    return Document(
        doc_id=f"{tenant.tenant_id}/negotiation-guideline",
        tenant_id=tenant.tenant_id,
        title=title,
        text=text,
        acl=Acl(Audience.STAFF),
        language=language,
        source=f"{_SOURCE}guideline_{language}.md",
        kind="guideline",
    )


def _salutation(debtor: DebtorRecord, language: str) -> str:
    if language == "de":
        if debtor.salutation == "ms":
            return f"Sehr geehrte Frau {debtor.last_name}"
        if debtor.salutation == "mr":
            return f"Sehr geehrter Herr {debtor.last_name}"
        return f"Guten Tag {debtor.full_name}"
    if debtor.salutation == "ms":
        return f"Dear Ms {debtor.last_name}"
    if debtor.salutation == "mr":
        return f"Dear Mr {debtor.last_name}"
    return f"Dear {debtor.full_name}"


def _address_lines(debtor: DebtorRecord, language: str) -> list[str]:
    lines = list(debtor.address.lines())
    country = _COUNTRY_LINE.get(debtor.address.country)
    if country:
        lines.append(country[language])
    return lines


class _CaseView:
    """The numbers of one case at a given date, for letters and statements."""

    def __init__(self, data: DemoData, case: CaseRecord) -> None:
        self.data, self.case = data, case
        self.charges = sorted(
            (charge for charge in data.fee_charges if charge.case_id == case.case_id),
            key=lambda c: c.charged_on,
        )
        self.payments = sorted(
            (payment for payment in data.payments if payment.case_id == case.case_id), key=lambda p: p.paid_on
        )

    def fees_until(self, day: date) -> int:
        return sum(charge.amount_cents for charge in self.charges if charge.charged_on <= day)

    def paid_until(self, day: date) -> int:
        return sum(payment.amount_cents for payment in self.payments if payment.paid_on <= day)


def _case_values(
    data: DemoData, case: CaseRecord, debtor: DebtorRecord, tenant_values: dict[str, str], spec: TenantSpec
) -> dict[str, str]:
    language = debtor.language
    reference = spec.payment_reference.replace("{case_id}", case.case_id).replace(
        "{creditor_reference}", case.creditor_reference
    )
    return tenant_values | {
        "case_id": case.case_id,
        "creditor_reference": case.creditor_reference,
        "subject": case.subject.in_language(language),
        "debtor_name": debtor.full_name,
        "address_block": "\n".join([debtor.full_name, *_address_lines(debtor, language)]),
        "address_inline": ", ".join(_address_lines(debtor, language)),
        "salutation": _salutation(debtor, language),
        "agent_name": data.agent(case.agent_id).name,
        "payment_reference": reference,
        "opened_on": format_date(case.opened_on, language),
        "original": format_money(case.original_amount_cents, language),
    }


def _letter(
    data: DemoData,
    view: _CaseView,
    letter: Letter,
    letters: tuple[Letter, ...],
    values: dict[str, str],
    language: str,
) -> Document:
    case = view.case
    fees = view.fees_until(letter.dated)
    paid = view.paid_until(letter.dated)
    outstanding = case.original_amount_cents + fees - paid
    agency_city = values["agency_city"]
    letter_values = values | {
        "place_date": f"{agency_city}, {format_date(letter.dated, language)}",
        "fees": format_money(fees, language),
        "paid": format_money(paid, language),
        "outstanding": format_money(outstanding, language),
        "due_date": format_date(letter.due_on, language),
        "reminder_date": format_date(letters[0].dated, language),
    }
    plan = data.payment_plan(case.case_id)
    if letter.kind is LetterKind.INSTALLMENT_CONFIRMATION and plan is not None:
        last_due = add_months(plan.first_due_on, plan.installments - 1)
        letter_values |= {
            "plan_total": format_money(outstanding, language),
            "monthly": format_money(plan.monthly_cents, language),
            "installments": str(plan.installments),
            "first_due": format_date(plan.first_due_on, language),
            "last_due": format_date(last_due, language),
            "last_installment": format_money(
                outstanding - plan.monthly_cents * (plan.installments - 1), language
            ),
        }
    template = f"{_LETTER_TEMPLATES[letter.kind]}_{language}"
    title, text = render_template(template, letter_values)
    return Document(
        doc_id=f"{case.tenant_id}/letter/{case.case_id}/{letter.kind.value}",
        tenant_id=case.tenant_id,
        title=title,
        text=text,
        acl=Acl(Audience.DEBTOR, owner=case.debtor_id),
        language=language,
        source=f"{_SOURCE}{template}.md",
        kind="letter",
    )


def _status_text(data: DemoData, case: CaseRecord, language: str) -> str:
    due = format_date(case.due_on, language)
    german = language == "de"
    if case.status is CaseStatus.OPEN:
        return f"offen, zahlbar bis {due}" if german else f"open, payment due by {due}"
    if case.status is CaseStatus.PAYMENT_PLAN:
        return (
            f"Ratenplan läuft, nächste Rate fällig am {due}"
            if german
            else f"instalment plan running, next instalment due {due}"
        )
    if case.status is CaseStatus.DISPUTED:
        return (
            "bestritten, Einzug bis zur Prüfung des Einwands angehalten"
            if german
            else "disputed, collection paused while the objection is checked"
        )
    settled = re.search(r"(\d+) %", case.closed_reason)
    if settled:
        percent = settled.group(1)
        return (
            f"erledigt durch Vergleich ({percent} % Nachlass bei Einmalzahlung)"
            if german
            else f"closed, settled with a {percent} % discount for a single payment"
        )
    return "erledigt, vollständig bezahlt" if german else "closed, paid in full"


def _statement(data: DemoData, view: _CaseView, values: dict[str, str], language: str) -> Document:
    case = view.case
    rows: list[tuple[date, str, int]] = [(case.opened_on, values["subject"], case.original_amount_cents)]
    tenant = data.tenant(case.tenant_id)
    rows += [
        (c.charged_on, tenant.fee(c.fee_code).label.in_language(language), c.amount_cents)
        for c in view.charges
    ]
    rows += [(p.paid_on, _METHOD_LABEL[p.method][language], -p.amount_cents) for p in view.payments]
    waived = (
        case.original_amount_cents
        + case.fees_cents
        - view.paid_until(data.reference_date)
        - case.outstanding_cents
    )
    if waived > 0:
        last = view.payments[-1].paid_on if view.payments else data.reference_date
        rows.append((last, "Nachlass laut Vergleich" if language == "de" else "discount as settled", -waived))
    rows.sort(key=lambda row: row[0])
    lines = [
        f"| {format_date(day, language)} | {label} | {format_money(cents, language)} |"
        for day, label, cents in rows
    ]
    plan = data.payment_plan(case.case_id)
    plan_text = ""
    if plan is not None:
        paid_count = len(view.payments)
        plan_text = (
            f"Ratenplan: {plan.installments} Raten zu {format_money(plan.monthly_cents, language)} ab "
            f"{format_date(plan.first_due_on, language)}; davon {paid_count} bezahlt."
            if language == "de"
            else f"Instalment plan: {plan.installments} instalments of "
            f"{format_money(plan.monthly_cents, language)} from {format_date(plan.first_due_on, language)}; "
            f"{paid_count} paid so far."
        )
    statement_values = values | {
        "as_of": format_date(data.reference_date, language),
        "status_text": _status_text(data, case, language),
        "statement_rows": "\n".join(lines),
        "outstanding": format_money(case.outstanding_cents, language),
        "plan_text": plan_text,
    }
    template = f"statement_{language}"
    title, text = render_template(template, statement_values)
    return Document(
        doc_id=f"{case.tenant_id}/statement/{case.case_id}",
        tenant_id=case.tenant_id,
        title=title,
        text=text,
        acl=Acl(Audience.DEBTOR, owner=case.debtor_id),
        language=language,
        source=f"{_SOURCE}{template}.md",
        kind="statement",
    )


def _debtor_documents(
    data: DemoData, debtor: DebtorRecord, tenant_values: dict[str, str], spec: TenantSpec
) -> list[Document]:
    language = debtor.language
    cases = data.cases_of_debtor(debtor.debtor_id)
    documents = []
    for case in cases:
        view = _CaseView(data, case)
        values = _case_values(data, case, debtor, tenant_values, spec)
        letters = data.letters(case.case_id)
        chosen = letters if len(cases) == 1 else letters[-1:]
        documents += [_letter(data, view, letter, letters, values, language) for letter in chosen]
        documents.append(_statement(data, view, values, language))
    return documents


def build_documents(data: DemoData) -> list[Document]:
    """All documents of ``data``: per tenant the public and staff documents, then per debtor the letters
    and statements (see the module docstring for ids and audiences)."""
    specs = {spec.id: spec for spec in catalog().tenants}
    agency = data.agency
    documents: list[Document] = []
    for tenant in data.tenants:
        spec = specs[tenant.tenant_id]
        documents += _public_documents(tenant, spec, agency)
        documents.append(_guideline(data, tenant, spec, agency))
        per_language = {language: _tenant_values(tenant, spec, agency, language) for language in _LANGUAGES}
        for debtor in data.debtors:
            if debtor.tenant_id == tenant.tenant_id:
                documents += _debtor_documents(data, debtor, per_language[debtor.language], spec)
    return documents
