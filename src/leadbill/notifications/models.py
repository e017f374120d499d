"""What a notification message tells of, and who turned which kind off.

A notification is a row of the mail outbox (`mail_messages`) with one
`mail_notifications` row beside it naming its cause: the review decision (an
entry of the review's trail), the usage threshold crossing or the payment. The
outbox itself stays the transport of every kind; its table is not widened for
each cause. The unique constraints keep each cause to one message (per
recipient, for the kinds that go to several people), whatever the retries.

`notification_settings` holds a portal user's choice for an optional kind;
no row means the kind is on.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class MailNotification(Base):
    """The cause of one notification message: exactly one of the three references is set."""

    __tablename__ = "mail_notifications"
    __table_args__ = (
        UniqueConstraint("kind", "review_event_id"),
        UniqueConstraint("kind", "threshold_crossing_id", "recipient"),
        UniqueConstraint("kind", "payment_id", "recipient"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    mail_message_id: Mapped[int] = mapped_column(ForeignKey("mail_messages.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    review_event_id: Mapped[int | None] = mapped_column(ForeignKey("review_events.id"))
    threshold_crossing_id: Mapped[int | None] = mapped_column(
        ForeignKey("usage_threshold_crossings.id")
    )
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))


class NotificationSetting(Base):
    """A customer portal user's choice for one optional kind (no row: on)."""

    __tablename__ = "notification_settings"
    __table_args__ = (UniqueConstraint("user_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
