"""HTTP routes of an account's context (R12, R18): lead-policy settings, campaigns and
their pause windows, service area, previous customers, block list.

Staff readers and the account's own customer key read it; admins change it. Every
change goes through `context.service`, which decides the open period's leads again.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy.orm import Session

from leadbill.auth.dependencies import Caller, DbSession, visible_account
from leadbill.auth.idempotency import LeadbillRoute
from leadbill.auth.service import STAFF_READERS, Role
from leadbill.console import now
from leadbill.context import repository, service
from leadbill.context.schemas import (
    BlockEntryIn,
    BlockEntryOut,
    BlockListPage,
    CampaignCreate,
    CampaignOut,
    CampaignPage,
    CustomerOut,
    CustomerPage,
    CustomersAdded,
    CustomersIn,
    LeadPolicySettingsIn,
    LeadPolicySettingsOut,
    PauseCreate,
    ResumeIn,
    ServiceAreaIn,
    ServiceAreaPage,
    ServiceAreaSet,
)
from leadbill.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, page_info
from leadbill.schemas import PROBLEM_RESPONSES

router = APIRouter(
    prefix="/accounts/{account}",
    tags=["account context"],
    route_class=LeadbillRoute,
    responses=PROBLEM_RESPONSES,
)
READERS = (*STAFF_READERS, Role.CUSTOMER)
EDITORS = (Role.ADMIN,)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
CampaignCode = Annotated[str, Path(min_length=1, max_length=64)]
EntryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/lead-policy", response_model=LeadPolicySettingsOut)
def get_lead_policy(account: str, session: DbSession, caller: Caller) -> LeadPolicySettingsOut:
    """The phone region and duplicate window used to compare the account's leads."""
    owner = visible_account(session, caller, account, *READERS)
    region, days = repository.settings_of(session, [owner.id])[owner.id]
    return LeadPolicySettingsOut(
        account=owner.code, phone_region=region, duplicate_window_days=days
    )


@router.put("/lead-policy", response_model=LeadPolicySettingsOut)
def set_lead_policy(
    account: str, body: LeadPolicySettingsIn, session: DbSession, caller: Caller
) -> LeadPolicySettingsOut:
    """Change the phone region and/or the duplicate window (admin)."""
    owner = visible_account(session, caller, account, *EDITORS)
    row = service.set_settings(
        session,
        owner.code,
        phone_region=body.phone_region,
        duplicate_window_days=body.duplicate_window_days,
    )
    return LeadPolicySettingsOut(
        account=owner.code,
        phone_region=row.phone_region,
        duplicate_window_days=row.duplicate_window_days,
    )


