"""Sign-in and sign-out pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from leadbill.auth.dependencies import DbSession
from leadbill.portal.models import PortalSession
from leadbill.portal.sessions import (
    csrf_matches,
    end_expired_sessions,
    end_session,
    find_session,
    new_token,
    start_session,
)
from leadbill.portal.users import LockoutPolicy, SignInRefused, sign_in
from leadbill.portal.web import (
    COOKIE_PATH,
    SESSION_COOKIE,
    SIGN_IN_CSRF_COOKIE,
    CsrfRefused,
    PortalRoute,
    SignedIn,
    check_csrf,
    clock_of,
    redirect,
    render,
    session_lifetime,
    set_cookie,
    settings_of,
)

router = APIRouter(route_class=PortalRoute, include_in_schema=False)


def _sign_in_page(
    request: Request, error: str | None = None, email: str = "", status_code: int = 200
) -> Response:
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE) or new_token()
    response = render(
        request,
        "sign_in.html",
        None,
        status_code=status_code,
        csrf=token,
        error=error,
        email=email,
        title="Sign in",
    )
    set_cookie(response, request, SIGN_IN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, db: DbSession) -> Response:
    """The sign-in form (a signed-in visitor goes straight to their home page)."""
    if find_session(db, request.cookies.get(SESSION_COOKIE), as_of=clock_of(request)):
        return redirect(f"{COOKIE_PATH}/")
    return _sign_in_page(request)


@router.post("/sign-in")
def sign_in_submit(
    request: Request,
    db: DbSession,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the e-mail and password; a new session replaces any earlier one."""
    if not csrf_matches(request.cookies.get(SIGN_IN_CSRF_COOKIE), csrf_token):
        raise CsrfRefused()
    as_of = clock_of(request)
    try:
        user = sign_in(
            db, email, password, as_of=as_of, policy=LockoutPolicy.of(settings_of(request))
        )
    except SignInRefused as refused:
        # The failure is counted: this response commits the request's transaction.
        return _sign_in_page(request, refused.detail, email=email, status_code=401)
    previous = find_session(db, request.cookies.get(SESSION_COOKIE), as_of=as_of)
    if previous is not None:
        end_session(db, previous[0])
    end_expired_sessions(db, as_of=as_of)  # the table keeps only live sessions
    lifetime = session_lifetime(request)
    _row, token = start_session(db, user, as_of=as_of, lifetime=lifetime)
    response = redirect(f"{COOKIE_PATH}/")
    set_cookie(response, request, SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()))
    response.delete_cookie(SIGN_IN_CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/sign-out")
def sign_out(visitor: SignedIn, db: DbSession, csrf_token: Annotated[str, Form()] = "") -> Response:
    """End the session: its row is deleted and the cookie cleared."""
    check_csrf(visitor, csrf_token)
    row = db.get(PortalSession, visitor.session_hash)
    if row is not None:
        end_session(db, row)
    response = redirect(f"{COOKIE_PATH}/sign-in")
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
