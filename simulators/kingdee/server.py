"""Kingdee K/3 Cloud (金蝶云星空) WebAPI simulator (protocols/kingdee-k3cloud.md).

A real HTTP server (see ``simulators/base.py``) answering
``POST {base}/k3cloud/Kingdee.BOS.WebApi.ServicesStub.<Service>.common.kdsvc`` the way a private
K/3 Cloud deployment does, so the adapter is tested against the wire, not against itself:

* routing on the last path segment; ``/k3cloud/`` matched case-insensitively (§1, §6.1);
* the three body envelopes - named keys, positional ``parameters``, legacy positional with
  metadata - and ``data`` as an object or a JSON-encoded string (§1.1);
* ``AuthService.ValidateUser`` / ``LoginByAppSecret`` issue ``kdservice-sessionid`` and
  ``ASP.NET_SessionId`` cookies; ``LoginResultType`` 1 success, 0 failure (§2.1);
* every DynamicFormService call without a live session gets the MsgCode 1 body (§2.2);
* ``ExecuteBillQuery`` / ``BillQuery`` / ``View`` / ``Save`` / ``Submit`` / ``Audit`` /
  ``UnAudit`` with the Z/A -> B -> C -> D lifecycle and the §3 envelope (§4);
* business errors are HTTP 200; query errors use the nested-array envelope (§4.1).

Simulator choices, marked so nobody mistakes them for documented Kingdee behaviour:

* INFERRED: unknown service -> HTTP 404 JSON; malformed JSON / bad envelope -> HTTP 400 JSON;
  body over ``state.max_body_bytes`` -> HTTP 413; missing Content-Length -> HTTP 411.
* INFERRED: unknown FormId -> MsgCode 4 "业务对象不存在"; unknown field key (query or Save
  model) -> MsgCode 9 "元数据中标识为X的字段不存在"; validation failures -> MsgCode 11;
  forbidden lifecycle moves -> MsgCode 12; bill not found -> MsgCode 10.
* INFERRED: ``FSettleCurrId`` sits on the PO header (real K/3 keeps it on the ``FPOOrderFinance``
  sub-entity); seeded currency uses Kingdee's preset number ``PRE001`` (人民币, code CNY).
* EXTENSION: ``STK_InStock`` carries ``F_HUB_ExtNo`` - the custom field a site adds through a
  BOS extension so the hub can find its own bills again (see adapters/kingdee/README.md).
* ``FModifyDate`` changes on Save only; Audit sets ``FApproveDate`` (as in K/3 Cloud, status
  changes are not modifications) - incremental pulls must look at both.
* Signed-header auth (§2.2) and the other login services are not simulated.
* Faults (``simulators/kingdee/faults.py``): latency, HTTP 500, 429 + Retry-After, session
  expired, malformed JSON, repeated rows on a page, reset mid-body, disconnect, timeout; armed
  in-process (``state.faults.arm`` / ``state.fail_next``) or by ``POST /__sim/faults``. They are
  answered after routing and before auth, the way a proxy or a crashing app pool would, or with
  ``after`` once the call did its work (a Save that committed but whose answer is lost).
* EXTENSION admin endpoints under ``/__sim/`` (not Kingdee; simulator only, no auth, bind to
  127.0.0.1): ``GET|POST /__sim/faults``, ``POST /__sim/touch``, ``POST /__sim/seed``,
  ``GET /__sim/stats`` - see ``simulators/kingdee/admin.py``.
* Forms beyond the PO/in-stock pair, all INFERRED where the notes say so: ``ENG_BOM`` (base data
  numbered by ``FNumber``; entry ``FTreeEntity`` with ``FMaterialIdChild``, ``FChildUnitId``,
  ``FNumerator``/``FDenominator``, ``FScrapRate`` in percent, ``FEffectDate``/``FExpireDate``),
  ``PRD_MO`` (entry ``FTreeEntity``, ``FStatus`` 1..6 as strings), ``STK_Inventory`` (read-only
  query form; string GUID ``FID``; **no** ``FModifyDate``, as in many real setups, so clients
  must pull it as a snapshot), ``PUR_ReceiveBill`` (entry ``FDetailEntity`` with
  ``FActReceiveQty``, ``FOrderBillNo``), ``QM_InspectBill`` (the notes name no inspection bill;
  entry ``FEntity`` with ``FInspectQty``/``FQualifiedQty``/``FUnqualifiedQty``,
  ``FInspectResult`` 1 pass / 2 fail / 3 conditional).
* EXTENSION: ``F_HUB_ExtNo`` on ``PUR_ReceiveBill`` and ``QM_InspectBill`` too, and
  ``F_HUB_PromisedDate`` / ``F_HUB_PromisedQty`` on PO entries (where the hub writes a supplier's
  order response back).
* Queries are filtered and sorted once per distinct query and data version and cached, so paging
  through 100 000 rows costs one sort, not one per page; rows are looked up by number through an
  index, not by scanning.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Iterable

from simulators.base import ConnectionControlMixin, SimulatorServer
from simulators.kingdee import admin
from simulators.kingdee.faults import KINDS as FAULT_KINDS
from simulators.kingdee.faults import Fault, FaultBook

log = logging.getLogger(__name__)

USERS_ENV = "KINGDEE_SIM_USERS"
APPS_ENV = "KINGDEE_SIM_APPS"
#: DEMO ONLY - a public, documented credential for the local simulator and ``make demo``;
#: it protects nothing and must never be configured on a real Kingdee system.
DEMO_USERS = "demo-acct:mes_api:demo-only-password"
#: DEMO ONLY - ``acct:user:app_id:app_secret`` for LoginByAppSecret against the simulator.
DEMO_APPS = "demo-acct:mes_api:demo_app_id:demo-only-app-secret"

SESSION_COOKIE = "kdservice-sessionid"
ASPNET_COOKIE = "ASP.NET_SessionId"
SESSION_LOST_MESSAGE = "会话信息已丢失，请重新登录"
MAX_BODY_BYTES = 1 << 20
#: bodies larger than this are not even drained: the connection is dropped
HARD_BODY_LIMIT = 16 << 20
#: how long a "timeout" fault holds a request if nobody releases it; far beyond any client timeout
STALL_CAP_SECONDS = 60.0
#: distinct query results kept between pages (each is one filtered, sorted, flattened result)
QUERY_CACHE_SIZE = 4

_PATH_RE = re.compile(r"/k3cloud/(?:.*/)?([^/]+)\.common\.kdsvc$", re.IGNORECASE)


# --------------------------------------------------------------------------- form metadata


@dataclass(frozen=True)
class FormSpec:
    form_id: str
    header: tuple[str, ...]
    number_field: str = "FBillNo"
    number_prefix: str = ""
    entry_key: str | None = None
    entry: tuple[str, ...] = ()
    required_header: tuple[str, ...] = ()
    required_entry: tuple[str, ...] = ()
    #: reference field -> master-data form, so ``.FName`` etc. can be resolved
    refs: dict[str, str] = field(default_factory=dict)
    is_bill: bool = True
    #: a query-only form (STK_Inventory): Save and status operations are refused
    read_only: bool = False


_COMMON_HEADER = ("FID", "FDocumentStatus", "FCreateDate", "FModifyDate", "FApproveDate", "FForbidStatus")

FORMS: dict[str, FormSpec] = {
    spec.form_id.upper(): spec
    for spec in (
        FormSpec(
            "BD_Supplier", _COMMON_HEADER + ("FNumber", "FName", "FShortName", "FCreateOrgId", "FUseOrgId"),
            number_field="FNumber", required_header=("FNumber", "FName"), is_bill=False,
        ),
        FormSpec(
            "BD_MATERIAL",
            _COMMON_HEADER + ("FNumber", "FName", "FSpecification", "FBaseUnitId", "FCreateOrgId", "FUseOrgId"),
            number_field="FNumber", required_header=("FNumber", "FName"), is_bill=False,
        ),
        FormSpec(
            "BD_Currency", _COMMON_HEADER + ("FNumber", "FName", "FCode"),
            number_field="FNumber", required_header=("FNumber", "FName"), is_bill=False,
        ),
        FormSpec(
            "PUR_PurchaseOrder",
            _COMMON_HEADER + ("FBillNo", "FDate", "FBillTypeID", "FSupplierId", "FPurchaseOrgId", "FSettleCurrId", "FNote"),
            number_prefix="CGDD", entry_key="FPOOrderEntry",
            entry=("FEntryID", "FSeq", "FMaterialId", "FUnitId", "FQty", "FPrice", "FTaxPrice", "FDeliveryDate",
                   "FRemainReceiveQty", "FMtoNo", "F_HUB_PromisedDate", "F_HUB_PromisedQty"),
            required_header=("FDate", "FSupplierId", "FPurchaseOrgId"),
            required_entry=("FMaterialId", "FUnitId", "FQty"),
            refs={"FSupplierId": "BD_Supplier", "FMaterialId": "BD_MATERIAL", "FSettleCurrId": "BD_Currency"},
        ),
        FormSpec(
            "STK_InStock",
            _COMMON_HEADER + ("FBillNo", "FDate", "FBillTypeID", "FSupplierId", "FStockOrgId", "FPurchaseOrgId",
                              "FNote", "F_HUB_ExtNo"),
            number_prefix="CGRK", entry_key="FInStockEntry",
            entry=("FEntryID", "FSeq", "FMaterialId", "FUnitID", "FRealQty", "FMustQty", "FLot", "FPOOrderNo",
                   "FStockId"),
            required_header=("FDate", "FSupplierId", "FStockOrgId"),
            required_entry=("FMaterialId", "FUnitID", "FRealQty", "FStockId"),
            refs={"FSupplierId": "BD_Supplier", "FMaterialId": "BD_MATERIAL"},
        ),
        FormSpec(
            "PUR_ReceiveBill",
            _COMMON_HEADER + ("FBillNo", "FDate", "FBillTypeID", "FSupplierId", "FStockOrgId", "FPurOrgId", "FNote",
                              "F_HUB_ExtNo"),
            number_prefix="CGSL", entry_key="FDetailEntity",
            entry=("FEntryID", "FSeq", "FMaterialId", "FUnitId", "FActReceiveQty", "FMustQty", "FLot", "FOrderBillNo",
                   "FStockID"),
            required_header=("FDate", "FSupplierId", "FStockOrgId"),
            required_entry=("FMaterialId", "FUnitId", "FActReceiveQty"),
            refs={"FSupplierId": "BD_Supplier", "FMaterialId": "BD_MATERIAL"},
        ),
        FormSpec(
            "QM_InspectBill",
            _COMMON_HEADER + ("FBillNo", "FDate", "FBillTypeID", "FInspectOrgId", "FSupplierId", "FNote",
                              "F_HUB_ExtNo"),
            number_prefix="JYD", entry_key="FEntity",
            entry=("FEntryID", "FSeq", "FMaterialId", "FUnitId", "FInspectQty", "FQualifiedQty", "FUnqualifiedQty",
                   "FInspectResult", "FLot", "FSrcBillNo", "FMemo"),
            required_header=("FDate", "FInspectOrgId"),
            required_entry=("FMaterialId", "FUnitId", "FInspectQty", "FInspectResult"),
            refs={"FSupplierId": "BD_Supplier", "FMaterialId": "BD_MATERIAL"},
        ),
        FormSpec(
            "ENG_BOM",
            _COMMON_HEADER + ("FNumber", "FName", "FMaterialId", "FUnitId", "FCreateOrgId", "FUseOrgId"),
            number_field="FNumber", entry_key="FTreeEntity",
            entry=("FEntryID", "FSeq", "FMaterialIdChild", "FChildUnitId", "FNumerator", "FDenominator", "FScrapRate",
                   "FEffectDate", "FExpireDate"),
            required_header=("FNumber", "FMaterialId"),
            required_entry=("FMaterialIdChild", "FNumerator", "FDenominator"),
            refs={"FMaterialId": "BD_MATERIAL", "FMaterialIdChild": "BD_MATERIAL"}, is_bill=False,
        ),
        FormSpec(
            "PRD_MO",
            _COMMON_HEADER + ("FBillNo", "FDate", "FBillType", "FPrdOrgId"),
            number_prefix="MO", entry_key="FTreeEntity",
            entry=("FEntryID", "FSeq", "FMaterialId", "FUnitId", "FQty", "FPlanStartDate", "FPlanFinishDate",
                   "FWorkShopID", "FStockId", "FBomId", "FStatus"),
            required_header=("FDate", "FPrdOrgId"),
            required_entry=("FMaterialId", "FUnitId", "FQty"),
            refs={"FMaterialId": "BD_MATERIAL"},
        ),
        FormSpec(
            "STK_Inventory",
            ("FID", "FMaterialId", "FStockId", "FLot", "FBaseQty", "FBaseUnitId", "FStockOrgId", "FStockStatusId"),
            number_field="FID", refs={"FMaterialId": "BD_MATERIAL"}, is_bill=False, read_only=True,
        ),
    )
}


def _ci_lookup(names: Iterable[str], key: str) -> str | None:
    """Kingdee field keys are case-insensitive (``FEntryID`` vs ``FEntryId``); return our spelling."""
    low = key.lower()
    for name in names:
        if name.lower() == low:
            return name
    return None


# --------------------------------------------------------------------------- state


class KingdeeError(Exception):
    """A business failure the handler turns into a §3 envelope (or the nested query envelope)."""

    def __init__(self, msg_code: int, message: str, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.msg_code = msg_code
        self.message = message
        self.errors = errors or [{"FieldName": None, "Message": message, "DIndex": 0}]


def _parse_credentials(text: str, width: int) -> list[tuple[str, ...]]:
    entries = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        # the secret is the last part and may itself contain ':'
        parts = item.split(":", width - 1)
        if len(parts) != width:
            raise ValueError(f"credential entry needs {width} ':'-separated parts (entry #{len(entries) + 1})")
        entries.append(tuple(parts))
    return entries


class KingdeeState:
    """In-memory per-form tables, sessions and fault switches. Every mutation holds ``lock``."""

    def __init__(self, users: str | None = None, apps: str | None = None) -> None:
        self.lock = threading.RLock()
        users = users if users is not None else os.environ.get(USERS_ENV, DEMO_USERS)
        apps = apps if apps is not None else os.environ.get(APPS_ENV, DEMO_APPS)
        self._users = {(a, u): p for a, u, p in _parse_credentials(users, 3)}
        self._apps = {(a, u, i): s for a, u, i, s in _parse_credentials(apps, 4)}
        self.sessions: dict[str, dict[str, str]] = {}
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {key: {} for key in FORMS}
        #: per form: number (FBillNo / FNumber) -> FID, so lookups by number do not scan
        self._numbers: dict[str, dict[Any, Any]] = {key: {} for key in FORMS}
        self._next_fid = 100001
        self._next_entry_id = 200001
        self._number_seq: dict[str, int] = {}
        self.faults = FaultBook()
        self._stall_release = threading.Event()
        #: bumped by every write; query results are cached per version
        self.version = 0
        self._query_cache: OrderedDict[tuple, list[list[Any]]] = OrderedDict()
        self.max_body_bytes = MAX_BODY_BYTES
        self.login_count = 0
        #: every routed call's service name, for tests that count round trips
        self.calls: list[str] = []
        self._now: dt.datetime | None = None

    def __repr__(self) -> str:  # the user table holds passwords: never print it
        return f"KingdeeState(users={len(self._users)}, sessions={len(self.sessions)})"

    # -- clock: tests freeze it so FModifyDate and watermarks are deterministic
    def set_now(self, when: dt.datetime | str | None) -> None:
        self._now = dt.datetime.fromisoformat(when) if isinstance(when, str) else when

    def now(self) -> str:
        when = self._now or dt.datetime.now()
        return when.replace(microsecond=0, tzinfo=None).isoformat()

    # -- fault injection (see faults.py for the kinds)
    def fail_next(self, n: int, kind: str, service: str | None = None, **options: Any) -> Fault:
        """Make the next ``n`` calls (of ``service``, e.g. ``"ExecuteBillQuery"``, if given) fail.

        ``http500``: HTTP 500; ``response_error``: HTTP 200 plain ``response_error:`` body;
        ``timeout``: hold the request until :meth:`release_stalled` (or a long cap) and then drop
        it, so any client timeout fires without the test sleeping; ``disconnect``: drop the
        connection without a response; ``session_lost``: the MsgCode 1 body even with a valid
        session; the other kinds and ``options`` (``after``, ``delay``, ``retry_after``,
        ``rows``, ``probability``) are described in ``faults.py``.
        """
        fault = Fault(kind=kind, count=n, service=service, **options)
        if kind == "timeout":
            self._stall_release.clear()
        return self.faults.arm(fault)

    def arm_fault(self, spec: dict[str, Any] | Fault) -> Fault:
        """Arm a fault, or one from its JSON form (the ``/__sim/faults`` body)."""
        fault = spec if isinstance(spec, Fault) else Fault.from_json(spec)
        if fault.kind == "timeout":
            self._stall_release.clear()
        return self.faults.arm(fault)

    def take_fault(self, service: str, kinds: Iterable[str] | None = None,
                   exclude: Iterable[str] = ("repeat_rows",)) -> Fault | None:
        return self.faults.take(service, kinds, exclude)

    def release_stalled(self) -> None:
        self._stall_release.set()

    def wait_stalled(self) -> None:
        self._stall_release.wait(STALL_CAP_SECONDS)

    def expire_sessions(self) -> None:
        with self.lock:
            self.sessions.clear()

    # -- auth
    def login(self, acct: str, user: str, secret: str, app_id: str | None = None) -> str | None:
        with self.lock:
            if app_id is None:
                ok = self._users.get((acct, user)) == secret
            else:
                ok = self._apps.get((acct, user, app_id)) == secret
            if not ok:
                return None
            session_id = str(uuid.uuid4())
            self.sessions[session_id] = {"acct": acct, "user": user}
            self.login_count += 1
            return session_id

    # -- tables
    def spec(self, form_id: str) -> FormSpec:
        spec = FORMS.get(str(form_id or "").upper())
        if spec is None:
            raise KingdeeError(4, "业务对象不存在")
        return spec

    def table(self, form_id: str) -> dict[int, dict[str, Any]]:
        return self.tables[self.spec(form_id).form_id.upper()]

    def find(self, form_id: str, number: str | None = None, fid: Any = None) -> dict[str, Any] | None:
        spec = self.spec(form_id)
        key = spec.form_id.upper()
        table = self.tables[key]
        with self.lock:
            if fid not in (None, "", 0, "0"):
                bill = table.get(fid)
                if bill is None and isinstance(fid, str) and fid.strip().isdigit():
                    bill = table.get(int(fid))
                if bill is None and not isinstance(fid, str):
                    bill = table.get(str(fid))
                if bill is not None:
                    return bill
            if number not in (None, ""):
                if spec.number_field == "FID":
                    return table.get(number)
                found = self._numbers[key].get(number)
                if found is not None:
                    return table.get(found)
        return None

    def insert(self, form_id: str, bill: dict[str, Any]) -> None:
        """Put a complete row into a form (the generator's fast path: no validation, no numbering)."""
        spec = self.spec(form_id)
        key = spec.form_id.upper()
        with self.lock:
            self.tables[key][bill["FID"]] = bill
            if spec.number_field != "FID" and bill.get(spec.number_field) not in (None, ""):
                self._numbers[key][bill[spec.number_field]] = bill["FID"]
            self.version += 1

    def new_fid(self) -> int:
        with self.lock:
            fid = self._next_fid
            self._next_fid += 1
            return fid

    def new_entry_id(self) -> int:
        with self.lock:
            entry_id = self._next_entry_id
            self._next_entry_id += 1
            return entry_id

    def bills(self, form_id: str) -> list[dict[str, Any]]:
        """A snapshot of a form's rows, for test assertions."""
        with self.lock:
            return json.loads(json.dumps(list(self.table(form_id).values())))

    def next_number(self, form_id: str) -> str:
        """The next free auto-number of a bill form (``CGDD000104``)."""
        with self.lock:
            return self._next_number(self.spec(form_id))

    def _next_number(self, spec: FormSpec) -> str:
        taken = self._numbers[spec.form_id.upper()]
        while True:
            seq = self._number_seq.get(spec.form_id, 0) + 1
            self._number_seq[spec.form_id] = seq
            number = f"{spec.number_prefix}{seq:06d}"
            if number not in taken:
                return number

    def reference_name(self, master_form: str, number: Any, prop: str) -> Any:
        master = self.find(master_form, number=number) if number not in (None, "") else None
        if master is None:
            return None
        return master.get(_ci_lookup(master, "F" + prop.lstrip("Ff")) or prop)

    # ---------------------------------------------------------------- operations
    def save(self, form_id: str, model: dict[str, Any], is_delete_entry: bool = True) -> dict[str, Any]:
        spec = self.spec(form_id)
        if not isinstance(model, dict):
            raise KingdeeError(8, "Model 必须是对象")
        if spec.read_only:
            raise KingdeeError(12, f"{spec.form_id} 是查询表单，不允许保存")  # INFERRED wording
        with self.lock:
            model = self._canonical_keys(spec, model)
            fid = model.get("FID")
            existing = None
            if fid not in (None, "", 0, "0"):
                existing = self.find(form_id, fid=fid)
                if existing is None:
                    raise KingdeeError(10, f"未找到内码为{fid}的单据")
                if existing["FDocumentStatus"] in ("B", "C"):
                    raise KingdeeError(12, "单据已审核，不允许修改" if existing["FDocumentStatus"] == "C"
                                       else "单据已提交，不允许修改")
            bill = self._merge(spec, existing, model, is_delete_entry)
            errors = self._validate(spec, bill)
            if errors:
                raise KingdeeError(11, errors[0]["Message"], errors)
            now = self.now()
            if existing is None:
                bill["FID"] = self._next_fid
                self._next_fid += 1
                bill["FCreateDate"] = now
                bill["FDocumentStatus"] = "A"
                if spec.is_bill and not bill.get(spec.number_field):
                    bill[spec.number_field] = self._next_number(spec)
            bill["FModifyDate"] = now
            for i, row in enumerate(bill.get(spec.entry_key, []) if spec.entry_key else []):
                row["FSeq"] = i + 1
                if not row.get("FEntryID"):
                    row["FEntryID"] = self._next_entry_id
                    self._next_entry_id += 1
            numbers = self._numbers[spec.form_id.upper()]
            if existing is not None and existing.get(spec.number_field) != bill.get(spec.number_field):
                numbers.pop(existing.get(spec.number_field), None)
            self.insert(form_id, bill)
            return bill

    def _canonical_keys(self, spec: FormSpec, model: dict[str, Any]) -> dict[str, Any]:
        unknown: list[str] = []
        out: dict[str, Any] = {}
        for key, value in model.items():
            name = _ci_lookup(spec.header, key)
            if name is None and spec.entry_key and key.lower() == spec.entry_key.lower():
                rows = value if isinstance(value, list) else []
                fixed_rows = []
                for row in rows:
                    fixed = {}
                    for rkey, rvalue in (row.items() if isinstance(row, dict) else []):
                        rname = _ci_lookup(spec.entry, rkey)
                        if rname is None:
                            unknown.append(f"{spec.entry_key}.{rkey}")
                        else:
                            fixed[rname] = rvalue
                    fixed_rows.append(fixed)
                out[spec.entry_key] = fixed_rows
            elif name is None:
                unknown.append(key)
            else:
                out[name] = value
        if unknown:
            raise KingdeeError(9, f"元数据中标识为{unknown[0]}的字段不存在",
                               [{"FieldName": k, "Message": f"元数据中标识为{k}的字段不存在", "DIndex": 0} for k in unknown])
        return out

    def _merge(self, spec: FormSpec, existing: dict | None, model: dict, is_delete_entry: bool) -> dict[str, Any]:
        bill = json.loads(json.dumps(existing)) if existing else {}
        for key, value in model.items():
            if key == spec.entry_key:
                continue
            if key in ("FDocumentStatus", "FModifyDate", "FCreateDate", "FApproveDate"):
                continue  # system-maintained: a client cannot audit a bill by writing the status
            bill[key] = value
        if existing:
            bill["FID"] = existing["FID"]
        if spec.entry_key:
            old_rows = {row["FEntryID"]: row for row in bill.get(spec.entry_key, [])}
            if spec.entry_key in model:
                updated: dict[Any, dict] = {}
                packet: list[dict] = []  # the packet's rows in order, updated or new
                added: list[dict] = []
                for row in model[spec.entry_key]:
                    entry_id = row.get("FEntryID")
                    if entry_id and entry_id in old_rows and entry_id not in updated:
                        updated[entry_id] = {**old_rows[entry_id], **row}
                        packet.append(updated[entry_id])
                    else:
                        added.append({k: v for k, v in row.items() if k != "FEntryID"})
                        packet.append(added[-1])
                if is_delete_entry:  # entries absent from the packet are deleted (the default)
                    bill[spec.entry_key] = packet
                else:  # IsDeleteEntry=false keeps them, in their place; new rows go last
                    bill[spec.entry_key] = [updated.get(entry_id, row) for entry_id, row in old_rows.items()] + added
            else:
                bill.setdefault(spec.entry_key, [])
        return bill

    def _validate(self, spec: FormSpec, bill: dict[str, Any]) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []

        def err(field_name: str, message: str) -> None:
            errors.append({"FieldName": field_name, "Message": message, "DIndex": 0})

        for key in spec.required_header:
            if _blank(bill.get(key)):
                err(key, f"字段“{key}”是必填项")
        if bill.get(spec.number_field):
            other = self._numbers[spec.form_id.upper()].get(bill[spec.number_field])
            if other is not None and other != bill.get("FID"):
                err(spec.number_field, f"编号“{bill[spec.number_field]}”已存在")
        for ref, master in spec.refs.items():
            if ref in bill and not _blank(bill[ref]) and self.find(master, number=_ref_number(bill[ref])) is None:
                err(ref, f"字段“{ref}”的值“{_ref_number(bill[ref])}”在基础资料中不存在")
        if spec.entry_key:
            rows = bill.get(spec.entry_key) or []
            if not rows:
                err(spec.entry_key, "单据体不能为空")
            for n, row in enumerate(rows, start=1):
                for key in spec.required_entry:
                    if _blank(row.get(key)):
                        err(key, f"第{n}行分录，字段“{key}”是必填项")
                for ref, master in spec.refs.items():
                    if ref in row and not _blank(row[ref]) and self.find(master, number=_ref_number(row[ref])) is None:
                        err(ref, f"第{n}行分录，字段“{ref}”的值“{_ref_number(row[ref])}”在基础资料中不存在")
                for qty_key in ("FQty", "FRealQty", "FActReceiveQty"):
                    if qty_key in row and not _blank(row[qty_key]):
                        qty = _number(row[qty_key])
                        if qty is None or qty <= 0:
                            err(qty_key, f"第{n}行分录，数量必须大于0")
                        elif spec.form_id == "STK_InStock":
                            limit = self._po_receivable(row)
                            if limit is not None and qty > limit:
                                # wording of a real captured failure (spec §3)
                                err(qty_key, f"第{n}行分录，数量大于入库上限！")
        return errors

    def _po_receivable(self, row: dict[str, Any]) -> float | None:
        """The PO line quantity an in-stock row may not exceed (None when no PO is linked)."""
        po_number = row.get("FPOOrderNo")
        if _blank(po_number):
            return None
        po = self.find("PUR_PurchaseOrder", number=po_number)
        if po is None:
            return None
        material = _ref_number(row.get("FMaterialId"))
        qtys = [_number(line.get("FQty")) or 0 for line in po.get("FPOOrderEntry", [])
                if _ref_number(line.get("FMaterialId")) == material]
        return sum(qtys) if qtys else 0.0

    def set_status(self, form_id: str, numbers: list[str], ids: list[str], target: str) -> list[dict[str, Any]]:
        """Submit (B), Audit (C) or UnAudit (D) bills; returns success entities, raises on any failure."""
        spec = self.spec(form_id)
        if spec.read_only:
            raise KingdeeError(12, f"{spec.form_id} 是查询表单，不支持该操作")  # INFERRED wording
        allowed = {"B": ("A", "Z", "D"), "C": ("B",), "D": ("C",)}[target]
        refusal = {
            "B": {"B": "单据已提交，不允许重复提交", "C": "单据已审核，不允许提交"},
            "C": {"A": "单据未提交，不允许审核", "Z": "暂存单据不允许审核", "D": "单据未提交，不允许审核",
                  "C": "单据已审核，不允许重复审核"},
            "D": {"A": "单据未审核，不允许反审核", "B": "单据未审核，不允许反审核", "Z": "单据未审核，不允许反审核",
                  "D": "单据未审核，不允许反审核"},
        }[target]
        keys = [("number", n) for n in numbers] + [("fid", i) for i in ids]
        if not keys:
            raise KingdeeError(8, "Numbers 或 Ids 不能为空")
        with self.lock:
            successes, errors, targets = [], [], []
            for index, (kind, key) in enumerate(keys):
                bill = self.find(form_id, number=key) if kind == "number" else self.find(form_id, fid=key)
                if bill is None:
                    errors.append({"FieldName": None, "Message": f"单据“{key}”不存在", "DIndex": index})
                elif bill["FDocumentStatus"] not in allowed:
                    errors.append({"FieldName": None, "DIndex": index, "Message":
                                   f"单据“{bill.get(spec.number_field)}”{refusal.get(bill['FDocumentStatus'], '状态不允许该操作')}"})
                else:
                    targets.append((index, bill))
            if errors:  # all-or-nothing keeps the simulator simple; real K/3 may be partial
                raise KingdeeError(12 if any("不允许" in e["Message"] for e in errors) else 10,
                                   errors[0]["Message"], errors)
            for index, bill in targets:
                bill["FDocumentStatus"] = target
                if target == "C":
                    bill["FApproveDate"] = self.now()
                elif target == "D":
                    bill["FApproveDate"] = None
                successes.append({"Id": bill["FID"], "Number": bill.get(spec.number_field), "DIndex": index})
            self.version += 1
            return successes

    # ---------------------------------------------------------------- queries
    def query(self, form_id: str, field_keys: list[str], filter_string: str, order_string: str,
              start_row: int, limit: int, top_row_count: int) -> list[list[Any]]:
        rows = self.query_all(form_id, field_keys, filter_string, order_string, top_row_count)
        start_row = max(start_row, 0)
        return rows[start_row:start_row + limit] if limit > 0 else rows[start_row:]

    def query_all(self, form_id: str, field_keys: list[str], filter_string: Any, order_string: Any,
                  top_row_count: int = 0) -> list[list[Any]]:
        """Every row of a query, filtered, sorted and flattened once per data version (pages slice it)."""
        spec = self.spec(form_id)
        with self.lock:
            cache_key = (self.version, spec.form_id, tuple(field_keys), str(filter_string), str(order_string),
                         top_row_count)
            cached = self._query_cache.get(cache_key)
            if cached is not None:
                self._query_cache.move_to_end(cache_key)
                return cached
            rows = self._evaluate(spec, field_keys, filter_string, order_string, top_row_count)
            self._query_cache[cache_key] = rows
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
            return rows

    def _evaluate(self, spec: FormSpec, field_keys: list[str], filter_string: Any, order_string: Any,
                  top_row_count: int) -> list[list[Any]]:
        resolvers = [self._resolver(spec, key) for key in field_keys]
        predicate = parse_filter(filter_string, lambda key: self._resolver(spec, key))
        orders = parse_order(order_string, lambda key: self._resolver(spec, key))
        wants_entries = any(r.is_entry for r in resolvers) or predicate.uses_entry or any(r.is_entry for r, _ in orders)
        table = self.tables[spec.form_id.upper()]
        flat: list[tuple[dict, dict | None]] = []
        for fid in sorted(table, key=_sort_key):
            bill = table[fid]
            # a header-only condition is decided once per bill, not once per entry row
            if not predicate.uses_entry and not predicate.matches(bill, None):
                continue
            rows = (bill.get(spec.entry_key) or []) if (spec.entry_key and wants_entries) else []
            # a bill without entry rows still yields one row (the query is a left join)
            for row in rows or [None]:
                if not predicate.uses_entry or predicate.matches(bill, row):
                    flat.append((bill, row))
        for resolver, descending in reversed(orders):  # stable sorts, last key first
            flat.sort(key=lambda pair: _sort_key(resolver.get(*pair)), reverse=descending)
        if top_row_count > 0:
            flat = flat[:top_row_count]
        return [[r.get(bill, row) for r in resolvers] for bill, row in flat]

    def _resolver(self, spec: FormSpec, key: str) -> "_Field":
        base, _, prop = key.strip().partition(".")
        is_entry = False
        name = None
        if spec.entry_key and base.lower().startswith(spec.entry_key.lower() + "_"):
            name = _ci_lookup(spec.entry, base[len(spec.entry_key) + 1:])
            is_entry = True
        if name is None:
            name = _ci_lookup(spec.header, base)
            is_entry = False
        if name is None and spec.entry_key:
            name = _ci_lookup(spec.entry, base)
            is_entry = True
        if name is None:
            raise KingdeeError(9, f"元数据中标识为{key}的字段不存在")
        master = spec.refs.get(name)
        return _Field(key, name, prop, is_entry, master, self)

    # ---------------------------------------------------------------- view
    def view(self, form_id: str, number: str | None, fid: Any) -> dict[str, Any]:
        spec = self.spec(form_id)
        with self.lock:
            bill = self.find(form_id, number=number, fid=fid)
            if bill is None:
                raise KingdeeError(10, "未找到对应数据")
            out = self._view_object(spec, bill, spec.header)
            if spec.entry_key:
                out[spec.entry_key[1:]] = [self._view_object(spec, row, spec.entry) for row in bill.get(spec.entry_key, [])]
            return out

    def _view_object(self, spec: FormSpec, obj: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            if name not in obj:
                continue
            key = {"FID": "Id", "FEntryID": "Id"}.get(name, name[1:] if name.startswith("F") else name)
            value = obj[name]
            master_form = spec.refs.get(name)
            if isinstance(value, dict):
                number = _ref_number(value)
                master = self.find(master_form, number=number) if master_form else None
                value = {"Id": master["FID"] if master else 0, "Number": number,
                         "Name": [{"Key": 2052, "Value": master.get("FName")}] if master else []}
            out[key] = value
        return out


@dataclass
class _Field:
    key: str
    name: str
    prop: str
    is_entry: bool
    master: str | None
    state: KingdeeState

    def get(self, bill: dict[str, Any], row: dict[str, Any] | None) -> Any:
        source = row if self.is_entry else bill
        if source is None:
            return None
        value = source.get(self.name)
        if isinstance(value, dict):
            number = _ref_number(value)
            if not self.prop or self.prop.lower() == "fnumber":
                if not self.prop and self.master:  # a bare reference key returns the internal id
                    master = self.state.find(self.master, number=number)
                    return master["FID"] if master else 0
                return number
            if self.master:
                return self.state.reference_name(self.master, number, self.prop)
            return value.get(_ci_lookup(value, self.prop) or self.prop)
        if self.prop:
            return None
        return value


def _ref_number(value: Any) -> Any:
    if isinstance(value, dict):
        key = _ci_lookup(value, "FNumber")
        return value.get(key) if key else None
    return value


def _blank(value: Any) -> bool:
    if isinstance(value, dict):
        return _blank(_ref_number(value))
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


# --------------------------------------------------------------------------- FilterString


_TOKEN_RE = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<op><>|>=|<=|!=|=|>|<)|(?P<lp>\()|(?P<rp>\))"
    r"|(?P<num>-?\d+(?:\.\d+)?(?![\w.]))|(?P<word>[A-Za-z_][\w.]*))"
)


