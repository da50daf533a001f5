"""Every U9 failure is classified here, and only here (fatal / retriable / skippable).

Classic SOAP (``hook.py``, zeep):

| what the wire says | class | code |
| --- | --- | --- |
| timeout, connection refused/reset (also mid-body), HTTP 5xx/429 without a SOAP fault | RetriableError | U9_UNAVAILABLE |
| HTTP 4xx (wrong base path, 415) | FatalError | U9_HTTP |
| a reply that is not XML / not a SOAP envelope | RetriableError | U9_BAD_RESPONSE |
| a reply with a DTD, entity declaration or external reference (XXE, billion laughs) | FatalError | U9_XML_FORBIDDEN |
| fault detail ``ServiceLostException`` (after the one immediate repeat) | RetriableError | U9_SERVICE_LOST |
| ``ServiceException`` ``ContextInvalid`` (unknown enterprise/org/user) | FatalError | U9_CONTEXT_INVALID |
| ``ServiceException`` ``ServerBusy`` | RetriableError | U9_BUSY |
| ``ServiceException`` ``BusinessValidation`` on a write | SkippableError | U9_REJECTED |
| any other ``s:Client`` fault (ActionNotSupported, bad parameter) | FatalError | U9_CONTRACT |
| any other ``s:Server`` fault | RetriableError | U9_SERVER_FAULT |
| the WSDL cannot be loaded or lacks the contract | FatalError | U9_WSDL |

U9 Cloud REST (``cloud_hook.py``):

| what the wire says | class | code |
| --- | --- | --- |
| timeout, connection errors, HTTP 5xx/429 | RetriableError | U9C_UNAVAILABLE |
| HTTP 4xx other than 401/429 | FatalError | U9C_HTTP |
| a body that is not JSON or not the ``ApiResult`` envelope | RetriableError | U9C_BAD_RESPONSE |
| ResCode 402/504 or HTTP 401 again right after a fresh login | FatalError | U9C_TOKEN_LOST |
| login ResCode != 0; ResCode 401/403/405-408/501/503/601 | FatalError | U9C_AUTH |
| ResCode 404 (route), 502 (parameter) | FatalError | U9C_REQUEST |
| ResCode 500 naming an invalid column/object | FatalError | U9C_SCHEMA |
| ResCode 500 otherwise | RetriableError | U9C_SERVER_ERROR |
| a failed row (``m_isSucess: false``) of a write | SkippableError | U9C_REJECTED |

A single 402/504 (token expired or re-issued elsewhere) and a single ServiceLostException are
not error classes: the hooks log in again / repeat once. INFERRED: the fault detail member
``ErrorCode`` and its values, the meaning of a bare ResCode 500 (the notes: "internal error").
Messages carry evidence (system, service, document, field, U9's own text) and are scrubbed of
every configured secret and the current token before they are raised.
"""
from __future__ import annotations

from typing import Any, Iterable, NoReturn, Optional
from urllib.parse import quote, quote_plus

import requests

from adapters import http_errors
from adapters.u9.retry import mark
from hub.errors import FatalError, HubError, RetriableError, SkippableError

