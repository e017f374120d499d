"""usage thresholds

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_threshold_crossings",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("subscription_id", _ID, nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.Column("lead_id", _ID, nullable=False),
        sa.Column("crossed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "period_index", "threshold"),
    )
    with op.batch_alter_table("usage_threshold_crossings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_threshold_crossings_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_threshold_crossings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_threshold_crossings_account_id"))
    op.drop_table("usage_threshold_crossings")
