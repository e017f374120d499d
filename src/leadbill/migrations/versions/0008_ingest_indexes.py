"""ingestion indexes: partial lead indexes, no (account_id, seat_id) index

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-29

Every lead index entry is written on a random page at ingestion (leads of
many accounts interleave), so each one a query does not need costs. The
(account_id, seat_id) index served no query (per-seat usage filters on the
account and the counted instant first). The indexes on the counted instants
and the normalised contacts only ever answer a comparison with a value
(`first_called_at >= ...`, `phone_e164 = ...`), which a NULL never satisfies:
they now leave NULL out (partial indexes, SQLite and PostgreSQL alike), so a
lead not yet called, without contact found or without an e-mail adds nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# name, columns, the column that must be set for a row to be indexed.
_PARTIAL = (
    ("ix_leads_account_first_called", ["account_id", "first_called_at"], "first_called_at"),
    ("ix_leads_account_first_found", ["account_id", "first_found_at"], "first_found_at"),
    ("ix_leads_account_phone", ["account_id", "phone_e164", "received_at"], "phone_e164"),
    ("ix_leads_account_email", ["account_id", "email_key", "received_at"], "email_key"),
)


def upgrade() -> None:
    op.drop_index("ix_leads_account_seat", table_name="leads")
    for name, columns, column in _PARTIAL:
        op.drop_index(name, table_name="leads")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "leads", columns, sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for name, columns, _column in _PARTIAL:
        op.drop_index(name, table_name="leads")
        op.create_index(name, "leads", columns)
    op.create_index("ix_leads_account_seat", "leads", ["account_id", "seat_id"])
