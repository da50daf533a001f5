"""Odoo stock over JSON-RPC (protocols/wms.md §1): the only code that knows the Odoo wire.

Two routes, chosen by the Connection extra ``route``:

* ``jsonrpc`` (default): ``POST /jsonrpc``, ``common.authenticate`` once for the uid, then
  ``object.execute_kw(db, uid, password, model, method, args, kwargs)``: stateless, the password
  or API key travels in every call (§1.1).
* ``session``: ``POST /web/session/authenticate`` sets a ``session_id`` cookie, then
  ``POST /web/dataset/call_kw/<model>/<method>``; on ``SessionExpiredException`` the client logs
  in again once and repeats the call (the expired call did nothing). Odoo 19 deprecates
  ``/jsonrpc`` for a new JSON API (removal planned for 22): a third route goes here.

Model usage (Odoo 17 field names: ``move_ids``, ``stock.move.quantity`` + ``picked``,
``stock.move.line.quantity``, ``stock.lot``; older versions name them ``move_lines`` /
``quantity_done`` / ``qty_done`` / ``stock.production.lot`` and answer our calls with an
"Invalid field" ValueError, classified Fatal ``WMS_CONTRACT``):

* expected receipt = incoming ``stock.picking`` with ``origin`` = our ASN number (the idempotency
  key, §3), found again with ``search_read [origin = asn_no, picking_type_code = incoming,
  state != cancel]`` before anything is created; ``action_confirm`` brings it to ``assigned``.
* receipt = that picking once ``done``: received quantity per lot and location from its
  ``stock.move.line`` rows, ``date_done``, backorders (pickings whose ``backorder_id`` is it).
* QC hold / release = an internal transfer of the lot's quants between ``stock_location`` and
  ``quarantine_location`` (INFERRED: Odoo community has no lot-blocking flag; moving stock to a
  quality location is how its 3-step reception keeps goods out of availability). The transfer's
  ``origin`` (``mes-hub qc_hold <material>/<lot>``) lets a repeated call finish an unfinished
  transfer instead of starting a second one.
* stock = ``stock.quant`` ``search_read`` over internal locations, paged with offset/limit.

Partners are found by ``res.partner.ref`` (= the hub's supplier id), products by
``product.product.default_code`` (= material id), locations by ``complete_name``. INFERRED:
these master-data conventions; the site must keep them.
"""
from __future__ import annotations

import datetime as dt
import itertools
import logging
from decimal import Decimal
from typing import Any, Iterator, Optional

import requests

from adapters.wms import contract, translate
from adapters.wms import odoo_translate as ot
from adapters.wms.config import WmsConfig
from adapters.wms.errors import classify_exception, classify_odoo_error, classify_odoo_http
from canonical_model.documents import StockLevel
from hub.errors import FatalError, RetriableError, SkippableError

log = logging.getLogger(__name__)

QC_ORIGIN = "mes-hub qc_{action} {material}/{lot}"
_PICKING_FIELDS = ["id", "name", "origin", "state", "partner_id", "picking_type_id", "location_id",
                   "location_dest_id", "scheduled_date", "date_done", "backorder_id", "move_ids"]


