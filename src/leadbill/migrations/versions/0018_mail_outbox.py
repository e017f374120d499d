"""the mail outbox: messages and their attempts

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mail_messages",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("invoice_id", _ID, nullable=True),
        sa.Column("credit_note_id", _ID, nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _AT, nullable=False),
        sa.Column("lease", sa.String(length=32), nullable=True),
        sa.Column("last_attempt_at", _AT, nullable=True),
        sa.Column("last_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("sent_at", _AT, nullable=True),
        sa.Column("sender", sa.String(length=254), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("text_body", sa.Text(), nullable=True),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("attachments", sa.String(length=500), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "invoice_id"),
        sa.UniqueConstraint("kind", "credit_note_id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_mail_messages_account_id", "mail_messages", ["account_id"])
    op.create_index("ix_mail_messages_due", "mail_messages", ["status", "next_attempt_at"])
    op.create_table(
        "mail_attempts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("attempted_at", _AT, nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["mail_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id", "number"),
    )
    op.create_index("ix_mail_attempts_account_id", "mail_attempts", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_mail_attempts_account_id", table_name="mail_attempts")
    op.drop_table("mail_attempts")
    op.drop_index("ix_mail_messages_due", table_name="mail_messages")
    op.drop_index("ix_mail_messages_account_id", table_name="mail_messages")
    op.drop_table("mail_messages")
