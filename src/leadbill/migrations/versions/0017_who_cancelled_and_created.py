"""who cancelled a subscription and who created a seat

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03

Staff give the instant of a cancellation or of a seat's creation; the person (or
API key) who did it is recorded beside it, as with staff decisions on leads.
Rows from before this migration have none (NULL).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("cancel_requested_by", sa.String(200), nullable=True))
    with op.batch_alter_table("seats") as batch:
        batch.add_column(sa.Column("created_by", sa.String(200), nullable=True))


def downgrade() -> None:
    # Plain columns without constraints: SQLite (3.35+) drops them in place, so the
    # tables that many others point at are never recreated (a recreated subscriptions
    # table fails its foreign keys).
    op.execute("ALTER TABLE seats DROP COLUMN created_by")
    op.execute("ALTER TABLE subscriptions DROP COLUMN cancel_requested_by")
