"""API shapes of dunning (also what `leadbill dunning list --format json|csv` prints)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from leadbill.dunning.service import Dunned
from leadbill.pagination import PageInfo
from leadbill.schemas import MoneyOut, money


class DunningInvoiceOut(BaseModel):
    """An open invoice in dunning: the last reminder step sent and what comes next.

    Steps are days after `due_on`; dates are the account's local dates."""

    invoice: str = Field(examples=["INV-000042"])
    account: str = Field(examples=["acme"])
    amount_due: MoneyOut
    due_on: date = Field(description="The date the steps count from: the due date")
    days_overdue: int = Field(description="Days past `due_on` on the account's local date")
    steps: list[int] = Field(description="The schedule of the invoice's billing entity")
    reminders_sent: int
    last_step: int | None = Field(description="The latest step sent (null: none yet)")
    last_step_on: date | None = Field(description="The local date it was queued")
    next_step: int | None = Field(description="The next step (null: none, or the final action)")
    next_action: str | None = Field(
        description="`uncollectible` or `pause_service` when the final action comes next"
    )
    next_on: date | None = Field(description="When the next step or action is due")
    action_taken: str | None = Field(description="The final action already taken")
    as_of: datetime

    @classmethod
    def of(cls, item: Dunned, as_of: datetime) -> DunningInvoiceOut:
        """The shape of an invoice in dunning at `as_of`."""
        following = item.next()
        return cls(
            invoice=str(item.invoice.number),
            account=item.account_code,
            amount_due=money(item.amount_due, item.invoice.currency),
            due_on=item.due,
            days_overdue=item.days_overdue,
            steps=list(item.schedule.steps),
            reminders_sent=len(item.sent),
            last_step=item.last_step,
            last_step_on=item.last_sent_on,
            next_step=following.step if following else None,
            next_action=following.action if following else None,
            next_on=following.on if following else None,
            action_taken=item.action_taken,
            as_of=as_of,
        )


class DunningPage(BaseModel):
    """One page of invoices in dunning, by invoice id."""

    data: list[DunningInvoiceOut]
    page: PageInfo
