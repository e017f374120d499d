"""Taxes (core.tax): which rate applies, tax per line rounded once, credit notes capped.

The worked example of docs/taxes.md is checked here to the cent: a Swedish
issuer billing a Swedish customer (25 %), a German business with a valid VAT id
(reverse charge) and a US customer (none).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbill.core.errors import RuleViolation
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind
from leadbill.core.tax import (
    OUTSIDE_EU_MENTION,
    REVERSE_CHARGE_MENTION,
    TaxCategory,
    TaxParties,
    TaxRate,
    check_rate,
    credited_tax,
    decide_tax,
    document_amounts,
    document_totals,
    line_tax,
    taxed_lines,
)
from leadbill.core.tax_numbers import check_country, check_region, check_tax_id

DAY = date(2026, 11, 1)
RATES = [
    TaxRate("Moms 25%", Decimal(25), "SE", None, date(2020, 1, 1)),
    TaxRate("MwSt 19%", Decimal(19), "DE", None, date(2020, 1, 1)),
    TaxRate("Sales tax NY", Decimal("8.875"), "US", "US-NY", date(2020, 1, 1)),
    TaxRate("Old VAT", Decimal(20), "FR", None, date(2010, 1, 1), date(2026, 10, 31)),
    TaxRate("TVA 21%", Decimal(21), "FR", None, date(2026, 11, 1)),
]


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def line(amount: str, kind: LineKind = LineKind.PLAN_FEE, currency: str = "EUR") -> Line:
    money = Money.of(amount, currency)
    return Line(kind, f"{kind.value} {amount}", 1, money, money)


def swedish(customer: str | None, tax_id: str | None = None, **more: str) -> TaxParties:
    return TaxParties("SE", customer, customer_tax_id=tax_id, **more)


def test_tax_domestic_rate_same_country() -> None:
    decision = decide_tax(swedish("SE"), RATES, DAY)
    assert (decision.category, decision.rate, decision.mention) == (
        TaxCategory.STANDARD,
        Decimal(25),
        None,
    )


def test_tax_reverse_charge_eu_b2b() -> None:
    decision = decide_tax(swedish("DE", "DE136695976"), RATES, DAY)
    assert decision.category is TaxCategory.REVERSE_CHARGE
    assert decision.rate == 0
    assert decision.mention == REVERSE_CHARGE_MENTION
    assert "Reverse charge" in (decision.mention or "")


def test_tax_eu_consumer_abroad_pays_its_countrys_rate() -> None:
    # No VAT id: no reverse charge; the customer's member state's rate (one-stop shop).
    decision = decide_tax(swedish("DE"), RATES, DAY)
    assert (decision.category, decision.rate) == (TaxCategory.STANDARD, Decimal(19))


def test_tax_eu_consumer_in_a_country_without_a_rate_pays_the_issuers() -> None:
    decision = decide_tax(swedish("AT"), RATES, DAY)
    assert decision.rate == Decimal(25)


def test_tax_customer_outside_the_eu_is_not_subject_to_eu_vat() -> None:
    decision = decide_tax(swedish("US", customer_region="US-NY"), RATES, DAY)
    assert (decision.category, decision.rate) == (TaxCategory.NOT_SUBJECT, Decimal(0))
    assert decision.mention == OUTSIDE_EU_MENTION


def test_tax_us_customer_pays_its_states_rate() -> None:
    parties = TaxParties("US", "US", customer_region="US-NY")
    assert decide_tax(parties, RATES, DAY).rate == Decimal("8.875")


def test_tax_us_customer_in_a_state_without_a_rate_pays_none() -> None:
    parties = TaxParties("US", "US", customer_region="US-OR")
    decision = decide_tax(parties, RATES, DAY)
    assert (decision.category, decision.rate, decision.mention) == (
        TaxCategory.NOT_SUBJECT,
        Decimal(0),
        None,
    )


def test_tax_exempt_customer_pays_none_with_its_reference() -> None:
    parties = swedish("SE", exemption="Skatteverket dnr 131-123456-26")
    decision = decide_tax(parties, RATES, DAY)
    assert (decision.category, decision.rate) == (TaxCategory.EXEMPT, Decimal(0))
    assert decision.mention == "Exempt from tax: Skatteverket dnr 131-123456-26"


def test_tax_unknown_customer_country_is_taxed_as_domestic() -> None:
    assert decide_tax(swedish(None), RATES, DAY).rate == Decimal(25)


def test_tax_no_issuer_means_no_tax_at_all() -> None:
    decision = decide_tax(TaxParties(None, "SE"), RATES, DAY)
    assert decision.category is None
    assert taxed_lines([line("100.00")], decision)[0].tax is None


def test_tax_rate_follows_the_issue_date() -> None:
    parties = TaxParties("FR", "FR")
    assert decide_tax(parties, RATES, date(2026, 10, 31)).rate == Decimal(20)
    assert decide_tax(parties, RATES, date(2026, 11, 1)).rate == Decimal(21)


def test_tax_is_rounded_once_per_line_half_up() -> None:
    # 0.10 x 25 % = 0.025 -> 0.03 (half up); three such lines are 0.09, not 0.08.
    lines = taxed_lines([line("0.10")] * 3, decide_tax(swedish("SE"), RATES, DAY))
    assert [item.tax for item in lines] == [eur("0.03")] * 3
    totals = document_totals(lines, "EUR")
    assert (totals.net, totals.tax, totals.gross) == (eur("0.30"), eur("0.09"), eur("0.39"))
    assert line_tax(Money.of("999", "JPY"), Decimal(10)) == Money.of("100", "JPY")


def test_tax_credit_application_lines_carry_no_tax() -> None:
    credit = Line(LineKind.CREDIT, "Credit note CN-1", 1, eur("-12.50"), eur("-12.50"))
    lines = taxed_lines([line("100.00"), credit], decide_tax(swedish("SE"), RATES, DAY))
    assert lines[1].tax is None
    totals = document_totals(lines, "EUR")
    assert (totals.net, totals.tax, totals.gross, totals.credits, totals.due) == (
        eur("100.00"),
        eur("25.00"),
        eur("125.00"),
        eur("-12.50"),
        eur("112.50"),
    )


def test_tax_worked_example_swedish_issuer_to_the_cent() -> None:
    """docs/taxes.md: 400.00 EUR package and 2 extra contacts at 12.00 EUR, three customers."""
    lines = [
        Line(LineKind.PLAN_FEE, "Prospect 40", 1, eur("400.00"), eur("400.00")),
        Line(LineKind.OVERAGE, "Overage", 2, eur("12.00"), eur("24.00")),
    ]
    expected = {
        "SE": ("S", Decimal(25), "424.00", "106.00", "530.00"),
        "DE": ("AE", Decimal(0), "424.00", "0.00", "424.00"),
        "US": ("O", Decimal(0), "424.00", "0.00", "424.00"),
    }
    customers = {
        "SE": swedish("SE", "SE556036079301"),
        "DE": swedish("DE", "DE136695976"),
        "US": swedish("US", customer_region="US-NY"),
    }
    for country, (category, rate, net, tax, gross) in expected.items():
        taxed = taxed_lines(lines, decide_tax(customers[country], RATES, DAY))
        totals = document_totals(taxed, "EUR")
        assert [t.tax for t in taxed] == (
            [eur("100.00"), eur("6.00")] if country == "SE" else [eur("0.00"), eur("0.00")]
        )
        assert [(s.category, s.rate) for s in totals.subtotals] == [(category, rate)]
        assert (totals.net, totals.tax, totals.gross) == (eur(net), eur(tax), eur(gross))


def test_tax_credit_note_never_refunds_more_tax_than_charged() -> None:
    decision = decide_tax(swedish("SE"), RATES, DAY)
    # 0.06 at 25 % charged 0.02 (0.015 rounded up); three credits of 0.02 would each
    # round to 0.01, 0.03 in all: the third is capped at what is left, 0.00.
    charged = {("S", Decimal(25)): eur("0.02")}
    credit = taxed_lines([line("0.02")], decision)
    first = credited_tax(credit, charged, {})
    second = credited_tax(credit, charged, {("S", Decimal(25)): eur("0.01")})
    third = credited_tax(credit, charged, {("S", Decimal(25)): eur("0.02")})
    assert [first[0].tax, second[0].tax, third[0].tax] == [eur("0.01"), eur("0.01"), eur("0.00")]


def test_tax_rate_must_be_a_percentage() -> None:
    for bad in (Decimal(-1), Decimal(101), Decimal("12.34567")):
        with pytest.raises(RuleViolation) as error:
            check_rate(bad)
        assert error.value.field == "rate"


def test_tax_numbers_checked_with_their_check_digits() -> None:
    assert check_tax_id("SE 5560 3607 9301", "SE") == "SE556036079301"
    assert check_tax_id("de136695976", "DE") == "DE136695976"
    assert check_tax_id("EL094259216", "GR") == "EL094259216"
    assert check_tax_id("12-3456789", "US") == "12-3456789"
    for value, country, reason in (
        ("DE136695977", "DE", "check digit"),
        ("SE556036079301", "DE", "must start with DE"),
        ("12345", "US", "not a valid tax number"),
    ):
        with pytest.raises(RuleViolation) as error:
            check_tax_id(value, country)
        assert error.value.field == "tax_id"
        assert reason in error.value.reason
    with pytest.raises(RuleViolation, match="needs the country"):
        check_tax_id("DE136695976", None)


def test_countries_and_regions_are_iso_codes() -> None:
    assert check_country(" se ") == "SE"
    assert check_region("us-ny", "US") == "US-NY"
    for bad in ("XX", "SWE", "EU"):
        with pytest.raises(RuleViolation):
            check_country(bad)
    with pytest.raises(RuleViolation, match="not a region of SE"):
        check_region("US-NY", "SE")


AMOUNTS = st.decimals(min_value=Decimal("-500"), max_value=Decimal("5000"), places=2)
PERCENT = st.sampled_from([Decimal(0), Decimal(6), Decimal("8.875"), Decimal(12), Decimal(25)])


@settings(deadline=None)
@given(st.lists(AMOUNTS, min_size=1, max_size=12), PERCENT, st.sampled_from(["SE", "DE", "US"]))
def test_tax_net_plus_tax_is_gross_for_every_invoice(
    amounts: list[Decimal], percent: Decimal, customer: str
) -> None:
    rates = [TaxRate("rate", percent, "SE", None, date(2020, 1, 1))]
    parties = swedish(customer, "DE136695976" if customer == "DE" else None)
    lines = taxed_lines([line(str(a)) for a in amounts], decide_tax(parties, rates, DAY))
    totals = document_totals(lines, "EUR")
    assert totals.net + totals.tax == totals.gross
    assert totals.tax == sum((item.tax_or_zero for item in lines), eur("0.00"))
    assert sum((s.tax for s in totals.subtotals), eur("0.00")) == totals.tax
    for item in lines:
        assert item.tax_or_zero.amount == item.tax_or_zero.amount.quantize(Decimal("0.01"))
    # What an invoice row stores is the same net, tax and due.
    amounts_only = document_amounts(lines, "EUR")
    assert amounts_only == (totals.net.amount, totals.tax.amount, totals.due.amount)


@settings(deadline=None)
@given(
    st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("300"), places=2), min_size=1
    ),
    st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=20),
    PERCENT,
)
def test_tax_credit_notes_never_exceed_the_tax_of_what_they_credit(
    charged_amounts: list[Decimal], credit_percents: list[int], percent: Decimal
) -> None:
    decision = decide_tax(swedish("SE"), [TaxRate("r", percent, "SE", None, DAY)], DAY)
    invoice = taxed_lines([line(str(a)) for a in charged_amounts], decision)
    charged = {("S", percent): document_totals(invoice, "EUR").tax}
    net = sum((item.amount for item in invoice), eur("0.00"))
    refunded = {("S", percent): eur("0.00")}
    # Many small credit notes against the same invoice, up to all of its net amount.
    for share in credit_percents:
        part = Money(net.amount * share / (100 * len(credit_percents)), "EUR").rounded()
        if part.amount <= 0:
            continue
        note = credited_tax(taxed_lines([line(str(part.amount))], decision), charged, refunded)
        refunded[("S", percent)] = refunded[("S", percent)] + note[0].tax_or_zero
        assert note[0].tax_or_zero.amount >= 0
    assert refunded[("S", percent)] <= charged[("S", percent)]
