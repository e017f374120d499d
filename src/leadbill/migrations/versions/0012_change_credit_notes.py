"""credit notes from immediate downgrades

A credit note comes from an approved review (review and lead) or from an
immediate plan downgrade (the subscription change), never both.

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-29
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
REVIEW_OR_CHANGE = (
    "(review_id IS NOT NULL AND lead_id IS NOT NULL AND subscription_change_id IS NULL)"
    " OR (review_id IS NULL AND lead_id IS NULL AND subscription_change_id IS NOT NULL)"
)


# The tables whose rows point at credit_notes.
CHILDREN = ("credit_note_lines", "credit_applications")


@contextmanager
def _recreating_credit_notes() -> Iterator[None]:
    """Around a batch alteration of credit_notes: keep its children's rows out of the way.

    SQLite cannot alter a column in place, so batch mode copies credit_notes,
    drops it and renames the copy. With foreign keys on (leadbill's connections
    turn them on, and the migration runs inside one transaction, where the pragma
    cannot be turned off), dropping a table that lines or applications point at
    fails. Their rows are set aside in temporary tables and put back unchanged once
    credit_notes holds every row again under the same ids. PostgreSQL alters the
    table in place and needs none of this.
    """
    if op.get_bind().dialect.name != "sqlite":
        yield
        return
    for table in CHILDREN:
        op.execute(f"CREATE TEMP TABLE kept_{table} AS SELECT * FROM {table}")
        op.execute(f"DELETE FROM {table}")
    yield
    for table in reversed(CHILDREN):
        op.execute(f"INSERT INTO {table} SELECT * FROM kept_{table}")
        op.execute(f"DROP TABLE kept_{table}")


def upgrade() -> None:
    with _recreating_credit_notes(), op.batch_alter_table("credit_notes") as batch_op:
        batch_op.add_column(sa.Column("subscription_change_id", BIG_ID, nullable=True))
        batch_op.alter_column("review_id", existing_type=BIG_ID, nullable=True)
        batch_op.alter_column("lead_id", existing_type=BIG_ID, nullable=True)
        batch_op.create_foreign_key(
            "fk_credit_notes_subscription_change",
            "subscription_changes",
            ["subscription_change_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            "uq_credit_notes_change_invoice", ["subscription_change_id", "invoice_id"]
        )
        batch_op.create_check_constraint("ck_credit_notes_review_or_change", REVIEW_OR_CHANGE)


def downgrade() -> None:
    bind = op.get_bind()
    credited = bind.execute(
        sa.text("SELECT COUNT(*) FROM credit_notes WHERE subscription_change_id IS NOT NULL")
    ).scalar_one()
    if credited:
        # Issued credit notes are never deleted: refuse rather than lose them.
        raise RuntimeError(
            f"{credited} credit notes come from plan changes; revision 0007 cannot hold them"
        )
    with _recreating_credit_notes(), op.batch_alter_table("credit_notes") as batch_op:
        batch_op.drop_constraint("ck_credit_notes_review_or_change", type_="check")
        batch_op.drop_constraint("uq_credit_notes_change_invoice", type_="unique")
        batch_op.drop_constraint("fk_credit_notes_subscription_change", type_="foreignkey")
        batch_op.alter_column("lead_id", existing_type=BIG_ID, nullable=False)
        batch_op.alter_column("review_id", existing_type=BIG_ID, nullable=False)
        batch_op.drop_column("subscription_change_id")
