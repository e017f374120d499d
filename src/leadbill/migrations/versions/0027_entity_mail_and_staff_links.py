"""billing entities' own SMTP servers; password links for staff users

Revision ID: 0027
Revises: 0023
Create Date: 2026-12-03

Billing entities get their own From address and SMTP server (none at first: the
LEADBILL_SMTP_* server, as before). The passwords stay in the environment.

Staff users (who belong to no account) can be sent a password reset link, so a
mail message, its attempts and a password link may belong to no account. SQLite
cannot drop a NOT NULL in place: batch mode copies mail_messages, drops it and
renames the copy; the rows that point at it (attempts, password links,
notifications) are set aside in temporary tables meanwhile, as in 0012.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0023"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MAIL = (
    ("mail_from", sa.String(254)),
    ("smtp_host", sa.String(253)),
    ("smtp_port", sa.Integer()),
    ("smtp_security", sa.String(8)),
    ("smtp_user", sa.String(254)),
)
# The tables whose rows point at mail_messages.
CHILDREN = ("mail_attempts", "password_links", "mail_notifications")
# The tables whose account may now be none.
ACCOUNTLESS = ("mail_messages", "mail_attempts", "password_links")


@contextmanager
def _children_aside() -> Iterator[None]:
    """Around a batch alteration of mail_messages on SQLite: its children's rows wait
    in temporary tables and come back unchanged under the same ids."""
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


def _account_nullable(nullable: bool) -> None:
    with _children_aside():
        with op.batch_alter_table("mail_messages") as batch_op:
            batch_op.alter_column("account_id", existing_type=BIG_ID, nullable=nullable)
        for table in ACCOUNTLESS[1:]:
            with op.batch_alter_table(table) as batch_op:
                batch_op.alter_column("account_id", existing_type=BIG_ID, nullable=nullable)


def upgrade() -> None:
    for name, type_ in _MAIL:
        op.add_column("billing_entities", sa.Column(name, type_, nullable=True))
    _account_nullable(True)


def downgrade() -> None:
    staff = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM mail_messages WHERE account_id IS NULL"))
        .scalar_one()
    )
    if staff:
        # Sent messages are a record of what left: refuse rather than delete them.
        raise RuntimeError(
            f"{staff} mail messages were sent to staff users; revision 0023 cannot hold them"
        )
    _account_nullable(False)
    # Plain columns: SQLite (3.35+) drops them in place, so billing_entities, which
    # others point at, is never recreated.
    for name, _type in reversed(_MAIL):
        op.execute(f"ALTER TABLE billing_entities DROP COLUMN {name}")
