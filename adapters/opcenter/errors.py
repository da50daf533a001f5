"""Every Opcenter failure is classified here, and only here (fatal / retriable / skippable).

| what the wire says | class | code |
| --- | --- | --- |
| timeout, connection refused/reset, HTTP 5xx, HTTP 429 (+ ``Retry-After``) | RetriableError | OPCENTER_UNAVAILABLE |
| HTTP 200 whose body is not the JSON expected (cut off, HTML, XML) | RetriableError | OPCENTER_BAD_RESPONSE |
| HTTP 401 on a ``/sit-svc`` call (token expired) | RetriableError | OPCENTER_TOKEN_EXPIRED (the hook gets a new token and repeats once) |
| HTTP 401 again right after a fresh token | FatalError | OPCENTER_TOKEN_REFUSED |
| token endpoint answers 400/401 (``invalid_client``, ``invalid_grant``) | FatalError | OPCENTER_AUTH_FAILED |
| HTTP 403 | FatalError | OPCENTER_FORBIDDEN |
| HTTP 404 (wrong app, entity set, command or plant id) | FatalError | OPCENTER_NOT_FOUND |
| HTTP 400 on a read (a ``$filter`` this server does not take) | FatalError | OPCENTER_QUERY_INVALID |
| HTTP 400 on a command, or ``Succeeded: false`` | SkippableError | OPCENTER_REJECTED |
| an XML reply that declares a DTD (XXE, entity bomb) | FatalError | OPCENTER_XML_REFUSED |
| a record the hub cannot send (missing or bad field) | SkippableError | OPCENTER_BAD_RECORD |

Command failures come in both documented shapes, ``{"Error": {"ErrorCode", "ErrorMessage"}}`` and
OData ``{"error": {"code", "message"}}``, or as plain text. Transport-level retriable errors are
:class:`OpcenterRetriable`: they say whether the server cannot have acted on the request
(``unprocessed``: connection refused, 429, 401) and how long it asked us to wait
(``retry_after``), which is what deciding to repeat a command needs. Messages carry evidence
(call, record key, field, the server's text) and are scrubbed of every secret and token before
they are raised.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

import requests

from adapters import http_errors
from adapters.b2mml.safe_xml import parse_untrusted
from adapters.http_errors import retry_after_seconds, scrub  # noqa: F401 (this module's API)
from hub.errors import FatalError, HubError, SkippableError

_SNIPPET = 200


class OpcenterRetriable(http_errors.TransportRetriable):
    """A RetriableError with what a retry decision needs (repeating a command is safe only when ``unprocessed``)."""


class TokenExpired(OpcenterRetriable):
    """HTTP 401 on a service call: refused before anything was done; get a new token and repeat."""


_raise = http_errors.raise_scrubbed


def bad_record(what: str, key: str, field: str, problem: str, where: str) -> SkippableError:
    """One record the hub cannot send: names the record and the field."""
    return SkippableError("OPCENTER_BAD_RECORD", f"{what} {key}: field {field} {problem}", where)


def from_transport(exc: requests.RequestException, call: str, where: str, secrets: Iterable[str]) -> OpcenterRetriable:
    """A request that never produced a complete response: worth a retry later."""
    return http_errors.from_transport(exc, call, "OPCENTER_UNAVAILABLE", where, secrets, OpcenterRetriable)


def _is_xml(response: requests.Response) -> bool:
    ctype = response.headers.get("Content-Type", "").lower()
    return "xml" in ctype or response.content.lstrip()[:5] in (b"<?xml", b"<!DOC")


def server_message(response: requests.Response) -> str:
    """The server's own words from an error body, whatever shape it came in (never raises)."""
    if _is_xml(response):
        try:
            root = parse_untrusted(response.content, "reply", "OPCENTER_XML", max_bytes=1 << 20)
        except HubError as exc:
            return f"XML body refused ({exc.code})"
        texts = [t.strip() for t in root.itertext() if t.strip()]
        return " ".join(texts)[:_SNIPPET] or "empty XML body"
    try:
        payload = response.json()
    except ValueError:
        return repr((response.text or "")[:_SNIPPET])
    if isinstance(payload, dict):
        error = payload.get("Error", payload.get("error"))
        if isinstance(error, dict):
            code = error.get("ErrorCode", error.get("code"))
            message = error.get("ErrorMessage", error.get("message"))
            if isinstance(message, dict):  # OData v3 style {"message": {"value": ...}}
                message = message.get("value")
            return f"{message or 'no message'} (code {code})" if code not in (None, "", 0) else str(message)
        if isinstance(error, str):
            return error
        for key in ("error_description", "Message", "message"):
            if payload.get(key):
                return str(payload[key])
    if isinstance(payload, str):
        return payload[:_SNIPPET]
    return json.dumps(payload, ensure_ascii=False)[:_SNIPPET]


def _transient(response: requests.Response, call: str, where: str, secrets: Iterable[str]) -> None:
    if http_errors.is_unavailable(response.status_code):
        raise http_errors.unavailable(response, call, server_message(response), "OPCENTER_UNAVAILABLE", where,
                                      secrets, OpcenterRetriable)


