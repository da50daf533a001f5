"""Odoo 17 ``stock`` models and their business methods, as far as the hub uses them (protocols/wms.md §1).

Models: ``res.partner``, ``uom.uom``, ``product.product``, ``stock.location``, ``stock.picking.type``,
``stock.picking``, ``stock.move``, ``stock.move.line``, ``stock.lot``, ``stock.quant``,
``stock.quant.package``, ``stock.backorder.confirmation``.

Picking state machine: ``draft`` --action_confirm--> ``assigned`` (a receipt from a supplier
location needs no reservation; an internal transfer is ``confirmed`` until ``action_assign``
reserves quants) --button_validate--> ``done``; ``action_cancel`` -> ``cancel`` until done.

``button_validate`` (§1.3) follows Odoo 17: only move lines with a quantity count (only the
``picked`` ones once any line of the picking is picked); no quantity at all is a ValidationError;
a lot-tracked product needs ``lot_id`` or ``lot_name`` on each line; a move received short returns
the ``stock.backorder.confirmation`` wizard action unless the context has ``skip_backorder``
(then a backorder is made unless the picking is in ``picking_ids_not_to_backorder``); the wizard's
``process`` makes the backorder, ``process_cancel_backorder`` closes without one. Validation
creates missing lots from ``lot_name``, moves quants (creating, adding, subtracting; Odoo allows
negative quants) and stamps ``date_done``. INFERRED beyond the notes: error texts other than the
"no quantities" one, the lot-name reuse of an existing lot, the split of a short move into a done
and a cancelled move when no backorder is wanted, and "already done" refusals.
"""
from __future__ import annotations

from typing import Any, Callable

from simulators.wms.odoo.orm import (
    Database,
    Field,
    PyTypeError,
    UserError,
    ValidationError,
    now_text,
)

PICKING_STATES = ("draft", "waiting", "confirmed", "assigned", "done", "cancel")


def _m2o(db: Database, model: str, record_id: Any) -> dict[str, Any] | None:
    return db.tables[model].get(record_id) if record_id else None


def _complete_name(db: Database, location: dict[str, Any]) -> str:
    parent = _m2o(db, "stock.location", location.get("location_id"))
    return f"{_complete_name(db, parent)}/{location['name']}" if parent else str(location["name"])


def _picking_name(db: Database, picking: dict[str, Any]) -> str:
    kind = _m2o(db, "stock.picking.type", picking.get("picking_type_id"))
    if not kind:
        return "/"
    counters = db.__dict__.setdefault("sequences", {})
    counters[kind["id"]] = counters.get(kind["id"], 0) + 1
    return f"{kind.get('warehouse_code') or 'WH'}/{kind['sequence_code']}/{counters[kind['id']]:05d}"


def _move_of(db: Database, line: dict[str, Any]) -> dict[str, Any] | None:
    return _m2o(db, "stock.move", line.get("move_id"))


def _lines_of_move(db: Database, move_id: int) -> list[dict[str, Any]]:
    return sorted((l for l in db.tables["stock.move.line"].values() if l.get("move_id") == move_id),
                  key=lambda l: l["id"])


def _moves_of(db: Database, picking_id: int) -> list[dict[str, Any]]:
    return sorted((m for m in db.tables["stock.move"].values() if m.get("picking_id") == picking_id),
                  key=lambda m: m["id"])


