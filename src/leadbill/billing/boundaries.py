"""A due boundary of a subscription: what the billing run closes, opens and invoices.

Its own module so that what works on a batch's boundaries besides the run (credit
application, reviews) can name the type without importing the run itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from leadbill.billing.repository import DueSubscription
from leadbill.core.periods import Period


@dataclass(frozen=True, slots=True)
class Boundary:
    """One due boundary of a subscription: the period it closes and the one it opens."""

    subscription: DueSubscription
    index: int
    closing: Period
    opening: Period | None

    @property
    def at(self) -> datetime:
        """The boundary instant: the closing period's end, the invoice's issue instant."""
        return self.closing.end
