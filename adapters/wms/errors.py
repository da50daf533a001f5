"""The one place where WMS answers become fatal / retriable / skippable (hub/errors.py).

GreaterWMS quirk that drives the rules: it raises DRF ``APIException`` for business rules
*and* for authentication, and DRF renders every ``APIException`` as **HTTP 500** with
``{"detail": "..."}``. So the status code alone cannot tell a crashed server from a rejected
record. We therefore look at the body:

* 500 with a JSON ``detail``      -> the application answered on purpose: the auth texts are
  FatalError ``WMS_AUTH``, anything else is SkippableError ``WMS_REJECTED`` (bad record).
* 500 without JSON (HTML page)    -> the server or a proxy failed: RetriableError ``WMS_UNAVAILABLE``.
* 502/503/504, 429, timeouts, refused connections -> RetriableError ``WMS_UNAVAILABLE``.
* 401/403                         -> FatalError ``WMS_AUTH`` (a gateway in front of GreaterWMS).
* 404/405                         -> FatalError ``WMS_CONTRACT``: the route is missing, so the
  base_url or the WMS version is wrong; retrying or skipping would not help.
* other 4xx (DRF validation 400)  -> SkippableError ``WMS_REJECTED`` with the field messages.

Messages never contain the token: it travels only in a header, which we never print, and
``scrub`` removes it from any text we did not write ourselves.
"""
from __future__ import annotations

import json
from typing import Any

import requests

from hub.errors import FatalError, HubError, RetriableError, SkippableError

#: ``utils/auth.py`` texts, raised with HTTP 500 by real GreaterWMS
AUTH_DETAILS = frozenset({"Please Add Openid To Your Request Headers", "User Does Not Exists"})
_RETRIABLE_STATUS = frozenset({429, 500, 502, 503, 504})


def scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def _json_body(resp: requests.Response) -> Any:
    if "json" not in resp.headers.get("Content-Type", ""):
        return None
    try:
        return resp.json()
    except ValueError:
        return None


def _describe(body: Any) -> str:
    """DRF error body as one line: ``detail`` text, or ``field: msg`` pairs for validation."""
    if isinstance(body, dict):
        if "detail" in body and len(body) == 1:
            return str(body["detail"])
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items())
    return json.dumps(body, ensure_ascii=False)[:300]


def classify_response(resp: requests.Response, where: str, secret: str | None = None) -> HubError | None:
    """None for a usable 2xx JSON answer; otherwise the classified error (not raised)."""
    status = resp.status_code
    body = _json_body(resp)
    what = f"{resp.request.method} {resp.request.path_url.split('?')[0]}" if resp.request is not None else "request"
    if 200 <= status < 300:
        if body is None:
            return FatalError("WMS_CONTRACT", f"{what} answered HTTP {status} without JSON", where)
        return None
    detail = scrub(_describe(body), secret) if body is not None else ""
    if status in (401, 403) or (isinstance(body, dict) and body.get("detail") in AUTH_DETAILS):
        return FatalError("WMS_AUTH", f"WMS refused the token (HTTP {status}: {detail or 'no detail'}); "
                                      "check the password of the wms Connection", where)
    if status in (404, 405):
        return FatalError("WMS_CONTRACT", f"{what} answered HTTP {status}; check base_url and the WMS version", where)
    if status == 500 and isinstance(body, dict) and "detail" in body:
        return SkippableError("WMS_REJECTED", f"WMS rejected the record: {detail}", where)
    if status in _RETRIABLE_STATUS or status >= 500:
        return RetriableError("WMS_UNAVAILABLE", f"{what} answered HTTP {status}; retry later", where)
    if body is not None:
        return SkippableError("WMS_REJECTED", f"WMS rejected the record (HTTP {status}): {detail}", where)
    return FatalError("WMS_CONTRACT", f"{what} answered HTTP {status} without JSON", where)


def classify_exception(exc: requests.RequestException, where: str, secret: str | None = None) -> HubError:
    """Transport failures: the WMS did not answer at all, so a retry may succeed."""
    kind = "timed out" if isinstance(exc, requests.Timeout) else "is unreachable"
    # the exception text names the URL (no token in it); scrub anyway in case someone put it there
    return RetriableError("WMS_UNAVAILABLE", f"WMS {kind}: {scrub(type(exc).__name__ + ': ' + str(exc), secret)[:300]}",
                          where)
