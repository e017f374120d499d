"""Per-request dependencies: the transaction, the caller, and what the caller may see.

The request owns its transaction: one session, committed when the endpoint
returns (before the response is sent, so a failed commit is an error
response), rolled back when it raises. A customer key sees only its own
account: anything of another account answers 404 exactly as if it did not
exist, never 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from leadbill.accounts.models import Account
from leadbill.accounts.service import get_account
from leadbill.auth.models import ApiKey
from leadbill.auth.service import Principal, Role, Unauthenticated, authenticate
from leadbill.console import now
from leadbill.errors import Forbidden, NotFound


def session_factory_of(request: Request) -> sessionmaker[Session]:
    """The app's session factory (the configured database unless the app was given one)."""
    factory: sessionmaker[Session] | None = request.app.state.sessions
    if factory is None:
        from leadbill.console import sessions

        factory = sessions()
        request.app.state.sessions = factory
    return factory


def request_session(request: Request) -> Iterator[Session]:
    """One transaction for the request: commit on success, roll back on error."""
    with session_factory_of(request)() as session, session.begin():
        # The idempotency route stores the first response in this same transaction.
        request.state.session = session
        yield session


DbSession = Annotated[Session, Depends(request_session, scope="function")]


def bearer_key(request: Request) -> str:
    """The key of an `Authorization: Bearer ...` header."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <key>'")
    return key.strip()


def current_principal(request: Request, session: DbSession) -> Principal:
    """The caller, from its bearer key; its last use is recorded."""
    principal = authenticate(session, bearer_key(request), as_of=now())
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(current_principal)]


def allow(principal: Principal, *roles: Role) -> None:
    """Refuse (403) a caller whose role is not among `roles`."""
    if principal.role not in roles:
        raise Forbidden(f"the {principal.role.value} role may not do this")


def visible_account(session: Session, principal: Principal, code: str, *roles: Role) -> Account:
    """An account the caller may act on with one of `roles`.

    A customer asking for another account gets the same 404 as for an account
    that does not exist, before any role check could tell them apart.
    """
    if principal.role is Role.CUSTOMER:
        account = session.get(Account, principal.account_id)
        if account is None or account.code != code:
            raise NotFound(f"account {code!r} does not exist")
        allow(principal, *roles)
        return account
    allow(principal, *roles)
    return get_account(session, code)


def owns(principal: Principal, account_id: int | None, what: str) -> None:
    """Hide (404) a resource of another account from a customer key."""
    if principal.role is Role.CUSTOMER and principal.account_id != account_id:
        raise NotFound(f"{what} does not exist")


def caller_outside_transaction(request: Request) -> Principal:
    """The caller, authenticated in a short transaction of its own.

    For endpoints whose service runs its own transactions (a billing run commits
    batch by batch): a request transaction held open around it would hold
    SQLite's write lock that the service's batches wait for.
    """
    key = bearer_key(request)
    with session_factory_of(request)() as session, session.begin():
        principal = authenticate(session, key, as_of=now())
    request.state.principal = principal
    return principal


StandaloneCaller = Annotated[Principal, Depends(caller_outside_transaction)]


def acting_key(session: Session, principal: Principal) -> str:
    """Who acts with the caller's key, as recorded beside a staff action: name and key id."""
    key = session.get_one(ApiKey, principal.key_id)
    return f"{key.name} (API key {key.id})" if key.name else f"API key {key.id} ({key.role})"
