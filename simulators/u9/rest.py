"""U9 Cloud OpenAPI (REST/JSON) services of the simulator (protocols/yonyou-u9.md §1).

``GET {rest_base}/webapi/OAuth2/AuthLogin`` issues a token (query names case-insensitive);
every other ``/webapi/*`` call needs header ``token``: expired -> ResCode 402, re-issued or
unknown -> 504, absent -> 401. One envelope everywhere, ``{ResCode, ResMsg, Success, Data}``,
business errors with HTTP 200. Confirmed paths: ``QueryCommon/QueryInfoBySql`` (rows of a
DataTable), ``ItemMaster/Query``, ``MODoc/Query``, ``BOM/Query`` (bodies are arrays; unknown keys
-> ``Data: []``), ``Receivement/CreateRcvBySrcPO`` + ``Receivement/Approve`` with per-row results
``m_isSucess``/``m_errorMsg``/``m_iD``/``m_code`` (``Data`` as a JSON-encoded string when the
state's ``data_as_string`` switch is on).

INFERRED: the request DTO field names of the create/approve services (the PascalCase form of
the SOAP DTO members), ``InspectDoc/Create`` + ``InspectDoc/Approve`` and
``PurchaseOrder/SupplierConfirm`` (no QC or supplier-confirmation path is in the notes), the
``[{"DocNo": ...}]`` approve body, SQL errors as ResCode 500 with SQL Server's text.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, Callable, Optional

from simulators.u9 import sql
from simulators.u9.soap import bom_dto, item_dto, mo_dto, to_member
from simulators.u9.state import TABLES, PARENT_COLUMNS, U9BusinessError, U9State

_FROM_RE = re.compile(r"\bFROM\s+\[?([A-Za-z_][\w.]*)", re.IGNORECASE)


def envelope(data: Any = None, code: int = 0, message: Optional[str] = "") -> dict[str, Any]:
    return {"ResCode": code, "ResMsg": message, "Success": code == 0, "Data": data}


def encode(value: Any, dto_dates: bool = False) -> Any:
    """JSON-able form: Decimal -> number, datetime -> text (DataTable: ISO; DTO services: 'YYYY-MM-DD HH:MM:SS')."""
    if isinstance(value, dict):
        return {k: encode(v, dto_dates) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v, dto_dates) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if dto_dates else value.isoformat()
    return value


def as_members(value: Any) -> Any:
    """A PascalCase DTO view -> the ``m_camelCase`` member form the query services return."""
    if isinstance(value, dict):
        return {to_member(k): as_members(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_members(v) for v in value]
    return value


def sql_table(raw: bytes) -> str:
    """The table a QueryInfoBySql body reads, for fault targeting (best effort, never raises)."""
    match = _FROM_RE.search(raw.decode("utf-8", "replace"))
    return match.group(1).split(".")[-1] if match else ""


class RestCall:
    def __init__(self, state: U9State, body: Any, repeat_page: bool = False, stale_page: bool = False) -> None:
        self.state = state
        self.body = body
        self.repeat_page = repeat_page
        self.stale_page = stale_page


def query_by_sql(call: RestCall) -> dict[str, Any]:
    body = call.body
    text = body.get("SqlString") if isinstance(body, dict) else None
    if text is None and isinstance(body, dict):
        text = next((v for k, v in body.items() if str(k).lower() == "sqlstring"), None)
    state = call.state
    try:
        query = sql.parse(text, lambda t: TABLES.get(t), PARENT_COLUMNS)
        with state.lock:
            rows = sql.execute(
                query,
                lambda after: (state.tables[query.table][i] for i in state.ids_after(query.table, after)),
                lambda table, parent: state.children(table, parent),
            )
            key = f"rest sql {query.table}"
            previous = state.last_page.get(key, [])
            if call.stale_page:
                return envelope(encode(previous))
            state.last_page[key] = rows
    except sql.SqlError as exc:
        return envelope(None, 500, str(exc))
    return envelope(encode((previous if call.repeat_page else []) + rows))


def _keys(body: Any, *names: str) -> list[str]:
    """Codes out of an array of key objects (``[{"ItemMaster": {"Code": x}}]``, ``[{"DocNo": x}]``) or strings."""
    out = []
    for item in body if isinstance(body, list) else []:
        if isinstance(item, str):
            out.append(item)
            continue
        if not isinstance(item, dict):
            continue
        for name in names:
            value = next((v for k, v in item.items() if str(k).lower() == name.lower()), None)
            if isinstance(value, dict):
                value = next((v for k, v in value.items() if str(k).lower() == "code"), None)
            if value not in (None, ""):
                out.append(str(value))
                break
    return out


def item_query(call: RestCall) -> dict[str, Any]:
    codes = set(_keys(call.body, "ItemMaster", "Code"))
    rows = [r for r in call.state.rows("CBO_ItemMaster") if r["Code"] in codes]
    return envelope(encode(as_members([item_dto(call.state, r) for r in rows]), dto_dates=True))


def mo_query(call: RestCall) -> dict[str, Any]:
    numbers = set(_keys(call.body, "DocNo"))
    rows = [r for r in call.state.rows("MO_MO") if r["DocNo"] in numbers]
    return envelope(encode(as_members([mo_dto(call.state, r) for r in rows]), dto_dates=True))


def bom_query(call: RestCall) -> dict[str, Any]:
    parents = set(_keys(call.body, "ItemMaster", "Code"))
    with call.state.lock:
        rows = [r for r in call.state.tables["CBO_BOMMaster"].values() if r["ItemMaster_Code"] in parents]
        views = [bom_dto(call.state, r) for r in rows]
    return envelope(encode(as_members(views), dto_dates=True))


def _row_result(ok: bool, doc: Optional[dict] = None, message: Optional[str] = None) -> dict[str, Any]:
    return {"m_isSucess": ok, "m_errorMsg": message, "m_iD": doc["ID"] if doc else 0,
            "m_code": doc["DocNo"] if doc else None}


def _results(state: U9State, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return envelope(json.dumps(rows, ensure_ascii=False) if state.data_as_string else rows)


def _error_text(exc: U9BusinessError) -> str:
    return f"{exc.attribute}: {exc.message}" if exc.attribute else exc.message


def _create(create: Callable[[U9State, dict], dict]) -> Callable[[RestCall], dict]:
    def handle(call: RestCall) -> dict[str, Any]:
        if not isinstance(call.body, list):
            return envelope(None, 502, "参数错误：请求体必须是数组")
        rows = []
        for dto in call.body:
            try:
                if not isinstance(dto, dict):
                    raise U9BusinessError("参数格式错误")
                rows.append(_row_result(True, create(call.state, dto)))
            except U9BusinessError as exc:
                rows.append(_row_result(False, message=_error_text(exc)))
        return _results(call.state, rows)
    return handle


def _approve(kind: str) -> Callable[[RestCall], dict]:
    def handle(call: RestCall) -> dict[str, Any]:
        numbers = _keys(call.body, "DocNo") if isinstance(call.body, list) else _keys(
            [{"DocNo": n} for n in (call.body or {}).get("DocNos", [])] if isinstance(call.body, dict) else [], "DocNo")
        if not numbers:
            return envelope(None, 502, "参数错误：没有要审核的单据号")
        rows = []
        for number in numbers:
            try:
                rows.extend(_row_result(True, doc) for doc in call.state.approve(kind, [number]))
            except U9BusinessError as exc:
                rows.append(_row_result(False, message=_error_text(exc)))
        return _results(call.state, rows)
    return handle


def supplier_confirm(call: RestCall) -> dict[str, Any]:
    if not isinstance(call.body, list) or not call.body:
        return envelope(None, 502, "参数错误：请求体必须是非空数组")
    try:
        rows = [_row_result(True, doc) for doc in call.state.confirm_po_lines(call.body)]
    except U9BusinessError as exc:
        rows = [_row_result(False, message=_error_text(exc))]
    return _results(call.state, rows)


#: "tag/action" (lower case) -> handler
ROUTES: dict[str, Callable[[RestCall], dict]] = {
    "querycommon/queryinfobysql": query_by_sql,
    "itemmaster/query": item_query,
    "modoc/query": mo_query,
    "bom/query": bom_query,
    "receivement/creatercvbysrcpo": _create(U9State.create_receivement),
    "receivement/approve": _approve("Receivement"),
    "inspectdoc/create": _create(U9State.create_inspect_doc),
    "inspectdoc/approve": _approve("InspectDoc"),
    "purchaseorder/supplierconfirm": supplier_confirm,
}
