"""Jiandaoyun (简道云) Open API v5 simulator (protocols/jiandaoyun.md).

A real HTTP server (``simulators/base.py``) answering ``POST {base}/api/v5/<route>`` the way
api.jiandaoyun.com does, so the adapter is tested against the wire:

* every route of §2 (app/list, app/entry/list, widget/list, data get/list/create/update/delete and
  the batch forms), POST only, JSON bodies, ``app_id``/``entry_id`` in the body;
* ``Authorization: Bearer <API key>``; errors as HTTP 4xx ``{"code", "msg"}`` with the documented
  codes (1, 2004, 3000, 4001, 4815, 8301, 8303, 8304, 17017, 17023-17026);
* ``data/list``: sorted by ``_id``, ``data_id`` cursor, ``limit`` 1-100 (default 10), ``fields``
  projection, the filter grammar (``filters.py``);
* writes wrap values as ``{"value": ...}``; datetimes are normalised to UTC; update replaces a
  subform wholesale (rows without a known ``_id`` get new ids); ``batch_create`` with the same
  ``transaction_id`` within an hour overwrites the earlier batch; API writes never fire pushes;
* per-endpoint (30/20/10 per second) and enterprise (50 per second) rate limits answered with
  8304 / 8303 (``state.limits``; ``POST /__sim/limits`` changes them);
* data pushes (``push.py``): the EXTENSION admin endpoints ``/__sim/ui/*`` play a user editing a
  form in the browser, which - unlike the API - fires the form's push, signed, to the URL
  registered with ``POST /__sim/webhooks``.

Simulator choices, marked so nobody mistakes them for documented behaviour:

* INFERRED: HTTP status 400 for every error code except 8301 (401) and 8302 (403); unknown
  route -> HTTP 404 ``{"code": 1}``; GET -> 405; malformed JSON -> 400 code 1; body over
  ``state.max_body_bytes`` -> 413; missing Content-Length -> 411.
* INFERRED: record ids are 24 hex characters (ObjectId-like: seconds + counter), so sorting by
  ``_id`` is creation order; ``fields`` always returns ``_id`` too; a ``create`` whose
  ``transaction_id`` was already used -> 17026; a malformed ``transaction_id`` (not a UUID) -> 17025.
* INFERRED: the value rules of ``forms.py`` (unknown field / unwrapped value -> 17017 ...).
* Faults (``faults.py``): latency, 5xx, 429, the rate-limit code, token invalid, malformed JSON,
  a repeated page, reset, disconnect; armed in-process or by ``POST /__sim/faults``. They are
  applied after routing and before auth, or with ``after`` once the call did its work.
* EXTENSION admin endpoints under ``/__sim/`` (simulator only, no auth, bind to 127.0.0.1):
  see ``admin.py``.
"""
from __future__ import annotations

import bisect
import copy
import datetime as dt
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Optional

from simulators.base import ConnectionControlMixin, SimulatorServer
from simulators.jiandaoyun import admin
from simulators.jiandaoyun.faults import Fault, FaultBook
from simulators.jiandaoyun.filters import compile_filter
from simulators.jiandaoyun.forms import (
    DEMO_APP_ID, DEMO_APP_NAME, DEMO_FORMS, DEMO_PRODUCTION_ORDERS, FormSpec, JdyError, coerce, demo_forms, empty_value, invalid,
    unwrap, utc_text,
)
from simulators.jiandaoyun.push import DEMO_WEBHOOK_SECRET, WEBHOOK_SECRET_ENV, PushResult, push_webhook

log = logging.getLogger(__name__)

