"""Neutral WMS contract (protocols/wms.md §3) <-> canonical documents and GreaterWMS rows.

Pure functions on plain dicts; the hook does the I/O and calls these.

Limitation, by design of GreaterWMS: an ASN holds **one line per goods code** and counts,
shortages and bins per goods code. A canonical ShipmentNotice may carry several lines of the
same material (two POs, two batches). ``expected_receipt_from_asn`` sums them into one WMS
line, and a receipt can only be mapped back **per material**, never per original line:
``receipt_by_material`` reports which hub line numbers share each received quantity instead
of inventing a proportional split. Batch numbers, PO references and expiry dates have no place
on a GreaterWMS ASN line and are not sent (the MES keeps them from the ShipmentNotice).
GreaterWMS quantities are integers; a fractional quantity is a skippable record error.
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from hub.errors import SkippableError


def whole_qty(value: Any, where: str) -> int:
    """A canonical decimal quantity as the integer GreaterWMS stores; never rounds silently."""
    try:
        qty = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SkippableError("WMS_BAD_QTY", f"quantity {value!r} is not a number", where) from None
    if not qty.is_finite() or qty != qty.to_integral_value():
        raise SkippableError("WMS_QTY_NOT_INTEGER",
                             f"quantity {value} is not a whole number; GreaterWMS stores integer quantities", where)
    if qty <= 0:
        raise SkippableError("WMS_BAD_QTY", f"quantity {value} must be positive", where)
    return int(qty)


def _qty_text(value: Any) -> str:
    return format(Decimal(str(value or 0)).normalize(), "f")


def expected_receipt_from_asn(asn: dict[str, Any]) -> dict[str, Any]:
    """Canonical ShipmentNotice (as a dict) -> keyword arguments of ``WmsHook.create_inbound``.

    Lines of the same material are summed (see module docstring); the summed line keeps the
    lowest hub ``line_no``. Raises SkippableError naming the ASN and line for records the WMS
    cannot take (missing fields, fractional quantity, one material in two units).
    """
    asn_no = asn.get("asn_number")
    where = f"ShipmentNotice {asn_no}"
    if not asn_no or not asn.get("supplier_id"):
        raise SkippableError("WMS_ASN_INCOMPLETE", "asn_number and supplier_id are required", where)
    lines = asn.get("lines") or []
    if not lines:
        raise SkippableError("WMS_ASN_INCOMPLETE", "the ShipmentNotice has no lines", where)
    merged: dict[str, dict[str, Any]] = {}
    for line in lines:
        line_where = f"{where} line {line.get('line_no')}"
        sku = line.get("material_id")
        if not sku or not line.get("uom") or line.get("line_no") is None:
            raise SkippableError("WMS_ASN_INCOMPLETE", "line_no, material_id and uom are required", line_where)
        qty = whole_qty(line.get("quantity"), line_where)
        seen = merged.get(sku)
        if seen is None:
            merged[sku] = {"line_no": int(line["line_no"]), "sku": sku, "qty": qty, "uom": line["uom"]}
            continue
        if seen["uom"] != line["uom"]:
            raise SkippableError("WMS_UOM_CONFLICT",
                                 f"material {sku} appears in {seen['uom']} and {line['uom']}; "
                                 "GreaterWMS keeps one line per goods code, so they cannot be summed", line_where)
        seen["qty"] += qty
        seen["line_no"] = min(seen["line_no"], int(line["line_no"]))
    expected = asn.get("expected_arrival")
    return {
        "asn_no": str(asn_no),
        "supplier_code": str(asn["supplier_id"]),
        "expected_date": str(expected) if expected else None,
        "lines": sorted(merged.values(), key=lambda l: l["line_no"]),
    }


#: GreaterWMS ASN status numbers (protocols/wms.md §2.3; labels inferred from the endpoint names)
ASN_STATUS_LABELS = {1: "created", 2: "pre-load (shipped)", 3: "pre-sort (arrived)", 4: "counted", 5: "put away"}


def inbound_cancel_refusal(asn_row: dict[str, Any]) -> str | None:
    """Why an expected receipt can no longer be withdrawn, or None while it can.

    GreaterWMS deletes an ASN only at status 1 (``AsnListViewSet.destroy``): once the truck is
    announced, arrived or counted the inbound is the warehouse's, and only a person there can undo it.
    """
    status = int(asn_row.get("asn_status") or 0)
    if status == 1:
        return None
    return f"WMS status {status}, {ASN_STATUS_LABELS.get(status, 'unknown')}"


def _iso(greaterwms_time: str | None) -> str | None:
    # GreaterWMS renders naive server-local time as "YYYY-MM-DD HH:MM:SS"; we keep it naive
    return greaterwms_time.replace(" ", "T", 1) if greaterwms_time else None


def receipt_from_greaterwms(asn_no: str, asn_row: dict[str, Any], detail_rows: list[dict[str, Any]],
                            bin_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """GreaterWMS ASN header + lines + bin rows -> neutral receipt, or None before counting.

    Counted (status 4) gives a receipt with ``complete: False``: quantities are final but
    put-away is still running. Status 5 (every line binned or received as 0) is ``complete``.
    ``line_no`` is the WMS line order (by detail id), not the hub line number: GreaterWMS does
    not store ours. ``qty_damaged`` is what was put into Damage bins.
    """
    status = int(asn_row.get("asn_status") or 0)
    if status < 4:
        return None
    bins_by_tcode: dict[str, list[str]] = {}
    for row in sorted(bin_rows, key=lambda r: r.get("id", 0)):
        names = bins_by_tcode.setdefault(row.get("t_code", ""), [])
        if row.get("bin_name") not in names:
            names.append(row.get("bin_name"))
    lines = []
    for number, row in enumerate(sorted(detail_rows, key=lambda r: r.get("id", 0)), start=1):
        bins = bins_by_tcode.get(row.get("t_code", ""), []) if row.get("t_code") else []
        lines.append({
            "line_no": number,
            "sku": row["goods_code"],
            "qty_expected": _qty_text(row.get("goods_qty")),
            "qty_received": _qty_text(row.get("goods_actual_qty")),
            "qty_damaged": _qty_text(row.get("goods_damage_qty")),
            "qty_shortage": _qty_text(row.get("goods_shortage_qty")),
            "qty_over": _qty_text(row.get("goods_more_qty")),
            # the contract has one bin; a line split over bins names the first, all are in ``bins``
            "bin": bins[0] if bins else None,
            "bins": bins,
        })
    return {
        "asn_no": asn_no,
        "wms_id": asn_row["id"],
        "asn_code": asn_row["asn_code"],
        "received_at": _iso(asn_row.get("update_time")),
        "lines": lines,
        "complete": status >= 5,
    }


def receipt_by_material(receipt: dict[str, Any], asn: dict[str, Any]) -> list[dict[str, Any]]:
    """Map a neutral receipt back onto a canonical ShipmentNotice, one row per material.

    Each row names every hub line (``line_nos`` and their PO references) that shares the
    received quantity. A material on the ShipmentNotice that the WMS does not report comes back
    with ``qty_received`` None and ``in_receipt`` False, so the caller can raise an alert.
    """
    received = {line["sku"]: line for line in receipt.get("lines", [])}
    rows: dict[str, dict[str, Any]] = {}
    for line in asn.get("lines") or []:
        sku = line["material_id"]
        row = rows.setdefault(sku, {"material_id": sku, "uom": line.get("uom"), "line_nos": [], "po_refs": [],
                                    "qty_expected": Decimal(0)})
        row["line_nos"].append(int(line["line_no"]))
        if line.get("po_number"):
            row["po_refs"].append({"po_number": line["po_number"], "po_line_no": line.get("po_line_no")})
        row["qty_expected"] += Decimal(str(line["quantity"]))
    result = []
    for sku, row in rows.items():
        got = received.get(sku)
        result.append({
            **row,
            "qty_expected": _qty_text(row["qty_expected"]),
            "qty_received": got["qty_received"] if got else None,
            "qty_damaged": got["qty_damaged"] if got else None,
            "bins": got.get("bins", []) if got else [],
            "in_receipt": got is not None,
        })
    return result


def stock_item_from_greaterwms(row: dict[str, Any], as_of: str | None = None) -> dict[str, Any]:
    """``/stock/list/`` row -> neutral inventory item (per SKU; GreaterWMS has no lots here)."""
    return {
        "sku": row["goods_code"],
        "bin": None,
        "lot": None,
        "on_hand": _qty_text(row.get("onhand_stock")),
        "available": _qty_text(row.get("can_order_stock")),
        "reserved": _qty_text(row.get("ordered_stock")),
        "inspection": _qty_text(row.get("inspect_stock")),
        "hold": _qty_text(row.get("hold_stock")),
        "damaged": _qty_text(row.get("damage_stock")),
        "inbound": _qty_text((row.get("asn_stock") or 0) + (row.get("pre_load_stock") or 0)
                             + (row.get("pre_sort_stock") or 0) + (row.get("sorted_stock") or 0)),
        "as_of": _iso(as_of or row.get("update_time")),
    }
