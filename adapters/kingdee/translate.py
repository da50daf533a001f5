"""Kingdee records <-> plain dicts the hub's mappings consume.

Keys stay exactly as Kingdee field keys (``FSupplierId.FNumber``, ``FMaterialId.FNumber``) so
the declarative mappings in ``mappings/kingdee/`` name the same keys a Kingdee consultant
would; turning them into canonical ``PurchaseOrder`` documents is the mapping's job, not this
module's.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, Optional

from canonical_model.documents import supplier_lot
from hub.errors import SkippableError
from mappings.crosswalk import error_code, load_crosswalk

PO_FORM = "PUR_PurchaseOrder"
PO_ENTRY = "FPOOrderEntry"
PO_HEADER_KEYS = [
    "FID", "FBillNo", "FDate", "FDocumentStatus", "FModifyDate", "FApproveDate",
    "FSupplierId.FNumber", "FPurchaseOrgId.FNumber", "FSettleCurrId.FNumber",
]
PO_ENTRY_KEYS = [
    # "FSeq" unprefixed: mappings/kingdee/PUR_PurchaseOrder.yaml reads it under that key
    "FPOOrderEntry_FEntryID", "FSeq", "FMaterialId.FNumber", "FUnitId.FNumber", "FQty", "FPrice",
    "FDeliveryDate",
]
INSTOCK_FORM = "STK_InStock"
INSTOCK_ENTRY = "FInStockEntry"
#: custom header field (BOS extension) holding the hub's receipt id; README explains the choice
EXTERNAL_NUMBER_FIELD = "F_HUB_ExtNo"
#: standard bill type "标准采购入库"
INSTOCK_BILL_TYPE = "RKD01_SYS"
DEFAULT_STOCK_ORG = "100"
#: K/3 Cloud stores local (China Standard Time) dates without offset; China has no DST
KINGDEE_TZ = dt.timezone(dt.timedelta(hours=8))


def _kingdee_datetime(value: str, what: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO 8601 date/time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(KINGDEE_TZ).replace(tzinfo=None)
    return parsed


def _quantity(value: Any, where: str) -> int | float:
    """Kingdee wants JSON numbers; refuse a quantity a float would not carry exactly (0 means "skip the line")."""
    try:
        qty = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SkippableError("KINGDEE_BAD_RECEIPT", f"quantity {value!r} is not a number", where) from None
    if not qty.is_finite() or qty < 0:
        raise SkippableError("KINGDEE_BAD_RECEIPT", f"quantity {value!r} must be positive", where)
    if qty == 0:
        return 0
    if qty == qty.to_integral_value():
        return int(qty)
    as_float = float(qty)
    if Decimal(repr(as_float)) != qty:
        raise SkippableError("KINGDEE_BAD_RECEIPT", f"quantity {value!r} has more precision than Kingdee keeps", where)
    return as_float


def receipt_to_instock_model(receipt: dict[str, Any], external_number_field: str = EXTERNAL_NUMBER_FIELD,
                             stock_org: str = DEFAULT_STOCK_ORG) -> dict[str, Any]:
    """An ``STK_InStock`` Save ``Model`` for a receipt ``{receipt_id, supplier_id, received_at, lines[...]}``.

    ``FBillNo`` is left to Kingdee's numbering; the receipt id travels in ``external_number_field``
    so :meth:`KingdeeHook.save_submit_audit_idempotent` can find the bill again. Unit codes and
    stock/location numbers must already be Kingdee numbers (crosswalk before calling).
    """
    receipt_id = str(receipt.get("receipt_id") or "").strip()
    where = f"receipt:{receipt_id or '?'}"
    missing = [key for key in ("receipt_id", "supplier_id", "received_at") if not receipt.get(key)]
    lines = receipt.get("lines") or []
    if not lines:
        missing.append("lines")
    if missing:
        raise SkippableError("KINGDEE_BAD_RECEIPT", f"receipt lacks {', '.join(missing)}", where)
    try:
        received = _kingdee_datetime(str(receipt["received_at"]), "received_at")
    except ValueError as exc:
        raise SkippableError("KINGDEE_BAD_RECEIPT", str(exc), where) from None
    entries = []
    for n, line in enumerate(lines, start=1):
        line_where = f"{where}:line {n}"
        absent = [key for key in ("material_id", "quantity", "uom") if line.get(key) in (None, "")]
        if absent:
            raise SkippableError("KINGDEE_BAD_RECEIPT", f"line lacks {', '.join(absent)}", line_where)
        qty = _quantity(line["quantity"], line_where)
        if qty == 0:
            continue  # an announced line that received nothing books nothing; Kingdee rejects 0 rows
        entry: dict[str, Any] = {
            "FMaterialId": {"FNumber": str(line["material_id"])},
            "FRealQty": qty,
            "FUnitID": {"FNumber": str(line["uom"])},
        }
        if line.get("location"):
            # absent: left to Kingdee, which rejects the bill naming FStockId unless the site defaults it
            entry["FStockId"] = {"FNumber": str(line["location"])}
        if line.get("batch_id"):
            entry["FLot"] = {"FNumber": str(line["batch_id"])}
        if line.get("po_number"):
            entry["FPOOrderNo"] = str(line["po_number"])
        entries.append(entry)
    if not entries:
        raise SkippableError("KINGDEE_BAD_RECEIPT", "every line has quantity 0: nothing to post", where)
    return {
        "FID": 0,
        "FBillTypeID": {"FNUMBER": INSTOCK_BILL_TYPE},  # bill type uses upper-case FNUMBER (§4.4)
        "FDate": received.date().isoformat(),
        "FStockOrgId": {"FNumber": stock_org},
        "FPurchaseOrgId": {"FNumber": stock_org},
        "FSupplierId": {"FNumber": str(receipt["supplier_id"])},
        external_number_field: receipt_id,
        INSTOCK_ENTRY: entries,
    }


# --------------------------------------------------------------------------- canonical -> Kingdee codes

SYSTEM = "kingdee"
#: INFERRED: standard bill types of the receiving notice (标准收料单) and the inspection bill (检验单)
RECEIVE_BILL_TYPE = "SLD01_SYS"
INSPECT_BILL_TYPE = "JYD01_SYS"
RECEIVE_FORM = "PUR_ReceiveBill"
RECEIVE_ENTRY = "FDetailEntity"
INSPECT_ENTRY = "FEntity"
#: EXTENSION: PO entry fields where a supplier's order response is written back (README)
PROMISED_QTY_FIELD = "F_HUB_PromisedQty"
PROMISED_DATE_FIELD = "F_HUB_PromisedDate"
#: INFERRED: FInspectResult codes (1 合格 pass, 2 不合格 fail, 3 让步接收 conditional)
INSPECT_RESULTS = {"pass": "1", "fail": "2", "conditional": "3"}


class KingdeeCodes:
    """Canonical ids -> the site's own numbers, through the crosswalk tables (outbound direction).

    Suppliers and materials: the ``kingdee`` row of ``suppliers.csv`` / ``materials.csv`` whose
    canonical value is the id (a ``*`` row if there is no ``kingdee`` one). Units:
    ``kingdee_units.csv`` (canonical unit -> Kingdee unit number, source ``kingdee``). Locations:
    ``kingdee_stocks.csv`` (WMS bin -> Kingdee stock number, source ``wms``). An id without a row
    is ``SkippableError UNKNOWN_<TABLE>`` naming the document, line and table to fix.
    """

    def supplier(self, canonical: str, where: str) -> str:
        return _reverse_code("suppliers", canonical, where)

    def material(self, canonical: str, where: str) -> str:
        return _reverse_code("materials", canonical, where)

    def unit(self, canonical: str, where: str) -> str:
        return _forward_code("kingdee_units", canonical, SYSTEM, where)

    def stock(self, location: str, where: str) -> str:
        return _forward_code("kingdee_stocks", location, "wms", where)


def _forward_code(table: str, code: str, source: str, where: str) -> str:
    value = load_crosswalk(table).lookup(code, [source])
    if value is None:
        raise SkippableError(error_code(table), f"{code!r} has no entry in mappings/crosswalks/{table}.csv; "
                                                "add it and replay", where)
    return value


#: crosswalk object -> {canonical: [kingdee codes]}; keyed by id, the object kept alive beside it
_REVERSE: dict[int, tuple[Any, dict[str, list[str]]]] = {}


def _reverse_code(table: str, canonical: str, where: str) -> str:
    crosswalk = load_crosswalk(table)
    cached = _REVERSE.get(id(crosswalk))
    if cached is None or cached[0] is not crosswalk:
        own: dict[str, list[str]] = {}
        anyone: dict[str, list[str]] = {}
        for (source, code), value in crosswalk.entries.items():
            if source == SYSTEM:
                own.setdefault(value, []).append(code)
            elif source == "*":
                anyone.setdefault(value, []).append(code)
        index = {value: sorted(codes) for value, codes in anyone.items()}
        index.update({value: sorted(codes) for value, codes in own.items()})
        if len(_REVERSE) > 32:
            _REVERSE.clear()
        cached = _REVERSE[id(crosswalk)] = (crosswalk, index)
    codes = cached[1].get(canonical)
    if not codes:
        raise SkippableError(error_code(table), f"{canonical!r} has no Kingdee code in mappings/crosswalks/{table}.csv "
                                                f"(add a row kingdee,<code>,{canonical}) and replay", where)
    if len(codes) > 1:
        raise SkippableError(error_code(table).replace("UNKNOWN_", "AMBIGUOUS_"),
                             f"{canonical!r} has {len(codes)} Kingdee codes in mappings/crosswalks/{table}.csv "
                             f"({', '.join(codes)}); keep one kingdee row per canonical id", where)
    return codes[0]


# --------------------------------------------------------------------------- pushes: canonical -> Save models


def receipt_in_kingdee_codes(receipt: Any, codes: KingdeeCodes) -> dict[str, Any]:
    """A canonical ``Receipt`` as the dict ``receipt_to_instock_model`` takes, in the site's codes.

    The hub's batch ids are ``<supplier_id>:<supplier lot>``; Kingdee gets the supplier's lot.
    """
    where = f"receipt:{receipt.receipt_id}"
    supplier = receipt.supplier_id
    lines = []
    for line in receipt.lines:
        line_where = f"{where}:line {line.line_no}"
        lot = supplier_lot(line.batch_id, supplier)
        lines.append({
            "material_id": codes.material(line.material_id, line_where),
            "quantity": str(line.quantity),
            "uom": codes.unit(line.uom, line_where),
            "batch_id": lot or None,
            "po_number": line.po_number,
            "location": codes.stock(line.location, line_where) if line.location else None,
        })
    return {
        "receipt_id": receipt.receipt_id,
        "supplier_id": codes.supplier(supplier, where) if supplier else None,
        "received_at": receipt.received_at.isoformat(),
        "lines": lines,
    }


def receipt_to_receive_model(receipt: dict[str, Any], external_number_field: str = EXTERNAL_NUMBER_FIELD,
                             org: str = DEFAULT_STOCK_ORG) -> dict[str, Any]:
    """A ``PUR_ReceiveBill`` (收料单) Save ``Model``; same input and checks as :func:`receipt_to_instock_model`.

    INFERRED field keys (the notes only infer the entry key ``FDetailEntity``): ``FActReceiveQty``,
    ``FUnitId``, ``FLot``, ``FOrderBillNo`` (the PO number), ``FStockID``; header ``FPurOrgId``.
    """
    instock = receipt_to_instock_model(receipt, external_number_field, org)
    entries = []
    for entry in instock[INSTOCK_ENTRY]:
        row: dict[str, Any] = {"FMaterialId": entry["FMaterialId"], "FUnitId": entry["FUnitID"],
                               "FActReceiveQty": entry["FRealQty"]}
        if "FLot" in entry:
            row["FLot"] = entry["FLot"]
        if "FPOOrderNo" in entry:
            row["FOrderBillNo"] = entry["FPOOrderNo"]
        if "FStockId" in entry:
            row["FStockID"] = entry["FStockId"]
        entries.append(row)
    return {
        "FID": 0,
        "FBillTypeID": {"FNUMBER": RECEIVE_BILL_TYPE},
        "FDate": instock["FDate"],
        "FStockOrgId": {"FNumber": org},
        "FPurOrgId": {"FNumber": org},
        "FSupplierId": instock["FSupplierId"],
        external_number_field: instock[external_number_field],
        RECEIVE_ENTRY: entries,
    }


def inspection_to_model(inspection: Any, codes: KingdeeCodes, external_number_field: str = EXTERNAL_NUMBER_FIELD,
                        org: str = DEFAULT_STOCK_ORG) -> dict[str, Any]:
    """A ``QM_InspectBill`` (INFERRED form and keys, README) Save ``Model`` for a canonical ``Inspection``."""
    where = f"inspection:{inspection.inspection_id}"
    inspected = _quantity(inspection.inspected_quantity, where)
    rejected = _quantity(inspection.rejected_quantity, where)
    if Decimal(str(rejected)) > Decimal(str(inspected)):
        raise SkippableError("KINGDEE_BAD_INSPECTION", f"rejected quantity {inspection.rejected_quantity} exceeds "
                                                       f"inspected quantity {inspection.inspected_quantity}", where)
    qualified = _quantity(Decimal(str(inspection.inspected_quantity)) - Decimal(str(inspection.rejected_quantity)),
                          where)
    supplier = inspection.supplier_id
    lot = supplier_lot(inspection.batch_id, supplier)
    notes = list(inspection.defects) + [f"{c.name}={c.value if c.value is not None else ''} {c.result}"
                                        for c in inspection.characteristics if c.result == "fail"]
    entry: dict[str, Any] = {
        "FMaterialId": {"FNumber": codes.material(inspection.material_id, where)},
        "FUnitId": {"FNumber": codes.unit(inspection.uom, where)},
        "FInspectQty": inspected,
        "FQualifiedQty": qualified,
        "FUnqualifiedQty": rejected,
        "FInspectResult": INSPECT_RESULTS[inspection.result],
        "FLot": {"FNumber": lot},
    }
    if inspection.po_number:
        entry["FSrcBillNo"] = inspection.po_number
    if notes:
        entry["FMemo"] = "; ".join(notes)[:255]
    model: dict[str, Any] = {
        "FID": 0,
        "FBillTypeID": {"FNUMBER": INSPECT_BILL_TYPE},
        "FDate": _kingdee_datetime(inspection.inspected_at.isoformat(), "inspected_at").date().isoformat(),
        "FInspectOrgId": {"FNumber": org},
        "FNote": f"hub inspection {inspection.inspection_id}" + (
            f", receipt {inspection.receipt_id}" if inspection.receipt_id else ""),
        external_number_field: inspection.inspection_id,
        INSPECT_ENTRY: [entry],
    }
    if supplier:
        model["FSupplierId"] = {"FNumber": codes.supplier(supplier, where)}
    return model


class _Answer(NamedTuple):
    """A response line implied by a header-only response."""

    line_no: int
    action: str
    quantity: Any = None
    delivery_date: Any = None


def order_response_updates(response: Any, po_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PO entry updates ``{FEntryID, F_HUB_PromisedQty, F_HUB_PromisedDate}`` a response asks for.

    ``po_rows`` are the PO's query rows (``FPOOrderEntry_FEntryID``, ``FSeq``, ``FQty``,
    ``FDeliveryDate`` and the two promised fields). Only lines whose promised values differ are
    returned, so applying the same response twice writes nothing the second time. Rejected lines
    are promised 0; accepted lines without their own figures are promised what was ordered; a
    response without lines applies its status to every line (``changed`` needs lines).
    """
    where = f"OrderResponse:{response.po_number}"
    by_seq = {}
    for row in po_rows:
        try:
            by_seq[int(row.get("FSeq"))] = row
        except (TypeError, ValueError):
            continue
    answers = list(response.lines)
    if not answers:
        if response.status == "changed":
            raise SkippableError("KINGDEE_BAD_RESPONSE_DOC", "status changed without lines: nothing says what "
                                                             "changed", where)
        answers = [_Answer(seq, response.status) for seq in sorted(by_seq)]
    updates = []
    for answer in answers:
        row = by_seq.get(answer.line_no)
        if row is None:
            raise SkippableError("KINGDEE_UNKNOWN_PO_LINE", f"line {answer.line_no} is not on PO {response.po_number} "
                                                            f"(FSeq {', '.join(map(str, sorted(by_seq))) or 'none'})",
                                 f"{where}:line {answer.line_no}")
        line_where = f"{where}:line {answer.line_no}"
        if answer.action == "rejected":
            qty: Any = 0
        else:
            qty = _quantity(answer.quantity if answer.quantity is not None else row.get("FQty"), line_where)
        if answer.delivery_date:
            date: Optional[str] = answer.delivery_date.isoformat()
        else:  # a rejected line promises no date; an accepted one the date ordered
            date = None if answer.action == "rejected" else _date_part(row.get("FDeliveryDate"))
        promised_date = f"{date}T00:00:00" if date else None
        current_qty = _number_or_none(row.get(PROMISED_QTY_FIELD))
        if current_qty == Decimal(str(qty)) and _date_part(row.get(PROMISED_DATE_FIELD)) == date:
            continue
        updates.append({"FEntryID": row.get("FPOOrderEntry_FEntryID"), PROMISED_QTY_FIELD: qty,
                        PROMISED_DATE_FIELD: promised_date})
    return updates


def _date_part(value: Any) -> Optional[str]:
    if not isinstance(value, str) or len(value) < 10:
        return None
    return value[:10]


def _number_or_none(value: Any) -> Optional[Decimal]:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
