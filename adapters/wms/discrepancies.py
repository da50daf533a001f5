"""Scan-receiving discrepancies: what the warehouse counted against what the supplier announced.

A pure function on data; the lead's alert rules turn each :class:`Discrepancy` into a canonical
``Alert`` (``alert_id`` from ``Discrepancy.key``) with ``responsible_party`` = the supplier.

What is compared here and what is not (so nothing is reported twice):

* per-material totals (counted 198, announced 200) are **not** compared here:
  ``collaboration.alerts.receipt_mismatch`` already raises ``RECEIPT_QTY_MISMATCH`` for them from
  the canonical Receipt; reuse it.
* ``UNKNOWN_BATCH``: a lot was scanned that the ASN does not announce for that material.
* ``BATCH_QTY_SHORT`` / ``BATCH_QTY_OVER``: per ASN line (material + batch), when the WMS reports
  lots (Odoo) and the material total may even match (60 of lot A and 40 of lot B instead of
  50/50); an announced batch that was not scanned at all is short by its whole quantity.
  Without lots in the receipt (GreaterWMS) no per-line comparison is possible, and none is made.
* ``NO_ASN``: the WMS received goods the hub never announced (a receipt without ASN).

Receipts are the neutral receipts of ``contract.py`` (``get_receipt`` / ``receipts_since`` or a
pushed WMS event translated to that shape); ASNs are canonical ShipmentNotices or their
``content()`` dicts.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from adapters.wms.translate import _qty_text, asn_content

UNKNOWN_BATCH = "UNKNOWN_BATCH"
BATCH_QTY_SHORT = "BATCH_QTY_SHORT"
BATCH_QTY_OVER = "BATCH_QTY_OVER"
NO_ASN = "NO_ASN"

#: who acts on goods nobody can attribute to a supplier
WAREHOUSE = "warehouse"


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    responsible_party: str
    receipt_ref: str
    asn_number: Optional[str] = None
    material_id: Optional[str] = None
    batch_number: Optional[str] = None
    qty_expected: Optional[str] = None
    qty_received: Optional[str] = None
    message: str = ""

    @property
    def key(self) -> str:
        """Stable id of the condition: the same discrepancy seen again has the same key."""
        subject = self.asn_number or self.receipt_ref
        return ":".join(p for p in (self.kind, self.responsible_party, subject, self.material_id or "",
                                    self.batch_number or "") if p)


def _qty(value: Any) -> Decimal:
    try:
        qty = Decimal(str(value if value is not None else 0))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return qty if qty.is_finite() else Decimal(0)


def receiving_discrepancies(receipt: dict[str, Any], asn: Any = None) -> list[Discrepancy]:
    """Discrepancies of one WMS receipt against its ASN (``None``: the hub knows no ASN for it)."""
    receipt_ref = str(receipt.get("asn_code") or receipt.get("wms_id") or "?")
    if asn is None:
        supplier = receipt.get("supplier") or None
        lines = receipt.get("lines") or []
        what = ", ".join(f"{_qty_text(_qty(l.get('qty_received')))} {l.get('sku')}"
                         + (f" lot {l['lot']}" if l.get("lot") else "") for l in lines) or "nothing counted"
        return [Discrepancy(
            kind=NO_ASN, responsible_party=supplier or WAREHOUSE, receipt_ref=receipt_ref,
            message=(f"WMS receipt {receipt_ref} ({what}) from {supplier or 'an unknown supplier'} has no ASN in "
                     f"the hub. Next: " + (f"supplier {supplier} sends the missing ASN, or the buyer books the "
                                           "goods against the purchase order by hand." if supplier else
                                           "the warehouse identifies the supplier from the delivery papers.")))]
    asn = asn_content(asn)
    supplier, asn_number = str(asn.get("supplier_id")), str(asn.get("asn_number"))
    received: dict[tuple[str, str], Decimal] = {}
    has_lots: set[str] = set()
    for line in receipt.get("lines") or []:
        if line.get("lot"):
            has_lots.add(str(line["sku"]))
            key = (str(line["sku"]), str(line["lot"]))
            received[key] = received.get(key, Decimal(0)) + _qty(line.get("qty_received"))
    announced: dict[tuple[str, str], Decimal] = {}
    for line in asn.get("lines") or []:
        if line.get("batch_number"):
            key = (str(line["material_id"]), str(line["batch_number"]))
            announced[key] = announced.get(key, Decimal(0)) + _qty(line.get("quantity"))
    found: list[Discrepancy] = []
    for (sku, lot), got in sorted(received.items()):
        if (sku, lot) not in announced:
            found.append(Discrepancy(
                kind=UNKNOWN_BATCH, responsible_party=supplier, receipt_ref=receipt_ref, asn_number=asn_number,
                material_id=sku, batch_number=lot, qty_received=_qty_text(got),
                message=(f"Receipt {receipt_ref} scanned batch {lot} of {sku} ({_qty_text(got)}), which ASN "
                         f"{asn_number} does not announce. Next: supplier {supplier} confirms the batch (and its "
                         f"certificate) or the warehouse blocks it.")))
    for (sku, lot), want in sorted(announced.items()):
        if sku not in has_lots:
            continue  # the WMS reports no lots for this material: only the total can be compared
        got = received.get((sku, lot), Decimal(0))
        if got == want:
            continue
        kind = BATCH_QTY_SHORT if got < want else BATCH_QTY_OVER
        found.append(Discrepancy(
            kind=kind, responsible_party=supplier, receipt_ref=receipt_ref, asn_number=asn_number,
            material_id=sku, batch_number=lot, qty_expected=_qty_text(want), qty_received=_qty_text(got),
            message=(f"Receipt {receipt_ref} counted {_qty_text(got)} of {sku} batch {lot}, ASN {asn_number} "
                     f"announced {_qty_text(want)} ({'short' if got < want else 'over'} by "
                     f"{_qty_text(abs(want - got))}). Next: supplier {supplier} corrects the batch split "
                     f"(certificates, credit note or missing goods).")))
    return found
