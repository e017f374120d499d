"""The payment methods of accounts: the one in use, and every one used before."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from leadbill.db import Base, BigId, UTCDateTime


class PaymentMethod(Base):
    """How an account pays: `bank_transfer`, `sepa_debit` (a mandate) or `card`.

    An account has at most one method in use (`ended_at` NULL, a partial unique
    index); an account with none pays by bank transfer. A replaced method is kept
    with the instant it ended: a SEPA mandate must be shown for years after its last
    collection, and a collection names the mandate it was made under.

    `sepa_debit` keeps the mandate: its reference (unique, compared without case),
    the debtor's IBAN, BIC and name, the date it was signed (accepted in the portal),
    the text accepted, and the sequence of the next collection (`first` until one was
    collected, then `recurring`), which the direct-debit batch reads and advances.
    `card` keeps only the payment provider's ids (e.g. Stripe's customer and payment
    method): no card number is ever stored or typed.
    """

    __tablename__ = "payment_methods"
    __table_args__ = (
        Index(
            "uq_payment_methods_in_use",
            "account_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_payment_methods_account", "account_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # bank_transfer | sepa_debit | card
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(200))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # sepa_debit: the mandate. The reference is stored upper case, so unique without case.
    mandate_reference: Mapped[str | None] = mapped_column(String(35), unique=True)
    iban: Mapped[str | None] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    account_holder: Mapped[str | None] = mapped_column(String(70))
    signed_on: Mapped[date | None] = mapped_column(Date)
    mandate_text: Mapped[str | None] = mapped_column(Text)
    # first | recurring
    sequence: Mapped[str | None] = mapped_column(String(9))
    # card: the payment provider and its ids.
    provider: Mapped[str | None] = mapped_column(String(32))
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    provider_payment_method_id: Mapped[str | None] = mapped_column(String(255))
