"""The WMS contract the hub's flows call, whatever the WMS brand (protocols/wms.md §3, extended).

§3 of the notes sketches a neutral contract of our own design (INFERRED as a whole: no product
defines it): ``create_inbound`` keyed by our ASN number, a receipt confirmation, and an inventory
snapshot. The notes give it no wire format, so it exists here as a Python protocol that every
dialect client implements (GreaterWMS REST, Odoo JSON-RPC); an in-house WMS gets a client of its
own once its wire is known. Neutral shapes (all quantities are decimal strings):

* expected receipt: ``create_inbound(asn_no, supplier_code, expected_date, lines)`` with
  ``lines[{line_no, sku, qty, uom, lot?, package?, po_ref?, expiry?}]`` ->
  ``{wms_id, asn_code, status}``; idempotent by ``asn_no`` (looked up in the WMS first).
* receipt: ``{asn_no, wms_id, asn_code, supplier, received_at, complete, backorders,
  lines[{line_no, sku, lot, package, qty_expected, qty_received, qty_damaged, qty_shortage,
  qty_over, bin, bins}]}``; ``asn_no`` is None when the WMS received goods the hub never announced.
* inventory item: ``{sku, bin, lot, on_hand, available, reserved, inspection, hold, damaged,
  inbound, as_of}``; ``stock_snapshot`` gives canonical ``StockLevel`` documents instead.
* QC: ``qc_hold(batch)`` / ``qc_release(batch)`` -> ``{material_id, lot, status, changed, moved,
  transfer}``; idempotent (holding a held batch changes nothing).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Mapping, Optional, Protocol, Union, runtime_checkable

from canonical_model.documents import Batch, ShipmentNotice, StockLevel

#: what a dialect can do; flows ask before planning work a WMS cannot take
EXPECTED_RECEIPTS = "expected_receipts"
RECEIPTS = "receipts"
STOCK = "stock"
BATCHES = "batches"  # the WMS keeps lots: receipts per lot, stock per lot
QC_HOLD = "qc_hold"

#: a canonical Batch, or a mapping with ``material_id`` and ``supplier_batch_number`` / ``batch_number``
BatchRef = Union[Batch, Mapping[str, Any]]


@runtime_checkable
class WmsDialect(Protocol):
    """One WMS brand's client: the only code that knows its wire."""

    dialect: str
    features: frozenset[str]

    def create_inbound(self, asn_no: str, supplier_code: str, expected_date: Optional[str],
                       lines: list[dict[str, Any]]) -> dict[str, Any]: ...

    def find_inbound(self, asn_no: str) -> Optional[dict[str, Any]]: ...

    def cancel_inbound(self, asn_no: str) -> dict[str, Any]: ...

    def get_receipt(self, asn_code: str, asn_no: Optional[str] = None) -> Optional[dict[str, Any]]: ...

    def receipts_since(self, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]: ...

    def qc_hold(self, batch: BatchRef) -> dict[str, Any]: ...

    def qc_release(self, batch: BatchRef) -> dict[str, Any]: ...

    def inventory_snapshot(self, sku: Optional[str] = None) -> Iterator[dict[str, Any]]: ...

    def stock_snapshot(self, rejects: Optional[list] = None) -> list[StockLevel]: ...

    def close(self) -> None: ...


@runtime_checkable
class Wms(WmsDialect, Protocol):
    """What the flows call (``adapters.wms.hook.WmsHook``): a dialect plus canonical entry points."""

    def create_expected_receipt(self, asn: Union[ShipmentNotice, Mapping[str, Any]]) -> dict[str, Any]: ...

    def cancel_expected_receipt(self, asn_no: str) -> dict[str, Any]: ...

    def supports(self, feature: str) -> bool: ...
