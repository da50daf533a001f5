"""Odoo stock records (protocols/wms.md §1) <-> the neutral WMS contract; pure functions.

Odoo conventions used here:
* many2one values read as ``[id, display_name]`` or ``false``; one2many are id lists.
* datetimes are naive UTC strings ``YYYY-MM-DD HH:MM:SS`` (Odoo stores datetimes in UTC);
  the neutral contract gets ISO 8601 with ``+00:00``.
* quantities are floats. A canonical Decimal that a float would change (too many digits) is
  refused with ``WMS_BAD_QTY`` instead of being rounded on the way.
* one ``stock.move`` per material and unit in a picking (Odoo merges moves of the same product
  when it confirms a picking), with one ``stock.move.line`` per announced lot and package: the
  lot travels as ``lot_name`` (Odoo creates the ``stock.lot`` when the receipt is validated),
  the package (SSCC) as ``result_package_id``. INFERRED: pre-filling the detailed operations of
  a receipt from the ASN; Odoo's own flows let the receiving clerk type them.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable, Optional

from adapters.wms.translate import _qty_text, positive_qty
from hub.errors import SkippableError

#: state labels of stock.picking (§1.2)
PICKING_STATES = ("draft", "waiting", "confirmed", "assigned", "done", "cancel")


def exact_float(qty: Decimal, where: str) -> Decimal:
    """``qty`` unchanged if a float (Odoo's storage) holds it exactly enough to give it back."""
    if Decimal(repr(float(qty))) != qty:
        raise SkippableError("WMS_BAD_QTY", f"quantity {_qty_text(qty)} has more digits than Odoo's float "
                                            "quantities keep; it would be stored rounded", where)
    return qty


def odoo_number(qty: Any) -> float | int:
    """A decimal quantity as the JSON number Odoo takes (an int when whole, for readable payloads)."""
    value = Decimal(str(qty))
    return int(value) if value == value.to_integral_value() and abs(value) < 2 ** 53 else float(value)


def m2o_id(value: Any) -> Optional[int]:
    return value[0] if isinstance(value, list) and value else (value if isinstance(value, int) and value else None)


def m2o_name(value: Any) -> Optional[str]:
    return value[1] if isinstance(value, list) and len(value) > 1 else None


def odoo_datetime(value: Any, default_time: str = "00:00:00") -> Optional[str]:
    """An ISO date or datetime as Odoo's naive UTC ``YYYY-MM-DD HH:MM:SS``."""
    if not value:
        return None
    text = str(value)
    if len(text) == 10:
        dt.date.fromisoformat(text)
        return f"{text} {default_time}"
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def iso_from_odoo(value: Any) -> Optional[str]:
    """Odoo's naive UTC datetime string as ISO 8601 with an explicit UTC offset."""
    if not value:
        return None
    return dt.datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc).isoformat()


