"""Every Kingdee failure is classified here, and only here (fatal / retriable / skippable).

| what the wire says | class | code |
| --- | --- | --- |
| timeout, connection refused/reset, HTTP 5xx, HTTP 429 | RetriableError | KINGDEE_UNAVAILABLE |
| plain-text body ``response_error:...`` (both SDKs treat it as a server fault) | RetriableError | KINGDEE_SERVER_ERROR |
| other HTTP 4xx (wrong base URL, request we built badly) | FatalError | KINGDEE_HTTP |
| 200 with a body that is not JSON (or cut off) | RetriableError | KINGDEE_BAD_RESPONSE |
| MsgCode 14 (call limit) | RetriableError | KINGDEE_RATE_LIMITED |
| a query whose pages keep repeating rows | RetriableError | KINGDEE_PAGING |
| login ``LoginResultType != 1`` | FatalError | KINGDEE_LOGIN_FAILED |
| MsgCode 1 again right after a fresh login | FatalError | KINGDEE_SESSION_LOST |
| MsgCode 9 (field/value does not exist) | FatalError | KINGDEE_SCHEMA |
| ``IsSuccess: false`` on Save/Submit/Audit/View | SkippableError | KINGDEE_REJECTED |
| ``IsSuccess: false`` on a query (bad filter, unknown form) | FatalError | KINGDEE_QUERY_FAILED |

A single MsgCode 1 is not an error class: the hook logs in again once and repeats the call.
Transport-level retriable errors are :class:`KingdeeRetriable`: they also say whether the server
cannot have acted on the request (``unprocessed``: connection refused, HTTP 429) and how long it
asked us to wait (``retry_after``), which is what the hook's own bounded retries need to decide
whether repeating a non-idempotent Save is safe (only when unprocessed).
Messages carry evidence (service, form, bill number, field, Kingdee's own text) and are scrubbed
of every configured secret before they are raised.
"""
from __future__ import annotations

from typing import Any, Iterable

import requests

from adapters import http_errors
from adapters.http_errors import retry_after_seconds, scrub  # noqa: F401 (this module's API; tests use it)
from hub.errors import FatalError, HubError, RetriableError, SkippableError

SESSION_LOST_CODE = 1
SCHEMA_CODE = 9
RATE_LIMIT_CODE = 14
_SNIPPET = 200


class KingdeeRetriable(http_errors.TransportRetriable):
    """A RetriableError from the transport, with what a retry decision needs (repeating a Save is
    safe only when ``unprocessed``)."""


_raise = http_errors.raise_scrubbed


def from_transport(exc: requests.RequestException, service: str, where: str, secrets: Iterable[str]) -> HubError:
    """A request that never produced a (complete) response: always worth a retry later."""
    # the exception text names host and path, never the body (which carries the password on login)
    return http_errors.from_transport(exc, service, "KINGDEE_UNAVAILABLE", where, secrets, KingdeeRetriable)


def check_http(response: requests.Response, service: str, where: str, secrets: Iterable[str]) -> Any:
    """Status line and body shape: return the parsed JSON or raise the classified error."""
    text = response.text or ""
    status = response.status_code
    if http_errors.is_unavailable(status):
        raise http_errors.unavailable(response, service, repr(text[:_SNIPPET]), "KINGDEE_UNAVAILABLE", where, secrets,
                                      KingdeeRetriable)
    if status >= 400:
        _raise(FatalError, "KINGDEE_HTTP",
               f"{service} answered HTTP {status}: {text[:_SNIPPET]!r}; check base_url/schema of the connection",
               where, secrets)
    if text.lstrip().startswith("response_error:"):
        _raise(KingdeeRetriable, "KINGDEE_SERVER_ERROR", f"{service}: {text.strip()[:_SNIPPET]}", where, secrets)
    try:
        return response.json()
    except ValueError:
        _raise(KingdeeRetriable, "KINGDEE_BAD_RESPONSE",
               f"{service} answered HTTP {status} with a body that is not JSON: {text[:_SNIPPET]!r}", where, secrets)


def _status_of(payload: Any) -> dict[str, Any] | None:
    """The ``ResponseStatus`` object of any of the envelopes (flat, §3, nested-array query error)."""
    while isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], (list, dict)):
        payload = payload[0]
    if not isinstance(payload, dict):
        return None
    result = payload.get("Result")
    if isinstance(result, dict) and isinstance(result.get("ResponseStatus"), dict):
        return result["ResponseStatus"]
    if isinstance(payload.get("ResponseStatus"), dict):
        return payload["ResponseStatus"]
    if "MsgCode" in payload or "ErrorCode" in payload:
        return payload
    return None


def _msg_code(status: dict[str, Any]) -> int | None:
    try:
        return int(status.get("MsgCode"))
    except (TypeError, ValueError):
        return None


