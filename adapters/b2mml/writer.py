"""Canonical documents -> B2MML XML (V0701, or V0600 for plants that still exchange it).

| canonical | V0701 document | V0600 document |
| --- | --- | --- |
| ``Batch`` | ``MaterialInformation`` of ``MaterialLot`` | same, V0600 namespace (no ``Disposition``) |
| ``Material`` | ``MaterialInformation`` of ``MaterialDefinition`` | same |
| ``ProductionOrder`` | ``OperationsSchedule`` (``OperationsType`` Production), one ``OperationsRequest`` per order | ``ProductionSchedule`` of ``ProductionRequest`` |
| ``ProductionOrder`` + ``Batch`` links | ``OperationsPerformance``, one ``OperationsResponse`` per order with its consumed and produced lots as ``MaterialActual`` | ``ProductionPerformance`` with ``MaterialConsumedActual`` / ``MaterialProducedActual`` |

Lots and definitions travel inside a ``MaterialInformation`` (ISA-95's container for material
classes, definitions and lots): one document for any number of them, and a valid document
even for none. What B2MML has no element for travels as a named property
(``MaterialLotProperty`` / ``MaterialDefinitionProperty``, see PROPERTY_* below), so
:mod:`adapters.b2mml.reader` gets every canonical field back.

V0701 makes ``ProcessSegmentID``, ``OperationsDefinitionID`` and ``OperationsSegmentID``
mandatory in every ``SegmentRequirement``. The hub knows no routing, so a production order is
one segment: ``ProcessSegmentID`` / ``OperationsSegmentID`` ``PRODUCE`` and the material id as
``OperationsDefinitionID`` (the definition of how that material is made). This is a
convention of the hub, not of Opcenter or MESA (README: INFERRED).

Every writer validates what it wrote against the official schema before handing it out: an
invalid document is a bug or unrepresentable data and raises ``FatalError B2MML_EXPORT_INVALID``
naming the element; nothing invalid ever leaves.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Optional, Sequence

from lxml import etree

from adapters.b2mml import schemas
from adapters.b2mml.schemas import NAMESPACES, V0600, V0701
from canonical_model.documents import Batch, Material, ProductionOrder
from hub.errors import FatalError

PROPERTY_SUPPLIER = "SupplierID"
PROPERTY_SUPPLIER_BATCH = "SupplierBatchNumber"
PROPERTY_EXPIRY = "ExpiryDate"
#: one Value per production order that consumed the lot / the lot was produced by
PROPERTY_CONSUMED_BY = "ConsumedBy"
PROPERTY_PRODUCED = "Produced"
PROPERTY_BASE_UOM = "BaseUnitOfMeasure"
PROPERTY_SPEC = "Specification"
PROPERTY_GTIN = "GTIN"
#: one property per supplier: ``SupplierPartNumber:<supplier_id>`` = the supplier's part number
PROPERTY_SUPPLIER_PART_PREFIX = "SupplierPartNumber:"
LINK_PROPERTIES = {"consumed_by": PROPERTY_CONSUMED_BY, "produced": PROPERTY_PRODUCED}

PROCESS_SEGMENT = "PRODUCE"
OPERATIONS_TYPE = "Production"

#: canonical Batch.status -> B2MML MaterialLot Status text (a free code) and V0701 Disposition
LOT_STATUS_TEXT = {"quarantined": "Quarantined", "released": "Released", "rejected": "Rejected",
                   "consumed": "Consumed"}
LOT_DISPOSITION = {"quarantined": "Restricted", "released": "UnRestricted", "rejected": "Restricted",
                   "consumed": "Closed"}
#: canonical ProductionOrder.status -> V0701 RequestState (schedule) / ResponseState (performance)
REQUEST_STATE = {"planned": "Forecast", "released": "Released", "started": "Running", "completed": "Completed",
                 "closed": "Closed", "cancelled": "Cancelled"}
RESPONSE_STATE = {"planned": "Waiting", "released": "Ready", "started": "Running", "completed": "Completed",
                  "closed": "Closed", "cancelled": "Aborted"}
#: V0600 knows fewer states; the others travel as Other + OtherValue=<canonical status>
V0600_REQUEST_STATE = {"planned": "Forecast", "released": "Released"}
V0600_RESPONSE_STATE = {"released": "Ready", "started": "Running", "completed": "Completed", "cancelled": "Aborted"}


@dataclass(frozen=True)
class Header:
    """The document's own identity: an id and when it was published."""

    document_id: str
    published: dt.datetime
    description: Optional[str] = None


