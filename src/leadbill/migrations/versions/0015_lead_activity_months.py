"""lead activity by UTC month: the call report pages in lead-id order without walking history

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29

A period's call report lists the leads active in it (a received, call or found
event in the period) by operator lead id. Decided from `leads` and
`lead_events`, a page walked all of the account's earlier leads in lead-id
order (180,000 at the benchmark's brokerage) and hashed the period's call
events: 290 ms at p95 on PostgreSQL. `lead_activity_months` holds, per account,
UTC month and lead, the earliest and latest activity instant in that month,
keyed in lead-id order; ingestion keeps it (leads.activity). This migration
creates it and fills it from the stored events, so an existing database
reports the same after upgrading.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# leads.activity.ACTIVITY_TYPES when this migration was written.
_TYPES = (
    "call_answered",
    "call_attempted",
    "call_missed",
    "contact_enriched",
    "contact_found",
    "contact_verified",
    "received",
)


def upgrade() -> None:
    op.create_table(
        "lead_activity_months",
        sa.Column(
            "account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("accounts.id"),
            nullable=False,
        ),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column(
            "lead_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("leads.id"),
            nullable=False,
        ),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "month", "external_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        month = "date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date"
    else:
        # SQLite stores instants as UTC text 'YYYY-MM-DD HH:MM:SS.ffffff'.
        month = "substr(e.occurred_at, 1, 7) || '-01'"
    types = ", ".join(f"'{t}'" for t in _TYPES)
    op.execute(
        "INSERT INTO lead_activity_months"
        " (account_id, month, external_id, lead_id, first_at, last_at)"
        f" SELECT e.account_id, {month}, l.external_id, e.lead_id,"
        " min(e.occurred_at), max(e.occurred_at)"
        " FROM lead_events e JOIN leads l ON l.id = e.lead_id"
        f" WHERE e.type IN ({types})"
        f" GROUP BY e.account_id, {month}, l.external_id, e.lead_id"
    )


def downgrade() -> None:
    op.drop_table("lead_activity_months")
