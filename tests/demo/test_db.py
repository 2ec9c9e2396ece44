"""The demo database on a real SQLite file: schema, round trip, keys, isolation and audited writes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.core.errors import ConfigError, InputError
from bastion.demo._keys import key_sha256
from bastion.demo.data import CaseStatus, DemoData, EventAction, generate
from bastion.demo.db import DemoDatabase, write_database
from bastion.rag.types import Principal, PrincipalRole

FIXED_NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def data() -> DemoData:
    return generate()


@pytest.fixture(scope="module")
def read_only(data: DemoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoDatabase]:
    """One database for the tests that only read."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    write_database(data, path)
    with DemoDatabase(path) as database:
        yield database


@pytest.fixture
def database(data: DemoData, tmp_path: Path) -> Iterator[DemoDatabase]:
    """A fresh database per test that writes, with a fixed clock."""
    path = tmp_path / "demo.sqlite"
    write_database(data, path)
    with DemoDatabase(path, clock=lambda: FIXED_NOW) as opened:
        yield opened


def _open_case(data: DemoData, *statuses: CaseStatus) -> str:
    return next(case.case_id for case in data.cases if case.status in statuses)


# -- schema and round trip -------------------------------------------------------------------------


def test_schema_has_the_tables_foreign_keys_and_tenant_indexes(data: DemoData, tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    write_database(data, path)
    connection = sqlite3.connect(path)
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "tenants", "agents", "debtors", "cases", "payments", "payment_plans", "notes", "principals",
        "outbox", "case_events", "fees", "tenant_rules", "case_fees", "meta",
    } <= tables  # fmt: skip
    for table in ("agents", "debtors", "cases", "principals", "outbox", "case_events"):
        indexed = {
            row[2] for index in connection.execute(f"PRAGMA index_list({table})") for row in
            connection.execute(f"PRAGMA index_info({index[1]})")
        }  # fmt: skip
        assert "tenant_id" in indexed, table
    assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
    connection.execute("PRAGMA foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute("INSERT INTO payments VALUES ('p-x', 'c-nope', 100, '2026-01-01', 'card')")
    other_tenant_debtor = next(d for d in data.debtors if d.tenant_id != data.cases[0].tenant_id)
    with pytest.raises(sqlite3.IntegrityError):  # a case's debtor must be of the case's tenant
        connection.execute(
            "UPDATE cases SET debtor_id = ? WHERE case_id = ?", (other_tenant_debtor.debtor_id, "c-20001")
        )
    connection.close()


def test_principals_reference_real_people_and_store_no_clear_keys(data: DemoData, tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    write_database(data, path)
    connection = sqlite3.connect(path)
    rows = connection.execute("SELECT key_sha256, tenant_id, subject, role FROM principals").fetchall()
    assert len(rows) == len(data.credentials)
    for _, tenant_id, subject, role in rows:
        table, column = ("debtors", "debtor_id") if role == "debtor" else ("agents", "agent_id")
        found = connection.execute(f"SELECT tenant_id FROM {table} WHERE {column} = ?", (subject,)).fetchone()
        assert found == (tenant_id,)
    connection.close()
    raw = path.read_bytes()
    for credential in data.credentials[:20]:
        assert credential.api_key.encode() not in raw
        assert key_sha256(credential.api_key).encode() in raw


def test_records_round_trip_unchanged(data: DemoData, read_only: DemoDatabase) -> None:
    assert read_only.tenants() == data.tenants
    assert read_only.agency() == data.agency
    assert read_only.agency_domain() == data.agency.staff_email_domain
    for case in data.cases:
        assert read_only.case(case.case_id) == case
        assert read_only.payments(case.case_id) == tuple(
            sorted(
                (p for p in data.payments if p.case_id == case.case_id),
                key=lambda p: (p.paid_on, p.payment_id),
            )
        )
        assert read_only.fee_charges(case.case_id) == tuple(
            c for c in data.fee_charges if c.case_id == case.case_id
        )
        assert read_only.notes(case.case_id) == tuple(n for n in data.notes if n.case_id == case.case_id)
        assert read_only.payment_plan(case.case_id) == data.payment_plan(case.case_id)
    assert all(read_only.debtor(debtor.debtor_id) == debtor for debtor in data.debtors)
    assert all(read_only.agent(agent.agent_id) == agent for agent in data.agents)


def test_rewriting_replaces_the_file(data: DemoData, tmp_path: Path) -> None:
    path = tmp_path / "demo.sqlite"
    write_database(data, path)
    with DemoDatabase(path) as database:
        database.close_case(_open_case(data, CaseStatus.OPEN), "test", "tester")
    write_database(data, path)
    with DemoDatabase(path) as database:
        assert database.case(_open_case(data, CaseStatus.OPEN)) == data.case(
            _open_case(data, CaseStatus.OPEN)
        )
    assert [p.name for p in tmp_path.iterdir()] == ["demo.sqlite"]  # no temporary files left


def test_opening_and_writing_bad_paths_are_config_errors(data: DemoData, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        DemoDatabase(tmp_path / "missing.sqlite")
    with pytest.raises(ConfigError):
        write_database(data, tmp_path / "no" / "such" / "folder.sqlite")
    with pytest.raises(ConfigError):
        write_database(data, tmp_path)
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(ConfigError, match="schema version"):
        DemoDatabase(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00\xff not a database" * 100)
    with pytest.raises(ConfigError):
        DemoDatabase(garbage)


# -- authentication --------------------------------------------------------------------------------


def test_each_key_finds_its_principal(data: DemoData, read_only: DemoDatabase) -> None:
    for credential in data.credentials:
        assert read_only.principal_for_key(credential.api_key) == credential.principal


@pytest.mark.parametrize(
    "key",
    ["", "bdk_", "bdk_" + "0" * 32, "x" * 10_000, "bdk_\ud800", None, 42, b"bdk_", "bdk_ OR 1=1 --"],
)
def test_wrong_or_malformed_keys_find_nobody(read_only: DemoDatabase, key: object) -> None:
    assert read_only.principal_for_key(key) is None


def test_a_key_with_one_character_changed_finds_nobody(data: DemoData, read_only: DemoDatabase) -> None:
    key = data.credentials[0].api_key
    changed = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert read_only.principal_for_key(changed) is None
    assert read_only.principal_for_key(key.upper()) is None


# -- isolation -------------------------------------------------------------------------------------


def test_case_for_returns_only_what_the_principal_may_see(data: DemoData, read_only: DemoDatabase) -> None:
    for credential in data.credentials:
        principal = credential.principal
        for case in data.cases:
            visible = case.tenant_id == principal.tenant_id and (
                principal.role is PrincipalRole.AGENT or case.debtor_id == principal.subject
            )
            assert (read_only.case_for(principal, case.case_id) == case) is visible
            assert (read_only.case_for(principal, case.case_id) is None) is not visible


def test_cases_of_lists_own_cases_or_the_tenants_cases(data: DemoData, read_only: DemoDatabase) -> None:
    for credential in data.credentials:
        principal = credential.principal
        cases = read_only.cases_of(principal)
        assert all(case.tenant_id == principal.tenant_id for case in cases)
        if principal.role is PrincipalRole.DEBTOR:
            assert cases == data.cases_of_debtor(principal.subject)
        else:
            assert len(cases) == sum(case.tenant_id == principal.tenant_id for case in data.cases)


def test_debtor_for_applies_the_same_rule(data: DemoData, read_only: DemoDatabase) -> None:
    debtor, neighbour = data.debtors[0], data.debtors[1]
    stranger = next(d for d in data.debtors if d.tenant_id != debtor.tenant_id)
    me = Principal(debtor.tenant_id, debtor.debtor_id, PrincipalRole.DEBTOR)
    agent = next(a for a in data.agents if a.tenant_id == debtor.tenant_id)
    staff = Principal(agent.tenant_id, agent.agent_id, PrincipalRole.AGENT)
    assert read_only.debtor_for(me, debtor.debtor_id) == debtor
    assert read_only.debtor_for(me, neighbour.debtor_id) is None
    assert read_only.debtor_for(staff, neighbour.debtor_id) == neighbour
    assert read_only.debtor_for(staff, stranger.debtor_id) is None


def test_the_naive_lookup_has_no_filter(data: DemoData, read_only: DemoDatabase) -> None:
    """Documented behaviour: ``case`` and ``debtor`` answer for any id (the naive app's weakness)."""
    found = [read_only.case(case.case_id) for case in data.cases]
    assert found == list(data.cases)
    assert {case.tenant_id for case in data.cases} == {t.tenant_id for t in data.tenants}
    assert all(read_only.debtor(debtor.debtor_id) == debtor for debtor in data.debtors)


@settings(max_examples=150, deadline=None)
@given(
    principal_index=st.integers(min_value=0),
    case_id=st.one_of(
        st.sampled_from([f"c-{n}" for n in range(20_000, 20_120)]),
        st.text(max_size=80),
        st.sampled_from(["' OR 1=1 --", "c-20001' OR tenant_id != '", "%", "*", "c-%"]),
    ),
)
def test_no_crafted_case_id_crosses_the_boundary(
    data: DemoData, read_only: DemoDatabase, principal_index: int, case_id: str
) -> None:
    principal = data.credentials[principal_index % len(data.credentials)].principal
    found = read_only.case_for(principal, case_id)
    if found is not None:
        assert found.tenant_id == principal.tenant_id
        assert principal.role is PrincipalRole.AGENT or found.debtor_id == principal.subject
        assert found.case_id == case_id


# -- writes ----------------------------------------------------------------------------------------


def test_set_payment_plan_replaces_the_plan_and_is_audited(data: DemoData, database: DemoDatabase) -> None:
    case_id = next(plan.case_id for plan in data.payment_plans)
    plan = database.set_payment_plan(case_id, 4_500, 6, "d-test")
    assert plan.active and plan.created_by == "d-test" and plan.created_at == FIXED_NOW
    assert plan.first_due_on == date(2026, 11, 16).replace(day=1, month=12)  # first 1st/15th >= 14 days ahead
    assert database.payment_plan(case_id) == plan
    case = database.case(case_id)
    assert case is not None and case.status is CaseStatus.PAYMENT_PLAN and case.due_on == plan.first_due_on
    second = database.set_payment_plan(case_id, 3_000, 9, "a-101", first_due_on=date(2027, 1, 15))
    assert second.plan_id != plan.plan_id and database.payment_plan(case_id) == second
    events = database.events(case_id)
    assert [event.action for event in events] == [EventAction.PAYMENT_PLAN_SET] * 2
    assert [event.actor for event in events] == ["d-test", "a-101"]
    assert events[0].tenant_id == data.case(case_id).tenant_id and events[0].occurred_at == FIXED_NOW


def test_close_case_is_audited_and_cannot_be_repeated(data: DemoData, database: DemoDatabase) -> None:
    case_id = _open_case(data, CaseStatus.PAYMENT_PLAN)
    closed = database.close_case(case_id, "debtor says it is paid", "assistant:naive")
    assert closed.status is CaseStatus.CLOSED and closed.closed_reason == "debtor says it is paid"
    assert closed.outstanding_cents == data.case(case_id).outstanding_cents
    assert database.payment_plan(case_id) is None
    assert [(e.action, e.actor) for e in database.events(case_id)] == [
        (EventAction.CASE_CLOSED, "assistant:naive")
    ]
    with pytest.raises(InputError, match="already closed"):
        database.close_case(case_id, "again", "assistant:naive")
    with pytest.raises(InputError, match="closed"):
        database.set_payment_plan(case_id, 1_000, 3, "assistant:naive")
    assert len(database.events(case_id)) == 1


def test_queue_email_stores_and_audits(data: DemoData, database: DemoDatabase) -> None:
    case = data.cases[0]
    email = database.queue_email(
        case.tenant_id, case.case_id, "someone@example.org", "Ihr Ratenplan", "Zeile 1\nZeile 2", "a-101"
    )
    assert database.outbox(case.tenant_id) == (email,)
    assert email.queued_at == FIXED_NOW and email.body == "Zeile 1\nZeile 2"
    other_tenant = next(t.tenant_id for t in data.tenants if t.tenant_id != case.tenant_id)
    assert database.outbox(other_tenant) == ()
    event = database.events(case.case_id)[-1]
    assert (
        event.action is EventAction.EMAIL_QUEUED
        and event.actor == "a-101"
        and str(email.email_id) in event.detail
    )
    without_case = database.queue_email(other_tenant, None, "x@example.org", "Hello", "Body", "a-999")
    assert without_case.case_id is None and database.outbox(other_tenant) == (without_case,)


@pytest.mark.parametrize(
    ("to", "subject", "body"),
    [
        ("not-an-address", "s", "b"),
        ("victim@example.org\r\nBcc: attacker@example.org", "s", "b"),
        ("a@example.org, b@example.org", "s", "b"),
        ("a@example.org", "Hi\r\nBcc: attacker@example.org", "b"),
        ("a@example.org", "", "b"),
        ("a@example.org", "s", "x" * 20_001),
        ("a@example.org", "s", "nul\x00byte"),
        ("a@example.org", "s", "lone \ud800 surrogate"),
        ("a@example.org", 42, "b"),
    ],
)
def test_queue_email_rejects_malformed_values_without_echoing_them(
    data: DemoData, database: DemoDatabase, to: str, subject: str, body: str
) -> None:
    case = data.cases[0]
    with pytest.raises(InputError) as raised:
        database.queue_email(case.tenant_id, case.case_id, to, subject, body, "a-101")
    assert "attacker" not in str(raised.value) and "x" * 50 not in str(raised.value)
    assert database.outbox(case.tenant_id) == () and database.events(case.case_id) == ()


@pytest.mark.parametrize(
    ("monthly", "installments"),
    [(0, 3), (-100, 3), (100, 0), (100, 121), (True, 3), (1.5, 3), (10**12, 3), ("100", 3)],
)
def test_set_payment_plan_rejects_bad_numbers(
    data: DemoData, database: DemoDatabase, monthly: object, installments: object
) -> None:
    case_id = _open_case(data, CaseStatus.OPEN)
    with pytest.raises(InputError):
        database.set_payment_plan(case_id, monthly, installments, "tester")  # type: ignore[arg-type]
    assert database.events(case_id) == ()


@pytest.mark.parametrize("case_id", ["c-99999", "", "x" * 500, "c-20001' OR '1'='1", None])
def test_writes_to_unknown_cases_are_input_errors(database: DemoDatabase, case_id: str) -> None:
    with pytest.raises(InputError):
        database.set_payment_plan(case_id, 1_000, 3, "tester")
    with pytest.raises(InputError):
        database.close_case(case_id, "reason", "tester")
    if case_id is not None:  # None is "no case" for an e-mail
        with pytest.raises(InputError):
            database.queue_email("t-telkonord", case_id, "a@example.org", "s", "b", "tester")


def test_unknown_tenant_and_empty_actor_are_input_errors(data: DemoData, database: DemoDatabase) -> None:
    with pytest.raises(InputError):
        database.queue_email("t-nobody", None, "a@example.org", "s", "b", "tester")
    with pytest.raises(InputError):
        database.close_case(data.cases[0].case_id, "reason", "")


def test_concurrent_writes_and_reads_from_many_threads(data: DemoData, database: DemoDatabase) -> None:
    open_cases = [case for case in data.cases if case.status is not CaseStatus.CLOSED][:16]
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            case = open_cases[index]
            principal = Principal(case.tenant_id, case.debtor_id, PrincipalRole.DEBTOR)
            for round_number in range(10):
                database.set_payment_plan(case.case_id, 2_000 + round_number, 6, f"worker-{index}")
                database.queue_email(
                    case.tenant_id, case.case_id, "a@example.org", "s", "b", f"worker-{index}"
                )
                assert database.case_for(principal, case.case_id) is not None
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(open_cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for case in open_cases:
        assert len(database.events(case.case_id)) == 20
        plan = database.payment_plan(case.case_id)
        assert plan is not None and plan.monthly_cents == 2_009
