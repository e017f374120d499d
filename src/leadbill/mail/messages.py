"""The messages leadbill sends, rendered from Jinja2 templates when they are sent.

Each kind has a plain-text and an HTML template (`templates/<kind>.txt` and
`.html`, the HTML autoescaped); a document's message attaches its PDF, made by
`leadbill.documents` exactly as the portal serves it, and a notification (review
decided, usage alert, receipt: `leadbill.notifications`) attaches nothing. A
password link's message (invitation, reset) carries a one-time link whose token
is made only when the worker sends it (`issue=True`); shown before that, or kept
after, the link reads as `HIDDEN_LINK`, so neither the outbox nor its log holds a
token. Dates are in the
account's time zone and amounts in `format_money`. Undefined names in a
template are errors (StrictUndefined), which the worker records as a failed
attempt: a template error never loses the message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account, BillingDetails
from leadbill.billing.models import Invoice
from leadbill.billing.payments import balance_due
from leadbill.credit_notes.service import get_credit_note
from leadbill.documents import pdf
from leadbill.documents.files import invoice_file
from leadbill.documents.formats import local, money
from leadbill.dunning.models import DunningReminder
from leadbill.entities.models import BillingEntity
from leadbill.mail.addresses import is_address
from leadbill.mail.models import MailMessage
from leadbill.mail.service import CREDIT_NOTE_ISSUED, INVOICE_ISSUED, INVOICE_REMINDER, LINK_KINDS
from leadbill.notifications.messages import KINDS as NOTIFICATION_KINDS
from leadbill.notifications.messages import context_of as notification_context
from leadbill.password_links import service as links
from leadbill.portal.models import User
from leadbill.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
# What a password link reads as wherever the message is shown or kept, not sent.
HIDDEN_LINK = "[one-time link, made when the message is sent and not kept]"


class RenderError(Exception):
    """A message could not be made (a template error, a missing From address)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a message."""

    name: str
    content: bytes
    mime_type: str = "application/pdf"


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as it is sent: envelope, headers, both parts and attachments."""

    sender: str
    recipient: str
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    message_id: str
    # The one-time link in the parts, hidden in what is kept (`kept`).
    secret: str | None = None
    # The billing entity that sends it (its own SMTP server, if it has one).
    entity_id: int | None = None

    def kept(self) -> Rendered:
        """The message as the outbox keeps it once sent: a one-time link hidden."""
        if not self.secret:
            return self
        return replace(
            self,
            text=self.text.replace(self.secret, HIDDEN_LINK),
            html=self.html.replace(self.secret, HIDDEN_LINK),
            secret=None,
        )

    def email(self, at: datetime) -> EmailMessage:
        """The MIME message: text and HTML alternatives, then the attachments."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = self.recipient
        message["Subject"] = self.subject
        message["Message-ID"] = self.message_id
        message["Date"] = format_datetime(at)
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        for attachment in self.attachments:
            main, _, sub = attachment.mime_type.partition("/")
            message.add_attachment(
                attachment.content, maintype=main, subtype=sub, filename=attachment.name
            )
        return message


def environment(directory: Path = TEMPLATES) -> Environment:
    """The templates' environment: HTML autoescaped, undefined names are errors."""
    return Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@dataclass(frozen=True, slots=True)
class Origin:
    """Who sends a message: its From address and the billing entity whose server sends it."""

    sender: str
    entity_id: int | None


def _origin(
    session: Session, settings: Settings, issuer: dict[str, Any] | None, entity_id: int | None
) -> Origin:
    """The entity's own From address, else LEADBILL_MAIL_FROM, else the issuer's e-mail.

    `entity_id` None: the default entity (a message to a staff user, or from before
    billing entities).
    """
    entity = session.get(BillingEntity, entity_id) if entity_id is not None else None
    if entity is None:
        entity = session.scalar(select(BillingEntity).where(BillingEntity.is_default.is_(True)))
    found = entity.id if entity is not None else None
    if entity is not None and entity.mail_from:
        return Origin(entity.mail_from, found)
    if settings.mail_from:
        return Origin(settings.mail_from, found)
    email = (issuer or {}).get("email") or (entity.email if entity is not None else None)
    if not email or not is_address(email):
        raise RenderError("no From address: set LEADBILL_MAIL_FROM or the billing entity's e-mail")
    return Origin(str(email), found)


def _account_entity(session: Session, account_id: int | None) -> int | None:
    if account_id is None:
        return None
    return session.scalar(
        select(BillingDetails.billing_entity_id).where(BillingDetails.account_id == account_id)
    )


def _invoice_issued(
    session: Session, message: MailMessage, settings: Settings
) -> tuple[dict[str, Any], tuple[Attachment, ...], Origin]:
    invoice = session.get_one(Invoice, message.invoice_id)
    account = session.get_one(Account, invoice.account_id)
    number = invoice.number or str(invoice.id)
    content, name = invoice_file(session, number, account.id, seller=settings.operator_name)
    tz = account.time_zone
    context = {
        "account": account,
        "issuer": (invoice.issuer or {}).get("legal_name") or settings.operator_name,
        "number": number,
        "total": money(invoice.total, invoice.currency),
        "issued_on": local(invoice.issued_at, tz, "%Y-%m-%d"),
        "due_on": invoice.due_on.isoformat() if invoice.due_on else None,
        "paid": invoice.status == "paid",
        "link": f"{settings.portal_url}/portal/invoices/{number}",
        "pdf_link": f"{settings.portal_url}/portal/invoices/{number}/pdf",
        "time_zone": tz,
    }
    sender = _origin(session, settings, invoice.issuer, invoice.billing_entity_id)
    return context, (Attachment(name, content),), sender


