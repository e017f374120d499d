"""What every portal page needs: the signed-in visitor, CSRF checks, templates, errors.

Pages are rendered on the server from Jinja2 templates (autoescaped). Errors
of the services become an HTML page with the matching status: another
account's invoice is a 404 exactly like one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadbill.accounts.models import Account
from leadbill.auth.dependencies import DbSession
from leadbill.auth.service import Role
from leadbill.console import now, parse_instant
from leadbill.core.billability import reason_label
from leadbill.core.errors import RuleViolation
from leadbill.core.reviews import status_label

# Re-exported: the pages format amounts and dates as the documents do.
from leadbill.documents.formats import last_day as last_day
from leadbill.documents.formats import local as local
from leadbill.documents.formats import money as money
from leadbill.errors import Forbidden, InvalidInput, LeadbillError
from leadbill.plans.models import Plan
from leadbill.portal.models import PortalSession
from leadbill.portal.sessions import csrf_matches, find_session
from leadbill.settings import Settings
from leadbill.subscriptions.models import Subscription

SESSION_COOKIE = "leadbill_session"
# Before sign-in there is no session to hold a CSRF token: the sign-in form
# posts back the value of this cookie (double submit).
SIGN_IN_CSRF_COOKIE = "leadbill_signin_csrf"
COOKIE_PATH = "/portal"
STAFF_ROLES = frozenset({Role.ADMIN, Role.BILLING, Role.REVIEWER, Role.VIEWER})

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def read_instant(value: str, time_zone: str, field: str) -> datetime:
    """An instant typed in a staff form, read as the pages show instants: in `time_zone`.

    A browser's date-time field sends a wall time with no offset (2026-03-09T12:00): it
    is that time in `time_zone`. An explicit offset or Z (2026-03-09T12:00Z) is honoured
    as given. A wall time the zone's clocks skip or repeat (a DST change) is refused
    rather than guessed: the field names it and asks for an offset.
    """
    text = value.strip()
    if not text:
        raise InvalidInput(field, "is required")
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        return parse_instant(text, field)  # its error names the field and the format
    if wall.tzinfo is not None:
        return parse_instant(text, field)
    zone = ZoneInfo(time_zone)
    earlier, later = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise InvalidInput(
            field, f"{text} does not exist in {time_zone} (the clocks skip it); add its offset"
        )
    if earlier.utcoffset() != later.utcoffset():
        raise InvalidInput(
            field,
            f"{text} happens twice in {time_zone}; add its offset "
            f"({_offset(earlier)} or {_offset(later)})",
        )
    return earlier.astimezone(UTC)


def _offset(instant: datetime) -> str:
    """The UTC offset of an aware instant as RFC 3339 writes it (-04:00)."""
    text = instant.strftime("%z")
    return f"{text[:3]}:{text[3:]}"


def instant_field(value: datetime, time_zone: str) -> str:
    """An instant as a browser's date-time field shows it, in `time_zone`."""
    return local(value, time_zone, "%Y-%m-%dT%H:%M")


templates.env.filters["money"] = money
templates.env.globals["local"] = local
templates.env.globals["last_day"] = last_day
# Reason and review status codes in words, one mapping for every page (core).
templates.env.globals["reason_label"] = reason_label
templates.env.globals["status_label"] = status_label


# A form field as typed (FastAPI reads it from the posted form).
Text = Annotated[str, Form()]

# A preview page hands its confirmation form a one-time token (secrets.token_urlsafe).
_CONFIRMATION_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def confirmation_key(token: str) -> str:
    """The idempotency key a confirmed change is recorded under: the same confirmation
    sent twice (a double click, a retry) is made once."""
    if not _CONFIRMATION_TOKEN.fullmatch(token):
        raise InvalidInput("key", "the confirmation form is incomplete; preview again")
    return f"portal:{token}"


class SignInRequired(Exception):
    """No live session: the visitor is sent to the sign-in page."""


class CsrfRefused(Exception):
    """A form posted without the right CSRF token."""


@dataclass(frozen=True, slots=True)
class Visitor:
    """The signed-in user and their session, read once per request.

    Plain values, not ORM rows: an error page after a rolled-back transaction
    still knows who is signed in.
    """

    user_id: int
    email: str
    role: Role
    account_id: int | None
    account_code: str | None
    account_name: str | None
    time_zone: str
    session_hash: str
    csrf_token: str
    flash: str | None
    # The account's plan charges per licence: the customer's menu shows Licences.
    licence_plan: bool = False

    @property
    def is_staff(self) -> bool:
        """Operator staff (every role but customer)."""
        return self.role in STAFF_ROLES

    def customer_account(self, db: Session) -> Account:
        """The account of a customer user; a staff user is refused here."""
        if self.account_id is None:
            raise Forbidden("this page is for customer users")
        return db.get_one(Account, self.account_id)

    def require(self, *roles: Role) -> None:
        """Refuse (403) a user whose role is not among `roles`."""
        if self.role not in roles:
            raise Forbidden(f"the {self.role.value} role may not do this")