def _json_body(response: requests.Response, call: str, where: str, secrets: Iterable[str]) -> Any:
    if _is_xml(response):
        _raise(OpcenterRetriable, "OPCENTER_BAD_RESPONSE",
               f"{call} answered HTTP {response.status_code} with an XML body where JSON was expected "
               f"(not parsed)", where, secrets)
    try:
        return response.json()
    except ValueError:
        _raise(OpcenterRetriable, "OPCENTER_BAD_RESPONSE",
               f"{call} answered HTTP {response.status_code} with a body that is not JSON: "
               f"{(response.text or '')[:_SNIPPET]!r}", where, secrets)


def check_token(response: requests.Response, where: str, secrets: Iterable[str]) -> dict[str, Any]:
    """The token endpoint's answer: ``{"access_token", "expires_in", ...}`` or a classified error."""
    _transient(response, "token request", where, secrets)
    if response.status_code in (400, 401, 403):
        # the body names the OAuth error (invalid_client, invalid_grant); it never echoes the secret,
        # and scrubbing makes sure of it
        _raise(FatalError, "OPCENTER_AUTH_FAILED",
               f"token request refused (HTTP {response.status_code}): {server_message(response)}; check the "
               f"client id/secret (login/password or extras client_id/client_secret) and grant_type of the connection",
               where, secrets)
    if response.status_code >= 400:
        _raise(FatalError, "OPCENTER_NOT_FOUND",
               f"token request answered HTTP {response.status_code}: {server_message(response)}; check host, "
               f"path and token_path of the connection", where, secrets)
    payload = _json_body(response, "token request", where, secrets)
    if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str) or not payload["access_token"]:
        _raise(OpcenterRetriable, "OPCENTER_BAD_RESPONSE", "token request answered without an access_token",
               where, secrets)
    return payload


def _refused(response: requests.Response, call: str, where: str, secrets: Iterable[str]) -> None:
    status = response.status_code
    if status == 401:
        _raise(TokenExpired, "OPCENTER_TOKEN_EXPIRED", f"{call} answered HTTP 401 (token expired or revoked)",
               where, secrets, unprocessed=True)
    if status == 403:
        _raise(FatalError, "OPCENTER_FORBIDDEN",
               f"{call} answered HTTP 403: {server_message(response)}; the integration user lacks a role for it",
               where, secrets)
    if status == 404:
        _raise(FatalError, "OPCENTER_NOT_FOUND",
               f"{call} answered HTTP 404: {server_message(response)}; check the app, entity set or command names "
               f"and plant_id of the connection", where, secrets)


def check_read(response: requests.Response, call: str, where: str, secrets: Iterable[str]) -> dict[str, Any]:
    """An OData collection read: ``{"value": [...], ...}`` or a classified error."""
    _transient(response, call, where, secrets)
    _refused(response, call, where, secrets)
    if response.status_code >= 400:
        _raise(FatalError, "OPCENTER_QUERY_INVALID",
               f"{call} answered HTTP {response.status_code}: {server_message(response)}; the query does not fit "
               f"this server", where, secrets)
    payload = _json_body(response, call, where, secrets)
    if not isinstance(payload, dict) or not isinstance(payload.get("value"), list) \
            or not all(isinstance(row, dict) for row in payload["value"]):
        _raise(OpcenterRetriable, "OPCENTER_BAD_RESPONSE",
               f"{call} answered without an OData 'value' list of entities: {str(payload)[:_SNIPPET]!r}",
               where, secrets)
    return payload


def check_command(response: requests.Response, call: str, where: str, secrets: Iterable[str]) -> dict[str, Any]:
    """A command's output parameters (top-level properties) or a classified error."""
    _transient(response, call, where, secrets)
    _refused(response, call, where, secrets)
    if response.status_code >= 400:
        _raise(SkippableError, "OPCENTER_REJECTED",
               f"{call} rejected (HTTP {response.status_code}): {server_message(response)}", where, secrets)
    payload = _json_body(response, call, where, secrets)
    if not isinstance(payload, dict):
        _raise(OpcenterRetriable, "OPCENTER_BAD_RESPONSE", f"{call} answered {str(payload)[:_SNIPPET]!r}, not an object",
               where, secrets)
    if payload.get("Succeeded") is False:
        error = payload.get("Error") if isinstance(payload.get("Error"), dict) else {}
        _raise(SkippableError, "OPCENTER_REJECTED",
               f"{call} rejected (Succeeded false): {error.get('ErrorMessage') or 'no message'} "
               f"(code {error.get('ErrorCode')})", where, secrets)
    return payload


def check_metadata(response: requests.Response, call: str, where: str, secrets: Iterable[str]):
    """An OData ``$metadata`` (CSDL XML) document, parsed without DTDs, entities or network."""
    _transient(response, call, where, secrets)
    _refused(response, call, where, secrets)
    if response.status_code >= 400:
        _raise(FatalError, "OPCENTER_QUERY_INVALID",
               f"{call} answered HTTP {response.status_code}: {server_message(response)}", where, secrets)
    try:
        return parse_untrusted(response.content, where, "OPCENTER_XML", max_bytes=16 << 20)
    except SkippableError as exc:
        if exc.code == "OPCENTER_XML_DTD_FORBIDDEN":
            _raise(FatalError, "OPCENTER_XML_REFUSED",
                   f"{call} answered XML that declares a DTD; refused unparsed (DTDs carry XXE and entity bombs)",
                   where, secrets)
        _raise(OpcenterRetriable, "OPCENTER_BAD_RESPONSE", f"{call}: {exc.message}", where, secrets)
