"""One row per password link message: who it is for, and the hash of its current token.

The row is written with its message, in the transaction that invites the user
or asks for a reset; `token_hash` stays empty until the worker sends the
message. Then a random token is made, only its SHA-256 is stored here, and the
token itself exists only in the e-mail. Sending the message again (a resend)
makes a new token and replaces the hash, so the old link stops working.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class PasswordLink(Base):
    """A one-time link that sets a user's password: an invitation or a reset.

    Usable while `token_hash` is set, `used_at` and `ended_at` are empty and
    `expires_at` is ahead. `ended_at` is set when a newer link of the same user
    was sent, or when the password was set by another link.
    """

    __tablename__ = "password_links"
    __table_args__ = (Index("ix_password_links_user", "user_id", "purpose", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id"), index=True
    )  # None: staff
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id"), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # invitation | reset
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
