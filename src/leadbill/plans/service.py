"""Plan use cases: create a catalogue entry, read it, turn it into core terms."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, check_currency, parse_decimal
from leadbill.core.periods import Interval, require_utc
from leadbill.core.plans import CountingPolicy, PlanTerms
from leadbill.errors import Conflict, InvalidInput, NotFound, from_rule
from leadbill.limits import MAX_INCLUDED_LEADS, MAX_LICENCES, check_count
from leadbill.plans.models import Plan, PlanCategoryPrice


def terms(plan: Plan) -> PlanTerms:
    """The core terms of a stored plan."""
    return PlanTerms(
        code=plan.code,
        name=plan.name,
        currency=plan.currency,
        interval=Interval(plan.interval),
        fee=Money(plan.fee, plan.currency),
        included_leads=plan.included_leads,
        per_lead_rate=Money(plan.per_lead_rate, plan.currency),
        seat_fee=Money(plan.seat_fee, plan.currency),
        counting_policy=CountingPolicy(plan.counting_policy),
        category_prices=tuple(
            (price.category, Money(price.price, plan.currency)) for price in plan.category_prices
        ),
        licence_price=(
            None if plan.licence_price is None else Money(plan.licence_price, plan.currency)
        ),
        licence_cap=plan.licence_cap,
    )


def _choice(enum_type: type[Interval] | type[CountingPolicy], value: str, field: str) -> str:
    try:
        return enum_type(value).value
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise InvalidInput(field, f"{value!r} is not one of {allowed}") from None


def create_plan(
    session: Session,
    *,
    code: str,
    name: str,
    currency: str,
    interval: str,
    fee: object,
    included_leads: int,
    per_lead_rate: object,
    seat_fee: object = "0",
    counting_policy: str = "called",
    ladder: str | None = None,
    as_of: datetime,
    category_prices: Mapping[str, object] | None = None,
    licence_price: object | None = None,
    licence_cap: int | None = None,
) -> Plan:
    """Add a plan to the catalogue; its terms are validated by the core.

    `category_prices` maps a lead category (e.g. plumbing) to its per-lead price.
    `licence_price` makes it a licence plan (R19), `licence_cap` its self-serve cap (R22).
    """
    check_count("included_leads", included_leads, low=0, high=MAX_INCLUDED_LEADS)
    if licence_cap is not None:
        check_count("licence_cap", licence_cap, low=1, high=MAX_LICENCES)
    try:
        currency = check_currency(currency)
        plan = Plan(
            code=code.strip(),
            name=name.strip() or code.strip(),
            ladder=ladder,
            currency=currency,
            interval=_choice(Interval, interval, "interval"),
            fee=parse_decimal(fee, "fee"),
            included_leads=included_leads,
            per_lead_rate=parse_decimal(per_lead_rate, "per_lead_rate"),
            seat_fee=parse_decimal(seat_fee, "seat_fee"),
            counting_policy=_choice(CountingPolicy, counting_policy, "counting_policy"),
            created_at=require_utc(as_of, "as_of"),
            licence_price=(
                None if licence_price is None else parse_decimal(licence_price, "licence_price")
            ),
            licence_cap=licence_cap,
        )
        plan.category_prices = [
            PlanCategoryPrice(
                category=category.strip(), price=parse_decimal(price, f"price of {category}")
            )
            for category, price in sorted((category_prices or {}).items())
        ]
        terms(plan)  # the core checks every term
    except RuleViolation as error:
        raise from_rule(error) from None
    if session.scalar(select(Plan.id).where(Plan.code == plan.code)) is not None:
        raise Conflict(f"plan {plan.code!r} already exists; plans are immutable, use a new code")
    session.add(plan)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict(f"plan {plan.code!r} already exists") from None
    return plan


def get_plan(session: Session, code: str) -> Plan:
    """The plan with this code."""
    plan = session.scalar(select(Plan).where(Plan.code == code))
    if plan is None:
        raise NotFound(f"plan {code!r} does not exist")
    return plan


def list_plans(session: Session) -> list[Plan]:
    """Every plan, by ladder then fee."""
    return list(session.scalars(select(Plan).order_by(Plan.ladder, Plan.included_leads, Plan.code)))