def schema() -> tuple[dict[str, dict[str, Field]], dict[str, str]]:
    sel_state = PICKING_STATES
    models = {
        "res.partner": {
            "name": Field("char", required=True),
            "ref": Field("char"),
            "active": Field("bool", default=True),
            "display_name": Field("char", compute=lambda db, r: r.get("name") or ""),
        },
        "uom.uom": {"name": Field("char", required=True)},
        "product.product": {
            "name": Field("char", required=True),
            "default_code": Field("char"),
            "uom_id": Field("m2o", "uom.uom", required=True),
            "tracking": Field("selection", selection=("none", "lot", "serial"), default="none"),
            "display_name": Field("char", compute=lambda db, r: f"[{r['default_code']}] {r['name']}"
                                  if r.get("default_code") else r["name"]),
        },
        "stock.location": {
            "name": Field("char", required=True),
            "location_id": Field("m2o", "stock.location"),
            "usage": Field("selection", selection=("supplier", "view", "internal", "customer", "inventory",
                                                   "production", "transit"), default="internal"),
            "barcode": Field("char"),
            "complete_name": Field("char", compute=_complete_name),
            "display_name": Field("char", compute=_complete_name),
        },
        "stock.picking.type": {
            "name": Field("char", required=True),
            "code": Field("selection", selection=("incoming", "outgoing", "internal"), required=True),
            "sequence_code": Field("char", required=True),
            "warehouse_code": Field("char"),  # stands for warehouse_id.code in the sequence prefix
            "default_location_src_id": Field("m2o", "stock.location"),
            "default_location_dest_id": Field("m2o", "stock.location"),
        },
        "stock.picking": {
            "name": Field("char", default=_picking_name),
            "origin": Field("char"),
            "partner_id": Field("m2o", "res.partner"),
            "picking_type_id": Field("m2o", "stock.picking.type", required=True),
            "picking_type_code": Field("selection", compute=lambda db, r: (
                _m2o(db, "stock.picking.type", r.get("picking_type_id")) or {}).get("code") or False),
            "location_id": Field("m2o", "stock.location", required=True),
            "location_dest_id": Field("m2o", "stock.location", required=True),
            "scheduled_date": Field("datetime", default=lambda db, r: now_text()),
            "date_done": Field("datetime"),
            "state": Field("selection", selection=sel_state, default="draft"),
            "move_ids": Field("o2m", "stock.move", inverse="picking_id"),
            "move_line_ids": Field("o2m", "stock.move.line", inverse="picking_id"),
            "backorder_id": Field("m2o", "stock.picking"),
        },
        "stock.move": {
            "name": Field("char", required=True),
            "picking_id": Field("m2o", "stock.picking"),
            "product_id": Field("m2o", "product.product", required=True),
            "product_uom_qty": Field("float", required=True),
            "product_uom": Field("m2o", "uom.uom", required=True),
            "quantity": Field("float", compute=lambda db, r: sum(l.get("quantity") or 0
                                                                 for l in _lines_of_move(db, r["id"]))),
            "picked": Field("bool", default=False),
            "location_id": Field("m2o", "stock.location", required=True),
            "location_dest_id": Field("m2o", "stock.location", required=True),
            "state": Field("selection", selection=sel_state, default="draft"),
            "move_line_ids": Field("o2m", "stock.move.line", inverse="move_id"),
        },
        "stock.move.line": {
            "move_id": Field("m2o", "stock.move"),
            "picking_id": Field("m2o", "stock.picking",
                                default=lambda db, r: (_move_of(db, r) or {}).get("picking_id") or False),
            "product_id": Field("m2o", "product.product", required=True,
                                default=lambda db, r: (_move_of(db, r) or {}).get("product_id") or False),
            "product_uom_id": Field("m2o", "uom.uom", required=True, default=lambda db, r: (
                _m2o(db, "product.product", r.get("product_id")) or {}).get("uom_id") or False),
            "lot_id": Field("m2o", "stock.lot"),
            "lot_name": Field("char"),
            "quantity": Field("float", default=0),
            "picked": Field("bool", default=False),
            "location_id": Field("m2o", "stock.location", required=True,
                                 default=lambda db, r: (_move_of(db, r) or {}).get("location_id") or False),
            "location_dest_id": Field("m2o", "stock.location", required=True,
                                      default=lambda db, r: (_move_of(db, r) or {}).get("location_dest_id") or False),
            "package_id": Field("m2o", "stock.quant.package"),
            "result_package_id": Field("m2o", "stock.quant.package"),
        },
        "stock.lot": {
            "name": Field("char", required=True),
            "product_id": Field("m2o", "product.product", required=True),
        },
        "stock.quant": {
            "product_id": Field("m2o", "product.product", required=True),
            "location_id": Field("m2o", "stock.location", required=True),
            "lot_id": Field("m2o", "stock.lot"),
            "package_id": Field("m2o", "stock.quant.package"),
            "quantity": Field("float"),
            "reserved_quantity": Field("float"),
            "product_uom_id": Field("m2o", "uom.uom", compute=lambda db, r: (
                _m2o(db, "product.product", r.get("product_id")) or {}).get("uom_id") or False),
        },
        "stock.quant.package": {"name": Field("char", required=True)},
        "stock.backorder.confirmation": {"pick_ids": Field("m2m", "stock.picking")},
    }
    descriptions = {"stock.picking": "Transfer", "stock.move": "Stock Move", "stock.move.line": "Product Moves "
                    "(Stock Move Line)", "stock.quant": "Quants", "stock.lot": "Lot/Serial", "res.partner": "Contact",
                    "product.product": "Product Variant", "stock.location": "Inventory Locations",
                    "stock.quant.package": "Packages", "stock.picking.type": "Picking Type", "uom.uom": "Product UoM"}
    return models, descriptions


