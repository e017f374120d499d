"""Factur-X / ZUGFeRD, profile EN 16931: the CII XML of a document, and a PDF carrying it.

The XML is built with drafthorse's models and always validated against the
Factur-X 1.0.07 EN 16931 XSD shipped with drafthorse (lxml is a hard dependency
here: without it drafthorse would silently skip the validation). Before any of
that the document is checked against the EN 16931 business rules the XSD cannot
see (`einvoice.rules`).

The same document gives the same XML bytes, and the same document and input PDF
give the same PDF bytes: drafthorse stamps the PDF with the current time, so the
dates it writes are replaced by the input PDF's creation date (the issue instant
for the portal's PDFs) or, when it has none, by the issue date at midnight UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from io import BytesIO

from drafthorse.models.accounting import ApplicableTradeTax
from drafthorse.models.document import Document
from drafthorse.models.note import IncludedNote
from drafthorse.models.party import TaxRegistration, TradeParty
from drafthorse.models.payment import PaymentMeans, PaymentTerms
from drafthorse.models.tradelines import LineItem
from drafthorse.pdf import attach_xml
from lxml import etree
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    PdfObject,
    StreamObject,
    create_string_object,
)

from leadbill.einvoice import rules
from leadbill.einvoice.document import (
    CreditTransfer,
    DocumentLine,
    EInvoice,
    Party,
    TaxSubtotal,
)

SCHEMA = "FACTUR-X_EN16931"
LEVEL = "EN 16931"
GUIDELINE = "urn:cen.eu:en16931:2017"
TYPE_CODES = {"invoice": "380", "credit_note": "381"}
UNIT = "C62"  # UN/ECE Recommendation 20: "one", a unit count
# VATEX codes where one code says it all; "E" has many, so its reason stays text only.
EXEMPTION_CODES = {"AE": "VATEX-EU-AE", "O": "VATEX-EU-O"}


def facturx_xml(document: EInvoice) -> bytes:
    """The document's Cross Industry Invoice XML, checked and validated against the XSD."""
    rules.check(document)
    cii = Document()
    cii.context.guideline_parameter.id = GUIDELINE
    cii.header.id = document.number
    cii.header.type_code = TYPE_CODES[document.kind]
    cii.header.issue_date_time = document.issue_date
    for text in document.notes:
        cii.header.notes.add(IncludedNote(content=text))

    # BR-O-02: a document outside the scope of VAT carries no VAT id of either party.
    with_vat_ids = not rules.not_subject_to_vat(document)
    agreement = cii.trade.agreement
    if document.buyer_reference:
        agreement.buyer_reference = document.buyer_reference
    _party(agreement.seller, document.seller, with_vat_ids)
    _party(agreement.buyer, document.buyer, with_vat_ids)

    for line in document.lines:
        cii.trade.items.add(_line(line))

    settlement = cii.trade.settlement
    if document.payment_reference:
        settlement.payment_reference = document.payment_reference
    settlement.currency_code = document.currency
    if document.credit_transfer is not None:
        settlement.payment_means.add(_payment_means(document.credit_transfer))
    for subtotal in document.tax_subtotals:
        settlement.trade_tax.add(_subtotal(subtotal))
    if document.due_date or document.payment_terms:
        terms = PaymentTerms()
        if document.payment_terms:
            terms.description = document.payment_terms
        if document.due_date:
            terms.due = document.due_date
        settlement.terms.add(terms)
    totals = settlement.monetary_summation
    totals.line_total = _amount(document.line_total)
    totals.tax_basis_total = (_amount(document.tax_basis_total), None)
    # BT-110 is the one total that names its currency (it could be BT-111's, in another).
    totals.tax_total = (_amount(document.tax_total), document.currency)
    totals.grand_total = (_amount(document.grand_total), None)
    totals.prepaid_total = _amount(document.prepaid_amount)
    totals.due_amount = _amount(document.due_payable)
    if document.preceding_invoice_number:
        settlement.invoice_referenced_document.issuer_assigned_id = (
            document.preceding_invoice_number
        )

    try:
        xml: bytes = cii.serialize(schema=SCHEMA)
    except etree.XMLSyntaxError as error:
        raise ValueError(f"the Factur-X XML of {document.number} is not valid: {error}") from error
    return xml


def facturx_pdf(pdf: bytes, document: EInvoice) -> bytes:
    """The PDF with the document's XML attached as factur-x.xml and Factur-X metadata."""
    xml = facturx_xml(document)
    kind = "Credit note" if document.kind == "credit_note" else "Invoice"
    seller = document.seller.legal_name
    metadata = {
        "author": seller,
        "keywords": "Factur-X, EN 16931",
        "title": f"{seller}: {kind} {document.number}",
        "subject": f"Factur-X {kind.lower()} {document.number} dated {document.issue_date}",
        "creator": "leadbill",
        "producer": "pypdf",
    }
    attached = attach_xml(pdf, xml, level=LEVEL, metadata=metadata)
    return _with_dates(attached, _created_at(pdf, document.issue_date))


def _party(target: TradeParty, party: Party, with_vat_id: bool) -> None:
    target.name = party.legal_name
    address = target.address
    address.postcode = party.postal_code
    address.line_one = party.address_line1
    if party.address_line2:
        address.line_two = party.address_line2
    address.city_name = party.city
    address.country_id = party.country
    if party.region:
        address.country_subdivision = party.region
    if party.email:
        # BT-34/BT-49, scheme "EM": the electronic address is an e-mail address.
        target.electronic_address.uri_ID = ("EM", party.email)
    if party.tax_id:
        scheme = rules.tax_scheme(party.tax_id)
        if scheme == "FC" or with_vat_id:
            target.tax_registrations.add(TaxRegistration(id=(scheme, party.tax_id)))


