"""Odoo (stock) JSON-RPC simulator (protocols/wms.md §1) over real HTTP.

Routes:

* ``POST /jsonrpc``: ``{"jsonrpc": "2.0", "method": "call", "id": n, "params": {"service", "method", "args"}}``
  with services ``common`` (``version``, ``login``, ``authenticate``) and ``object``
  (``execute_kw(db, uid, password, model, method, args, kwargs)``, ``execute``). Stateless: the
  password (or API key) is checked on every call.
* ``POST /web/session/authenticate`` (``params {db, login, password}``) sets the ``session_id``
  cookie; ``POST /web/dataset/call_kw[/<model>/<method>]`` (``params {model, method, args, kwargs}``)
  needs it, else ``odoo.http.SessionExpiredException`` (error ``code`` 100, INFERRED from Odoo's
  ``SessionExpiredException`` serialisation).
* ``GET|POST /__sim/faults``: admin (EXTENSION, ``simulators/wms/admin.py``).

Errors are **HTTP 200** with ``error {code: 200, message: "Odoo Server Error", data {name, message,
debug, arguments, context}}`` (§1.1); the traceback in ``debug`` is a fixed placeholder. Unknown
database: ``psycopg2.OperationalError``; wrong password: ``odoo.exceptions.AccessDenied`` (the
``authenticate`` call answers ``false`` instead, §1.1); a model the user may not touch
(``state.denied_models``): ``odoo.exceptions.AccessError``. An unparsable body or a broken envelope
is answered as ``werkzeug.exceptions.BadRequest`` in the same envelope (INFERRED).

Faults (``faults.py``): latency, 5xx, 429, session expiry, malformed JSON, reset; operations are
named ``model.method`` (``stock.picking.create``), ``common.<method>`` or ``session.authenticate``.
"""
from __future__ import annotations

import json
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional

from simulators.base import SimulatorServer
from simulators.wms import admin
from simulators.wms.faults import FaultBook, FaultyHandlerMixin
from simulators.wms.odoo import stock
from simulators.wms.odoo.orm import (
    AccessDenied,
    AccessError,
    BadRequest,
    Database,
    OdooError,
    OperationalError,
    PyAttributeError,
    PyTypeError,
    SessionExpired,
)

log = logging.getLogger(__name__)

#: Demo-only credentials, printed in docs and used by ``make demo``; never production credentials.
DEMO_DATABASE = "wms_demo"
DEMO_LOGIN = "mes_api"
DEMO_PASSWORD = "demo-odoo-password-not-a-secret"
DATABASE_ENV, LOGIN_ENV, PASSWORD_ENV = "WMS_SIM_DATABASE", "WMS_SIM_LOGIN", "WMS_SIM_TOKEN"
SERVER_VERSION = "17.0"
SESSION_COOKIE = "session_id"
_ORM_METHODS = ("create", "write", "read", "search", "search_read", "search_count", "unlink")


