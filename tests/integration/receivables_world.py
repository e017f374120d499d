"""Invoices of two billing entities and four accounts at different ages, at AS_OF.

Shared by the receivables tests of the services, the API and the portal. At AS_OF
(2026-07-01 03:00 UTC) it is still June 30 in New York, and already July 1 in UTC
and Stockholm: each account's days past due count from its own local date.

entity  account (zone, terms)   invoice issued (UTC)  due    total    paid    at AS_OF
us      acme (New York, 15)     A1      06-20 12:00   07-05  100.00           current
                                A2      06-01 12:00   06-16  500.00   200.00  14 days: 1-30
                                A3      06-15 03:00   06-29  50.00            1 day: 1-30
                                A4      06-15 12:00   06-30  40.00            due: current
                                A5      05-01 12:00   05-16  80.00    80.00   paid
        bolt (UTC, 30)          B1      04-01 00:00   05-01  1200.00          61 days: 61-90
                                B2      03-02 00:00   04-01  999.99   0.99    91 days: over 90
                                B3      02-01 00:00   03-03  700.00           uncollectible
                                B4      05-02 00:00   06-01  10.01            30 days: 1-30
nordic  fjord (Stockholm, 30)   F1      05-01 00:00   05-31  400.00 €         31 days: 31-60
                                F2      05-31 22:30   07-01  250.00 €         due: current
                                F3      05-01 00:00   05-31  90.00 €          void
        lumen (UTC, USD, 30)    L1      03-31 00:00   04-30  75.50            62 days: 61-90
                                L2      05-01 00:00   05-31  60.00    25.50*  31 days: 31-60
                                L3      07-02 00:00   08-01  33.00            not issued yet

* received on July 2, after AS_OF: the report at AS_OF does not count it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.billing_details import DetailsChange, set_details
from leadbill.accounts.service import create_account
from leadbill.auth.service import Role, create_key
from leadbill.billing.invoices import issue_invoice, void_invoice
from leadbill.billing.payments import record_payment
from leadbill.core.money import Money
from leadbill.core.rating import Line, LineKind
from leadbill.entities.service import EntityFields, create_entity
from leadbill.portal.users import create_user
from leadbill.receivables.service import mark_uncollectible
from tests.conftest import utc

START = utc(2026, 1, 1)
AS_OF = utc(2026, 7, 1, 3)
PASSWORD = "correct horse battery"
UNCOLLECTIBLE_REASON = "Customer went out of business; the liquidator confirmed no payout."
US = EntityFields(
    legal_name="Leadbill Demo Inc.",
    address_line1="1 Main St",
    city="Denver",
    country="US",
)
NORDIC = EntityFields(
    legal_name="Lead Data Nordic AB",
    address_line1="Sveavägen 44",
    city="Stockholm",
    country="SE",
    invoice_prefix="SE-",
    credit_note_prefix="SECN-",
    payment_terms_days=30,
    default_currency="EUR",
)
# account: currency, time zone, entity, own payment terms (None: the entity's)
ACCOUNTS = {
    "acme": ("USD", "America/New_York", "us", None),
    "bolt": ("USD", "UTC", "us", 30),
    "fjord": ("EUR", "Europe/Stockholm", "nordic", None),
    "lumen": ("USD", "UTC", "nordic", None),
}
# name: account, issued at, total
INVOICES = {
    "A1": ("acme", utc(2026, 6, 20, 12), "100.00"),
    "A2": ("acme", utc(2026, 6, 1, 12), "500.00"),
    "A3": ("acme", utc(2026, 6, 15, 3), "50.00"),
    "A4": ("acme", utc(2026, 6, 15, 12), "40.00"),
    "A5": ("acme", utc(2026, 5, 1, 12), "80.00"),
    "B1": ("bolt", utc(2026, 4, 1), "1200.00"),
    "B2": ("bolt", utc(2026, 3, 2), "999.99"),
    "B3": ("bolt", utc(2026, 2, 1), "700.00"),
    "B4": ("bolt", utc(2026, 5, 2), "10.01"),
    "F1": ("fjord", utc(2026, 5, 1), "400.00"),
    "F2": ("fjord", utc(2026, 5, 31, 22, 30), "250.00"),
    "F3": ("fjord", utc(2026, 5, 1), "90.00"),
    "L1": ("lumen", utc(2026, 3, 31), "75.50"),
    "L2": ("lumen", utc(2026, 5, 1), "60.00"),
    "L3": ("lumen", utc(2026, 7, 2), "33.00"),
}
# name: amount, received at
PAYMENTS = {
    "A2": ("200.00", utc(2026, 6, 10)),
    "A5": ("80.00", utc(2026, 5, 10)),
    "B2": ("0.99", utc(2026, 4, 15)),
    "L2": ("25.50", utc(2026, 7, 2)),
}
USERS = {
    "billing": "bill@operator.test",
    "viewer": "vic@operator.test",
    "reviewer": "rosa@operator.test",
    "admin": "ada@operator.test",
    "acme": "ana@acme.test",
    "bolt": "bo@bolt.test",
}


@dataclass(frozen=True)
class ReceivablesWorld:
    """The invoice numbers by name (A1 ... L3) and one API key per role (customer: acme)."""

    numbers: dict[str, str]
    keys: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        """The Authorization header of the key with this role."""
        return {"Authorization": f"Bearer {self.keys[role]}"}


def _line(currency: str, total: str, issued_at: datetime) -> Line:
    amount = Money(Decimal(total), currency)
    return Line(LineKind.PLAN_FEE, f"Package {issued_at:%B}", 1, amount, amount)


def _invoices(session: Session, accounts: dict[str, int]) -> dict[str, str]:
    numbers = {}
    for name, (code, issued_at, total) in INVOICES.items():
        currency = ACCOUNTS[code][0]
        invoice = issue_invoice(
            session,
            account_id=accounts[code],
            currency=currency,
            lines=[_line(currency, total, issued_at)],
            issued_at=issued_at,
            kind="period",
        )
        assert invoice.number is not None
        numbers[name] = invoice.number
        if name in PAYMENTS:
            amount, received_at = PAYMENTS[name]
            record_payment(
                session,
                invoice=invoice,
                amount=amount,
                currency=currency,
                reference=f"pay-{name}",
                received_at=received_at,
            )
        if name == "B3":
            mark_uncollectible(session, invoice, UNCOLLECTIBLE_REASON, utc(2026, 6, 20))
        if name == "F3":
            void_invoice(session, invoice, utc(2026, 5, 2))
    return numbers


def build_receivables_world(
    sessions: sessionmaker[Session], *, users: bool = False
) -> ReceivablesWorld:
    """Two entities, four accounts, the invoices of the table above, API keys and, with
    `users`, the portal users of USERS (their password hashes take a while)."""
    with sessions() as session, session.begin():
        create_entity(session, code="us", fields=US, as_of=START)
        create_entity(session, code="nordic", fields=NORDIC, as_of=START)
        accounts = {}
        for code, (currency, zone, entity, terms) in ACCOUNTS.items():
            account = create_account(
                session,
                code=code,
                name=code.title(),
                currency=currency,
                time_zone=zone,
                billing_email=f"billing@{code}.test",
                as_of=START,
            )
            change = DetailsChange(billing_entity=entity, payment_terms_days=terms)
            set_details(session, account, change, START)
            accounts[code] = account.id
        numbers = _invoices(session, accounts)
        for name, email in USERS.items() if users else ():
            customer = name in ACCOUNTS
            create_user(
                session,
                email=email,
                password=PASSWORD,
                role="customer" if customer else name,
                account_code=name if customer else None,
                as_of=START,
            )
        keys = {}
        for role in Role:
            account = "acme" if role is Role.CUSTOMER else None
            _row, keys[role.value] = create_key(
                session, role=role.value, account_code=account, as_of=START
            )
    return ReceivablesWorld(numbers=numbers, keys=keys)
