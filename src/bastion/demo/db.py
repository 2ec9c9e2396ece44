"""The demo database: the repository the assistant's tools read and write.

:func:`write_database` creates the SQLite file from :class:`~bastion.demo.data.DemoData`;
:class:`DemoDatabase` opens it. The database answers questions and records actions, it does **not** decide
who may do what, with two deliberate exceptions: :meth:`DemoDatabase.case_for` and
:meth:`DemoDatabase.debtor_for` apply the access rule. :meth:`DemoDatabase.case` and
:meth:`DemoDatabase.debtor` look up by id alone, as a naive application would; the writes check that values
are well formed, not whether they respect the tenant's negotiation limits. Those decisions belong to the
tools (naive or hardened), which is what the demo compares.

Every write records a :class:`CaseEvent` with its actor in the same transaction. One connection is shared
by all threads behind a lock, so the object can be used from a threaded server.
"""

from __future__ import annotations

import hmac
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType

from bastion.core.errors import ConfigError, InputError
from bastion.demo._keys import key_sha256
from bastion.demo._records import (
    Address,
    AgencyRecord,
    AgentRecord,
    Bilingual,
    CaseEvent,
    CaseRecord,
    CaseStatus,
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
from bastion.demo._schedule import add_months
from bastion.demo._schema import SCHEMA_VERSION, write_database
from bastion.rag.types import Principal, PrincipalRole

__all__ = [
    "MAX_EMAIL_BODY_CHARS",
    "AgencyRecord",
    "AgentRecord",
    "CaseEvent",
    "CaseRecord",
    "DebtorRecord",
    "DemoDatabase",
    "FeeCharge",
    "NoteRecord",
    "OutboxEmail",
    "PaymentPlanRecord",
    "PaymentRecord",
    "TenantRecord",
    "write_database",
]

MAX_EMAIL_BODY_CHARS = 20_000
_MAX_ID_CHARS = 64
_MAX_KEY_CHARS = 256
_MAX_SHORT_TEXT = 300
_MAX_INSTALLMENTS = 120
_MAX_CENTS = 100_000_000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _text(
    value: object, name: str, max_chars: int, *, single_line: bool = True, required: bool = True
) -> str:
    """``value`` as a clean string, or :class:`InputError` naming the field (never echoing the value)."""
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string")
    if required and not value.strip():
        raise InputError(f"{name} must not be empty")
    if len(value) > max_chars:
        raise InputError(f"{name} is longer than {max_chars} characters")
    if "\x00" in value or (single_line and _CONTROL.search(value)):
        raise InputError(f"{name} contains control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(f"{name} is not valid Unicode text") from error
    return value


def _integer(value: object, name: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InputError(f"{name} must be an integer from {low} to {high}")
    return value


def _is_id(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _MAX_ID_CHARS and value.isprintable()


def _next_due_slot(day: date) -> date:
    """The first 1st or 15th of a month at least 14 days after ``day``."""
    start = day + timedelta(days=14)
    if start.day in {1, 15}:
        return start
    if start.day < 15:
        return start.replace(day=15)
    return add_months(start.replace(day=1), 1)


class DemoDatabase:
    """Typed access to a demo database written by :func:`write_database`.

    ``clock`` gives the time stamped on writes (UTC); tests pass a fixed one. Opening a missing file or one
    with another schema version raises :class:`ConfigError`. Lookups return ``None`` for unknown or
    malformed ids; writes raise :class:`InputError` for unknown cases and malformed values.
    """

    def __init__(self, path: Path, clock: Callable[[], datetime] = _utc_now) -> None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"demo database {path.name} not found; create it with write_database()")
        try:
            self._connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=rw", uri=True, check_same_thread=False
            )
            self._connection.row_factory = sqlite3.Row
            self._connection.execute("PRAGMA foreign_keys = ON")
            self._connection.execute("PRAGMA busy_timeout = 5000")
            # WAL: readers in other processes are not blocked by writes; NORMAL sync is safe in WAL mode
            # (a power cut may lose the last transactions, never corrupt the file).
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA synchronous = NORMAL")
            version = self._connection.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as error:
            raise ConfigError(f"cannot open demo database {path.name}: {type(error).__name__}") from error
        if version != SCHEMA_VERSION:
            self._connection.close()
            raise ConfigError(
                f"demo database {path.name} has schema version {version}, expected {SCHEMA_VERSION}"
            )
        self._lock = threading.RLock()
        self._clock = clock

    # -- lifecycle ---------------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> DemoDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _rows(self, sql: str, parameters: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._connection.execute(sql, parameters).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                with self._connection:
                    yield self._connection
            except sqlite3.IntegrityError as error:
                raise InputError(
                    f"the change violates a database constraint: {type(error).__name__}"
                ) from error

    # -- authentication ------------------------------------------------------------------------------------

    def principal_for_key(self, api_key: object) -> Principal | None:
        """The principal whose API key is ``api_key``, or ``None`` (also for non-strings and huge inputs).

        Only the SHA-256 of keys is stored; the row is found by the hash and the hashes are compared in
        constant time, so neither the lookup nor the comparison reveals a key.
        """
        if not isinstance(api_key, str) or not 0 < len(api_key) <= _MAX_KEY_CHARS:
            return None
        digest = key_sha256(api_key)
        rows = self._rows("SELECT * FROM principals WHERE key_sha256 = ?", (digest,))
        if not rows or not hmac.compare_digest(rows[0]["key_sha256"], digest):
            return None
        row = rows[0]
        return Principal(row["tenant_id"], row["subject"], PrincipalRole(row["role"]))

    # -- agency, tenants and people --------------------------------------------------------------------------

    def agency(self) -> AgencyRecord:
        """The collection agency (stored in the ``meta`` table)."""
        rows = self._rows("SELECT key, value FROM meta WHERE key LIKE 'agency.%'")
        values = {row["key"].removeprefix("agency."): row["value"] for row in rows}
        try:
            return AgencyRecord(**values)
        except TypeError as error:
            raise ConfigError("the demo database lacks the agency's details") from error

    def agency_name(self) -> str:
        return self.agency().name

    def agency_domain(self) -> str:
        """The agency staff's e-mail domain (besides tenants' domains the only legitimate mail domain)."""
        return self.agency().staff_email_domain

    def tenants(self) -> tuple[TenantRecord, ...]:
        return tuple(self._tenant(row) for row in self._rows("SELECT * FROM tenants ORDER BY rowid"))

    def tenant(self, tenant_id: str) -> TenantRecord | None:
        """The tenant with its *confidential* policy (for the system prompt), or ``None``."""
        if not _is_id(tenant_id):
            return None
        rows = self._rows("SELECT * FROM tenants WHERE tenant_id = ?", (tenant_id,))
        return self._tenant(rows[0]) if rows else None

    def _tenant(self, row: sqlite3.Row) -> TenantRecord:
        tenant_id = row["tenant_id"]
        rules = self._rows("SELECT * FROM tenant_rules WHERE tenant_id = ? ORDER BY position", (tenant_id,))
        fees = self._rows("SELECT * FROM fees WHERE tenant_id = ? ORDER BY position", (tenant_id,))
        return TenantRecord(
            tenant_id=tenant_id,
            name=row["name"],
            sector=row["sector"],
            language=row["language"],
            email_domain=row["email_domain"],
            support_email=row["support_email"],
            phone=row["phone"],
            phone_hours=Bilingual(en=row["phone_hours_en"], de=row["phone_hours_de"]),
            creditor_iban=row["creditor_iban"],
            creditor_bic=row["creditor_bic"],
            bank_name=row["bank_name"],
            reference_prefix=row["reference_prefix"],
            payment_term_days=row["payment_term_days"],
            final_demand_days=row["final_demand_days"],
            fees=tuple(
                Fee(f["code"], Bilingual(en=f["label_en"], de=f["label_de"]), f["amount_cents"]) for f in fees
            ),
            policy=NegotiationPolicy(
                max_discount_pct=row["max_discount_pct"],
                min_monthly_installment_cents=row["min_monthly_installment_cents"],
                max_installments=row["max_installments"],
                internal_rules=tuple(Bilingual(en=r["text_en"], de=r["text_de"]) for r in rules),
                canary=row["canary"],
            ),
        )

    def agent(self, agent_id: str) -> AgentRecord | None:
        if not _is_id(agent_id):
            return None
        rows = self._rows("SELECT * FROM agents WHERE agent_id = ?", (agent_id,))
        return _agent(rows[0]) if rows else None

    def agents(self, tenant_id: str) -> tuple[AgentRecord, ...]:
        return tuple(
            _agent(row) for row in self._rows("SELECT * FROM agents WHERE tenant_id = ?", (tenant_id,))
        )

    def debtor(self, debtor_id: str) -> DebtorRecord | None:
        """The debtor with ``debtor_id`` in ANY tenant (no access check: the naive tools use this)."""
        if not _is_id(debtor_id):
            return None
        rows = self._rows("SELECT * FROM debtors WHERE debtor_id = ?", (debtor_id,))
        return _debtor(rows[0]) if rows else None

    def debtor_for(self, principal: Principal, debtor_id: str) -> DebtorRecord | None:
        """The debtor if ``principal`` may see them: same tenant, and a debtor only themselves."""
        if principal.role is PrincipalRole.DEBTOR and debtor_id != principal.subject:
            return None
        debtor = self.debtor(debtor_id)
        return debtor if debtor is not None and debtor.tenant_id == principal.tenant_id else None

    # -- cases -------------------------------------------------------------------------------------------

    def case(self, case_id: str) -> CaseRecord | None:
        """The case with ``case_id`` in ANY tenant, for ANY caller.

        There is deliberately no access check: this is the lookup a naive application makes, and the demo
        shows what goes wrong. Hardened code calls :meth:`case_for`.
        """
        if not _is_id(case_id):
            return None
        rows = self._rows("SELECT * FROM cases WHERE case_id = ?", (case_id,))
        return _case(rows[0]) if rows else None

    def case_for(self, principal: Principal, case_id: str) -> CaseRecord | None:
        """The case if ``principal`` may see it: same tenant, and for a debtor only their own case."""
        if not _is_id(case_id):
            return None
        sql = "SELECT * FROM cases WHERE case_id = ? AND tenant_id = ?"
        parameters: tuple[object, ...] = (case_id, principal.tenant_id)
        if principal.role is PrincipalRole.DEBTOR:
            sql += " AND debtor_id = ?"
            parameters += (principal.subject,)
        rows = self._rows(sql, parameters)
        return _case(rows[0]) if rows else None

    def cases_of(self, principal: Principal) -> tuple[CaseRecord, ...]:
        """A debtor's own cases, or every case of an agent's tenant, in id order."""
        if principal.role is PrincipalRole.DEBTOR:
            rows = self._rows(
                "SELECT * FROM cases WHERE tenant_id = ? AND debtor_id = ? ORDER BY case_id",
                (principal.tenant_id, principal.subject),
            )
        else:
            rows = self._rows(
                "SELECT * FROM cases WHERE tenant_id = ? ORDER BY case_id", (principal.tenant_id,)
            )
        return tuple(_case(row) for row in rows)

    def notes(self, case_id: str) -> tuple[NoteRecord, ...]:
        """The *confidential* agents' notes of a case, oldest first."""
        rows = self._rows("SELECT * FROM notes WHERE case_id = ? ORDER BY created_at, note_id", (case_id,))
        return tuple(_note(row) for row in rows)

    def payments(self, case_id: str) -> tuple[PaymentRecord, ...]:
        rows = self._rows("SELECT * FROM payments WHERE case_id = ? ORDER BY paid_on, payment_id", (case_id,))
        return tuple(
            PaymentRecord(
                r["payment_id"],
                r["case_id"],
                r["amount_cents"],
                date.fromisoformat(r["paid_on"]),
                PaymentMethod(r["method"]),
            )
            for r in rows
        )

    def fee_charges(self, case_id: str) -> tuple[FeeCharge, ...]:
        rows = self._rows("SELECT * FROM case_fees WHERE case_id = ? ORDER BY position", (case_id,))
        return tuple(
            FeeCharge(r["case_id"], r["fee_code"], r["amount_cents"], date.fromisoformat(r["charged_on"]))
            for r in rows
        )

    def payment_plan(self, case_id: str) -> PaymentPlanRecord | None:
        """The active plan of a case, or ``None``."""
        rows = self._rows("SELECT * FROM payment_plans WHERE case_id = ? AND active = 1", (case_id,))
        return _plan(rows[0]) if rows else None

    # -- writes ------------------------------------------------------------------------------------------

    def _require_case(self, connection: sqlite3.Connection, case_id: object) -> sqlite3.Row:
        if not _is_id(case_id):
            raise InputError("case_id is not a valid case id")
        row: sqlite3.Row | None = connection.execute(
            "SELECT * FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        if row is None:
            raise InputError("no such case")
        return row

    def _record_event(
        self,
        connection: sqlite3.Connection,
        tenant_id: str,
        case_id: str | None,
        actor: str,
        action: EventAction,
        detail: str,
    ) -> None:
        connection.execute(
            "INSERT INTO case_events (tenant_id, case_id, actor, action, detail, occurred_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (tenant_id, case_id, actor, action.value, detail, self._clock().isoformat()),
        )

    def set_payment_plan(
        self,
        case_id: str,
        monthly_cents: int,
        installments: int,
        actor: str,
        first_due_on: date | None = None,
    ) -> PaymentPlanRecord:
        """Replace the case's active plan with a new one and set the case to ``payment_plan``.

        ``first_due_on`` defaults to the first 1st or 15th at least 14 days from the clock's today. The
        tenant's negotiation limits are NOT checked here. Raises :class:`InputError` for an unknown or closed
        case or values out of range (1..100,000,000 cents, 1..120 instalments).
        """
        monthly = _integer(monthly_cents, "monthly_cents", 1, _MAX_CENTS)
        count = _integer(installments, "installments", 1, _MAX_INSTALLMENTS)
        actor = _text(actor, "actor", _MAX_ID_CHARS)
        now = self._clock()
        first_due = first_due_on if first_due_on is not None else _next_due_slot(now.date())
        if not isinstance(first_due, date):
            raise InputError("first_due_on must be a date")
        with self._transaction() as connection:
            case = self._require_case(connection, case_id)
            if case["status"] == CaseStatus.CLOSED.value:
                raise InputError("the case is closed")
            existing = connection.execute(
                "SELECT count(*) FROM payment_plans WHERE case_id = ?", (case_id,)
            ).fetchone()[0]
            plan = PaymentPlanRecord(
                plan_id=f"pp-{case_id.removeprefix('c-')}-{existing + 1}",
                case_id=case_id,
                monthly_cents=monthly,
                installments=count,
                first_due_on=first_due,
                created_by=actor,
                created_at=now,
                active=True,
            )
            connection.execute("UPDATE payment_plans SET active = 0 WHERE case_id = ?", (case_id,))
            connection.execute(
                "INSERT INTO payment_plans VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (plan.plan_id, case_id, monthly, count, first_due.isoformat(), actor, now.isoformat()),
            )
            connection.execute(
                "UPDATE cases SET status = ?, due_on = ? WHERE case_id = ?",
                (CaseStatus.PAYMENT_PLAN.value, first_due.isoformat(), case_id),
            )
            detail = f"{count} x {monthly} cents from {first_due.isoformat()}"
            self._record_event(
                connection, case["tenant_id"], case_id, actor, EventAction.PAYMENT_PLAN_SET, detail
            )
        return plan

    def close_case(self, case_id: str, reason: str, actor: str) -> CaseRecord:
        """Close the case with ``reason`` and end its plan; the outstanding amount is kept as it was.

        Raises :class:`InputError` for an unknown or already closed case, or an empty or over-long reason.
        """
        reason = _text(reason, "reason", _MAX_SHORT_TEXT)
        actor = _text(actor, "actor", _MAX_ID_CHARS)
        with self._transaction() as connection:
            case = self._require_case(connection, case_id)
            if case["status"] == CaseStatus.CLOSED.value:
                raise InputError("the case is already closed")
            connection.execute(
                "UPDATE cases SET status = ?, closed_reason = ? WHERE case_id = ?",
                (CaseStatus.CLOSED.value, reason, case_id),
            )
            connection.execute("UPDATE payment_plans SET active = 0 WHERE case_id = ?", (case_id,))
            self._record_event(connection, case["tenant_id"], case_id, actor, EventAction.CASE_CLOSED, reason)
            row = connection.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        return _case(row)

    def queue_email(
        self, tenant_id: str, case_id: str | None, to: str, subject: str, body: str, actor: str
    ) -> OutboxEmail:
        """Store an e-mail in the tenant's outbox (nothing is ever sent) and record the event.

        ``to`` must be one plain address; subject and recipient must be single lines (no header injection);
        the body may have line breaks, up to :data:`MAX_EMAIL_BODY_CHARS`. The case, if given, must exist;
        whether it belongs to ``tenant_id`` is the caller's business. Raises :class:`InputError`.
        """
        recipient = _text(to, "to", 254)
        if not _EMAIL.match(recipient):
            raise InputError("to is not an e-mail address")
        subject = _text(subject, "subject", _MAX_SHORT_TEXT)
        body = _text(body, "body", MAX_EMAIL_BODY_CHARS, single_line=False)
        actor = _text(actor, "actor", _MAX_ID_CHARS)
        if not _is_id(tenant_id):
            raise InputError("tenant_id is not a valid tenant id")
        now = self._clock()
        with self._transaction() as connection:
            if (
                connection.execute("SELECT 1 FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
                is None
            ):
                raise InputError("no such tenant")
            if case_id is not None:
                self._require_case(connection, case_id)
            cursor = connection.execute(
                "INSERT INTO outbox (tenant_id, case_id, recipient, subject, body, actor, queued_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (tenant_id, case_id, recipient, subject, body, actor, now.isoformat()),
            )
            email_id = int(cursor.lastrowid or 0)
            detail = f"e-mail {email_id} queued"
            self._record_event(connection, tenant_id, case_id, actor, EventAction.EMAIL_QUEUED, detail)
        return OutboxEmail(email_id, tenant_id, case_id, recipient, subject, body, actor, now)

    def outbox(self, tenant_id: str) -> tuple[OutboxEmail, ...]:
        """The tenant's queued e-mails, oldest first."""
        rows = self._rows("SELECT * FROM outbox WHERE tenant_id = ? ORDER BY email_id", (tenant_id,))
        return tuple(
            OutboxEmail(
                r["email_id"],
                r["tenant_id"],
                r["case_id"],
                r["recipient"],
                r["subject"],
                r["body"],
                r["actor"],
                datetime.fromisoformat(r["queued_at"]),
            )
            for r in rows
        )

    def events(self, case_id: str) -> tuple[CaseEvent, ...]:
        """The audited actions on a case, oldest first."""
        rows = self._rows("SELECT * FROM case_events WHERE case_id = ? ORDER BY event_id", (case_id,))
        return tuple(
            CaseEvent(
                r["event_id"],
                r["tenant_id"],
                r["case_id"],
                r["actor"],
                EventAction(r["action"]),
                r["detail"],
                datetime.fromisoformat(r["occurred_at"]),
            )
            for r in rows
        )


def _agent(row: sqlite3.Row) -> AgentRecord:
    return AgentRecord(
        row["agent_id"], row["tenant_id"], row["name"], row["email"], row["language"], bool(row["team_lead"])
    )


def _debtor(row: sqlite3.Row) -> DebtorRecord:
    return DebtorRecord(
        debtor_id=row["debtor_id"],
        tenant_id=row["tenant_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        salutation=row["salutation"],
        address=Address(row["street"], row["postcode"], row["city"], row["country"]),
        birth_date=date.fromisoformat(row["birth_date"]),
        email=row["email"],
        phone=row["phone"],
        iban=row["iban"],
        language=row["language"],
    )


def _case(row: sqlite3.Row) -> CaseRecord:
    return CaseRecord(
        case_id=row["case_id"],
        tenant_id=row["tenant_id"],
        debtor_id=row["debtor_id"],
        agent_id=row["agent_id"],
        creditor_reference=row["creditor_reference"],
        subject=Bilingual(en=row["subject_en"], de=row["subject_de"]),
        original_amount_cents=row["original_amount_cents"],
        fees_cents=row["fees_cents"],
        outstanding_cents=row["outstanding_cents"],
        currency=row["currency"],
        opened_on=date.fromisoformat(row["opened_on"]),
        due_on=date.fromisoformat(row["due_on"]),
        status=CaseStatus(row["status"]),
        closed_reason=row["closed_reason"],
    )


def _plan(row: sqlite3.Row) -> PaymentPlanRecord:
    return PaymentPlanRecord(
        plan_id=row["plan_id"],
        case_id=row["case_id"],
        monthly_cents=row["monthly_cents"],
        installments=row["installments"],
        first_due_on=date.fromisoformat(row["first_due_on"]),
        created_by=row["created_by"],
        created_at=datetime.fromisoformat(row["created_at"]),
        active=bool(row["active"]),
    )


def _note(row: sqlite3.Row) -> NoteRecord:
    return NoteRecord(
        note_id=row["note_id"],
        case_id=row["case_id"],
        author_id=row["author_id"],
        kind=NoteKind(row["kind"]),
        language=row["language"],
        text=row["text"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )
