"""Reviews (disputes) and their audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class Review(Base):
    """A customer's request that one lead not be billed (R13), and its decision (R14).

    A lead is reviewed at most once: `(account_id, lead_id)` is unique, so there
    is never a second open review and a decided review is final. The lead is
    referenced with its account (`(account_id, lead_id)` -> leads), so the
    database itself refuses a review of another account's lead.
    """

    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("account_id", "lead_id", name="uq_reviews_account_lead"),
        ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        ForeignKeyConstraint(
            ["account_id", "lead_id"], ["leads.account_id", "leads.id"], name="fk_reviews_lead"
        ),
        Index("ix_reviews_queue", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId)
    lead_id: Mapped[int] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(String(32))
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # open | info_requested | approved | rejected
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)


class ReviewEvent(Base):
    """One entry of the audit trail: who did what to a review, and when."""

    __tablename__ = "review_events"
    __table_args__ = (
        Index("ix_review_events_account", "account_id", "at"),
        Index("ix_review_events_review", "review_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    # submitted | info_requested | replied | approved | rejected | credited
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str] = mapped_column(Text)
