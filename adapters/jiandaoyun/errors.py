"""Every Jiandaoyun failure is classified here, and only here (fatal / retriable / skippable).

API v5 (protocols/jiandaoyun.md §1.2) answers errors with an HTTP 4xx and ``{"code", "msg"}``:

| what the wire says | class | code |
| --- | --- | --- |
| timeout, connection refused/reset, HTTP 5xx | RetriableError | JDY_UNAVAILABLE |
| HTTP 429 (a gateway in front; Jiandaoyun itself sends a code) | RetriableError | JDY_RATE_LIMITED |
| code 8303 (enterprise) / 8304 (endpoint) rate limit | RetriableError | JDY_RATE_LIMITED |
| 2xx whose body is not JSON (or cut off) or has the wrong shape | RetriableError | JDY_BAD_RESPONSE |
| code 8301 / 17018 (API key refused), 8017 (company closed) | FatalError | JDY_AUTH |
| code 8302 (key lacks permission for this app/endpoint/IP) | FatalError | JDY_FORBIDDEN |
| code 2004 (app) / 3000 (form) not found | FatalError | JDY_CONFIG |
| code 1, 17017, 4815, 17023, 17024, 17025 (a request we built badly) | FatalError | JDY_REQUEST |
| code 4000 (submit failed), 4001 (record not found), 4042, 4402, 17026 | SkippableError | JDY_REJECTED |
| HTTP 404 (no such route: wrong base URL), any other code, a 4xx without the envelope | FatalError | JDY_HTTP |

Rate-limit errors and HTTP 429 are :class:`JiandaoyunRetriable` with ``unprocessed=True``: the
server refused before acting, so even a create may be repeated. Other transport failures of a
write are not repeated blindly; the caller goes back through a look-up (see hook.py).
Messages carry evidence (route, app/form id, record id, Jiandaoyun's own code and text) and are
scrubbed of every configured secret (API key, webhook secret) before they are raised.
"""
from __future__ import annotations

from typing import Any, Iterable, NoReturn, Optional

import requests

from adapters import http_errors
from adapters.http_errors import retry_after_seconds, scrub
from hub.errors import FatalError, HubError, SkippableError

RATE_LIMIT_CODES = frozenset({8303, 8304})
AUTH_CODES = frozenset({8301, 17018, 8017})
FORBIDDEN_CODES = frozenset({8302})
CONFIG_CODES = frozenset({2004, 3000})
REQUEST_CODES = frozenset({1, 17017, 4815, 17023, 17024, 17025})
REJECTED_CODES = frozenset({4000, 4001, 4042, 4402, 17026})
#: codes worth a word of advice in the message
_ADVICE = {
    8301: "check the API key (Connection password) of jiandaoyun_default",
    17018: "check the API key (Connection password) of jiandaoyun_default",
    8017: "the Jiandaoyun company does not exist or is closed",
    8302: "give the API key access to this app and endpoint (开放平台 → 密钥管理), and check its IP allow-list",
    2004: "check extra app_id of jiandaoyun_default",
    3000: "check the form ids (extras *_form) of jiandaoyun_default",
    4815: "the filter does not fit the field types (protocol notes §2.2)",
}
_SNIPPET = 200


class JiandaoyunRetriable(http_errors.TransportRetriable):
    """A RetriableError with what a retry decision needs (repeating a create is safe only when ``unprocessed``)."""


_raise = http_errors.raise_scrubbed


def from_transport(exc: requests.RequestException, route: str, where: str, secrets: Iterable[str]) -> HubError:
    """A request that never produced a complete response: worth a retry later."""
    # the exception text names host and path, never the headers (which carry the API key)
    return http_errors.from_transport(exc, route, "JDY_UNAVAILABLE", where, secrets, JiandaoyunRetriable)


def _envelope_code(payload: Any) -> Optional[int]:
    """The ``code`` of an error envelope ``{"code": int, "msg": str}``, else None."""
    if not isinstance(payload, dict) or "code" not in payload:
        return None
    code = payload.get("code")
    if isinstance(code, bool):
        return None
    try:
        return int(code)
    except (TypeError, ValueError):
        return None