class OdooRpc:
    """JSON-RPC transport: envelope, auth, the two routes, error classification."""

    def __init__(self, config: WmsConfig) -> None:
        self.config = config
        self._secret = config.token.get_secret_value()
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/json"})
        self._uid: Optional[int] = None
        self._ids = itertools.count(1)

    def close(self) -> None:
        self.session.close()

    def _post(self, path: str, params: dict[str, Any], call: str, where: str) -> Any:
        request_id = next(self._ids)
        envelope = {"jsonrpc": "2.0", "method": "call", "id": request_id, "params": params}
        try:
            resp = self.session.post(self.config.base_url + path, json=envelope, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise classify_exception(exc, where, self._secret) from None
        log.debug("wms odoo %s %s -> %s", path, call, resp.status_code)  # never the params: they hold the password
        verdict = classify_odoo_http(resp, where)
        if verdict is not None:
            raise verdict
        body = resp.json()
        if "error" in body:
            raise classify_odoo_error(body["error"], call, where, self._secret)
        if body.get("id") != request_id:
            raise FatalError("WMS_CONTRACT", f"Odoo {call}: answer id {body.get('id')!r} is not the request's "
                                             f"{request_id}", where)
        return body["result"]

    def authenticate(self, where: str = "wms connection") -> int:
        cfg = self.config
        if cfg.route == "session":
            result = self._post("/web/session/authenticate", {"db": cfg.database, "login": cfg.login,
                                                               "password": self._secret}, "session.authenticate", where)
            uid = result.get("uid") if isinstance(result, dict) else None
        else:
            uid = self._post("/jsonrpc", {"service": "common", "method": "authenticate",
                                          "args": [cfg.database, cfg.login, self._secret, {}]},
                             "common.authenticate", where)
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            raise FatalError("WMS_AUTH", f"Odoo refused login {cfg.login!r} on database {cfg.database!r}; check "
                                         "login, password / API key and database of the wms Connection", where)
        self._uid = uid
        return uid

    def execute(self, model: str, method: str, args: list[Any], kwargs: Optional[dict[str, Any]] = None, *,
                where: str) -> Any:
        call = f"{model}.{method}"
        if self._uid is None:
            self.authenticate(where)
        try:
            return self._execute(model, method, args, kwargs or {}, call, where)
        except RetriableError as exc:
            if self.config.route != "session" or exc.code != "WMS_SESSION_EXPIRED":
                raise
            # the expired call did nothing: log in again once and repeat it; a second expiry is raised
            log.info("wms odoo session expired; logging in again")
            self.authenticate(where)
            return self._execute(model, method, args, kwargs or {}, call, where)

    def _execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any], call: str, where: str) -> Any:
        cfg = self.config
        if cfg.route == "session":
            return self._post(f"/web/dataset/call_kw/{model}/{method}",
                              {"model": model, "method": method, "args": args, "kwargs": kwargs}, call, where)
        return self._post("/jsonrpc", {"service": "object", "method": "execute_kw",
                                       "args": [cfg.database, self._uid, self._secret, model, method, args, kwargs]},
                          call, where)