_SNIPPET = 200
#: ResCodes of the official table (§1.2) that no retry or re-login can fix
AUTH_CODES = {401, 403, 405, 406, 407, 408, 501, 503, 601}
TOKEN_CODES = {402, 504}
_SCHEMA_HINTS = ("列名", "对象名", "invalid column", "invalid object")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace any secret (raw or URL-encoded: the login GET carries it in the query) by ***."""
    return http_errors.scrub(text, (form for secret in secrets if secret
                                    for form in {secret, quote(secret, safe=""), quote_plus(secret, safe="")}))


def _raise(cls: type[HubError], code: str, message: str, where: str, secrets: Iterable[str]) -> NoReturn:
    raise cls(code, scrub(message, secrets), where)


def from_transport(exc: requests.RequestException, system: str, call: str, where: str,
                   secrets: Iterable[str]) -> HubError:
    """A request that never produced a (whole) response: always worth a retry later."""
    if isinstance(exc, requests.Timeout):
        what = "timed out"
    elif isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        what = "connection failed or was cut mid-reply"
    else:
        what = "request failed"
    code = "U9C_UNAVAILABLE" if system == "u9cloud" else "U9_UNAVAILABLE"
    # the exception names host and path (and, for the login GET, the query: scrubbed)
    error = RetriableError(code, scrub(f"{call} {what}: {type(exc).__name__}: {exc}", secrets), where)
    return mark(error, unprocessed=isinstance(exc, requests.ConnectTimeout))


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None  # an HTTP-date: the backoff applies


def http_status(status: int, body: str, system: str, call: str, where: str, secrets: Iterable[str],
                retry_after: Optional[str] = None) -> HubError:
    """An HTTP status the protocol layer cannot handle itself."""
    prefix = "U9C" if system == "u9cloud" else "U9"
    if status >= 500 or status == 429:
        wait = f"; server asks to retry after {retry_after}s" if retry_after else "; retry later"
        error = RetriableError(f"{prefix}_UNAVAILABLE",
                               scrub(f"{call} answered HTTP {status}: {body[:_SNIPPET]!r}{wait}", secrets), where)
        # 429: refused before any work was done, so even a write may be sent again
        return mark(error, _seconds(retry_after), unprocessed=status == 429)
    return FatalError(f"{prefix}_HTTP",
                      scrub(f"{call} answered HTTP {status}: {body[:_SNIPPET]!r}; check host/schema of the connection",
                            secrets), where)


# --------------------------------------------------------------------------- classic SOAP


def xml_forbidden(exc: Exception, call: str, where: str) -> FatalError:
    """zeep refused a DTD/entity/external reference: a hostile or broken reply, never parsed."""
    return FatalError("U9_XML_FORBIDDEN",
                      f"{call}: reply refused, it declares a DTD or entities ({type(exc).__name__}); nothing of it "
                      f"was read. Check what sits between the hub and U9 (proxy, WAF) before retrying", where)


def bad_xml(call: str, status: Optional[int], where: str) -> RetriableError:
    return RetriableError("U9_BAD_RESPONSE",
                          f"{call} answered HTTP {status or '?'} with a body that is not a SOAP envelope; retry later",
                          where)


def fault_detail(detail: Any) -> tuple[str, dict[str, str]]:
    """(detail type local name, {member: text}) of a SOAP fault's ``<detail>`` (an lxml element)."""
    if detail is None:
        return "", {}
    node = next((child for child in detail if isinstance(child.tag, str)), None)
    if node is None:
        return "", {}
    members = {}
    for child in node:
        if isinstance(child.tag, str):
            members[child.tag.rsplit("}", 1)[-1]] = (child.text or "").strip()
    return node.tag.rsplit("}", 1)[-1], members


def from_fault(message: str, faultcode: Optional[str], detail: Any, call: str, document: str, where: str,
               write: bool) -> HubError:
    """A SOAP fault -> the taxonomy. ``document`` names what was being read or written."""
    detail_type, members = fault_detail(detail)
    text = members.get("Message") or message or "no fault text"
    error_code = members.get("ErrorCode", "")
    local_code = (faultcode or "").rsplit(":", 1)[-1]
    subject = f"{call} on {document}" if document else call
    if detail_type == "ServiceLostException":
        return RetriableError("U9_SERVICE_LOST", f"{subject}: U9 lost the service call twice in a row ({text})",
                              where)
    if error_code == "ContextInvalid":
        return FatalError("U9_CONTEXT_INVALID",
                          f"{subject}: U9 refused the login context ({text}); check extras enterprise_id/org_id/"
                          f"user_id of the connection", where)
    if error_code == "ServerBusy":
        return RetriableError("U9_BUSY", f"{subject}: {text}; retry later", where)
    if error_code == "BusinessValidation":
        field = members.get("AttributeName")
        entity = members.get("EntityFullName")
        doc_no = members.get("DocNo")
        named = ", ".join(p for p in (f"entity {entity}" if entity else "", f"field {field}" if field else "",
                                      f"document {doc_no}" if doc_no and doc_no != document else "") if p)
        if write:
            return SkippableError("U9_REJECTED", f"{subject} rejected by U9: {text}" + (f" ({named})" if named else ""),
                                  where)
        return FatalError("U9_QUERY_FAILED", f"{subject} failed: {text}" + (f" ({named})" if named else ""), where)
    if local_code in ("Client", "VersionMismatch", "MustUnderstand"):
        return FatalError("U9_CONTRACT", f"{subject}: U9 refused the request ({error_code or local_code}: {text}); "
                                         f"the service contract of this site differs", where)
    return RetriableError("U9_SERVER_FAULT",
                          f"{subject}: U9 server fault ({error_code or detail_type or local_code or 'unknown'}: "
                          f"{text[:_SNIPPET]})", where)


