"""Errors as ``application/problem+json`` (RFC 9457): what went wrong and what to do, never a
stack trace, a secret or the rejected input echoed back."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import FieldError, Problem

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:nightshift:problem:"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    422: "Unprocessable request",
    500: "Internal error",
    503: "Service unavailable",
}


class ApiProblem(Exception):
    """Raised by a route: answered as a problem document with ``status``."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        errors: list[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail
        self.errors, self.headers = errors, headers


def invalid_field(field: str, message: str) -> ApiProblem:
    """A 422 naming the one field to correct."""
    return ApiProblem(
        422, "invalid-request", f"{field}: {message}", [FieldError(field=field, message=message)]
    )


def problem_response(problem: ApiProblem) -> JSONResponse:
    body = Problem(
        type=TYPE_BASE + problem.kind,
        title=TITLES.get(problem.status, "Error"),
        status=problem.status,
        detail=problem.detail,
        errors=problem.errors,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=MEDIA_TYPE,
        headers=problem.headers,
    )


def _field(location: tuple[Any, ...]) -> str:
    # ("body", "carrier") -> carrier; ("query", "origin") -> origin; a whole bad body -> body.
    named = [str(part) for part in location[1:] if not isinstance(part, int)]
    return ".".join(named) or str(location[0])


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [FieldError(field=_field(tuple(e["loc"])), message=e["msg"]) for e in exc.errors()]
    fields = ", ".join(dict.fromkeys(e.field for e in errors))
    detail = f"invalid {fields}: " + "; ".join(f"{e.field}: {e.message}" for e in errors)
    return problem_response(ApiProblem(422, "invalid-request", detail, errors))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "Error")
    kind = {404: "no-such-route", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return problem_response(ApiProblem(exc.status_code, kind, detail, headers=exc.headers))


async def _api(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiProblem)
    return problem_response(exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The trace goes to the service's log only; the caller learns where to look.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem_response(
        ApiProblem(500, "internal-error", "the service failed on this request; see its log")
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ApiProblem, _api)
    app.add_exception_handler(Exception, _unexpected)


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route for these error statuses (all problem documents)."""
    return {status: {"model": Problem, "description": TITLES[status]} for status in statuses}


def as_problem_media_type(openapi: dict[str, Any]) -> dict[str, Any]:
    """Error responses of the document are ``application/problem+json``, as they are sent."""
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content[MEDIA_TYPE] = content.pop("application/json")
    return openapi
