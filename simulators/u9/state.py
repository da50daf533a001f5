"""The simulated U9 database: tables, seeds, write operations and fault switches.

Transport-neutral: ``soap.py`` (classic UBF services) and ``rest.py`` (U9 Cloud OpenAPI) both
read and write through :class:`U9State`, so one seeded plant answers both protocols with the
same business content. Rows use the column names U9's SQL surface uses (``DocNo``,
``ItemInfo_ItemCode``, ``PurQtyTU``; protocols/yonyou-u9.md §1.3); write operations take the
PascalCase DTO form of the REST services (``{"Supplier": {"Code": ...}, "RcvLines": [...]}``),
into which ``soap.py`` turns ``m_camelCase`` DTOs by dropping the prefix.

Simulator choices, marked so nobody mistakes them for documented U9 behaviour:

* INFERRED: table names ``CBO_Supplier``, ``MO_MO``, ``PM_Receivement``/``PM_RcvLine``,
  ``QC_InspectDoc``/``QC_InspectItem``, ``Base_UOM``, ``CBO_Wh``; every column not listed in the
  notes; ``ModifiedOn`` on every row (the UBF audit column) as the incremental-pull field.
* INFERRED: document status 0 = 开立 (opened), 2 = 已审核 (approved); MO ``DocState``
  0 开立, 1 已核准, 2 开工, 3 完工, 4 关闭 (MO state 2 in the notes' example, meaning not given).
* INFERRED: the hub's external number lives in the private descriptive flex segment
  ``DescFlexField_PrivateDescSeg1`` (receipts, inspections) and
  ``DescFlexField_PrivateDescSeg2`` (PO lines, for order responses); supplier confirmation
  goes to ``SupplierConfirmQtyTU``/``SupplierConfirmDate`` on the PO line.
* A document save touches the header's ``ModifiedOn`` too (the aggregate is saved as one),
  approval changes ``ModifiedOn`` (UBF updates the entity on a status change).
"""
from __future__ import annotations

import bisect
import datetime as dt
import os
import random
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Optional

CLIENTS_ENV = "U9_SIM_CLIENTS"
CONTEXTS_ENV = "U9_SIM_CONTEXTS"
#: DEMO ONLY - ``clientid:entCode:orgCode:userCode:clientsecret`` for the local U9 Cloud
#: simulator and ``make demo``; it protects nothing and must never be configured on a real U9.
DEMO_CLIENTS = "demo-client:010:101:mes_api:demo-only-client-secret"
#: DEMO ONLY - ``EnterpriseID:OrgID:UserID`` contexts the classic SOAP simulator trusts (classic
#: U9 has no password on the wire: the context is the whole login, §2.2).
DEMO_CONTEXTS = "010:1001708020135665:1001708020000008"

OPENED, APPROVED = 0, 2
FAULT_KINDS = ("latency", "http500", "http429", "session_expired", "token_invalid", "busy", "malformed",
               "repeat_page", "stale_page", "reset", "xxe", "billion_laughs")
STALL_CAP_SECONDS = 60.0

#: table -> columns (the SQL surface); child tables name their parent column
TABLES: dict[str, tuple[str, ...]] = {
    "CBO_Supplier": ("ID", "Code", "Name", "ShortName", "CreatedOn", "ModifiedOn"),
    "CBO_ItemMaster": ("ID", "Code", "Name", "SPECS", "InventoryUOM_Code", "CreatedOn", "ModifiedOn"),
    "Base_UOM": ("ID", "Code", "Name", "ModifiedOn"),
    "CBO_Wh": ("ID", "Code", "Name", "ModifiedOn"),
    "CBO_BOMMaster": ("ID", "ItemMaster_Code", "BOMVersionCode", "LotSize", "ProductUOM_Code", "Status",
                      "CreatedOn", "ModifiedOn"),
    "CBO_BOMComponent": ("ID", "BOMMaster", "Sequence", "ItemMaster_Code", "UsageQty", "IssueUOM_Code", "Scrap",
                         "EffectiveDate", "DisableDate", "ModifiedOn"),
    "PM_PurchaseOrder": ("ID", "DocNo", "BusinessDate", "Status", "Supplier_Code", "Supplier_Name", "TC_Code",
                         "CreatedOn", "ModifiedOn"),
    "PM_POLine": ("ID", "PurchaseOrder", "DocLineNo", "ItemInfo_ItemCode", "ItemInfo_ItemName", "PurQtyTU",
                  "TradeUOM_Code", "FinallyPriceTC", "TotalRecievedQtyTU", "SupplierConfirmQtyTU",
                  "SupplierConfirmDate", "DescFlexField_PrivateDescSeg2", "Cancel_Canceled", "ModifiedOn"),
    "PM_POShipLine": ("ID", "PurchaseOrder", "POLine", "DeliveryDate", "PlanArriveDate", "ModifiedOn"),
    "MO_MO": ("ID", "DocNo", "DocState", "ItemMaster_Code", "ProductQty", "ProductUOM_Code", "StartDate",
              "CompleteDate", "Department_Code", "CreatedOn", "ModifiedOn"),
    "InvTrans_WhQoh": ("ID", "ItemInfo_ItemCode", "Wh_Code", "Wh_Name", "LotInfo_LotCode", "StoreQty",
                       "StoreUOM_Code", "ModifiedOn"),
    "PM_Receivement": ("ID", "DocNo", "BusinessDate", "Status", "Supplier_Code", "DescFlexField_PrivateDescSeg1",
                       "CreatedOn", "ModifiedOn"),
    "PM_RcvLine": ("ID", "Receivement", "DocLineNo", "SrcDoc_SrcDocNo", "SrcDoc_SrcDocLineNo", "ItemInfo_ItemCode",
                   "RcvQtyTU", "TradeUOM_Code", "Wh_Code", "LotInfo_LotCode", "Memo", "ModifiedOn"),
    "QC_InspectDoc": ("ID", "DocNo", "BusinessDate", "Status", "ItemInfo_ItemCode", "Supplier_Code", "SrcDocNo",
                      "LotCode", "InspectQty", "RejectQty", "UOM_Code", "Result", "Memo",
                      "DescFlexField_PrivateDescSeg1", "CreatedOn", "ModifiedOn"),
    "QC_InspectItem": ("ID", "InspectDoc", "CheckItem", "CheckValue", "CheckResult", "ModifiedOn"),
}
#: child table -> parent column, indexed so "WHERE PurchaseOrder IN (...)" need not scan
PARENT_COLUMNS = {"CBO_BOMComponent": "BOMMaster", "PM_POLine": "PurchaseOrder", "PM_POShipLine": "PurchaseOrder",
                  "PM_RcvLine": "Receivement", "QC_InspectItem": "InspectDoc"}
