"""Factur-X (EN 16931) e-invoices: XML valid against the XSD, business rules, PDF attachment.

The documents are the ones a Swedish seller issues: a Swedish customer at 25 %
(S), a German business under reverse charge (AE) and a US customer outside the
scope of EU VAT (O), plus a credit note. No database: an EInvoice is plain data.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import drafthorse.pdf
import pytest
from fpdf import FPDF
from lxml import etree
from pypdf import PdfReader, PdfWriter

from leadbill.einvoice import rules
from leadbill.einvoice.document import DocumentLine, EInvoice, Party, TaxSubtotal
from leadbill.einvoice.facturx import facturx_pdf, facturx_xml

D = Decimal
NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
XSD = Path(drafthorse.__file__).parent / "schema" / "Factur-X_1.0.07_EN16931.xsd"

SELLER = Party(
    legal_name="Lead Data Nordic AB",
    address_line1="Sveavägen 44",
    city="Stockholm",
    postal_code="111 34",
    region="SE-AB",
    country="SE",
    tax_id="SE556036079301",
    email="billing@leaddata.se",
)
SWEDISH_BUYER = Party(
    legal_name="Rörmokarna i Göteborg AB",
    address_line1="Första Långgatan 12",
    address_line2="Box 311",
    city="Göteborg",
    postal_code="413 27",
    country="SE",
    tax_id="SE556677889901",
)
GERMAN_BUYER = Party(
    legal_name="Dachdecker Müller GmbH",
    address_line1="Friedrichstraße 100",
    city="Berlin",
    postal_code="10117",
    country="DE",
    tax_id="DE136695976",
    email="rechnung@dachdecker-mueller.de",
)
US_BUYER = Party(
    legal_name="Pipe Pros Inc.",
    address_line1="500 Market Street",
    city="San Francisco",
    postal_code="94105",
    region="CA",
    country="US",
    tax_id="12-3456789",  # an EIN, not a VAT id
)


def lines(category: str, rate: str) -> tuple[DocumentLine, ...]:
    """The November plan fee and three overage leads: 400.00 + 24.00."""
    return (
        DocumentLine(
            position=1,
            description="Plan Pro, November 2026",
            quantity=1,
            unit_price=D("400.00"),
            net_amount=D("400.00"),
            tax_category=category,  # type: ignore[arg-type]
            tax_rate=D(rate),
            period_start=date(2026, 11, 1),
            period_end=date(2026, 11, 30),
        ),
        DocumentLine(
            position=2,
            description="Overage: 3 leads at 8.00",
            quantity=3,
            unit_price=D("8.00"),
            net_amount=D("24.00"),
            tax_category=category,  # type: ignore[arg-type]
            tax_rate=D(rate),
        ),
    )


def swedish_invoice() -> EInvoice:
    """424.00 at 25 % = 106.00 VAT, 530.00; a 50.00 credit already applied leaves 480.00."""
    return EInvoice(
        kind="invoice",
        number="INV-000101",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        currency="EUR",
        seller=SELLER,
        buyer=SWEDISH_BUYER,
        buyer_reference="PO-2026-118",
        lines=lines("S", "25.00"),
        tax_subtotals=(
            TaxSubtotal(category="S", rate=D("25.00"), basis=D("424.00"), tax_amount=D("106.00")),
        ),
        line_total=D("424.00"),
        tax_basis_total=D("424.00"),
        tax_total=D("106.00"),
        grand_total=D("530.00"),
        prepaid_amount=D("50.00"),
        due_payable=D("480.00"),
        payment_terms="30 days net",
        notes=("Godkänd för F-skatt",),
    )


def german_invoice() -> EInvoice:
    """424.00 under reverse charge: no VAT, the buyer accounts for it."""
    return EInvoice(
        kind="invoice",
        number="INV-000102",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        currency="EUR",
        seller=SELLER,
        buyer=GERMAN_BUYER,
        buyer_reference="BEST-4711",
        lines=lines("AE", "0"),
        tax_subtotals=(
            TaxSubtotal(
                category="AE",
                rate=D("0"),
                basis=D("424.00"),
                tax_amount=D("0.00"),
                exemption_reason="Reverse charge",
            ),
        ),
        line_total=D("424.00"),
        tax_basis_total=D("424.00"),
        tax_total=D("0.00"),
        grand_total=D("424.00"),
        prepaid_amount=D("0.00"),
        due_payable=D("424.00"),
        notes=(
            "Reverse charge: VAT to be accounted for by the recipient, Article 196 VAT Directive",
        ),
    )


def us_invoice() -> EInvoice:
    """424.00 USD outside the scope of EU VAT: a service to a business outside the EU."""
    return EInvoice(
        kind="invoice",
        number="INV-000103",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 16),
        currency="USD",
        seller=SELLER,
        buyer=US_BUYER,
        lines=lines("O", "0"),
        tax_subtotals=(
            TaxSubtotal(
                category="O",
                rate=D("0"),
                basis=D("424.00"),
                tax_amount=D("0.00"),
                exemption_reason="Not subject to VAT",
            ),
        ),
        line_total=D("424.00"),
        tax_basis_total=D("424.00"),
        tax_total=D("0.00"),
        grand_total=D("424.00"),
        prepaid_amount=D("0.00"),
        due_payable=D("424.00"),
        notes=("Place of supply outside the EU (Article 44 VAT Directive)",),
    )


def credit_note() -> EInvoice:
    """One overage lead of INV-000101 credited: 8.00 + 2.00 VAT."""
    return EInvoice(
        kind="credit_note",
        number="CN-000007",
        issue_date=date(2026, 12, 9),
        currency="EUR",
        seller=SELLER,
        buyer=SWEDISH_BUYER,
        preceding_invoice_number="INV-000101",
        lines=(
            DocumentLine(
                position=1,
                description="Credit: lead 8812 rejected on review",
                quantity=1,
                unit_price=D("8.00"),
                net_amount=D("8.00"),
                tax_category="S",
                tax_rate=D("25.00"),
            ),
        ),
        tax_subtotals=(
            TaxSubtotal(category="S", rate=D("25.00"), basis=D("8.00"), tax_amount=D("2.00")),
        ),
        line_total=D("8.00"),
        tax_basis_total=D("8.00"),
        tax_total=D("2.00"),
        grand_total=D("10.00"),
        prepaid_amount=D("0.00"),
        due_payable=D("10.00"),
        payment_terms="Deducted from the next invoice",
    )


def parse(xml: bytes) -> etree._Element:
    """The XML, parsed back and validated once more against the EN 16931 XSD on its own."""
    root = etree.fromstring(xml)
    schema = etree.XMLSchema(file=str(XSD))
    schema.assertValid(root)
    return root


def text(root: etree._Element, path: str) -> list[str]:
    """The texts of the elements (or the values of the attributes) at an XPath."""
    found = root.xpath(path, namespaces=NS)
    return [item if isinstance(item, str) else item.text for item in found]


HEADER = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
SUMS = f"{HEADER}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
AGREEMENT = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
SELLER_TAX = f"{AGREEMENT}/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID"
BUYER_TAX = f"{AGREEMENT}/ram:BuyerTradeParty/ram:SpecifiedTaxRegistration/ram:ID"
LINE_TAX = (
    "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
    "/ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
)


def totals(root: etree._Element) -> dict[str, str]:
    """BT-106, BT-109, BT-110, BT-112, BT-113 and BT-115 as written."""
    names = {
        "LineTotalAmount": "BT-106",
        "TaxBasisTotalAmount": "BT-109",
        "TaxTotalAmount": "BT-110",
        "GrandTotalAmount": "BT-112",
        "TotalPrepaidAmount": "BT-113",
        "DuePayableAmount": "BT-115",
    }
    return {bt: text(root, f"{SUMS}/ram:{tag}")[0] for tag, bt in names.items()}


# --- the three invoices -----------------------------------------------------------------


def test_swedish_customer_standard_rate_25_percent() -> None:
    root = parse(facturx_xml(swedish_invoice()))

    assert text(root, "rsm:ExchangedDocument/ram:TypeCode") == ["380"]
    assert text(root, "rsm:ExchangedDocument/ram:ID") == ["INV-000101"]
    assert text(root, "rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString") == ["20261201"]
    assert text(root, f"{SELLER_TAX}[@schemeID='VA']") == ["SE556036079301"]
    assert text(root, f"{BUYER_TAX}[@schemeID='VA']") == ["SE556677889901"]
    assert text(root, f"{AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == [
        "SE"
    ]
    assert text(root, f"{AGREEMENT}/ram:BuyerReference") == ["PO-2026-118"]
    assert text(root, f"{LINE_TAX}/ram:CategoryCode") == ["S", "S"]
    assert text(root, f"{LINE_TAX}/ram:RateApplicablePercent") == ["25.00", "25.00"]
    assert text(root, f"{HEADER}/ram:ApplicableTradeTax/ram:BasisAmount") == ["424.00"]
    assert text(root, f"{HEADER}/ram:ApplicableTradeTax/ram:CalculatedAmount") == ["106.00"]
    assert totals(root) == {
        "BT-106": "424.00",
        "BT-109": "424.00",
        "BT-110": "106.00",
        "BT-112": "530.00",
        "BT-113": "50.00",
        "BT-115": "480.00",
    }
    assert text(root, f"{SUMS}/ram:TaxTotalAmount/@currencyID") == ["EUR"]
    assert text(root, f"{HEADER}/ram:InvoiceCurrencyCode") == ["EUR"]
    terms = f"{HEADER}/ram:SpecifiedTradePaymentTerms"
    assert text(root, f"{terms}/ram:DueDateDateTime/udt:DateTimeString") == ["20261231"]
    assert text(root, f"{terms}/ram:Description") == ["30 days net"]
    assert text(root, "rsm:ExchangedDocument/ram:IncludedNote/ram:Content") == [
        "Godkänd för F-skatt"
    ]


def test_swedish_invoice_lines_quantity_net_price_unit_and_period() -> None:
    root = parse(facturx_xml(swedish_invoice()))
    items = "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"

    assert text(root, f"{items}/ram:AssociatedDocumentLineDocument/ram:LineID") == ["1", "2"]
    assert text(root, f"{items}/ram:SpecifiedTradeProduct/ram:Name") == [
        "Plan Pro, November 2026",
        "Overage: 3 leads at 8.00",
    ]
    assert text(root, f"{items}//ram:NetPriceProductTradePrice/ram:ChargeAmount") == [
        "400.00",
        "8.00",
    ]
    assert text(root, f"{items}//ram:BilledQuantity") == ["1", "3"]
    assert text(root, f"{items}//ram:BilledQuantity/@unitCode") == ["C62", "C62"]
    assert text(root, f"{items}//ram:BillingSpecifiedPeriod//udt:DateTimeString") == [
        "20261101",
        "20261130",
    ]
    assert text(root, f"{items}//ram:SpecifiedTradeSettlementLineMonetarySummation/*") == [
        "400.00",
        "24.00",
    ]


def test_german_business_reverse_charge() -> None:
    root = parse(facturx_xml(german_invoice()))

    assert text(root, f"{SELLER_TAX}[@schemeID='VA']") == ["SE556036079301"]
    assert text(root, f"{BUYER_TAX}[@schemeID='VA']") == ["DE136695976"]
    assert text(root, f"{AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == [
        "DE"
    ]
    assert text(root, f"{AGREEMENT}/ram:BuyerReference") == ["BEST-4711"]
    assert text(root, f"{LINE_TAX}/ram:CategoryCode") == ["AE", "AE"]
    assert text(root, f"{LINE_TAX}/ram:RateApplicablePercent") == ["0", "0"]
    breakdown = f"{HEADER}/ram:ApplicableTradeTax"
    assert text(root, f"{breakdown}/ram:CategoryCode") == ["AE"]
    assert text(root, f"{breakdown}/ram:ExemptionReason") == ["Reverse charge"]
    assert text(root, f"{breakdown}/ram:ExemptionReasonCode") == ["VATEX-EU-AE"]
    assert text(root, f"{breakdown}/ram:CalculatedAmount") == ["0.00"]
    assert totals(root) == {
        "BT-106": "424.00",
        "BT-109": "424.00",
        "BT-110": "0.00",
        "BT-112": "424.00",
        "BT-113": "0.00",
        "BT-115": "424.00",
    }
    due = f"{HEADER}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert text(root, due) == ["20261231"]
    electronic = f"{AGREEMENT}/ram:BuyerTradeParty/ram:URIUniversalCommunication/ram:URIID"
    assert text(root, f"{electronic}[@schemeID='EM']") == ["rechnung@dachdecker-mueller.de"]


def test_us_customer_outside_eu_vat_br_o_02_no_vat_ids_br_o_05_no_rate() -> None:
    root = parse(facturx_xml(us_invoice()))

    # BR-O-02: outside the scope of VAT neither party's VAT id is written (scheme VA);
    # the buyer's EIN is a tax registration (scheme FC), which the rule allows.
    assert text(root, f"{SELLER_TAX}") == []
    assert text(root, f"{BUYER_TAX}[@schemeID='FC']") == ["12-3456789"]
    assert text(root, f"{AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == [
        "US"
    ]
    address = f"{AGREEMENT}/ram:BuyerTradeParty/ram:PostalTradeAddress"
    assert text(root, f"{address}/ram:CountrySubDivisionName") == ["CA"]
    assert text(root, f"{LINE_TAX}/ram:CategoryCode") == ["O", "O"]
    assert text(root, f"{LINE_TAX}/ram:RateApplicablePercent") == []
    breakdown = f"{HEADER}/ram:ApplicableTradeTax"
    assert text(root, f"{breakdown}/ram:CategoryCode") == ["O"]
    assert text(root, f"{breakdown}/ram:RateApplicablePercent") == []
    assert text(root, f"{breakdown}/ram:ExemptionReason") == ["Not subject to VAT"]
    assert text(root, f"{breakdown}/ram:ExemptionReasonCode") == ["VATEX-EU-O"]
    assert totals(root) == {
        "BT-106": "424.00",
        "BT-109": "424.00",
        "BT-110": "0.00",
        "BT-112": "424.00",
        "BT-113": "0.00",
        "BT-115": "424.00",
    }
    assert text(root, f"{SUMS}/ram:TaxTotalAmount/@currencyID") == ["USD"]
    due = f"{HEADER}/ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString"
    assert text(root, due) == ["20261216"]
    assert text(root, f"{AGREEMENT}/ram:BuyerReference") == []


def test_seller_tax_id_that_is_not_a_vat_id_is_scheme_fc() -> None:
    seller = replace(SELLER, country="US", tax_id="98-7654321")
    root = parse(facturx_xml(replace(swedish_invoice(), seller=seller)))

    assert text(root, f"{SELLER_TAX}[@schemeID='FC']") == ["98-7654321"]


def test_credit_note_381_names_the_preceding_invoice_bt_25() -> None:
    root = parse(facturx_xml(credit_note()))

    assert text(root, "rsm:ExchangedDocument/ram:TypeCode") == ["381"]
    reference = f"{HEADER}/ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
    assert text(root, reference) == ["INV-000101"]
    assert totals(root)["BT-112"] == "10.00"
    assert totals(root)["BT-115"] == "10.00"


def test_same_document_same_xml_bytes() -> None:
    assert facturx_xml(german_invoice()) == facturx_xml(german_invoice())


def test_xsd_validation_runs_on_every_document(monkeypatch: pytest.MonkeyPatch) -> None:
    # With the business rules out of the way, a document without lines reaches the XSD,
    # which requires at least one IncludedSupplyChainTradeLineItem.
    monkeypatch.setattr(rules, "check", lambda document: None)
    with pytest.raises(ValueError, match=r"not valid.*IncludedSupplyChainTradeLineItem"):
        facturx_xml(replace(swedish_invoice(), lines=()))


# --- business rules the XSD cannot see ------------------------------------------------------


def refused(document: EInvoice, field: str, rule: str) -> None:
    """facturx_xml refuses the document with a ValueError naming the field and the rule."""
    with pytest.raises(ValueError, match=rule) as error:
        facturx_xml(document)
    assert getattr(error.value, "field", None) == field


def test_br_co_10_line_total_is_the_sum_of_the_lines() -> None:
    document = replace(swedish_invoice(), line_total=D("425.00"))
    refused(document, "line_total", "BR-CO-10: 425.00 is not the sum of the line amounts")


def test_br_co_13_tax_basis_is_the_line_total() -> None:
    refused(replace(swedish_invoice(), tax_basis_total=D("400.00")), "tax_basis_total", "BR-CO-13")


def test_br_co_14_tax_total_is_the_sum_of_the_subtotals() -> None:
    refused(replace(swedish_invoice(), tax_total=D("105.00")), "tax_total", "BR-CO-14")


def test_br_co_15_grand_total_is_basis_plus_tax() -> None:
    document = replace(swedish_invoice(), grand_total=D("524.00"), due_payable=D("474.00"))
    refused(document, "grand_total", "BR-CO-15: 524.00 is not tax_basis_total \\+ tax_total")


def test_br_co_16_due_payable_is_grand_total_minus_prepaid() -> None:
    refused(replace(swedish_invoice(), due_payable=D("530.00")), "due_payable", "BR-CO-16")


def test_br_co_17_tax_is_the_rate_of_the_basis() -> None:
    subtotal = TaxSubtotal(category="S", rate=D("25.00"), basis=D("424.00"), tax_amount=D("100.00"))
    document = replace(
        swedish_invoice(),
        tax_subtotals=(subtotal,),
        tax_total=D("100.00"),
        grand_total=D("524.00"),
        due_payable=D("474.00"),
    )
    refused(document, "tax_subtotals[0].tax_amount", "BR-CO-17: 25.00 % of 424.00 is 106.00")


def test_br_s_08_subtotal_basis_is_the_sum_of_its_lines() -> None:
    subtotal = TaxSubtotal(category="S", rate=D("25.00"), basis=D("400.00"), tax_amount=D("100.00"))
    document = replace(swedish_invoice(), tax_subtotals=(subtotal,))
    refused(document, "tax_subtotals[0].basis", "BR-S-08")


def test_br_co_18_every_category_and_rate_of_the_lines_has_a_subtotal() -> None:
    refused(replace(swedish_invoice(), tax_subtotals=()), "tax_subtotals", "BR-CO-18")


def test_br_ae_02_reverse_charge_needs_the_buyers_vat_id() -> None:
    buyer = replace(GERMAN_BUYER, tax_id=None)
    refused(replace(german_invoice(), buyer=buyer), "buyer.tax_id", "BR-AE-02")


def test_br_ae_02_a_tax_id_without_country_prefix_is_no_vat_id() -> None:
    buyer = replace(GERMAN_BUYER, tax_id="136695976")
    refused(replace(german_invoice(), buyer=buyer), "buyer.tax_id", "BR-AE-02")


def test_br_ae_02_reverse_charge_needs_the_sellers_vat_id() -> None:
    seller = replace(SELLER, tax_id=None)
    refused(replace(german_invoice(), seller=seller), "seller.tax_id", "BR-AE-02")


def test_br_s_02_standard_rate_needs_the_sellers_tax_id() -> None:
    seller = replace(SELLER, tax_id=None)
    refused(replace(swedish_invoice(), seller=seller), "seller.tax_id", "BR-S-02")


def test_br_o_no_seller_vat_id_required_outside_the_scope_of_vat() -> None:
    seller = replace(SELLER, tax_id=None)
    root = parse(facturx_xml(replace(us_invoice(), seller=seller)))

    assert text(root, SELLER_TAX) == []


def test_br_ae_10_reverse_charge_needs_an_exemption_reason() -> None:
    subtotal = replace(german_invoice().tax_subtotals[0], exemption_reason=None)
    document = replace(german_invoice(), tax_subtotals=(subtotal,))
    refused(document, "tax_subtotals[0].exemption_reason", "BR-AE-10")


def test_br_s_10_standard_rate_has_no_exemption_reason() -> None:
    subtotal = replace(swedish_invoice().tax_subtotals[0], exemption_reason="Reverse charge")
    document = replace(swedish_invoice(), tax_subtotals=(subtotal,))
    refused(document, "tax_subtotals[0].exemption_reason", "BR-S-10")


def test_br_ae_05_reverse_charge_line_has_rate_0() -> None:
    document = replace(german_invoice(), lines=lines("AE", "25.00"))
    refused(document, "lines[0].tax_rate", "BR-AE-05")


def test_br_o_05_line_outside_vat_has_rate_0() -> None:
    refused(replace(us_invoice(), lines=lines("O", "25.00")), "lines[0].tax_rate", "BR-O-05")


def test_br_s_05_standard_rated_line_has_a_rate() -> None:
    refused(replace(swedish_invoice(), lines=lines("S", "0")), "lines[0].tax_rate", "BR-S-05")


def test_br_ae_09_reverse_charge_tax_is_zero() -> None:
    subtotal = replace(german_invoice().tax_subtotals[0], tax_amount=D("106.00"))
    document = replace(
        german_invoice(),
        tax_subtotals=(subtotal,),
        tax_total=D("106.00"),
        grand_total=D("530.00"),
        due_payable=D("530.00"),
    )
    refused(document, "tax_subtotals[0].tax_amount", "BR-AE-09")


def test_br_o_12_outside_vat_lines_are_not_mixed_with_others() -> None:
    mixed = (lines("O", "0")[0], lines("S", "25.00")[1])
    refused(replace(us_invoice(), lines=mixed), "lines", "BR-O-12")


def test_br_27_net_price_is_never_negative() -> None:
    line = replace(swedish_invoice().lines[1], unit_price=D("-8.00"), net_amount=D("-24.00"))
    document = replace(swedish_invoice(), lines=(swedish_invoice().lines[0], line))
    refused(document, "lines[1].unit_price", "BR-27")


def test_br_dec_amounts_have_at_most_two_decimals() -> None:
    line = replace(swedish_invoice().lines[1], net_amount=D("24.004"))
    document = replace(swedish_invoice(), lines=(swedish_invoice().lines[0], line))
    refused(document, "lines[1].net_amount", "BR-DEC")


def test_br_co_25_amount_due_needs_a_due_date_or_payment_terms() -> None:
    document = replace(swedish_invoice(), due_date=None, payment_terms=None)
    refused(document, "due_date", "BR-CO-25")


def test_br_16_a_document_has_lines() -> None:
    refused(replace(swedish_invoice(), lines=()), "lines", "BR-16")


def test_br_30_a_line_period_ends_after_it_starts() -> None:
    line = replace(swedish_invoice().lines[0], period_end=date(2026, 10, 31))
    document = replace(swedish_invoice(), lines=(line, swedish_invoice().lines[1]))
    refused(document, "lines[0].period_end", "BR-30")


def test_credit_note_names_the_invoice_it_corrects() -> None:
    document = replace(credit_note(), preceding_invoice_number=None)
    refused(document, "preceding_invoice_number", "BT-25")


def test_country_is_an_upper_case_alpha_2_code() -> None:
    buyer = replace(SWEDISH_BUYER, country="se")
    refused(replace(swedish_invoice(), buyer=buyer), "buyer.country", "ISO 3166-1")


def test_currency_is_an_upper_case_iso_4217_code() -> None:
    refused(replace(swedish_invoice(), currency="eur"), "currency", "ISO 4217")


# --- the PDF ------------------------------------------------------------------------------


def invoice_pdf(created: datetime) -> bytes:
    """A one-page PDF made with fpdf2, dated like the portal's: its issue instant."""
    pdf = FPDF()
    pdf.set_creation_date(created)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.cell(0, 10, "Lead Data Nordic AB - Invoice INV-000101")
    return bytes(pdf.output())


