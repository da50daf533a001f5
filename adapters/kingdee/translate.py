"""Kingdee records <-> plain dicts the hub's mappings consume.

Keys stay exactly as Kingdee field keys (``FSupplierId.FNumber``, ``FMaterialId.FNumber``) so
the declarative mappings in ``mappings/kingdee/`` name the same keys a Kingdee consultant
would; turning them into canonical ``PurchaseOrder`` documents is the mapping's job, not this
module's.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Optional, Protocol

from hub.errors import SkippableError

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


class _QueryHook(Protocol):
    def execute_bill_query(self, form_id: str, field_keys: list[str], filter_string: str = "",
                           order_string: str = "", page_size: Optional[int] = None) -> Iterable[dict[str, Any]]: ...


def group_bill_rows(rows: Iterable[dict[str, Any]], header_keys: Iterable[str],
                    entry_key: str = PO_ENTRY) -> list[dict[str, Any]]:
    """Fold flat ExecuteBillQuery rows (one per entry line) into one dict per bill (by ``FID``).

    Header keys come from the first row of a bill; every other key goes into the entry dicts
    under ``entry_key``. Rows repeated by overlapping pages are dropped by entry id
    (``<entry>_FEntryID`` or ``FEntryID``) when it is among the keys; a left-joined row whose
    entry fields are all null (bill without lines) adds no entry. Bills keep first-seen order.
    """
    header_keys = list(header_keys)
    if "FID" not in header_keys:
        raise ValueError("header_keys must include FID: bills are grouped by it")
    bills: dict[Any, dict[str, Any]] = {}
    seen_entries: dict[Any, set[Any]] = {}
    for row in rows:
        fid = row["FID"]
        bill = bills.get(fid)
        if bill is None:
            bill = {key: row.get(key) for key in header_keys}
            bill[entry_key] = []
            bills[fid] = bill
            seen_entries[fid] = set()
        entry = {key: value for key, value in row.items() if key not in header_keys}
        if not entry or all(value is None for value in entry.values()):
            continue
        entry_id_key = next((k for k in entry if k.lower() in ("fentryid", f"{entry_key}_fentryid".lower())), None)
        if entry_id_key is not None:
            if entry[entry_id_key] in seen_entries[fid]:
                continue
            seen_entries[fid].add(entry[entry_id_key])
        bill[entry_key].append(entry)
    return list(bills.values())


def _kingdee_datetime(value: str, what: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {value!r} is not an ISO 8601 date/time") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(KINGDEE_TZ).replace(tzinfo=None)
    return parsed


def pull_purchase_orders(hook: _QueryHook, since: Optional[str], overlap_minutes: int = 5,
                         audited_only: bool = True) -> list[dict[str, Any]]:
    """Purchase orders changed since the watermark (minus ``overlap_minutes``), one dict per bill.

    "Changed" is ``FModifyDate`` **or** ``FApproveDate`` at/after the cut-off: K/3 Cloud does
    not touch ``FModifyDate`` on Audit, so a bill saved before the last run and audited after it
    would otherwise never be seen. The overlap re-reads bills written around the previous run
    (clock skew, long transactions); the re-reads are harmless because downstream dedupes by
    content hash. ``since=None`` pulls everything. Grouped by FID, so each bill appears once.
    """
    conditions = []
    if since:
        cutoff = _kingdee_datetime(since, "watermark") - dt.timedelta(minutes=overlap_minutes)
        literal = cutoff.replace(microsecond=0).isoformat()
        conditions.append(f"(FModifyDate>='{literal}' or FApproveDate>='{literal}')")
    if audited_only:
        conditions.append("FDocumentStatus='C'")
    rows = hook.execute_bill_query(PO_FORM, PO_HEADER_KEYS + PO_ENTRY_KEYS, " and ".join(conditions),
                                   "FID ASC,FPOOrderEntry_FEntryID ASC")
    return group_bill_rows(rows, PO_HEADER_KEYS, PO_ENTRY)


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