def _is_success(status: dict[str, Any]) -> bool:
    value = status.get("IsSuccess")
    if value is None:  # the flat error body has no IsSuccess; an ErrorCode means failure
        return not status.get("ErrorCode")
    return value is True or str(value).lower() == "true"  # the doc template uses the string "false"


def is_session_lost(payload: Any) -> bool:
    status = _status_of(payload)
    return status is not None and _msg_code(status) == SESSION_LOST_CODE and not _is_success(status)


def _details(status: dict[str, Any]) -> str:
    errors = status.get("Errors") or []
    parts = []
    for err in errors if isinstance(errors, list) else []:
        if isinstance(err, dict):
            name = err.get("FieldName")
            parts.append(f"{name}: {err.get('Message')}" if name else str(err.get("Message")))
    if not parts and status.get("Message"):
        parts.append(str(status["Message"]))
    return "; ".join(parts) or "no error detail returned"


def check_login(payload: Any, username: str, acct_id: str, where: str, secrets: Iterable[str]) -> str:
    """Return the session id of a successful login, or raise KINGDEE_LOGIN_FAILED (never naming the password)."""
    if isinstance(payload, dict) and str(payload.get("LoginResultType")) == "1":
        session_id = payload.get("KDSVCSessionId") or (payload.get("Context") or {}).get("SessionId")
        if session_id:
            return str(session_id)
    message = payload.get("Message") if isinstance(payload, dict) else None
    result_type = payload.get("LoginResultType") if isinstance(payload, dict) else None
    _raise(FatalError, "KINGDEE_LOGIN_FAILED",
           f"login of user {username!r} to data centre {acct_id!r} refused (LoginResultType={result_type}, "
           f"{message or 'no message'}); check login/password/acct_id of the connection", where, secrets)


def check_operation(payload: Any, service: str, form_id: str, bill: str, where: str,
                    secrets: Iterable[str]) -> dict[str, Any]:
    """A §3 envelope (Save/Submit/Audit/View): return ``Result`` or raise the classified error."""
    status = _status_of(payload)
    if status is None:
        if isinstance(payload, dict) and isinstance(payload.get("Result"), dict):
            return payload["Result"]  # View success: ResponseStatus is null
        _raise(RetriableError, "KINGDEE_BAD_RESPONSE",
               f"{service} on {form_id} {bill}: unexpected response shape {str(payload)[:_SNIPPET]!r}", where, secrets)
    if _is_success(status):
        return payload["Result"]
    code = _msg_code(status)
    detail = _details(status)
    if code == SCHEMA_CODE:
        _raise(FatalError, "KINGDEE_SCHEMA",
               f"{service} on {form_id} {bill}: {detail}; the field keys do not match this Kingdee site", where, secrets)
    if code == SESSION_LOST_CODE:
        _raise(FatalError, "KINGDEE_SESSION_LOST",
               f"{service} on {form_id} {bill}: session lost again right after a fresh login", where, secrets)
    if code == RATE_LIMIT_CODE:
        _raise(RetriableError, "KINGDEE_RATE_LIMITED",
               f"{service} on {form_id} {bill}: call limit reached (MsgCode 14): {detail}", where, secrets)
    _raise(SkippableError, "KINGDEE_REJECTED",
           f"{service} of {form_id} bill {bill} rejected (MsgCode {code}): {detail}", where, secrets)


def check_query(payload: Any, form_id: str, where: str, secrets: Iterable[str]) -> list[list[Any]]:
    """ExecuteBillQuery: rows as a list of lists, or the nested-array error envelope."""
    status = _status_of(payload) if not (isinstance(payload, list) and all(
        isinstance(r, list) and not (len(r) == 1 and isinstance(r[0], dict)) for r in payload)) else None
    if status is None and isinstance(payload, list):
        return payload
    if status is None:
        _raise(RetriableError, "KINGDEE_BAD_RESPONSE",
               f"ExecuteBillQuery on {form_id}: unexpected response shape {str(payload)[:_SNIPPET]!r}", where, secrets)
    code = _msg_code(status)
    detail = _details(status)
    if code == SCHEMA_CODE:
        _raise(FatalError, "KINGDEE_SCHEMA",
               f"ExecuteBillQuery on {form_id}: {detail}; fix the field keys for this Kingdee site", where, secrets)
    if code == SESSION_LOST_CODE:
        _raise(FatalError, "KINGDEE_SESSION_LOST",
               f"ExecuteBillQuery on {form_id}: session lost again right after a fresh login", where, secrets)
    if code == RATE_LIMIT_CODE:
        _raise(RetriableError, "KINGDEE_RATE_LIMITED",
               f"ExecuteBillQuery on {form_id}: call limit reached (MsgCode 14): {detail}", where, secrets)
    _raise(FatalError, "KINGDEE_QUERY_FAILED",
           f"ExecuteBillQuery on {form_id} failed (MsgCode {code}): {detail}; check FormId and FilterString",
           where, secrets)