def _lot_unique(db: Database, lot: dict[str, Any]) -> None:
    for other in db.tables["stock.lot"].values():
        if other["id"] != lot["id"] and other["name"] == lot["name"] and other["product_id"] == lot["product_id"]:
            del db.tables["stock.lot"][lot["id"]]
            raise ValidationError("The combination of serial number and product must be unique across a company.\n"
                                  f"Following combination contains duplicates:\n - Product: "
                                  f"{db.display_name('product.product', db.tables['product.product'][lot['product_id']])}"
                                  f", Serial Number: {lot['name']}")


def new_database(name: str) -> Database:
    models, descriptions = schema()
    db = Database(name, models, descriptions)
    db.on_create["stock.lot"] = _lot_unique
    return db


# -- business methods (called as ``fn(db, args, kwargs)``) ------------------------------------


def _ids(args: list[Any]) -> list[int]:
    if not args:
        raise PyTypeError("missing 1 required positional argument: 'ids'")
    ids = args[0] if isinstance(args[0], list) else [args[0]]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise PyTypeError(f"ids must be integers, got {args[0]!r}")
    return ids


def _context(kwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(kwargs) - {"context"})
    if unknown:
        raise PyTypeError(f"got an unexpected keyword argument '{unknown[0]}'")
    return kwargs.get("context") or {}


def _refresh_picking_state(db: Database, picking: dict[str, Any]) -> None:
    states = [m["state"] for m in _moves_of(db, picking["id"])]
    live = [s for s in states if s != "cancel"]
    if not states:
        return
    if not live:
        picking["state"] = "cancel"
    elif all(s == "done" for s in live):
        picking["state"] = "done"
    elif all(s == "draft" for s in live):
        picking["state"] = "draft"
    elif all(s in ("assigned", "done") for s in live):
        picking["state"] = "assigned"
    else:
        picking["state"] = "confirmed"


def _bypasses_reservation(db: Database, move: dict[str, Any]) -> bool:
    source = _m2o(db, "stock.location", move["location_id"]) or {}
    return source.get("usage") in ("supplier", "inventory", "production")


