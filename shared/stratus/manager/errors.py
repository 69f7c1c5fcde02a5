"""Every error answer is JSON with detail, path and trace id; never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import HTTPException as FastApiHTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from stratus.adapters.sql.db import refused_value
from stratus.crypto import CryptoError
from stratus.domain.errors import ConcurrentUpdate
from stratus.domain.records import Conflict, NotFound
from stratus.observability import current_trace_id, log_fields, trace_from_header, traced

log = logging.getLogger(__name__)


class BadRequest(FastApiHTTPException):
    """A 400 whose answer's `error` is a machine-readable reason (duplicate_key, ...)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(400, detail)
        self.reason = reason


def body(request: Request, status: int, error: str, detail: Any) -> JSONResponse:
    content = {"error": error, "detail": detail, "path": request.url.path}
    # Unhandled errors are answered outside the middleware's context: use the copy.
    content["trace_id"] = current_trace_id() or request.scope.get("state", {}).get("trace_id", "")
    return JSONResponse(jsonable_encoder(content), status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {
                "loc": list(item.get("loc", ())),
                "msg": item.get("msg", ""),
                "type": item.get("type", ""),
            }
            for item in error.errors()
        ]
        return body(request, 422, "invalid_request", fields)

    @app.exception_handler(HTTPException)
    async def http(request: Request, error: HTTPException) -> JSONResponse:
        reason = error.reason if isinstance(error, BadRequest) else _reason(error.status_code)
        response = body(request, error.status_code, reason, error.detail)
        for name, value in (error.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(NotFound)
    async def not_found(request: Request, error: NotFound) -> JSONResponse:
        return body(request, 404, "not_found", str(error))

    @app.exception_handler(Conflict)
    async def conflict(request: Request, error: Conflict) -> JSONResponse:
        return body(request, 409, error.reason, error.detail)

    @app.exception_handler(ConcurrentUpdate)
    async def busy(request: Request, error: ConcurrentUpdate) -> JSONResponse:
        return body(request, 409, "concurrent_update", str(error))

    @app.exception_handler(CryptoError)
    async def crypto(request: Request, error: CryptoError) -> JSONResponse:
        log.error("key material unavailable", extra=log_fields(detail=str(error)))
        return body(request, 503, "keys_unavailable", "encryption keys are unavailable")

    @app.exception_handler(DBAPIError)
    async def out_of_range(request: Request, error: DBAPIError) -> JSONResponse:
        if not refused_value(error):
            return await crash(request, error)
        # A value the schema let through but the database cannot hold (a safety net:
        # the models bound what they can).
        log.warning("database refused a value", extra=log_fields(detail=str(error.orig)))
        reason = [{"loc": ["body"], "msg": "a value is out of range", "type": "value_error"}]
        return body(request, 422, "invalid_request", reason)

    @app.exception_handler(Exception)
    async def crash(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", extra=log_fields(path=request.url.path))
        return body(request, 500, "internal", "internal error; quote the trace id")


def _reason(status: int) -> str:
    return {
        401: "unauthenticated",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
    }.get(status, f"http_{status}")


class TraceMiddleware:
    """A trace id per request (from X-Cloud-Trace-Context when present), echoed back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"x-cloud-trace-context", b"").decode("latin-1")
        with traced(trace_from_header(header)) as trace:
            scope.setdefault("state", {})["trace_id"] = trace

            async def send_with_trace(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", []).append((b"x-trace-id", trace.encode()))
                await send(message)

            await self.app(scope, receive, send_with_trace)
