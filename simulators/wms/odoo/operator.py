"""The warehouse clerk for the Odoo simulator: receives an incoming picking over the real
JSON-RPC wire, the way an Odoo Inventory user (or the Barcode app) would (§1.3).

Counted quantities fill the announced detailed operations (lot, package) in order, the rest of a
material goes to its last line; a lot-tracked material that came without an announced lot gets a
receipt lot ``<picking>-<material>`` (the label a clerk prints); the clerk puts everything into one bin (a location barcode) and
validates. A short receipt answers the backorder wizard with ``process`` (a backorder for the
rest) or ``process_cancel_backorder`` (no backorder), as ``backorder`` says.
"""
from __future__ import annotations

import itertools
from typing import Any, Optional

import requests


class OdooOperatorError(RuntimeError):
    pass


def operate_receiving(base_url: str, database: str, login: str, password: str, picking_name: str,
                      actual_qtys: Optional[dict[str, float]] = None, *, bin_barcode: str = "A-01-01",
                      lots: Optional[dict[str, list[tuple[str, float]]]] = None, backorder: bool = False,
                      timeout: float = 10.0) -> dict[str, Any]:
    """Receive ``picking_name``: ``actual_qtys`` maps material -> counted qty (others as announced);
    ``lots`` replaces what the clerk scans for a material with ``[(lot, qty), ...]`` (scanning a
    lot the ASN did not announce, say). Returns the picking as read after validation. Raises
    ``OdooOperatorError`` on any error answer."""
    ids = itertools.count(1)
    url = base_url.rstrip("/") + "/jsonrpc"

    def rpc(service: str, method: str, *args: Any) -> Any:
        body = {"jsonrpc": "2.0", "method": "call", "id": next(ids),
                "params": {"service": service, "method": method, "args": list(args)}}
        answer = requests.post(url, json=body, timeout=timeout)
        answer.raise_for_status()
        data = answer.json()
        if "error" in data:
            raise OdooOperatorError(f"{method}: {data['error']['data']['name']}: {data['error']['data']['message']}")
        return data["result"]

    uid = rpc("common", "authenticate", database, login, password, {})
    if not uid:
        raise OdooOperatorError("login refused")

    def x(model: str, method: str, args: list[Any], kwargs: Optional[dict[str, Any]] = None) -> Any:
        return rpc("object", "execute_kw", database, uid, password, model, method, args, kwargs or {})

    (picking,) = x("stock.picking", "search_read", [[["name", "=", picking_name]]], {"fields": ["id", "state"]})
    (bin_location,) = x("stock.location", "search", [[["barcode", "=", bin_barcode]]])
    moves = x("stock.move", "search_read", [[["picking_id", "=", picking["id"]]]],
              {"fields": ["id", "product_id", "product_uom_qty", "move_line_ids", "state"]})
    for move in moves:
        if move["state"] == "cancel":
            continue
        (product,) = x("product.product", "read", [[move["product_id"][0]]], {"fields": ["default_code", "tracking"]})
        sku = product["default_code"]
        lines = x("stock.move.line", "read", [move["move_line_ids"]], {"fields": ["id", "quantity", "lot_name"]})
        if lots and sku in lots:
            scans = list(lots[sku])
            for line, (lot, qty) in itertools.zip_longest(lines, scans):
                if line is None:
                    x("stock.move.line", "create", [{"move_id": move["id"], "lot_name": lot, "quantity": qty,
                                                     "location_dest_id": bin_location, "picked": True}])
                elif lot is None:
                    x("stock.move.line", "write", [[line["id"]], {"quantity": 0}])
                else:
                    x("stock.move.line", "write", [[line["id"]], {"lot_name": lot, "quantity": qty,
                                                                  "location_dest_id": bin_location, "picked": True}])
            continue
        remaining = float((actual_qtys or {}).get(sku, move["product_uom_qty"]))
        for n, line in enumerate(lines):
            qty = remaining if n == len(lines) - 1 else min(remaining, line["quantity"])
            remaining -= qty
            values = {"quantity": qty, "location_dest_id": bin_location, "picked": True}
            if product["tracking"] != "none" and not line.get("lot_name"):
                # goods arrived without an announced lot: the clerk labels them with a receipt lot
                values["lot_name"] = f"{picking_name}-{sku}"
            x("stock.move.line", "write", [[line["id"]], values])
    answer = x("stock.picking", "button_validate", [[picking["id"]]])
    if isinstance(answer, dict) and answer.get("res_model") == "stock.backorder.confirmation":
        x("stock.backorder.confirmation", "process" if backorder else "process_cancel_backorder", [[answer["res_id"]]])
    (done,) = x("stock.picking", "read", [[picking["id"]]], {"fields": ["id", "name", "state", "date_done"]})
    return done
