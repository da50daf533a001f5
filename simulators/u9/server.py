"""Yonyou U9 simulator: one HTTP server on 127.0.0.1 speaking both U9 protocols.

* classic U9 SOAP 1.1 under ``{soap_base}/{Contract}.svc`` (default ``/U9/Services``), WSDL at
  ``?wsdl`` (``soap.py``);
* U9 Cloud OpenAPI under ``{rest_base}/webapi/...`` (default ``/U9C``) (``rest.py``);
* an admin surface for tests and the demo under ``/__sim/`` (not part of U9):

  ========================  ==========================================================
  ``GET /__sim/faults``     pending faults
  ``POST /__sim/faults``    ``{"kind", "count", "target", "skip", "retry_after", "seconds", "file"}``
  ``DELETE /__sim/faults``  drop pending faults and release held replies
  ``POST /__sim/release``   release replies held by a ``latency`` fault
  ``POST /__sim/tokens/expire``  every issued U9 Cloud token expires now (next call -> ResCode 402)
  ``POST /__sim/clock``     ``{"now": "2026-11-20T09:00:00"}`` pins the clock (``null`` frees it)
  ``GET /__sim/tables/<T>`` the rows of table T (e.g. ``PM_Receivement``)
  ``GET /__sim/stats``      ``{"login_count", "calls"}``
  ========================  ==========================================================

Fault kinds (``state.FAULT_KINDS``), each for ``count`` matching calls after ``skip``:
``latency`` (hold ``seconds``, then answer), ``http500``, ``http429`` (``Retry-After``),
``session_expired`` (REST ResCode 402 / SOAP ServiceLostException), ``token_invalid`` (REST
ResCode 504), ``busy`` (SOAP ServiceException ServerBusy / REST ResCode 500), ``malformed``
(the real reply cut in half: bad XML / bad JSON), ``repeat_page`` (the previous page's rows
again, then this page's), ``stale_page`` (only the previous page again: paging stuck), ``reset`` (the real reply's headers and half its body, then a TCP
reset), ``xxe`` / ``billion_laughs`` (a reply with a DTD pulling ``file`` in / nesting entities).
``malformed``, ``reset``, ``xxe`` and ``billion_laughs`` strike *after* the call was executed, so a
write is done while its reply is lost: exactly what idempotent pushes must survive.
``target`` is matched (case-insensitively, as a substring) against ``"<soap|rest> <operation> <table>"``;
a WSDL download (``"soap <Contract>?wsdl"``) is only hit by a target that contains ``wsdl``.

INFERRED: unknown path -> HTTP 404; SOAPAction mismatch -> fault ``ActionNotSupported``; wrong
Content-Type -> HTTP 415 (WCF's behaviour); REST body that is not JSON -> ResCode 502.
"""
from __future__ import annotations

import json
import logging
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qsl, urlsplit

from simulators.base import SimulatorServer
from simulators.u9 import rest, soap
from simulators.u9.state import TABLES, Fault, U9State, seed, seed_demo

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 << 20
_BEFORE = {"http500", "http429", "session_expired", "token_invalid", "busy"}


