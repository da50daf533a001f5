"""U9 records <-> plain dicts the hub's mappings consume, and canonical documents -> U9 DTOs.

Both U9 transports end in the same record per entity, keyed by the column names U9's own SQL
surface uses (``DocNo``, ``Supplier_Code``, ``ItemInfo_ItemCode``, ``PurQtyTU``; notes §1.3): a
SOAP DTO (``m_supplier.m_code``) is flattened to ``Supplier_Code``, a ``QueryInfoBySql`` row
already is. So one ``mappings/u9/<Table>.yaml`` per entity serves ``u9`` and ``u9cloud``, and a
test can demand that both transports yield equal records. Values are normalised once: decimals
as plain decimal strings (``"3.2"``, exact, JSON-able), date-times as naive ISO text (U9 server
time), ids and enums as ints.

Two keys are derived (``hub_`` prefix, as in the Kingdee records) because the mapping language
has no expressions: ``hub_bom_id`` (``<parent item>/<BOM version>``: a U9 BOM has no number of
its own) and ``hub_status`` (the MO state as a canonical ``ProductionOrder.status``; INFERRED
state codes, see MO_STATES; a crosswalk ``u9_mo_states.csv`` would make it data).

Outbound, canonical ids go back to U9 codes by reading the crosswalk tables backwards for source
``u9`` (the first ``u9`` row whose canonical value matches); a canonical id with no ``u9`` row is
``SkippableError UNKNOWN_<TABLE>``, the same code the inbound mapping raises.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Optional

from canonical_model.documents import Inspection, OrderResponse, Receipt, supplier_lot
from hub.errors import FatalError, SkippableError
from mappings import crosswalk as cw

CROSSWALK_SOURCE = "u9"
#: U9 keeps server-local (China Standard Time) date-times without offset; China has no DST
U9_TZ = dt.timezone(dt.timedelta(hours=8))
APPROVED = 2
#: MO DocState -> ProductionOrder.status (INFERRED codes: 0 开立, 1 已核准, 2 开工, 3 完工, 4 关闭)
MO_STATES = {0: "planned", 1: "released", 2: "started", 3: "completed", 4: "closed"}
#: Inspection.result -> U9 result code (INFERRED: 0 合格, 1 不合格, 2 让步接收)
INSPECTION_RESULTS = {"pass": 0, "fail": 1, "conditional": 2}

DECIMAL_FIELDS = frozenset({"PurQtyTU", "FinallyPriceTC", "TotalRecievedQtyTU", "SupplierConfirmQtyTU", "LotSize",
                            "UsageQty", "Scrap", "ProductQty", "StoreQty"})
DATE_FIELDS = frozenset({"BusinessDate", "ModifiedOn", "CreatedOn", "DeliveryDate", "SupplierConfirmDate",
                         "EffectiveDate", "DisableDate", "StartDate", "CompleteDate"})
INT_FIELDS = frozenset({"ID", "Status", "DocLineNo", "Sequence", "DocState"})


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    mapping: str
    table: str
    header: tuple[str, ...]
    #: extra SQL condition of the REST pull (the SOAP query service applies the same rule)
    condition: str = ""
    lines_key: Optional[str] = None
    line_table: Optional[str] = None
    parent_column: Optional[str] = None
    line_fields: tuple[str, ...] = ()
    #: flattened SOAP DTO name -> record name, where the DTO and the SQL surface differ
    renames: dict[str, str] = field(default_factory=dict)
    key: Callable[[dict[str, Any]], str] = lambda record: str(record.get("Code"))


SPECS: dict[str, EntitySpec] = {spec.entity: spec for spec in (
    EntitySpec("suppliers", "CBO_Supplier.yaml", "CBO_Supplier", ("ID", "Code", "Name", "ShortName", "ModifiedOn")),
    EntitySpec("materials", "CBO_ItemMaster.yaml", "CBO_ItemMaster",
               ("ID", "Code", "Name", "SPECS", "InventoryUOM_Code", "ModifiedOn")),
    EntitySpec("boms", "CBO_BOMMaster.yaml", "CBO_BOMMaster",
               ("ID", "ItemMaster_Code", "BOMVersionCode", "LotSize", "ProductUOM_Code", "Status", "ModifiedOn"),
               condition=f"Status = {APPROVED}", lines_key="BOMComponents", line_table="CBO_BOMComponent",
               parent_column="BOMMaster",
               line_fields=("ID", "Sequence", "ItemMaster_Code", "UsageQty", "IssueUOM_Code", "Scrap", "EffectiveDate",
                            "DisableDate"),
               key=lambda record: str(record.get("hub_bom_id"))),
    EntitySpec("purchase_orders", "PM_PurchaseOrder.yaml", "PM_PurchaseOrder",
               ("ID", "DocNo", "BusinessDate", "Status", "Supplier_Code", "Supplier_Name", "TC_Code", "ModifiedOn"),
               condition=f"Status >= {APPROVED}", lines_key="POLines", line_table="PM_POLine",
               parent_column="PurchaseOrder",
               line_fields=("ID", "DocLineNo", "ItemInfo_ItemCode", "ItemInfo_ItemName", "PurQtyTU", "TradeUOM_Code",
                            "FinallyPriceTC", "DeliveryDate", "TotalRecievedQtyTU", "SupplierConfirmQtyTU",
                            "SupplierConfirmDate"),
               renames={"ItemMaster_Code": "ItemInfo_ItemCode", "ItemMaster_Name": "ItemInfo_ItemName"},
               key=lambda record: str(record.get("DocNo"))),
    EntitySpec("production_orders", "MO_MO.yaml", "MO_MO",
               ("ID", "DocNo", "DocState", "ItemMaster_Code", "ProductQty", "ProductUOM_Code", "StartDate",
                "CompleteDate", "Department_Code", "ModifiedOn"),
               key=lambda record: str(record.get("DocNo"))),
    EntitySpec("stock", "InvTrans_WhQoh.yaml", "InvTrans_WhQoh",
               ("ID", "ItemInfo_ItemCode", "Wh_Code", "Wh_Name", "LotInfo_LotCode", "StoreQty", "StoreUOM_Code",
                "ModifiedOn"),
               renames={"ItemCode": "ItemInfo_ItemCode", "WhCode": "Wh_Code", "WhName": "Wh_Name",
                        "LotCode": "LotInfo_LotCode", "StoreUOMCode": "StoreUOM_Code"},
               key=lambda record: "/".join(str(record.get(k) or "") for k in
                                           ("ItemInfo_ItemCode", "Wh_Code", "LotInfo_LotCode"))),
)}


# --------------------------------------------------------------------------- values


_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def u9_local(value: dt.datetime) -> dt.datetime:
    """A date-time as U9 server time: aware values converted to UTC+8, naive ones taken as they are."""
    if value.tzinfo is not None:
        value = value.astimezone(U9_TZ).replace(tzinfo=None)
    return value.replace(microsecond=0)


def parse_datetime(value: Any) -> Optional[dt.datetime]:
    """U9 date-times as they arrive: datetime (zeep), ISO text, 'YYYY-MM-DD HH:MM:SS', '/Date(ms)/'."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return u9_local(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    text = str(value).strip()
    match = _MS_DATE.match(text)
    if match:  # the older .NET JSON form: milliseconds since the epoch (UTC)
        return u9_local(dt.datetime.fromtimestamp(int(match.group(1)) / 1000, dt.timezone.utc))
    try:
        return u9_local(dt.datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00")))
    except ValueError:
        raise ValueError(f"{value!r} is not a date-time") from None


def _normal(name: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if name in DECIMAL_FIELDS:
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
        except InvalidOperation:
            return str(value)  # the mapping reports BAD_VALUE with the record key
        if not number.is_finite():
            return str(value)
        number = number.normalize()
        return format(number, "f") if number != 0 else "0"
    if name in DATE_FIELDS:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            return str(value)
        return parsed.isoformat() if parsed is not None else None
    if name in INT_FIELDS:
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if isinstance(value, Decimal):  # an id-like number we do not know: keep it exact as text
        return format(value, "f")
    return value


def _flatten(dto: dict[str, Any], renames: dict[str, str]) -> dict[str, Any]:
    """A PascalCase DTO -> flat ``X_Code``/``X_Name`` form (references) with renames applied."""
    flat: dict[str, Any] = {}
    for key, value in dto.items():
        if isinstance(value, dict):
            for sub in ("Code", "Name"):
                if sub in value:
                    flat[f"{key}_{sub}"] = value[sub]
        elif not isinstance(value, list):
            flat[key] = value
    return {renames.get(k, k): v for k, v in flat.items()}


def _project(flat: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    return {name: _normal(name, flat.get(name)) for name in names}


def _derive(spec: EntitySpec, record: dict[str, Any]) -> dict[str, Any]:
    if spec.entity == "boms":
        record["hub_bom_id"] = f"{record.get('ItemMaster_Code')}/{record.get('BOMVersionCode')}"
    elif spec.entity == "production_orders":
        record["hub_status"] = MO_STATES.get(record.get("DocState"))  # type: ignore[arg-type]
    return record


def record_from_dto(spec: EntitySpec, dto: dict[str, Any]) -> dict[str, Any]:
    """A SOAP query DTO (PascalCase, as hook.py returns it) -> the entity's record."""
    record = _project(_flatten(dto, spec.renames), spec.header)
    if spec.lines_key:
        lines = dto.get(spec.lines_key) or []
        seen: set[Any] = set()
        out = []
        for line in lines if isinstance(lines, list) else []:
            if not isinstance(line, dict):
                continue
            flat = _project(_flatten(line, spec.renames), spec.line_fields)
            if flat.get("ID") is not None:
                if flat["ID"] in seen:  # a repeated line inside one document
                    continue
                seen.add(flat["ID"])
            out.append(flat)
        record[spec.lines_key] = sorted(out, key=_line_order)
    return _derive(spec, record)


def record_from_rows(spec: EntitySpec, row: dict[str, Any], lines: Iterable[dict[str, Any]] = (),
                     delivery_dates: Optional[dict[Any, Any]] = None) -> dict[str, Any]:
    """``QueryInfoBySql`` rows (header + its child rows) -> the entity's record."""
    record = _project(row, spec.header)
    if spec.lines_key:
        out = []
        for line in lines:
            flat = dict(line)
            if delivery_dates is not None:
                flat["DeliveryDate"] = delivery_dates.get(_normal("ID", line.get("ID")))
            out.append(_project(flat, spec.line_fields))
        record[spec.lines_key] = sorted(out, key=_line_order)
    return _derive(spec, record)


def _line_order(line: dict[str, Any]) -> tuple:
    number = line.get("DocLineNo", line.get("Sequence"))
    return (number if isinstance(number, int) else 0, line.get("ID") or 0)


def earliest_delivery(ship_rows: Iterable[dict[str, Any]]) -> dict[int, Any]:
    """PO line ID -> its earliest ``PM_POShipLine.DeliveryDate`` (a line split into deliveries keeps the first)."""
    dates: dict[int, dt.datetime] = {}
    for row in ship_rows:
        try:
            line_id = int(row.get("POLine"))
            when = parse_datetime(row.get("DeliveryDate"))
        except (TypeError, ValueError):
            continue
        if when is not None and (line_id not in dates or when < dates[line_id]):
            dates[line_id] = when
    return dates


def modified_of(record: dict[str, Any]) -> Optional[dt.datetime]:
    value = record.get("ModifiedOn")
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


# --------------------------------------------------------------------------- outbound codes


def u9_code(table: str, canonical: str, where: str) -> str:
    """The U9 code of a canonical id: the crosswalk read backwards for source ``u9``."""
    crosswalk = cw.load_crosswalk(table)
    for (source, code), value in crosswalk.entries.items():
        if source == CROSSWALK_SOURCE and value == canonical:
            return code
    raise SkippableError(cw.error_code(table),
                         f"canonical {canonical!r} has no {CROSSWALK_SOURCE} code in mappings/crosswalks/{table}.csv; "
                         f"add a row '{CROSSWALK_SOURCE},<U9 code>,{canonical}' and replay", where)


def warehouse_for(location: Optional[str], default: Optional[str], where: str) -> str:
    """U9 warehouse of a receipt line: crosswalk ``u9_warehouses`` (WMS bin -> warehouse) if the
    table exists and knows the bin, else the connection's ``receipt_warehouse``."""
    if location:
        try:
            hit = cw.load_crosswalk("u9_warehouses").lookup(location, ["wms", CROSSWALK_SOURCE])
        except FatalError as exc:
            if exc.code != "CROSSWALK_MISSING":
                raise
            hit = None  # no such table on this installation: the configured default applies
        if hit:
            return hit
    if not default:
        # every receipt would fail the same way: configuration, not one bad record
        raise FatalError("U9_CONFIG", f"no U9 warehouse for bin {location!r}: set extra receipt_warehouse on the "
                                      f"connection or add mappings/crosswalks/u9_warehouses.csv", where)
    return default


def _decimal(value: Any, what: str, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SkippableError("U9_BAD_DOCUMENT", f"{what} {value!r} is not a number", where) from None
    if not number.is_finite() or number < 0:
        raise SkippableError("U9_BAD_DOCUMENT", f"{what} {value!r} must be a positive number", where)
    return number


def receipt_dto(receipt: Receipt, external_number: str, default_warehouse: Optional[str]) -> dict[str, Any]:
    """A purchase receipt (收货单) created from PO lines; the external number in PrivateDescSeg1."""
    where = f"receipt:{receipt.receipt_id}"
    if not receipt.supplier_id:
        raise SkippableError("U9_BAD_DOCUMENT", "receipt has no supplier_id: U9 receipts are per supplier", where)
    supplier = u9_code("suppliers", receipt.supplier_id, where)
    lines = []
    for line in receipt.lines:
        line_where = f"{where}:line {line.line_no}"
        if not line.po_number or line.po_line_no is None:
            raise SkippableError("U9_BAD_DOCUMENT", "line has no po_number/po_line_no: U9 receives against PO "
                                                    "lines (Receivement/CreateRcvBySrcPO)", line_where)
        qty = _decimal(line.quantity, "quantity", line_where)
        if qty == 0:
            continue  # an announced line that received nothing books nothing
        dto: dict[str, Any] = {
            "SrcDocNo": line.po_number, "SrcDocLineNo": line.po_line_no,
            "ItemMaster": {"Code": u9_code("materials", line.material_id, line_where)},
            "RcvQtyTU": qty, "TradeUOM": {"Code": u9_code("units", line.uom, line_where)},
            "Wh": {"Code": warehouse_for(line.location, default_warehouse, line_where)},
        }
        if line.batch_id:
            dto["LotCode"] = supplier_lot(line.batch_id, receipt.supplier_id)
        lines.append(dto)
    if not lines:
        raise SkippableError("U9_BAD_DOCUMENT", "every line has quantity 0: nothing to post", where)
    return {"BusinessDate": u9_local(receipt.received_at), "Supplier": {"Code": supplier},
            "DescFlexField": {"PrivateDescSeg1": external_number}, "RcvLines": lines}


def inspection_dto(inspection: Inspection, external_number: str) -> dict[str, Any]:
    """An incoming inspection result (INFERRED document QC InspectDoc)."""
    where = f"inspection:{inspection.inspection_id}"
    dto: dict[str, Any] = {
        "BusinessDate": u9_local(inspection.inspected_at),
        "ItemMaster": {"Code": u9_code("materials", inspection.material_id, where)},
        "UOM": {"Code": u9_code("units", inspection.uom, where)},
        "InspectQty": inspection.inspected_quantity, "RejectQty": inspection.rejected_quantity,
        "Result": INSPECTION_RESULTS[inspection.result],
        "LotCode": supplier_lot(inspection.batch_id, inspection.supplier_id),
        "SrcDocNo": inspection.receipt_id or inspection.po_number,
        "DescFlexField": {"PrivateDescSeg1": external_number},
        "InspectItems": [{"CheckItem": c.name, "CheckValue": c.value, "CheckResult": 0 if c.result == "pass" else 1}
                         for c in inspection.characteristics],
    }
    if inspection.supplier_id:
        dto["Supplier"] = {"Code": u9_code("suppliers", inspection.supplier_id, where)}
    if inspection.defects:
        dto["Memo"] = "; ".join(inspection.defects)[:255]
    return dto


def order_response_dtos(response: OrderResponse, external_number: str) -> list[dict[str, Any]]:
    """Supplier confirmation per PO line: promised quantity and date (rejected line -> 0)."""
    where = f"order_response:{response.po_number}"
    if not response.lines:
        raise SkippableError("U9_BAD_DOCUMENT", f"order response {external_number} has no lines: U9 confirms per PO "
                                                f"line", where)
    dtos = []
    for line in response.lines:
        dto: dict[str, Any] = {"DocNo": response.po_number, "DocLineNo": line.line_no,
                               "DescFlexField": {"PrivateDescSeg2": external_number}}
        if line.action == "rejected":
            dto["ConfirmQtyTU"] = Decimal(0)
        elif line.quantity is not None:
            dto["ConfirmQtyTU"] = _decimal(line.quantity, "quantity", f"{where}:line {line.line_no}")
        # accepted without a quantity: U9 confirms the ordered quantity (INFERRED)
        if line.delivery_date is not None:
            dto["ConfirmDate"] = dt.datetime.combine(line.delivery_date, dt.time())
        if line.reason:
            dto["Memo"] = line.reason[:255]
        dtos.append(dto)
    return dtos