class _Predicate:
    def __init__(self, fn: Callable[[dict, dict | None], bool], uses_entry: bool) -> None:
        self.fn = fn
        self.uses_entry = uses_entry

    def matches(self, bill: dict, row: dict | None) -> bool:
        return self.fn(bill, row)


def parse_filter(text: Any, resolve: Callable[[str], _Field]) -> _Predicate:
    """A small SQL-ish parser: ``field op 'value'`` with = <> != > < >= <=, ``and``, ``or``, parentheses.

    Enough for the hub's filters (``FModifyDate>='2026-11-01T00:00:00' and FDocumentStatus='C'``);
    anything else is a MsgCode 8 parameter error rather than a silently ignored clause.
    """
    if text in (None, "") or text == []:
        return _Predicate(lambda bill, row: True, False)
    if not isinstance(text, str):
        raise KingdeeError(8, "FilterString 仅支持字符串形式")
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if not match or match.end() == pos:
            raise KingdeeError(8, f"FilterString 语法错误，位置 {pos}")
        tokens.append((match.lastgroup or "", match.group(match.lastgroup or 0)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    uses_entry = False
    index = 0

    def peek() -> tuple[str, str] | None:
        return tokens[index] if index < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal index
        if index >= len(tokens):
            raise KingdeeError(8, "FilterString 语法错误：条件不完整")
        index += 1
        return tokens[index - 1]

    def is_word(token: tuple[str, str] | None, word: str) -> bool:
        return token is not None and token[0] == "word" and token[1].lower() == word

    def parse_or() -> Callable:
        left = parse_and()
        while is_word(peek(), "or"):
            take()
            right = parse_and()
            left = (lambda a, b: lambda bill, row: a(bill, row) or b(bill, row))(left, right)
        return left

    def parse_and() -> Callable:
        left = parse_atom()
        while is_word(peek(), "and"):
            take()
            right = parse_atom()
            left = (lambda a, b: lambda bill, row: a(bill, row) and b(bill, row))(left, right)
        return left

    def parse_atom() -> Callable:
        nonlocal uses_entry
        kind, value = take()
        if kind == "lp":
            inner = parse_or()
            if take()[0] != "rp":
                raise KingdeeError(8, "FilterString 语法错误：缺少右括号")
            return inner
        if kind != "word":
            raise KingdeeError(8, f"FilterString 语法错误：期望字段名，得到 {value!r}")
        resolver = resolve(value)
        uses_entry = uses_entry or resolver.is_entry
        op_kind, op = take()
        if op_kind != "op":
            raise KingdeeError(8, f"FilterString 语法错误：字段 {value} 后期望比较运算符")
        lit_kind, literal = take()
        if lit_kind == "str":
            operand: Any = literal[1:-1].replace("''", "'")
        elif lit_kind == "num":
            operand = float(literal)
        else:
            raise KingdeeError(8, f"FilterString 语法错误：期望常量，得到 {literal!r}")
        return lambda bill, row: _compare(resolver.get(bill, row), op, operand)

    predicate = parse_or()
    if index != len(tokens):
        raise KingdeeError(8, f"FilterString 语法错误：多余的内容 {tokens[index][1]!r}")
    return _Predicate(predicate, uses_entry)


def _as_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    return _parse_datetime_text(value)


@functools.lru_cache(maxsize=65536)
def _parse_datetime_text(value: str) -> dt.datetime | None:
    # cached: a date filter compares the same few thousand FModifyDate strings on every query
    if not re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None


def _compare(actual: Any, op: str, operand: Any) -> bool:
    if actual is None:
        return op in ("<>", "!=") and operand is not None
    left, right = actual, operand
    left_dt, right_dt = _as_datetime(actual), _as_datetime(operand)
    if left_dt is not None and right_dt is not None:
        left, right = left_dt, right_dt
    elif isinstance(actual, (int, float)) and not isinstance(actual, bool):
        right = _number(operand)
        if right is None:
            return False
    else:
        left, right = str(actual), str(operand) if not isinstance(operand, float) else f"{operand:g}"
    return {
        "=": left == right, "<>": left != right, "!=": left != right,
        ">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right,
    }[op]


def parse_order(text: Any, resolve: Callable[[str], _Field]) -> list[tuple[_Field, bool]]:
    if not text:
        return []
    orders = []
    for part in str(text).split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in ("ASC", "DESC")):
            raise KingdeeError(8, f"OrderString 语法错误：{part.strip()!r}")
        orders.append((resolve(words[0]), len(words) == 2 and words[1].upper() == "DESC"))
    return orders


# --------------------------------------------------------------------------- HTTP handler


class BadRequest(Exception):
    """Request shape the server cannot even route (HTTP 400)."""


def _loads_maybe(value: Any, what: str) -> Any:
    """``data`` (and positional params) may arrive as JSON-encoded strings (Java SDK)."""
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith(("{", "[")):
            try:
                return json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise BadRequest(f"{what} 不是有效的 JSON：{exc.msg} (line {exc.lineno} col {exc.colno})") from None
    return value


def _args(body: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Normalise named, positional and legacy envelopes into ``{name: value}`` (§1.1)."""
    if "parameters" in body:
        params = _loads_maybe(body["parameters"], "parameters")
        if not isinstance(params, list):
            raise BadRequest("parameters 必须是数组")
        return {name: params[i] if i < len(params) else None for i, name in enumerate(names)}
    lowered = {str(k).lower(): v for k, v in body.items()}
    return {name: lowered.get(name.lower()) for name in names}


def _int_arg(data: dict[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    try:
        return int(value if value not in (None, "") else default)
    except (TypeError, ValueError):
        raise KingdeeError(8, f"参数 {key} 必须是整数") from None


def _envelope(successes: list[dict] | None = None, extra: dict | None = None) -> dict[str, Any]:
    status = {"ErrorCode": "", "IsSuccess": True, "Errors": [], "SuccessEntitys": successes or [],
              "SuccessMessages": [], "MsgCode": 0}
    return {"Result": {"ResponseStatus": status, **(extra or {})}}


def _failure(error: KingdeeError) -> dict[str, Any]:
    status = {"ErrorCode": 500, "IsSuccess": False, "Errors": error.errors, "SuccessEntitys": [],
              "SuccessMessages": [], "MsgCode": error.msg_code}
    return {"Result": {"ResponseStatus": status, "Id": "", "Number": "", "NeedReturnData": []}}


class KingdeeHandler(ConnectionControlMixin, BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    server_version = "KingdeeSim/1.0"

    def log_message(self, fmt: str, *args: Any) -> None:  # route access logs through logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    @property
    def state(self) -> KingdeeState:
        return self.server.state  # type: ignore[return-value]

    # -- plumbing
    #: when a list, answers are collected instead of written (faults with ``after``)
    _capture: list[tuple[int, str, bytes, list[str], dict[str, str]]] | None = None

    def _send(self, status: int, payload: Any, cookies: list[str] | None = None, text: str | None = None,
              headers: dict[str, str] | None = None) -> None:
        raw = (text if text is not None else json.dumps(payload, ensure_ascii=False)).encode("utf-8")
        ctype = "text/plain" if text is not None else "application/json"
        if self._capture is not None:
            self._capture.append((status, ctype, raw, cookies or [], headers or {}))
            return
        self.write_answer(status, ctype, raw, headers, cookies=cookies or [])

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._capture = None
        path = self.path.split("?", 1)[0]
        if path.startswith(admin.PREFIX):
            self._admin("GET", path, b"")
            return
        self._send(405, {"ErrorCode": 405, "Message": "WebAPI 只接受 POST"})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        self._capture = None
        try:
            self._handle_post()
        except Exception:  # a simulator bug must still answer, in the shape real servers use
            log.exception("kingdee simulator failed on %s", self.path)
            self._capture = None
            self.close_connection = True
            self._send(500, None, text="response_error: simulator internal error (see server log)")

    def _admin(self, method: str, path: str, raw: bytes) -> None:
        status, payload = admin.handle(self.state, method, path, raw)
        self._send(status, payload)

    def _read_body(self) -> bytes | None:
        return self.read_sized_body(self.state.max_body_bytes, HARD_BODY_LIMIT, self._refuse_body)

    def _refuse_body(self, reason: str, length: int) -> None:
        if reason == "chunked":
            self._send(411, {"ErrorCode": 411, "Message": "需要 Content-Length（不支持分块传输）"})
        elif reason == "length":
            self._send(411, {"ErrorCode": 411, "Message": "需要有效的 Content-Length"})
        else:
            self._send(413, {"ErrorCode": 413,
                             "Message": f"请求体过大：{length} 字节，上限 {self.state.max_body_bytes} 字节"})

    def _handle_post(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith(admin.PREFIX):
            raw = self._read_body()
            if raw is not None:
                self._admin("POST", path, raw)
            return
        match = _PATH_RE.search(path)
        service = ""
        if match:
            parts = match.group(1).split(".")
            service = ".".join(parts[-2:])
        handler = _SERVICES.get(service.lower())
        raw = self._read_body()
        if raw is None:
            return
        if handler is None:
            self._send(404, {"ErrorCode": 404, "Message": f"服务不存在：{path}"})
            return
        self.state.calls.append(service)
        fault = self.state.take_fault(service.split(".")[-1])
        if fault is not None and not fault.after and self._fault_before(fault):
            return
        if fault is not None and fault.after:
            self._capture = []  # do the work, keep the answer, then spoil it
        self._dispatch(handler, raw)
        if fault is not None and fault.after:
            captured, self._capture = self._capture, None
            self._fault_after(fault, captured[0] if captured else None)

    def _dispatch(self, handler: Callable[["KingdeeHandler", dict[str, Any]], None], raw: bytes) -> None:
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except UnicodeDecodeError:
            self._send(400, {"ErrorCode": 400, "MsgCode": 8, "Message": "请求体不是 UTF-8 编码"})
            return
        except json.JSONDecodeError as exc:
            self._send(400, {"ErrorCode": 400, "MsgCode": 8,
                             "Message": f"请求体不是有效的 JSON：{exc.msg} (line {exc.lineno} col {exc.colno})"})
            return
        if not isinstance(body, dict):
            self._send(400, {"ErrorCode": 400, "MsgCode": 8, "Message": "请求体必须是 JSON 对象"})
            return
        try:
            handler(self, body)
        except BadRequest as exc:
            self._send(400, {"ErrorCode": 400, "MsgCode": 8, "Message": str(exc)})

    def _fault_before(self, fault: Fault) -> bool:
        """Apply a fault instead of the call; False when the call should still run (latency, expiry)."""
        kind = fault.kind
        if kind == "latency":
            time.sleep(fault.delay)
            return False
        if kind == "session_expired":
            self.state.expire_sessions()
            return False
        if kind == "http429":
            self._send(429, {"ErrorCode": 429, "Message": "请求过于频繁，请稍后再试 (simulated)"},
                       headers={"Retry-After": f"{fault.retry_after:g}"})
        elif kind == "session_lost":
            self._session_lost()
        else:
            self._spoil(kind, None)
        return True

    def _fault_after(self, fault: Fault, answer: tuple | None) -> None:
        self._spoil(fault.kind, answer)

    def _spoil(self, kind: str, answer: tuple | None) -> None:
        """Fail an answer: ``answer`` is the real one (status, ctype, body, cookies, headers) when the call ran."""
        if kind == "http500":
            self.close_connection = True
            self._send(500, None, text="<html><body>500 Internal Server Error (simulated)</body></html>")
        elif kind == "response_error":
            self._send(200, None, text="response_error: 服务端内部错误 (simulated)")
        elif kind == "timeout":
            # hold the request until the test releases it: the client times out deterministically
            self.state.wait_stalled()
            self.drop_connection()
        elif kind == "disconnect":
            self.drop_connection()
        elif kind == "malformed_json":
            raw = answer[2] if answer else b'{"Result": {"ResponseStatus": {"IsSuccess": true, "Errors": []}}}'
            cut = raw[: max(1, len(raw) // 2)]
            self.write_answer(200, "application/json", cut)
        elif kind == "reset":
            status, ctype, raw, cookies, headers = answer or (200, "application/json", b"[]" * 64, [], {})
            self.write_answer(status, ctype, raw, headers, body=raw[: len(raw) // 2], cookies=cookies)
            self.reset_connection()
        else:  # pragma: no cover - Fault validates kinds
            raise AssertionError(kind)

    def _session_lost(self) -> None:
        self._send(200, {"ErrorCode": 500, "MsgCode": 1, "Message": SESSION_LOST_MESSAGE})

    def _has_session(self) -> bool:
        session_id = self.headers.get(SESSION_COOKIE)
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == SESSION_COOKIE:
                session_id = value
        with self.state.lock:
            return bool(session_id) and session_id in self.state.sessions

    # -- services
    def _login_result(self, session_id: str | None, user: str, acct: str, lcid: Any) -> None:
        if session_id is None:
            self._send(200, {
                "Message": "用户名或密码错误", "MessageCode": "", "LoginResultType": 0, "IsSuccessByAPI": False,
                "KDSVCSessionId": None, "Lcid": lcid, "AccessToken": None, "Context": None,
            })
            return
        cookies = [f"{SESSION_COOKIE}={session_id}; path=/", f"{ASPNET_COOKIE}={uuid.uuid4().hex[:24]}; path=/"]
        self._send(200, {
            "Message": None, "MessageCode": "CheckPasswordPolicy", "LoginResultType": 1, "IsSuccessByAPI": True,
            "KDSVCSessionId": session_id, "Lcid": lcid, "AccessToken": None, "FormId": None,
            "RedirectFormParam": None, "FormInputObject": None, "ErrorStackTrace": None, "CustomParam": {},
            "KdAccessResult": None,
            "Context": {"DBid": acct, "SessionId": session_id, "UserId": 100086, "UserName": user,
                        "DisplayVersion": "8.1.0", "DataCenterName": "DEMO-SIM"},
        }, cookies=cookies)

    def svc_validate_user(self, body: dict[str, Any]) -> None:
        a = _args(body, ["acctID", "username", "password", "lcid"])
        session_id = self.state.login(str(a["acctID"] or ""), str(a["username"] or ""), str(a["password"] or ""))
        self._login_result(session_id, str(a["username"]), str(a["acctID"]), a["lcid"] or 2052)

    def svc_login_by_app_secret(self, body: dict[str, Any]) -> None:
        a = _args(body, ["acctID", "username", "appId", "appSecret", "lcid"])
        session_id = self.state.login(str(a["acctID"] or ""), str(a["username"] or ""), str(a["appSecret"] or ""),
                                      app_id=str(a["appId"] or ""))
        self._login_result(session_id, str(a["username"]), str(a["acctID"]), a["lcid"] or 2052)

    def _form_call(self, body: dict[str, Any], query: bool = False) -> tuple[str, dict[str, Any]] | None:
        if not self._has_session():
            self._session_lost()
            return None
        if query:
            data = _loads_maybe(_args(body, ["data"])["data"], "data")
            if not isinstance(data, dict):
                raise BadRequest("data 必须是对象")
            return str(data.get("FormId") or data.get("formid") or ""), data
        a = _args(body, ["formid", "data"])
        data = _loads_maybe(a["data"], "data")
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise BadRequest("data 必须是对象")
        return str(a["formid"] or ""), data

    def _query_rows(self, body: dict[str, Any], operation: str) -> tuple[list[str], list[list[Any]]] | None:
        call = self._form_call(body, query=True)
        if call is None:
            return None
        form_id, data = call
        try:
            keys = data.get("FieldKeys") or ""
            field_keys = [k.strip() for k in (keys if isinstance(keys, list) else str(keys).split(",")) if k.strip()]
            if not field_keys:
                raise KingdeeError(8, "FieldKeys 不能为空")
            start_row = _int_arg(data, "StartRow", 0)
            if start_row > 0:
                repeat = self.state.take_fault(operation, kinds=("repeat_rows",), exclude=())
                if repeat is not None:
                    start_row = max(0, start_row - repeat.rows)
            rows = self.state.query(
                form_id, field_keys, data.get("FilterString") or "", data.get("OrderString") or "",
                start_row, _int_arg(data, "Limit", 0), _int_arg(data, "TopRowCount", 0),
            )
        except KingdeeError as exc:
            self._send(200, [[_failure(exc)]])
            return None
        return field_keys, rows

    def svc_execute_bill_query(self, body: dict[str, Any]) -> None:
        result = self._query_rows(body, "ExecuteBillQuery")
        if result is not None:
            self._send(200, result[1])

    def svc_bill_query(self, body: dict[str, Any]) -> None:
        result = self._query_rows(body, "BillQuery")
        if result is not None:
            keys, rows = result
            self._send(200, [dict(zip(keys, row)) for row in rows])

    def svc_view(self, body: dict[str, Any]) -> None:
        call = self._form_call(body)
        if call is None:
            return
        form_id, data = call
        try:
            result = self.state.view(form_id, data.get("Number") or None, data.get("Id") or None)
        except KingdeeError as exc:
            self._send(200, _failure(exc))
            return
        self._send(200, {"Result": {"ResponseStatus": None, "Result": result}})

    def svc_save(self, body: dict[str, Any]) -> None:
        call = self._form_call(body)
        if call is None:
            return
        form_id, data = call
        is_delete_entry = str(data.get("IsDeleteEntry", True)).lower() != "false"
        try:
            spec = self.state.spec(form_id)
            bill = self.state.save(form_id, _loads_maybe(data.get("Model"), "Model"), is_delete_entry)
        except KingdeeError as exc:
            self._send(200, _failure(exc))
            return
        number = bill.get(spec.number_field)
        need = data.get("NeedReturnFields") or []
        returned = {key: bill.get(_ci_lookup(bill, key) or key) for key in need} if isinstance(need, list) else {}
        self._send(200, _envelope(
            [{"Id": bill["FID"], "Number": number, "DIndex": 0}],
            {"Id": bill["FID"], "Number": number, "NeedReturnData": [returned]},
        ))

    def _status_call(self, body: dict[str, Any], target: str) -> None:
        call = self._form_call(body)
        if call is None:
            return
        form_id, data = call
        numbers = data.get("Numbers") or []
        ids = data.get("Ids") or ""
        numbers = [str(n) for n in (numbers if isinstance(numbers, list) else [numbers])]
        ids = [str(i).strip() for i in (ids if isinstance(ids, list) else str(ids).split(",")) if str(i).strip()]
        try:
            successes = self.state.set_status(form_id, numbers, ids, target)
        except KingdeeError as exc:
            self._send(200, _failure(exc))
            return
        self._send(200, _envelope(successes))

    def svc_submit(self, body: dict[str, Any]) -> None:
        self._status_call(body, "B")

    def svc_audit(self, body: dict[str, Any]) -> None:
        self._status_call(body, "C")

    def svc_unaudit(self, body: dict[str, Any]) -> None:
        self._status_call(body, "D")


_SERVICES: dict[str, Callable[[KingdeeHandler, dict[str, Any]], None]] = {
    "authservice.validateuser": KingdeeHandler.svc_validate_user,
    "authservice.loginbyappsecret": KingdeeHandler.svc_login_by_app_secret,
    "dynamicformservice.executebillquery": KingdeeHandler.svc_execute_bill_query,
    "dynamicformservice.billquery": KingdeeHandler.svc_bill_query,
    "dynamicformservice.view": KingdeeHandler.svc_view,
    "dynamicformservice.save": KingdeeHandler.svc_save,
    "dynamicformservice.submit": KingdeeHandler.svc_submit,
    "dynamicformservice.audit": KingdeeHandler.svc_audit,
    "dynamicformservice.unaudit": KingdeeHandler.svc_unaudit,
}


# --------------------------------------------------------------------------- seed + factory

DEMO_SUPPLIERS = (("SUP-001", "华东轴承有限公司", "华东轴承"), ("SUP-002", "江南精密五金有限公司", "江南五金"))
DEMO_MATERIALS = (
    ("1.02.0033", "轴承 6204", "6204-2RS 20x47x14", "Pcs"),
    ("1.02.0041", "轴承 6205", "6205-2RS 25x52x15", "Pcs"),
    ("1.03.0100", "油封 TC 25x47x7", "NBR", "Pcs"),
    ("3.01.0007", "电机总成", "YE3-80M2-2", "Pcs"),
)
#: the motor assembly the MES builds (Opcenter demo orders MO-2026-000x): one of each purchased part
#: per motor; (child, numerator, denominator, scrap rate %)
DEMO_BOM = ("3.01.0007", "3.01.0007_V1.0", (("1.02.0033", 1, 1, 0), ("1.02.0041", 1, 1, 0), ("1.03.0100", 1, 1, 0)))
#: (number, supplier, modified at, [(material, qty, price, delivery date), ...])
DEMO_PURCHASE_ORDERS = (
    ("CGDD000101", "SUP-001", "2026-11-20T09:00:00",
     [("1.02.0033", 500, 3.20, "2026-12-01T00:00:00"), ("1.02.0041", 300, 4.10, "2026-12-01T00:00:00")]),
    ("CGDD000102", "SUP-002", "2026-11-20T10:30:00",
     [("1.03.0100", 1000, 0.35, "2026-12-03T00:00:00"), ("1.02.0033", 200, 3.25, "2026-12-04T00:00:00")]),
    ("CGDD000103", "SUP-001", "2026-11-21T08:15:00",
     [("1.02.0041", 400, 4.05, "2026-12-05T00:00:00"), ("1.03.0100", 800, 0.36, "2026-12-05T00:00:00")]),
)
DEMO_ORG = "100"
DEMO_CURRENCY = "PRE001"  # K/3 Cloud's preset number for 人民币 (ISO code CNY)


def seed_demo(state: KingdeeState) -> None:
    """Master data and three audited purchase orders, written through the same Save/Submit/Audit
    path the API uses so seeded bills obey the same rules; the clock is pinned per bill so
    ``FModifyDate`` values are stable for tests and the demo."""
    previous = state._now
    try:
        state.set_now("2026-11-15T08:00:00")
        state.save("BD_Currency", {"FNumber": DEMO_CURRENCY, "FName": "人民币", "FCode": "CNY"})
        for number, name, short in DEMO_SUPPLIERS:
            state.save("BD_Supplier", {"FNumber": number, "FName": name, "FShortName": short,
                                       "FCreateOrgId": {"FNumber": DEMO_ORG}, "FUseOrgId": {"FNumber": DEMO_ORG}})
        for number, name, spec_text, unit in DEMO_MATERIALS:
            state.save("BD_MATERIAL", {"FNumber": number, "FName": name, "FSpecification": spec_text,
                                       "FBaseUnitId": {"FNumber": unit}, "FCreateOrgId": {"FNumber": DEMO_ORG},
                                       "FUseOrgId": {"FNumber": DEMO_ORG}})
        for form in ("BD_Currency", "BD_Supplier", "BD_MATERIAL"):
            numbers = [b["FNumber"] for b in state.table(form).values()]
            state.set_status(form, numbers, [], "B")
            state.set_status(form, numbers, [], "C")
        _seed_demo_bom(state)
        for number, supplier, modified, lines in DEMO_PURCHASE_ORDERS:
            state.set_now(modified)
            state.save("PUR_PurchaseOrder", {
                "FBillNo": number, "FDate": "2026-11-20T00:00:00", "FBillTypeID": {"FNUMBER": "CGDD01_SYS"},
                "FSupplierId": {"FNumber": supplier}, "FPurchaseOrgId": {"FNumber": DEMO_ORG},
                "FSettleCurrId": {"FNumber": DEMO_CURRENCY},
                "FPOOrderEntry": [
                    {"FMaterialId": {"FNumber": m}, "FUnitId": {"FNumber": "Pcs"}, "FQty": q, "FPrice": p,
                     "FTaxPrice": round(p * 1.13, 4), "FDeliveryDate": d, "FRemainReceiveQty": q}
                    for m, q, p, d in lines
                ],
            })
            state.set_status("PUR_PurchaseOrder", [number], [], "B")
            state.set_status("PUR_PurchaseOrder", [number], [], "C")
    finally:
        state._now = previous


def _seed_demo_bom(state: KingdeeState) -> None:
    """ENG_BOM is base data the hub only reads: inserted as audited, in the shape the generator uses."""
    parent, number, children = DEMO_BOM
    when = state.now()
    entries = [{"FEntryID": state.new_entry_id(), "FSeq": seq, "FMaterialIdChild": {"FNumber": child},
                "FChildUnitId": {"FNumber": "Pcs"}, "FNumerator": numerator, "FDenominator": denominator,
                "FScrapRate": scrap, "FEffectDate": "2025-01-01T00:00:00", "FExpireDate": "9999-12-31T00:00:00"}
               for seq, (child, numerator, denominator, scrap) in enumerate(children, start=1)]
    state.insert("ENG_BOM", {"FID": state.new_fid(), "FNumber": number, "FName": f"{parent} BOM",
                             "FDocumentStatus": "C", "FForbidStatus": "A", "FCreateDate": when, "FModifyDate": when,
                             "FApproveDate": when, "FMaterialId": {"FNumber": parent}, "FUnitId": {"FNumber": "Pcs"},
                             "FCreateOrgId": {"FNumber": DEMO_ORG}, "FUseOrgId": {"FNumber": DEMO_ORG},
                             "FTreeEntity": entries})


def make_server(host: str = "127.0.0.1", port: int = 0, state: KingdeeState | None = None,
                seed: str | None = None) -> SimulatorServer:
    state = state or KingdeeState()
    if seed == "demo":
        seed_demo(state)
    elif seed:
        raise ValueError(f"unknown seed {seed!r}; expected 'demo'")
    return SimulatorServer((host, port), KingdeeHandler, state)