class _Builder:
    """Elements in one B2MML namespace (the default namespace of the document)."""

    def __init__(self, version: str) -> None:
        if version not in NAMESPACES:
            raise FatalError("B2MML_VERSION", f"unknown B2MML version {version!r}; use one of "
                                              f"{', '.join(schemas.VERSIONS)}", "b2mml")
        self.version = version
        self.ns = NAMESPACES[version]

    def root(self, name: str) -> etree._Element:
        return etree.Element(self._tag(name), nsmap={None: self.ns})

    def _tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def add(self, parent: etree._Element, name: str, text: object = None, **attributes: str) -> etree._Element:
        child = etree.SubElement(parent, self._tag(name), attributes)
        if text is not None:
            try:
                child.text = _text(text)
            except ValueError:  # control characters and the like: XML 1.0 cannot carry them
                raise FatalError("B2MML_EXPORT_INVALID",
                                 f"{etree.QName(parent).localname}/{name} value {_text(text)!r} cannot be written in "
                                 f"XML (control characters); fix the canonical document", "b2mml") from None
        return child

    def add_if(self, parent: etree._Element, name: str, text: object) -> None:
        if text not in (None, ""):
            self.add(parent, name, text)

    def quantity(self, parent: etree._Element, value: Decimal, uom: Optional[str], name: str = "Quantity") -> None:
        node = self.add(parent, name)
        self.add(node, "QuantityString", value)
        self.add(node, "DataType", "decimal")
        if uom:
            self.add(node, "UnitOfMeasure", uom)

    def property(self, parent: etree._Element, element: str, prop_id: str, values: Sequence[object],
                 data_type: str = "string") -> None:
        node = self.add(parent, element)
        self.add(node, "ID", prop_id)
        for value in values:
            value_node = self.add(node, "Value")
            self.add(value_node, "ValueString", value)
            self.add(value_node, "DataType", data_type)


def _text(value: object) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


def _header(b: _Builder, root: etree._Element, header: Header, *, published_name: str = "PublishedDate") -> None:
    b.add(root, "ID", header.document_id)
    if header.description:
        b.add(root, "Description", header.description)
    b.add(root, published_name, header.published)


# ----------------------------------------------------------------------------- material


def material_lots(batches: Iterable[Batch], version: str, header: Header) -> etree._Element:
    """A ``MaterialInformation`` holding one ``MaterialLot`` per batch (valid for zero batches too)."""
    b = _Builder(version)
    root = b.root("MaterialInformation")
    b.add(root, "ID", header.document_id)
    if header.description:
        b.add(root, "Description", header.description)
    b.add(root, "PublishedDate", header.published)
    for batch in batches:
        _material_lot(b, root, batch)
    return root


def _material_lot(b: _Builder, parent: etree._Element, batch: Batch) -> None:
    lot = b.add(parent, "MaterialLot")
    b.add(lot, "ID", batch.batch_id)
    b.add(lot, "MaterialDefinitionID", batch.material_id)
    b.add(lot, "Status", LOT_STATUS_TEXT[batch.status])
    if b.version == V0701:
        b.add(lot, "Disposition", LOT_DISPOSITION[batch.status])
    if batch.supplier_id:
        b.property(lot, "MaterialLotProperty", PROPERTY_SUPPLIER, [batch.supplier_id])
    if batch.supplier_batch_number:
        b.property(lot, "MaterialLotProperty", PROPERTY_SUPPLIER_BATCH, [batch.supplier_batch_number])
    if batch.expiry_date:
        b.property(lot, "MaterialLotProperty", PROPERTY_EXPIRY, [batch.expiry_date], data_type="date")
    for relation, prop_id in LINK_PROPERTIES.items():
        refs = [link.ref for link in batch.links if link.relation == relation]
        if refs:
            b.property(lot, "MaterialLotProperty", prop_id, refs)
    b.quantity(lot, batch.quantity, batch.uom)


