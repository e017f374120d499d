"""The accounting export: invoices, credit notes and payments of a period, one row a line.

Documents whose issue (or, for a payment, receipt) instant falls in `[start,
end)`, in number order within each kind: every line of every finalized
invoice, every line of every credit note, and one row per payment. The columns
are documented in docs/ledger-export.md. Amounts are the stored, rounded ones,
so the export's sums are the documents' totals: an invoice's rows add up to
its total (net + tax + credit notes applied), a credit note's to its total,
and a payment's row to its amount.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.billing.models import Invoice, InvoiceLine, Payment
from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.periods import require_utc
from leadbill.credit_notes.models import CreditNote, CreditNoteLine
from leadbill.csv_cells import ExportWriter
from leadbill.entities.models import BillingEntity
from leadbill.errors import InvalidInput, from_rule

COLUMNS = (
    "document_type",
    "number",
    "status",
    "entity",
    "account",
    "customer",
    "customer_tax_id",
    "issue_date",
    "due_date",
    "currency",
    "line",
    "line_kind",
    "description",
    "quantity",
    "unit_price",
    "net",
    "tax_category",
    "tax_rate",
    "tax",
    "gross",
    "related_invoice",
    "reference",
)
CHUNK = 1000
_AMOUNTS = frozenset({"unit_price", "net", "tax", "gross"})


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One row of the export, in the order of COLUMNS."""

    document_type: str  # invoice | credit_note | payment
    number: str
    status: str
    entity: str
    account: str
    customer: str
    customer_tax_id: str
    issue_date: date
    due_date: date | None
    currency: str
    line: int | None
    line_kind: str
    description: str
    quantity: int | None
    unit_price: Decimal | None
    net: Decimal | None
    tax_category: str
    tax_rate: Decimal | None
    tax: Decimal | None
    gross: Decimal
    related_invoice: str
    reference: str

    def cells(self) -> list[str | int | Decimal]:
        """The row's cells: text as text, numbers as numbers, empty when absent.

        Amounts print at the currency's minor unit and rates without trailing zeros,
        whatever scale the database read them back with (PostgreSQL: six decimals).
        """
        found: list[str | int | Decimal] = []
        for name in COLUMNS:
            value = getattr(self, name)
            if value is None:
                found.append("")
            elif isinstance(value, date):
                found.append(value.isoformat())
            elif name in _AMOUNTS:
                found.append(Money(value, self.currency).rounded().amount)
            elif name == "tax_rate":
                found.append(Decimal(format(value.normalize(), "f")))
            else:
                found.append(value)
        return found


