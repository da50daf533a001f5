"""Opcenter entities <-> hub records and command parameters (no I/O here).

Pulled entities become the flat records the YAML mappings read (mappings/opcenter/):

* nested objects are flattened one level into literal dotted keys, the way the mapping engine
  addresses Kingdee's references: ``{"Quantity": {"QuantityValue": 500}}`` ->
  ``"Quantity.QuantityValue": 500``; lists keep their items (each flattened too);
* Opcenter sends ``Edm.DateTimeOffset`` values (UTC, ``...Z``); records carry naive times in
  the plant's time zone (extra ``timezone``), like every ERP record in the hub, so a due date
  from the MES and a delivery date from the ERP compare as they should;
* ``hub_status`` is the canonical status, looked up from the Opcenter status in ORDER_STATES /
  LOT_STATES below. A status not in the table is passed on unchanged and the canonical model
  then rejects the record (``SCHEMA_VIOLATION`` naming ``status``) into quarantine.

INFERRED: the status vocabularies. Opcenter status names come from site-configured state
machines; the notes confirm only the shape ``{"StateMachineNId", "StatusNId"}`` and the value
``Edit``. The tables below are the hub's defaults and would move to a crosswalk
(``mappings/crosswalks/opcenter_order_states.csv``) once one exists.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional

from hub.erp import ErpRecord

if TYPE_CHECKING:
    from canonical_model.documents import Batch

#: Opcenter order StatusNId -> canonical ProductionOrder.status (INFERRED, see module doc)
ORDER_STATES = {
    "Edit": "planned", "Planned": "planned", "Created": "planned",
    "Released": "released", "Dispatched": "released", "Scheduled": "released",
    "Active": "started", "Running": "started", "InProgress": "started", "Started": "started", "Paused": "started",
    "Held": "started",
    "Completed": "completed", "Complete": "completed",
    "Closed": "closed",
    "Aborted": "cancelled", "Cancelled": "cancelled", "Canceled": "cancelled",
}
#: Opcenter MaterialLot StatusNId -> canonical Batch.status (INFERRED)
LOT_STATES = {
    "Quarantine": "quarantined", "Quarantined": "quarantined", "Hold": "quarantined", "OnHold": "quarantined",
    "Released": "released", "Available": "released",
    "Rejected": "rejected", "Blocked": "rejected",
    "Consumed": "consumed", "Depleted": "consumed",
}
#: canonical Batch.status -> the SetMaterialLotStatus verb and the StatusNId it leads to (INFERRED)
LOT_VERBS = {"quarantined": ("Quarantine", "Quarantine"), "released": ("Release", "Released"),
             "rejected": ("Reject", "Rejected")}

_OFFSET_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def local_naive(value: str, zone: zoneinfo.ZoneInfo) -> str:
    """``2026-11-24T00:00:00Z`` -> ``2026-11-24T08:00:00`` for Asia/Shanghai (naive plant time)."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed.astimezone(zone).replace(tzinfo=None).isoformat()


def _scalar(value: Any, zone: zoneinfo.ZoneInfo) -> Any:
    if isinstance(value, str) and _OFFSET_DATETIME.match(value):
        try:
            return local_naive(value, zone)
        except ValueError:
            return value  # not a real date (month 13): the mapping reports it as BAD_VALUE
    return value


def flatten(entity: dict[str, Any], zone: zoneinfo.ZoneInfo) -> dict[str, Any]:
    """One level of nesting into dotted keys; lists of objects flattened item by item; times localised."""
    flat: dict[str, Any] = {}
    for key, value in entity.items():
        if key.startswith("@odata."):
            continue
        if isinstance(value, dict):
            for inner, item in value.items():
                flat[f"{key}.{inner}"] = item if isinstance(item, (dict, list)) else _scalar(item, zone)
        elif isinstance(value, list):
            flat[key] = [flatten(item, zone) if isinstance(item, dict) else _scalar(item, zone) for item in value]
        else:
            flat[key] = _scalar(value, zone)
    return flat


def modified_at(entity: dict[str, Any], zone: zoneinfo.ZoneInfo) -> Optional[dt.datetime]:
    """``LastUpdatedOn`` as a naive plant-local datetime (the watermark's unit), None when absent or garbled."""
    value = entity.get("LastUpdatedOn")
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed
    return parsed.astimezone(zone).replace(tzinfo=None)


def since_utc(since: Optional[dt.datetime], zone: zoneinfo.ZoneInfo) -> Optional[dt.datetime]:
    """A naive plant-local ``since`` (the flows' watermark) as an aware UTC datetime."""
    if since is None:
        return None
    aware = since.replace(tzinfo=zone) if since.tzinfo is None else since
    return aware.astimezone(dt.timezone.utc)