ISSUED = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def at(obj: Any, *keys: str) -> Any:
    """The PDF object below `obj` at the dictionary keys `keys`, references resolved."""
    for key in keys:
        obj = obj.get_object()[key]
    return obj.get_object()


def filespec(reader: PdfReader) -> Any:
    """The file specification of the one attached file."""
    return at(reader.trailer, "/Root", "/Names", "/EmbeddedFiles", "/Names")[1].get_object()


def test_facturx_pdf_attaches_factur_x_xml_equal_to_facturx_xml() -> None:
    document = swedish_invoice()
    reader = PdfReader(io.BytesIO(facturx_pdf(invoice_pdf(ISSUED), document)))

    assert len(reader.pages) == 1
    assert "INV-000101" in reader.pages[0].extract_text()
    assert list(reader.attachments) == ["factur-x.xml"]
    assert reader.attachments["factur-x.xml"] == [facturx_xml(document)]
    # Factur-X: the attachment is the invoice's alternative form, declared at root level.
    spec = filespec(reader)
    assert spec["/AFRelationship"] == "/Alternative"
    assert [item.get_object() for item in at(reader.trailer, "/Root", "/AF")] == [spec]
    assert at(spec, "/EF", "/F", "/Subtype") == "/text/xml"
    xmp = at(reader.trailer, "/Root", "/Metadata").get_data()
    assert b"<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in xmp
    assert b"<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>" in xmp
    assert reader.pdf_header == "%PDF-1.7"
    assert reader.metadata is not None
    assert reader.metadata.title == "Lead Data Nordic AB: Invoice INV-000101"


