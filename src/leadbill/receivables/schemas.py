"""API shapes of the aging report and of writing an invoice off as uncollectible."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from leadbill.core.receivables import Bucket
from leadbill.receivables.service import REASON_LIMIT, AgingReport, AgingRow
from leadbill.schemas import Instant, MoneyOut, RequestModel, money


class UncollectibleIn(RequestModel):
    """Why the invoice cannot be collected; it leaves the receivables and stays in the ledger."""

    reason: str = Field(
        max_length=REASON_LIMIT, examples=["Customer went out of business; no payout expected."]
    )
    at: Instant | None = Field(default=None, description="when it was written off (default: now)")


class AgingRowOut(BaseModel):
    """Open balances in one currency by days past due: of one account and entity (`account`
    set), of one entity (`account` null), or of everything (both null, in `totals`)."""

    entity: str | None = Field(description="the issuing billing entity (null: issued before any)")
    account: str | None
    currency: str
    invoices: int = Field(description="invoices with a balance due")
    current: MoneyOut = Field(description="not yet past due")
    days_1_30: MoneyOut
    days_31_60: MoneyOut
    days_61_90: MoneyOut
    over_90: MoneyOut
    total: MoneyOut

    @classmethod
    def of(cls, row: AgingRow) -> AgingRowOut:
        """The API shape of one row of the report."""
        totals = row.totals
        amounts = {
            bucket.value: money(totals.amount(bucket).amount, row.currency) for bucket in Bucket
        }
        return cls(
            entity=row.entity,
            account=row.account,
            currency=row.currency,
            invoices=row.invoices,
            total=money(totals.total.amount, row.currency),
            **amounts,
        )


class ReceivablesOut(BaseModel):
    """What is owed at `as_of`, by days past due: per entity and account, per entity, and in
    all, one row per currency (currencies are never added together)."""

    as_of: datetime
    entity: str | None
    account: str | None
    accounts: list[AgingRowOut]
    entities: list[AgingRowOut]
    totals: list[AgingRowOut]

    @classmethod
    def of(cls, report: AgingReport) -> ReceivablesOut:
        """The API shape of the aging report."""
        return cls(
            as_of=report.as_of,
            entity=report.entity,
            account=report.account,
            accounts=[AgingRowOut.of(row) for row in report.accounts],
            entities=[AgingRowOut.of(row) for row in report.entities],
            totals=[AgingRowOut.of(row) for row in report.totals],
        )
