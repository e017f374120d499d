"""subscription changes (plan changes and licences)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(20, 6).with_variant(sa.String(32), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licence_price", MONEY, nullable=True))
        batch_op.add_column(sa.Column("licence_cap", sa.Integer(), nullable=True))

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("licences", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("scheduled_licences", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scheduled_plan_id", BIG_ID, nullable=True))
        batch_op.create_foreign_key(
            "fk_subscriptions_scheduled_plan_id_plans", "plans", ["scheduled_plan_id"], ["id"]
        )

    op.create_table(
        "subscription_changes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("subscription_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("period_index", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("from_plan_id", BIG_ID, nullable=True),
        sa.Column("to_plan_id", BIG_ID, nullable=True),
        sa.Column("licence_change", sa.Integer(), nullable=True),
        sa.Column("invoice_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.ForeignKeyConstraint(["from_plan_id"], ["plans.id"]),
        sa.ForeignKeyConstraint(["to_plan_id"], ["plans.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subscription_id", "key"),
    )
    with op.batch_alter_table("subscription_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subscription_changes_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("subscription_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_changes_account_id"))
    op.drop_table("subscription_changes")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_subscriptions_scheduled_plan_id_plans", type_="foreignkey")
        batch_op.drop_column("scheduled_plan_id")
        batch_op.drop_column("scheduled_licences")
        batch_op.drop_column("licences")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("licence_cap")
        batch_op.drop_column("licence_price")
