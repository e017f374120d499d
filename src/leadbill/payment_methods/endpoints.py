"""HTTP routes of an account's payment method: every staff role and the account's customer
read it; admins and billing staff set it (a customer chooses its own in the portal)."""

from __future__ import annotations

from fastapi import APIRouter

from leadbill.auth.dependencies import Caller, DbSession, acting_key, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.payment_methods import service
from leadbill.payment_methods.schemas import PaymentMethodIn, PaymentMethodOut
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/accounts",
    tags=["payment methods"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
SETTERS: tuple[Role, ...] = (Role.ADMIN, Role.BILLING)


@router.get("/{account}/payment-method", response_model=PaymentMethodOut)
def get_method(account: str, session: DbSession, caller: Caller) -> PaymentMethodOut:
    """How the account pays (bank_transfer when none was set)."""
    found = visible_account(session, caller, account, *READERS)
    return PaymentMethodOut.of(found.code, service.current_method(session, found.id))


@router.put("/{account}/payment-method", response_model=PaymentMethodOut)
def set_method(
    account: str, body: PaymentMethodIn, session: DbSession, caller: Caller
) -> PaymentMethodOut:
    """Set how the account pays from now on (admin, billing); the method in use ends and
    is kept. The API key is recorded as who set it."""
    found = visible_account(session, caller, account, *SETTERS)
    method = service.set_method(session, found, body.choice(), now(), acting_key(session, caller))
    return PaymentMethodOut.of(found.code, method)