def _reserve(db: Database, move: dict[str, Any]) -> None:
    """Fill a move's missing quantity with move lines: from a supplier location at once (Odoo
    bypasses reservation there, so a receipt is ``assigned`` on confirmation), else taken from the
    source location's quants."""
    missing = move["product_uom_qty"] - sum(l["quantity"] for l in _lines_of_move(db, move["id"]))
    if missing > 0 and _bypasses_reservation(db, move):
        db.create("stock.move.line", {"move_id": move["id"], "quantity": missing})
        missing = 0
    if missing > 0:
        for quant in sorted(db.tables["stock.quant"].values(), key=lambda q: q["id"]):
            if missing <= 0:
                break
            if quant["product_id"] != move["product_id"] or quant["quantity"] <= 0 or \
                    not db._descends("stock.location", quant["location_id"], {move["location_id"]}):
                continue
            take = min(missing, quant["quantity"])
            db.create("stock.move.line", {"move_id": move["id"], "quantity": take, "lot_id": quant["lot_id"],
                                          "location_id": quant["location_id"], "package_id": quant["package_id"],
                                          "result_package_id": quant["package_id"]})
            missing -= take
    move["state"] = "assigned" if missing <= 0 else "confirmed"


def action_confirm(db: Database, args: list[Any], kwargs: dict[str, Any]) -> bool:
    _context(kwargs)
    for picking in (db.get("stock.picking", i) for i in _ids(args)):
        for move in _moves_of(db, picking["id"]):
            if move["state"] == "draft":
                _reserve(db, move)
        _refresh_picking_state(db, picking)
    return True


def action_assign(db: Database, args: list[Any], kwargs: dict[str, Any]) -> bool:
    _context(kwargs)
    for picking in (db.get("stock.picking", i) for i in _ids(args)):
        if picking["state"] == "draft":
            action_confirm(db, [[picking["id"]]], {})
        for move in _moves_of(db, picking["id"]):
            if move["state"] in ("confirmed", "waiting"):
                _reserve(db, move)
        _refresh_picking_state(db, picking)
    return True


def action_cancel(db: Database, args: list[Any], kwargs: dict[str, Any]) -> bool:
    _context(kwargs)
    pickings = [db.get("stock.picking", i) for i in _ids(args)]
    for picking in pickings:
        if picking["state"] == "done":
            raise UserError("You cannot cancel a stock move that has been set to 'Done'. Create a return in order "
                            "to reverse the moves which took place.")
    for picking in pickings:
        for move in _moves_of(db, picking["id"]):
            move["state"] = "cancel"
        picking["state"] = "cancel"
        picking["write_date"] = now_text()
    return True


def _counted_lines(db: Database, picking: dict[str, Any]) -> list[dict[str, Any]]:
    lines = [l for m in _moves_of(db, picking["id"]) if m["state"] != "cancel" for l in _lines_of_move(db, m["id"])]
    moves_picked = any(m.get("picked") for m in _moves_of(db, picking["id"]))
    if moves_picked or any(l.get("picked") for l in lines):
        lines = [l for l in lines if l.get("picked") or (_move_of(db, l) or {}).get("picked")]
    return [l for l in lines if (l.get("quantity") or 0) > 0]


def button_validate(db: Database, args: list[Any], kwargs: dict[str, Any]) -> Any:
    context = _context(kwargs)
    pickings = [db.get("stock.picking", i) for i in _ids(args)]
    for picking in pickings:
        if picking["state"] in ("done", "cancel"):
            raise UserError(f"{picking['name']}: this transfer is already {picking['state']}.")
        if picking["state"] == "draft":
            action_confirm(db, [[picking["id"]]], {})
        counted = _counted_lines(db, picking)
        if not counted:
            raise ValidationError("You cannot validate a transfer if no quantities are reserved nor done.")
        for line in counted:
            product = db.tables["product.product"][line["product_id"]]
            if product["tracking"] != "none" and not line.get("lot_id") and not line.get("lot_name"):
                raise UserError(f"You need to supply a Lot/Serial number for product:\n- "
                                f"{db.display_name('product.product', product)}")
    short = [p for p in pickings if _is_short(db, p)]
    if short and not context.get("skip_backorder"):
        wizard = db.create("stock.backorder.confirmation", {"pick_ids": [p["id"] for p in short]})
        for picking in pickings:
            if picking not in short:
                _action_done(db, picking, backorder=False)
        return {"name": "Create Backorder?", "type": "ir.actions.act_window", "view_mode": "form",
                "res_model": "stock.backorder.confirmation", "res_id": wizard, "views": [[False, "form"]],
                "target": "new", "context": {"button_validate_picking_ids": [p["id"] for p in pickings]}}
    no_backorder = set(context.get("picking_ids_not_to_backorder") or [])
    for picking in pickings:
        _action_done(db, picking, backorder=picking["id"] not in no_backorder)
    return True