class OdooClient:
    dialect = "odoo"
    features = frozenset({contract.EXPECTED_RECEIPTS, contract.RECEIPTS, contract.STOCK, contract.BATCHES,
                          contract.QC_HOLD})

    def __init__(self, config: WmsConfig) -> None:
        self.config = config
        self.rpc = OdooRpc(config)
        self._locations: dict[str, dict[str, Any]] = {}
        self._picking_types: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.rpc.close()

    # -- small helpers --------------------------------------------------------------------
    def _x(self, model: str, method: str, args: list[Any], kwargs: Optional[dict[str, Any]] = None, *,
           where: str) -> Any:
        return self.rpc.execute(model, method, args, kwargs, where=where)

    def _search_read(self, model: str, domain: list[Any], fields: list[str], where: str, *,
                     order: str = "id asc", limit: Optional[int] = None) -> list[dict[str, Any]]:
        """Every matching row, paged with offset/limit (``page_size``)."""
        rows: list[dict[str, Any]] = []
        page = self.config.page_size if limit is None else min(limit, self.config.page_size)
        while True:
            chunk = self._x(model, "search_read", [domain],
                            {"fields": fields, "offset": len(rows), "limit": page, "order": order}, where=where)
            if not isinstance(chunk, list):
                raise FatalError("WMS_CONTRACT", f"Odoo {model}.search_read answered no list", where)
            rows.extend(chunk)
            if len(chunk) < page or (limit is not None and len(rows) >= limit):
                return rows

    def _location(self, complete_name: str, where: str) -> dict[str, Any]:
        if complete_name not in self._locations:
            rows = self._search_read("stock.location", [["complete_name", "=", complete_name]],
                                     ["id", "name", "complete_name", "barcode", "usage"], where, limit=2)
            if len(rows) != 1:
                raise FatalError("WMS_CONFIG", f"Odoo has {len(rows) or 'no'} location(s) named {complete_name!r}; "
                                               "check the extras stock_location / quarantine_location", where)
            self._locations[complete_name] = rows[0]
        return self._locations[complete_name]

    def _picking_type(self, code: str, where: str) -> dict[str, Any]:
        if code not in self._picking_types:
            rows = self._search_read("stock.picking.type", [["code", "=", code]],
                                     ["id", "name", "default_location_src_id", "default_location_dest_id"], where,
                                     limit=1)
            if not rows:
                raise FatalError("WMS_CONFIG", f"Odoo has no operation type with code {code!r}", where)
            self._picking_types[code] = rows[0]
        return self._picking_types[code]

    def _products(self, skus: list[str], where: str) -> dict[str, dict[str, Any]]:
        rows = self._search_read("product.product", [["default_code", "in", sorted(set(skus))]],
                                 ["id", "default_code", "uom_id", "tracking"], where)
        found = {row["default_code"]: row for row in rows}
        missing = sorted(set(skus) - set(found))
        if missing:
            raise SkippableError("WMS_UNKNOWN_MATERIAL", f"Odoo has no product with internal reference "
                                                         f"{', '.join(missing)}; create it in Odoo first", where)
        return found

    def _sku_of(self, product_ids: set[int], where: str) -> dict[int, str]:
        if not product_ids:
            return {}
        rows = self._x("product.product", "read", [sorted(product_ids)], {"fields": ["id", "default_code"]},
                       where=where)
        return {row["id"]: row.get("default_code") or f"product {row['id']}" for row in rows}

    def _location_codes(self, location_ids: set[int], where: str) -> dict[int, str]:
        if not location_ids:
            return {}
        rows = self._x("stock.location", "read", [sorted(location_ids)],
                       {"fields": ["id", "name", "complete_name", "barcode"]}, where=where)
        return {row["id"]: ot.location_code(row) for row in rows}

    # -- expected receipts ----------------------------------------------------------------
    def find_inbound(self, asn_no: str) -> dict[str, Any] | None:
        """The live (not cancelled) incoming picking whose ``origin`` is ``asn_no``, or None."""
        where = f"asn {asn_no}"
        rows = self._search_read("stock.picking", [["origin", "=", asn_no], ["picking_type_code", "=", "incoming"],
                                                   ["state", "!=", "cancel"], ["backorder_id", "=", False]],
                                 _PICKING_FIELDS, where)
        rows = [row for row in rows if row.get("origin") == asn_no]  # '=' is exact, but check what we rely on
        if len(rows) > 1:
            names = ", ".join(r["name"] for r in rows)
            raise SkippableError("WMS_DUPLICATE_ASN", f"{len(rows)} Odoo receipts carry origin {asn_no}: {names}; "
                                                      "cancel the extra ones in Odoo", where)
        return rows[0] if rows else None

    def create_inbound(self, asn_no: str, supplier_code: str, expected_date: str | None,
                       lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Create the incoming picking once (found again by ``origin``) and bring it to ``assigned``.

        A picking left in ``draft`` by an earlier call whose answer was lost is confirmed, not
        duplicated. One that already exists with other quantities is ``WMS_ASN_CHANGED``.
        Returns ``{wms_id, asn_code, status}`` (``asn_code`` = the picking name, e.g. WH/IN/00007).
        """
        where = f"asn {asn_no}"
        groups = ot.move_groups(lines, where)
        wanted = {g["sku"]: translate._qty_text(g["qty"]) for g in groups}
        picking = self.find_inbound(asn_no)
        if picking is None:
            picking = self._create_picking(asn_no, supplier_code, expected_date, groups, where)
        elif picking["state"] != "done":  # once received, Odoo has cut the demand down to what came
            moves = self._x("stock.move", "read", [picking["move_ids"]],
                            {"fields": ["id", "product_id", "product_uom_qty", "state"]}, where=where)
            sku_of = self._sku_of({ot.m2o_id(m["product_id"]) for m in moves if ot.m2o_id(m["product_id"])}, where)
            holds = ot.demand_by_sku(moves, sku_of)
            if holds != dict(sorted(wanted.items())):
                raise SkippableError("WMS_ASN_CHANGED", f"{picking['name']} already announces {holds}; the "
                                                        f"ShipmentNotice now says {dict(sorted(wanted.items()))}",
                                     where)
        if picking["state"] == "draft":
            self._x("stock.picking", "action_confirm", [[picking["id"]]], where=where)
        if picking["state"] in ("draft", "confirmed", "waiting"):
            picking = self._read_picking(picking["id"], where)
            if picking["state"] in ("confirmed", "waiting"):
                self._x("stock.picking", "action_assign", [[picking["id"]]], where=where)
                picking = self._read_picking(picking["id"], where)
        return {"wms_id": picking["id"], "asn_code": picking["name"], "status": picking["state"]}

    def _create_picking(self, asn_no: str, supplier_code: str, expected_date: str | None,
                        groups: list[dict[str, Any]], where: str) -> dict[str, Any]:
        partners = self._search_read("res.partner", [["ref", "=", supplier_code]], ["id", "name", "ref"], where, limit=2)
        if len(partners) != 1:
            raise SkippableError("WMS_UNKNOWN_SUPPLIER", f"Odoo has {len(partners) or 'no'} partner(s) with reference "
                                                         f"{supplier_code!r}; exactly one is needed", where)
        products = self._products([g["sku"] for g in groups], where)
        for group in groups:
            product = products[group["sku"]]
            odoo_uom = translate.canonical_uom(ot.m2o_name(product["uom_id"]), "odoo", f"{where} {group['sku']}")
            if odoo_uom != group["uom"]:
                raise SkippableError("WMS_UOM_MISMATCH", f"material {group['sku']} is announced in {group['uom']}, "
                                                         f"Odoo keeps it in {ot.m2o_name(product['uom_id'])} "
                                                         f"({odoo_uom})", where)
        packages = self._packages({d["package"] for g in groups for d in g["details"] if d["package"]}, where)
        picking_type = self._picking_type("incoming", where)
        source = ot.m2o_id(picking_type.get("default_location_src_id"))
        if source is None:
            raise FatalError("WMS_CONFIG", f"Odoo operation type {picking_type.get('name')!r} has no default source "
                                           "(vendor) location", where)
        dest = self._location(self.config.stock_location, where)["id"]
        vals = ot.picking_vals(asn_no, expected_date, partners[0]["id"], picking_type, source, dest, groups, products,
                               packages)
        picking_id = self._x("stock.picking", "create", [vals], where=where)
        log.info("wms odoo created picking %s for asn %s", picking_id, asn_no)
        return self._read_picking(picking_id, where)

    def _packages(self, names: set[str], where: str) -> dict[str, int]:
        """SSCC -> ``stock.quant.package`` id, creating the missing ones (found again by name on a retry)."""
        if not names:
            return {}
        rows = self._search_read("stock.quant.package", [["name", "in", sorted(names)]], ["id", "name"], where)
        found = {row["name"]: row["id"] for row in rows}
        for name in sorted(names - set(found)):
            found[name] = self._x("stock.quant.package", "create", [{"name": name}], where=where)
        return found

    def _read_picking(self, picking_id: int, where: str) -> dict[str, Any]:
        rows = self._x("stock.picking", "read", [[picking_id]], {"fields": _PICKING_FIELDS}, where=where)
        if not rows:
            raise SkippableError("WMS_NOT_FOUND", f"Odoo picking {picking_id} is gone", where)
        return rows[0]

    def cancel_inbound(self, asn_no: str) -> dict[str, Any]:
        """Cancel the expected receipt of ``asn_no``; idempotent (absent or cancelled = done).
        A ``done`` picking is ``WMS_CANCEL_TOO_LATE``: the goods are in stock, a person decides.
        INFERRED: Odoo lets a receipt be cancelled until it is done, so that is our limit too."""
        where = f"asn {asn_no}"
        picking = self.find_inbound(asn_no)
        if picking is None:
            return {"asn_code": None, "wms_id": None, "withdrawn": False}
        if picking["state"] == "done":
            raise SkippableError("WMS_CANCEL_TOO_LATE", f"{picking['name']} cannot be withdrawn any more (Odoo state "
                                                        "done: received); the warehouse has to resolve it", where)
        self._x("stock.picking", "action_cancel", [[picking["id"]]], where=where)
        log.info("wms odoo cancelled %s for asn %s", picking["name"], asn_no)
        return {"asn_code": picking["name"], "wms_id": picking["id"], "withdrawn": True}

    # -- receipts -------------------------------------------------------------------------
    def get_receipt(self, asn_code: str, asn_no: str | None = None) -> dict[str, Any] | None:
        """Neutral receipt of the picking named ``asn_code`` once it is done, else None."""
        where = f"asn_code {asn_code}"
        rows = self._search_read("stock.picking", [["name", "=", asn_code]], _PICKING_FIELDS, where, limit=2)
        rows = [row for row in rows if row.get("name") == asn_code]
        if not rows:
            raise SkippableError("WMS_UNKNOWN_ASN", f"Odoo has no picking {asn_code}", where)
        return self._receipt(rows[0], asn_no, where)

    def _receipt(self, picking: dict[str, Any], asn_no: str | None, where: str) -> dict[str, Any] | None:
        if picking.get("state") != "done":
            return None
        move_lines = self._search_read("stock.move.line", [["picking_id", "=", picking["id"]]],
                                       ["id", "product_id", "lot_id", "lot_name", "quantity", "location_dest_id",
                                        "result_package_id"], where)
        sku_of = self._sku_of({ot.m2o_id(l["product_id"]) for l in move_lines if ot.m2o_id(l["product_id"])}, where)
        codes = self._location_codes({ot.m2o_id(l["location_dest_id"]) for l in move_lines
                                      if ot.m2o_id(l["location_dest_id"])}, where)
        partner = ot.m2o_id(picking.get("partner_id"))
        supplier = None
        if partner:
            refs = self._x("res.partner", "read", [[partner]], {"fields": ["id", "ref"]}, where=where)
            supplier = (refs[0].get("ref") or None) if refs else None
        backorders = [row["name"] for row in self._search_read("stock.picking", [["backorder_id", "=", picking["id"]]],
                                                                ["id", "name"], where)]
        return ot.receipt_from_odoo(asn_no or picking.get("origin") or None, picking, move_lines, sku_of, codes,
                                    supplier, backorders)

    def receipts_since(self, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]:
        """Every incoming picking done at or after ``since`` (UTC; all when None), oldest first;
        ``asn_no`` is the picking's ``origin`` (None when empty: a receipt without ASN)."""
        domain: list[Any] = [["picking_type_code", "=", "incoming"], ["state", "=", "done"]]
        if since is not None:
            domain.append(["date_done", ">=", ot.odoo_datetime(since.isoformat())])
        for picking in self._search_read("stock.picking", domain, _PICKING_FIELDS, "receipts",
                                         order="date_done asc, id asc"):
            receipt = self._receipt(picking, None, f"asn_code {picking['name']}")
            if receipt is not None:
                yield receipt

    # -- QC hold / release ----------------------------------------------------------------
    def qc_hold(self, batch: contract.BatchRef) -> dict[str, Any]:
        """Move every unit of the batch from ``stock_location`` (and below) into ``quarantine_location``."""
        return self._relocate_lot(batch, "hold", self.config.stock_location, self.config.quarantine_location)

    def qc_release(self, batch: contract.BatchRef) -> dict[str, Any]:
        """Move the batch from ``quarantine_location`` (and below) back to ``stock_location``."""
        return self._relocate_lot(batch, "release", self.config.quarantine_location, self.config.stock_location)

    def _relocate_lot(self, batch: contract.BatchRef, action: str, source_name: str, dest_name: str) -> dict[str, Any]:
        material, lot_name = translate.batch_ref(batch)
        where = f"batch {material}/{lot_name}"
        status = "held" if action == "hold" else "released"
        source, dest = self._location(source_name, where), self._location(dest_name, where)
        (product,) = self._products([material], where).values()
        lots = self._search_read("stock.lot", [["name", "=", lot_name], ["product_id", "=", product["id"]]],
                                 ["id", "name"], where, limit=2)
        lots = [lot for lot in lots if lot.get("name") == lot_name]
        if not lots:
            raise SkippableError("WMS_UNKNOWN_LOT", f"Odoo has no lot {lot_name!r} of {material}; it was never received "
                                                    "or carries another number", where)
        lot_id = lots[0]["id"]
        origin = QC_ORIGIN.format(action=action, material=material, lot=lot_name)
        result = {"material_id": material, "lot": lot_name, "status": status, "changed": False, "moved": "0",
                  "transfer": None}
        unfinished = self._search_read("stock.picking", [["origin", "=", origin], ["state", "not in", ["done", "cancel"]]],
                                       _PICKING_FIELDS, where)
        if unfinished:  # an earlier call created it and lost the answer: finish that one
            picking = unfinished[0]
        else:
            quants = self._search_read("stock.quant", [["lot_id", "=", lot_id], ["location_id", "child_of", source["id"]],
                                                       ["quantity", ">", 0]],
                                       ["id", "location_id", "quantity", "package_id"], where)
            if not quants:
                return result  # nothing of the batch left where it would come from: already held / released
            picking = self._create_transfer(origin, product, lot_id, quants, source, dest, where)
        if picking["state"] == "draft":
            self._x("stock.picking", "action_confirm", [[picking["id"]]], where=where)
        answer = self._x("stock.picking", "button_validate", [[picking["id"]]],
                         {"context": {"skip_backorder": True, "picking_ids_not_to_backorder": [picking["id"]]}},
                         where=where)
        if answer is not True:
            raise SkippableError("WMS_REJECTED", f"Odoo did not finish transfer {picking['name']} (it asked for "
                                                 f"{answer.get('res_model') if isinstance(answer, dict) else answer}); "
                                                 "finish it in Odoo", where)
        moved = sum(Decimal(str(l.get("quantity") or 0)) for l in self._search_read(
            "stock.move.line", [["picking_id", "=", picking["id"]]], ["id", "quantity"], where))
        return {**result, "changed": True, "moved": translate._qty_text(moved), "transfer": picking["name"]}

    def _create_transfer(self, origin: str, product: dict[str, Any], lot_id: int, quants: list[dict[str, Any]],
                         source: dict[str, Any], dest: dict[str, Any], where: str) -> dict[str, Any]:
        picking_type = self._picking_type("internal", where)
        uom_id = ot.m2o_id(product["uom_id"])
        total = sum(Decimal(str(q["quantity"])) for q in quants)
        lines = [[0, 0, {"product_id": product["id"], "product_uom_id": uom_id, "lot_id": lot_id,
                         "quantity": ot.odoo_number(q["quantity"]), "location_id": ot.m2o_id(q["location_id"]),
                         "location_dest_id": dest["id"], "package_id": ot.m2o_id(q.get("package_id")) or False,
                         "result_package_id": ot.m2o_id(q.get("package_id")) or False}] for q in quants]
        vals = {"picking_type_id": picking_type["id"], "location_id": source["id"], "location_dest_id": dest["id"],
                "origin": origin, "move_ids": [[0, 0, {
                    "name": origin, "product_id": product["id"], "product_uom_qty": ot.odoo_number(total),
                    "product_uom": uom_id, "location_id": source["id"], "location_dest_id": dest["id"],
                    "move_line_ids": lines}]]}
        picking_id = self._x("stock.picking", "create", [vals], where=where)
        return self._read_picking(picking_id, where)

    # -- stock ----------------------------------------------------------------------------
    def _quants(self, sku: Optional[str], where: str) -> tuple[list[dict[str, Any]], dict[int, str], dict[int, str]]:
        domain: list[Any] = [["location_id.usage", "=", "internal"], ["quantity", "!=", 0]]
        if sku:
            domain.append(["product_id.default_code", "=", sku])
        quants = self._search_read("stock.quant", domain, ["id", "product_id", "location_id", "lot_id", "quantity",
                                                           "reserved_quantity", "write_date", "product_uom_id"], where)
        sku_of = self._sku_of({ot.m2o_id(q["product_id"]) for q in quants if ot.m2o_id(q["product_id"])}, where)
        codes = self._location_codes({ot.m2o_id(q["location_id"]) for q in quants if ot.m2o_id(q["location_id"])},
                                     where)
        return quants, sku_of, codes

    def _quarantine_ids(self, where: str) -> set[int]:
        root = self._location(self.config.quarantine_location, where)["id"]
        return {row["id"] for row in self._search_read("stock.location", [["id", "child_of", root]], ["id"], where)}

    def inventory_snapshot(self, sku: str | None = None) -> Iterator[dict[str, Any]]:
        """Neutral items per product, location and lot from ``stock.quant`` (internal locations)."""
        where = f"stock {sku or '*'}"
        quants, sku_of, codes = self._quants(sku, where)
        yield from ot.inventory_items(quants, sku_of, codes, self._quarantine_ids(where))

    def stock_snapshot(self, rejects: Optional[list] = None) -> list[StockLevel]:
        """Canonical StockLevel per material, location (barcode or full name) and lot."""
        quants, sku_of, codes = self._quants(None, "stock")
        uom_by_sku = {sku_of.get(ot.m2o_id(q["product_id"]) or 0): ot.m2o_name(q.get("product_uom_id")) for q in quants}
        items = ot.inventory_items(quants, sku_of, codes, set())
        return translate.stock_levels(items, uom_by_sku.get, "odoo", rejects)