def status_of(entity: dict[str, Any]) -> Optional[str]:
    status = entity.get("Status")
    if isinstance(status, dict):
        value = status.get("StatusNId")
        return str(value) if value not in (None, "") else None
    return str(status) if status not in (None, "") else None


def order_record(entity: dict[str, Any], zone: zoneinfo.ZoneInfo) -> ErpRecord:
    data = flatten(entity, zone)
    status = status_of(entity)
    data["hub_status"] = ORDER_STATES.get(status, status) if status is not None else None
    return ErpRecord(key=str(entity.get("NId") or f"Id={entity.get('Id')}"), modified=modified_at(entity, zone),
                     data=data)


def _quantity_value(entity: dict[str, Any]) -> Optional[Decimal]:
    quantity = entity.get("Quantity")
    value = quantity.get("QuantityValue") if isinstance(quantity, dict) else None
    try:
        return Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        return None


def _original_quantity(lot: dict[str, Any], remaining: Optional[Decimal],
                       consumptions: list[dict[str, Any]]) -> Optional[str]:
    """What the lot held before the MES consumed from it: what is left plus every consumption.

    The canonical Batch's quantity is the batch as received (what the WMS and the ASN say), not
    what is left, so a lot the shop floor used up is still a batch of 500 linked to its orders,
    not a batch of 0. Consumptions in another unit than the lot make the sum meaningless: None.
    """
    if remaining is None:
        return None
    unit = lot["Quantity"].get("UoMNId") if isinstance(lot.get("Quantity"), dict) else None
    total = remaining
    for consumption in consumptions:
        amount = _quantity_value(consumption)
        used_unit = consumption["Quantity"].get("UoMNId") if isinstance(consumption.get("Quantity"), dict) else None
        if amount is None or (used_unit is not None and unit is not None and used_unit != unit):
            return None
        total += amount
    return format(total.normalize(), "f") if total != 0 else "0"


def lot_record(lot_nid: str, lot: Optional[dict[str, Any]], consumptions: list[dict[str, Any]],
               zone: zoneinfo.ZoneInfo) -> ErpRecord:
    """One record per material lot with every consumption of it (the Batch and its consumed_by links).

    ``hub_quantity`` is the lot's quantity as received (see :func:`_original_quantity`).

    A lot the MES consumed but does not list in its MaterialLot set (deleted, or booked by
    consumption only) still gets a record from its consumptions: material and unit from them,
    quantity 0 and status consumed, so the genealogy link is not lost.
    """
    ordered = sorted(consumptions, key=lambda c: (str(c.get("ConsumedOn") or ""), str(c.get("Id") or "")))
    if lot is None:
        first = ordered[0] if ordered else {}
        unit = (first.get("Quantity") or {}).get("UoMNId") if isinstance(first.get("Quantity"), dict) else None
        lot = {"NId": lot_nid, "MaterialNId": first.get("MaterialNId"),
               "Quantity": {"QuantityValue": 0, "UoMNId": unit}, "Status": {"StatusNId": "Consumed"}}
    data = flatten(lot, zone)
    data["NId"] = data.get("NId") or lot_nid
    remaining = _quantity_value(lot)
    data["hub_quantity"] = _original_quantity(lot, remaining, ordered)
    status = status_of(lot)
    if remaining is not None and remaining == 0:
        data["hub_status"] = "consumed"
    else:
        data["hub_status"] = LOT_STATES.get(status, status) if status is not None else None
    data["Consumptions"] = [flatten(c, zone) for c in ordered]
    stamps = [m for m in (modified_at(e, zone) for e in [lot, *consumptions]) if m is not None]
    return ErpRecord(key=lot_nid, modified=max(stamps) if stamps else None, data=data)


