"""The assistant's tools, run against the demo database, with the rights of one configuration.

``naive`` is what teams ship first: the tools act on whatever case id the model names, in any tenant,
with any amount, and e-mail any address. ``hardened`` checks every call on the server side against the
authenticated principal (never against what the model or the customer claims):

===================== ====================================================================================
tool                  hardened rule
===================== ====================================================================================
lookup_case           only a case the principal may see (a debtor: their own; an agent: their tenant's)
update_payment_plan   own case, at least the tenant's minimum monthly amount, at most its maximum number of
                      instalments, and the instalments must cover the outstanding amount
send_email            only to the debtor's own address on file (agents: addresses of their tenant's debtors)
close_case            agents only; a debtor cannot close a case
===================== ====================================================================================

Every call comes back as a :class:`ToolOutcome` (executed, denied or invalid) so the red team and the
audit can see what the model tried.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from bastion.core.errors import InputError
from bastion.demo._records import CaseRecord
from bastion.demo.actions import ActionCall, CloseCase, LookupCase, SendEmail, UpdatePaymentPlan
from bastion.demo.db import DemoDatabase
from bastion.rag.types import Principal, PrincipalRole

__all__ = ["ToolOutcome", "Toolbox"]

OutcomeStatus = Literal["executed", "denied", "invalid"]


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What happened to one action call; ``result`` is what the model sees next (JSON-serialisable)."""

    call: ActionCall
    status: OutcomeStatus
    result: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool_call_id": self.call.id,
            "name": self.call.name,
            "status": self.status,
            "result": self.result,
            "reason": self.reason,
        }


class Toolbox:
    """The tools for one principal and configuration."""

    def __init__(self, database: DemoDatabase, principal: Principal, hardened: bool) -> None:
        self.database = database
        self.principal = principal
        self.hardened = hardened

    def run(self, call: ActionCall) -> ToolOutcome:
        """Validate and, if allowed, execute one call. A write the database refuses comes back invalid."""
        if call.arguments is None:
            return ToolOutcome(call, "invalid", {"error": call.error}, call.error)
        try:
            return self._dispatch(call, call.arguments)
        except InputError as error:  # e.g. closing a closed case; the message never repeats the value
            return ToolOutcome(call, "invalid", {"error": str(error)}, str(error))

    def _dispatch(self, call: ActionCall, arguments: object) -> ToolOutcome:
        if isinstance(arguments, LookupCase):
            return self._lookup(call, arguments)
        if isinstance(arguments, UpdatePaymentPlan):
            return self._payment_plan(call, arguments)
        if isinstance(arguments, SendEmail):
            return self._email(call, arguments)
        if isinstance(arguments, CloseCase):
            return self._close(call, arguments)
        raise AssertionError(f"no handler for {call.name}")  # TOOL_ARGUMENTS and the handlers disagree

    # --- handlers ---------------------------------------------------------------------------------------

    def _case(self, case_id: str) -> CaseRecord | None:
        if self.hardened:
            return self.database.case_for(self.principal, case_id)
        return self.database.case(case_id)

    def _lookup(self, call: ActionCall, arguments: LookupCase) -> ToolOutcome:
        case = self._case(arguments.case_id)
        if case is None:
            return _denied(call, "no such case for this customer")
        return ToolOutcome(call, "executed", self._case_view(case))

    def _payment_plan(self, call: ActionCall, arguments: UpdatePaymentPlan) -> ToolOutcome:
        case = self._case(arguments.case_id)
        if case is None:
            return _denied(call, "no such case for this customer")
        monthly_cents = round(arguments.monthly_eur * 100)
        if self.hardened:
            problem = self._plan_problem(case, monthly_cents, arguments.installments)
            if problem:
                return _denied(call, problem)
        self.database.set_payment_plan(case.case_id, monthly_cents, arguments.installments, self._actor)
        return ToolOutcome(
            call,
            "executed",
            {
                "case_id": case.case_id,
                "monthly_eur": monthly_cents / 100,
                "installments": arguments.installments,
                "status": "payment_plan",
            },
        )

    def _plan_problem(self, case: CaseRecord, monthly_cents: int, installments: int) -> str:
        tenant = self.database.tenant(case.tenant_id)
        if tenant is None:
            return "unknown tenant"
        policy = tenant.policy
        if monthly_cents < policy.min_monthly_installment_cents:
            return "monthly amount below the minimum"
        if installments > policy.max_installments:
            return "too many instalments"
        if monthly_cents * installments < case.outstanding_cents:
            needed = math.ceil(case.outstanding_cents / installments) / 100
            return f"the instalments do not cover the outstanding amount (at least EUR {needed:.2f} a month)"
        return ""

    def _email(self, call: ActionCall, arguments: SendEmail) -> ToolOutcome:
        recipient = arguments.to.strip().lower()
        case_id: str | None = None
        if self.hardened:
            allowed = self._own_addresses()
            if recipient not in allowed:
                return _denied(call, "e-mails go only to the customer's address on file")
            case_id = allowed[recipient]
        self.database.queue_email(
            self.principal.tenant_id, case_id, recipient, arguments.subject, arguments.body, self._actor
        )
        return ToolOutcome(call, "executed", {"queued": True, "to": recipient})

    def _close(self, call: ActionCall, arguments: CloseCase) -> ToolOutcome:
        if self.hardened and self.principal.role is not PrincipalRole.AGENT:
            return _denied(call, "only an agent can close a case")
        case = self._case(arguments.case_id)
        if case is None:
            return _denied(call, "no such case for this customer")
        self.database.close_case(case.case_id, arguments.reason, self._actor)
        return ToolOutcome(call, "executed", {"case_id": case.case_id, "status": "closed"})

    # --- helpers ----------------------------------------------------------------------------------------

    @property
    def _actor(self) -> str:
        return f"assistant:{self.principal.subject}"

    def _own_addresses(self) -> dict[str, str | None]:
        """Addresses the hardened tool may write to, each with the case it belongs to."""
        addresses: dict[str, str | None] = {}
        for case in self.database.cases_of(self.principal):
            debtor = self.database.debtor(case.debtor_id)
            if debtor is not None:
                addresses.setdefault(debtor.email.lower(), case.case_id)
        return addresses

    def _case_view(self, case: CaseRecord) -> dict[str, Any]:
        return {
            "case_id": case.case_id,
            "reference": case.creditor_reference,
            "subject": case.subject.en,
            "status": case.status.value,
            "outstanding_eur": case.outstanding_cents / 100,
            "due_on": case.due_on.isoformat(),
            "debtor": self._debtor_name(case),
        }

    def _debtor_name(self, case: CaseRecord) -> str:
        debtor = self.database.debtor(case.debtor_id)
        return "" if debtor is None else debtor.full_name


def _denied(call: ActionCall, reason: str) -> ToolOutcome:
    return ToolOutcome(call, "denied", {"error": reason}, reason)
