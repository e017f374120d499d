"""reviews and credit notes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MONEY = sa.Numeric(20, 6).with_variant(sa.String(32), "sqlite")
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    # A unique index, not a constraint: SQLite would copy the whole leads table to add a
    # constraint, and the copy fails once lead events point at the leads.
    op.create_index("uq_leads_account_id", "leads", ["account_id", "id"], unique=True)

    op.create_table(
        "reviews",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("lead_id", BIG_ID, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_at", INSTANT, nullable=False),
        sa.Column("due_at", INSTANT, nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", INSTANT, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(
            ["account_id", "lead_id"], ["leads.account_id", "leads.id"], name="fk_reviews_lead"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "lead_id", name="uq_reviews_account_lead"),
    )
    op.create_index("ix_reviews_queue", "reviews", ["status", "due_at"])

    op.create_table(
        "review_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("review_id", BIG_ID, nullable=False),
        sa.Column("lead_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", INSTANT, nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"]),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_events_account", "review_events", ["account_id", "at"])
    op.create_index("ix_review_events_review", "review_events", ["review_id", "at"])

    op.create_table(
        "credit_notes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("review_id", BIG_ID, nullable=False),
        sa.Column("invoice_id", BIG_ID, nullable=False),
        sa.Column("lead_id", BIG_ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", MONEY, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("issued_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.ForeignKeyConstraint(["lead_id"], ["leads.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
        sa.UniqueConstraint("review_id", name="uq_credit_notes_review"),
    )
    op.create_index("ix_credit_notes_account_issued", "credit_notes", ["account_id", "issued_at"])

    op.create_table(
        "credit_note_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("credit_note_id", BIG_ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("period_start", INSTANT, nullable=True),
        sa.Column("period_end", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_note_id", "position"),
    )
    op.create_index(
        "ix_credit_note_lines_account_id", "credit_note_lines", ["account_id"], unique=False
    )

    op.create_table(
        "credit_applications",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", BIG_ID, nullable=False),
        sa.Column("credit_note_id", BIG_ID, nullable=False),
        sa.Column("invoice_id", BIG_ID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("remaining_after", MONEY, nullable=False),
        sa.Column("applied_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_notes.id"]),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_note_id", "sequence"),
        sa.UniqueConstraint("credit_note_id", "invoice_id"),
    )
    op.create_index("ix_credit_applications_account", "credit_applications", ["account_id"])

    op.bulk_insert(
        sa.table("number_sequences", sa.column("name", sa.String), sa.column("next_value")),
        [{"name": "credit_note", "next_value": 1}],
    )


def downgrade() -> None:
    op.execute("DELETE FROM number_sequences WHERE name = 'credit_note'")
    op.drop_index("ix_credit_applications_account", table_name="credit_applications")
    op.drop_table("credit_applications")
    op.drop_index("ix_credit_note_lines_account_id", table_name="credit_note_lines")
    op.drop_table("credit_note_lines")
    op.drop_index("ix_credit_notes_account_issued", table_name="credit_notes")
    op.drop_table("credit_notes")
    op.drop_index("ix_review_events_review", table_name="review_events")
    op.drop_index("ix_review_events_account", table_name="review_events")
    op.drop_table("review_events")
    op.drop_index("ix_reviews_queue", table_name="reviews")
    op.drop_table("reviews")
    op.drop_index("uq_leads_account_id", table_name="leads")