#: write document kind -> (header table, external-number column, number prefix, entity full name)
DOC_KINDS = {
    "Receivement": ("PM_Receivement", "DescFlexField_PrivateDescSeg1", "RCV", "UFIDA.U9.PM.Rcv.Receivement"),
    "InspectDoc": ("QC_InspectDoc", "DescFlexField_PrivateDescSeg1", "QC", "UFIDA.U9.QC.InspectDoc"),
    "POLineConfirm": ("PM_POLine", "DescFlexField_PrivateDescSeg2", "", "UFIDA.U9.PM.PO.POLine"),
}


class U9BusinessError(Exception):
    """A validation failure: becomes a SOAP ServiceException fault or a failed REST result row."""

    def __init__(self, message: str, entity: str = "", attribute: str = "", doc_no: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.entity = entity
        self.attribute = attribute
        self.doc_no = doc_no


@dataclass
class Fault:
    kind: str
    count: int = 1
    #: case-insensitive substring of "<transport> <operation> <table>" ("rest", "soap", a contract, a table)
    target: str = ""
    #: let this many matching calls pass first (e.g. break page 2, not page 1)
    skip: int = 0
    retry_after: int = 1
    seconds: float = 0.0
    #: for xxe: the file the hostile reply tries to pull in
    file: str = "/etc/passwd"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "count": self.count, "target": self.target, "skip": self.skip,
                "retry_after": self.retry_after, "seconds": self.seconds, "file": self.file}


@dataclass
class Client:
    client_id: str
    ent_code: str
    org_code: str
    user_code: str
    secret: str = field(repr=False)


def _parse_entries(text: str, width: int, what: str) -> list[list[str]]:
    entries = []
    for n, item in enumerate((i.strip() for i in text.split(",")), start=1):
        if not item:
            continue
        parts = item.split(":", width - 1)  # the last part (a secret) may contain ':'
        if len(parts) != width:
            raise ValueError(f"{what} entry #{n} needs {width} ':'-separated parts")
        entries.append(parts)
    return entries


def as_decimal(value: Any, what: str, entity: str = "", doc_no: str = "") -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise U9BusinessError(f"{what} 的值 '{value}' 不是有效的数字", entity, what, doc_no) from None
    if not number.is_finite():
        raise U9BusinessError(f"{what} 的值 '{value}' 不是有效的数字", entity, what, doc_no)
    return number


_DOTTED_DATE = re.compile(r"^(\d{4})[./-](\d{1,2})[./-](\d{1,2})")


def as_datetime(value: Any, what: str, entity: str = "", doc_no: str = "") -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    text = str(value or "").strip()
    dotted = _DOTTED_DATE.match(text)
    if dotted:  # clients write dates as 2024.5.8 or 2024/5/8 (e.g. loginDate)
        year, month, day = (int(g) for g in dotted.groups())
        text = f"{year:04d}-{month:02d}-{day:02d}" + text[dotted.end():]
    try:
        parsed = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    except ValueError:
        raise U9BusinessError(f"{what} 的值 '{value}' 不是有效的日期", entity, what, doc_no) from None
    if parsed.tzinfo is not None:  # U9 keeps server-local time (China, UTC+8, no DST)
        parsed = parsed.astimezone(dt.timezone(dt.timedelta(hours=8))).replace(tzinfo=None)
    return parsed


def _code(ref: Any) -> str:
    """``{"Code": "x"}`` (or ``{"code": ...}``) or a bare code -> the code text."""
    if isinstance(ref, dict):
        for key, value in ref.items():
            if str(key).lower() == "code":
                return str(value or "").strip()
        return ""
    return str(ref or "").strip()


