"""HTTP route of dunning: the open invoices in dunning, with the last step sent and the next
(admin, billing; a customer key sees its own account's). Other roles get 403."""

from __future__ import annotations

from fastapi import APIRouter, Query

from leadbill.accounts.service import get_account
from leadbill.auth.dependencies import Caller, DbSession, allow
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import Role
from leadbill.console import now
from leadbill.dunning.schemas import DunningInvoiceOut, DunningPage
from leadbill.dunning.service import in_dunning
from leadbill.errors import NotFound
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES, Instant

router = APIRouter(tags=["dunning"], route_class=LeadbillRoute, responses=PROBLEM_RESPONSES)
READERS = (Role.ADMIN, Role.BILLING, Role.CUSTOMER)


@router.get("/dunning", response_model=DunningPage)
def list_dunning(
    session: DbSession,
    caller: Caller,
    as_of: Instant | None = Query(None, description="the instant asked about (default: now)"),
    account: str | None = Query(None, max_length=64, description="only this account's"),
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> DunningPage:
    """Open invoices with a balance due that have a reminder sent or a step due, by invoice:
    amount due, due date, days overdue (the account's local date), the last step sent and
    the next step (or final action) with its date (admin, billing; a customer key: its own
    account)."""
    allow(caller, *READERS)
    at = as_of or now()
    account_id = get_account(session, account).id if account else None
    if caller.role is Role.CUSTOMER:
        if account_id is not None and account_id != caller.account_id:
            raise NotFound(f"account {account!r} does not exist")
        account_id = caller.account_id
    after = decode_cursor(cursor, int) or 0
    items = in_dunning(session, at, account_id=account_id, after=after, limit=limit)
    return DunningPage(
        data=[DunningInvoiceOut.of(item, at) for item in items],
        page=page_info(items, limit, lambda item: item.invoice.id),
    )