class _Clock(datetime):
    """A clock for drafthorse.pdf that moves a day at each reading."""

    readings = 0

    @classmethod
    def now(cls, tz: object = None) -> _Clock:
        cls.readings += 1
        return cls(2030, 1, cls.readings % 28 + 1, tzinfo=UTC)


def test_facturx_pdf_is_deterministic_whatever_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drafthorse.pdf, "datetime", _Clock)
    source = invoice_pdf(ISSUED)

    first = facturx_pdf(source, swedish_invoice())
    second = facturx_pdf(source, swedish_invoice())

    assert _Clock.readings >= 6  # drafthorse did read the clock, three times a PDF
    assert first == second
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata is not None
    assert str(reader.metadata["/CreationDate"]) == "D:20261201093000Z"
    assert str(reader.metadata["/ModDate"]) == "D:20261201093000Z"
    assert reader.xmp_metadata is not None
    assert reader.xmp_metadata.xmp_create_date == datetime(2026, 12, 1, 9, 30)
    assert reader.xmp_metadata.xmp_modify_date == datetime(2026, 12, 1, 9, 30)
    params = at(filespec(reader), "/EF", "/F", "/Params")
    assert params["/CreationDate"] == params["/ModDate"] == "D:20261201093000Z"
    # The file identifier is the input PDF's (drafthorse copies it).
    assert reader.trailer["/ID"] == PdfReader(io.BytesIO(source)).trailer["/ID"]


def test_facturx_pdf_without_a_creation_date_is_dated_on_the_issue_date() -> None:
    blank = PdfWriter()
    blank.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    blank.write(out)

    reader = PdfReader(io.BytesIO(facturx_pdf(out.getvalue(), german_invoice())))

    assert reader.metadata is not None
    assert str(reader.metadata["/CreationDate"]) == "D:20261201000000Z"
    assert reader.attachments["factur-x.xml"] == [facturx_xml(german_invoice())]


def test_facturx_pdf_refuses_an_invalid_document_before_touching_the_pdf() -> None:
    document = replace(german_invoice(), buyer=replace(GERMAN_BUYER, tax_id=None))
    with pytest.raises(ValueError, match="BR-AE-02"):
        facturx_pdf(b"not a pdf", document)
