"""billing entities, customer billing details, due dates and taxes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03

An invoice gets an issuer (a billing entity, snapshotted with the customer's
billing details at finalization), a due date, a tax per line, net and tax
totals, and the `uncollectible` status. What was stored before reads as it
did: invoices and credit notes carry no tax (net = their lines, tax 0, gross =
net), no issuer snapshot, and numbers go on from the same counters, which are
now keyed by their prefix (`INV-`, `CN-`). Finalized invoices get the due date
of the default terms, net 15, from their issue date in the account's time zone.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# db.MoneyAmount as it was when this migration was written.
MONEY = sa.Numeric(20, 6).with_variant(sa.String(32), "sqlite")
DEFAULT_TERMS_DAYS = 15
_DETAILS = (
    ("legal_name", 200),
    ("address_line1", 200),
    ("address_line2", 200),
    ("city", 100),
    ("postal_code", 20),
    ("region", 8),
    ("country", 2),
    ("tax_id", 32),
    ("tax_exemption", 100),
    ("purchase_order", 64),
)
_INVOICE_COLUMNS = (
    "net_total",
    "tax_total",
    "due_on",
    "issuer",
    "customer",
    "tax_mention",
    "uncollectible_at",
    "uncollectible_reason",
    "billing_entity_id",
)
_CREDIT_NOTE_COLUMNS = ("net_total", "tax_total", "issuer", "customer", "billing_entity_id")
_TAX_COLUMNS = ("tax_category", "tax_rate", "tax_amount")


def _tax_columns(table: str) -> None:
    op.add_column(table, sa.Column("tax_category", sa.String(2), nullable=True))
    op.add_column(table, sa.Column("tax_rate", MONEY, nullable=False, server_default="0"))
    op.add_column(table, sa.Column("tax_amount", MONEY, nullable=False, server_default="0"))


def _documents_columns(table: str) -> None:
    """Columns invoices and credit notes both gain: the issuer's entity, snapshots, totals."""
    op.add_column(table, sa.Column("billing_entity_id", BIG_ID, nullable=True))
    op.add_column(table, sa.Column("issuer", sa.JSON(), nullable=True))
    op.add_column(table, sa.Column("customer", sa.JSON(), nullable=True))
    for name in ("net_total", "tax_total"):
        op.add_column(table, sa.Column(name, MONEY, nullable=False, server_default="0"))
    op.execute(f"UPDATE {table} SET net_total = total")


def _net_of_credited_documents(document: str, lines: str, key: str) -> None:
    """net_total of documents that carry credit lines: their total less those lines."""
    bind = op.get_bind()
    credits: dict[int, Decimal] = {}
    for owner, amount in bind.execute(
        sa.text(f"SELECT {key}, amount FROM {lines} WHERE kind = 'credit'")
    ):
        credits[owner] = credits.get(owner, Decimal(0)) + Decimal(str(amount))
    for owner, credit in credits.items():
        total = bind.execute(
            sa.text(f"SELECT total FROM {document} WHERE id = :id"), {"id": owner}
        ).scalar_one()
        net = Decimal(str(total)) - credit
        value: object = str(net) if bind.dialect.name == "sqlite" else net
        bind.execute(
            sa.text(f"UPDATE {document} SET net_total = :net WHERE id = :id"),
            {"net": value, "id": owner},
        )


def _due_dates() -> None:
    """Finalized invoices fall due 15 days after their issue date in the account's zone."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT invoices.id, invoices.issued_at, accounts.time_zone FROM invoices "
            "JOIN accounts ON accounts.id = invoices.account_id "
            "WHERE invoices.number IS NOT NULL"
        )
    ).all()
    updates = []
    for invoice_id, issued_at, time_zone in rows:
        if isinstance(issued_at, str):  # SQLite keeps naive UTC text
            issued_at = datetime.fromisoformat(issued_at)
        if issued_at.tzinfo is None:
            issued_at = issued_at.replace(tzinfo=UTC)
        day = issued_at.astimezone(ZoneInfo(time_zone)).date()
        updates.append({"id": invoice_id, "due": day + timedelta(days=DEFAULT_TERMS_DAYS)})
    if updates:
        bind.execute(sa.text("UPDATE invoices SET due_on = :due WHERE id = :id"), updates)


def upgrade() -> None:
    op.create_table(
        "billing_entities",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("legal_name", sa.String(200), nullable=False),
        sa.Column("address_line1", sa.String(200), nullable=False),
        sa.Column("address_line2", sa.String(200), nullable=True),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("postal_code", sa.String(20), nullable=True),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("tax_id", sa.String(32), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("invoice_prefix", sa.String(12), nullable=False, unique=True),
        sa.Column("credit_note_prefix", sa.String(12), nullable=False, unique=True),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("default_currency", sa.String(3), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tax_rates",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("rate", MONEY, nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("region", sa.String(8), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tax_rates_country", "tax_rates", ["country", "region", "valid_from"])

    op.create_table(
        "billing_details",
        sa.Column("account_id", BIG_ID, sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("billing_entity_id", BIG_ID, sa.ForeignKey("billing_entities.id"), nullable=True),
        *(sa.Column(name, sa.String(length), nullable=True) for name, length in _DETAILS),
        sa.Column("payment_terms_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )

    _documents_columns("invoices")
    op.add_column("invoices", sa.Column("due_on", sa.Date(), nullable=True))
    op.add_column("invoices", sa.Column("tax_mention", sa.String(300), nullable=True))
    op.add_column(
        "invoices", sa.Column("uncollectible_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("invoices", sa.Column("uncollectible_reason", sa.String(300), nullable=True))
    _net_of_credited_documents("invoices", "invoice_lines", "invoice_id")
    _due_dates()
    _tax_columns("invoice_lines")

    _documents_columns("credit_notes")
    _tax_columns("credit_note_lines")

    # Counters are keyed by the prefix of the numbers they give.
    op.execute("UPDATE number_sequences SET name = 'INV-' WHERE name = 'invoice'")
    op.execute("UPDATE number_sequences SET name = 'CN-' WHERE name = 'credit_note'")


def downgrade() -> None:
    op.execute("UPDATE number_sequences SET name = 'invoice' WHERE name = 'INV-'")
    op.execute("UPDATE number_sequences SET name = 'credit_note' WHERE name = 'CN-'")
    op.execute("DELETE FROM number_sequences WHERE name NOT IN ('invoice', 'credit_note')")
    # Plain columns without constraints: SQLite (3.35+) drops them in place, so the
    # tables that many others point at are never recreated.
    for table, columns in (
        ("credit_note_lines", _TAX_COLUMNS),
        ("credit_notes", _CREDIT_NOTE_COLUMNS),
        ("invoice_lines", _TAX_COLUMNS),
        ("invoices", _INVOICE_COLUMNS),
    ):
        for column in columns:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.drop_table("billing_details")
    op.drop_index("ix_tax_rates_country", table_name="tax_rates")
    op.drop_table("tax_rates")
    op.drop_table("billing_entities")
