"""Which letters a case has received, and when: one rule shared by the generator and the documents.

* every case got a payment reminder two days after it was opened, due ``payment_term_days`` later;
* an open case whose reminder deadline passed more than ten days ago also got a final demand, due
  ``final_demand_days`` after it;
* a case with a payment plan got an instalment confirmation on the day the plan was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bastion.demo._records import CaseStatus, PaymentPlanRecord

__all__ = ["Letter", "LetterKind", "add_months", "letters_for"]

_REMINDER_DELAY = timedelta(days=2)
_FINAL_DEMAND_GAP = timedelta(days=10)


def add_months(day: date, months: int) -> date:
    """``day`` moved by ``months`` calendar months; that day of the month must exist (the demo uses 1, 15)."""
    month_index = day.month - 1 + months
    return day.replace(year=day.year + month_index // 12, month=month_index % 12 + 1)


class LetterKind(StrEnum):
    REMINDER = "reminder"
    FINAL_DEMAND = "final-demand"
    INSTALLMENT_CONFIRMATION = "installment-confirmation"


@dataclass(frozen=True, slots=True)
class Letter:
    """A letter sent on ``dated``; ``due_on`` is its deadline (for a confirmation: the first instalment)."""

    kind: LetterKind
    dated: date
    due_on: date


def letters_for(
    opened_on: date,
    status: CaseStatus,
    plan: PaymentPlanRecord | None,
    payment_term_days: int,
    final_demand_days: int,
    today: date,
) -> tuple[Letter, ...]:
    """The letters of a case in date order (see the module docstring for the rule)."""
    reminder_dated = opened_on + _REMINDER_DELAY
    reminder = Letter(LetterKind.REMINDER, reminder_dated, reminder_dated + timedelta(days=payment_term_days))
    letters = [reminder]
    final_dated = reminder.due_on + _FINAL_DEMAND_GAP
    if status is CaseStatus.OPEN and final_dated < today:
        letters.append(
            Letter(LetterKind.FINAL_DEMAND, final_dated, final_dated + timedelta(days=final_demand_days))
        )
    if plan is not None:
        letters.append(Letter(LetterKind.INSTALLMENT_CONFIRMATION, plan.created_at.date(), plan.first_due_on))
    return tuple(letters)
