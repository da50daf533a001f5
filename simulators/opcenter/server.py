"""Siemens Opcenter Execution Foundation simulator: OAuth2 token + OData v4 reads + commands (protocols/opcenter.md §2).

A real HTTP server (simulators/base.py) so the adapter is tested against the wire:

* ``POST /sit-auth/OAuth/Token`` (path case-insensitive): form ``grant_type`` ``client_credentials``
  (INFERRED; the notes show only ``password``), ``password`` (``username``, ``password``) or
  ``refresh_token``; client authentication by HTTP Basic or ``client_id``/``client_secret`` form
  fields; answers ``{"access_token", "token_type", "expires_in"[, "refresh_token"]}``; a bad client
  is HTTP 401 ``{"error": "invalid_client"}``, a bad user or refresh token HTTP 400
  ``{"error": "invalid_grant"}`` (RFC 6749 §5.2 shapes, INFERRED for Opcenter);
* ``GET /sit-svc[/{plantId}]/Application/{App}/odata/{EntitySet}`` with ``$filter``, ``$orderby``,
  ``$top``, ``$skip``, ``$count``, ``$select`` (simulators/opcenter/odata.py) ->
  ``{"@odata.context", ["@odata.count",] "value", ["@odata.nextLink"]}``; pages are capped at
  ``state.max_page_size`` with a next link (server-driven paging, standard OData, INFERRED);
* ``GET .../odata/$metadata``: a CSDL XML document naming the app's entity sets and actions;
* ``POST .../odata/{Command}`` with ``{"command": {...}}``: HTTP 200 with the output parameters as
  top-level properties plus ``Succeeded`` / ``Error``; business failures HTTP 400 in either
  documented shape (``{"Error": {"ErrorCode", "ErrorMessage"}}`` or ``{"error": {"code", "message"}}``);
* a missing, unknown or expired Bearer token is HTTP 401; an unknown app, set, command or plant
  id is HTTP 404 (OData error body); a bad query option HTTP 400; a body over 1 MiB HTTP 413.

Faults (simulators/opcenter/faults.py) are taken after routing and before authentication, the
way a proxy or a crashing app pool would, or with ``after`` once the call did its work.
EXTENSION admin endpoints under ``/__sim/`` (not Opcenter; no auth; bind to 127.0.0.1):
``GET|POST /__sim/faults``, ``POST /__sim/expire-tokens``, ``POST /__sim/consume``, ``POST /__sim/produce``,
``GET /__sim/stats`` (see ``admin.py``).
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from simulators.base import ConnectionControlMixin, SimulatorServer
from simulators.opcenter import admin, odata
from simulators.opcenter.faults import Fault
from simulators.opcenter.state import APPS, COMMANDS, FIELDS, CommandError, OpcenterState, seed_demo

log = logging.getLogger(__name__)

HARD_BODY_LIMIT = 16 << 20
_TOKEN_PATH = re.compile(r"^/sit-auth/oauth/token/?$", re.IGNORECASE)
_SERVICE_PATH = re.compile(r"^/sit-svc(?:/(?P<plant>[^/]+))?/application/(?P<app>[^/]+)/odata/(?P<name>[^/]+)/?$",
                           re.IGNORECASE)
_QUERY_OPTIONS = {"$filter", "$orderby", "$top", "$skip", "$count", "$select", "$expand", "$format"}

XML_BOMB = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
                       for i in range(1, 10))
            + b']>\n<error><message>&lol9;</message></error>\n')
XML_XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE error [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           b'<error><message>&xxe;</message></error>\n')


class OpcenterHandler(ConnectionControlMixin, BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "OpcenterSim/1.0"
    _capture: Optional[list[tuple[int, str, bytes, dict[str, str]]]] = None

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    @property
    def state(self) -> OpcenterState:
        return self.server.state  # type: ignore[return-value]

    # -- plumbing
    def _send(self, status: int, payload: Any = None, *, raw: Optional[bytes] = None, ctype: str = "application/json",
              headers: Optional[dict[str, str]] = None) -> None:
        body = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        if self._capture is not None:
            self._capture.append((status, ctype, body, headers or {}))
            return
        self.write_answer(status, ctype, body, headers)

    def _error(self, status: int, code: str, message: str, headers: Optional[dict[str, str]] = None) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, headers=headers)

    def _read_body(self) -> Optional[bytes]:
        return self.read_sized_body(self.state.max_body_bytes, HARD_BODY_LIMIT, self._refuse_body, missing_length=0)

    def _refuse_body(self, reason: str, length: int) -> None:
        if reason == "chunked":
            self._error(411, "LengthRequired", "chunked bodies are not accepted; send Content-Length")
        elif reason == "length":
            self._error(400, "BadRequest", "Content-Length is not a number")
        else:
            self._error(413, "PayloadTooLarge", f"body of {length} bytes exceeds {self.state.max_body_bytes}")

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._guarded("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._guarded("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._guarded("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._guarded("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._guarded("DELETE")

    def _guarded(self, method: str) -> None:
        self._capture = None
        try:
            self._handle(method)
        except Exception:  # a simulator bug must still answer, as a real server's 500 would
            log.exception("opcenter simulator failed on %s %s", method, self.path)
            self._capture = None
            self.close_connection = True
            self._error(500, "InternalServerError", "simulator internal error (see server log)")

    # -- routing
    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        if path.startswith(admin.PREFIX):
            raw = self._read_body() if method == "POST" else b""
            if raw is not None:
                status, payload = admin.handle(self.state, method, path, raw)
                self._send(status, payload)
            return
        body = self._read_body() if method in ("POST", "PUT", "PATCH") else b""
        if body is None:
            return
        if _TOKEN_PATH.match(path):
            self.state.calls.append("token")
            self._with_faults("token", lambda: self._token(method, body))
            return
        match = _SERVICE_PATH.match(path)
        if match is None:
            self._error(404, "NotFound", f"no resource at {path}")
            return
        app = next((a for a in APPS if a.lower() == match["app"].lower()), None)
        name = match["name"]
        plant = match["plant"]
        if plant is not None and plant != self.state.plant_id:
            self._error(404, "NotFound", f"plant {plant!r} is not served here")
            return
        if app is None:
            self._error(404, "NotFound", f"application {match['app']!r} does not exist")
            return
        self.state.calls.append(f"{method} {name}")
        if method == "GET" and name == "$metadata":
            self._with_faults(name, lambda: self._authorized(lambda: self._metadata(app)))
        elif method == "GET" and name in APPS[app]:
            self._with_faults(name, lambda: self._authorized(lambda: self._read(app, name, parts.query)))
        elif method == "POST" and name in COMMANDS[app]:
            self._with_faults(name, lambda: self._authorized(lambda: self._command(app, name, body)))
        elif name in APPS[app] or name in COMMANDS[app]:
            self._error(405, "MethodNotAllowed", f"{method} is not allowed on {app}/{name}")
        else:
            self._error(404, "NotFound", f"{app} has no entity set or command {name!r}")

    def _with_faults(self, service: str, work: Any) -> None:
        fault = self.state.faults.take(service)
        if fault is not None and not fault.after and self._fault_before(fault):
            return
        if fault is not None and fault.after:
            self._capture = []
        work()
        if fault is not None and fault.after:
            captured, self._capture = self._capture, None
            self._spoil(fault, captured[0] if captured else None)

    def _fault_before(self, fault: Fault) -> bool:
        """Apply a fault instead of the call; False when the call should still run (latency, expiry)."""
        if fault.kind == "latency":
            time.sleep(fault.delay)
            return False
        if fault.kind == "token_expired":
            self.state.expire_tokens()
            return False
        if fault.kind == "http429":
            self._error(429, "TooManyRequests", "rate limit exceeded (simulated)",
                        headers={"Retry-After": f"{fault.retry_after:g}"})
            return True
        if fault.kind == "xml_bomb":
            self._send(200, raw=XML_BOMB, ctype="application/xml")
            return True
        if fault.kind == "xml_xxe":
            self._send(200, raw=XML_XXE, ctype="application/xml")
            return True
        self._spoil(fault, None)
        return True

    def _spoil(self, fault: Fault, answer: Optional[tuple[int, str, bytes, dict[str, str]]]) -> None:
        kind = fault.kind
        if kind in ("http500", "http503"):
            self.close_connection = True
            status = 500 if kind == "http500" else 503
            self._send(status, raw=f"<html><body><h1>{status} Server Error (simulated)</h1></body></html>".encode(),
                       ctype="text/html")
        elif kind == "malformed_json":
            body = answer[2] if answer else b'{"@odata.context": "$metadata#Order", "value": [{"Id": "x"}]}'
            # a complete HTTP answer whose JSON is cut off (unlike reset, the length matches)
            self.write_answer(200, "application/json", body[: max(1, len(body) // 2)])
        elif kind == "timeout":
            self.state.wait_stalled()
            self.drop_connection()
        elif kind == "disconnect":
            self.drop_connection()
        elif kind == "reset":
            status, ctype, body, headers = answer or (200, "application/json", b'{"value": []}' * 32, {})
            self.write_answer(status, ctype, body, headers, body=body[: len(body) // 2])
            self.reset_connection()
        else:  # pragma: no cover - Fault validates kinds
            raise AssertionError(kind)

    # -- auth
    def _bearer(self) -> Optional[str]:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _authorized(self, work: Any) -> None:
        token = self._bearer()
        if token is None or not self.state.token_valid(token):
            self._error(401, "Unauthorized", "missing, unknown or expired access token",
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return
        work()

    def _client(self, form: dict[str, str]) -> Optional[tuple[str, str]]:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            client_id, sep, secret = decoded.partition(":")
            return (client_id, secret) if sep else None
        if form.get("client_id"):
            return form["client_id"], form.get("client_secret", "")
        return None

    def _token(self, method: str, body: bytes) -> None:
        if method != "POST":
            self._send(405, {"error": "invalid_request", "error_description": "use POST"})
            return
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            self._send(400, {"error": "invalid_request",
                             "error_description": "the body must be application/x-www-form-urlencoded"})
            return
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
        except UnicodeDecodeError:
            self._send(400, {"error": "invalid_request", "error_description": "the body is not UTF-8"})
            return
        client = self._client(form)
        if client is None or not self.state.check_client(*client):
            self._send(401, {"error": "invalid_client", "error_description": "client authentication failed"},
                       headers={"WWW-Authenticate": 'Basic realm="sit-auth"'})
            return
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            self._send(200, self.state.issue_token(client[0], None, grant))
        elif grant == "password":
            user = form.get("username", "")
            if not self.state.check_user(user, form.get("password", "")):
                self._send(400, {"error": "invalid_grant", "error_description": "the user name or password is wrong"})
                return
            self._send(200, self.state.issue_token(client[0], user, grant))
        elif grant == "refresh_token":
            with self.state.lock:
                entry = self.state.refresh_tokens.pop(form.get("refresh_token", ""), None)
            if entry is None or entry[0] != client[0]:
                self._send(400, {"error": "invalid_grant", "error_description": "unknown or used refresh token"})
                return
            self._send(200, self.state.issue_token(client[0], entry[1], grant))
        else:
            self._send(400, {"error": "unsupported_grant_type",
                             "error_description": f"grant_type {grant!r} is not supported"})

    # -- reads
    def _context(self, app: str, name: str) -> str:
        host = self.headers.get("Host", "localhost")
        return f"http://{host}/sit-svc/Application/{app}/odata/$metadata#{name}"

    def _read(self, app: str, name: str, query: str) -> None:
        try:
            options = _query_options(query)
            skip = _int_option(options, "$skip", 0) or 0
            top = _int_option(options, "$top", None)
            rows = self._select_rows(name, options)
        except odata.ODataError as exc:
            self._error(400, "InvalidQuery", str(exc))
            return
        total = len(rows)
        limit = self.state.max_page_size if top is None else min(top, self.state.max_page_size)
        page = rows[skip: skip + limit]
        payload: dict[str, Any] = {"@odata.context": self._context(app, name)}
        if options.get("$count", "").lower() == "true":
            payload["@odata.count"] = total
        select = [s.strip() for s in options.get("$select", "").split(",") if s.strip()]
        payload["value"] = [{k: row.get(k) for k in select} if select else row for row in page]
        wanted = total - skip if top is None else min(top, total - skip)
        if len(page) < wanted:
            rest = {**options, "$skip": str(skip + len(page))}
            if top is not None:
                rest["$top"] = str(top - len(page))
            payload["@odata.nextLink"] = (f"http://{self.headers.get('Host', 'localhost')}"
                                          f"{urlsplit(self.path).path}?" + "&".join(f"{k}={v}" for k, v in rest.items()))
        self._send(200, payload)

    def _select_rows(self, name: str, options: dict[str, str]) -> list[dict[str, Any]]:
        fields = set(FIELDS[name])
        predicate = odata.parse_filter(options["$filter"], fields) if options.get("$filter") else None
        order = odata.parse_orderby(options["$orderby"], fields) if options.get("$orderby") else [("Id", False)]
        for field in (s.strip() for s in options.get("$select", "").split(",") if s.strip()):
            if field not in fields:
                raise odata.ODataError(f"$select: the entity has no property {field!r}")
        with self.state.lock:
            rows = json.loads(json.dumps([r for r in self.state.sets[name].values()
                                          if predicate is None or predicate(r)]))
        for field, descending in reversed(order):
            rows.sort(key=lambda r: odata.sort_key(odata.resolve(r, field)), reverse=descending)
        return rows

    def _metadata(self, app: str) -> None:
        ns = "http://docs.oasis-open.org/odata/ns/edm"
        sets = "".join(f'<EntitySet Name="{name}" EntityType="{etype}"/>' for name, etype in APPS[app].items())
        actions = "".join(f'<ActionImport Name="{name}" Action="{app}.{name}"/>' for name in COMMANDS[app])
        body = (f'<?xml version="1.0" encoding="utf-8"?>'
                f'<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">'
                f'<edmx:DataServices><Schema xmlns="{ns}" Namespace="{app}">'
                f'<EntityContainer Name="{app}Container">{sets}{actions}</EntityContainer>'
                f'</Schema></edmx:DataServices></edmx:Edmx>').encode("utf-8")
        self._send(200, raw=body, ctype="application/xml")

    # -- commands
    def _command(self, app: str, name: str, body: bytes) -> None:
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._error(400, "BadRequest", f"the body is not JSON: {exc}")
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("command"), dict):
            self._error(400, "BadRequest", 'the body must be {"command": {...}}')
            return
        try:
            output = self.state.run_command(app, name, payload["command"])
        except CommandError as exc:
            self._send(400, exc.body())
            return
        self._send(200, {"@odata.context": self._context(app, f"{name}Response"), "Succeeded": True,
                         "Error": {"ErrorCode": 0, "ErrorMessage": None}, **output})


def _query_options(query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=True).items():
        if key.startswith("$") and key not in _QUERY_OPTIONS:
            raise odata.ODataError(f"query option {key} is not supported")
        if len(values) > 1:
            raise odata.ODataError(f"query option {key} given {len(values)} times")
        options[key] = values[0]
    return options


def _int_option(options: dict[str, str], key: str, default: Optional[int]) -> Optional[int]:
    if key not in options:
        return default
    try:
        value = int(options[key])
    except ValueError:
        raise odata.ODataError(f"{key} must be a non-negative integer") from None
    if value < 0:
        raise odata.ODataError(f"{key} must be a non-negative integer")
    return value


def make_server(host: str = "127.0.0.1", port: int = 0, state: Optional[OpcenterState] = None,
                seed: Optional[str] = None) -> SimulatorServer:
    state = state or OpcenterState()
    if seed == "demo":
        seed_demo(state)
        state.auto_consume = True
    elif seed:
        raise ValueError(f"unknown seed {seed!r}; expected 'demo'")
    return SimulatorServer((host, port), OpcenterHandler, state)