def is_service_lost(detail: Any) -> bool:
    return fault_detail(detail)[0] == "ServiceLostException"


# --------------------------------------------------------------------------- U9 Cloud REST


def check_envelope(payload: Any, call: str, where: str, secrets: Iterable[str]) -> tuple[int, str, Any]:
    """(ResCode, ResMsg, Data) of an ``ApiResult`` or RetriableError for anything else."""
    if not isinstance(payload, dict) or "ResCode" not in payload:
        _raise(RetriableError, "U9C_BAD_RESPONSE",
               f"{call}: unexpected response shape {str(payload)[:_SNIPPET]!r} (no ResCode)", where, secrets)
    try:
        code = int(payload.get("ResCode"))
    except (TypeError, ValueError):
        _raise(RetriableError, "U9C_BAD_RESPONSE", f"{call}: ResCode {payload.get('ResCode')!r} is not a number",
               where, secrets)
    return code, str(payload.get("ResMsg") or ""), payload.get("Data")


def from_res_code(code: int, message: str, call: str, where: str, secrets: Iterable[str]) -> HubError:
    """A non-zero ResCode that is not a token problem."""
    text = scrub(message or "no ResMsg", secrets)
    if code in TOKEN_CODES:
        return FatalError("U9C_TOKEN_LOST",
                          f"{call}: token refused again right after a fresh login (ResCode {code}: {text}); another "
                          f"process may log in with the same client_id (each login invalidates the last token)",
                          where)
    if code in AUTH_CODES:
        return FatalError("U9C_AUTH", f"{call}: ResCode {code}: {text}; check the connection's client_id/"
                                      f"password (client secret)/ent_code/org_code/login", where)
    if code in (404, 502):
        return FatalError("U9C_REQUEST", f"{call}: ResCode {code}: {text}; this site does not accept the request "
                                         f"as the hub builds it", where)
    if code == 500 and any(h in text.lower() for h in _SCHEMA_HINTS):
        return FatalError("U9C_SCHEMA", f"{call}: {text}; a table or column the hub reads does not exist on this "
                                        f"site", where)
    return RetriableError("U9C_SERVER_ERROR", f"{call}: ResCode {code}: {text[:_SNIPPET]}; retry later", where)


def login_failed(code: int, message: str, user: str, client_id: str, where: str,
                 secrets: Iterable[str]) -> HubError:
    if code == 500:
        return RetriableError("U9C_SERVER_ERROR", scrub(f"AuthLogin: ResCode 500: {message}; retry later", secrets),
                              where)
    return FatalError("U9C_AUTH", scrub(f"AuthLogin of user {user!r} with client {client_id!r} refused (ResCode "
                                        f"{code}: {message or 'no ResMsg'}); check the connection", secrets), where)


def rejected_row(row: dict[str, Any], call: str, document: str, where: str, secrets: Iterable[str]) -> SkippableError:
    text = row.get("m_errorMsg") or row.get("ErrorMsg") or "no error text"
    return SkippableError("U9C_REJECTED", scrub(f"{call} of {document} rejected by U9: {text}", secrets), where)