def _payment_means(transfer: CreditTransfer) -> PaymentMeans:
    means = PaymentMeans()
    means.type_code = transfer.means_code
    if transfer.information:
        means.information.add(transfer.information)
    if transfer.iban:
        means.payee_account.iban = transfer.iban
    if transfer.account_name:
        means.payee_account.account_name = transfer.account_name
    if transfer.account_id and not transfer.iban:
        means.payee_account.proprietary_id = transfer.account_id
    if transfer.bic:
        means.payee_institution.bic = transfer.bic
    return means


def _line(line: DocumentLine) -> LineItem:
    item = LineItem()
    item.document.line_id = str(line.position)
    item.product.name = line.description
    item.agreement.net.amount = _decimal(line.unit_price)
    item.delivery.billed_quantity = (line.quantity, UNIT)
    tax = item.settlement.trade_tax
    tax.type_code = "VAT"
    tax.category_code = line.tax_category
    if line.tax_category != "O":  # BR-O-05: no rate outside the scope of VAT
        tax.rate_applicable_percent = _decimal(line.tax_rate)
    if line.period_start:
        item.settlement.period.start = line.period_start
    if line.period_end:
        item.settlement.period.end = line.period_end
    item.settlement.monetary_summation.total_amount = _amount(line.net_amount)
    return item


def _subtotal(subtotal: TaxSubtotal) -> ApplicableTradeTax:
    tax = ApplicableTradeTax()
    tax.calculated_amount = _amount(subtotal.tax_amount)
    tax.type_code = "VAT"
    if subtotal.exemption_reason:
        tax.exemption_reason = subtotal.exemption_reason
    tax.basis_amount = _amount(subtotal.basis)
    tax.category_code = subtotal.category
    if subtotal.category in EXEMPTION_CODES:
        tax.exemption_reason_code = EXEMPTION_CODES[subtotal.category]
    if subtotal.category != "O":  # BR-48: every breakdown has a rate, except outside VAT
        tax.rate_applicable_percent = _decimal(subtotal.rate)
    return tax


def _amount(value: Decimal) -> str:
    """Two decimals in plain notation ("424.00"); `rules.check` has refused any third."""
    return f"{value.quantize(rules.CENT):f}"


def _decimal(value: Decimal) -> str:
    """Plain notation, never an exponent (str(Decimal("1E+2")) is "1E+2", not XSD decimal)."""
    return f"{value:f}"


def _created_at(pdf: bytes, issue_date: date) -> datetime:
    """The input PDF's creation date, or the issue date at midnight UTC when it has none."""
    info = PdfReader(BytesIO(pdf)).metadata
    created = info.creation_date if info is not None else None
    if created is None:
        return datetime.combine(issue_date, time(), tzinfo=UTC)
    return created.astimezone(UTC) if created.tzinfo else created.replace(tzinfo=UTC)


_XMP_DATES = re.compile(rb"<xmp:(CreateDate|ModifyDate)>[^<]*</xmp:\1>")


def _with_dates(pdf: bytes, at: datetime) -> bytes:
    """The PDF with every date drafthorse took from the clock replaced by `at`.

    drafthorse writes the current time three times: in the document information,
    in the XMP metadata and in the attached file's parameters. PDF/A wants the
    first two to agree, so all get the same instant.
    """
    pdf_date = create_string_object(at.strftime("D:%Y%m%d%H%M%SZ"))
    xmp_date = at.strftime("%Y-%m-%dT%H:%M:%S+00:00").encode()
    writer = PdfWriter(clone_from=PdfReader(BytesIO(pdf)))
    # drafthorse asks for a 1.6 header, which pypdf replaces by its own 1.3; PDF/A-3 is
    # based on PDF 1.7, the version that has associated files (/AF).
    writer.pdf_header = b"%PDF-1.7"
    writer.add_metadata({"/CreationDate": pdf_date, "/ModDate": pdf_date})

    xmp = _resolve(writer.root_object, "/Metadata")
    if not isinstance(xmp, StreamObject):
        raise RuntimeError("drafthorse's PDF has no XMP metadata stream")
    data, count = _XMP_DATES.subn(
        lambda match: b"<xmp:%s>%s</xmp:%s>" % (match[1], xmp_date, match[1]), xmp.get_data()
    )
    if count != 2:
        raise RuntimeError("drafthorse's XMP metadata has no CreateDate and ModifyDate")
    xmp.set_data(data)

    # The name tree's array alternates names and file specifications.
    names = _resolve(writer.root_object, "/Names", "/EmbeddedFiles", "/Names")
    if not isinstance(names, ArrayObject):
        raise RuntimeError("drafthorse's PDF has no embedded file names")
    for filespec in names[1::2]:
        params = _resolve(filespec, "/EF", "/F", "/Params")
        if not isinstance(params, DictionaryObject):
            raise RuntimeError("drafthorse's attached file has no parameters")
        params[NameObject("/CreationDate")] = pdf_date
        params[NameObject("/ModDate")] = pdf_date

    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _resolve(obj: PdfObject, *keys: str) -> PdfObject:
    """The object below `obj` at the dictionary keys `keys`, through indirect references."""
    for key in keys:
        parent = obj.get_object()
        if not isinstance(parent, DictionaryObject) or key not in parent:
            raise RuntimeError(f"drafthorse's PDF has no {key} where expected")
        obj = parent[key]
    resolved = obj.get_object()
    if resolved is None:
        raise RuntimeError(f"drafthorse's PDF has nothing at {' '.join(keys)}")
    return resolved