def _done_qty(db: Database, move: dict[str, Any], counted_ids: set[int]) -> float:
    return sum(l["quantity"] for l in _lines_of_move(db, move["id"]) if l["id"] in counted_ids)


def _is_short(db: Database, picking: dict[str, Any]) -> bool:
    counted = {l["id"] for l in _counted_lines(db, picking)}
    return any(_done_qty(db, m, counted) < m["product_uom_qty"] for m in _moves_of(db, picking["id"])
               if m["state"] != "cancel")


def _quant(db: Database, product: int, location: int, lot: Any, package: Any) -> dict[str, Any]:
    for quant in db.tables["stock.quant"].values():
        if (quant["product_id"], quant["location_id"], quant["lot_id"] or False, quant["package_id"] or False) == \
                (product, location, lot or False, package or False):
            return quant
    quant_id = db.create("stock.quant", {"product_id": product, "location_id": location, "lot_id": lot or False,
                                         "package_id": package or False, "quantity": 0.0})
    return db.tables["stock.quant"][quant_id]


def _usage(db: Database, location_id: int) -> str:
    return (db.tables["stock.location"].get(location_id) or {}).get("usage", "")


def _action_done(db: Database, picking: dict[str, Any], backorder: bool) -> None:
    counted = {l["id"]: l for l in _counted_lines(db, picking)}
    stamp = now_text()
    remainders: list[tuple[dict[str, Any], float]] = []
    for move in _moves_of(db, picking["id"]):
        if move["state"] == "cancel":
            continue
        for line in _lines_of_move(db, move["id"]):
            if line["id"] not in counted:
                db.unlink("stock.move.line", [line["id"]])  # Odoo drops uncounted detailed operations
                continue
            product = db.tables["product.product"][line["product_id"]]
            if product["tracking"] != "none" and not line.get("lot_id"):
                existing = [lot for lot in db.tables["stock.lot"].values()
                            if lot["name"] == line["lot_name"] and lot["product_id"] == line["product_id"]]
                line["lot_id"] = existing[0]["id"] if existing else db.create(
                    "stock.lot", {"name": line["lot_name"], "product_id": line["product_id"]})
            qty = line["quantity"]
            if _usage(db, line["location_id"]) == "internal":
                source = _quant(db, line["product_id"], line["location_id"], line.get("lot_id"), line.get("package_id"))
                source["quantity"] -= qty
                source["write_date"] = stamp
            if _usage(db, line["location_dest_id"]) == "internal":
                dest = _quant(db, line["product_id"], line["location_dest_id"], line.get("lot_id"),
                              line.get("result_package_id"))
                dest["quantity"] += qty
                dest["write_date"] = stamp
            line["picked"] = True
        done = sum(l["quantity"] for l in _lines_of_move(db, move["id"]))
        if done < move["product_uom_qty"]:
            remainders.append((move, move["product_uom_qty"] - done))
            move["product_uom_qty"] = done
        move["state"] = "done"
        move["picked"] = True
    for quant_id in [q["id"] for q in db.tables["stock.quant"].values() if q["quantity"] == 0]:
        del db.tables["stock.quant"][quant_id]  # Odoo's quant cleanup (_quant_tasks)
    if remainders and backorder:
        back = db.create("stock.picking", {
            "picking_type_id": picking["picking_type_id"], "partner_id": picking["partner_id"],
            "location_id": picking["location_id"], "location_dest_id": picking["location_dest_id"],
            "origin": picking["origin"], "scheduled_date": picking["scheduled_date"], "backorder_id": picking["id"]})
        for move, rest in remainders:
            db.create("stock.move", {"name": move["name"], "picking_id": back, "product_id": move["product_id"],
                                     "product_uom_qty": rest, "product_uom": move["product_uom"],
                                     "location_id": move["location_id"], "location_dest_id": move["location_dest_id"]})
        action_confirm(db, [[back]], {})
    else:
        for move, rest in remainders:
            db.create("stock.move", {"name": move["name"], "picking_id": picking["id"], "product_id": move["product_id"],
                                     "product_uom_qty": rest, "product_uom": move["product_uom"], "state": "cancel",
                                     "location_id": move["location_id"], "location_dest_id": move["location_dest_id"]})
    picking["state"] = "done"
    picking["date_done"] = stamp
    picking["write_date"] = stamp


