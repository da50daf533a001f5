"""The one place where WMS answers become fatal / retriable / skippable (hub/errors.py), for both dialects.

Transport (both dialects)
* refused connection, reset, timeout             -> RetriableError ``WMS_UNAVAILABLE``
* 429                                            -> RetriableError ``WMS_RATE_LIMITED`` (Retry-After quoted)
* 502/503/504, 500 without JSON (an HTML page)   -> RetriableError ``WMS_UNAVAILABLE``
* 2xx whose JSON body does not parse (cut off)   -> RetriableError ``WMS_MALFORMED_RESPONSE``
* 2xx that is not JSON at all                    -> FatalError ``WMS_CONTRACT`` (wrong base_url)
* 401/403                                        -> FatalError ``WMS_AUTH`` (a gateway in front)
* 404/405                                        -> FatalError ``WMS_CONTRACT``: the route is missing,
  so base_url or the WMS version is wrong; retrying or skipping would not help.

GreaterWMS (``classify_response``): it raises DRF ``APIException`` for business rules *and* for
authentication, and DRF renders every ``APIException`` as **HTTP 500** with ``{"detail": "..."}``;
so a 500 *with* a JSON ``detail`` is the application answering on purpose: the auth texts are
FatalError ``WMS_AUTH``, anything else SkippableError ``WMS_REJECTED``. Other 4xx (DRF validation
400 ``{field: [msgs]}``) are ``WMS_REJECTED`` too.

Odoo (``classify_odoo_http`` + ``classify_odoo_error``): errors come as **HTTP 200** with an
``error`` member; ``error.data.name`` is the Python exception (protocols/wms.md §1.1):

| ``data.name`` | class / code |
| --- | --- |
| ``odoo.exceptions.AccessDenied`` | Fatal ``WMS_AUTH`` |
| ``odoo.exceptions.AccessError`` | Fatal ``WMS_PERMISSION`` (the API user lacks a right) |
| ``odoo.http.SessionExpiredException`` (or ``code`` 100) | Retriable ``WMS_SESSION_EXPIRED`` |
| ``odoo.exceptions.MissingError`` | Skippable ``WMS_NOT_FOUND`` |
| ``odoo.exceptions.ValidationError`` / ``UserError`` / ``RedirectWarning``, ``psycopg2.IntegrityError`` | Skippable ``WMS_REJECTED`` |
| ``psycopg2`` serialization / lock errors (INFERRED: Odoo retries these itself; one surfacing means load) | Retriable ``WMS_UNAVAILABLE`` |
| ``psycopg2.OperationalError`` "database ... does not exist" | Fatal ``WMS_CONFIG``; other OperationalError Retriable |
| ``builtins.ValueError`` / ``KeyError`` / ``TypeError`` / ``AttributeError``, ``werkzeug`` 4xx | Fatal ``WMS_CONTRACT`` (invalid field or method: another Odoo version or module set) |
| anything else | Fatal ``WMS_ODOO_ERROR`` naming the exception |

Messages never contain the secret: the GreaterWMS token travels only in a header and the Odoo
password only in request bodies, neither of which we print; ``scrub`` removes it from any text we
did not write ourselves, and Odoo's ``data.debug`` traceback is never copied.
"""
from __future__ import annotations

import json
from typing import Any

import requests

from hub.errors import FatalError, HubError, RetriableError, SkippableError

#: ``utils/auth.py`` texts, raised with HTTP 500 by real GreaterWMS
AUTH_DETAILS = frozenset({"Please Add Openid To Your Request Headers", "User Does Not Exists"})
_GATEWAY_STATUS = frozenset({500, 502, 503, 504})

