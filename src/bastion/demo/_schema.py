"""The SQLite schema of the demo database and the writer that fills it from :class:`DemoData`.

Tables (``*`` = indexed on ``tenant_id``): ``meta``, ``tenants``, ``tenant_rules``, ``fees``, ``agents*``,
``debtors*``, ``cases*``, ``case_fees``, ``payments``, ``payment_plans``, ``notes``, ``principals*``,
``outbox*``, ``case_events*``. Foreign keys are on; a case's debtor and agent must belong to the case's
tenant (composite foreign keys), a case has at most one active plan (partial unique index), and the API
keys are stored only as their SHA-256.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.core.errors import ConfigError
from bastion.demo._keys import key_sha256
from bastion.demo._records import AgencyRecord, CaseRecord, DebtorRecord, PaymentPlanRecord, TenantRecord

if TYPE_CHECKING:
    from bastion.demo.data import DemoData

__all__ = ["SCHEMA", "SCHEMA_VERSION", "write_database"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE tenants (
    tenant_id                     TEXT PRIMARY KEY,
    name                          TEXT NOT NULL,
    sector                        TEXT NOT NULL,
    language                      TEXT NOT NULL CHECK (language IN ('en', 'de')),
    email_domain                  TEXT NOT NULL,
    support_email                 TEXT NOT NULL,
    phone                         TEXT NOT NULL,
    phone_hours_en                TEXT NOT NULL,
    phone_hours_de                TEXT NOT NULL,
    creditor_iban                 TEXT NOT NULL,
    creditor_bic                  TEXT NOT NULL,
    bank_name                     TEXT NOT NULL,
    reference_prefix              TEXT NOT NULL,
    payment_term_days             INTEGER NOT NULL CHECK (payment_term_days > 0),
    final_demand_days             INTEGER NOT NULL CHECK (final_demand_days > 0),
    max_discount_pct              INTEGER NOT NULL CHECK (max_discount_pct BETWEEN 0 AND 100),
    min_monthly_installment_cents INTEGER NOT NULL CHECK (min_monthly_installment_cents >= 0),
    max_installments              INTEGER NOT NULL CHECK (max_installments > 0),
    canary                        TEXT NOT NULL
);
CREATE TABLE tenant_rules (
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    position  INTEGER NOT NULL,
    text_en   TEXT NOT NULL,
    text_de   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, position)
);
CREATE TABLE fees (
    tenant_id    TEXT NOT NULL REFERENCES tenants (tenant_id),
    code         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    label_en     TEXT NOT NULL,
    label_de     TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    PRIMARY KEY (tenant_id, code)
);
CREATE TABLE agents (
    agent_id  TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    name      TEXT NOT NULL,
    email     TEXT NOT NULL,
    language  TEXT NOT NULL CHECK (language IN ('en', 'de')),
    team_lead INTEGER NOT NULL CHECK (team_lead IN (0, 1)),
    UNIQUE (agent_id, tenant_id)
);
CREATE TABLE debtors (
    debtor_id  TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    salutation TEXT NOT NULL CHECK (salutation IN ('mr', 'ms', '')),
    street     TEXT NOT NULL,
    postcode   TEXT NOT NULL,
    city       TEXT NOT NULL,
    country    TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    email      TEXT NOT NULL,
    phone      TEXT NOT NULL,
    iban       TEXT NOT NULL,
    language   TEXT NOT NULL CHECK (language IN ('en', 'de')),
    UNIQUE (debtor_id, tenant_id)
);
CREATE TABLE cases (
    case_id               TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants (tenant_id),
    debtor_id             TEXT NOT NULL,
    agent_id              TEXT NOT NULL,
    creditor_reference    TEXT NOT NULL,
    subject_en            TEXT NOT NULL,
    subject_de            TEXT NOT NULL,
    original_amount_cents INTEGER NOT NULL CHECK (original_amount_cents >= 0),
    fees_cents            INTEGER NOT NULL CHECK (fees_cents >= 0),
    outstanding_cents     INTEGER NOT NULL,
    currency              TEXT NOT NULL,
    opened_on             TEXT NOT NULL,
    due_on                TEXT NOT NULL,
    status                TEXT NOT NULL CHECK (status IN ('open', 'payment_plan', 'disputed', 'closed')),
    closed_reason         TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (debtor_id, tenant_id) REFERENCES debtors (debtor_id, tenant_id),
    FOREIGN KEY (agent_id, tenant_id) REFERENCES agents (agent_id, tenant_id)
);
CREATE TABLE case_fees (
    case_id      TEXT NOT NULL REFERENCES cases (case_id),
    position     INTEGER NOT NULL,
    fee_code     TEXT NOT NULL,
    amount_cents INTEGER NOT NULL CHECK (amount_cents >= 0),
    charged_on   TEXT NOT NULL,
    PRIMARY KEY (case_id, position)
);
CREATE TABLE payments (
    payment_id   TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL REFERENCES cases (case_id),
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    paid_on      TEXT NOT NULL,
    method       TEXT NOT NULL CHECK (method IN ('bank_transfer', 'direct_debit', 'card'))
);
CREATE TABLE payment_plans (
    plan_id       TEXT PRIMARY KEY,
    case_id       TEXT NOT NULL REFERENCES cases (case_id),
    monthly_cents INTEGER NOT NULL CHECK (monthly_cents > 0),
    installments  INTEGER NOT NULL CHECK (installments > 0),
    first_due_on  TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    active        INTEGER NOT NULL CHECK (active IN (0, 1))
);
CREATE TABLE notes (
    note_id    TEXT PRIMARY KEY,
    case_id    TEXT NOT NULL REFERENCES cases (case_id),
    author_id  TEXT NOT NULL REFERENCES agents (agent_id),
    kind       TEXT NOT NULL,
    language   TEXT NOT NULL CHECK (language IN ('en', 'de')),
    text       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE principals (
    key_sha256 TEXT PRIMARY KEY CHECK (length(key_sha256) = 64),
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    subject    TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('debtor', 'agent')),
    UNIQUE (tenant_id, subject)
);
CREATE TABLE outbox (
    email_id  INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    case_id   TEXT REFERENCES cases (case_id),
    recipient TEXT NOT NULL,
    subject   TEXT NOT NULL,
    body      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
CREATE TABLE case_events (
    event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    case_id     TEXT REFERENCES cases (case_id),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('payment_plan_set', 'case_closed', 'email_queued')),
    detail      TEXT NOT NULL,
    occurred_at TEXT NOT NULL
);
CREATE INDEX agents_tenant ON agents (tenant_id);
CREATE INDEX debtors_tenant ON debtors (tenant_id);
CREATE INDEX cases_tenant ON cases (tenant_id);
CREATE INDEX cases_debtor ON cases (debtor_id);
CREATE INDEX principals_tenant ON principals (tenant_id);
CREATE INDEX outbox_tenant ON outbox (tenant_id);
CREATE INDEX case_events_tenant ON case_events (tenant_id);
CREATE INDEX case_events_case ON case_events (case_id);
CREATE INDEX payments_case ON payments (case_id);
CREATE INDEX payment_plans_case ON payment_plans (case_id);
CREATE UNIQUE INDEX payment_plans_one_active ON payment_plans (case_id) WHERE active = 1;
CREATE INDEX notes_case ON notes (case_id);
"""