def material_definitions(materials: Iterable[Material], version: str, header: Header) -> etree._Element:
    """A ``MaterialInformation`` holding one ``MaterialDefinition`` per material."""
    b = _Builder(version)
    root = b.root("MaterialInformation")
    b.add(root, "ID", header.document_id)
    if header.description:
        b.add(root, "Description", header.description)
    b.add(root, "PublishedDate", header.published)
    for material in materials:
        definition = b.add(root, "MaterialDefinition")
        b.add(definition, "ID", material.material_id)
        b.add(definition, "Description", material.name)
        b.property(definition, "MaterialDefinitionProperty", PROPERTY_BASE_UOM, [material.uom], data_type="Code")
        if material.spec:
            b.property(definition, "MaterialDefinitionProperty", PROPERTY_SPEC, [material.spec])
        if material.gtin:
            b.property(definition, "MaterialDefinitionProperty", PROPERTY_GTIN, [material.gtin])
        for part in material.supplier_part_numbers:
            b.property(definition, "MaterialDefinitionProperty", PROPERTY_SUPPLIER_PART_PREFIX + part.supplier_id,
                       [part.supplier_material_id])
    return root


# ----------------------------------------------------------------------------- schedule


def schedule(orders: Sequence[ProductionOrder], version: str, header: Header) -> etree._Element:
    """V0701 ``OperationsSchedule`` / V0600 ``ProductionSchedule``, one request per order.

    V0701 needs at least one ``OperationsRequest``: an empty ``orders`` raises
    ``FatalError B2MML_NOTHING_TO_EXPORT`` (V0600 accepts an empty schedule).
    """
    b = _Builder(version)
    if version == V0600:
        root = b.root("ProductionSchedule")
        _header(b, root, header)
        for order in orders:
            _production_request(b, root, order)
        return root
    if not orders:
        raise FatalError("B2MML_NOTHING_TO_EXPORT", "a V0701 OperationsSchedule needs at least one "
                                                    "OperationsRequest and there is no ProductionOrder", "b2mml")
    root = b.root("OperationsSchedule")
    _header(b, root, header)
    b.add(root, "OperationsType", OPERATIONS_TYPE)
    for order in orders:
        _operations_request(b, root, order)
    return root


def _operations_request(b: _Builder, parent: etree._Element, order: ProductionOrder) -> None:
    request = b.add(parent, "OperationsRequest")
    b.add(request, "ID", order.order_id)
    b.add(request, "Version", order.version)
    b.add_if(request, "StartTime", order.start)
    b.add_if(request, "EndTime", order.due)
    b.add(request, "OperationsType", OPERATIONS_TYPE)
    b.add(request, "RequestState", REQUEST_STATE[order.status])
    segment = b.add(request, "SegmentRequirement")
    b.add(segment, "ID", order.order_id)
    b.add_if(segment, "EarliestStartTime", order.start)
    b.add_if(segment, "LatestEndTime", order.due)
    b.add(segment, "OperationsType", OPERATIONS_TYPE)
    b.add(segment, "ProcessSegmentID", PROCESS_SEGMENT)
    b.add(segment, "OperationsDefinitionID", order.material_id)
    b.add(segment, "OperationsSegmentID", PROCESS_SEGMENT)
    if order.line:
        equipment = b.add(segment, "EquipmentRequirement")
        b.add(equipment, "ID", order.line)
        b.add(equipment, "EquipmentID", order.line)
    material = b.add(segment, "MaterialRequirement")
    b.add(material, "ID", f"{order.order_id}:output")
    b.add(material, "MaterialDefinitionID", order.material_id)
    b.add(material, "MaterialUse", "Produced")
    b.quantity(material, order.quantity, order.uom)


def _production_request(b: _Builder, parent: etree._Element, order: ProductionOrder) -> None:
    request = b.add(parent, "ProductionRequest")
    b.add(request, "ID", order.order_id)
    b.add(request, "Version", order.version)  # the ProductProductionRuleIDGroup's Version
    b.add_if(request, "StartTime", order.start)
    b.add_if(request, "EndTime", order.due)
    segment = b.add(request, "SegmentRequirement")
    b.add(segment, "ID", order.order_id)
    b.add(segment, "ProcessSegmentID", PROCESS_SEGMENT)
    b.add_if(segment, "EarliestStartTime", order.start)
    b.add_if(segment, "LatestEndTime", order.due)
    if order.line:
        equipment = b.add(segment, "EquipmentRequirement")
        b.add(equipment, "EquipmentID", order.line)
    produced = b.add(segment, "MaterialProducedRequirement")
    b.add(produced, "MaterialDefinitionID", order.material_id)
    b.quantity(produced, order.quantity, order.uom)
    _v0600_state(b, request, "RequestState", V0600_REQUEST_STATE, order.status)


