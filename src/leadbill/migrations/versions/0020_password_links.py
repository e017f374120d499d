"""password links: portal invitations and password resets

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-14
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "password_links",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("message_id", _ID, nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("issued_at", _AT, nullable=True),
        sa.Column("expires_at", _AT, nullable=True),
        sa.Column("used_at", _AT, nullable=True),
        sa.Column("ended_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["mail_messages.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_password_links_account_id", "password_links", ["account_id"])
    op.create_index(
        "ix_password_links_user", "password_links", ["user_id", "purpose", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_password_links_user", table_name="password_links")
    op.drop_index("ix_password_links_account_id", table_name="password_links")
    op.drop_table("password_links")