def _tenant_row(t: TenantRecord) -> tuple[object, ...]:
    policy = t.policy
    return (
        *(t.tenant_id, t.name, t.sector, t.language, t.email_domain, t.support_email, t.phone),
        *(
            t.phone_hours.en,
            t.phone_hours.de,
            t.creditor_iban,
            t.creditor_bic,
            t.bank_name,
            t.reference_prefix,
        ),
        *(t.payment_term_days, t.final_demand_days, policy.max_discount_pct),
        *(policy.min_monthly_installment_cents, policy.max_installments, policy.canary),
    )


def _debtor_row(d: DebtorRecord) -> tuple[object, ...]:
    address = d.address
    return (
        *(d.debtor_id, d.tenant_id, d.first_name, d.last_name, d.salutation),
        *(address.street, address.postcode, address.city, address.country),
        *(d.birth_date.isoformat(), d.email, d.phone, d.iban, d.language),
    )


def _case_row(c: CaseRecord) -> tuple[object, ...]:
    return (
        *(c.case_id, c.tenant_id, c.debtor_id, c.agent_id, c.creditor_reference, c.subject.en, c.subject.de),
        *(c.original_amount_cents, c.fees_cents, c.outstanding_cents, c.currency),
        *(c.opened_on.isoformat(), c.due_on.isoformat(), c.status.value, c.closed_reason),
    )


