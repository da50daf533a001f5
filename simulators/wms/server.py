"""GreaterWMS-style REST simulator (protocols/wms.md §2).

A real HTTP server (see ``simulators/base.py``) that answers the GreaterWMS routes the hub uses:
ASN header and lines, the receiving status machine (preload -> presort -> sorted -> movetobin)
and the stock views. Wire behaviour follows GreaterWMS/Django REST Framework:

* auth is the ``token`` header (the tenant's openid). GreaterWMS raises a plain DRF
  ``APIException`` from ``utils/auth.py``, which DRF turns into **HTTP 500** with
  ``{"detail": "User Does Not Exists"}``; the simulator does the same by default so the adapter is
  tested against the real quirk. ``state.auth_status = 401`` (or 403) switches to a conventional
  status for adapters that front GreaterWMS with a gateway.
* business errors are HTTP 500 ``{"detail": "..."}`` (DRF ``APIException``); request-shape errors
  are HTTP 400 - ``{"detail": "JSON parse error - ..."}`` for unparsable bodies (DRF
  ``ParseError``) and ``{field: [messages]}`` for validation.
* lists are page-number paginated ``?page=&max_page=`` -> ``{count, next, previous, results}``.

Simulator extensions and inferences, marked so nobody mistakes them for GreaterWMS behaviour:

* ``asn_ref`` (EXTENSION): an optional field on ``POST /asn/list/`` storing the hub's own ASN
  number, filterable with ``GET /asn/list/?asn_ref=``. Real GreaterWMS generates ``asn_code``
  itself and has no such field (django-filter silently ignores unknown query params, so the
  adapter re-checks the value client-side). Against a real system the hub needs a mapping
  table asn_number -> asn_code.
* one line per goods code per ASN, rejected with 400 otherwise (INFERRED: GreaterWMS' sorted and
  movetobin bodies address lines by ``goods_code``, so duplicates would be ambiguous).
* ``t_code`` on lines and bin rows ties a bin row to the ASN line it came from (INFERRED).
* error texts not listed as confirmed in the spec (unknown goods, bins) are our wording.
* one tenant: every valid token sees the same data (GreaterWMS separates data by openid).
* ``state.down`` / ``state.fail_next`` are fault injection, answered before auth as a proxy would;
  ``state.faults`` (and ``POST /__sim/faults``, ``admin.py``) arm latency, 5xx, 429, malformed
  JSON and resets, optionally *after* the work was done (``faults.py``). Operations are named
  ``"<METHOD> <path>"`` for ``match``, e.g. ``"POST /asn/list/"``.
* the hub finds its inbounds by ``creater`` (``GET /asn/list/?creater=``); GreaterWMS' own
  ``asn/filter.py`` allows exact ``creater`` filtering, and the django-filter lookups
  ``__gte``/``__lte``/``__gt``/``__lt``/``__icontains`` on the fields it lists (asn_status,
  update_time, ...) are served too.
* ``utils/datasolve.data_validate`` is mirrored: a text field containing ``script`` or ``select``
  (any case) is refused with HTTP 500 ``{"detail": "Bad Data can‘not be store"}``; texts over 255
  characters get DRF's 400.
* ``GET /goods/`` lists the goods master with ``goods_unit`` (``goods/urls.py``; its mount point
  ``/goods/`` is INFERRED from the other apps' routes).

``DELETE /asn/list/{id}/`` follows GreaterWMS ``asn/views.py`` ``AsnListViewSet.destroy``: allowed
only while ``asn_status`` is 1 (then the header and its lines disappear from every list and the
lines' quantities leave ``goods_qty`` / ``asn_stock``), otherwise HTTP 500
``{"detail": "This ASN Status Is Not '1'"}``; an id that is not (or no longer) there is DRF's 404
``{"detail": "Not found."}``. GreaterWMS soft-deletes (``is_delete``); the simulator drops the rows,
which no client can tell apart.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any, Iterable
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from simulators.base import SimulatorServer
from simulators.wms import admin
from simulators.wms.faults import KINDS, FaultBook, FaultyHandlerMixin

log = logging.getLogger(__name__)

#: Demo-only token, printed in docs and used by ``make demo``; never a production credential.
DEMO_TOKEN = "demo-wms-token-not-a-secret"
TOKEN_ENV = "WMS_SIM_TOKEN"

DEFAULT_SUPPLIERS = ("SUP-001", "SUP-002")
DEFAULT_GOODS = ("1.02.0033", "1.02.0041", "1.03.0100")
#: GreaterWMS ``goods_unit`` of the demo goods (free text there; the hub crosswalks it)
DEFAULT_GOODS_UNIT = "PCS"
#: bin name -> bin_property; the property decides which stock bucket put-away fills
DEFAULT_BINS = {"A-01-01": "Normal", "A-01-02": "Normal", "DMG-01": "Damage", "QC-01": "Inspection", "HOLD-01": "Holding"}

PAGE_SIZE_DEFAULT = 30  # asn/page.py MyPageNumberPaginationASNList
PAGE_SIZE_MAX = 1000

_BUCKET_BY_PROPERTY = {
    "Normal": "can_order_stock",
    "Damage": "damage_stock",
    "Inspection": "inspect_stock",
    "Holding": "hold_stock",
}

_STOCK_BUCKETS = (
    "goods_qty", "onhand_stock", "can_order_stock", "ordered_stock", "inspect_stock", "hold_stock",
    "damage_stock", "asn_stock", "dn_stock", "pre_load_stock", "pre_sort_stock", "sorted_stock",
    "pick_stock", "picked_stock", "back_order_stock",
)


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class ApiError(Exception):
    """Raised inside a handler; becomes an HTTP response with a JSON body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def _business(detail: str) -> ApiError:
    # DRF APIException: GreaterWMS' way to report every business rule violation
    return ApiError(500, {"detail": detail})


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, {field: [message]})


