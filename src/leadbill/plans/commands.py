"""`leadbill plans ...`"""

from __future__ import annotations

import typer
from rich.table import Table

from leadbill.accounts.service import get_account
from leadbill.console import instant_option, now, out, print_error, unit_of_work
from leadbill.core.advice import PeriodCost
from leadbill.core.money import Money, format_money
from leadbill.core.wording import count_of
from leadbill.output import OutputFormat, format_option, print_item, print_items
from leadbill.plans import advice as advice_service
from leadbill.plans import service
from leadbill.plans.schemas import PlanAdviceOut, PlanOut

app = typer.Typer(help="The plan catalogue (plans are immutable).", no_args_is_help=True)


@app.command("create")
def create(
    code: str = typer.Argument(..., help="Unique plan code, e.g. pkg-100"),
    name: str = typer.Option(..., help="Name shown on invoices"),
    currency: str = typer.Option("USD"),
    interval: str = typer.Option("month", help="month or year"),
    fee: str = typer.Option(..., help="Recurring fee per period, a decimal"),
    included_leads: int = typer.Option(0, help="Leads included in the fee"),
    per_lead_rate: str = typer.Option("0", help="Price of each lead beyond the included ones"),
    seat_fee: str = typer.Option("0", help="One-time fee per seat"),
    counting_policy: str = typer.Option(
        "called", help="called | received_unless_excluded | contact_found | none"
    ),
    ladder: str | None = typer.Option(None, help="Ladder (volume pricing family)"),
    category_price: list[str] = typer.Option(
        [], help="Per-category lead price CATEGORY=PRICE, e.g. plumbing=45.00 (repeatable)"
    ),
    licence_price: str | None = typer.Option(
        None, help="Price per licence per period: makes it a licence plan"
    ),
    licence_cap: int | None = typer.Option(
        None, help="Self-serve licence cap: customers may add licences up to it, staff beyond"
    ),
) -> None:
    """Add a plan to the catalogue."""
    prices: dict[str, str] = {}
    for entry in category_price:
        category, _, price = entry.partition("=")
        if not category.strip() or not price.strip():
            print_error(f"category_price: {entry!r} is not CATEGORY=PRICE")
            raise typer.Exit(2)
        prices[category.strip()] = price.strip()
    with unit_of_work() as session:
        plan = service.create_plan(
            session,
            code=code,
            name=name,
            currency=currency,
            interval=interval,
            fee=fee,
            included_leads=included_leads,
            per_lead_rate=per_lead_rate,
            seat_fee=seat_fee,
            counting_policy=counting_policy,
            ladder=ladder,
            as_of=now(),
            category_prices=prices,
            licence_price=licence_price,
            licence_cap=licence_cap,
        )
        out.print(f"plan {plan.code} created")


@app.command("list")
def list_(format_: OutputFormat = format_option()) -> None:
    """List the plans."""
    with unit_of_work() as session:
        if format_ is not OutputFormat.TABLE:
            found = service.list_plans(session)
            print_items(format_, PlanOut, [PlanOut.of(plan) for plan in found])
            return
        table = Table(
            "code",
            "name",
            "ladder",
            "interval",
            "fee",
            "included",
            "per lead",
            "seat fee",
            "counting",
            "licence (cap)",
        )
        for plan in service.list_plans(session):
            table.add_row(
                plan.code,
                plan.name,
                plan.ladder or "",
                plan.interval,
                format_money(plan.fee, plan.currency),
                str(plan.included_leads),
                format_money(plan.per_lead_rate, plan.currency, code=False)
                + "".join(
                    f"\n{price.category} {format_money(price.price, plan.currency, code=False)}"
                    for price in plan.category_prices
                ),
                format_money(plan.seat_fee, plan.currency, code=False),
                plan.counting_policy,
                ""
                if plan.licence_price is None
                else format_money(plan.licence_price, plan.currency, code=False)
                + ("" if plan.licence_cap is None else f" ({plan.licence_cap})"),
            )
        out.print(table)


def _amount(money: Money) -> str:
    return format_money(money.amount, money.currency, code=False)


def _period_cell(cost: PeriodCost) -> str:
    """Fee + overage of one period, and the included leads it left unused."""
    lost = f", {cost.lost_leads} lost" if cost.lost_leads else ""
    return f"{_amount(cost.fee)} + {_amount(cost.overage)}{lost}"


@app.command("advise")
def advise(
    account: str = typer.Argument(..., help="Account code"),
    periods: int = typer.Option(
        advice_service.DEFAULT_PERIODS, help="How many of the last closed periods to price"
    ),
    as_of: str | None = typer.Option(None, help="RFC 3339 instant (default: now)"),
    format_: OutputFormat = format_option(),
) -> None:
    """What the last closed periods would have cost under each plan of the ladder."""
    as_of_at = instant_option(as_of, "as_of") if as_of else now()
    with unit_of_work() as session:
        result = advice_service.advise_account(
            session, get_account(session, account), as_of=as_of_at, periods=periods
        )
        if format_ is not OutputFormat.TABLE:
            print_item(format_, PlanAdviceOut.of(result))
            return
        advice = result.advice
        usage = advice.current.periods
        table = Table(
            "plan",
            "included",
            "per lead",
            *(f"period {p.period.index} ({count_of(p.counted_leads, 'lead')})" for p in usage),
            "total",
            "lost to expiry",
            "",
            title=f"{result.account_code}: the last {len(usage)} closed periods under each plan "
            f"of the ladder {result.ladder or '(none)'} ({advice.current.total.currency})",
        )
        for option in advice.options:
            notes = []
            if option.plan.code == advice.current.plan.code:
                notes.append("your plan")
            if option is advice.recommended:
                notes.append("recommended")
            table.add_row(
                option.plan.code,
                str(option.plan.included_leads),
                _amount(option.plan.per_lead_rate),
                *(_period_cell(p) for p in option.periods),
                _amount(option.total),
                str(option.lost_leads),
                ", ".join(notes),
            )
        out.print(table)
        out.print(advice.reasoning)
