"""The customer's Notifications form (on the billing details page): optional e-mails on or off.

Each customer user chooses for themself; review decisions, invoices and credit
notes always go to the account's billing e-mail and are not listed. A checked
box keeps a kind on; a kind left unchecked is turned off. A value that is not an
optional kind is refused, naming the field; nothing is stored then.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.errors import InvalidInput
from leadbill.notifications.service import OPTIONAL_KINDS, check_optional_kind, set_setting
from leadbill.portal.web import (
    PortalRoute,
    SignedIn,
    Text,
    check_csrf,
    clock_of,
    redirect,
    set_flash,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
SAVED = "Notifications saved."
# At most one value per optional kind, each at most as long as a stored kind.
MAX_KIND_LENGTH = 32


@router.post("/notifications")
def save_notifications(
    request: Request,
    visitor: SignedIn,
    db: DbSession,
    kind: Annotated[list[str] | None, Form()] = None,
    csrf_token: Text = "",
) -> Response:
    """Turn each optional kind on (checked) or off (unchecked) for the signed-in customer."""
    check_csrf(visitor, csrf_token)
    visitor.customer_account(db)  # staff have no notifications to choose
    chosen = kind or []
    if len(chosen) > len(OPTIONAL_KINDS):
        raise InvalidInput("kind", f"at most {len(OPTIONAL_KINDS)} values")
    for value in chosen:
        if len(value) > MAX_KIND_LENGTH:
            raise InvalidInput("kind", f"longer than {MAX_KIND_LENGTH} characters")
        check_optional_kind(value)
    as_of = clock_of(request)
    for name in OPTIONAL_KINDS:
        set_setting(db, visitor.user_id, name, name in chosen, as_of=as_of)
    set_flash(db, visitor, SAVED)
    return redirect("/portal/billing-details#notifications")
