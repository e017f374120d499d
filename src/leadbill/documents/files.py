"""The files of an invoice a customer downloads: its PDF, or the PDF with its Factur-X XML.

The API and the portal serve the same bytes: `invoice_file` is the one place
that makes them. A Factur-X file (EN 16931 profile) is the invoice's PDF with
the Cross Industry Invoice XML of `einvoice.invoices.einvoice_of` embedded as
`factur-x.xml`; an invoice finalized without an issuer has none (a Conflict).
"""

from __future__ import annotations

import enum

from sqlalchemy.orm import Session

from leadbill.documents.invoice import invoice_document
from leadbill.documents.pdf import invoice_pdf
from leadbill.einvoice.facturx import facturx_pdf
from leadbill.einvoice.invoices import einvoice_of


class InvoiceFormat(enum.StrEnum):
    """The formats an invoice downloads in."""

    PDF = "pdf"
    FACTURX = "facturx"


def invoice_file(
    session: Session,
    number: str,
    account_id: int | None,
    *,
    seller: str,
    file_format: InvoiceFormat = InvoiceFormat.PDF,
) -> tuple[bytes, str]:
    """The file's bytes and name; `account_id` limits it to one account (else NotFound)."""
    document = invoice_document(session, number, account_id)
    content = invoice_pdf(document, seller=seller)
    name = f"{document.invoice.number}.pdf"
    if file_format is InvoiceFormat.FACTURX:
        content = facturx_pdf(content, einvoice_of(session, document.invoice))
        name = f"{document.invoice.number}-facturx.pdf"
    return content, name
