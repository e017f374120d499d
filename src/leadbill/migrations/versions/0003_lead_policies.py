"""lead policies (pay per lead, found contacts, account context)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(20, 6).with_variant(sa.String(32), "sqlite")

_LEAD_COLUMNS = (
    ("category", sa.String(length=64)),
    ("campaign", sa.String(length=64)),
    ("company", sa.String(length=200)),
    ("company_domain", sa.String(length=200)),
    ("phone_e164", sa.String(length=16)),
    ("email_key", sa.String(length=254)),
    ("first_found_at", sa.DateTime(timezone=True)),
    ("exclusion_reason", sa.String(length=32)),
    ("exclusion_lead_id", BIG_ID),
    ("decision_reason", sa.String(length=32)),
)
_LEAD_INDEXES = (
    ("ix_leads_account_received", ["account_id", "received_at"]),
    ("ix_leads_account_first_found", ["account_id", "first_found_at"]),
    ("ix_leads_account_phone", ["account_id", "phone_e164", "received_at"]),
    ("ix_leads_account_email", ["account_id", "email_key", "received_at"]),
)


def upgrade() -> None:
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for name, column_type in _LEAD_COLUMNS:
            batch_op.add_column(sa.Column(name, column_type, nullable=True))
        for name, columns in _LEAD_INDEXES:
            batch_op.create_index(name, columns, unique=False)

    op.create_table(
        "lead_decisions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("lead_id", BIG_ID, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lead_decisions_lead", "lead_decisions", ["lead_id", "decided_at"])

    op.create_table(
        "plan_category_prices",
        sa.Column("plan_id", BIG_ID, nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"]),
        sa.PrimaryKeyConstraint("plan_id", "category"),
    )
    op.create_table(
        "lead_policy_settings",
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("phone_region", sa.String(length=2), nullable=False),
        sa.Column("duplicate_window_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "code"),
    )
    op.create_table(
        "campaign_pauses",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("campaign_id", BIG_ID, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_campaign_pauses_account", "campaign_pauses", ["account_id"])
    op.create_table(
        "service_area_codes",
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("postal_code", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id", "postal_code"),
    )
    op.create_table(
        "customer_contacts",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("phone_e164", sa.String(length=16), nullable=True),
        sa.Column("email_key", sa.String(length=254), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customer_contacts_phone", "customer_contacts", ["account_id", "phone_e164"])
    op.create_index("ix_customer_contacts_email", "customer_contacts", ["account_id", "email_key"])
    op.create_table(
        "block_list_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "kind", "value"),
    )


def downgrade() -> None:
    op.drop_table("block_list_entries")
    op.drop_index("ix_customer_contacts_email", table_name="customer_contacts")
    op.drop_index("ix_customer_contacts_phone", table_name="customer_contacts")
    op.drop_table("customer_contacts")
    op.drop_table("service_area_codes")
    op.drop_index("ix_campaign_pauses_account", table_name="campaign_pauses")
    op.drop_table("campaign_pauses")
    op.drop_table("campaigns")
    op.drop_table("lead_policy_settings")
    op.drop_table("plan_category_prices")
    op.drop_index("ix_lead_decisions_lead", table_name="lead_decisions")
    op.drop_table("lead_decisions")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        for name, _columns in reversed(_LEAD_INDEXES):
            batch_op.drop_index(name)
        for name, _type in reversed(_LEAD_COLUMNS):
            batch_op.drop_column(name)
