"""Every error answered as `application/problem+json` (RFC 9457), mapped once.

Each kind of problem has a stable `type` URI that clients may switch on; the
`detail` is for people. Invalid input lists each bad field with its reason.
Anything unexpected is logged and answered as a problem too, with no details.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadbill.auth.service import Unauthenticated
from leadbill.core.errors import RuleViolation
from leadbill.db import is_transient
from leadbill.errors import Conflict, Forbidden, InvalidInput, LeadbillError, NotFound

log = logging.getLogger("leadbill.api")

PROBLEM_BASE = "https://leadbill.dev/problems/"
MEDIA_TYPE = "application/problem+json"

# status -> (type slug, title)
KINDS: dict[int, tuple[str, str]] = {
    400: ("malformed-request", "Malformed request"),
    401: ("unauthenticated", "Unauthenticated"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("too-large", "Request too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-input", "Invalid input"),
    500: ("internal-error", "Internal error"),
    503: ("busy", "Try again"),
}


class ProblemError(Exception):
    """A problem raised at the HTTP edge (malformed body, too large, wrong media type)."""

    def __init__(self, status: int, detail: str, slug: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, str]] | None = None,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    kind, title = KINDS.get(status, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or kind),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    issues = list(error.errors())
    if any(issue.get("type") == "json_invalid" for issue in issues):
        where = next(issue for issue in issues if issue.get("type") == "json_invalid")
        reason = where.get("ctx", {}).get("error", "invalid JSON")
        return problem(400, f"the request body is not valid JSON: {reason}", slug="malformed-json")
    errors = []
    for issue in issues:
        message = str(issue.get("msg", "is invalid")).removeprefix("Value error, ")
        if issue.get("type") == "extra_forbidden":
            message = "is not a known field of this request"
        errors.append({"field": _field(tuple(issue.get("loc", ()))), "reason": message})
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(422, f"invalid input in {fields}", errors=errors)


def _leadbill(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, LeadbillError)
    if isinstance(error, InvalidInput):
        return problem(422, error.detail, errors=[{"field": error.field, "reason": error.reason}])
    for kind, status in ((NotFound, 404), (Conflict, 409), (Forbidden, 403)):
        if isinstance(error, kind):
            return problem(status, error.detail)
    return problem(error.http_status, error.detail)


def _rule(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RuleViolation)
    return problem(
        422,
        f"{error.field}: {error.reason}",
        errors=[{"field": error.field, "reason": error.reason}],
    )


def _unauthenticated(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, Unauthenticated)
    return problem(401, error.detail, headers={"WWW-Authenticate": "Bearer"})


def _edge(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem(error.status, error.detail, slug=error.slug)


def _http(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers) if error.headers else None
    return problem(error.status_code, str(error.detail), headers=headers)


def _data(_request: Request, error: Exception) -> JSONResponse:
    # The database refused a value the edge let through (out of range, malformed).
    log.warning("database refused a value: %s", error)
    return problem(422, "a value is out of range or malformed for the database", errors=[])


def _overflow(request: Request, error: Exception) -> JSONResponse:
    # Date arithmetic past the calendar's ends (a period far in the future), or a number
    # too large for the driver: the input is out of range, not the server broken.
    log.warning("out of range on %s %s: %s", request.method, request.url.path, error)
    return problem(422, "a date or number is out of the range leadbill can work with", errors=[])


def _database(request: Request, error: Exception) -> JSONResponse:
    # A transaction that lost a race (deadlock, serialization, lock) changed nothing and
    # may be sent again; anything else from the database is unexpected.
    if is_transient(error):
        log.warning("transient database error on %s %s: %s", request.method, request.url, error)
        return problem(
            503,
            "the database was busy with concurrent requests and nothing was changed; "
            "send the request again",
            headers={"Retry-After": "1"},
        )
    return _unexpected(request, error)


def _unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(500, "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Map every error type to problem+json, once."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(LeadbillError, _leadbill)
    app.add_exception_handler(RuleViolation, _rule)
    app.add_exception_handler(Unauthenticated, _unauthenticated)
    app.add_exception_handler(ProblemError, _edge)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(OperationalError, _database)
    app.add_exception_handler(OverflowError, _overflow)
    app.add_exception_handler(Exception, _unexpected)
