"""notifications: the cause of each notification message, and users' opt-outs

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12

Two new tables; the mail outbox's own table is not changed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mail_notifications",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("mail_message_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("review_event_id", _ID, nullable=True),
        sa.Column("threshold_crossing_id", _ID, nullable=True),
        sa.Column("payment_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["mail_message_id"], ["mail_messages.id"]),
        sa.ForeignKeyConstraint(["review_event_id"], ["review_events.id"]),
        sa.ForeignKeyConstraint(["threshold_crossing_id"], ["usage_threshold_crossings.id"]),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mail_message_id"),
        sa.UniqueConstraint("kind", "review_event_id"),
        sa.UniqueConstraint("kind", "threshold_crossing_id", "recipient"),
        sa.UniqueConstraint("kind", "payment_id", "recipient"),
    )
    op.create_index("ix_mail_notifications_account_id", "mail_notifications", ["account_id"])
    op.create_table(
        "notification_settings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_id", "kind"),
    )
    op.create_index("ix_notification_settings_account_id", "notification_settings", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_notification_settings_account_id", table_name="notification_settings")
    op.drop_table("notification_settings")
    op.drop_index("ix_mail_notifications_account_id", table_name="mail_notifications")
    op.drop_table("mail_notifications")