def _plan_row(p: PaymentPlanRecord) -> tuple[object, ...]:
    return (
        *(p.plan_id, p.case_id, p.monthly_cents, p.installments, p.first_due_on.isoformat()),
        *(p.created_by, p.created_at.isoformat(), int(p.active)),
    )


def _meta_rows(data: DemoData) -> list[tuple[str, str]]:
    agency = data.agency
    return [
        ("seed", str(data.seed)),
        ("reference_date", data.reference_date.isoformat()),
        *((f"agency.{name}", str(getattr(agency, name))) for name in AgencyRecord.__slots__),
    ]


def _fill(connection: sqlite3.Connection, data: DemoData) -> None:
    insert = connection.executemany
    insert("INSERT INTO meta VALUES (?, ?)", _meta_rows(data))
    insert(f"INSERT INTO tenants VALUES ({', '.join('?' * 19)})", [_tenant_row(t) for t in data.tenants])
    insert(
        "INSERT INTO tenant_rules VALUES (?, ?, ?, ?)",
        [
            (t.tenant_id, position, rule.en, rule.de)
            for t in data.tenants
            for position, rule in enumerate(t.policy.internal_rules)
        ],
    )
    insert(
        "INSERT INTO fees VALUES (?, ?, ?, ?, ?, ?)",
        [
            (t.tenant_id, fee.code, position, fee.label.en, fee.label.de, fee.amount_cents)
            for t in data.tenants
            for position, fee in enumerate(t.fees)
        ],
    )
    insert(
        "INSERT INTO agents VALUES (?, ?, ?, ?, ?, ?)",
        [(a.agent_id, a.tenant_id, a.name, a.email, a.language, int(a.team_lead)) for a in data.agents],
    )
    insert(f"INSERT INTO debtors VALUES ({', '.join('?' * 14)})", [_debtor_row(d) for d in data.debtors])
    insert(f"INSERT INTO cases VALUES ({', '.join('?' * 15)})", [_case_row(c) for c in data.cases])
    positions: dict[str, int] = {}
    charges = []
    for charge in data.fee_charges:
        positions[charge.case_id] = position = positions.get(charge.case_id, -1) + 1
        charges.append(
            (charge.case_id, position, charge.fee_code, charge.amount_cents, charge.charged_on.isoformat())
        )
    insert("INSERT INTO case_fees VALUES (?, ?, ?, ?, ?)", charges)
    insert(
        "INSERT INTO payments VALUES (?, ?, ?, ?, ?)",
        [
            (p.payment_id, p.case_id, p.amount_cents, p.paid_on.isoformat(), p.method.value)
            for p in data.payments
        ],
    )
    insert(
        "INSERT INTO payment_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [_plan_row(p) for p in data.payment_plans],
    )
    insert(
        "INSERT INTO notes VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (n.note_id, n.case_id, n.author_id, n.kind.value, n.language, n.text, n.created_at.isoformat())
            for n in data.notes
        ],
    )
    insert(
        "INSERT INTO principals VALUES (?, ?, ?, ?)",
        [
            (key_sha256(c.api_key), c.principal.tenant_id, c.principal.subject, c.principal.role.value)
            for c in data.credentials
        ],
    )


def write_database(data: DemoData, path: Path) -> None:
    """Create (or replace) the SQLite file at ``path`` with ``data``.

    The file is written next to ``path`` under a temporary name and moved into place, so readers never see
    a half-written database. Raises :class:`ConfigError` when the folder does not exist or the file cannot
    be written.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(f"cannot write the demo database: folder {path.parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"cannot write the demo database: {path} is a folder")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        connection = sqlite3.connect(temporary)
        try:
            # A temporary file that is discarded on failure: no journal or fsync needed while building it.
            connection.execute("PRAGMA journal_mode = MEMORY")
            connection.execute("PRAGMA synchronous = OFF")
            connection.execute("PRAGMA foreign_keys = ON")
            with connection:
                connection.executescript(SCHEMA)
                _fill(connection, data)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            problems = connection.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            connection.close()
        if problems:
            raise ConfigError(f"the demo data break {len(problems)} foreign key(s)")
        os.replace(temporary, path)
    except (sqlite3.Error, OSError) as error:
        raise ConfigError(f"cannot write the demo database {path.name}: {type(error).__name__}") from error
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