class U9Handler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "U9Sim/1.0"
    #: headers and body leave in one segment (unbuffered, Nagle + delayed ACK cost 40 ms a reply)
    wbufsize = 1 << 16

    def log_message(self, fmt: str, *args: Any) -> None:  # access logs through logging (never the query string)
        log.debug("%s %s", self.address_string(), self.command)

    @property
    def state(self) -> U9State:
        return self.server.state  # type: ignore[return-value]

    def finish(self) -> None:
        try:
            super().finish()
        except (OSError, ValueError):  # the socket was reset on purpose
            pass

    # ------------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes, content_type: str, headers: Optional[dict[str, str]] = None,
              fault: Optional[Fault] = None) -> None:
        if fault is not None and fault.kind == "malformed":
            body = body[: max(1, len(body) // 2)]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if fault is not None and fault.kind == "reset":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self._reset()
            return
        self.wfile.write(body)

    def _reset(self) -> None:
        self.close_connection = True
        try:  # linger 0: close() sends RST instead of FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _json(self, status: int, payload: Any, fault: Optional[Fault] = None,
              headers: Optional[dict[str, str]] = None) -> None:
        if fault is not None and fault.kind in ("xxe", "billion_laughs"):
            self._send(200, soap.hostile_envelope(fault.kind, fault.file), "application/xml; charset=utf-8")
            return
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8", headers, fault)

    def _read_body(self) -> Optional[bytes]:
        try:
            length = int(self.headers.get("Content-Length", "-1"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._json(411 if length < 0 else 413, rest.envelope(None, 502, "需要有效的 Content-Length"))
            return None
        return self.rfile.read(length)

    def _take_fault(self, transport: str, operation: str, table: str = "", explicit: str = "") -> Optional[Fault]:
        self.state.calls.append(f"{transport} {operation}")
        fault = self.state.take_fault(transport, operation, table, explicit)
        if fault is not None and fault.kind == "latency":
            self.state.stall(fault.seconds)
            return None
        return fault

    # ------------------------------------------------------------------ routing
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            url = urlsplit(self.path)
            path = url.path
            lower = path.lower()
            if lower.startswith("/__sim/"):
                self._admin(method, path[len("/__sim/"):])
            elif lower.startswith(self.state.rest_base.lower() + "/webapi/"):
                self._rest(method, path[len(self.state.rest_base) + len("/webapi/"):], url.query)
            elif lower.startswith(self.state.soap_base.lower() + "/") and lower.endswith(".svc"):
                self._soap(method, path[len(self.state.soap_base) + 1:-len(".svc")], url.query)
            else:
                if method == "POST" and self._read_body() is None:
                    return
                self._send(404, b"<html><body>404 - File or directory not found.</body></html>",
                           "text/html; charset=utf-8")
        except Exception:  # a simulator bug must still answer, as IIS would
            log.exception("u9 simulator failed on %s %s", method, self.command)
            self.close_connection = True
            self._send(500, b"<html><body>500 - Internal server error.</body></html>", "text/html; charset=utf-8")

    # ------------------------------------------------------------------ SOAP
    def _soap(self, method: str, name: str, query: str) -> None:
        contract = soap.CONTRACTS.get(name.lower())
        if method == "GET":
            if contract is None:
                self._send(404, b"<html><body>404 - File or directory not found.</body></html>",
                           "text/html; charset=utf-8")
                return
            if query.lower() in ("wsdl", "singlewsdl"):
                # only a target naming "wsdl" breaks a WSDL download, so "break the next create" means the call
                fault = self._take_fault("soap", f"{contract.name}?wsdl", "", explicit="wsdl")
                if fault is not None and fault.kind in ("xxe", "billion_laughs"):
                    self._send(200, soap.hostile_envelope(fault.kind, fault.file), "text/xml; charset=utf-8")
                    return
                if fault is not None and fault.kind in _BEFORE:
                    self._send(500, b"<html><body>500</body></html>", "text/html; charset=utf-8")
                    return
                host = self.headers.get("Host") or "127.0.0.1"
                address = f"http://{host}{self.state.soap_base}/{contract.name}.svc"
                self._send(200, soap.wsdl(contract, address), "text/xml; charset=UTF-8", fault=fault)
                return
            self._send(200, f"<html><body>{contract.name} Service</body></html>".encode("utf-8"),
                       "text/html; charset=utf-8")
            return
        body = self._read_body()
        if body is None:
            return
        if contract is None or method != "POST":
            self._send(404, b"<html><body>404 - File or directory not found.</body></html>", "text/html; charset=utf-8")
            return
        content_type = self.headers.get("Content-Type", "")
        if not content_type.lower().startswith("text/xml"):
            self._send(415, f"Cannot process the message because the content type '{content_type}' was not the "
                            f"expected type 'text/xml; charset=utf-8'.".encode("utf-8"), "text/plain; charset=utf-8")
            return
        fault = self._take_fault("soap", contract.name, contract.label)
        if fault is not None and fault.kind in _BEFORE:
            self._soap_before(fault)
            return
        action = (self.headers.get("SOAPAction") or "").strip().strip('"')
        expected = f"http://www.UFIDA.org/{contract.name}/Do"
        try:
            if action != expected:
                raise soap.SoapFault(f"The message with Action '{action}' cannot be processed at the receiver.",
                                     "ActionNotSupported", faultcode="s:Client")
            reply = soap.call(self.state, contract, body, repeat_page=fault is not None and fault.kind == "repeat_page",
                              stale_page=fault is not None and fault.kind == "stale_page")
            status = 200
        except soap.SoapFault as exc:
            reply, status = soap.fault_envelope(exc), 500
        if fault is not None and fault.kind in ("xxe", "billion_laughs"):
            reply, status = soap.hostile_envelope(fault.kind, fault.file), 200
        self._send(status, reply, "text/xml; charset=utf-8", fault=fault)

    def _soap_before(self, fault: Fault) -> None:
        if fault.kind == "http500":
            self.close_connection = True
            self._send(500, b"<html><body>500 - Internal server error (simulated).</body></html>",
                       "text/html; charset=utf-8")
        elif fault.kind == "http429":
            self._send(429, b"Too Many Requests", "text/plain; charset=utf-8", {"Retry-After": str(fault.retry_after)})
        elif fault.kind == "session_expired":
            self._send(500, soap.fault_envelope(soap.SoapFault("服务已丢失，请重新调用", "ServiceLost",
                                                               detail_type="ServiceLostException")),
                       "text/xml; charset=utf-8")
        else:  # busy, token_invalid: the server is overloaded
            self._send(500, soap.fault_envelope(soap.SoapFault("服务器繁忙，请稍后再试", "ServerBusy")),
                       "text/xml; charset=utf-8")

    # ------------------------------------------------------------------ REST
    def _rest(self, method: str, route: str, query: str) -> None:
        route_key = route.strip("/").lower()
        if route_key == "oauth2/authlogin" and method == "GET":
            self._auth_login(query)
            return
        body = self._read_body() if method == "POST" else b""
        if body is None:
            return
        handler = rest.ROUTES.get(route_key)
        if handler is None or method != "POST":
            self._json(404, rest.envelope(None, 404, f"路由错误：{route} 不存在"))
            return
        fault = self._take_fault("rest", route, rest.sql_table(body) if route_key.startswith("querycommon") else "")
        if fault is not None and fault.kind in _BEFORE:
            self._rest_before(fault)
            return
        code = self.state.check_token(self.headers.get("token", ""), time.monotonic())
        if code:
            message = {401: "未授权：缺少 token", 402: "token 已过期", 504: "token 无效"}[code]
            self._json(200, rest.envelope(None, code, message), fault)
            return
        try:
            payload = json.loads(body.decode("utf-8")) if body.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._json(200, rest.envelope(None, 502, "参数错误：请求体不是有效的 JSON"), fault)
            return
        result = handler(rest.RestCall(self.state, payload, repeat_page=fault is not None and fault.kind == "repeat_page",
                                       stale_page=fault is not None and fault.kind == "stale_page"))
        self._json(200, result, fault)

    def _rest_before(self, fault: Fault) -> None:
        if fault.kind == "http500":
            self.close_connection = True
            self._send(500, b"<html><body>500 - Internal server error (simulated).</body></html>",
                       "text/html; charset=utf-8")
        elif fault.kind == "http429":
            self._json(429, rest.envelope(None, 500, "请求过于频繁"), headers={"Retry-After": str(fault.retry_after)})
        elif fault.kind == "session_expired":
            self._json(200, rest.envelope(None, 402, "token 已过期"))
        elif fault.kind == "token_invalid":
            self._json(200, rest.envelope(None, 504, "token 无效"))
        else:
            self._json(200, rest.envelope(None, 500, "服务器内部错误：服务器繁忙，请稍后再试"))

    def _auth_login(self, query: str) -> None:
        fault = self._take_fault("rest", "OAuth2/AuthLogin")
        if fault is not None and fault.kind in _BEFORE:
            self._rest_before(fault)
            return
        params = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
        missing = [n for n in ("clientid", "clientsecret", "entcode", "usercode", "orgcode") if not params.get(n)]
        if missing:
            self._json(200, rest.envelope(None, 502, f"参数错误：缺少 {', '.join(missing)}"), fault)
            return
        code, data = self.state.issue_token(params["clientid"], params["clientsecret"], params["entcode"],
                                            params["orgcode"], params["usercode"], time.monotonic())
        self._json(200, rest.envelope(data, 0, "") if code == 0 else rest.envelope(None, code, data), fault)

    # ------------------------------------------------------------------ admin
    def _admin(self, method: str, what: str) -> None:
        body = self._read_body() if method in ("POST", "DELETE") else b""
        if body is None:
            return
        try:
            payload = json.loads(body.decode("utf-8")) if body and body.strip() else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._json(400, {"error": "body is not JSON"})
            return
        state = self.state
        if what == "faults" and method == "GET":
            self._json(200, {"faults": state.faults()})
        elif what == "faults" and method == "POST":
            try:
                state.add_fault(Fault(**payload))
            except (TypeError, ValueError) as exc:
                self._json(400, {"error": str(exc)})
                return
            self._json(201, {"faults": state.faults()})
        elif what == "faults" and method == "DELETE":
            state.clear_faults()
            self._json(200, {"faults": []})
        elif what == "release" and method == "POST":
            state.release_stalled()
            self._json(200, {"released": True})
        elif what == "tokens/expire" and method == "POST":
            state.expire_tokens()
            self._json(200, {"expired": True})
        elif what == "clock" and method == "POST":
            try:
                state.set_now(payload.get("now"))
            except (TypeError, ValueError):
                self._json(400, {"error": "now must be an ISO date-time or null"})
                return
            self._json(200, {"now": state.now().isoformat()})
        elif what.startswith("tables/") and method == "GET" and what[len("tables/"):] in TABLES:
            self._json(200, {"rows": rest.encode(state.rows(what[len("tables/"):]))})
        elif what == "stats" and method == "GET":
            self._json(200, {"login_count": state.login_count, "calls": len(state.calls)})
        else:
            self._json(404, {"error": f"unknown admin call {method} /__sim/{what}"})


def make_server(host: str = "127.0.0.1", port: int = 0, state: Optional[U9State] = None,
                seed_name: Optional[str] = None, **seed_options: Any) -> SimulatorServer:
    """A U9 simulator server (not yet serving); ``seed_name`` ``demo`` (``with_production=``) or
    ``random`` (with the sizes of :func:`simulators.u9.state.seed`)."""
    state = state or U9State()
    if seed_name == "demo":
        seed_demo(state, **seed_options)
    elif seed_name == "random":
        seed(state, **seed_options)
    elif seed_name:
        raise ValueError(f"unknown seed {seed_name!r}; expected 'demo' or 'random'")
    return SimulatorServer((host, port), U9Handler, state)
