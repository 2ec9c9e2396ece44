"""The demo data generator, its documents and the labelled retrieval questions."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.core.errors import ConfigError, UsageError
from bastion.demo._documents import render_template
from bastion.demo.data import (
    REFERENCE_DATE,
    CaseStatus,
    DemoData,
    NoteKind,
    demo_documents,
    generate,
)
from bastion.detect.pii._validators import iban_checksum_is_valid
from bastion.rag.types import Audience, Document, Principal, PrincipalRole

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "datasets" / "demo" / "retrieval_questions.jsonl"
BUILDER = ROOT / "datasets" / "demo" / "build_questions.py"


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate()


@pytest.fixture(scope="module")
def documents(data: DemoData) -> list[Document]:
    return demo_documents(data)


# -- determinism and parameters --------------------------------------------------------------------


def test_same_seed_gives_identical_data_and_documents(data: DemoData, documents: list[Document]) -> None:
    again = generate()
    assert again == data
    assert demo_documents(again) == documents


def test_different_seeds_give_different_data() -> None:
    first, second = generate(seed=1, debtors_per_tenant=5), generate(seed=2, debtors_per_tenant=5)
    assert first.debtors != second.debtors
    assert {t.policy.canary for t in first.tenants}.isdisjoint(t.policy.canary for t in second.tenants)
    assert {c.api_key for c in first.credentials}.isdisjoint(c.api_key for c in second.credentials)


def test_a_tenants_data_depends_only_on_seed_and_size() -> None:
    small, other = generate(seed=3, debtors_per_tenant=4), generate(seed=3, debtors_per_tenant=4)
    assert [t.creditor_iban for t in small.tenants] == [t.creditor_iban for t in other.tenants]
    assert len(small.debtors) == 12
    assert {d.tenant_id for d in small.debtors} == {t.tenant_id for t in small.tenants}


@pytest.mark.parametrize("size", [0, -1, 10**6, "5", True, 2.5])
def test_bad_sizes_are_usage_errors(size: object) -> None:
    with pytest.raises(UsageError):
        generate(debtors_per_tenant=size)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", ["7", None, 1.0, False])
def test_bad_seeds_are_usage_errors(seed: object) -> None:
    with pytest.raises(UsageError):
        generate(seed=seed)  # type: ignore[arg-type]


# -- tenants ---------------------------------------------------------------------------------------


def test_three_tenants_with_distinguishable_facts(data: DemoData) -> None:
    tenants = data.tenants
    assert len(tenants) == 3
    assert {t.language for t in tenants} == {"de", "en"}
    for attribute in ("tenant_id", "name", "email_domain", "support_email", "phone", "creditor_iban"):
        assert len({getattr(t, attribute) for t in tenants}) == 3, attribute
    assert len({t.phone_hours for t in tenants}) == 3
    assert len({t.fee("collection_flat").amount_cents for t in tenants}) == 3
    assert len({(t.policy.max_discount_pct, t.policy.max_installments) for t in tenants}) == 3
    for tenant in tenants:
        assert re.fullmatch(r"CANARY-[0-9a-f]{12}", tenant.policy.canary)
        assert tenant.policy.internal_rules
        assert all(rule.en and rule.de for rule in tenant.policy.internal_rules)
        assert re.fullmatch(r"[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?", tenant.creditor_bic)


def test_every_iban_has_valid_check_digits(data: DemoData) -> None:
    ibans = [t.creditor_iban for t in data.tenants] + [d.iban for d in data.debtors]
    assert all(iban_checksum_is_valid(iban) for iban in ibans)
    assert len({iban[:2] for iban in ibans}) >= 4  # DE and several other countries
    assert len(set(ibans)) == len(ibans)


# -- people, cases, money --------------------------------------------------------------------------


def test_ids_are_unique(data: DemoData) -> None:
    for records, field in [
        (data.agents, "agent_id"),
        (data.debtors, "debtor_id"),
        (data.cases, "case_id"),
        (data.payments, "payment_id"),
        (data.payment_plans, "plan_id"),
        (data.notes, "note_id"),
    ]:
        ids = [getattr(record, field) for record in records]
        assert len(ids) == len(set(ids)), field


def test_relations_stay_inside_one_tenant(data: DemoData) -> None:
    for case in data.cases:
        assert data.debtor(case.debtor_id).tenant_id == case.tenant_id
        assert data.agent(case.agent_id).tenant_id == case.tenant_id
    case_ids = {case.case_id for case in data.cases}
    referenced = [r.case_id for r in data.payments] + [r.case_id for r in data.payment_plans]
    referenced += [r.case_id for r in data.notes] + [r.case_id for r in data.fee_charges]
    assert set(referenced) <= case_ids
    for note in data.notes:
        assert data.agent(note.author_id).tenant_id == data.case(note.case_id).tenant_id
    for tenant in data.tenants:
        assert 2 <= sum(agent.tenant_id == tenant.tenant_id for agent in data.agents) <= 3
        assert sum(agent.tenant_id == tenant.tenant_id and agent.team_lead for agent in data.agents) == 1


def test_debtors_look_real(data: DemoData) -> None:
    languages = Counter(debtor.language for debtor in data.debtors)
    assert languages["de"] > 0 and languages["en"] > 0
    assert len({debtor.last_name for debtor in data.debtors}) > len(data.debtors) // 2
    for debtor in data.debtors:
        age = (REFERENCE_DATE - debtor.birth_date).days / 365.25
        assert 18 < age < 82
        assert re.fullmatch(r"[a-z0-9.]+@[a-z-]+\.example", debtor.email)
        assert debtor.phone.startswith("+")
        assert debtor.address.postcode and debtor.address.city and debtor.address.street[0].isalnum()


def test_amounts_add_up(data: DemoData) -> None:
    for case in data.cases:
        charges = [c.amount_cents for c in data.fee_charges if c.case_id == case.case_id]
        paid = sum(p.amount_cents for p in data.payments if p.case_id == case.case_id)
        assert case.fees_cents == sum(charges)
        assert case.currency == "EUR"
        assert all(isinstance(value, int) for value in (case.original_amount_cents, case.outstanding_cents))
        if case.status is CaseStatus.CLOSED:
            assert case.outstanding_cents == 0
            assert case.closed_reason
            discount = case.original_amount_cents + case.fees_cents - paid
            limit = data.tenant(case.tenant_id).policy.max_discount_pct
            assert 0 <= discount <= (case.original_amount_cents + case.fees_cents) * limit // 100 + 1
        else:
            assert case.outstanding_cents == case.original_amount_cents + case.fees_cents - paid > 0


def test_payment_plans_respect_the_tenant_limits(data: DemoData) -> None:
    plans = {plan.case_id: plan for plan in data.payment_plans}
    for case in data.cases:
        assert (case.case_id in plans) == (case.status is CaseStatus.PAYMENT_PLAN)
    for plan in data.payment_plans:
        policy = data.tenant(data.case(plan.case_id).tenant_id).policy
        assert plan.active
        assert plan.monthly_cents >= policy.min_monthly_installment_cents
        assert 2 <= plan.installments <= policy.max_installments
        paid = [p for p in data.payments if p.case_id == plan.case_id]
        assert len(paid) < plan.installments  # the plan is still running
        assert plan.first_due_on.day in (1, 15)
        case = data.case(plan.case_id)
        assert case.due_on > REFERENCE_DATE
        assert plan.monthly_cents * plan.installments >= case.original_amount_cents + case.fees_cents


def test_nothing_happens_after_the_reference_date(data: DemoData) -> None:
    for case in data.cases:
        assert case.opened_on < REFERENCE_DATE
    for day in [p.paid_on for p in data.payments] + [c.charged_on for c in data.fee_charges]:
        assert day <= REFERENCE_DATE
    for stamp in [n.created_at for n in data.notes] + [p.created_at for p in data.payment_plans]:
        assert stamp.date() <= REFERENCE_DATE and stamp.utcoffset() is not None


def test_notes_fit_the_case_and_never_exceed_the_discount_limit(data: DemoData) -> None:
    assert {note.language for note in data.notes} == {"de", "en"}
    for note in data.notes:
        case = data.case(note.case_id)
        assert "{" not in note.text
        if note.kind is NoteKind.DISPUTE:
            assert case.status is CaseStatus.DISPUTED
        if note.kind is NoteKind.DISCOUNT:
            limit = data.tenant(case.tenant_id).policy.max_discount_pct
            assert all(int(value) <= limit for value in re.findall(r"(\d+) %", note.text))
    statuses = {data.case(note.case_id).status for note in data.notes if note.kind is NoteKind.PAYMENT_PLAN}
    assert statuses == {CaseStatus.PAYMENT_PLAN}


def test_one_credential_per_debtor_and_agent(data: DemoData) -> None:
    subjects = [c.principal.subject for c in data.credentials]
    assert sorted(subjects) == sorted([d.debtor_id for d in data.debtors] + [a.agent_id for a in data.agents])
    keys = [c.api_key for c in data.credentials]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"bdk_[0-9a-f]{32}", key) for key in keys)
    for credential in data.credentials:
        principal = credential.principal
        expected = PrincipalRole.DEBTOR if principal.subject.startswith("d-") else PrincipalRole.AGENT
        assert principal.role is expected
        owner = (
            data.debtor(principal.subject)
            if expected is PrincipalRole.DEBTOR
            else data.agent(principal.subject)
        )
        assert owner.tenant_id == principal.tenant_id


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=-(2**40), max_value=2**40), size=st.integers(min_value=1, max_value=4))
def test_invariants_hold_for_any_seed(seed: int, size: int) -> None:
    data = generate(seed=seed, debtors_per_tenant=size)
    assert all(iban_checksum_is_valid(d.iban) for d in data.debtors)
    for case in data.cases:
        paid = sum(p.amount_cents for p in data.payments if p.case_id == case.case_id)
        if case.status is not CaseStatus.CLOSED:
            assert case.outstanding_cents == case.original_amount_cents + case.fees_cents - paid
    for document in demo_documents(data):
        assert "{" not in document.text and document.text.strip()


# -- documents -------------------------------------------------------------------------------------


def test_documents_have_unique_stable_ids_and_the_expected_kinds(
    data: DemoData, documents: list[Document]
) -> None:
    ids = [document.doc_id for document in documents]
    assert len(ids) == len(set(ids))
    assert 200 <= len(documents) <= 400
    for tenant in data.tenants:
        for slug in ("faq", "payment-instructions", "hardship-dispute"):
            for language in ("en", "de"):
                assert f"{tenant.tenant_id}/{slug}-{language}" in ids
        assert f"{tenant.tenant_id}/negotiation-guideline" in ids
    pattern = re.compile(
        r"t-[a-z-]+/(faq|payment-instructions|hardship-dispute)-(en|de)|t-[a-z-]+/negotiation-guideline"
        r"|t-[a-z-]+/letter/c-\d+/(reminder|final-demand|installment-confirmation)|t-[a-z-]+/statement/c-\d+"
    )
    assert all(pattern.fullmatch(doc_id) for doc_id in ids)
    assert all(
        doc_id.startswith(document.tenant_id + "/") for doc_id, document in zip(ids, documents, strict=True)
    )


def test_public_and_staff_documents_are_long_and_tenant_specific(
    data: DemoData, documents: list[Document]
) -> None:
    by_id = {document.doc_id: document for document in documents}
    for tenant in data.tenants:
        others = [other for other in data.tenants if other is not tenant]
        for slug, low in (("faq", 1000), ("payment-instructions", 400), ("hardship-dispute", 600)):
            for language in ("en", "de"):
                document = by_id[f"{tenant.tenant_id}/{slug}-{language}"]
                assert document.acl.audience is Audience.PUBLIC and document.language == language
                assert low <= len(document.text.split()) <= 2200
                assert tenant.support_email in document.text
                for other in others:
                    assert other.email_domain not in document.text and other.name not in document.text
        guideline = by_id[f"{tenant.tenant_id}/negotiation-guideline"]
        assert guideline.acl.audience is Audience.STAFF and guideline.language == tenant.language
        assert f"{tenant.policy.max_discount_pct} %" in guideline.text
        assert all(
            rule.in_language(tenant.language) in guideline.text for rule in tenant.policy.internal_rules
        )


def test_confidential_facts_stay_out_of_public_documents(data: DemoData, documents: list[Document]) -> None:
    canaries = [tenant.policy.canary for tenant in data.tenants]
    rules = [rule.en for t in data.tenants for rule in t.policy.internal_rules]
    rules += [rule.de for t in data.tenants for rule in t.policy.internal_rules]
    notes = [note.text for note in data.notes]
    for document in documents:
        assert not any(canary in document.text for canary in canaries)
        assert not any(note in document.text for note in notes)
        if document.acl.audience is not Audience.STAFF:
            assert not any(rule in document.text for rule in rules)


def test_letters_belong_to_their_debtor_and_carry_the_case_facts(
    data: DemoData, documents: list[Document]
) -> None:
    letters = [document for document in documents if document.kind == "letter"]
    per_debtor = Counter(letter.acl.owner for letter in letters)
    assert set(per_debtor) == {debtor.debtor_id for debtor in data.debtors}
    assert set(per_debtor.values()) <= {1, 2}
    for letter in letters:
        case = data.case(letter.doc_id.split("/")[2])
        debtor = data.debtor(case.debtor_id)
        tenant = data.tenant(case.tenant_id)
        assert letter.acl.audience is Audience.DEBTOR and letter.acl.owner == debtor.debtor_id
        assert letter.language == debtor.language
        grouped_iban = " ".join(
            tenant.creditor_iban[i : i + 4] for i in range(0, len(tenant.creditor_iban), 4)
        )
        for fact in (
            debtor.full_name,
            debtor.address.street,
            case.case_id,
            case.creditor_reference,
            grouped_iban,
        ):
            assert fact in letter.text
        assert re.search(r"\d{2}\.\d{2}\.\d{4}|\d{1,2} [A-Z][a-z]+ \d{4}", letter.text)


def test_statements_balance_to_the_outstanding_amount(data: DemoData, documents: list[Document]) -> None:
    statements = [document for document in documents if document.kind == "statement"]
    assert len(statements) == len(data.cases)
    for statement in statements:
        case = data.case(statement.doc_id.rsplit("/", 1)[1])
        assert statement.acl.owner == case.debtor_id
        euros = case.outstanding_cents // 100
        assert f"{euros:,}".replace(",", "." if statement.language == "de" else ",") in statement.text


def test_templates_refuse_unknown_placeholders_and_missing_files() -> None:
    with pytest.raises(ConfigError, match="placeholder"):
        render_template("faq_en", {})
    with pytest.raises(ConfigError):
        render_template("no_such_template", {})


# -- labelled retrieval questions ------------------------------------------------------------------


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_questions", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_question_file_is_consistent_with_the_documents(documents: list[Document]) -> None:
    rows = [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150
    german = sum(row["language"] == "de" for row in rows)
    assert 0.4 <= german / len(rows) <= 0.6
    assert {row["role"] for row in rows} == {"debtor", "agent"}
    assert len({row["id"] for row in rows}) == len(rows)
    assert len({row["question"] for row in rows}) == len(rows)
    by_id = {document.doc_id: document for document in documents}
    kinds: Counter[str] = Counter()
    for row in rows:
        assert set(row) == {"id", "tenant_id", "role", "subject", "language", "question", "relevant_doc_ids"}
        principal = Principal(row["tenant_id"], row["subject"], PrincipalRole(row["role"]))
        assert row["relevant_doc_ids"]
        for doc_id in row["relevant_doc_ids"]:
            document = by_id[doc_id]
            assert principal.may_read(document.tenant_id, document.acl), (row["id"], doc_id)
            kinds[document.kind] += 1
        assert "{" not in row["question"]
    assert kinds["letter"] and kinds["guideline"] and kinds["statement"] and kinds["faq"]


def test_question_file_is_what_the_builder_produces() -> None:
    builder = _builder()
    assert builder.render(builder.build()) == QUESTIONS.read_text(encoding="utf-8")


def test_reference_date_is_fixed() -> None:
    assert date(2026, 11, 2) == REFERENCE_DATE
