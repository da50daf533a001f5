"""Canonical documents: the one vocabulary every adapter translates into.

Names follow ISA-95/B2MML where they exist and OAGIS-like names for orders (see
ARCHITECTURE.md). Quantities are ``Decimal`` and travel as JSON strings, never floats, so a
quantity of ``0.1`` survives a round trip exactly. Every document names its ``source`` and is
hashed over its business content (``content_hash``) so that re-delivery is recognisable.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

# Decimal serialised as a JSON string; accepted from strings, ints and Decimals.
Quantity = Annotated[
    Decimal,
    # normalised so that "10.50" and "10.5" hash alike
    PlainSerializer(lambda v: format(v.normalize(), "f"), return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}),
]


class Source(BaseModel):
    """Where a document came from: system, file or request, and control numbers."""

    model_config = ConfigDict(extra="forbid")
    system: str
    partner: Optional[str] = None
    file: Optional[str] = None
    request: Optional[str] = None
    interchange_ref: Optional[str] = None
    message_ref: Optional[str] = None


class CanonicalDocument(BaseModel):
    """Base of every canonical document; ``type`` names it in JSON."""

    model_config = ConfigDict(extra="forbid")
    #: field names that together identify the document across versions
    business_key_fields: ClassVar[tuple[str, ...]] = ()

    source: Optional[Source] = None

    @property
    def business_key(self) -> str:
        return "/".join(str(getattr(self, f)) for f in self.business_key_fields)

    def content(self) -> dict[str, Any]:
        """Business content: everything except where it came from."""
        return self.model_dump(mode="json", exclude={"source"})

    @property
    def content_hash(self) -> str:
        canonical_json = json.dumps(self.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical_json.encode("utf-8")).hexdigest()


class ExternalId(BaseModel):
    model_config = ConfigDict(extra="forbid")
    system: str
    id: str


class Party(CanonicalDocument):
    business_key_fields: ClassVar = ("party_id",)
    type: Literal["Party"] = "Party"
    party_id: str
    role: Literal["supplier", "plant", "customer", "carrier"]
    name: str
    gln: Optional[str] = None
    external_ids: list[ExternalId] = Field(default_factory=list)


class SupplierPartNumber(BaseModel):
    model_config = ConfigDict(extra="forbid")
    supplier_id: str
    supplier_material_id: str


class Material(CanonicalDocument):
    business_key_fields: ClassVar = ("material_id",)
    type: Literal["Material"] = "Material"
    material_id: str
    name: str
    uom: str
    spec: Optional[str] = None
    gtin: Optional[str] = None
    supplier_part_numbers: list[SupplierPartNumber] = Field(default_factory=list)


class PurchaseOrderLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1)
    material_id: str
    supplier_material_id: Optional[str] = None
    quantity: Quantity
    uom: str
    unit_price: Optional[Quantity] = None
    delivery_date: Optional[dt.date] = None


class PurchaseOrder(CanonicalDocument):
    business_key_fields: ClassVar = ("po_number",)
    type: Literal["PurchaseOrder"] = "PurchaseOrder"
    po_number: str
    supplier_id: str
    buyer_id: Optional[str] = None
    order_date: dt.date
    currency: Optional[str] = None
    version: int = 1
    status: Literal["open", "changed", "closed", "cancelled"] = "open"
    lines: list[PurchaseOrderLine] = Field(min_length=1)


class ShipmentNoticeLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1)
    po_number: Optional[str] = None
    po_line_no: Optional[int] = None
    material_id: str
    supplier_material_id: Optional[str] = None
    quantity: Quantity
    uom: str
    batch_number: Optional[str] = None
    package_id: Optional[str] = None
    expiry_date: Optional[dt.date] = None


class ShipmentNotice(CanonicalDocument):
    business_key_fields: ClassVar = ("supplier_id", "asn_number")
    type: Literal["ShipmentNotice"] = "ShipmentNotice"
    asn_number: str
    supplier_id: str
    #: a replacement is a new version of the same ASN; a cancellation is a version with status cancelled
    status: Literal["active", "cancelled"] = "active"
    ship_to_id: Optional[str] = None
    ship_date: Optional[dt.date] = None
    expected_arrival: Optional[dt.date] = None
    lines: list[ShipmentNoticeLine] = Field(min_length=1)


class BatchLink(BaseModel):
    model_config = ConfigDict(extra="forbid")
    relation: Literal["consumed_by", "produced"]
    ref: str


class Batch(CanonicalDocument):
    business_key_fields: ClassVar = ("batch_id",)
    type: Literal["Batch"] = "Batch"
    batch_id: str
    material_id: str
    supplier_id: Optional[str] = None
    supplier_batch_number: Optional[str] = None
    quantity: Quantity
    uom: str
    status: Literal["quarantined", "released", "rejected", "consumed"] = "quarantined"
    expiry_date: Optional[dt.date] = None
    links: list[BatchLink] = Field(default_factory=list)


def supplier_lot(batch_id: Optional[str], supplier_id: Optional[str]) -> Optional[str]:
    """The supplier's own lot number inside a hub batch id ``<supplier_id>:<lot>``: what an ERP books.

    Batch ids are prefixed with the supplier because two suppliers may use the same lot number;
    an id without that prefix is returned as it is.
    """
    if batch_id and supplier_id and batch_id.startswith(f"{supplier_id}:"):
        return batch_id[len(supplier_id) + 1:]
    return batch_id


class ReceiptLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1)
    po_number: Optional[str] = None
    po_line_no: Optional[int] = None
    material_id: str
    quantity: Quantity
    uom: str
    batch_id: Optional[str] = None
    location: Optional[str] = None


class Receipt(CanonicalDocument):
    business_key_fields: ClassVar = ("receipt_id",)
    type: Literal["Receipt"] = "Receipt"
    receipt_id: str
    asn_number: Optional[str] = None
    supplier_id: Optional[str] = None
    received_at: dt.datetime
    lines: list[ReceiptLine] = Field(min_length=1)


class SubjectRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    key: str


class Alert(CanonicalDocument):
    business_key_fields: ClassVar = ("alert_id",)
    type: Literal["Alert"] = "Alert"
    alert_id: str
    alert_type: str
    severity: Literal["info", "warning", "critical"] = "warning"
    subjects: list[SubjectRef] = Field(default_factory=list)
    responsible_party: str
    status: Literal["open", "acknowledged", "resolved", "closed"] = "open"
    message: str
    due: Optional[dt.datetime] = None


class OrderResponseLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1, description="the purchase order line answered")
    action: Literal["accepted", "changed", "rejected"]
    material_id: Optional[str] = None
    quantity: Optional[Quantity] = None
    uom: Optional[str] = None
    delivery_date: Optional[dt.date] = None
    reason: Optional[str] = None


class OrderResponse(CanonicalDocument):
    """A supplier's answer to a purchase order (ORDRSP / 855 / portal acceptance)."""

    business_key_fields: ClassVar = ("supplier_id", "po_number")
    type: Literal["OrderResponse"] = "OrderResponse"
    po_number: str
    supplier_id: str
    response_number: Optional[str] = None
    status: Literal["accepted", "changed", "rejected"]
    responded_at: Optional[dt.datetime] = None
    lines: list[OrderResponseLine] = Field(default_factory=list)


class DeliveryScheduleLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    material_id: str
    supplier_material_id: Optional[str] = None
    date: dt.date
    quantity: Quantity
    uom: str
    commitment: Literal["firm", "forecast"]


class DeliverySchedule(CanonicalDocument):
    """The plan sent to a supplier (DELFOR / 830): firm and forecast quantities by date."""

    business_key_fields: ClassVar = ("supplier_id", "schedule_id")
    type: Literal["DeliverySchedule"] = "DeliverySchedule"
    schedule_id: str
    supplier_id: str
    ship_to_id: Optional[str] = None
    version: int = 1
    issued_at: Optional[dt.datetime] = None
    horizon_start: dt.date
    horizon_end: dt.date
    lines: list[DeliveryScheduleLine] = Field(min_length=1)


class InventoryReportLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    material_id: str
    supplier_material_id: Optional[str] = None
    quantity: Quantity
    uom: str
    kind: Literal["on_hand", "available", "in_transit", "allocated"] = "on_hand"
    location: Optional[str] = None
    batch_number: Optional[str] = None


class InventoryReport(CanonicalDocument):
    """Stock at a supplier (INVRPT / 846)."""

    business_key_fields: ClassVar = ("supplier_id", "report_id")
    type: Literal["InventoryReport"] = "InventoryReport"
    report_id: str
    supplier_id: str
    as_of: Optional[dt.datetime] = None
    lines: list[InventoryReportLine] = Field(min_length=1)


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1)
    po_number: Optional[str] = None
    po_line_no: Optional[int] = None
    material_id: str
    supplier_material_id: Optional[str] = None
    quantity: Quantity
    uom: str
    unit_price: Optional[Quantity] = None
    amount: Optional[Quantity] = None