def _wizard_pickings(db: Database, args: list[Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    _context(kwargs)
    pickings = []
    for wizard in (db.get("stock.backorder.confirmation", i) for i in _ids(args)):
        pickings.extend(db.get("stock.picking", p) for p in wizard["pick_ids"])
    for picking in pickings:
        if picking["state"] in ("done", "cancel"):
            raise UserError(f"{picking['name']}: this transfer is already {picking['state']}.")
    return pickings


def backorder_process(db: Database, args: list[Any], kwargs: dict[str, Any]) -> bool:
    for picking in _wizard_pickings(db, args, kwargs):
        _action_done(db, picking, backorder=True)
    return True


def backorder_process_cancel(db: Database, args: list[Any], kwargs: dict[str, Any]) -> bool:
    for picking in _wizard_pickings(db, args, kwargs):
        _action_done(db, picking, backorder=False)
    return True


def move_write(db: Database, args: list[Any], kwargs: dict[str, Any]) -> bool:
    """``stock.move`` ``write``: ``quantity`` is computed from the move lines with an inverse
    (Odoo 17): one line takes the quantity, none gets one, several are refused (INFERRED)."""
    _context(kwargs)
    ids = _ids(args)
    vals = dict(args[1]) if len(args) > 1 and isinstance(args[1], dict) else None
    if vals is None:
        raise PyTypeError("write() missing 1 required positional argument: 'vals'")
    quantity = vals.pop("quantity", None)
    db.write("stock.move", ids, vals)
    if quantity is not None:
        for move in (db.get("stock.move", i) for i in ids):
            lines = _lines_of_move(db, move["id"])
            if len(lines) > 1:
                raise UserError(f"{move['name']}: the quantity is spread over several detailed operations; set it "
                                "on the move lines.")
            if lines:
                db.write("stock.move.line", [lines[0]["id"]], {"quantity": quantity})
            else:
                db.create("stock.move.line", {"move_id": move["id"], "quantity": quantity})
    return True


def _restricted(db: Database, args: list[Any], kwargs: dict[str, Any]) -> Any:
    raise UserError("Quant's creation is restricted, you can't do this operation.")


#: (model, method) -> implementation; everything else goes to the generic ORM methods
METHODS: dict[tuple[str, str], Callable[[Database, list[Any], dict[str, Any]], Any]] = {
    ("stock.picking", "action_confirm"): action_confirm,
    ("stock.picking", "action_assign"): action_assign,
    ("stock.picking", "action_cancel"): action_cancel,
    ("stock.picking", "button_validate"): button_validate,
    ("stock.backorder.confirmation", "process"): backorder_process,
    ("stock.backorder.confirmation", "process_cancel_backorder"): backorder_process_cancel,
    ("stock.move", "write"): move_write,
    ("stock.quant", "create"): _restricted,
    ("stock.quant", "write"): _restricted,
    ("stock.quant", "unlink"): _restricted,
}