def finished_lot_record(lot_nid: str, lot: Optional[dict[str, Any]], productions: list[dict[str, Any]],
                        order_materials: dict[str, Any], zone: zoneinfo.ZoneInfo) -> ErpRecord:
    """One record per finished lot with every completion booked into it (the Batch and its produced links).

    * ``hub_quantity``: everything produced into the lot (the batch as made, like a received
      batch's quantity is what arrived), None when a completion is in another unit than the lot;
    * ``hub_status``: the lot's status (``consumed`` once nothing is left); ``released`` when the
      MES does not list the lot itself (INFERRED: a completion books good product);
    * ``hub_material_id``: the lot's material when every completion and every producing order the
      MES lists make that material, else absent with the reason in ``hub_problem``, so the
      mapping quarantines the lot (an order produces its own material; co-products would need a
      rule of their own);
    * ``ProducedBy``: one entry per producing order, first completion first (a completion without
      ``OrderNId`` keeps its entry, so the mapping names the broken link).
    """
    ordered = sorted(productions, key=lambda p: (str(p.get("ProducedOn") or ""), str(p.get("Id") or "")))
    listed = lot is not None
    if lot is None:
        first = ordered[0] if ordered else {}
        unit = (first.get("Quantity") or {}).get("UoMNId") if isinstance(first.get("Quantity"), dict) else None
        lot = {"NId": lot_nid, "MaterialNId": first.get("MaterialNId"), "Quantity": {"UoMNId": unit}}
    data = flatten(lot, zone)
    data["NId"] = data.get("NId") or lot_nid
    unit = lot["Quantity"].get("UoMNId") if isinstance(lot.get("Quantity"), dict) else None
    data["hub_quantity"] = _produced_quantity(unit, ordered)
    remaining, status = _quantity_value(lot), status_of(lot)
    if listed and remaining is not None and remaining == 0:
        data["hub_status"] = "consumed"
    elif listed and status is not None:
        data["hub_status"] = LOT_STATES.get(status, status)
    else:
        data["hub_status"] = "released"
    material, problem = _finished_material(lot.get("MaterialNId"), ordered, order_materials)
    data["hub_material_id"] = material
    if problem:
        data["hub_problem"] = problem
    producers: list[dict[str, Any]] = []
    orders_seen: set[str] = set()
    for production in ordered:
        order = production.get("OrderNId")
        if order and str(order) in orders_seen:
            continue
        orders_seen.add(str(order))
        producers.append({"OrderNId": order, "ProductionNId": production.get("NId")})
    data["ProducedBy"] = producers
    data["Productions"] = [flatten(p, zone) for p in ordered]
    stamps = [m for m in (modified_at(e, zone) for e in [lot, *productions]) if m is not None]
    return ErpRecord(key=lot_nid, modified=max(stamps) if stamps else None, data=data)


def _produced_quantity(unit: Optional[str], productions: list[dict[str, Any]]) -> Optional[str]:
    total = Decimal(0)
    for production in productions:
        amount = _quantity_value(production)
        used = production["Quantity"].get("UoMNId") if isinstance(production.get("Quantity"), dict) else None
        if amount is None or (unit is not None and used is not None and used != unit):
            return None
        total += amount
    return format(total.normalize(), "f") if productions and total != 0 else ("0" if productions else None)


def _finished_material(material: Any, productions: list[dict[str, Any]],
                       order_materials: dict[str, Any]) -> tuple[Optional[str], Optional[str]]:
    """The finished lot's material and, when it cannot be trusted, why."""
    if not isinstance(material, str) or not material:
        return None, "the lot names no MaterialNId"
    for production in productions:
        booked = production.get("MaterialNId")
        if booked not in (None, "", material):
            return None, f"completion {production.get('NId')} booked {booked} into a lot of {material}"
        order = production.get("OrderNId")
        makes = order_materials.get(str(order)) if order else None
        if makes not in (None, "", material):
            return None, f"MaterialNId {material} is not what producing order {order} makes ({makes})"
    return material, None


# ----------------------------------------------------------------------------- writes


def offset_datetime(value: dt.date | dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """A canonical (naive plant-local) date or datetime as Edm.DateTimeOffset in UTC; a date is local midnight."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    aware = value.replace(tzinfo=zone) if value.tzinfo is None else value
    return aware.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat() + "Z"


def quantity(value: Decimal, unit: str) -> dict[str, Any]:
    # JSON numbers on the wire, as Opcenter sends them; Decimal -> int or a short float text
    number: Any = int(value) if value == value.to_integral_value() else float(value)
    return {"QuantityValue": number, "UoMNId": unit}


def _linked(stored: "Batch", pulled: "Batch", **changes: Any) -> "Batch":
    """``stored`` with ``pulled``'s links added (no duplicates, stored ones first) and its source."""
    links = [link.model_dump() for link in stored.links]
    for link in pulled.links:
        if link.model_dump() not in links:
            links.append(link.model_dump())
    return type(stored).model_validate({**stored.model_dump(), "links": links, "source": pulled.source, **changes})


def merge_pulled_batch(stored: Optional["Batch"], pulled: "Batch") -> "Batch":
    """The Batch to store after a consumption pull, given what the store already holds for it.

    The MES is the system of record for consumption (the ``consumed_by`` links and the status
    ``consumed``), the hub's own receiving and QC for the rest (quantity received, supplier
    batch number, QC status, expiry): links are added to the stored batch (no duplicates, stored
    ones first), its status becomes ``consumed`` only when the MES says so, and every other field
    stays as stored. Without a stored batch the pulled one is taken as is.
    """
    if stored is None:
        return pulled
    return _linked(stored, pulled, status="consumed" if pulled.status == "consumed" else stored.status)


def merge_produced_batch(stored: Optional["Batch"], pulled: "Batch") -> "Batch":
    """The Batch to store after a finished-lot pull: the MES adds ``produced`` links; whatever the
    store already holds for the lot (a consumption pull's status, QC's verdict) stays."""
    return pulled if stored is None else _linked(stored, pulled)