class Invoice(CanonicalDocument):
    """A supplier invoice (INVOIC / 810), kept for the three-way match PO - receipt - invoice."""

    business_key_fields: ClassVar = ("supplier_id", "invoice_number")
    type: Literal["Invoice"] = "Invoice"
    invoice_number: str
    supplier_id: str
    invoice_date: dt.date
    currency: Optional[str] = None
    po_number: Optional[str] = None
    total_amount: Optional[Quantity] = None
    tax_amount: Optional[Quantity] = None
    lines: list[InvoiceLine] = Field(min_length=1)


class BomComponent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    line_no: int = Field(ge=1)
    material_id: str
    #: per ``BillOfMaterials.base_quantity`` of the parent
    quantity_per: Quantity = Field(gt=0)
    uom: str
    #: fraction lost in production (0.02 = 2 %), so gross = net * (1 + scrap_rate)
    scrap_rate: Quantity = Field(default=Decimal(0), ge=0, lt=1)
    valid_from: Optional[dt.date] = None
    valid_to: Optional[dt.date] = None


class BillOfMaterials(CanonicalDocument):
    """One BOM version of a parent material (ERP ENG_BOM / U9 BOMMaster)."""

    business_key_fields: ClassVar = ("bom_id",)
    type: Literal["BillOfMaterials"] = "BillOfMaterials"
    bom_id: str
    material_id: str
    base_quantity: Quantity = Field(default=Decimal(1), gt=0)
    uom: Optional[str] = None
    status: Literal["active", "inactive"] = "active"
    components: list[BomComponent] = Field(min_length=1)


class ProductionOrder(CanonicalDocument):
    """An MES work order or ERP production order (PRD_MO / U9 MO)."""

    business_key_fields: ClassVar = ("order_id",)
    type: Literal["ProductionOrder"] = "ProductionOrder"
    order_id: str
    material_id: str
    quantity: Quantity = Field(gt=0)
    uom: str
    start: Optional[dt.datetime] = None
    due: Optional[dt.datetime] = None
    line: Optional[str] = None
    status: Literal["planned", "released", "started", "completed", "closed", "cancelled"] = "planned"
    version: int = 1


class StockLevel(CanonicalDocument):
    """On-hand stock of one material in one warehouse (and batch, where the ERP keeps batches)."""

    business_key_fields: ClassVar = ("material_id", "warehouse", "batch_number")
    type: Literal["StockLevel"] = "StockLevel"
    material_id: str
    warehouse: str
    #: "" when the ERP does not keep batches for the material (part of the business key)
    batch_number: str = ""
    quantity: Quantity
    uom: str
    as_of: Optional[dt.datetime] = None


class InspectionCharacteristic(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    value: Optional[str] = None
    result: Literal["pass", "fail"]


class Inspection(CanonicalDocument):
    """An incoming-goods QC result for one batch (pushed to the ERP's inspection bill)."""

    business_key_fields: ClassVar = ("inspection_id",)
    type: Literal["Inspection"] = "Inspection"
    inspection_id: str
    batch_id: str
    material_id: str
    supplier_id: Optional[str] = None
    receipt_id: Optional[str] = None
    po_number: Optional[str] = None
    inspected_quantity: Quantity = Field(ge=0)
    rejected_quantity: Quantity = Field(default=Decimal(0), ge=0)
    uom: str
    result: Literal["pass", "fail", "conditional"]
    inspected_at: dt.datetime
    characteristics: list[InspectionCharacteristic] = Field(default_factory=list)
    defects: list[str] = Field(default_factory=list)


AnyDocument = Annotated[
    Union[Party, Material, PurchaseOrder, ShipmentNotice, Batch, Receipt, Alert, OrderResponse, DeliverySchedule,
          InventoryReport, Invoice, BillOfMaterials, ProductionOrder, StockLevel, Inspection],
    Field(discriminator="type"),
]

DOCUMENT_TYPES: dict[str, type[CanonicalDocument]] = {
    cls.model_fields["type"].default: cls
    for cls in (Party, Material, PurchaseOrder, ShipmentNotice, Batch, Receipt, Alert, OrderResponse,
                DeliverySchedule, InventoryReport, Invoice, BillOfMaterials, ProductionOrder, StockLevel, Inspection)
}