def _check_span(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    try:
        start, end = require_utc(start, "from"), require_utc(end, "to")
    except RuleViolation as error:
        raise from_rule(error) from None
    if end <= start:
        raise InvalidInput("to", "must be after from")
    return start, end


def _party(snapshot: dict[str, object] | None, account: Account) -> tuple[str, str]:
    if snapshot is None:
        return account.name, ""
    return str(snapshot.get("legal_name") or account.name), str(snapshot.get("tax_id") or "")


def _entity_code(snapshot: dict[str, object] | None, fallback: str) -> str:
    return str(snapshot["code"]) if snapshot else fallback


def _day(instant: datetime, zone: str) -> date:
    return instant.astimezone(ZoneInfo(zone)).date()


def ledger_rows(
    session: Session, start: datetime, end: datetime, *, entity: str | None = None
) -> Iterator[LedgerRow]:
    """Every row of the export for `[start, end)`, optionally of one billing entity."""
    start, end = _check_span(start, end)
    accounts = {a.id: a for a in session.scalars(select(Account))}
    entities = {e.id: e for e in session.scalars(select(BillingEntity))}
    default = next((e.code for e in entities.values() if e.is_default), "")
    wanted = None
    if entity is not None:
        match = next((e for e in entities.values() if e.code == entity.strip().lower()), None)
        if match is None:
            raise InvalidInput("entity", f"billing entity {entity!r} does not exist")
        wanted = match.id
    invoice_numbers: dict[int, str] = {}

    def entity_of(entity_id: int | None, snapshot: dict[str, object] | None) -> str:
        if entity_id is not None and entity_id in entities:
            return entities[entity_id].code
        return _entity_code(snapshot, default)

    invoices = list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.number.is_not(None),
                Invoice.issued_at >= start,
                Invoice.issued_at < end,
            )
            .order_by(Invoice.number)
        )
    )
    for position in range(0, len(invoices), CHUNK):
        chunk = invoices[position : position + CHUNK]
        lines: dict[int, list[InvoiceLine]] = {}
        for line in session.scalars(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id.in_([i.id for i in chunk]))
            .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
        ):
            lines.setdefault(line.invoice_id, []).append(line)
        for invoice in chunk:
            if wanted is not None and invoice.billing_entity_id != wanted:
                continue
            account = accounts[invoice.account_id]
            customer, tax_id = _party(invoice.customer, account)
            for line in lines.get(invoice.id, []):
                yield LedgerRow(
                    "invoice",
                    str(invoice.number),
                    invoice.status,
                    entity_of(invoice.billing_entity_id, invoice.issuer),
                    account.code,
                    customer,
                    tax_id,
                    _day(invoice.issued_at, account.time_zone),
                    invoice.due_on,
                    invoice.currency,
                    line.position,
                    line.kind,
                    line.description,
                    line.quantity,
                    line.unit_price,
                    line.amount,
                    line.tax_category or "",
                    line.tax_rate if line.tax_category else None,
                    line.tax_amount,
                    line.amount + line.tax_amount,
                    "",
                    "",
                )
    notes = list(
        session.scalars(
            select(CreditNote)
            .where(CreditNote.issued_at >= start, CreditNote.issued_at < end)
            .order_by(CreditNote.number)
        )
    )
    corrected = {n.invoice_id for n in notes}
    for invoice_id, number in session.execute(
        select(Invoice.id, Invoice.number).where(Invoice.id.in_(corrected))
    ):
        invoice_numbers[invoice_id] = number or str(invoice_id)
    for note in notes:
        if wanted is not None and note.billing_entity_id != wanted:
            continue
        account = accounts[note.account_id]
        customer, tax_id = _party(note.customer, account)
        for credit in session.scalars(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == note.id)
            .order_by(CreditNoteLine.position)
        ):
            yield LedgerRow(
                "credit_note",
                note.number,
                "issued",
                entity_of(note.billing_entity_id, note.issuer),
                account.code,
                customer,
                tax_id,
                _day(note.issued_at, account.time_zone),
                None,
                note.currency,
                credit.position,
                credit.kind,
                credit.description,
                credit.quantity,
                credit.unit_price,
                credit.amount,
                credit.tax_category or "",
                credit.tax_rate if credit.tax_category else None,
                credit.tax_amount,
                credit.amount + credit.tax_amount,
                invoice_numbers.get(note.invoice_id, ""),
                note.reason,
            )
    payments = session.execute(
        select(Payment, Invoice.number, Invoice.billing_entity_id, Invoice.issuer)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(Payment.received_at >= start, Payment.received_at < end)
        .order_by(Payment.received_at, Payment.id)
    )
    for payment, number, entity_id, issuer in payments:
        if wanted is not None and entity_id != wanted:
            continue
        account = accounts[payment.account_id]
        yield LedgerRow(
            "payment",
            f"PAY-{payment.id}",
            "received",
            entity_of(entity_id, issuer),
            account.code,
            account.name,
            "",
            _day(payment.received_at, account.time_zone),
            None,
            payment.currency,
            None,
            "payment",
            "",
            None,
            None,
            None,
            "",
            None,
            None,
            payment.amount,
            number or "",
            payment.reference,
        )


def write_ledger(output: TextIO, rows: Iterable[LedgerRow]) -> None:
    """The export as CSV: a header line, then one line a row; text cells neutralised."""
    writer = ExportWriter(output)
    writer.writerow(COLUMNS)
    writer.writerows(row.cells() for row in rows)
