"""Taxes: which rate applies to an invoice, and the tax of each line.

The decision is a pure function of the issuer's and the customer's countries
and regions, whether the customer has a tax number, its exemption, and the tax
rates in force on the invoice's issue date:

- an exempt customer pays none, and its exemption reference is printed;
- a customer in the issuer's country pays the domestic rate (a rate of its
  region where one is set, else the country's);
- an EU issuer and an EU business customer of another member state with a VAT
  id: reverse charge, 0 % and the legal mention; without a VAT id (a consumer)
  the customer's country's rate where one is set (the EU's one-stop shop for
  electronically supplied services), else the issuer's domestic rate;
- an EU issuer and a customer outside the EU: not subject to EU VAT;
- any other customer abroad, or a region without a configured rate (a US state
  without sales tax set up): none.

Tax is computed per invoice line and rounded once per line, half up, like every
amount (core.money). A credit note carries the tax of the lines it corrects and
never more tax than the invoice charged at that rate.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money, round_amount
from leadbill.core.rating import Line, LineKind
from leadbill.core.tax_numbers import EU_COUNTRIES

REVERSE_CHARGE_MENTION = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)"
)
OUTSIDE_EU_MENTION = (
    "Not subject to EU VAT: the place of supply is outside the EU "
    "(Article 44, Council Directive 2006/112/EC)"
)
HUNDRED = Decimal(100)


class TaxCategory(enum.StrEnum):
    """The EN 16931 VAT category of a line (UNTDID 5305)."""

    STANDARD = "S"
    REVERSE_CHARGE = "AE"
    EXEMPT = "E"
    NOT_SUBJECT = "O"


@dataclass(frozen=True, slots=True)
class TaxRate:
    """A rate in force in a country (and optionally one region) from one day to another."""

    name: str
    rate: Decimal  # percent: 25 means 25 %
    country: str
    region: str | None
    valid_from: date
    valid_to: date | None = None  # the last day it applies; None: open-ended

    def applies_on(self, day: date) -> bool:
        """True when the rate is in force on `day`."""
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True, slots=True)
class TaxParties:
    """What the decision needs of the issuer and the customer."""

    issuer_country: str | None
    customer_country: str | None
    customer_region: str | None = None
    customer_tax_id: str | None = None
    exemption: str | None = None  # the customer's exemption reference, if exempt


@dataclass(frozen=True, slots=True)
class TaxDecision:
    """The tax of an invoice: category, rate (percent), the rate's name and a legal mention."""

    category: TaxCategory | None  # None: no issuer configured, no tax at all
    rate: Decimal
    name: str
    mention: str | None = None

    @property
    def taxed(self) -> bool:
        """True when lines carry a non-zero rate."""
        return self.rate != 0


NO_TAX = TaxDecision(None, Decimal(0), "")


def check_rate(rate: Decimal) -> Decimal:
    """A tax rate in percent, from 0 to 100 with at most 4 decimals."""
    if not rate.is_finite() or rate < 0 or rate > HUNDRED:
        raise RuleViolation("rate", "must be a percentage from 0 to 100")
    if rate != rate.quantize(Decimal("0.0001")):
        raise RuleViolation("rate", "has more than 4 decimals")
    return rate


def rate_in_force(
    rates: Iterable[TaxRate], country: str, region: str | None, day: date
) -> TaxRate | None:
    """The rate of `country` (its region's where one is set) in force on `day`."""
    in_country = [r for r in rates if r.country == country and r.applies_on(day)]
    if region is not None:
        for rate in in_country:
            if rate.region == region:
                return rate
    for rate in in_country:
        if rate.region is None:
            return rate
    return None


def _standard(rate: TaxRate) -> TaxDecision:
    return TaxDecision(TaxCategory.STANDARD, rate.rate, rate.name)


def _none(mention: str | None = None) -> TaxDecision:
    return TaxDecision(TaxCategory.NOT_SUBJECT, Decimal(0), "No tax", mention)


def decide_tax(parties: TaxParties, rates: Sequence[TaxRate], day: date) -> TaxDecision:
    """The tax of an invoice issued on `day` (the issue date in the account's time zone)."""
    issuer = parties.issuer_country
    if issuer is None:
        return NO_TAX
    if parties.exemption:
        return TaxDecision(
            TaxCategory.EXEMPT, Decimal(0), "Exempt", f"Exempt from tax: {parties.exemption}"
        )
    # A customer without a known country is taxed as a domestic one: no evidence,
    # no relief.
    customer = parties.customer_country or issuer
    if customer == issuer:
        found = rate_in_force(rates, issuer, parties.customer_region, day)
        return _standard(found) if found else _none()
    if issuer in EU_COUNTRIES:
        if customer not in EU_COUNTRIES:
            return _none(OUTSIDE_EU_MENTION)
        if parties.customer_tax_id:
            return TaxDecision(
                TaxCategory.REVERSE_CHARGE, Decimal(0), "Reverse charge", REVERSE_CHARGE_MENTION
            )
        found = rate_in_force(rates, customer, parties.customer_region, day) or rate_in_force(
            rates, issuer, None, day
        )
        return _standard(found) if found else _none()
    return _none()