class WmsState:
    """The simulated warehouse: master data, ASNs, stock, plus fault injection."""

    def __init__(self, tokens: Iterable[str] = (DEMO_TOKEN,)) -> None:
        self.lock = threading.RLock()
        self.tokens = set(tokens)
        self.suppliers: dict[str, dict[str, Any]] = {}
        self.goods: dict[str, dict[str, Any]] = {}
        self.bins: dict[str, str] = {}
        self.asns: list[dict[str, Any]] = []
        self.details: list[dict[str, Any]] = []
        self.stock: dict[str, dict[str, Any]] = {}
        self.bin_stock: list[dict[str, Any]] = []
        #: (method, path) of every request, without headers, so tests can count calls
        self.requests: list[tuple[str, str]] = []
        #: True -> every request gets 503, as if the WMS (or its proxy) were down
        self.down = False
        #: status for missing/unknown tokens; 500 is what GreaterWMS really answers
        self.auth_status = 500
        #: False -> every list ignores its query filters: GreaterWMS' views set ``filter_class``,
        #: which newer django-filter versions no longer read (INFERRED risk); clients must re-check rows
        self.honour_filters = True
        #: False -> behave like real GreaterWMS: ``asn_ref`` is neither stored nor filterable
        self.asn_ref_extension = True
        self._failures: deque[int] = deque()
        #: faults armed in-process or over ``POST /__sim/faults`` (``faults.py``)
        self.faults = FaultBook(kinds=tuple(k for k in KINDS if k != "session_expired"))
        self._asn_seq = 0
        self._ids = {"asn": 0, "detail": 0, "stock": 0, "bin": 0}

    # -- fault injection ------------------------------------------------------------------
    def fail_next(self, n: int, status: int = 503) -> None:
        """The next ``n`` requests answer ``status`` with a non-JSON (proxy-style) body."""
        with self.lock:
            self._failures.extend([status] * n)

    def _take_failure(self) -> int | None:
        with self.lock:
            if self.down:
                return 503
            return self._failures.popleft() if self._failures else None

    # -- master data ----------------------------------------------------------------------
    def add_supplier(self, name: str) -> None:
        with self.lock:
            self.suppliers.setdefault(name, {"supplier_name": name, "create_time": _now()})

    def add_goods(self, code: str, desc: str = "", cost: float = 0.0, unit: str = DEFAULT_GOODS_UNIT) -> None:
        with self.lock:
            self.goods.setdefault(code, {"id": len(self.goods) + 1, "goods_code": code, "goods_desc": desc or code,
                                         "goods_unit": unit, "goods_cost": cost, "creater": "seed",
                                         "create_time": _now(), "update_time": _now()})

    def add_bin(self, name: str, bin_property: str = "Normal") -> None:
        if bin_property not in _BUCKET_BY_PROPERTY:
            raise ValueError(f"bin_property must be one of {sorted(_BUCKET_BY_PROPERTY)}")
        with self.lock:
            self.bins[name] = bin_property

    # -- helpers used by the handler (all under self.lock) ---------------------------------
    def _next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def _stock_row(self, goods_code: str, supplier: str) -> dict[str, Any]:
        row = self.stock.get(goods_code)
        if row is None:
            now = _now()
            row = {"id": self._next_id("stock"), "goods_code": goods_code,
                   "goods_desc": self.goods[goods_code]["goods_desc"], **{b: 0 for b in _STOCK_BUCKETS},
                   "supplier": supplier, "create_time": now, "update_time": now}
            self.stock[goods_code] = row
        return row

    def asn_by_id(self, asn_id: int) -> dict[str, Any]:
        for asn in self.asns:
            if asn["id"] == asn_id:
                return asn
        raise _business("ASN Code does not exists")

    def asn_by_code(self, code: Any) -> dict[str, Any]:
        for asn in self.asns:
            if asn["asn_code"] == code:
                return asn
        raise _business("ASN Code does not exists")

    def lines_of(self, asn_code: str) -> list[dict[str, Any]]:
        return [d for d in self.details if d["asn_code"] == asn_code]


