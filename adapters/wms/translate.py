"""Neutral WMS contract (protocols/wms.md §3, ``contract.py``) <-> canonical documents and GreaterWMS rows.

Pure functions on plain dicts; the dialect clients do the I/O and call these. Odoo rows are
translated in ``odoo_translate.py``; what both dialects share (ShipmentNotice -> expected
receipt, receipt -> hub lines, units, batch references) lives here.

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

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Optional

from canonical_model.documents import Source, StockLevel
from hub.errors import FatalError, HubError, SkippableError
from mappings.crosswalk import error_code, load_crosswalk


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


def positive_qty(value: Any, where: str) -> Decimal:
    """A canonical quantity as a finite positive Decimal; SkippableError ``WMS_BAD_QTY`` otherwise."""
    try:
        qty = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise SkippableError("WMS_BAD_QTY", f"quantity {value!r} is not a number", where) from None
    if not qty.is_finite() or qty <= 0:
        raise SkippableError("WMS_BAD_QTY", f"quantity {value} must be a positive number", where)
    return qty


def asn_content(asn: Any) -> dict[str, Any]:
    """A canonical ShipmentNotice (document or its ``content()`` dict) as a plain dict."""
    content = getattr(asn, "content", None)
    return content() if callable(content) else dict(asn)


def expected_receipt_from_asn(asn: Any, dialect: str = "greaterwms") -> dict[str, Any]:
    """Canonical ShipmentNotice -> keyword arguments of ``create_inbound`` for ``dialect``.

    ``greaterwms``: lines of the same material are summed (see module docstring) into whole
    quantities; the summed line keeps the lowest hub ``line_no``; batch, SSCC, PO reference and
    expiry are not sent (GreaterWMS has no field for them). ``odoo``: one line per ShipmentNotice
    line with ``lot`` (batch number), ``package`` (SSCC), ``po_ref``, ``expiry`` and the exact
    decimal quantity. Raises SkippableError naming the ASN and line for records the WMS cannot
    take (missing fields, bad quantity, one material in two units for GreaterWMS).
    """
    if dialect not in ("greaterwms", "odoo"):
        raise FatalError("WMS_DIALECT", f"no expected-receipt translation for dialect {dialect!r}", "wms")
    asn = asn_content(asn)
    asn_no = asn.get("asn_number")
    where = f"ShipmentNotice {asn_no}"
    if not asn_no or not asn.get("supplier_id"):
        raise SkippableError("WMS_ASN_INCOMPLETE", "asn_number and supplier_id are required", where)
    lines = asn.get("lines") or []
    if not lines:
        raise SkippableError("WMS_ASN_INCOMPLETE", "the ShipmentNotice has no lines", where)
    for line in lines:
        if not line.get("material_id") or not line.get("uom") or line.get("line_no") is None:
            raise SkippableError("WMS_ASN_INCOMPLETE", "line_no, material_id and uom are required",
                                 f"{where} line {line.get('line_no')}")
    expected = asn.get("expected_arrival")
    payload = {
        "asn_no": str(asn_no),
        "supplier_code": str(asn["supplier_id"]),
        "expected_date": str(expected) if expected else None,
    }
    if dialect == "odoo":
        from adapters.wms.odoo_translate import exact_float  # Odoo stores floats: refuse what a float changes

        payload["lines"] = [{
            "line_no": int(line["line_no"]), "sku": str(line["material_id"]),
            "qty": _qty_text(exact_float(positive_qty(line.get("quantity"), f"{where} line {line['line_no']}"),
                                         f"{where} line {line['line_no']}")),
            "uom": line["uom"], "lot": line.get("batch_number") or None, "package": line.get("package_id") or None,
            "po_ref": line.get("po_number") or None, "expiry": str(line["expiry_date"]) if line.get("expiry_date") else None,
        } for line in sorted(lines, key=lambda l: int(l["line_no"]))]
        return payload
    merged: dict[str, dict[str, Any]] = {}
    for line in lines:
        line_where = f"{where} line {line.get('line_no')}"
        sku = line["material_id"]
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
    payload["lines"] = sorted(merged.values(), key=lambda l: l["line_no"])
    return payload


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


def receipt_from_greaterwms(asn_no: str | None, asn_row: dict[str, Any], detail_rows: list[dict[str, Any]],
                            bin_rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """GreaterWMS ASN header + lines + bin rows -> neutral receipt, or None before counting.

    Counted (status 4) gives a receipt with ``complete: False``: quantities are final but
    put-away is still running. Status 5 (every line binned or received as 0) is ``complete``.
    ``line_no`` is the WMS line order (by detail id), not the hub line number: GreaterWMS does
    not store ours. ``qty_damaged`` is what was put into Damage bins. GreaterWMS keeps no lots
    or packages: ``lot`` and ``package`` are always None.
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
            "lot": None,
            "package": None,
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
        "supplier": asn_row.get("supplier") or None,
        "received_at": _iso(asn_row.get("update_time")),
        "lines": lines,
        "complete": status >= 5,
        "backorders": [],
    }