def line_tax(amount: Money, rate: Decimal) -> Money:
    """The tax of one line: its net amount x the rate, rounded once, half up."""
    return Money(round_amount(amount.amount * rate / HUNDRED, amount.currency), amount.currency)


def _taxed(line: Line, category: str, rate: Decimal, zero: Money) -> Line:
    # Written out rather than dataclasses.replace: the billing run taxes every line of
    # every invoice, and replace() costs several times this.
    return Line(
        line.kind,
        line.description,
        line.quantity,
        line.unit_price,
        line.amount,
        line.period_start,
        line.period_end,
        category,
        rate,
        line_tax(line.amount, rate) if rate else zero,
    )


def taxed_lines(lines: Sequence[Line], decision: TaxDecision) -> list[Line]:
    """The lines with their tax; a credit note's application (R15) carries none."""
    if decision.category is None or not lines:
        return list(lines)
    category, rate = decision.category.value, decision.rate
    currency = lines[0].amount.currency
    zero = Money(round_amount(Decimal(0), currency), currency)
    return [
        line if line.kind is LineKind.CREDIT else _taxed(line, category, rate, zero)
        for line in lines
    ]


@dataclass(frozen=True, slots=True)
class TaxSubtotal:
    """The lines of one category and rate: their net amount and their tax."""

    category: str
    rate: Decimal
    basis: Money
    tax: Money


@dataclass(frozen=True, slots=True)
class DocumentTotals:
    """Net, tax and gross of an invoice or credit note, and what credit notes settled."""

    net: Money
    tax: Money
    gross: Money
    credits: Money  # credit notes applied (R15), zero or negative
    due: Money  # gross + credits: the total to pay
    subtotals: tuple[TaxSubtotal, ...]


def document_amounts(lines: Sequence[Line], currency: str) -> tuple[Decimal, Decimal, Decimal]:
    """Net, tax and due of `document_totals`, as amounts only (what an invoice row stores).

    The billing run writes thousands of invoices: it needs these three sums, not the
    subtotals per rate nor Money objects.
    """
    net = tax = credits = Decimal(0)
    for line in lines:
        if line.kind is LineKind.CREDIT:
            credits += line.amount.amount
            continue
        net += line.amount.amount
        if line.tax is not None:
            tax += line.tax.amount
    return (
        round_amount(net, currency),
        round_amount(tax, currency),
        round_amount(net + tax + credits, currency),
    )


def document_totals(lines: Sequence[Line], currency: str) -> DocumentTotals:
    """Totals of a document: sums of rounded lines and taxes, never rounded again."""
    # Lines and taxes are rounded already: a sum of them is exact, never rounded again.
    zero = Decimal(0)
    net = tax = credits = zero
    groups: dict[tuple[str, Decimal], list[Decimal]] = {}
    for line in lines:
        amount = line.amount.amount
        if line.kind is LineKind.CREDIT:
            credits += amount
            continue
        part = line.tax.amount if line.tax is not None else zero
        net += amount
        tax += part
        if line.tax_category is not None:
            sums = groups.setdefault((line.tax_category, line.tax_rate), [zero, zero])
            sums[0] += amount
            sums[1] += part

    def money(amount: Decimal) -> Money:
        # Amounts read back from PostgreSQL carry six decimals: print them at the minor unit.
        return Money(round_amount(amount, currency), currency)

    subtotals = tuple(
        TaxSubtotal(category, rate, money(basis), money(part))
        for (category, rate), (basis, part) in sorted(groups.items())
    )
    return DocumentTotals(
        money(net),
        money(tax),
        money(net + tax),
        money(credits),
        money(net + tax + credits),
        subtotals,
    )


def credited_tax(
    lines: Sequence[Line],
    charged: Mapping[tuple[str, Decimal], Money],
    already_credited: Mapping[tuple[str, Decimal], Money],
) -> list[Line]:
    """Credit-note lines with the tax of what they correct, never more than was charged.

    Each line already carries the invoice's category and rate; its tax is rounded
    once, then capped so that the invoice's credit notes together never refund more
    tax at a rate than the invoice charged at it.
    """
    left = {
        key: charged[key] - already_credited.get(key, Money.zero(charged[key].currency))
        for key in charged
    }
    found: list[Line] = []
    for line in lines:
        if line.tax_category is None:
            found.append(line)
            continue
        key = (line.tax_category, line.tax_rate)
        room = left.get(key, Money.zero(line.amount.currency).rounded())
        tax = line_tax(line.amount, line.tax_rate)
        if room < tax:
            tax = room if room.amount > 0 else Money.zero(line.amount.currency).rounded()
        left[key] = room - tax
        found.append(replace(line, tax=tax))
    return found