class U9State:
    """Every table, the login/token registry and the fault queue. Mutations hold ``lock``."""

    def __init__(self, clients: Optional[str] = None, contexts: Optional[str] = None,
                 token_ttl: float = 3600.0, data_as_string: bool = False,
                 rest_base: str = "/U9C", soap_base: str = "/U9/Services") -> None:
        self.lock = threading.RLock()
        #: path prefixes: U9 Cloud sites use /U9C or /U9 (§1.1), classic sites /U9/Services or /services (§2.1)
        self.rest_base = "/" + rest_base.strip("/") if rest_base.strip("/") else ""
        self.soap_base = "/" + soap_base.strip("/") if soap_base.strip("/") else ""
        clients = clients if clients is not None else os.environ.get(CLIENTS_ENV, DEMO_CLIENTS)
        contexts = contexts if contexts is not None else os.environ.get(CONTEXTS_ENV, DEMO_CONTEXTS)
        self._clients = {c[0]: Client(*c) for c in _parse_entries(clients, 5, CLIENTS_ENV)}
        self._contexts = {tuple(c) for c in _parse_entries(contexts, 3, CONTEXTS_ENV)}
        self.token_ttl = token_ttl
        #: REST create results as a JSON-encoded string in ``Data`` (both forms are seen, §1.2)
        self.data_as_string = data_as_string
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, expires at, monotonic)
        self._revoked: set[str] = set()
        self.tables: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in TABLES}
        self._children: dict[str, dict[int, list[int]]] = {name: {} for name in PARENT_COLUMNS}
        self._next_id = 1001000000000001
        self._doc_seq: dict[str, int] = {}
        self._faults: deque[Fault] = deque()
        self._stall_release = threading.Event()
        #: last query page per operation, for the repeat_page fault
        self.last_page: dict[str, list[Any]] = {}
        self.login_count = 0
        #: every served call as "<transport> <operation>", for tests that count round trips
        self.calls: list[str] = []
        self._now: Optional[dt.datetime] = None

    def __repr__(self) -> str:  # the client table holds secrets: never print it
        return f"U9State(clients={len(self._clients)}, tokens={len(self.tokens)})"

    # ------------------------------------------------------------------ clock
    def set_now(self, when: dt.datetime | str | None) -> None:
        self._now = dt.datetime.fromisoformat(when) if isinstance(when, str) else when

    def now(self) -> dt.datetime:
        return (self._now or dt.datetime.now()).replace(microsecond=0, tzinfo=None)

    # ------------------------------------------------------------------ faults
    def add_fault(self, fault: Fault) -> None:
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if fault.count < 1 or fault.skip < 0:
            raise ValueError("count must be at least 1 and skip not negative")
        with self.lock:
            self._stall_release.clear()
            self._faults.append(fault)

    def fail_next(self, kind: str, count: int = 1, target: str = "", **options: Any) -> None:
        self.add_fault(Fault(kind=kind, count=count, target=target, **options))

    def take_fault(self, transport: str, operation: str, table: str = "", explicit: str = "") -> Optional[Fault]:
        """The next fault for this call; with ``explicit``, only a fault whose target names that word."""
        subject = f"{transport} {operation} {table}".lower()
        with self.lock:
            for fault in self._faults:
                if fault.target and fault.target.lower() not in subject:
                    continue
                if explicit and explicit not in fault.target.lower():
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.describe() for f in self._faults]

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()
        self.release_stalled()

    def release_stalled(self) -> None:
        self._stall_release.set()

    def stall(self, seconds: float) -> None:
        """Hold a reply for ``seconds`` (capped); :meth:`release_stalled` ends every hold at once."""
        self._stall_release.wait(min(max(seconds, 0.0), STALL_CAP_SECONDS))

    # ------------------------------------------------------------------ auth
    def check_context(self, values: dict[str, str]) -> Optional[str]:
        """None when the classic context names a known enterprise/org/user, else what is wrong."""
        missing = [k for k in ("EnterpriseID", "OrgID", "UserID") if not values.get(k)]
        if missing:
            return f"上下文缺少 {', '.join(missing)}"
        if (values["EnterpriseID"], values["OrgID"], values["UserID"]) not in self._contexts:
            return "上下文无效：企业、组织或用户不存在"
        return None

    def issue_token(self, client_id: str, secret: str, ent_code: str, org_code: str, user_code: str,
                    clock: float) -> tuple[int, str]:
        """(ResCode, token or message). Re-issuing invalidates the client's earlier tokens (§1.1)."""
        with self.lock:
            client = self._clients.get(client_id)
            if client is None or client.secret != secret:
                return 503, "登录失败：clientid 或 clientsecret 错误"
            if client.ent_code != ent_code:
                return 503, f"登录失败：企业 {ent_code} 不存在"
            if client.org_code != org_code:
                return 408, f"组织 {org_code} 不存在"
            if client.user_code != user_code:
                return 406, f"用户 {user_code} 不存在"
            for token, (owner, _) in list(self.tokens.items()):
                if owner == client_id:
                    del self.tokens[token]
                    self._revoked.add(token)
            token = f"u9c.{os.urandom(12).hex()}.{self.login_count}"
            self.tokens[token] = (client_id, clock + self.token_ttl)
            self.login_count += 1
            return 0, token

    def check_token(self, token: str, clock: float) -> int:
        """0 when valid, 402 expired, 504 invalid (revoked or unknown), 401 absent."""
        if not token:
            return 401
        with self.lock:
            entry = self.tokens.get(token)
            if entry is None:
                return 504
            if clock >= entry[1]:
                return 402
            return 0

    def expire_tokens(self) -> None:
        with self.lock:
            for token, (owner, _) in list(self.tokens.items()):
                self.tokens[token] = (owner, float("-inf"))

    # ------------------------------------------------------------------ tables
    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def insert(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            full = {column: None for column in TABLES[table]}
            unknown = set(row) - set(full)
            if unknown:
                raise KeyError(f"{table} has no column(s) {sorted(unknown)}")
            full.update(row)
            if not full.get("ID"):
                full["ID"] = self.new_id()
            now = self.now()
            if "CreatedOn" in full and full["CreatedOn"] is None:
                full["CreatedOn"] = now
            if full.get("ModifiedOn") is None:
                full["ModifiedOn"] = now
            self.tables[table][full["ID"]] = full
            parent = PARENT_COLUMNS.get(table)
            if parent:
                self._children[table].setdefault(full[parent], []).append(full["ID"])
            return full

    def rows(self, table: str) -> list[dict[str, Any]]:
        """A snapshot of a table's rows (copies), for tests and the admin endpoint."""
        with self.lock:
            return [dict(row) for row in self.tables[table].values()]

    def children(self, table: str, parent_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return [self.tables[table][i] for i in self._children[table].get(parent_id, [])]

    def ids_after(self, table: str, last_id: int) -> list[int]:
        """IDs greater than ``last_id`` in ascending order (IDs are issued ascending)."""
        ids = list(self.tables[table])
        return ids[bisect.bisect_right(ids, last_id):]

    def find_one(self, table: str, column: str, value: Any) -> Optional[dict[str, Any]]:
        with self.lock:
            for row in self.tables[table].values():
                if row.get(column) == value:
                    return row
        return None

    def modified_page(self, table: str, since: Optional[dt.datetime], last_id: int, size: int,
                      where: Optional[Callable[[dict[str, Any]], bool]] = None) -> list[dict[str, Any]]:
        """Keyset page: rows with ID > last_id and ModifiedOn >= since (and ``where``), ascending by ID."""
        out = []
        with self.lock:
            data = self.tables[table]
            for row_id in self.ids_after(table, last_id):
                row = data[row_id]
                if since is not None and row["ModifiedOn"] < since:
                    continue
                if where is not None and not where(row):
                    continue
                out.append(row)
                if len(out) >= size:
                    break
        return out

    def _touch(self, row: dict[str, Any]) -> None:
        row["ModifiedOn"] = self.now()

    def _next_doc_no(self, prefix: str) -> str:
        day = self.now().strftime("%Y%m%d")
        seq = self._doc_seq.get(f"{prefix}{day}", 0) + 1
        self._doc_seq[f"{prefix}{day}"] = seq
        return f"{prefix}-{day}-{seq:04d}"

    # ------------------------------------------------------------------ master data checks
    def _require(self, table: str, code: str, what: str, entity: str, doc_no: str) -> dict[str, Any]:
        if not code:
            raise U9BusinessError(f"{what} 不能为空", entity, what, doc_no)
        row = self.find_one(table, "Code", code)
        if row is None:
            raise U9BusinessError(f"{what} 编码为 '{code}' 的数据不存在", entity, what, doc_no)
        return row

    # ------------------------------------------------------------------ write side
    def find_by_external(self, kind: str, external_no: str) -> list[dict[str, Any]]:
        """``[{ID, DocNo, Status}]`` of documents carrying ``external_no`` (for idempotent pushes)."""
        table, column, _, _ = DOC_KINDS[kind]
        with self.lock:
            hits = [row for row in self.tables[table].values() if row.get(column) == external_no]
            if kind == "POLineConfirm":
                orders = {row["PurchaseOrder"] for row in hits}
                return [{"ID": po["ID"], "DocNo": po["DocNo"], "Status": po["Status"]}
                        for po in (self.tables["PM_PurchaseOrder"][i] for i in sorted(orders))]
            return [{"ID": row["ID"], "DocNo": row["DocNo"], "Status": row["Status"]} for row in hits]

    def create_receivement(self, dto: dict[str, Any]) -> dict[str, Any]:
        """A purchase receipt (收货单) against PO lines, status opened."""
        entity = DOC_KINDS["Receivement"][3]
        external = _code((dto.get("DescFlexField") or {}).get("PrivateDescSeg1")) if isinstance(
            dto.get("DescFlexField"), dict) else ""
        label = external or "(new)"
        with self.lock:
            supplier = self._require("CBO_Supplier", _code(dto.get("Supplier")), "Supplier", entity, label)
            lines = dto.get("RcvLines") or []
            if not isinstance(lines, list) or not lines:
                raise U9BusinessError("收货单行不能为空", entity, "RcvLines", label)
            prepared = []
            for n, line in enumerate(lines, start=1):
                where = f"RcvLines[{n}]"
                if not isinstance(line, dict):
                    raise U9BusinessError(f"第{n}行格式错误", entity, where, label)
                po_line = self._po_line(line.get("SrcDocNo"), line.get("SrcDocLineNo"), entity, f"{where}.SrcDocNo",
                                        label)
                po = self.tables["PM_PurchaseOrder"][po_line["PurchaseOrder"]]
                if po["Supplier_Code"] != supplier["Code"]:
                    raise U9BusinessError(f"第{n}行：来源订单 {po['DocNo']} 的供应商不是 {supplier['Code']}",
                                          entity, f"{where}.SrcDocNo", label)
                item = _code(line.get("ItemMaster")) or po_line["ItemInfo_ItemCode"]
                if item != po_line["ItemInfo_ItemCode"]:
                    raise U9BusinessError(f"第{n}行：料品 '{item}' 与来源订单行料品不一致", entity,
                                          f"{where}.ItemMaster", label)
                qty = as_decimal(line.get("RcvQtyTU"), f"{where}.RcvQtyTU", entity, label)
                if qty <= 0:
                    raise U9BusinessError(f"第{n}行：实收数量必须大于0", entity, f"{where}.RcvQtyTU", label)
                if qty > self._receivable(po_line):
                    raise U9BusinessError(f"第{n}行：实收数量 {qty} 超过订单可收货数量 {self._receivable(po_line)}",
                                          entity, f"{where}.RcvQtyTU", label)
                uom = self._require("Base_UOM", _code(line.get("TradeUOM")) or po_line["TradeUOM_Code"],
                                    f"{where}.TradeUOM", entity, label)
                wh = self._require("CBO_Wh", _code(line.get("Wh")), f"{where}.Wh", entity, label)
                prepared.append({"DocLineNo": n * 10, "SrcDoc_SrcDocNo": po["DocNo"],
                                 "SrcDoc_SrcDocLineNo": po_line["DocLineNo"], "ItemInfo_ItemCode": item,
                                 "RcvQtyTU": qty, "TradeUOM_Code": uom["Code"], "Wh_Code": wh["Code"],
                                 "LotInfo_LotCode": str(line.get("LotCode") or "") or None,
                                 "Memo": str(line.get("Memo") or "") or None})
            business_date = as_datetime(dto.get("BusinessDate") or self.now(), "BusinessDate", entity, label)
            header = self.insert("PM_Receivement", {
                "DocNo": self._next_doc_no("RCV"), "BusinessDate": business_date, "Status": OPENED,
                "Supplier_Code": supplier["Code"], "DescFlexField_PrivateDescSeg1": external or None})
            for line in prepared:
                self.insert("PM_RcvLine", {"Receivement": header["ID"], **line})
            return header

    def _po_line(self, doc_no: Any, line_no: Any, entity: str, what: str, label: str) -> dict[str, Any]:
        po = self.find_one("PM_PurchaseOrder", "DocNo", str(doc_no or "").strip())
        if po is None:
            raise U9BusinessError(f"来源采购订单 '{doc_no}' 不存在", entity, what, label)
        if po["Status"] != APPROVED:
            raise U9BusinessError(f"采购订单 {po['DocNo']} 未审核", entity, what, label)
        try:
            number = int(str(line_no).strip())
        except (TypeError, ValueError):
            raise U9BusinessError(f"来源订单行号 '{line_no}' 无效", entity, what.replace("SrcDocNo", "SrcDocLineNo"),
                                  label) from None
        for line in self.children("PM_POLine", po["ID"]):
            if line["DocLineNo"] == number:
                return line
        raise U9BusinessError(f"采购订单 {po['DocNo']} 不存在行号 {number}", entity,
                              what.replace("SrcDocNo", "SrcDocLineNo"), label)

    def _receivable(self, po_line: dict[str, Any]) -> Decimal:
        pending = sum((line["RcvQtyTU"] for rcv in self.tables["PM_Receivement"].values() if rcv["Status"] == OPENED
                       for line in self.children("PM_RcvLine", rcv["ID"])
                       if line["SrcDoc_SrcDocNo"] == self.tables["PM_PurchaseOrder"][po_line["PurchaseOrder"]]["DocNo"]
                       and line["SrcDoc_SrcDocLineNo"] == po_line["DocLineNo"]), Decimal(0))
        return po_line["PurQtyTU"] - (po_line["TotalRecievedQtyTU"] or 0) - pending

    def approve(self, kind: str, doc_nos: Iterable[str]) -> list[dict[str, Any]]:
        """Approve opened documents; all-or-nothing. Receipts add to the PO lines' received qty."""
        table, _, _, entity = DOC_KINDS[kind]
        with self.lock:
            docs = []
            for doc_no in doc_nos:
                doc = self.find_one(table, "DocNo", str(doc_no or "").strip())
                if doc is None:
                    raise U9BusinessError(f"单据 '{doc_no}' 不存在", entity, "DocNo", str(doc_no))
                if doc["Status"] == APPROVED:
                    raise U9BusinessError(f"单据 {doc_no} 已审核，不允许重复审核", entity, "Status", str(doc_no))
                docs.append(doc)
            if not docs:
                raise U9BusinessError("没有要审核的单据", entity, "DocNo")
            for doc in docs:
                doc["Status"] = APPROVED
                self._touch(doc)
                if kind == "Receivement":
                    for line in self.children("PM_RcvLine", doc["ID"]):
                        po = self.find_one("PM_PurchaseOrder", "DocNo", line["SrcDoc_SrcDocNo"])
                        for po_line in self.children("PM_POLine", po["ID"]):
                            if po_line["DocLineNo"] == line["SrcDoc_SrcDocLineNo"]:
                                po_line["TotalRecievedQtyTU"] = (po_line["TotalRecievedQtyTU"] or 0) + line["RcvQtyTU"]
                                self._touch(po_line)
                                self._touch(po)
            return [{"ID": d["ID"], "DocNo": d["DocNo"], "Status": d["Status"]} for d in docs]

    def create_inspect_doc(self, dto: dict[str, Any]) -> dict[str, Any]:
        """An incoming inspection result (来料检验单, INFERRED document), status opened."""
        entity = DOC_KINDS["InspectDoc"][3]
        external = _code((dto.get("DescFlexField") or {}).get("PrivateDescSeg1")) if isinstance(
            dto.get("DescFlexField"), dict) else ""
        label = external or "(new)"
        with self.lock:
            item = self._require("CBO_ItemMaster", _code(dto.get("ItemMaster")), "ItemMaster", entity, label)
            supplier_code = _code(dto.get("Supplier"))
            if supplier_code:
                self._require("CBO_Supplier", supplier_code, "Supplier", entity, label)
            uom = self._require("Base_UOM", _code(dto.get("UOM")), "UOM", entity, label)
            inspected = as_decimal(dto.get("InspectQty"), "InspectQty", entity, label)
            rejected = as_decimal(dto.get("RejectQty") or 0, "RejectQty", entity, label)
            if inspected < 0 or rejected < 0 or rejected > inspected:
                raise U9BusinessError("不合格数量不能大于检验数量，且数量不能为负", entity, "RejectQty", label)
            try:
                result = int(str(dto.get("Result")))
            except (TypeError, ValueError):
                result = -1
            if result not in (0, 1, 2):
                raise U9BusinessError(f"检验结果 '{dto.get('Result')}' 无效（0 合格，1 不合格，2 让步接收）", entity,
                                      "Result", label)
            header = self.insert("QC_InspectDoc", {
                "DocNo": self._next_doc_no("QC"), "Status": OPENED,
                "BusinessDate": as_datetime(dto.get("BusinessDate") or self.now(), "BusinessDate", entity, label),
                "ItemInfo_ItemCode": item["Code"], "Supplier_Code": supplier_code or None,
                "SrcDocNo": str(dto.get("SrcDocNo") or "") or None, "LotCode": str(dto.get("LotCode") or "") or None,
                "InspectQty": inspected, "RejectQty": rejected, "UOM_Code": uom["Code"], "Result": result,
                "Memo": str(dto.get("Memo") or "") or None, "DescFlexField_PrivateDescSeg1": external or None})
            for check in dto.get("InspectItems") or []:
                if isinstance(check, dict):
                    self.insert("QC_InspectItem", {"InspectDoc": header["ID"], "CheckItem": check.get("CheckItem"),
                                                   "CheckValue": check.get("CheckValue"),
                                                   "CheckResult": int(check.get("CheckResult") or 0)})
            return header

    def confirm_po_lines(self, dtos: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write a supplier's promised quantity/date onto approved PO lines (all-or-nothing)."""
        entity = DOC_KINDS["POLineConfirm"][3]
        with self.lock:
            updates = []
            for n, dto in enumerate(dtos, start=1):
                if not isinstance(dto, dict):
                    raise U9BusinessError(f"第{n}行格式错误", entity, f"[{n}]")
                external = _code((dto.get("DescFlexField") or {}).get("PrivateDescSeg2")) if isinstance(
                    dto.get("DescFlexField"), dict) else ""
                label = str(dto.get("DocNo") or "")
                line = self._po_line(dto.get("DocNo"), dto.get("DocLineNo"), entity, f"[{n}].DocNo", label)
                # no quantity: the supplier confirms what was ordered
                qty_text = dto.get("ConfirmQtyTU")
                qty = line["PurQtyTU"] if qty_text in (None, "") else as_decimal(qty_text, f"[{n}].ConfirmQtyTU",
                                                                                 entity, label)
                if qty < 0:
                    raise U9BusinessError("确认数量不能为负", entity, f"[{n}].ConfirmQtyTU", label)
                date = dto.get("ConfirmDate")
                when = as_datetime(date, f"[{n}].ConfirmDate", entity, label) if date not in (None, "") else None
                updates.append((line, qty, when, external))
            orders = {}
            for line, qty, when, external in updates:
                line["SupplierConfirmQtyTU"] = qty
                line["SupplierConfirmDate"] = when
                line["DescFlexField_PrivateDescSeg2"] = external or None
                self._touch(line)
                po = self.tables["PM_PurchaseOrder"][line["PurchaseOrder"]]
                self._touch(po)
                orders[po["ID"]] = po
            return [{"ID": po["ID"], "DocNo": po["DocNo"], "Status": po["Status"]} for po in orders.values()]

    # ------------------------------------------------------------------ seeding helpers
    def add_uom(self, code: str, name: str) -> None:
        if self.find_one("Base_UOM", "Code", code) is None:
            self.insert("Base_UOM", {"Code": code, "Name": name})

    def add_warehouse(self, code: str, name: str) -> None:
        if self.find_one("CBO_Wh", "Code", code) is None:
            self.insert("CBO_Wh", {"Code": code, "Name": name})

    def add_supplier(self, code: str, name: str, short_name: str = "") -> dict[str, Any]:
        return self.insert("CBO_Supplier", {"Code": code, "Name": name, "ShortName": short_name or None})

    def add_item(self, code: str, name: str, specs: str, uom: str) -> dict[str, Any]:
        return self.insert("CBO_ItemMaster", {"Code": code, "Name": name, "SPECS": specs, "InventoryUOM_Code": uom})

    def add_purchase_order(self, doc_no: str, supplier: str, business_date: dt.datetime, currency: str,
                           lines: list[tuple[int, str, Decimal, str, Decimal, dt.datetime]],
                           status: int = APPROVED) -> dict[str, Any]:
        """``lines``: (line no, item code, qty, uom, price, delivery date)."""
        with self.lock:
            supplier_row = self.find_one("CBO_Supplier", "Code", supplier)
            header = self.insert("PM_PurchaseOrder", {
                "DocNo": doc_no, "BusinessDate": business_date, "Status": status, "Supplier_Code": supplier,
                "Supplier_Name": supplier_row["Name"] if supplier_row else None, "TC_Code": currency})
            for line_no, item, qty, uom, price, delivery in lines:
                item_row = self.find_one("CBO_ItemMaster", "Code", item)
                line = self.insert("PM_POLine", {
                    "PurchaseOrder": header["ID"], "DocLineNo": line_no, "ItemInfo_ItemCode": item,
                    "ItemInfo_ItemName": item_row["Name"] if item_row else None, "PurQtyTU": Decimal(qty),
                    "TradeUOM_Code": uom, "FinallyPriceTC": Decimal(price), "TotalRecievedQtyTU": Decimal(0),
                    "Cancel_Canceled": False})
                self.insert("PM_POShipLine", {"PurchaseOrder": header["ID"], "POLine": line["ID"],
                                              "DeliveryDate": delivery, "PlanArriveDate": delivery})
            return header

    def add_bom(self, parent: str, version: str, lot_size: Decimal, uom: str,
                components: list[tuple[int, str, Decimal, str, Decimal]], status: int = APPROVED,
                effective: Optional[dt.datetime] = None) -> dict[str, Any]:
        """``components``: (sequence, item code, usage qty per lot size, uom, scrap rate)."""
        with self.lock:
            header = self.insert("CBO_BOMMaster", {"ItemMaster_Code": parent, "BOMVersionCode": version,
                                                   "LotSize": Decimal(lot_size), "ProductUOM_Code": uom,
                                                   "Status": status})
            for sequence, item, usage, comp_uom, scrap in components:
                self.insert("CBO_BOMComponent", {
                    "BOMMaster": header["ID"], "Sequence": sequence, "ItemMaster_Code": item, "UsageQty": Decimal(usage),
                    "IssueUOM_Code": comp_uom, "Scrap": Decimal(scrap), "EffectiveDate": effective,
                    "DisableDate": dt.datetime(9999, 12, 31)})
            return header

    def add_mo(self, doc_no: str, item: str, qty: Decimal, uom: str, start: dt.datetime, complete: dt.datetime,
               department: str, state: int = 1) -> dict[str, Any]:
        return self.insert("MO_MO", {"DocNo": doc_no, "DocState": state, "ItemMaster_Code": item,
                                     "ProductQty": Decimal(qty), "ProductUOM_Code": uom, "StartDate": start,
                                     "CompleteDate": complete, "Department_Code": department})

    def add_stock(self, item: str, wh: str, lot: str, qty: Decimal, uom: str) -> dict[str, Any]:
        wh_row = self.find_one("CBO_Wh", "Code", wh)
        return self.insert("InvTrans_WhQoh", {"ItemInfo_ItemCode": item, "Wh_Code": wh,
                                              "Wh_Name": wh_row["Name"] if wh_row else None,
                                              "LotInfo_LotCode": lot or None, "StoreQty": Decimal(qty),
                                              "StoreUOM_Code": uom})


# --------------------------------------------------------------------------- seeds

#: The Kingdee simulator's demo plant, in U9's vocabulary: same supplier and material codes,
#: same PO numbers, lines, quantities, prices and delivery dates (simulators/kingdee/server.py),
#: so ``make demo`` with HUB_ERP=u9 tells the same story. Line numbers step by 1 as Kingdee's FSeq
#: (U9's default step is 10; a site setting) so canonical line numbers agree.
DEMO_SUPPLIERS = (("SUP-001", "华东轴承有限公司", "华东轴承"), ("SUP-002", "江南精密五金有限公司", "江南五金"))
DEMO_MATERIALS = (
    ("1.02.0033", "轴承 6204", "6204-2RS 20x47x14"),
    ("1.02.0041", "轴承 6205", "6205-2RS 25x52x15"),
    ("1.03.0100", "油封 TC 25x47x7", "NBR"),
)
DEMO_UOM = "PCS"
#: (number, supplier, modified at, [(material, qty, price, delivery date), ...])
DEMO_PURCHASE_ORDERS = (
    ("CGDD000101", "SUP-001", "2026-11-20T09:00:00",
     [("1.02.0033", 500, "3.20", "2026-12-01T00:00:00"), ("1.02.0041", 300, "4.10", "2026-12-01T00:00:00")]),
    ("CGDD000102", "SUP-002", "2026-11-20T10:30:00",
     [("1.03.0100", 1000, "0.35", "2026-12-03T00:00:00"), ("1.02.0033", 200, "3.25", "2026-12-04T00:00:00")]),
    ("CGDD000103", "SUP-001", "2026-11-21T08:15:00",
     [("1.02.0041", 400, "4.05", "2026-12-05T00:00:00"), ("1.03.0100", 800, "0.36", "2026-12-05T00:00:00")]),
)
DEMO_ORDER_DATE = "2026-11-20T00:00:00"
DEMO_CURRENCY = "CNY"
DEMO_WAREHOUSES = (("CK01", "原材料仓"), ("CK02", "成品仓"), ("CK99", "不良品仓"))
#: production extras (``seed_demo(state, with_production=True)``; not in the Kingdee demo plant)
DEMO_FINISHED = ("3.01.0007", "电机总成", "YE3-80M2-2")
DEMO_BOM = ("A1", 1, [(10, "1.02.0033", 2, "0.01"), (20, "1.02.0041", 1, "0"), (30, "1.03.0100", 2, "0.02")])
DEMO_MOS = (("MO-20261125-001", 200, "2026-11-25T08:00:00", "2026-11-27T17:00:00", "WS01", 1),
            ("MO-20261126-001", 150, "2026-11-26T08:00:00", "2026-11-28T17:00:00", "WS01", 0))
DEMO_STOCK = (("1.02.0033", "CK01", "", 120), ("1.02.0041", "CK01", "", 80), ("1.03.0100", "CK01", "L20261101", 600))
#: the plan demo's BOM (the Kingdee demo's ENG_BOM 3.01.0007_V1.0: one of each purchased part per motor),
#: so both ERPs give MRP the same structure; ``with_production`` keeps its own BOM above
DEMO_PLAN_BOM = ("V1.0", 1, [(10, "1.02.0033", 1, "0"), (20, "1.02.0041", 1, "0"), (30, "1.03.0100", 1, "0")])


def seed_demo(state: U9State, with_production: bool = False) -> None:
    """The demo plant (the Kingdee demo's suppliers, materials, motor BOM and POs); ``with_production``
    uses another BOM for the motor and adds two MOs and stock. The clock is pinned so ModifiedOn is stable."""
    previous = state._now
    try:
        state.set_now("2026-11-15T08:00:00")
        state.add_uom(DEMO_UOM, "个")
        for code, name in DEMO_WAREHOUSES:
            state.add_warehouse(code, name)
        for code, name, short in DEMO_SUPPLIERS:
            state.add_supplier(code, name, short)
        for code, name, specs in DEMO_MATERIALS:
            state.add_item(code, name, specs, DEMO_UOM)
        state.add_item(*DEMO_FINISHED, DEMO_UOM)
        version, lot, components = DEMO_BOM if with_production else DEMO_PLAN_BOM
        state.add_bom(DEMO_FINISHED[0], version, Decimal(lot), DEMO_UOM,
                      [(s, i, Decimal(u), DEMO_UOM, Decimal(x)) for s, i, u, x in components],
                      effective=dt.datetime(2026, 1, 1))
        if with_production:
            for doc_no, qty, start, complete, dept, doc_state in DEMO_MOS:
                state.add_mo(doc_no, DEMO_FINISHED[0], Decimal(qty), DEMO_UOM, dt.datetime.fromisoformat(start),
                             dt.datetime.fromisoformat(complete), dept, doc_state)
            for item, wh, lot_code, qty in DEMO_STOCK:
                state.add_stock(item, wh, lot_code, Decimal(qty), DEMO_UOM)
        for doc_no, supplier, modified, lines in DEMO_PURCHASE_ORDERS:
            state.set_now(modified)
            state.add_purchase_order(doc_no, supplier, dt.datetime.fromisoformat(DEMO_ORDER_DATE), DEMO_CURRENCY, [
                (n, item, Decimal(qty), DEMO_UOM, Decimal(price), dt.datetime.fromisoformat(delivery))
                for n, (item, qty, price, delivery) in enumerate(lines, start=1)])
    finally:
        state._now = previous


def supplier_code(i: int) -> str:
    """1-based; the same numbering as the Kingdee generator (SUP-001, SUP-002 are the demo suppliers)."""
    return f"SUP-{i:03d}"


def material_code(i: int) -> str:
    """0-based: the demo materials first, then ``8.01.0001`` ... (as the Kingdee generator numbers them)."""
    if i < len(DEMO_MATERIALS):
        return DEMO_MATERIALS[i][0]
    return f"8.01.{i - len(DEMO_MATERIALS) + 1:04d}"


def seed(state: U9State, suppliers: int = 20, materials: int = 50, purchase_orders: int = 100, lines_per_po: int = 5,
         boms: int = 10, production_orders: int = 20, stock: Optional[int] = None, random_seed: int = 0,
         start: str = "2025-06-01T08:00:00") -> dict[str, int]:
    """A random but reproducible plant (same arguments -> same data); returns rows added per table.

    Codes follow the Kingdee generator so the hub's crosswalks know them (``u9`` rows for
    SUP-001..SUP-020 and the first 50 materials); codes beyond are unknown to the hub on purpose.
    ModifiedOn advances 30 s per document from ``start``; PO line numbers step by 10 (U9's default).
    Rows whose codes exist already (e.g. the demo seed) are kept, not duplicated.
    """
    for name, value in (("suppliers", suppliers), ("materials", materials), ("purchase_orders", purchase_orders),
                        ("lines_per_po", lines_per_po), ("boms", boms), ("production_orders", production_orders)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0")
    if (purchase_orders or boms or production_orders or stock) and (suppliers < 1 or materials < 2):
        raise ValueError("documents need suppliers >= 1 and materials >= 2")
    rng = random.Random(random_seed)
    previous = state._now
    clock = dt.datetime.fromisoformat(start)
    added = {"CBO_Supplier": 0, "CBO_ItemMaster": 0, "PM_PurchaseOrder": 0, "CBO_BOMMaster": 0, "MO_MO": 0,
             "InvTrans_WhQoh": 0}

    def tick() -> None:
        nonlocal clock
        clock += dt.timedelta(seconds=30)
        state.set_now(clock)

    try:
        with state.lock:
            state.set_now(clock)
            state.add_uom(DEMO_UOM, "个")
            state.add_uom("KG", "千克")
            for code, name in DEMO_WAREHOUSES:
                state.add_warehouse(code, name)
            for i in range(1, suppliers + 1):
                code = supplier_code(i)
                if state.find_one("CBO_Supplier", "Code", code) is None:
                    tick()
                    state.add_supplier(code, f"模拟供应商{i:03d}", f"供应商{i:03d}")
                    added["CBO_Supplier"] += 1
            units: dict[str, str] = {}
            for i in range(materials):
                code = material_code(i)
                existing = state.find_one("CBO_ItemMaster", "Code", code)
                unit = "KG" if i >= len(DEMO_MATERIALS) and i % 7 == 0 else DEMO_UOM
                if existing is None:
                    tick()
                    state.add_item(code, f"模拟物料 {code}", f"SPEC-{i:04d}", unit)
                    added["CBO_ItemMaster"] += 1
                else:
                    unit = existing["InventoryUOM_Code"] or unit
                units[code] = unit
            codes = list(units)
            supplier_codes = [supplier_code(i) for i in range(1, suppliers + 1)]
            taken = {row["DocNo"] for row in state.tables["PM_PurchaseOrder"].values()}
            number = 0
            for _ in range(purchase_orders):
                number += 1
                while f"PO{number:08d}" in taken:
                    number += 1
                tick()
                lines = []
                for k in range(1, lines_per_po + 1):
                    item = rng.choice(codes)
                    lines.append((10 * k, item, Decimal(rng.randint(1, 100) * 10), units[item],
                                  Decimal(rng.randint(10, 999)) / 100,
                                  clock.replace(hour=0, minute=0, second=0) + dt.timedelta(days=rng.randint(7, 40))))
                state.add_purchase_order(f"PO{number:08d}", rng.choice(supplier_codes),
                                         clock.replace(hour=0, minute=0, second=0), DEMO_CURRENCY, lines)
                added["PM_PurchaseOrder"] += 1
            for i in range(boms):
                tick()
                parent = codes[i % len(codes)]
                parts = [c for c in rng.sample(codes, k=min(len(codes), 4)) if c != parent][:3]
                state.add_bom(parent, f"V{i // len(codes) + 1}", Decimal(1), units[parent],
                              [(10 * (k + 1), part, Decimal(rng.randint(1, 4)), units[part],
                                Decimal(rng.randint(0, 5)) / 100) for k, part in enumerate(parts)],
                              effective=dt.datetime(2025, 1, 1))
                added["CBO_BOMMaster"] += 1
            mo_taken = {row["DocNo"] for row in state.tables["MO_MO"].values()}
            number = 0
            for _ in range(production_orders):
                number += 1
                while f"MO{number:08d}" in mo_taken:
                    number += 1
                tick()
                item = rng.choice(codes)
                begin = clock.replace(minute=0, second=0) + dt.timedelta(days=rng.randint(1, 10))
                state.add_mo(f"MO{number:08d}", item, Decimal(rng.randint(1, 50) * 10), units[item], begin,
                             begin + dt.timedelta(days=2), rng.choice(["WS01", "WS02"]), rng.choice([0, 1, 2, 3]))
                added["MO_MO"] += 1
            rows = 2 * len(codes) if stock is None else stock
            warehouses = [code for code, _ in DEMO_WAREHOUSES[:2]]
            held = {(r["ItemInfo_ItemCode"], r["Wh_Code"], r["LotInfo_LotCode"] or "")
                    for r in state.tables["InvTrans_WhQoh"].values()}
            for i in range(rows):
                item = codes[i % len(codes)]
                # (item, warehouse, lot) stays unique: lots only from the third round on
                rounds = i // len(codes)
                wh = warehouses[rounds % len(warehouses)]
                lot = f"L{i:05d}" if rounds >= len(warehouses) else ""
                if (item, wh, lot) in held:
                    continue  # e.g. a row of the demo seed
                tick()
                state.add_stock(item, wh, lot, Decimal(rng.randint(0, 500)), units[item])
                held.add((item, wh, lot))
                added["InvTrans_WhQoh"] += 1
    finally:
        state._now = previous
    return added