def _credit_note_issued(
    session: Session, message: MailMessage, settings: Settings
) -> tuple[dict[str, Any], tuple[Attachment, ...], Origin]:
    view = get_credit_note(session, str(message.credit_note_id))
    note = view.note
    account = session.get_one(Account, note.account_id)
    content = pdf.credit_note_pdf(view, account, seller=settings.operator_name)
    tz = account.time_zone
    context = {
        "account": account,
        "issuer": (note.issuer or {}).get("legal_name") or settings.operator_name,
        "number": note.number,
        "invoice_number": view.invoice_number,
        "total": money(note.total, note.currency),
        "issued_on": local(note.issued_at, tz, "%Y-%m-%d"),
        "reason": note.reason,
        "subject": view.subject,
        "link": f"{settings.portal_url}/portal/invoices/{view.invoice_number}",
        "pdf_link": f"{settings.portal_url}/portal/credit-notes/{note.number}/pdf",
        "time_zone": tz,
    }
    sender = _origin(session, settings, note.issuer, note.billing_entity_id)
    return context, (Attachment(f"{note.number}.pdf", content),), sender


def _notification(
    session: Session, message: MailMessage, settings: Settings
) -> tuple[dict[str, Any], tuple[Attachment, ...], Origin]:
    found = notification_context(session, message, settings)
    entity_id = found.entity_id or _account_entity(session, message.account_id)
    return found.names, (), _origin(session, settings, found.issuer, entity_id)


def _invoice_reminder(
    session: Session, message: MailMessage, settings: Settings
) -> tuple[dict[str, Any], tuple[Attachment, ...], Origin]:
    reminder = session.get_one(DunningReminder, message.reminder_id)
    invoice = session.get_one(Invoice, reminder.invoice_id)
    account = session.get_one(Account, invoice.account_id)
    number = invoice.number or str(invoice.id)
    content, name = invoice_file(session, number, account.id, seller=settings.operator_name)
    context = {
        "account": account,
        "issuer": (invoice.issuer or {}).get("legal_name") or settings.operator_name,
        "number": number,
        "total": money(invoice.total, invoice.currency),
        "amount_due": money(balance_due(session, invoice), invoice.currency),
        "issued_on": local(invoice.issued_at, account.time_zone, "%Y-%m-%d"),
        "due_on": reminder.due_on.isoformat(),
        "days_overdue": reminder.days_overdue,
        "step": reminder.step,
        "link": f"{settings.portal_url}/portal/invoices/{number}",
        "time_zone": account.time_zone,
    }
    sender = _origin(session, settings, invoice.issuer, invoice.billing_entity_id)
    return context, (Attachment(name, content),), sender


_BUILDERS = {
    INVOICE_ISSUED: _invoice_issued,
    CREDIT_NOTE_ISSUED: _credit_note_issued,
    **dict.fromkeys(NOTIFICATION_KINDS, _notification),
    INVOICE_REMINDER: _invoice_reminder,
}


def _password_link(
    session: Session, message: MailMessage, settings: Settings, as_of: datetime, issue: bool
) -> tuple[dict[str, Any], str | None, Origin]:
    link = links.link_of(session, message.id)
    if link is None:
        raise RenderError(f"mail message {message.id} has no password link")
    # A staff user (no account) reads its times in UTC.
    account = session.get(Account, message.account_id) if message.account_id else None
    user = session.get_one(User, link.user_id)
    tz = account.time_zone if account is not None else "UTC"
    secret: str | None = None
    expires = None
    url = HIDDEN_LINK
    if issue:
        issued = links.issue_token(session, message, as_of=as_of, settings=settings)
        url = secret = f"{settings.portal_url}/portal/password/{issued.token}"
        expires = local(issued.expires_at, tz, "%Y-%m-%d %H:%M")
    valid_for = links.lifetime(link.purpose, settings)
    minutes = int(valid_for.total_seconds() // 60)
    context = {
        "account": account,
        "email": user.email,
        "operator": settings.operator_name,
        "link": url,
        "sign_in_link": f"{settings.portal_url}/portal/sign-in",
        "valid_for": f"{minutes // 1440} days" if minutes % 1440 == 0 else f"{minutes} minutes",
        "expires": expires,
        "time_zone": tz,
    }
    return (
        context,
        secret,
        _origin(session, settings, None, _account_entity(session, message.account_id)),
    )


def render(
    session: Session,
    message: MailMessage,
    settings: Settings,
    templates: Environment | None = None,
    *,
    issue: bool = False,
    as_of: datetime | None = None,
) -> Rendered:
    """Make the message from its document and templates; RenderError says why it cannot be.

    `issue` (the worker, about to send) makes a password link's token at `as_of`, in
    the session, which the caller commits before sending.
    """
    templates = templates or environment()
    secret: str | None = None
    try:
        if message.kind in LINK_KINDS:
            at = as_of or datetime.now(UTC)
            context, secret, sender = _password_link(session, message, settings, at, issue)
            attachments: tuple[Attachment, ...] = ()
        else:
            context, attachments, sender = _BUILDERS[message.kind](session, message, settings)
        name = message.kind.replace(".", "_")
        subject = templates.get_template(f"{name}.subject.txt").render(context).strip()
        text = templates.get_template(f"{name}.txt").render(context)
        html = templates.get_template(f"{name}.html").render(context)
    except RenderError:
        raise
    except Exception as error:  # a template or document error is recorded, never raised on
        raise RenderError(f"{type(error).__name__}: {error}") from error
    return Rendered(
        sender=sender.sender,
        recipient=message.recipient,
        subject=" ".join(subject.split())[:300],
        text=text,
        html=html,
        attachments=attachments,
        message_id=message.message_id,
        secret=secret,
        entity_id=sender.entity_id,
    )