def seed_demo(state: WmsState, suppliers: Iterable[str] = DEFAULT_SUPPLIERS,
              goods: Iterable[str] = DEFAULT_GOODS, bins: dict[str, str] | None = None) -> WmsState:
    """Load master data. The hub sends supplier *codes* as GreaterWMS supplier names."""
    for name in suppliers:
        state.add_supplier(name)
    for code in goods:
        state.add_goods(code)
    for name, prop in (DEFAULT_BINS if bins is None else bins).items():
        state.add_bin(name, prop)
    return state


# --------------------------------------------------------------------------------------------
# request validation helpers


def _require_str(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "This field is required.")
    return value


def _max_length(value: str, field: str, limit: int = 255) -> None:
    if len(value) > limit:
        raise _invalid(field, f"Ensure this field has no more than {limit} characters.")


def _require_int(value: Any, field: str, minimum: int) -> int:
    # bool is an int subclass in Python; a JSON true is not a quantity
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(field, "A valid integer is required.")
    if value < minimum:
        raise _invalid(field, f"Ensure this value is greater than or equal to {minimum}.")
    return value


def _paginate(handler: "WmsHandler", rows: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
    try:
        size = int(query.get("max_page", PAGE_SIZE_DEFAULT))
        if size < 1:
            raise ValueError
    except ValueError:
        size = PAGE_SIZE_DEFAULT  # DRF falls back to page_size on a bad page_size param
    size = min(size, PAGE_SIZE_MAX)
    try:
        page = int(query.get("page", "1"))
        if page < 1:
            raise ValueError
    except ValueError:
        raise ApiError(404, {"detail": "Invalid page."}) from None
    pages = max(1, -(-len(rows) // size))
    if page > pages:
        raise ApiError(404, {"detail": "Invalid page."})

    def link(number: int) -> str:
        params = dict(query, page=str(number))
        if number == 1:
            params.pop("page")  # DRF removes page=1 from the previous link
        qs = urlencode(params)
        return f"http://{handler.headers.get('Host', '127.0.0.1')}{handler.path_only}" + (f"?{qs}" if qs else "")

    return {
        "count": len(rows),
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
        "results": rows[(page - 1) * size: page * size],
    }


def _compare(value: Any, lookup: str, wanted: str) -> bool:
    if lookup in ("", "exact"):
        return str(value) == wanted
    if lookup == "iexact":
        return str(value).lower() == wanted.lower()
    if lookup == "contains":
        return wanted in str(value)
    if lookup == "icontains":
        return wanted.lower() in str(value).lower()
    left: Any = value
    right: Any = wanted
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            right = float(wanted)
        except ValueError:
            return False
    else:
        left = str(value)
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[lookup]


_LOOKUPS = ("exact", "iexact", "contains", "icontains", "gt", "gte", "lt", "lte")


def _filter(rows: list[dict[str, Any]], query: dict[str, str], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """django-filter: ``field=`` and ``field__<lookup>=`` for the listed fields; anything else is
    ignored (django-filter drops unknown query parameters silently)."""
    for key, wanted in query.items():
        field, _, lookup = key.partition("__")
        if field not in fields or lookup not in ("",) + _LOOKUPS:
            continue
        rows = [r for r in rows if _compare(r.get(field), lookup, wanted)]
    return rows


_REFUSED_WORDS = re.compile(r"script|select", re.IGNORECASE)


def _data_validate(*texts: Any) -> None:
    """``utils/datasolve.data_validate``: GreaterWMS refuses any text containing these words."""
    for text in texts:
        if _REFUSED_WORDS.search(str(text)):
            raise _business("Bad Data can\u2018not be store")


# --------------------------------------------------------------------------------------------
# handler


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/asn/list/$"), "get_asn_list"),
    ("POST", re.compile(r"^/asn/list/$"), "post_asn_list"),
    ("DELETE", re.compile(r"^/asn/list/(\d+)/$"), "delete_asn_list"),
    ("GET", re.compile(r"^/asn/detail/$"), "get_asn_detail"),
    ("POST", re.compile(r"^/asn/detail/$"), "post_asn_detail"),
    ("POST", re.compile(r"^/asn/preload/(\d+)/$"), "post_preload"),
    ("POST", re.compile(r"^/asn/presort/(\d+)/$"), "post_presort"),
    ("POST", re.compile(r"^/asn/sorted/(\d+)/$"), "post_sorted"),
    ("POST", re.compile(r"^/asn/movetobin/(\d+)/$"), "post_movetobin"),
    ("GET", re.compile(r"^/stock/list/$"), "get_stock_list"),
    ("GET", re.compile(r"^/stock/bin/$"), "get_stock_bin"),
    ("GET", re.compile(r"^/goods/$"), "get_goods"),
]


class WmsHandler(FaultyHandlerMixin, BaseHTTPRequestHandler):
    server_version = "GreaterWMS-sim/0.1"
    # keep-alive, like the Django dev/gunicorn servers a requests.Session normally talks to
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes; with Nagle on, keep-alive clients stall ~40 ms each
    disable_nagle_algorithm = True
    server: SimulatorServer

    @property
    def state(self) -> WmsState:
        return self.server.state  # type: ignore[return-value]

    def log_message(self, format: str, *args: Any) -> None:
        # request line only: the token travels in a header and never reaches the log
        log.debug("wms-sim %s", format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        # read the body first, always: leaving it unread would corrupt the next keep-alive request
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        self.path_only = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.startswith(admin.PREFIX):
            status, payload = admin.handle(self.state.faults, method, parts.path, raw)
            self._send_json(status, payload)
            return
        with self.state.lock:
            self.state.requests.append((method, parts.path))
        failure = self.state._take_failure()
        if failure is not None:
            self._send_html(failure)
            return
        fault = self.state.faults.take(f"{method} {parts.path}")
        if fault is not None and self.fault_before(fault):
            return
        try:
            self._authenticate()
            for route_method, pattern, name in _ROUTES:
                match = pattern.match(parts.path)
                if match and route_method == method:
                    body = self._json(raw) if method in ("POST", "PUT") else {}
                    with self.state.lock:
                        status, payload = getattr(self, name)(query, body, *match.groups())
                    break
            else:
                if any(p.match(parts.path) for _, p, _ in _ROUTES):
                    raise ApiError(405, {"detail": f'Method "{method}" not allowed.'})
                raise ApiError(404, {"detail": "Not found."})
        except ApiError as exc:
            status, payload = exc.status, exc.body
        except Exception:  # a simulator bug must still answer, like Django's 500 page
            log.exception("wms-sim internal error on %s %s", method, parts.path)
            self._send_html(500)
            return
        if fault is not None and fault.after:
            self.fault_after(fault, status, "application/json", json.dumps(payload, ensure_ascii=False).encode("utf-8"))
            return
        self._send_json(status, payload)

    def _authenticate(self) -> None:
        token = self.headers.get("token")
        if not token:
            raise ApiError(self.state.auth_status, {"detail": "Please Add Openid To Your Request Headers"})
        if token not in self.state.tokens:
            raise ApiError(self.state.auth_status, {"detail": "User Does Not Exists"})

    @staticmethod
    def _json(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, {"detail": f"JSON parse error - {exc}"}) from None
        if not isinstance(body, dict):
            raise ApiError(400, {"non_field_errors": ["Invalid data. Expected a dictionary."]})
        return body

    def _send_json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_html(self, status: int) -> None:
        # what a reverse proxy or Django (DEBUG off) sends: no JSON, no detail
        data = f"<html><body><h1>{status}</h1></body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _filtered(self, rows: list[dict[str, Any]], query: dict[str, str], fields: tuple[str, ...]) -> list[dict[str, Any]]:
        return _filter(rows, query, fields) if self.state.honour_filters else list(rows)

    # -- ASN header -----------------------------------------------------------------------
    def get_asn_list(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        fields = ("id", "asn_code", "asn_status", "supplier", "creater", "create_time", "update_time") + (
            ("asn_ref",) if self.state.asn_ref_extension else ())
        # like django-filter, unknown query params are ignored, not rejected
        rows = self._filtered(self.state.asns, query, fields)
        if query.get("ordering") in ("-id", "-create_time", "-update_time"):
            rows = list(reversed(rows))
        page = _paginate(self, [dict(r) for r in rows], query)
        return 200, {"supplier_list": sorted(self.state.suppliers), **page}

    def post_asn_list(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        creater = _require_str(body, "creater")
        _max_length(creater, "creater")
        _data_validate(creater)
        state = self.state
        # DRF serializers drop unknown fields, which is what real GreaterWMS does with asn_ref
        asn_ref = body.get("asn_ref") if state.asn_ref_extension else None
        if asn_ref is not None and (not isinstance(asn_ref, str) or not asn_ref.strip()):
            raise _invalid("asn_ref", "Not a valid string.")
        state._asn_seq += 1
        code = f"ASN{state._asn_seq:08d}"
        now = _now()
        row = {"id": state._next_id("asn"), "asn_code": code, "asn_status": 1, "total_weight": 0.0,
               "total_volume": 0.0, "total_cost": 0.0, "supplier": "", "creater": creater,
               "bar_code": _md5(code), "transportation_fee": {}, "create_time": now, "update_time": now,
               "asn_ref": asn_ref}  # simulator extension, see module docstring
        if not state.asn_ref_extension:
            del row["asn_ref"]
        state.asns.append(row)
        return 200, dict(row)

    def delete_asn_list(self, query: dict[str, str], body: dict, asn_id: str) -> tuple[int, Any]:
        state = self.state
        asn = next((a for a in state.asns if a["id"] == int(asn_id)), None)
        if asn is None:
            raise ApiError(404, {"detail": "Not found."})  # DRF get_object() on a missing/deleted row
        if asn["asn_status"] != 1:
            raise _business("This ASN Status Is Not '1'")
        now = _now()
        for line in state.lines_of(asn["asn_code"]):
            stock = state.stock[line["goods_code"]]
            stock["goods_qty"] -= line["goods_qty"]
            stock["asn_stock"] -= line["goods_qty"]
            stock["update_time"] = now
        state.details = [d for d in state.details if d["asn_code"] != asn["asn_code"]]
        state.asns.remove(asn)
        return 200, dict(asn)

    # -- ASN lines ------------------------------------------------------------------------
    def get_asn_detail(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        rows = self._filtered(self.state.details, query, ("asn_code", "asn_status", "goods_code", "supplier"))
        return 200, _paginate(self, [dict(r) for r in rows], query)

    def post_asn_detail(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        asn_code = _require_str(body, "asn_code")
        supplier = _require_str(body, "supplier")
        creater = _require_str(body, "creater")
        codes, qtys = body.get("goods_code"), body.get("goods_qty")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) and c for c in codes):
            raise _invalid("goods_code", "A non-empty list of goods codes is required.")
        if not isinstance(qtys, list):
            raise _invalid("goods_qty", "A list of quantities is required.")
        if len(codes) != len(qtys):
            raise _invalid("goods_qty", f"goods_qty has {len(qtys)} entries, goods_code has {len(codes)}.")
        qtys = [_require_int(q, "goods_qty", 1) for q in qtys]
        _data_validate(asn_code, supplier, creater, *codes)
        if len(set(codes)) != len(codes):
            raise _invalid("goods_code", "Each goods code may appear once per ASN.")
        state = self.state
        asn = state.asn_by_code(asn_code)
        if asn["asn_status"] != 1:
            raise _business("This ASN Status Is Not 1")
        if supplier not in state.suppliers:
            raise _business("Supplier does not exists")
        for code in codes:
            if code not in state.goods:
                raise _business(f"Goods Code {code} does not exists")
        existing = {d["goods_code"] for d in state.lines_of(asn_code)}
        for code in codes:
            if code in existing:
                raise _invalid("goods_code", f"Goods code {code} is already on {asn_code}.")
        now = _now()
        for code, qty in zip(codes, qtys):
            goods = state.goods[code]
            detail_id = state._next_id("detail")
            state.details.append({
                "id": detail_id, "asn_code": asn_code, "asn_status": 1, "supplier": supplier,
                "goods_code": code, "goods_desc": goods["goods_desc"], "goods_qty": qty,
                "goods_actual_qty": 0, "sorted_qty": 0, "goods_shortage_qty": 0, "goods_more_qty": 0,
                "goods_damage_qty": 0, "goods_weight": 0.0, "goods_volume": 0.0,
                "goods_cost": goods["goods_cost"] * qty, "creater": creater,
                "t_code": _md5(f"{asn_code}{code}{detail_id}"), "create_time": now, "update_time": now,
            })
            stock = state._stock_row(code, supplier)
            stock["goods_qty"] += qty
            stock["asn_stock"] += qty
            stock["update_time"] = now
        asn["supplier"] = supplier
        asn["total_cost"] = sum(d["goods_cost"] for d in state.lines_of(asn_code))
        asn["update_time"] = now
        return 200, {"detail": "success"}

    # -- receiving status machine ---------------------------------------------------------
    def _advance(self, asn_id: str, expected: int, new: int, src: str, dst: str) -> tuple[int, Any]:
        state = self.state
        asn = state.asn_by_id(int(asn_id))
        if asn["asn_status"] != expected:
            raise _business(f"This ASN Status Is Not {expected}")
        lines = state.lines_of(asn["asn_code"])
        if not lines:
            raise _business("ASN has no detail lines")
        now = _now()
        for line in lines:
            line["asn_status"] = new
            line["update_time"] = now
            stock = state.stock[line["goods_code"]]
            stock[src] -= line["goods_qty"]
            stock[dst] += line["goods_qty"]
            stock["update_time"] = now
        asn["asn_status"] = new
        asn["update_time"] = now
        return 200, dict(asn)

    def post_preload(self, query: dict[str, str], body: dict, asn_id: str) -> tuple[int, Any]:
        return self._advance(asn_id, 1, 2, "asn_stock", "pre_load_stock")

    def post_presort(self, query: dict[str, str], body: dict, asn_id: str) -> tuple[int, Any]:
        return self._advance(asn_id, 2, 3, "pre_load_stock", "pre_sort_stock")

    def post_sorted(self, query: dict[str, str], body: dict, asn_id: str) -> tuple[int, Any]:
        goods_data = body.get("goodsData")
        if not isinstance(goods_data, list) or not goods_data:
            raise _invalid("goodsData", "A non-empty list is required.")
        actual: dict[str, int] = {}
        for item in goods_data:
            if not isinstance(item, dict):
                raise _invalid("goodsData", "Each entry must be an object.")
            code = item.get("goods_code")
            if not isinstance(code, str) or code in actual:
                raise _invalid("goodsData", f"goods_code {code!r} missing or repeated.")
            actual[code] = _require_int(item.get("goods_actual_qty"), "goods_actual_qty", 0)
        state = self.state
        asn = state.asn_by_id(int(asn_id))
        if asn["asn_status"] != 3:
            raise _business("This ASN Status Is Not 3")
        lines = state.lines_of(asn["asn_code"])
        by_code = {line["goods_code"]: line for line in lines}
        unknown = sorted(set(actual) - set(by_code))
        if unknown:
            raise _business(f"Goods Code {unknown[0]} is not on {asn['asn_code']}")
        missing = sorted(set(by_code) - set(actual))
        if missing:
            raise _invalid("goodsData", f"No goods_actual_qty for {', '.join(missing)}.")
        now = _now()
        for code, line in by_code.items():
            qty = actual[code]
            line["goods_actual_qty"] = qty
            line["sorted_qty"] = qty
            line["goods_shortage_qty"] = max(line["goods_qty"] - qty, 0)
            line["goods_more_qty"] = max(qty - line["goods_qty"], 0)
            # a line received as 0 has nothing to put away: GreaterWMS closes it at once
            line["asn_status"] = 5 if qty == 0 else 4
            line["update_time"] = now
            stock = state.stock[code]
            stock["pre_sort_stock"] -= line["goods_qty"]
            stock["sorted_stock"] += qty
            stock["goods_qty"] += qty - line["goods_qty"]
            stock["update_time"] = now
        asn["asn_status"] = 5 if all(actual[c] == 0 for c in by_code) else 4
        asn["update_time"] = now
        return 200, dict(asn)

    def post_movetobin(self, query: dict[str, str], body: dict, detail_id: str) -> tuple[int, Any]:
        bin_name = _require_str(body, "bin_name")
        _require_str(body, "creater")
        qty = body.get("qty")
        if isinstance(qty, bool) or not isinstance(qty, int):
            raise _invalid("qty", "A valid integer is required.")
        state = self.state
        line = next((d for d in state.details if d["id"] == int(detail_id)), None)
        if line is None:
            raise _business("ASN Detail does not exists")
        if body.get("asn_code") != line["asn_code"] or body.get("goods_code") != line["goods_code"]:
            raise _business("asn_code / goods_code do not match this detail")
        asn = state.asn_by_code(line["asn_code"])
        if asn["asn_status"] != 4:
            raise _business("This ASN Status Is Not 4")
        if qty <= 0:
            raise _business("Move QTY Must > 0")
        if bin_name not in state.bins:
            raise _business(f"Bin {bin_name} does not exists")
        binned = sum(b["goods_qty"] for b in state.bin_stock if b["t_code"] == line["t_code"])
        if binned + qty > line["sorted_qty"]:
            raise _business("Move QTY Must <= Sorted QTY")
        now = _now()
        prop = state.bins[bin_name]
        state.bin_stock.append({
            "id": state._next_id("bin"), "bin_name": bin_name, "goods_code": line["goods_code"],
            "goods_desc": line["goods_desc"], "goods_qty": qty, "pick_qty": 0, "picked_qty": 0,
            "bin_size": "", "bin_property": prop, "t_code": line["t_code"], "create_time": now, "update_time": now,
        })
        stock = state.stock[line["goods_code"]]
        stock["sorted_stock"] -= qty
        stock["onhand_stock"] += qty
        stock[_BUCKET_BY_PROPERTY[prop]] += qty
        stock["update_time"] = now
        if prop == "Damage":
            line["goods_damage_qty"] += qty
        if binned + qty == line["sorted_qty"]:
            line["asn_status"] = 5
        line["update_time"] = now
        if all(d["asn_status"] == 5 for d in state.lines_of(line["asn_code"])):
            asn["asn_status"] = 5
            asn["update_time"] = now
        return 200, {"detail": "success"}

    # -- stock ----------------------------------------------------------------------------
    def get_stock_list(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        rows = sorted(self.state.stock.values(), key=lambda r: r["id"])
        rows = self._filtered(rows, query, ("goods_code", "supplier"))
        return 200, _paginate(self, [dict(r) for r in rows], query)

    def get_stock_bin(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        rows = self._filtered(self.state.bin_stock, query, ("bin_name", "goods_code", "bin_property", "t_code"))
        return 200, _paginate(self, [dict(r) for r in rows], query)

    def get_goods(self, query: dict[str, str], body: dict, *_: str) -> tuple[int, Any]:
        rows = sorted(self.state.goods.values(), key=lambda r: r["id"])
        rows = self._filtered(rows, query, ("id", "goods_code", "goods_desc", "goods_unit", "creater"))
        return 200, _paginate(self, [dict(r) for r in rows], query)


def make_server(state: WmsState | None = None, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """A GreaterWMS simulator bound to ``host:port`` (port 0 = any free port); not yet serving."""
    return SimulatorServer((host, port), WmsHandler, state if state is not None else WmsState())


# --------------------------------------------------------------------------------------------
# operator helper: plays the warehouse worker over the real HTTP endpoints


def operate_receiving(base_url: str, token: str, asn_code: str, actual_qtys: dict[str, int] | None = None, *,
                      bin_name: str = "A-01-01", damaged_qtys: dict[str, int] | None = None,
                      damage_bin: str = "DMG-01", creater: str = "wms_op", timeout: float = 10.0) -> dict[str, Any]:
    """Receive ``asn_code`` the way a worker would: preload, presort, count, put away.

    ``actual_qtys`` maps goods code -> counted qty; goods not named are counted as expected.
    ``damaged_qtys`` (part of the counted qty) go to ``damage_bin``, the rest to ``bin_name``.
    Returns the final ASN header row. Raises ``requests.HTTPError`` on any non-2xx answer.
    """
    actual_qtys = actual_qtys or {}
    damaged_qtys = damaged_qtys or {}
    base = base_url.rstrip("/")
    with requests.Session() as http:
        http.headers["token"] = token

        def call(method: str, path: str, **kw: Any) -> Any:
            resp = http.request(method, base + path, timeout=timeout, **kw)
            resp.raise_for_status()
            return resp.json()

        asn = call("GET", "/asn/list/", params={"asn_code": asn_code})["results"][0]
        lines = call("GET", "/asn/detail/", params={"asn_code": asn_code, "max_page": PAGE_SIZE_MAX})["results"]
        call("POST", f"/asn/preload/{asn['id']}/")
        call("POST", f"/asn/presort/{asn['id']}/")
        counted = {line["goods_code"]: int(actual_qtys.get(line["goods_code"], line["goods_qty"])) for line in lines}
        call("POST", f"/asn/sorted/{asn['id']}/", json={
            "asn_code": asn_code, "supplier": asn["supplier"], "creater": creater,
            "goodsData": [{"goods_code": code, "goods_actual_qty": qty} for code, qty in counted.items()]})
        for line in lines:
            code = line["goods_code"]
            damaged = int(damaged_qtys.get(code, 0))
            for target, qty in ((damage_bin, damaged), (bin_name, counted[code] - damaged)):
                if qty > 0:
                    call("POST", f"/asn/movetobin/{line['id']}/", json={
                        "asn_code": asn_code, "goods_code": code, "bin_name": target, "qty": qty, "creater": creater})
        return call("GET", "/asn/list/", params={"asn_code": asn_code})["results"][0]
