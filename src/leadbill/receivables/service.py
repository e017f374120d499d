"""Receivables: overdue invoices, the aging report, and writing an invoice off.

The rules are core.receivables'; this module feeds them stored invoices and their
payments. An invoice's days past due are counted on the account's local date of
the instant asked about. Staff mark an open invoice uncollectible with a reason:
it leaves the receivables and keeps its number, lines and payments. Money that
arrives later is still recorded against it (billing.payments), and the invoice
becomes paid when the payments cover it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balance_due, balances_due
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, format_money
from leadbill.core.periods import require_utc
from leadbill.core.receivables import (
    RECEIVABLE_STATUS,
    AgedBalance,
    AgingTotals,
    aging_totals,
    days_past_due,
    is_receivable,
)
from leadbill.core.wording import one_line
from leadbill.entities.service import get_entity
from leadbill.errors import Conflict, InvalidInput, from_rule
from leadbill.receivables.repository import OwedInvoice, owed_invoices

REASON_LIMIT = 300
_REFUSALS = {
    "draft": "a draft is not owed yet; finalize it first",
    "paid": "it is paid; nothing is left to collect",
    "void": "it is void; nothing is owed",
}


def local_date(as_of: datetime, time_zone: str) -> date:
    """The calendar date of an instant in a time zone (the account's)."""
    return as_of.astimezone(ZoneInfo(time_zone)).date()


def _utc(as_of: datetime) -> datetime:
    try:
        return require_utc(as_of, "as_of")
    except RuleViolation as error:
        raise from_rule(error) from None


def mark_uncollectible(session: Session, invoice: Invoice, reason: str, as_of: datetime) -> Invoice:
    """Write off an open invoice with a balance due: it leaves the receivables, with a reason."""
    at = _utc(as_of)
    try:
        text = one_line(reason, "reason", REASON_LIMIT)
    except RuleViolation as error:
        raise from_rule(error) from None
    if text is None:
        raise InvalidInput("reason", "is required: say why the invoice cannot be collected")
    # Lock the row (PostgreSQL; SQLite holds the write lock): a payment recorded at the
    # same moment either comes first (and may pay it) or waits for this to commit.
    session.flush()
    session.execute(select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    session.refresh(invoice)
    label = invoice.number or f"draft {invoice.id}"
    if invoice.status == "uncollectible":
        raise Conflict(
            f"invoice {label} is already uncollectible since "
            f"{invoice.uncollectible_at:%Y-%m-%d}: {invoice.uncollectible_reason}"
        )
    if invoice.status != RECEIVABLE_STATUS:
        hint = _REFUSALS.get(invoice.status, "only an open invoice can be written off")
        raise Conflict(f"invoice {label} is {invoice.status}; {hint}")
    balance = balance_due(session, invoice)
    if balance <= 0:
        raise Conflict(f"invoice {label} has no balance due; nothing is left to collect")
    if invoice.finalized_at is not None and at < invoice.finalized_at:
        raise InvalidInput("as_of", f"is before invoice {label} was finalized")
    invoice.status = "uncollectible"
    invoice.uncollectible_at = at
    invoice.uncollectible_reason = text
    session.flush()
    return invoice


def overdue_days(session: Session, invoices: Sequence[Invoice], as_of: datetime) -> dict[int, int]:
    """Days past due of each invoice at `as_of` (0: not overdue), by id; two queries in all."""
    at = _utc(as_of)
    balances = balances_due(session, invoices)
    account_ids = sorted({invoice.account_id for invoice in invoices})
    zones: dict[int, str] = {}
    for start in range(0, len(account_ids), 500):
        chunk = account_ids[start : start + 500]
        query = select(Account.id, Account.time_zone).where(Account.id.in_(chunk))
        zones.update((account_id, zone) for account_id, zone in session.execute(query))
    return {
        invoice.id: days_past_due(
            invoice.status,
            invoice.due_on,
            Money(balances[invoice.id], invoice.currency),
            local_date(at, zones[invoice.account_id]),
        )
        for invoice in invoices
    }


def invoice_overdue_days(session: Session, invoice: Invoice, as_of: datetime) -> int:
    """Days past due of one invoice at `as_of` (0: not overdue)."""
    return overdue_days(session, [invoice], as_of)[invoice.id]


@dataclass(frozen=True, slots=True)
class AgingRow:
    """The balances owed to one entity (by one account, or by all), in one currency."""

    entity: str | None  # None: invoices issued before billing entities existed
    account: str | None  # None: the entity's row
    invoices: int
    totals: AgingTotals

    @property
    def currency(self) -> str:
        """The currency of every amount of the row."""
        return self.totals.currency


@dataclass(frozen=True, slots=True)
class AgingReport:
    """Open balances at `as_of` by days past due: per entity and account, per entity, in all."""

    as_of: datetime
    entity: str | None
    account: str | None
    accounts: list[AgingRow]
    entities: list[AgingRow]
    totals: list[AgingRow]  # one per currency, of every entity and account

    @property
    def is_empty(self) -> bool:
        """Nothing is owed."""
        return not self.totals


def _aged(owed: OwedInvoice, at: datetime) -> AgedBalance | None:
    balance = Money(owed.total - owed.paid, owed.currency)
    if not is_receivable(RECEIVABLE_STATUS, balance):
        return None
    days = days_past_due(RECEIVABLE_STATUS, owed.due_on, balance, local_date(at, owed.time_zone))
    return AgedBalance(balance, days)


def _rows(
    groups: dict[tuple[str | None, str | None], list[AgedBalance]],
) -> list[AgingRow]:
    rows = []
    for (entity, account), items in sorted(
        groups.items(), key=lambda group: (group[0][0] or "", group[0][1] or "")
    ):
        for totals in aging_totals(items):
            count = sum(1 for item in items if item.balance.currency == totals.currency)
            rows.append(AgingRow(entity, account, count, totals))
    return rows


def aging_report(
    session: Session,
    as_of: datetime,
    *,
    entity: str | None = None,
    account: str | None = None,
) -> AgingReport:
    """What is owed at `as_of`, bucketed by days past due, optionally of one entity or account."""
    at = _utc(as_of)
    entity_id = get_entity(session, entity).id if entity else None
    account_id = get_account(session, account).id if account else None
    by_account: dict[tuple[str | None, str | None], list[AgedBalance]] = defaultdict(list)
    by_entity: dict[tuple[str | None, str | None], list[AgedBalance]] = defaultdict(list)
    every: list[AgedBalance] = []
    for owed in owed_invoices(session, at, account_id=account_id, entity_id=entity_id):
        aged = _aged(owed, at)
        if aged is None:
            continue
        by_account[(owed.entity_code, owed.account_code)].append(aged)
        by_entity[(owed.entity_code, None)].append(aged)
        every.append(aged)
    return AgingReport(
        as_of=at,
        entity=entity,
        account=account,
        accounts=_rows(by_account),
        entities=_rows(by_entity),
        totals=_rows({(None, None): every}) if every else [],
    )


def total_text(report: AgingReport) -> str:
    """Everything owed as one line: `400.00 EUR, 1,520.00 USD`, or `nothing`."""
    if report.is_empty:
        return "nothing"
    return ", ".join(format_money(row.totals.total.amount, row.currency) for row in report.totals)