class OdooState:
    """The simulated Odoo: one database, users, sessions, fault injection and a call log."""

    def __init__(self, database: str = DEMO_DATABASE, login: str = DEMO_LOGIN, password: str = DEMO_PASSWORD) -> None:
        self.lock = threading.RLock()
        self.db: Database = stock.new_database(database)
        #: login -> (uid, password); uid 2 is Odoo's admin, the API user gets 7 as in the notes' examples
        self.users: dict[str, tuple[int, str]] = {login: (7, password)}
        self.sessions: dict[str, int] = {}
        self.denied_models: set[str] = set()
        self.faults = FaultBook()
        #: ``model.method`` (or ``common.x``) of every call, so tests can count creates
        self.calls: list[str] = []
        self.logins = 0

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    def count(self, operation: str) -> int:
        with self.lock:
            return sum(1 for call in self.calls if call == operation)

    def uid_for(self, database: Any, login: Any, password: Any) -> Optional[int]:
        if database != self.db.name:
            raise OperationalError(f'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: '
                                   f'FATAL:  database "{database}" does not exist')
        user = self.users.get(login) if isinstance(login, str) else None
        if user is None or not isinstance(password, str) or not secrets.compare_digest(user[1], password):
            return None
        return user[0]

    def check_uid(self, database: Any, uid: Any, password: Any) -> int:
        if database != self.db.name:
            self.uid_for(database, None, None)
        for known_uid, known_password in self.users.values():
            if uid == known_uid and isinstance(password, str) and secrets.compare_digest(known_password, password):
                return known_uid
        raise AccessDenied("Access Denied")

    # -- ORM dispatch ---------------------------------------------------------------------------
    def execute(self, model: str, method: str, args: Any, kwargs: Any) -> Any:
        if not isinstance(model, str) or not isinstance(method, str):
            raise PyTypeError("model and method must be strings")
        if not isinstance(args, list):
            raise PyTypeError("args must be a list")
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict):
            raise PyTypeError("kwargs must be an object")
        if method.startswith("_"):
            raise AccessError(f"Private methods (such as '{model}.{method}') cannot be called remotely.")
        db = self.db
        db.fields(model)  # KeyError for an unknown model, as env[model] raises it
        if model in self.denied_models:
            raise AccessError(f"You are not allowed to access '{db.descriptions.get(model, model)}' ({model}) "
                              "records.\n\nThis operation is allowed for the following groups:\n\t- Inventory/User"
                              "\n\nContact your administrator to request access if necessary.")
        special = stock.METHODS.get((model, method))
        if special is not None:
            return special(db, args, kwargs)
        if method not in _ORM_METHODS:
            raise PyAttributeError(f"The method '{model}.{method}' does not exist")
        return _orm(db, model, method, args, kwargs)