def check_response(response: requests.Response, route: str, where: str, secrets: Iterable[str]) -> dict[str, Any]:
    """Status line and body: the parsed JSON object of a success, or the classified error."""
    text = response.text or ""
    status = response.status_code
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    code = _envelope_code(payload)
    if status == 404:  # no such route: the base URL is wrong, whatever the body says
        _raise(FatalError, "JDY_HTTP", f"{route} answered HTTP 404: {text[:_SNIPPET]!r}; check host/schema/extra path "
                                       f"(base_url) of jiandaoyun_default", where, secrets)
    if code is not None and (status >= 400 or code != 0):
        raise_for_code(code, str(payload.get("msg") or ""), route, where, secrets, status,
                       retry_after_seconds(response.headers.get("Retry-After")))
    if http_errors.is_unavailable(status):  # without the envelope: a gateway in front of Jiandaoyun
        raise http_errors.unavailable(response, route, repr(text[:_SNIPPET]), "JDY_UNAVAILABLE", where, secrets,
                                      JiandaoyunRetriable, code_429="JDY_RATE_LIMITED", note_429="")
    if status >= 400:
        _raise(FatalError, "JDY_HTTP", f"{route} answered HTTP {status} without the error envelope: "
                                       f"{text[:_SNIPPET]!r}; check base_url of jiandaoyun_default", where, secrets)
    if not isinstance(payload, dict):
        _raise(JiandaoyunRetriable, "JDY_BAD_RESPONSE",
               f"{route} answered HTTP {status} with a body that is not a JSON object: {text[:_SNIPPET]!r}",
               where, secrets)
    return payload


def raise_for_code(code: int, msg: str, route: str, where: str, secrets: Iterable[str], status: int = 400,
                   retry_after: Optional[float] = None) -> NoReturn:
    """Classify one Jiandaoyun error code (module table)."""
    advice = _ADVICE.get(code)
    detail = f"{route} failed with Jiandaoyun code {code} (HTTP {status}): {msg or 'no message'}"
    if advice:
        detail = f"{detail}; {advice}"
    if code in RATE_LIMIT_CODES:
        which = "enterprise" if code == 8303 else "endpoint"
        raise JiandaoyunRetriable("JDY_RATE_LIMITED", scrub(f"{detail} ({which} rate limit); backing off", secrets),
                                  where, unprocessed=True, retry_after=retry_after)
    if code in AUTH_CODES:
        _raise(FatalError, "JDY_AUTH", detail, where, secrets)
    if code in FORBIDDEN_CODES:
        _raise(FatalError, "JDY_FORBIDDEN", detail, where, secrets)
    if code in CONFIG_CODES:
        _raise(FatalError, "JDY_CONFIG", detail, where, secrets)
    if code in REQUEST_CODES:
        _raise(FatalError, "JDY_REQUEST", f"{detail}; the hub built a request Jiandaoyun refuses", where, secrets)
    if code in REJECTED_CODES:
        _raise(SkippableError, "JDY_REJECTED", detail, where, secrets)
    _raise(FatalError, "JDY_HTTP", detail, where, secrets)


def bad_response(route: str, what: str, where: str, secrets: Iterable[str]) -> JiandaoyunRetriable:
    """A 2xx whose JSON lacks what the route promises (``data``, ``success_ids``, ...)."""
    return JiandaoyunRetriable("JDY_BAD_RESPONSE", scrub(f"{route}: {what}", secrets), where)


# --------------------------------------------------------------------------- webhook ingress

#: reason code -> the HTTP status the ingress answers with (the issue-6 contract: bad signature
#: 401, stale timestamp or replayed nonce 401/409)
WEBHOOK_STATUS = {
    "JDY_SIGNATURE_MISSING": 401,
    "JDY_SIGNATURE_INVALID": 401,
    "JDY_TIMESTAMP_INVALID": 401,
    "JDY_TIMESTAMP_STALE": 401,
    "JDY_NONCE_REPLAYED": 409,
    "JDY_BODY_TOO_LARGE": 413,
    "JDY_BODY_MALFORMED": 400,
    "JDY_UNKNOWN_OP": 422,
    "JDY_UNKNOWN_FORM": 422,
}


class WebhookRejected(SkippableError):
    """One pushed delivery refused: store nothing as valid, answer ``http_status`` with the line.

    Skippable: the delivery is one bad record, not a broken hub. ``where`` names the delivery
    (``jiandaoyun:webhook`` plus the nonce or the record id when known), never the secret.
    """

    def __init__(self, code: str, message: str, where: str = "jiandaoyun:webhook") -> None:
        super().__init__(code, message, where)
        self.http_status = WEBHOOK_STATUS.get(code, 400)

    def located(self, where: str) -> "WebhookRejected":
        inner = f"{where}:{self.where}" if self.where else where
        return type(self)(self.code, self.message, inner)
