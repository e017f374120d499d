"""The route class every endpoint uses: JSON bodies only, and idempotent retries.

Path and query values holding a NUL character are refused (422) for every method.

A mutating request (POST, PUT, PATCH, DELETE) that carries a body must say
`Content-Type: application/json` (415 otherwise). With an `Idempotency-Key`
header, the first successful (2xx) response is stored with the key, the
route and the caller's API key; a retry with the same key gets that response
again, marked `Idempotent-Replayed: true`, and changes nothing. The same key
sent with another route or another body is refused (422): it is a client bug.
The response is stored in the request's own transaction, so the change and
its stored response commit together. An error response is not stored: the
failed request changed nothing (its transaction rolled back), so a retry is
simply tried again. Two retries in flight at the same moment may both run;
the domain's own constraints (unique codes, payment references, event keys)
keep that from storing anything twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from leadbill.auth.dependencies import bearer_key, session_factory_of
from leadbill.auth.models import IdempotentResponse
from leadbill.auth.service import Principal, Unauthenticated, authenticate
from leadbill.console import now
from leadbill.errors import InvalidInput
from leadbill.problems import ProblemError

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
HEADER = "idempotency-key"
MAX_KEY_LENGTH = 255
# 10,000 events of the longest allowed values fit well under this.
MAX_BODY_BYTES = 64 * 1024 * 1024

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _request_hash(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def _principal(request: Request) -> Principal | None:
    try:
        key = bearer_key(request)
        with session_factory_of(request)() as session:
            return authenticate(session, key)
    except Unauthenticated:
        return None  # the endpoint's own authentication answers 401


def _stored(request: Request, principal: Principal, key: str) -> IdempotentResponse | None:
    with session_factory_of(request)() as session:
        return session.scalar(
            select(IdempotentResponse).where(
                IdempotentResponse.api_key_id == principal.key_id,
                IdempotentResponse.idempotency_key == key,
            )
        )


def _store(request: Request, row: IdempotentResponse) -> None:
    # In the request's own transaction when it has one (still open here: it commits
    # after this handler returns), so the change and its stored response commit together.
    session = getattr(request.state, "session", None)
    try:
        if session is not None:
            with session.begin_nested():
                session.add(row)
            return
        with session_factory_of(request)() as own, own.begin():
            own.add(row)
    except IntegrityError:
        pass  # a concurrent retry stored its response first; both were the same request


def _replay(row: IdempotentResponse, method: str, path: str, request_hash: str) -> Response:
    if row.method != method or row.path != path or row.request_hash != request_hash:
        raise InvalidInput(
            "Idempotency-Key",
            f"was first used for a different request ({row.method} {row.path}); "
            "use a new key for a new request",
        )
    return Response(
        content=row.body,
        status_code=row.status_code,
        media_type=row.content_type,
        headers={"Idempotent-Replayed": "true"},
    )


async def _idempotent(request: Request, handler: Handler, key: str, body: bytes) -> Response:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput("Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} printable characters")
    principal = await run_in_threadpool(_principal, request)
    if principal is None:
        return await handler(request)
    request_hash = _request_hash(request, body)
    stored = await run_in_threadpool(_stored, request, principal, key)
    if stored is not None:
        return _replay(stored, request.method, request.url.path, request_hash)
    response = await handler(request)
    if 200 <= response.status_code < 300:
        row = IdempotentResponse(
            api_key_id=principal.key_id,
            account_id=principal.account_id,
            idempotency_key=key,
            method=request.method,
            path=request.url.path,
            request_hash=request_hash,
            status_code=response.status_code,
            content_type=response.headers.get("content-type", "application/json"),
            body=bytes(response.body).decode(),
            created_at=now(),
        )
        await run_in_threadpool(_store, request, row)
    return response


def _refuse_nul(request: Request) -> None:
    # PostgreSQL text cannot hold NUL: refuse it in the path and query as in bodies.
    for name, value in (*request.path_params.items(), *request.query_params.multi_items()):
        if "\x00" in str(value):
            raise InvalidInput(name, "must not contain NUL characters")


class LeadbillRoute(APIRoute):
    """Checks the media type of request bodies and replays idempotent requests."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            _refuse_nul(request)
            if request.method not in MUTATING:
                return await handler(request)
            length = request.headers.get("content-length", "0")
            if not length.isdigit() or int(length) > MAX_BODY_BYTES:
                raise ProblemError(
                    413, f"the request body is larger than {MAX_BODY_BYTES} bytes", "too-large"
                )
            body = await request.body()
            if body and not _is_json(request.headers.get("content-type")):
                raise ProblemError(
                    415,
                    "send the request body as JSON with 'Content-Type: application/json'",
                )
            key = request.headers.get(HEADER)
            if key is None:
                return await handler(request)
            return await _idempotent(request, handler, key, body)

        return route