API_KEYS_ENV = "JIANDAOYUN_SIM_API_KEYS"
#: DEMO ONLY - a public, documented API key for the local simulator and ``make demo``; it protects
#: nothing and must never be configured on a real Jiandaoyun account.
DEMO_API_KEY = "demo-only-jdy-api-key"
MAX_BODY_BYTES = 8 << 20
HARD_BODY_LIMIT = 64 << 20
MAX_BATCH = 100
TRANSACTION_WINDOW = dt.timedelta(hours=1)
#: requests per second per endpoint (§1.1)
DEFAULT_LIMITS = {
    "app/list": 30, "app/entry/list": 30, "app/entry/widget/list": 30, "app/entry/data/get": 30,
    "app/entry/data/list": 30, "app/entry/data/create": 20, "app/entry/data/update": 20,
    "app/entry/data/delete": 20, "app/entry/data/batch_create": 10, "app/entry/data/batch_update": 10,
    "app/entry/data/batch_delete": 10,
}
DEFAULT_GLOBAL_LIMIT = 50
INTEGRATION_USER = {"name": "集成账号", "username": "mes_api", "status": 1, "type": 0, "departments": [1],
                    "integrate_id": "mes_api"}
_ROUTE_RE = re.compile(r"^/api/v5/([a-z_/]+)$")
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def portal_user(username: str) -> dict[str, Any]:
    """A member as user fields carry it (the supplier's portal account in the demo)."""
    return {"name": username, "username": username, "status": 1, "type": 0, "departments": [2]}