@router.get("/campaigns", response_model=CampaignPage)
def list_campaigns(
    account: str,
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> CampaignPage:
    """The account's campaigns by code, each with its pause windows."""
    owner = visible_account(session, caller, account, *READERS)
    rows = repository.campaigns_page(
        session, owner.id, after=decode_cursor(cursor, str), limit=limit
    )
    return CampaignPage(
        data=[CampaignOut.of(c, pauses) for c, pauses in rows],
        page=page_info(rows, limit, lambda row: row[0].code),
    )


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
def create_campaign(
    account: str, body: CampaignCreate, session: DbSession, caller: Caller
) -> CampaignOut:
    """Add a campaign (admin); leads name it in their `campaign` field."""
    owner = visible_account(session, caller, account, *EDITORS)
    return CampaignOut.of(service.add_campaign(session, owner.code, body.code, body.name), [])


def _campaign_out(session: Session, account_id: int, code: str) -> CampaignOut:
    found = repository.campaign_with_pauses(session, account_id, code)
    assert found is not None  # the service has just found it
    return CampaignOut.of(*found)


@router.post("/campaigns/{campaign}/pauses", status_code=201, response_model=CampaignOut)
def pause_campaign(
    account: str, campaign: CampaignCode, body: PauseCreate, session: DbSession, caller: Caller
) -> CampaignOut:
    """Record a pause window (admin): leads of the campaign received in it are not billed."""
    owner = visible_account(session, caller, account, *EDITORS)
    end = body.end.astimezone(UTC) if body.end is not None else None
    service.pause_campaign(session, owner.code, campaign, body.start.astimezone(UTC), end)
    return _campaign_out(session, owner.id, campaign)


@router.post("/campaigns/{campaign}/resume", response_model=CampaignOut)
def resume_campaign(
    account: str, campaign: CampaignCode, body: ResumeIn, session: DbSession, caller: Caller
) -> CampaignOut:
    """End the campaign's open pause at `at` (default: now) (admin)."""
    owner = visible_account(session, caller, account, *EDITORS)
    at = body.at.astimezone(UTC) if body.at is not None else now()
    service.resume_campaign(session, owner.code, campaign, at)
    return _campaign_out(session, owner.id, campaign)


@router.get("/service-area", response_model=ServiceAreaPage)
def list_service_area(
    account: str,
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> ServiceAreaPage:
    """The postal codes of the service area; none means every postal code is served."""
    owner = visible_account(session, caller, account, *READERS)
    codes = repository.service_area_page(
        session, owner.id, after=decode_cursor(cursor, str), limit=limit
    )
    return ServiceAreaPage(data=codes, page=page_info(codes, limit, lambda code: code))


@router.put("/service-area", response_model=ServiceAreaSet)
def set_service_area(
    account: str, body: ServiceAreaIn, session: DbSession, caller: Caller
) -> ServiceAreaSet:
    """Replace the service area (admin); leads with another postal code are not billed."""
    owner = visible_account(session, caller, account, *EDITORS)
    size = service.set_service_area(session, owner.code, body.postal_codes)
    return ServiceAreaSet(account=owner.code, postal_codes=size)


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    account: str,
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> CustomerPage:
    """The account's previous customers, as their phone and e-mail are compared."""
    owner = visible_account(session, caller, account, *READERS)
    rows = repository.customers_page(
        session, owner.id, after=decode_cursor(cursor, int), limit=limit
    )
    return CustomerPage(
        data=[CustomerOut.of(c) for c in rows],
        page=page_info(rows, limit, lambda row: row.id),
    )


@router.post("/customers", response_model=CustomersAdded)
def add_customers(
    account: str, body: CustomersIn, session: DbSession, caller: Caller
) -> CustomersAdded:
    """Add previous customers (admin): a lead from one of them is `previous_customer`."""
    owner = visible_account(session, caller, account, *EDITORS)
    added, unusable = service.add_customers(
        session, owner.code, [(c.phone, c.email) for c in body.customers]
    )
    return CustomersAdded(added=added, unusable=unusable)


@router.get("/block-list", response_model=BlockListPage)
def list_block_list(
    account: str,
    session: DbSession,
    caller: Caller,
    cursor: str | None = None,
    limit: Limit = DEFAULT_LIMIT,
) -> BlockListPage:
    """The account's block list (R18), oldest first."""
    owner = visible_account(session, caller, account, *READERS)
    rows = repository.block_list_page(
        session, owner.id, after=decode_cursor(cursor, int), limit=limit
    )
    return BlockListPage(
        data=[BlockEntryOut.of(e) for e in rows],
        page=page_info(rows, limit, lambda row: row.id),
    )


@router.post("/block-list", status_code=201, response_model=BlockEntryOut)
def add_block_entry(
    account: str, body: BlockEntryIn, session: DbSession, caller: Caller
) -> BlockEntryOut:
    """Add a block-list entry (admin): matching leads are never charged (R18)."""
    owner = visible_account(session, caller, account, *EDITORS)
    return BlockEntryOut.of(service.add_block_entry(session, owner.code, body.kind, body.value))


@router.delete("/block-list/{entry_id}", status_code=204, response_class=Response)
def remove_block_entry(
    account: str, entry_id: EntryId, session: DbSession, caller: Caller
) -> Response:
    """Remove a block-list entry (admin); the open period's leads are decided again."""
    owner = visible_account(session, caller, account, *EDITORS)
    service.remove_block_entry(session, owner.code, entry_id)
    return Response(status_code=204)