def receipt_by_material(receipt: dict[str, Any], asn: Any) -> list[dict[str, Any]]:
    """Map a neutral receipt back onto a canonical ShipmentNotice, one row per material.

    Each row names every hub line (``line_nos`` and their PO references) that shares the
    received quantity. Receipt lines of one material (several lots or bins, as Odoo reports them)
    are summed; ``lots`` lists what was received per lot and bin. A material on the
    ShipmentNotice that the WMS does not report comes back with ``qty_received`` None and
    ``in_receipt`` False, so the caller can raise an alert.
    """
    asn = asn_content(asn)
    received: dict[str, dict[str, Any]] = {}
    for line in receipt.get("lines", []):
        got = received.setdefault(line["sku"], {"qty_received": Decimal(0), "qty_damaged": Decimal(0), "bins": [],
                                                "lots": []})
        got["qty_received"] += Decimal(str(line.get("qty_received") or 0))
        got["qty_damaged"] += Decimal(str(line.get("qty_damaged") or 0))
        for name in line.get("bins") or ([line["bin"]] if line.get("bin") else []):
            if name not in got["bins"]:
                got["bins"].append(name)
        got["lots"].append({"lot": line.get("lot"), "package": line.get("package"),
                            "qty_received": _qty_text(line.get("qty_received")), "bin": line.get("bin")})
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
            "qty_received": _qty_text(got["qty_received"]) if got else None,
            "qty_damaged": _qty_text(got["qty_damaged"]) if got else None,
            "bins": got["bins"] if got else [],
            "lots": got["lots"] if got else [],
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


# -- what both dialects share -----------------------------------------------------------------

#: Odoo's own unit names (``uom/data/uom_data.xml``: ``uom.product_uom_unit`` is "Units", ...) as
#: UN/ECE Rec 20 codes; used only when mappings/crosswalks/units.csv has no ``odoo`` row for the
#: name, so a renamed unit must be added there. INFERRED: the names of a standard Odoo 17 database.
ODOO_STANDARD_UNITS = {"Units": "H87", "Unit(s)": "H87", "Dozens": "DZN", "kg": "KGM", "g": "GRM", "t": "TNE",
                       "m": "MTR", "cm": "CMT", "km": "KMT", "L": "LTR", "m³": "MTQ", "Hours": "HUR", "Days": "DAY"}


def canonical_uom(code: Any, system: str, where: str) -> str:
    """A WMS unit (GreaterWMS ``goods_unit``, Odoo ``uom.uom`` name) as the hub's canonical code."""
    text = str(code or "").strip()
    found = load_crosswalk("units").lookup(text, [system, "wms"]) if text else None
    if found is None and system == "odoo":
        found = ODOO_STANDARD_UNITS.get(text)
    if found is None:
        raise SkippableError(error_code("units"), f"{system} unit {text!r} has no entry in "
                                                  f"mappings/crosswalks/units.csv (source {system}); add it", where)
    return found


def batch_ref(batch: Any) -> tuple[str, str]:
    """``(material_id, lot)`` of a canonical Batch or a mapping: the lot is the supplier's batch
    number (what the ASN announced and the WMS scanned), else the batch id."""
    get = batch.get if isinstance(batch, Mapping) else (lambda key: getattr(batch, key, None))
    material = get("material_id")
    lot = get("supplier_batch_number") or get("batch_number") or get("batch_id")
    if not material or not lot:
        raise SkippableError("WMS_BAD_BATCH", "a batch needs material_id and supplier_batch_number (or batch_id)",
                             f"batch {lot or '?'}")
    return str(material), str(lot)


def stock_levels(items: Iterable[dict[str, Any]], uom_of: Any, system: str,
                 rejects: Optional[list[HubError]] = None) -> list[StockLevel]:
    """Neutral per-bin items (``sku, bin, lot, on_hand, as_of``) -> canonical StockLevel, one per
    material, bin and lot (the bin is the StockLevel's ``warehouse``: the WMS's storage place).

    ``uom_of(sku)`` gives the WMS unit of a material. An item that cannot be translated (unknown
    unit, unparsable quantity) raises its SkippableError, or is appended to ``rejects`` when a list
    is given, so one bad row need not hide the rest of the snapshot.
    """
    totals: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in items:
        where = f"{system} stock {item.get('sku')} {item.get('bin')} {item.get('lot') or ''}".rstrip()
        try:
            uom = canonical_uom(uom_of(item["sku"]), system, where)
            qty = Decimal(str(item.get("on_hand")))
            if not qty.is_finite():
                raise SkippableError("WMS_BAD_QTY", f"on-hand quantity {item.get('on_hand')!r} is not a number", where)
        except (SkippableError, InvalidOperation) as exc:
            error = exc if isinstance(exc, SkippableError) else SkippableError(
                "WMS_BAD_QTY", f"on-hand quantity {item.get('on_hand')!r} is not a number", where)
            if rejects is None:
                raise error from None
            rejects.append(error)
            continue
        key = (str(item["sku"]), str(item.get("bin") or ""), str(item.get("lot") or ""))
        total = totals.setdefault(key, {"qty": Decimal(0), "uom": uom, "as_of": None})
        total["qty"] += qty
        as_of = item.get("as_of")
        if as_of and (total["as_of"] is None or as_of > total["as_of"]):
            total["as_of"] = as_of
    return [StockLevel(material_id=sku, warehouse=bin_name, batch_number=lot, quantity=total["qty"], uom=total["uom"],
                       as_of=dt.datetime.fromisoformat(total["as_of"]) if total["as_of"] else None,
                       source=Source(system="wms", request=f"{system} stock snapshot"))
            for (sku, bin_name, lot), total in sorted(totals.items())]
