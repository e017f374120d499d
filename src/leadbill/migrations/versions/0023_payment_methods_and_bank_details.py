"""payment methods, bank details of billing entities, creditor references of invoices

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04

Accounts get payment methods (none stored: bank transfer, as before). Billing
entities get bank details for transfer instructions (none at first). Payments
record their method (those recorded so far by hand: bank transfer), the bank's
or provider's reference and the fee (unknown: NULL). Every finalized invoice
gets its ISO 11649 creditor reference, computed here from its number exactly as
`leadbill.core.bank.creditor_reference` does today (a released migration never
changes when that code does); drafts get theirs when they are finalized.
"""

import re

import sqlalchemy as sa
from alembic import op
from stdnum.iso7064 import mod_97_10

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# db.MoneyAmount as it was when this migration was written.
MONEY = sa.Numeric(20, 6).with_variant(sa.String(32), "sqlite")
_AT = sa.DateTime(timezone=True)
_BANK = (
    ("bank_name", 100),
    ("bank_iban", 34),
    ("bank_bic", 11),
    ("bank_account_number", 17),
    ("bank_routing_number", 9),
)
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def _reference(number: str) -> str | None:
    body = _NOT_ALNUM.sub("", number.upper())
    if not body or len(body) > 21:
        return None
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def upgrade() -> None:
    op.create_table(
        "payment_methods",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("account_id", BIG_ID, sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("ended_at", _AT, nullable=True),
        sa.Column("mandate_reference", sa.String(35), nullable=True, unique=True),
        sa.Column("iban", sa.String(34), nullable=True),
        sa.Column("bic", sa.String(11), nullable=True),
        sa.Column("account_holder", sa.String(70), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=True),
        sa.Column("mandate_text", sa.Text(), nullable=True),
        sa.Column("sequence", sa.String(9), nullable=True),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_customer_id", sa.String(255), nullable=True),
        sa.Column("provider_payment_method_id", sa.String(255), nullable=True),
    )
    op.create_index(
        "uq_payment_methods_in_use",
        "payment_methods",
        ["account_id"],
        unique=True,
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_payment_methods_account", "payment_methods", ["account_id", "created_at"])
    for name, length in _BANK:
        op.add_column("billing_entities", sa.Column(name, sa.String(length), nullable=True))
    op.add_column(
        "payments",
        sa.Column("method", sa.String(16), nullable=False, server_default="bank_transfer"),
    )
    op.add_column("payments", sa.Column("provider_reference", sa.String(128), nullable=True))
    op.add_column("payments", sa.Column("fee", MONEY, nullable=True))
    op.add_column("invoices", sa.Column("payment_reference", sa.String(25), nullable=True))
    op.create_index("ix_invoices_payment_reference", "invoices", ["payment_reference"])

    invoices = sa.table(
        "invoices",
        sa.column("id", BIG_ID),
        sa.column("number", sa.String(32)),
        sa.column("payment_reference", sa.String(25)),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(invoices.c.id, invoices.c.number).where(invoices.c.number.is_not(None))
    ).all()
    values = [
        {"row_id": row.id, "reference": reference}
        for row in rows
        if (reference := _reference(row.number)) is not None
    ]
    if values:
        conn.execute(
            invoices.update()
            .where(invoices.c.id == sa.bindparam("row_id"))
            .values(payment_reference=sa.bindparam("reference")),
            values,
        )


def downgrade() -> None:
    # Plain columns: SQLite (3.35+) drops them in place once their index is gone, so
    # the tables others point at are never recreated.
    op.drop_index("ix_invoices_payment_reference", table_name="invoices")
    op.execute("ALTER TABLE invoices DROP COLUMN payment_reference")
    for name in ("fee", "provider_reference", "method"):
        op.execute(f"ALTER TABLE payments DROP COLUMN {name}")
    for name, _length in reversed(_BANK):
        op.execute(f"ALTER TABLE billing_entities DROP COLUMN {name}")
    op.drop_index("ix_payment_methods_account", table_name="payment_methods")
    op.drop_index("uq_payment_methods_in_use", table_name="payment_methods")
    op.drop_table("payment_methods")