_ODOO_REJECTED = frozenset({
    "odoo.exceptions.ValidationError", "odoo.exceptions.UserError", "odoo.exceptions.RedirectWarning",
    "odoo.exceptions.Warning", "psycopg2.IntegrityError", "psycopg2.errors.UniqueViolation",
    "psycopg2.errors.NotNullViolation", "psycopg2.errors.ForeignKeyViolation", "psycopg2.errors.CheckViolation",
})
_ODOO_TRANSIENT = frozenset({
    "psycopg2.errors.SerializationFailure", "psycopg2.extensions.TransactionRollbackError",
    "psycopg2.errors.LockNotAvailable", "psycopg2.errors.DeadlockDetected",
})
_ODOO_CONTRACT = frozenset({
    "builtins.ValueError", "builtins.KeyError", "builtins.TypeError", "builtins.AttributeError",
    "builtins.IndexError", "werkzeug.exceptions.NotFound", "werkzeug.exceptions.BadRequest",
    "werkzeug.exceptions.MethodNotAllowed",
})
SESSION_EXPIRED = "odoo.http.SessionExpiredException"


def scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


class _Unparsable:
    """Marker: the answer said JSON but the body does not parse (cut off on the way)."""


UNPARSABLE = _Unparsable()


def json_body(resp: requests.Response) -> Any:
    """The parsed JSON body, None when the answer is not JSON, ``UNPARSABLE`` when it is broken JSON."""
    if "json" not in resp.headers.get("Content-Type", ""):
        return None
    try:
        return resp.json()
    except ValueError:
        return UNPARSABLE


def _describe(body: Any) -> str:
    """DRF error body as one line: ``detail`` text, or ``field: msg`` pairs for validation."""
    if isinstance(body, dict):
        if "detail" in body and len(body) == 1:
            return str(body["detail"])
        return "; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in body.items())
    return json.dumps(body, ensure_ascii=False)[:300]


def _what(resp: requests.Response) -> str:
    return f"{resp.request.method} {resp.request.path_url.split('?')[0]}" if resp.request is not None else "request"


def _transport(resp: requests.Response, body: Any, where: str) -> HubError | None:
    """The verdicts both dialects share; None when the dialect's own rules decide."""
    status, what = resp.status_code, _what(resp)
    if 200 <= status < 300:
        if body is None:
            return FatalError("WMS_CONTRACT", f"{what} answered HTTP {status} without JSON; check base_url", where)
        if body is UNPARSABLE:
            return RetriableError("WMS_MALFORMED_RESPONSE", f"{what} answered HTTP {status} with a JSON body "
                                                            "that does not parse (cut off?); retry", where)
        return None
    if status == 429:
        after = resp.headers.get("Retry-After")
        return RetriableError("WMS_RATE_LIMITED", f"{what} answered HTTP 429 (rate limited"
                                                  f"{', Retry-After ' + after + 's' if after else ''}); retry later",
                              where)
    if status in (404, 405):
        return FatalError("WMS_CONTRACT", f"{what} answered HTTP {status}; check base_url and the WMS version", where)
    if status in _GATEWAY_STATUS and not isinstance(body, dict):
        return RetriableError("WMS_UNAVAILABLE", f"{what} answered HTTP {status}; retry later", where)
    return None


def classify_response(resp: requests.Response, where: str, secret: str | None = None) -> HubError | None:
    """GreaterWMS: None for a usable 2xx JSON answer; otherwise the classified error (not raised)."""
    status = resp.status_code
    body = json_body(resp)
    if body is UNPARSABLE and not 200 <= status < 300:
        body = None
    verdict = _transport(resp, body, where)
    if verdict is not None or 200 <= status < 300:
        return verdict
    detail = scrub(_describe(body), secret) if body is not None else ""
    if status in (401, 403) or (isinstance(body, dict) and body.get("detail") in AUTH_DETAILS):
        return FatalError("WMS_AUTH", f"WMS refused the token (HTTP {status}: {detail or 'no detail'}); "
                                      "check the password of the wms Connection", where)
    if status == 500 and isinstance(body, dict) and "detail" in body:
        return SkippableError("WMS_REJECTED", f"WMS rejected the record: {detail}", where)
    if status >= 500:
        return RetriableError("WMS_UNAVAILABLE", f"{_what(resp)} answered HTTP {status}; retry later", where)
    if body is not None:
        return SkippableError("WMS_REJECTED", f"WMS rejected the record (HTTP {status}): {detail}", where)
    return FatalError("WMS_CONTRACT", f"{_what(resp)} answered HTTP {status} without JSON", where)