def settings_of(request: Request) -> Settings:
    """The portal's settings (the environment unless the app was given some)."""
    settings: Settings | None = getattr(request.app.state, "portal_settings", None)
    if settings is None:
        settings = Settings.from_env()
        request.app.state.portal_settings = settings
    return settings


def clock_of(request: Request) -> datetime:
    """The instant of the request: the wall clock unless pinned (tests, LEADBILL_PORTAL_AS_OF)."""
    clock: Callable[[], datetime] | None = getattr(request.app.state, "portal_clock", None)
    if clock is not None:
        return clock()
    pinned = settings_of(request).portal_as_of
    return parse_instant(pinned, "LEADBILL_PORTAL_AS_OF") if pinned else now()


def current_visitor(request: Request, db: DbSession) -> Visitor:
    """The signed-in visitor of the session cookie, or a redirect to sign in."""
    found = find_session(db, request.cookies.get(SESSION_COOKIE), as_of=clock_of(request))
    if found is None:
        raise SignInRequired()
    row, user = found
    account = db.get(Account, user.account_id) if user.account_id is not None else None
    visitor = Visitor(
        user_id=user.id,
        email=user.email,
        role=Role(user.role),
        account_id=user.account_id,
        account_code=account.code if account else None,
        account_name=account.name if account else None,
        time_zone=account.time_zone if account else settings_of(request).operator_time_zone,
        session_hash=row.id_hash,
        csrf_token=row.csrf_token,
        flash=row.flash,
        licence_plan=account is not None and _on_licence_plan(db, account.id),
    )
    request.state.visitor = visitor
    return visitor


def _on_licence_plan(db: Session, account_id: int) -> bool:
    """Whether the account's active (else latest) subscription is on a licence plan."""
    price = db.execute(
        select(Plan.licence_price)
        .join(Subscription, Subscription.plan_id == Plan.id)
        .where(Subscription.account_id == account_id)
        .order_by((Subscription.status == "active").desc(), Subscription.id.desc())
        .limit(1)
    ).first()
    return price is not None and price[0] is not None


SignedIn = Annotated[Visitor, Depends(current_visitor)]


def check_csrf(visitor: Visitor, token: str | None) -> None:
    """Refuse a form whose CSRF token is not the session's."""
    if not csrf_matches(visitor.csrf_token, token):
        raise CsrfRefused()


def set_flash(db: Session, visitor: Visitor, message: str) -> None:
    """A one-time message for the next page the visitor sees."""
    db.execute(
        update(PortalSession)
        .where(PortalSession.id_hash == visitor.session_hash)
        .values(flash=message)
    )


def render(
    request: Request,
    template: str,
    visitor: Visitor | None,
    db: Session | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page from its template, with the visitor, CSRF token and flash message."""
    flash = None
    if visitor is not None and visitor.flash and db is not None:
        flash = visitor.flash
        db.execute(
            update(PortalSession)
            .where(PortalSession.id_hash == visitor.session_hash)
            .values(flash=None)
        )
    return templates.TemplateResponse(
        request,
        template,
        {
            "visitor": visitor,
            "csrf_token": visitor.csrf_token if visitor else context.pop("csrf", ""),
            "flash": flash,
            "nav": context.pop("nav", ""),
            **context,
        },
        status_code=status_code,
    )


def set_cookie(
    response: Response, request: Request, name: str, value: str, max_age: int | None
) -> None:
    """A portal cookie: HttpOnly, SameSite=Lax, Secure unless turned off for local http."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=settings_of(request).portal_secure_cookies,
    )


def redirect(url: str) -> RedirectResponse:
    """See other: the answer to a form post (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)


def session_lifetime(request: Request) -> timedelta:
    """How long a new session lasts."""
    return timedelta(hours=max(1, settings_of(request).portal_session_hours))


class PortalRoute(APIRoute):
    """Turns service errors into HTML pages and a missing session into a sign-in redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = redirect(f"{COOKIE_PATH}/sign-in")
            except CsrfRefused:
                response = _error(
                    request, 403, "This form has expired. Go back, reload it and try again."
                )
            except LeadbillError as error:
                response = _error(request, error.http_status, error.detail)
            except RuleViolation as error:
                response = _error(request, 422, f"{error.field}: {error.reason}")
            except RequestValidationError as error:  # a query or form field of the wrong shape
                response = _error(request, 422, _invalid_fields(error))
            response.headers.update(_PAGE_HEADERS)
            if "cache-control" not in response.headers:
                response.headers["Cache-Control"] = "no-store"  # pages are private
            return response

        return route


# Pages must not be framed (clickjacking), sniffed, or load anything from elsewhere.
_PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
}


def _invalid_fields(error: RequestValidationError) -> str:
    """Each field the request got wrong and why, as people read it."""
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'request'}: {problem['msg']}"
        for problem in error.errors()
    )


def _error(request: Request, status: int, detail: str) -> HTMLResponse:
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible", 422: "Not valid"}
    visitor = getattr(request.state, "visitor", None)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "visitor": visitor,
            "csrf_token": visitor.csrf_token if visitor else "",
            "flash": None,
            "nav": "",
            "title": titles.get(status, "Something went wrong"),
            "detail": detail,
        },
        status_code=status,
    )
