"""the mail outbox's invoice batches: one row per billing batch, not one per invoice

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04

A billing batch records the invoices it finalized in one row; the outbox turns
the row into "invoice issued" messages before it is next read or sent. Rows
queued before this revision are messages already, so nothing is moved.
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MESSAGE_COLUMNS = (
    "account_id",
    "kind",
    "invoice_id",
    "recipient",
    "message_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)


def upgrade() -> None:
    op.create_table(
        "mail_invoice_batches",
        sa.Column("id", _ID, nullable=False),
        sa.Column("invoices", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    # A batch not yet turned into messages becomes its messages, as the outbox would
    # have made them, so that going down loses nothing.
    bind = op.get_bind()
    batches = sa.table(
        "mail_invoice_batches",
        sa.column("id"),
        sa.column("invoices", sa.JSON()),
        sa.column("created_at"),  # as stored: copied to the messages unchanged
    )
    accounts = sa.table("accounts", sa.column("id"), sa.column("billing_email"))
    messages = sa.table(
        "mail_messages",
        *(sa.column(name) for name in _MESSAGE_COLUMNS),
    )
    existing = {
        invoice_id
        for (invoice_id,) in bind.execute(
            sa.text("SELECT invoice_id FROM mail_messages WHERE kind = 'invoice.issued'")
        )
    }
    emails = dict(bind.execute(sa.select(accounts.c.id, accounts.c.billing_email)).all())
    for _id, invoices, created_at in bind.execute(sa.select(batches)).all():
        rows = [
            {
                "account_id": account_id,
                "kind": "invoice.issued",
                "invoice_id": invoice_id,
                "recipient": emails[account_id].strip()[:254],
                "message_id": f"<{uuid.uuid4().hex}@leadbill>",
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": created_at,
                "created_at": created_at,
            }
            for account_id, invoice_id in invoices
            if invoice_id not in existing
        ]
        if rows:
            bind.execute(sa.insert(messages), rows)
        existing.update(row["invoice_id"] for row in rows)
    op.drop_table("mail_invoice_batches")
