"""Every refusal of the ingress API is one JSON shape: ``{"error": CODE, "message": text}``.

Codes name the cause precisely (``JDY_SIGNATURE_INVALID``, ``BODY_TOO_LARGE``, ...), messages
say what was wrong and what to do; neither ever carries a secret (a token, the webhook secret,
an Authorization header) or echoes a credential the caller sent.
"""
from __future__ import annotations

from typing import Optional

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """The body of every 4xx/5xx answer."""

    error: str = Field(description="machine-readable reason code, e.g. JDY_SIGNATURE_INVALID, AUTH_INVALID",
                       examples=["AUTH_INVALID"])
    message: str = Field(description="what was wrong and what to do; never contains a secret",
                         examples=["missing or invalid bearer token for this endpoint"])


class ApiError(Exception):
    """A refusal: answered with ``status`` and :class:`ErrorBody`."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, headers: Optional[dict[str, str]] = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": code, "message": message}, headers=headers)


def unauthorized(code: str, message: str) -> ApiError:
    # RFC 6750: a 401 names the scheme the client should use
    return ApiError(401, code, message, {"WWW-Authenticate": 'Bearer realm="mes-hub ingress"'})


def not_configured(what: str) -> ApiError:
    """The hub cannot check credentials for this endpoint: an operator must act (not the caller)."""
    return ApiError(503, "INGRESS_NOT_CONFIGURED",
                    f"this endpoint is not configured on the hub ({what}); the hub operator must set it. "
                    f"Nothing was stored: send again once it is configured")


#: statuses every operation may answer, with what they mean (for the OpenAPI description)
COMMON_ERRORS: dict[int, str] = {
    400: "malformed request: body not UTF-8 or not JSON (or NaN, duplicate keys, nested too deep), "
         "bad Content-Length or Idempotency-Key",
    413: "body larger than the limit (1 MiB by default), whether announced by Content-Length or not",
    503: "the endpoint is not configured on the hub, or the store is unavailable: nothing was stored, "
         "send again later",
}