def _orm(db: Database, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    kwargs = dict(kwargs)
    kwargs.pop("context", None)

    def take(names: tuple[str, ...], positional: int) -> dict[str, Any]:
        values = dict(zip(names, args[positional:]))
        for key, value in kwargs.items():
            if key not in names:
                raise PyTypeError(f"{method}() got an unexpected keyword argument '{key}'")
            values[key] = value
        return values

    if method == "create":
        if not args:
            raise PyTypeError("create() missing 1 required positional argument: 'vals_list'")
        vals = args[0]
        return [db.create(model, v) for v in vals] if isinstance(vals, list) else db.create(model, vals)
    if method in ("search", "search_read", "search_count"):
        names = {"search": ("domain", "offset", "limit", "order"),
                 "search_read": ("domain", "fields", "offset", "limit", "order"),
                 "search_count": ("domain", "limit")}[method]
        values = take(names, 0)
        domain = values.get("domain", [])
        if method == "search_count":
            return len(db.search(model, domain))
        ids = db.search(model, domain, values.get("offset") or 0, values.get("limit") or None, values.get("order"))
        if method == "search":
            return ids
        fields = values.get("fields") or None
        if fields is not None and not isinstance(fields, list):
            raise PyTypeError("fields must be a list")
        return db.read(model, ids, fields)
    ids = stock._ids(args)
    if method == "read":
        values = take(("fields",), 1)
        fields = values.get("fields") or None
        if fields is not None and not isinstance(fields, list):
            raise PyTypeError("fields must be a list")
        return db.read(model, ids, fields)
    if method == "write":
        values = take(("vals",), 1)
        return db.write(model, ids, values.get("vals"))
    take((), 1)
    return db.unlink(model, ids)


def seed_demo(state: OdooState) -> OdooState:
    """The demo warehouse: the GreaterWMS demo's suppliers, goods and bins as Odoo records.

    Bins are locations whose ``barcode`` is the GreaterWMS bin name (A-01-01, A-01-02 under
    WH/Stock; DMG-01 = WH/Damaged; QC-01 = WH/Quality Control, the QC hold location; HOLD-01 =
    WH/Hold), so the hub's wms location crosswalk reads the same codes for both dialects.
    """
    db = state.db
    with state.lock:
        units = db.create("uom.uom", {"name": "Units"})
        db.create("uom.uom", {"name": "kg"})
        db.create("res.partner", {"name": "My Company"})
        db.create("res.partner", {"name": "华东轴承", "ref": "SUP-001"})
        db.create("res.partner", {"name": "Supplier Two", "ref": "SUP-002"})
        for code, name, tracking in (("1.02.0033", "轴承 6204", "lot"), ("1.02.0041", "轴承 6205", "lot"),
                                     ("1.03.0100", "垫圈 M8", "none")):
            db.create("product.product", {"name": name, "default_code": code, "uom_id": units, "tracking": tracking})
        partners = db.create("stock.location", {"name": "Partners", "usage": "view"})
        vendors = db.create("stock.location", {"name": "Vendors", "location_id": partners, "usage": "supplier"})
        warehouse = db.create("stock.location", {"name": "WH", "usage": "view"})
        stock_location = db.create("stock.location", {"name": "Stock", "location_id": warehouse, "barcode": "WH-STOCK"})
        for name, parent in (("A-01-01", stock_location), ("A-01-02", stock_location)):
            db.create("stock.location", {"name": name, "location_id": parent, "barcode": name})
        for name, barcode in (("Damaged", "DMG-01"), ("Quality Control", "QC-01"), ("Hold", "HOLD-01")):
            db.create("stock.location", {"name": name, "location_id": warehouse, "barcode": barcode})
        db.create("stock.picking.type", {"name": "Receipts", "code": "incoming", "sequence_code": "IN",
                                         "warehouse_code": "WH", "default_location_src_id": vendors,
                                         "default_location_dest_id": stock_location})
        db.create("stock.picking.type", {"name": "Internal Transfers", "code": "internal", "sequence_code": "INT",
                                         "warehouse_code": "WH", "default_location_src_id": stock_location,
                                         "default_location_dest_id": stock_location})
    return state


class OdooHandler(FaultyHandlerMixin, BaseHTTPRequestHandler):
    server_version = "Werkzeug/3.0.1 Python/3.11 (odoo-sim)"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: SimulatorServer

    @property
    def state(self) -> OdooState:
        return self.server.state  # type: ignore[return-value]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("odoo-sim %s", format % args)  # the request line only: passwords travel in bodies

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        raw = self._body()
        path = self.path.split("?", 1)[0]
        if path.startswith(admin.PREFIX):
            self._json(*admin.handle(self.state.faults, "GET", path, raw))
            return
        self._html(405 if path in ("/jsonrpc", "/web/session/authenticate") or path.startswith("/web/dataset/call_kw")
                   else 404)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        raw = self._body()
        path = self.path.split("?", 1)[0]
        if path.startswith(admin.PREFIX):
            self._json(*admin.handle(self.state.faults, "POST", path, raw))
            return
        if path != "/jsonrpc" and path != "/web/session/authenticate" and not path.startswith("/web/dataset/call_kw"):
            self._html(404)
            return
        request_id: Any = None
        try:
            envelope = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            envelope = None
        if isinstance(envelope, dict):
            request_id = envelope.get("id")
        params = envelope.get("params") if isinstance(envelope, dict) else None
        operation = _operation(path, params)
        fault = self.state.faults.take(operation)
        if fault is not None and self.fault_before(fault, self.state.expire_sessions):
            return
        cookie: Optional[str] = None
        try:
            if not isinstance(envelope, dict) or envelope.get("jsonrpc") != "2.0" or not isinstance(params, dict):
                raise BadRequest("<p>Invalid JSON-RPC request: expected an object with jsonrpc \"2.0\" and params "
                                 "object.</p>")
            with self.state.lock:
                self.state.calls.append(operation)
                if path == "/jsonrpc":
                    result = self._jsonrpc(params)
                elif path == "/web/session/authenticate":
                    result, cookie = self._session_authenticate(params)
                else:
                    result = self._call_kw(params)
            answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "result": result}
        except OdooError as exc:
            answer = {"jsonrpc": "2.0", "id": request_id, "error": _error(exc)}
        except Exception as exc:  # a simulator bug still answers the way Odoo does
            log.exception("odoo-sim internal error on %s", operation)
            answer = {"jsonrpc": "2.0", "id": request_id, "error": _error(OdooError(f"{type(exc).__name__}: {exc}"))}
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        if fault is not None and fault.after:
            self.fault_after(fault, 200, "application/json", data)
            return
        headers = {"Set-Cookie": f"{SESSION_COOKIE}={cookie}; HttpOnly; Path=/; SameSite=Lax"} if cookie else None
        self.write_raw(200, "application/json", data, headers)

    # -- routes -------------------------------------------------------------------------------
    def _jsonrpc(self, params: dict[str, Any]) -> Any:
        service, method, args = params.get("service"), params.get("method"), params.get("args", [])
        if not isinstance(args, list):
            raise BadRequest("args must be a list")
        state = self.state
        if service == "common":
            if method == "version":
                return {"server_version": SERVER_VERSION, "server_version_info": [17, 0, 0, "final", 0, ""],
                        "server_serie": SERVER_VERSION, "protocol_version": 1}
            if method in ("login", "authenticate"):
                if len(args) < 3:
                    raise PyTypeError(f"{method}() missing required positional arguments (db, login, password)")
                uid = state.uid_for(args[0], args[1], args[2])
                state.logins += 1
                return uid if uid is not None else False
            raise PyAttributeError(f"Method not found: {method}")
        if service == "object":
            if method == "execute_kw":
                if len(args) < 6:
                    raise PyTypeError("execute_kw() missing required positional arguments")
                database, uid, password, model, name, positional = args[:6]
                kwargs = args[6] if len(args) > 6 else {}
            elif method == "execute":
                if len(args) < 5:
                    raise PyTypeError("execute() missing required positional arguments")
                database, uid, password, model, name = args[:5]
                positional, kwargs = list(args[5:]), {}
            else:
                raise PyAttributeError(f"Method not found: {method}")
            state.check_uid(database, uid, password)
            return state.execute(model, name, positional, kwargs)
        raise OdooError(f"No such service: {service!r}")  # INFERRED text

    def _session_authenticate(self, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
        state = self.state
        uid = state.uid_for(params.get("db"), params.get("login"), params.get("password"))
        state.logins += 1
        if uid is None:
            raise AccessDenied("Access Denied")
        session = secrets.token_hex(20)
        state.sessions[session] = uid
        return ({"uid": uid, "is_system": False, "is_admin": False, "db": state.db.name,
                 "username": params.get("login"), "server_version": SERVER_VERSION,
                 "user_context": {"lang": "en_US", "tz": "UTC", "uid": uid}}, session)

    def _call_kw(self, params: dict[str, Any]) -> Any:
        session = self._cookie(SESSION_COOKIE)
        if not session or session not in self.state.sessions:
            raise SessionExpired("Session expired")
        return self.state.execute(params.get("model"), params.get("method"), params.get("args", []),
                                  params.get("kwargs") or {})

    # -- plumbing -----------------------------------------------------------------------------
    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _cookie(self, name: str) -> Optional[str]:
        for part in self.headers.get("Cookie", "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == name:
                return value
        return None

    def _json(self, status: int, payload: Any) -> None:
        self.write_raw(status, "application/json", json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def _html(self, status: int) -> None:
        text = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Error")
        self.write_raw(status, "text/html; charset=utf-8",
                       f"<!doctype html><title>{status} {text}</title><h1>{text}</h1>".encode())


def _operation(path: str, params: Any) -> str:
    if not isinstance(params, dict):
        return "unparsable"
    if path == "/web/session/authenticate":
        return "session.authenticate"
    if path == "/jsonrpc":
        args = params.get("args")
        if params.get("service") == "object" and isinstance(args, list) and len(args) >= 5:
            return f"{args[3]}.{args[4]}"
        return f"{params.get('service')}.{params.get('method')}"
    return f"{params.get('model')}.{params.get('method')}"


def _error(exc: OdooError) -> dict[str, Any]:
    message = exc.message
    return {"code": exc.code, "message": "Odoo Session Expired" if exc.code == 100 else "Odoo Server Error",
            "data": {"name": exc.name, "debug": "Traceback (most recent call last):\n  (simulated)\n"
                                                f"{exc.name}: {message}\n",
                     "message": message, "arguments": [message], "context": {}}}


def make_server(state: Optional[OdooState] = None, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """An Odoo simulator bound to ``host:port`` (port 0 = any free port); not yet serving."""
    return SimulatorServer((host, port), OdooHandler, state if state is not None else OdooState())