def move_groups(lines: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    """Neutral expected-receipt lines -> one group per (sku, uom): the future ``stock.move`` with
    its ``stock.move.line`` per (lot, package). Raises SkippableError for bad quantities."""
    if not lines:
        raise SkippableError("WMS_ASN_INCOMPLETE", "no lines to send", where)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for line in lines:
        line_where = f"{where} line {line.get('line_no')}"
        if not line.get("sku") or not line.get("uom"):
            raise SkippableError("WMS_ASN_INCOMPLETE", "sku and uom are required", line_where)
        qty = exact_float(positive_qty(line.get("qty"), line_where), line_where)
        key = (str(line["sku"]), str(line["uom"]))
        group = groups.setdefault(key, {"sku": key[0], "uom": key[1], "qty": Decimal(0), "line_nos": [],
                                        "details": {}})
        group["qty"] += qty
        group["line_nos"].append(line.get("line_no"))
        detail_key = (line.get("lot") or None, line.get("package") or None)
        group["details"][detail_key] = group["details"].get(detail_key, Decimal(0)) + qty
    result = []
    for group in groups.values():
        group["details"] = [{"lot": lot, "package": package, "qty": qty}
                            for (lot, package), qty in group["details"].items()]
        result.append(group)
    if len({g["sku"] for g in result}) != len(result):
        sku = next(g["sku"] for g in result if sum(1 for o in result if o["sku"] == g["sku"]) > 1)
        raise SkippableError("WMS_UOM_CONFLICT", f"material {sku} is announced in two units; Odoo moves one "
                                                 "product in its own unit", where)
    return result


def picking_vals(asn_no: str, expected_date: Optional[str], partner_id: int, picking_type: dict[str, Any],
                 source_location: int, dest_location: int, groups: list[dict[str, Any]],
                 products: dict[str, dict[str, Any]], packages: dict[str, int]) -> dict[str, Any]:
    """``stock.picking`` create values for an incoming picking (§1.2) with nested moves and lines."""
    moves = []
    for group in groups:
        product = products[group["sku"]]
        uom_id = m2o_id(product["uom_id"])
        move_lines = []
        for detail in group["details"]:
            if not detail["lot"] and not detail["package"]:
                continue  # nothing announced beyond the quantity: Odoo makes the line itself
            values = {"product_id": product["id"], "product_uom_id": uom_id, "location_id": source_location,
                      "location_dest_id": dest_location, "quantity": odoo_number(detail["qty"])}
            if detail["lot"] and product.get("tracking") in ("lot", "serial"):
                values["lot_name"] = detail["lot"]
            if detail["package"]:
                values["result_package_id"] = packages[detail["package"]]
            move_lines.append([0, 0, values])
        move = {"name": group["sku"], "product_id": product["id"], "product_uom_qty": odoo_number(group["qty"]),
                "product_uom": uom_id, "location_id": source_location, "location_dest_id": dest_location}
        if move_lines:
            move["move_line_ids"] = move_lines
        moves.append([0, 0, move])
    vals = {"picking_type_id": picking_type["id"], "partner_id": partner_id, "location_id": source_location,
            "location_dest_id": dest_location, "origin": asn_no, "move_ids": moves}
    scheduled = odoo_datetime(expected_date)
    if scheduled:
        vals["scheduled_date"] = scheduled
    return vals


def demand_by_sku(moves: Iterable[dict[str, Any]], sku_of: dict[int, str]) -> dict[str, str]:
    """What an existing picking announces per material (``product_uom_qty`` of its live moves)."""
    totals: dict[str, Decimal] = {}
    for move in moves:
        if move.get("state") == "cancel":
            continue
        sku = sku_of.get(m2o_id(move.get("product_id")) or 0, f"product {m2o_id(move.get('product_id'))}")
        totals[sku] = totals.get(sku, Decimal(0)) + Decimal(str(move.get("product_uom_qty") or 0))
    return {sku: _qty_text(qty) for sku, qty in sorted(totals.items())}


def location_code(location: dict[str, Any]) -> str:
    """What the hub calls a location: its barcode (the bin label scanned in the warehouse), else
    its full name. INFERRED: that sites label bins with location barcodes, as Odoo Barcode does."""
    return str(location.get("barcode") or location.get("complete_name") or location.get("name"))


def receipt_from_odoo(asn_no: Optional[str], picking: dict[str, Any], move_lines: list[dict[str, Any]],
                      sku_of: dict[int, str], location_codes: dict[int, str], supplier: Optional[str],
                      backorders: list[str]) -> Optional[dict[str, Any]]:
    """A validated incoming picking -> neutral receipt (one line per material, lot, package and
    location), or None before it is done. Odoo keeps no per-lot expectation once counted, so
    ``qty_expected`` / ``qty_shortage`` / ``qty_over`` are None: compare with the ASN instead
    (``discrepancies.py``)."""
    if picking.get("state") != "done":
        return None
    totals: dict[tuple[str, Optional[str], Optional[str], Optional[str]], Decimal] = {}
    for line in sorted(move_lines, key=lambda l: l.get("id", 0)):
        qty = Decimal(str(line.get("quantity") or 0))
        if qty == 0:
            continue
        product = m2o_id(line.get("product_id")) or 0
        sku = sku_of.get(product, f"product {product}")
        lot = m2o_name(line.get("lot_id")) or line.get("lot_name") or None
        package = m2o_name(line.get("result_package_id")) or None
        where = location_codes.get(m2o_id(line.get("location_dest_id")) or 0) or m2o_name(line.get("location_dest_id"))
        key = (sku, lot, package, where)
        totals[key] = totals.get(key, Decimal(0)) + qty
    lines = []
    for number, ((sku, lot, package, bin_code), qty) in enumerate(totals.items(), start=1):
        lines.append({"line_no": number, "sku": sku, "lot": lot, "package": package, "qty_expected": None,
                      "qty_received": _qty_text(qty), "qty_damaged": "0", "qty_shortage": None, "qty_over": None,
                      "bin": bin_code, "bins": [bin_code] if bin_code else []})
    return {
        "asn_no": asn_no,
        "wms_id": picking["id"],
        "asn_code": picking["name"],
        "supplier": supplier,
        "received_at": iso_from_odoo(picking.get("date_done")),
        "lines": lines,
        "complete": True,
        "backorders": backorders,
    }


def inventory_items(quants: Iterable[dict[str, Any]], sku_of: dict[int, str], location_codes: dict[int, str],
                    quarantine_ids: set[int]) -> list[dict[str, Any]]:
    """``stock.quant`` rows -> neutral inventory items (per product, location, lot; packages summed)."""
    totals: dict[tuple[str, str, Optional[str]], dict[str, Any]] = {}
    for quant in quants:
        product = m2o_id(quant.get("product_id")) or 0
        location = m2o_id(quant.get("location_id")) or 0
        key = (sku_of.get(product, f"product {product}"),
               location_codes.get(location) or m2o_name(quant.get("location_id")) or str(location),
               m2o_name(quant.get("lot_id")))
        total = totals.setdefault(key, {"on_hand": Decimal(0), "reserved": Decimal(0), "as_of": None,
                                        "quarantine": location in quarantine_ids})
        total["on_hand"] += Decimal(str(quant.get("quantity") or 0))
        total["reserved"] += Decimal(str(quant.get("reserved_quantity") or 0))
        stamp = iso_from_odoo(quant.get("write_date"))
        if stamp and (total["as_of"] is None or stamp > total["as_of"]):
            total["as_of"] = stamp
    items = []
    for (sku, bin_code, lot), total in sorted(totals.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        held = total["on_hand"] if total["quarantine"] else Decimal(0)
        items.append({
            "sku": sku, "bin": bin_code, "lot": lot,
            "on_hand": _qty_text(total["on_hand"]),
            "available": _qty_text(total["on_hand"] - total["reserved"] - held if not total["quarantine"] else 0),
            "reserved": _qty_text(total["reserved"]),
            "inspection": _qty_text(held), "hold": "0", "damaged": "0", "inbound": "0",
            "as_of": total["as_of"],
        })
    return items
