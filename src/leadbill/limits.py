"""The largest numbers a user may send, in one place (README, "Limits").

The API's schemas give them to Pydantic (`Field(le=...)`) so that the OpenAPI
document states them; the services check them again with `check_count`, so the
CLI and the portal, which call the services directly, refuse the same values
with the same message.
"""

from __future__ import annotations

from leadbill.core.reviews import EXPLANATION_MAX, EXPLANATION_MIN, NOTE_MAX
from leadbill.errors import InvalidInput

# A call longer than a day is a typo (or a line left open), not a call.
MAX_DURATION_SECONDS = 86_400
# Licences on one subscription, and a plan's self-serve licence cap.
MAX_LICENCES = 1_000_000
# Leads a plan includes in its fee per period.
MAX_INCLUDED_LEADS = 10_000_000
# The duplicate-lead window, in days (payment terms: entities.service.MAX_TERMS_DAYS).
MAX_DUPLICATE_WINDOW_DAYS = 3650


def check_count(field: str, value: int, *, low: int, high: int) -> int:
    """Refuse a whole number outside [low, high], naming the field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"{value!r} is not a whole number")
    if value < low:
        raise InvalidInput(field, f"must be at least {low:,}; {value:,} was given")
    if value > high:
        raise InvalidInput(field, f"must be at most {high:,}; {value:,} was given")
    return value


# A review's explanation (R13), and a reviewer's note or question and a customer's reply
# (R14), in characters; the core checks them (core.reviews), the forms and schemas say them.
REVIEW_EXPLANATION_MIN = EXPLANATION_MIN
REVIEW_EXPLANATION_MAX = EXPLANATION_MAX
REVIEW_TEXT_MAX = NOTE_MAX