def classify_exception(exc: requests.RequestException, where: str, secret: str | None = None) -> HubError:
    """Transport failures: the WMS did not answer (completely), so a retry may succeed."""
    kind = "timed out" if isinstance(exc, requests.Timeout) else "is unreachable or dropped the connection"
    # the exception text names the URL (no secret in it); scrub anyway in case someone put it there
    return RetriableError("WMS_UNAVAILABLE", f"WMS {kind}: {scrub(type(exc).__name__ + ': ' + str(exc), secret)[:300]}",
                          where)


# -- Odoo -----------------------------------------------------------------------------------------


def classify_odoo_http(resp: requests.Response, where: str) -> HubError | None:
    """Odoo HTTP level: None when the body is a JSON object to read ``result``/``error`` from."""
    status = resp.status_code
    body = json_body(resp)
    if body is UNPARSABLE and not 200 <= status < 300:
        body = None
    verdict = _transport(resp, body, where)
    if verdict is not None:
        return verdict
    if 200 <= status < 300:
        if not isinstance(body, dict) or ("result" not in body and "error" not in body):
            return FatalError("WMS_CONTRACT", f"{_what(resp)} answered JSON that is no JSON-RPC response; "
                                              "check base_url", where)
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return None  # some proxies pass Odoo's error envelope with their own status: read the envelope
    if status in (401, 403):
        return FatalError("WMS_AUTH", f"{_what(resp)} answered HTTP {status}; check the wms Connection", where)
    if status == 413:
        return SkippableError("WMS_REJECTED", f"{_what(resp)} answered HTTP 413: the request is too large", where)
    if status >= 500:
        return RetriableError("WMS_UNAVAILABLE", f"{_what(resp)} answered HTTP {status}; retry later", where)
    return FatalError("WMS_CONTRACT", f"{_what(resp)} answered HTTP {status}", where)


def odoo_error_name(error: Any) -> str:
    data = error.get("data") if isinstance(error, dict) else None
    return str(data.get("name") or "") if isinstance(data, dict) else ""


def classify_odoo_error(error: Any, call: str, where: str, secret: str | None = None) -> HubError:
    """The JSON-RPC ``error`` member of an Odoo answer to ``call`` (``model.method``) as a hub error."""
    if not isinstance(error, dict):
        return FatalError("WMS_CONTRACT", f"Odoo {call}: error member is not an object", where)
    data = error.get("data") if isinstance(error.get("data"), dict) else {}
    name = odoo_error_name(error)
    text = scrub(str(data.get("message") or error.get("message") or "no message"), secret)[:500]
    said = f"Odoo {call}: {name or 'error ' + str(error.get('code'))}: {text}"
    if name == "odoo.exceptions.AccessDenied":
        return FatalError("WMS_AUTH", f"{said}; check login, password / API key and database of the wms "
                                      "Connection", where)
    if name == SESSION_EXPIRED or error.get("code") == 100:
        return RetriableError("WMS_SESSION_EXPIRED", said, where)
    if name == "odoo.exceptions.AccessError":
        return FatalError("WMS_PERMISSION", f"{said}; give the API user the Inventory rights it needs", where)
    if name == "odoo.exceptions.MissingError":
        return SkippableError("WMS_NOT_FOUND", said, where)
    if name in _ODOO_REJECTED:
        return SkippableError("WMS_REJECTED", said, where)
    if name in _ODOO_TRANSIENT:
        return RetriableError("WMS_UNAVAILABLE", said, where)
    if name == "psycopg2.OperationalError":
        if "does not exist" in text:
            return FatalError("WMS_CONFIG", f"{said}; check the extra database of the wms Connection", where)
        return RetriableError("WMS_UNAVAILABLE", said, where)
    if name in _ODOO_CONTRACT or name.startswith("werkzeug.exceptions."):
        return FatalError("WMS_CONTRACT", f"{said}; this Odoo does not take the call as the adapter makes it "
                                          "(another version or module set?)", where)
    return FatalError("WMS_ODOO_ERROR", said, where)
