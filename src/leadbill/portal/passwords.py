"""Pages of the password links: choose a password from a link, and "forgot password".

Neither page has a session yet: their forms carry the sign-in form's
double-submit CSRF cookie. A link that does not work (unknown, tampered, used,
replaced or expired) answers a page that says so, with a way to ask for a new
one. "Forgot password" answers the same page and status whatever the address.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.errors import InvalidInput
from leadbill.password_links.service import (
    UNKNOWN,
    LinkRefused,
    check_token,
    request_reset,
    use_token,
)
from leadbill.portal.sessions import csrf_matches, new_token, start_session
from leadbill.portal.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from leadbill.portal.web import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    CsrfRefused,
    PortalRoute,
    clock_of,
    redirect,
    render,
    session_lifetime,
    set_cookie,
    settings_of,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)

SENT = (
    "If a portal user has this address, we sent it a link to choose a new password. "
    "It works once, for a limited time. Nothing arrived? Check the address and your "
    "spam folder, or ask again in a few minutes."
)


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE) or new_token()
    response = render(request, template, None, status_code=status_code, csrf=token, **context)
    set_cookie(response, request, SIGN_IN_CSRF_COOKIE, token, max_age=3600)
    return response


def _refused(request: Request, refused: LinkRefused) -> Response:
    # 410 Gone for a link that worked once; 404 for one that never did.
    return _page(
        request,
        "password_link_refused.html",
        status_code=404 if refused.detail == UNKNOWN else 410,
        title="This link does not work",
        detail=refused.detail,
    )


def _form(
    request: Request, token: str, error: str | None = None, status_code: int = 200
) -> Response:
    return _page(
        request,
        "password_set.html",
        status_code=status_code,
        title="Choose your password",
        token=token,
        error=error,
        min_length=MIN_PASSWORD_LENGTH,
        max_length=MAX_PASSWORD_LENGTH,
    )


@router.get("/password/{token}")
def password_form(request: Request, token: str, db: DbSession) -> Response:
    """The form of a working link; a page that says why for any other."""
    try:
        check_token(db, token[:100], as_of=clock_of(request))
    except LinkRefused as refused:
        return _refused(request, refused)
    return _form(request, token)


@router.post("/password/{token}")
def password_submit(
    request: Request,
    token: str,
    db: DbSession,
    password: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    confirmation: Annotated[str, Form(max_length=MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Set the password (once), end the user's other sessions and sign this browser in."""
    if not csrf_matches(request.cookies.get(SIGN_IN_CSRF_COOKIE), csrf_token):
        raise CsrfRefused()
    as_of = clock_of(request)
    try:
        user = use_token(db, token[:100], password, confirmation, as_of=as_of)
    except LinkRefused as refused:
        return _refused(request, refused)
    except InvalidInput as invalid:
        return _form(request, token, invalid.detail, status_code=422)
    user.last_sign_in_at = as_of
    lifetime = session_lifetime(request)
    row, cookie = start_session(db, user, as_of=as_of, lifetime=lifetime)
    row.flash = "Your password is set; you are signed in."
    response = redirect(f"{COOKIE_PATH}/")
    set_cookie(response, request, SESSION_COOKIE, cookie, max_age=int(lifetime.total_seconds()))
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.get("/forgot-password")
def forgot_form(request: Request) -> Response:
    """Ask for a link by e-mail."""
    return _page(request, "forgot_password.html", title="Forgot your password?", sent=None)


@router.post("/forgot-password")
def forgot_submit(
    request: Request,
    db: DbSession,
    email: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Queue a reset link for the portal user of this address; the same answer for any."""
    if not csrf_matches(request.cookies.get(SIGN_IN_CSRF_COOKIE), csrf_token):
        raise CsrfRefused()
    request_reset(db, email, as_of=clock_of(request), settings=settings_of(request))
    return _page(request, "forgot_password.html", title="Forgot your password?", sent=SENT)