def _v0600_state(b: _Builder, parent: etree._Element, name: str, table: dict[str, str], status: str) -> None:
    if status in table:
        b.add(parent, name, table[status])
    else:
        b.add(parent, name, "Other", OtherValue=status)


# ----------------------------------------------------------------------------- performance


def performance(orders: Sequence[ProductionOrder], batches: Iterable[Batch], version: str,
                header: Header) -> etree._Element:
    """V0701 ``OperationsPerformance`` / V0600 ``ProductionPerformance``: one response per order
    that has started (or ended) or has lots linked to it, with those lots as material actuals.

    A ``Batch`` link ``consumed_by`` an order is a consumed actual of that order, ``produced``
    a produced one. Link quantities are not known to the canonical model, so actuals carry none.
    """
    consumed: dict[str, list[Batch]] = {}
    produced: dict[str, list[Batch]] = {}
    for batch in batches:
        for link in batch.links:
            (consumed if link.relation == "consumed_by" else produced).setdefault(link.ref, []).append(batch)
    reported = [o for o in orders if o.status not in ("planned", "released") or o.order_id in consumed
                or o.order_id in produced]
    b = _Builder(version)
    if version == V0600:
        root = b.root("ProductionPerformance")
        _header(b, root, header)
        for order in reported:
            _production_response(b, root, order, consumed.get(order.order_id, []), produced.get(order.order_id, []))
        return root
    if not reported:
        raise FatalError("B2MML_NOTHING_TO_EXPORT", "a V0701 OperationsPerformance needs at least one "
                                                    "OperationsResponse and no ProductionOrder has started or has "
                                                    "lots linked to it", "b2mml")
    root = b.root("OperationsPerformance")
    _header(b, root, header)
    b.add(root, "OperationsType", OPERATIONS_TYPE)
    for order in reported:
        response = b.add(root, "OperationsResponse")
        b.add(response, "ID", order.order_id)
        b.add(response, "OperationsType", OPERATIONS_TYPE)
        b.add(response, "OperationsRequestID", order.order_id)
        b.add(response, "ResponseState", RESPONSE_STATE[order.status])
        segment = b.add(response, "SegmentResponse")
        b.add(segment, "ID", order.order_id)
        b.add(segment, "OperationsType", OPERATIONS_TYPE)
        b.add(segment, "ProcessSegmentID", PROCESS_SEGMENT)
        b.add(segment, "OperationsRequestID", order.order_id)
        b.add(segment, "SegmentState", RESPONSE_STATE[order.status])
        for use, lots in (("Consumed", consumed.get(order.order_id, [])), ("Produced", produced.get(order.order_id, []))):
            for batch in lots:
                actual = b.add(segment, "MaterialActual")
                b.add(actual, "ID", f"{batch.batch_id}:{use.lower()}")
                b.add(actual, "MaterialDefinitionID", batch.material_id)
                b.add(actual, "MaterialLotID", batch.batch_id)
                b.add(actual, "MaterialUse", use)
    return root


def _production_response(b: _Builder, parent: etree._Element, order: ProductionOrder, consumed: list[Batch],
                         produced: list[Batch]) -> None:
    response = b.add(parent, "ProductionResponse")
    b.add(response, "ID", order.order_id)
    b.add(response, "ProductionRequestID", order.order_id)
    segment = b.add(response, "SegmentResponse")
    b.add(segment, "ID", order.order_id)
    b.add(segment, "ProcessSegmentID", PROCESS_SEGMENT)
    for name, lots in (("MaterialProducedActual", produced), ("MaterialConsumedActual", consumed)):
        for batch in lots:
            actual = b.add(segment, name)
            b.add(actual, "MaterialDefinitionID", batch.material_id)
            b.add(actual, "MaterialLotID", batch.batch_id)
    _v0600_state(b, response, "ResponseState", V0600_RESPONSE_STATE, order.status)


# ----------------------------------------------------------------------------- output


def to_bytes(root: etree._Element, version: str) -> bytes:
    """Validate ``root`` against the official schema, then serialise it (UTF-8, declaration, indented)."""
    found = schemas.issues(root, version)
    if found:
        detail = "; ".join(issue.text() for issue in found[:5])
        more = f" (+{len(found) - 5} more)" if len(found) > 5 else ""
        raise FatalError("B2MML_EXPORT_INVALID",
                         f"the {etree.QName(root).localname} the hub wrote does not validate against B2MML "
                         f"{version}: {detail}{more}", "b2mml")
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
