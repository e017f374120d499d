"""dunning: reminder steps and final action per billing entity, reminders sent, paused service

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Added in place (SQLite too): billing entities, subscriptions and the mail outbox
    # are pointed at by other tables, so they are never recreated.
    op.add_column(
        "billing_entities",
        sa.Column("dunning_steps", sa.String(60), nullable=False, server_default="0,3,7,14"),
    )
    op.add_column(
        "billing_entities",
        sa.Column("dunning_action", sa.String(16), nullable=False, server_default="none"),
    )
    op.add_column("subscriptions", sa.Column("service_paused_at", _AT, nullable=True))
    op.add_column("subscriptions", sa.Column("service_paused_reason", sa.String(300)))
    op.create_table(
        "dunning_reminders",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("invoice_id", BIG_ID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("days_overdue", sa.Integer(), nullable=False),
        sa.Column("queued_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("invoice_id", "step"),
    )
    op.create_index("ix_dunning_reminders_account_id", "dunning_reminders", ["account_id"])
    op.create_table(
        "dunning_invoices",
        sa.Column("invoice_id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("overdue_at", _AT, nullable=False),
        sa.Column("action", sa.String(16), nullable=True),
        sa.Column("action_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_index("ix_dunning_invoices_account_id", "dunning_invoices", ["account_id"])
    op.add_column("mail_messages", sa.Column("reminder_id", BIG_ID, nullable=True))
    op.create_index("uq_mail_messages_reminder_id", "mail_messages", ["reminder_id"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_mail_messages_reminder_id", table_name="mail_messages")
    op.execute("ALTER TABLE mail_messages DROP COLUMN reminder_id")
    op.drop_index("ix_dunning_invoices_account_id", table_name="dunning_invoices")
    op.drop_table("dunning_invoices")
    op.drop_index("ix_dunning_reminders_account_id", table_name="dunning_reminders")
    op.drop_table("dunning_reminders")
    op.execute("ALTER TABLE subscriptions DROP COLUMN service_paused_reason")
    op.execute("ALTER TABLE subscriptions DROP COLUMN service_paused_at")
    op.execute("ALTER TABLE billing_entities DROP COLUMN dunning_action")
    op.execute("ALTER TABLE billing_entities DROP COLUMN dunning_steps")