class JiandaoyunState:
    """Apps, forms, records, transactions, rate windows and fault switches. Mutations hold ``lock``."""

    def __init__(self, api_keys: Optional[str] = None, webhook_secret: Optional[str] = None) -> None:
        self.lock = threading.RLock()
        keys = api_keys if api_keys is not None else os.environ.get(API_KEYS_ENV, DEMO_API_KEY)
        self.api_keys = {k.strip() for k in keys.split(",") if k.strip()}
        self.webhook_secret = webhook_secret if webhook_secret is not None else (
            os.environ.get(WEBHOOK_SECRET_ENV) or DEMO_WEBHOOK_SECRET)
        self.apps: dict[str, str] = {}
        self.forms: dict[str, FormSpec] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self._ids: dict[str, list[str]] = {}
        self._serials: dict[str, int] = {}
        #: batch transaction id -> (form, ids in order, when)
        self.batches: dict[str, tuple[str, list[str], dt.datetime]] = {}
        self.create_transactions: dict[str, str] = {}
        self.faults = FaultBook()
        self.calls: list[str] = []
        self.limits: dict[str, Optional[float]] = dict(DEFAULT_LIMITS)
        self.global_limit: Optional[float] = DEFAULT_GLOBAL_LIMIT
        self._windows: dict[str, deque[float]] = {}
        #: form -> (push URL, secret): what a form's data push (Webhook) setting holds
        self.hooks: dict[str, tuple[str, str]] = {}
        self.pushes: list[dict[str, Any]] = []
        self.max_body_bytes = MAX_BODY_BYTES
        self._now: Optional[dt.datetime] = None
        self._last_epoch = 0
        self._counter = 0

    # -- clock and ids
    def now(self) -> dt.datetime:
        return self._now or dt.datetime.now(dt.timezone.utc)

    def set_now(self, value: Optional[str | dt.datetime]) -> None:
        if value is None:
            self._now = None
            return
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        self._now = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)

    def new_id(self) -> str:
        with self.lock:
            # never below the last one: sorting by _id stays creation order even if the clock moves back
            self._last_epoch = max(self._last_epoch, int(self.now().timestamp()))
            self._counter += 1
            return f"{self._last_epoch:08x}{self._counter:016x}"

    # -- faults and limits
    def arm_fault(self, spec: dict[str, Any] | Fault) -> Fault:
        return self.faults.arm(spec if isinstance(spec, Fault) else Fault.from_json(spec))

    def check_rate(self, route: str) -> None:
        """Count one call; JdyError 8304 / 8303 when a one-second window is full."""
        now = time.monotonic()
        with self.lock:
            for key, limit, code in ((route, self.limits.get(route), 8304), ("*", self.global_limit, 8303)):
                if not limit:
                    continue
                window = self._windows.setdefault(key, deque())
                while window and now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= limit:
                    raise JdyError(code, "超出请求频率限制" if code == 8303 else "超出接口请求频率限制")
            for key in (route, "*"):
                self._windows.setdefault(key, deque()).append(now)

    # -- apps and forms
    def add_app(self, app_id: str, name: str) -> None:
        with self.lock:
            self.apps[app_id] = name

    def add_form(self, spec: FormSpec) -> None:
        with self.lock:
            if spec.app_id not in self.apps:
                raise ValueError(f"app {spec.app_id} does not exist")
            self.forms[spec.entry_id] = spec
            self.records.setdefault(spec.entry_id, {})
            self._ids.setdefault(spec.entry_id, [])

    def form(self, app_id: Any, entry_id: Any) -> FormSpec:
        if not isinstance(app_id, str) or app_id not in self.apps:
            raise JdyError(2004, "应用不存在")
        spec = self.forms.get(entry_id) if isinstance(entry_id, str) else None
        if spec is None or spec.app_id != app_id:
            raise JdyError(3000, "表单不存在")
        return spec

    # -- records
    def _public(self, spec: FormSpec, record: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(record)

    def get(self, spec: FormSpec, data_id: Any) -> dict[str, Any]:
        with self.lock:
            record = self.records[spec.entry_id].get(data_id) if isinstance(data_id, str) else None
            if record is None:
                raise JdyError(4001, "数据不存在")
            return self._public(spec, record)

    def all_records(self, entry_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [copy.deepcopy(self.records[entry_id][i]) for i in self._ids.get(entry_id, [])]

    def _apply(self, spec: FormSpec, record: dict[str, Any], data: Any) -> None:
        if not isinstance(data, dict):
            raise invalid("data 须为对象")
        for key, wrapped in data.items():
            widget = spec.by_name.get(key)
            if widget is None:
                raise invalid(f"字段 {key} 不存在")
            if widget.type == "sn":
                continue  # not writable (§2.3)
            value = unwrap(wrapped, key)
            existing = {row["_id"]: row for row in record.get(key) or []} if widget.type == "subform" else None
            record[key] = coerce(widget, value, key, existing, self.new_id)

    def _new_record(self, spec: FormSpec, data: Any, user: dict[str, Any]) -> dict[str, Any]:
        now = utc_text(self.now())
        record: dict[str, Any] = {"_id": self.new_id(), "appId": spec.app_id, "entryId": spec.entry_id}
        for widget in spec.widgets:
            record[widget.name] = empty_value(widget)
            if widget.type == "sn":
                self._serials[spec.entry_id] = self._serials.get(spec.entry_id, 0) + 1
                record[widget.name] = f"{widget.sn_prefix}{self._serials[spec.entry_id]:06d}"
        self._apply(spec, record, data)
        record.update({"creator": dict(user), "updater": dict(user), "deleter": None, "createTime": now,
                       "updateTime": now})
        return record

    def _store(self, spec: FormSpec, record: dict[str, Any]) -> None:
        table = self.records[spec.entry_id]
        if record["_id"] not in table:
            bisect.insort(self._ids[spec.entry_id], record["_id"])
        table[record["_id"]] = record

    def create(self, spec: FormSpec, data: Any, transaction_id: Any = None,
               user: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        with self.lock:
            tx = self._transaction_id(transaction_id)
            if tx is not None and tx in self.create_transactions:
                raise JdyError(17026, "transaction_id 重复")
            record = self._new_record(spec, data, user or INTEGRATION_USER)
            self._store(spec, record)
            if tx is not None:
                self.create_transactions[tx] = record["_id"]
            return self._public(spec, record)

    def update(self, spec: FormSpec, data_id: Any, data: Any, user: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        with self.lock:
            record = self.records[spec.entry_id].get(data_id) if isinstance(data_id, str) else None
            if record is None:
                raise JdyError(4001, "数据不存在")
            candidate = copy.deepcopy(record)
            self._apply(spec, candidate, data)  # all or nothing: a bad field leaves the record as it was
            candidate["updater"] = dict(user or INTEGRATION_USER)
            candidate["updateTime"] = utc_text(self.now())
            self._store(spec, candidate)
            return self._public(spec, candidate)

    def delete(self, spec: FormSpec, data_id: Any) -> dict[str, Any]:
        with self.lock:
            record = self.records[spec.entry_id].pop(data_id, None) if isinstance(data_id, str) else None
            if record is None:
                raise JdyError(4001, "数据不存在")
            self._ids[spec.entry_id].remove(data_id)
            return record

    def batch_create(self, spec: FormSpec, data_list: Any, transaction_id: Any) -> list[str]:
        if not isinstance(data_list, list) or not data_list:
            raise invalid("data_list 须为非空数组")
        if len(data_list) > MAX_BATCH:
            raise JdyError(17024, f"批量新建超出上限 {MAX_BATCH}")
        with self.lock:
            tx = self._transaction_id(transaction_id)
            earlier: list[str] = []
            if tx is not None and tx in self.batches:
                entry_id, ids, when = self.batches[tx]
                if entry_id == spec.entry_id and self.now() - when < TRANSACTION_WINDOW:
                    earlier = [i for i in ids if i in self.records[spec.entry_id]]
            records = []
            for index, data in enumerate(data_list):
                fresh = self._new_record(spec, data, INTEGRATION_USER)
                if index < len(earlier):  # the same transaction again: overwrite the earlier batch
                    old = self.records[spec.entry_id][earlier[index]]
                    fresh.update({"_id": old["_id"], "createTime": old["createTime"], "creator": old["creator"]})
                records.append(fresh)
            for stale in earlier[len(records):]:
                self.records[spec.entry_id].pop(stale, None)
                self._ids[spec.entry_id].remove(stale)
            for record in records:
                self._store(spec, record)
            ids = [r["_id"] for r in records]
            if tx is not None:
                self.batches[tx] = (spec.entry_id, ids, self.now())
            return ids

    def batch_update(self, spec: FormSpec, data_ids: Any, data: Any) -> int:
        ids = self._id_list(data_ids, 17023)
        if isinstance(data, dict):
            for key in data:
                widget = spec.by_name.get(key)
                if widget is not None and widget.type == "subform":
                    raise invalid(f"批量修改不支持子表单字段 {key}")
        with self.lock:
            missing = [i for i in ids if i not in self.records[spec.entry_id]]
            if missing:
                raise JdyError(4001, f"数据不存在：{missing[0]}")
            for data_id in ids:
                self.update(spec, data_id, data)
            return len(ids)

    def batch_delete(self, spec: FormSpec, data_ids: Any) -> int:
        ids = self._id_list(data_ids, 17024)
        with self.lock:
            count = 0
            for data_id in ids:
                if data_id in self.records[spec.entry_id]:
                    self.delete(spec, data_id)
                    count += 1
            return count

    @staticmethod
    def _id_list(data_ids: Any, limit_code: int) -> list[str]:
        if not isinstance(data_ids, list) or not data_ids or not all(isinstance(i, str) for i in data_ids):
            raise invalid("data_ids 须为非空字符串数组")
        if len(data_ids) > MAX_BATCH:
            raise JdyError(limit_code, f"批量操作超出上限 {MAX_BATCH}")
        return data_ids

    @staticmethod
    def _transaction_id(value: Any) -> Optional[str]:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not _UUID_RE.match(value):
            raise JdyError(17025, "transaction_id 不合法")
        return value.lower()

    def list_page(self, spec: FormSpec, cursor: Any, limit: Any, fields: Any, flt: Any,
                  early: Optional[int] = None) -> list[dict[str, Any]]:
        if limit is None:
            limit = 10
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise invalid("limit 须为 1-100 的整数")
        if cursor is not None and not isinstance(cursor, str):
            raise invalid("data_id 须为字符串")
        if fields is not None and (not isinstance(fields, list) or not all(isinstance(f, str) for f in fields)):
            raise invalid("fields 须为字符串数组")
        predicate = compile_filter(spec, flt)
        with self.lock:
            ids = self._ids[spec.entry_id]
            start = bisect.bisect_right(ids, cursor) if cursor else 0
            if early is not None and cursor:
                start = max(0, start - (early or limit))  # fault: the page ignores part of the cursor
            page = []
            table = self.records[spec.entry_id]
            for data_id in ids[start:]:
                record = table[data_id]
                if predicate(record):
                    page.append(self._project(record, fields))
                    if len(page) >= limit:
                        break
            return page

    @staticmethod
    def _project(record: dict[str, Any], fields: Optional[list[str]]) -> dict[str, Any]:
        if fields is None:
            return copy.deepcopy(record)
        return {k: copy.deepcopy(record[k]) for k in ["_id", *fields] if k in record}

    # -- the browser side: a user's edit fires the form's data push
    def set_hook(self, entry_id: str, url: Optional[str], secret: Optional[str] = None) -> None:
        with self.lock:
            if entry_id not in self.forms:
                raise ValueError(f"form {entry_id} does not exist")
            if url is None:
                self.hooks.pop(entry_id, None)
            else:
                self.hooks[entry_id] = (url, secret or self.webhook_secret)

    def push_record(self, entry_id: str, op: str, data: dict[str, Any], url: Optional[str] = None,
                    retries: int = 3, backoff: float = 0.2) -> Optional[PushResult]:
        """Send ``op`` for ``data`` to the form's push URL (or ``url``); None when none is set."""
        spec = self.forms[entry_id]
        target = (url, self.hooks.get(entry_id, (None, self.webhook_secret))[1]) if url else self.hooks.get(entry_id)
        if target is None:
            return None
        body = {**copy.deepcopy(data), "formName": spec.name}
        result = push_webhook(target[0], {"op": op, "data": body}, target[1], retries=retries, backoff=backoff)
        with self.lock:
            self.pushes.append({"entry_id": entry_id, "op": op, "data_id": data.get("_id"), **result.to_json()})
        return result


# --------------------------------------------------------------------------- HTTP


class JiandaoyunHandler(ConnectionControlMixin, BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "JiandaoyunSim/1.0"
    _capture: Optional[list[tuple[int, bytes, dict[str, str]]]] = None

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("%s " + fmt, self.address_string(), *args)

    @property
    def state(self) -> JiandaoyunState:
        return self.server.state  # type: ignore[return-value]

    # -- plumbing
    def _send(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None,
              html: Optional[str] = None) -> None:
        raw = (html if html is not None else json.dumps(payload, ensure_ascii=False)).encode("utf-8")
        ctype = "text/html" if html is not None else "application/json"
        if self._capture is not None:
            self._capture.append((status, raw, headers or {}))
            return
        self.write_answer(status, ctype, raw, headers)

    def _error(self, exc: JdyError) -> None:
        self._send(exc.status, {"code": exc.code, "msg": exc.msg})

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._capture = None
        path, _, query = self.path.partition("?")
        if path.startswith(admin.PREFIX):
            self._admin("GET", path, query, b"")
            return
        self.close_connection = True
        self._send(405, {"code": 1, "msg": "只支持 POST 请求"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._capture = None
        try:
            self._handle_post()
        except Exception:  # a simulator bug must still answer
            log.exception("jiandaoyun simulator failed on %s", self.path)
            self._capture = None
            self.close_connection = True
            self._send(500, {"code": 1, "msg": "simulator internal error (see server log)"})

    def _admin(self, method: str, path: str, query: str, raw: bytes) -> None:
        status, payload = admin.handle(self.state, method, path, query, raw)
        self._send(status, payload)

    def _read_body(self) -> Optional[bytes]:
        return self.read_sized_body(self.state.max_body_bytes, HARD_BODY_LIMIT, self._refuse_body)

    def _refuse_body(self, reason: str, length: int) -> None:
        if reason == "chunked":
            self._send(411, {"code": 1, "msg": "需要 Content-Length"})
        elif reason == "length":
            self._send(411, {"code": 1, "msg": "需要有效的 Content-Length"})
        else:
            self._send(413, {"code": 1, "msg": f"请求体过大：上限 {self.state.max_body_bytes} 字节"})

    def _handle_post(self) -> None:
        path, _, query = self.path.partition("?")
        raw = self._read_body()
        if raw is None:
            return
        if path.startswith(admin.PREFIX):
            self._admin("POST", path, query, raw)
            return
        match = _ROUTE_RE.match(path)
        route = match.group(1).strip("/") if match else ""
        handler = _ROUTES.get(route)
        if handler is None:
            self._send(404, {"code": 1, "msg": f"接口不存在：{path}"})
            return
        self.state.calls.append(route)
        fault = self.state.faults.take(route, exclude=("repeat_page",))
        if fault is not None and not fault.after and self._fault_before(fault):
            return
        if fault is not None and fault.after:
            self._capture = []
        self._serve(route, handler, raw)
        if fault is not None and fault.after:
            captured, self._capture = self._capture, None
            self._spoil(fault, captured[0] if captured else None)

    def _serve(self, route: str, handler: Callable[["JiandaoyunHandler", dict[str, Any]], Any], raw: bytes) -> None:
        auth = self.headers.get("Authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.state.api_keys:
            self._send(401, {"code": 8301, "msg": "API Key 校验失败"})
            return
        try:
            self.state.check_rate(route)
            try:
                body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raise JdyError(1, "请求参数不是有效的 JSON") from None
            if not isinstance(body, dict):
                raise JdyError(1, "请求体须为 JSON 对象")
            self._send(200, handler(self, body))
        except JdyError as exc:
            self._error(exc)

    def _fault_before(self, fault: Fault) -> bool:
        """Apply a fault instead of the call; False when the call still runs (latency)."""
        if fault.kind == "latency":
            time.sleep(fault.delay)
            return False
        if fault.kind == "http429":
            self._send(429, {"message": "Too Many Requests (simulated gateway)"},
                       headers={"Retry-After": f"{fault.retry_after:g}"})
        elif fault.kind == "rate_limit":
            self._send(400, {"code": fault.code, "msg": "超出请求频率限制 (simulated)"})
        elif fault.kind == "token_invalid":
            self._send(401, {"code": 8301, "msg": "API Key 校验失败 (simulated)"})
        else:
            self._spoil(fault, None)
        return True

    def _spoil(self, fault: Fault, answer: Optional[tuple[int, bytes, dict[str, str]]]) -> None:
        kind = fault.kind
        if kind == "http5xx":
            self.close_connection = True
            self._send(fault.status, None, html=f"<html><body>{fault.status} Server Error (simulated)</body></html>")
        elif kind == "disconnect":
            self.drop_connection()
        elif kind == "malformed_json":
            raw = answer[1] if answer else b'{"data": [{"_id": "000000000000000000000000"}]}'
            self.write_answer(200, "application/json", raw[: max(1, len(raw) // 2)])
        elif kind == "reset":
            status, raw, headers = answer or (200, b'{"data": []}' * 32, {})
            self.write_answer(status, "application/json", raw, headers, body=raw[: len(raw) // 2])
            self.reset_connection()
        else:  # pragma: no cover - Fault validates kinds
            raise AssertionError(kind)

    # -- routes
    @staticmethod
    def _window(body: dict[str, Any]) -> slice:
        limit, skip = body.get("limit", 100), body.get("skip", 0)
        for name, value, low, high in (("limit", limit, 1, 100), ("skip", skip, 0, 1 << 31)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise invalid(f"{name} 须为 {low}-{high} 的整数")
        return slice(skip, skip + limit)

    def r_app_list(self, body: dict[str, Any]) -> Any:
        apps = [{"name": name, "app_id": app_id} for app_id, name in sorted(self.state.apps.items())]
        return {"apps": apps[self._window(body)]}

    def r_entry_list(self, body: dict[str, Any]) -> Any:
        app_id = body.get("app_id")
        if not isinstance(app_id, str) or app_id not in self.state.apps:
            raise JdyError(2004, "应用不存在")
        forms = [{"name": f.name, "app_id": f.app_id, "entry_id": f.entry_id}
                 for f in self.state.forms.values() if f.app_id == app_id]
        return {"forms": forms[self._window(body)]}

    def r_widget_list(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        return {"widgets": [w.describe() for w in spec.widgets],
                "sysWidgets": [{"name": n} for n in ("creator", "createTime", "updater", "updateTime", "flowState")],
                "dataModifyTime": utc_text(self.state.now())}

    def r_data_get(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        return {"data": self.state.get(spec, body.get("data_id"))}

    def r_data_list(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        early = None
        if body.get("data_id"):
            fault = self.state.faults.take("app/entry/data/list", kinds=("repeat_page",))
            if fault is not None:
                early = fault.rows or 0
        return {"data": self.state.list_page(spec, body.get("data_id"), body.get("limit"), body.get("fields"),
                                             body.get("filter"), early)}

    def r_data_create(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        return {"data": self.state.create(spec, body.get("data"), body.get("transaction_id"))}

    def r_data_update(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        return {"data": self.state.update(spec, body.get("data_id"), body.get("data"))}

    def r_data_delete(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        self.state.delete(spec, body.get("data_id"))
        return {"status": "success"}

    def r_batch_create(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        ids = self.state.batch_create(spec, body.get("data_list"), body.get("transaction_id"))
        return {"status": "success", "success_count": len(ids), "success_ids": ids}

    def r_batch_update(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        return {"status": "success", "success_count": self.state.batch_update(spec, body.get("data_ids"),
                                                                              body.get("data"))}

    def r_batch_delete(self, body: dict[str, Any]) -> Any:
        spec = self.state.form(body.get("app_id"), body.get("entry_id"))
        return {"status": "success", "success_count": self.state.batch_delete(spec, body.get("data_ids"))}


_ROUTES: dict[str, Callable[[JiandaoyunHandler, dict[str, Any]], Any]] = {
    "app/list": JiandaoyunHandler.r_app_list,
    "app/entry/list": JiandaoyunHandler.r_entry_list,
    "app/entry/widget/list": JiandaoyunHandler.r_widget_list,
    "app/entry/data/get": JiandaoyunHandler.r_data_get,
    "app/entry/data/list": JiandaoyunHandler.r_data_list,
    "app/entry/data/create": JiandaoyunHandler.r_data_create,
    "app/entry/data/update": JiandaoyunHandler.r_data_update,
    "app/entry/data/delete": JiandaoyunHandler.r_data_delete,
    "app/entry/data/batch_create": JiandaoyunHandler.r_batch_create,
    "app/entry/data/batch_update": JiandaoyunHandler.r_batch_update,
    "app/entry/data/batch_delete": JiandaoyunHandler.r_batch_delete,
}


# --------------------------------------------------------------------------- seed + factory


def wrap(values: dict[str, Any]) -> dict[str, Any]:
    """Plain values in the write form, for seeding and the browser-side admin calls."""
    out = {}
    for key, value in values.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            value = [{k: (v if k == "_id" else {"value": v}) for k, v in row.items()} for row in value]
        out[key] = {"value": value}
    return out


def seed_demo(state: JiandaoyunState) -> None:
    """The supply-chain app with its six forms and two light-MES production orders."""
    state.add_app(DEMO_APP_ID, DEMO_APP_NAME)
    for spec in demo_forms():
        state.add_form(spec)
    previous = state._now
    try:
        state.set_now("2026-11-25T01:00:00+00:00")
        spec = state.forms[DEMO_FORMS["production_order"]]
        for order_id, product, qty, start, due, line, status in DEMO_PRODUCTION_ORDERS:
            state.create(spec, wrap({"order_id": order_id, "material_id": product, "quantity": qty, "uom": "H87",
                                     "start": start, "due": due, "line": line, "status": status, "version": 1}))
    finally:
        state._now = previous


def make_server(host: str = "127.0.0.1", port: int = 0, state: Optional[JiandaoyunState] = None,
                seed: Optional[str] = None) -> SimulatorServer:
    state = state or JiandaoyunState()
    if seed == "demo":
        seed_demo(state)
    elif seed:
        raise ValueError(f"unknown seed {seed!r}; expected 'demo'")
    return SimulatorServer((host, port), JiandaoyunHandler, state)


def new_transaction_id() -> str:
    return str(uuid.uuid4())
