"""Request and response bodies of the ingress API (pydantic; their JSON Schemas go into /openapi.json).

The WMS and Opcenter event envelopes are the hub's own design: neither protocol note defines a
push format (INFERRED). They carry what the hub's pull paths already read, so a pushed event and
a polled one end in the same canonical documents:

* WMS ``receipt``: the neutral receipt confirmation of protocols/wms.md §3 (``asn_no``,
  ``received_at``, ``complete``, ``lines[{sku, lot, qty_received, qty_damaged, bin}]``);
  ``asn_no`` is the hub's ASN key that the expected receipt carried (``SUP-001/ASN-0042``);
* WMS ``qc``: a QC decision on one batch (``hold`` / ``released`` / ``rejected``);
* Opcenter ``production_order``: one ``Order`` entity as the OData set returns it;
* Opcenter ``consumption``: one material lot (``MaterialLot`` entity, or null) with the
  ``MaterialConsumption`` entities that used it (each naming its ``OrderNId``).

Suppliers post a canonical ``ShipmentNotice`` (ARCHITECTURE.md); ``supplier_id`` may be left
out (it is the partner in the path) and ``source`` is set by the hub.
"""
from __future__ import annotations

import datetime as dt
import re
from copy import deepcopy
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, WithJsonSchema, model_validator

from canonical_model.documents import ShipmentNotice

_DECIMAL_TEXT = re.compile(r"^\d{1,18}(\.\d{1,9})?$")


def _non_negative_amount(value: Any) -> Any:
    # numbers as a WMS sends them, or decimal strings as the canonical model writes them; never
    # booleans, exponents, NaN or a sign
    if isinstance(value, bool):
        raise ValueError("a quantity is a number or a decimal string, not a boolean")
    if isinstance(value, str) and not _DECIMAL_TEXT.match(value):
        raise ValueError("a quantity string looks like 12 or 12.5 (no sign, no exponent)")
    if isinstance(value, (int, float)) and not (0 <= value < 10 ** 18):
        raise ValueError("a quantity is between 0 and 10^18")
    return value


Amount = Annotated[
    Decimal,
    BeforeValidator(_non_negative_amount),
    WithJsonSchema({"anyOf": [{"type": "number", "minimum": 0, "maximum": 1e17},
                              {"type": "string", "pattern": r"^\d{1,18}(\.\d{1,9})?$"}]}),
]
Text = Annotated[str, Field(min_length=1, max_length=128)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ----------------------------------------------------------------------------------------- WMS


class WmsReceiptLine(Strict):
    line_no: Optional[int] = Field(default=None, ge=1, le=100000)
    sku: Text = Field(description="the material as the WMS knows it (the hub's material_id)")
    lot: Optional[Text] = Field(default=None, description="the supplier batch number scanned, if the WMS keeps lots")
    package: Optional[Text] = None
    qty_received: Amount
    qty_damaged: Optional[Amount] = None
    bin: Optional[Text] = None
    bins: list[Text] = Field(default_factory=list, max_length=100)


class WmsReceipt(Strict):
    asn_no: Optional[Text] = Field(default=None, description="the hub's ASN key the expected receipt carried; "
                                                             "null when goods arrived without an ASN")
    asn_code: Optional[Text] = Field(default=None, description="the WMS's own inbound number")
    wms_id: Optional[Union[Annotated[int, Field(ge=0)], Text]] = None
    supplier: Optional[Text] = None
    received_at: dt.datetime
    complete: bool = Field(default=True, description="false while put-away is still running")
    lines: list[WmsReceiptLine] = Field(min_length=1, max_length=10000)

    @model_validator(mode="after")
    def _identified(self) -> "WmsReceipt":
        if not (self.asn_no or self.asn_code or self.wms_id is not None):
            raise ValueError("a receipt names asn_no, asn_code or wms_id")
        return self


class WmsReceiptEvent(Strict):
    type: Literal["receipt"]
    receipt: WmsReceipt


class WmsQcDecision(Strict):
    batch_id: Optional[Text] = Field(default=None, description="the hub's batch id (SUP-001:B2611-07)")
    supplier_id: Optional[Text] = None
    batch_number: Optional[Text] = Field(default=None, description="the supplier's batch number")
    material_id: Optional[Text] = None
    status: Literal["hold", "released", "rejected"]
    decided_at: Optional[dt.datetime] = None
    reason: Optional[Annotated[str, Field(max_length=1000)]] = None

    @model_validator(mode="after")
    def _identified(self) -> "WmsQcDecision":
        if not (self.batch_id or (self.supplier_id and self.batch_number)):
            raise ValueError("a QC decision names batch_id, or supplier_id and batch_number")
        return self

    @property
    def hub_batch_id(self) -> str:
        return self.batch_id or f"{self.supplier_id}:{self.batch_number}"


class WmsQcEvent(Strict):
    type: Literal["qc"]
    qc: WmsQcDecision


WmsEvent = Annotated[Union[WmsReceiptEvent, WmsQcEvent], Field(discriminator="type")]

# ------------------------------------------------------------------------------------ Opcenter


class OdataEntity(BaseModel):
    """An entity as Opcenter's OData sets return it: its own fields are passed on untouched."""

    model_config = ConfigDict(extra="allow")


class OpcenterOrder(OdataEntity):
    NId: Text


class OpcenterConsumption(OdataEntity):
    OrderNId: Text = Field(description="the production order that consumed from the lot")


class OpcenterLot(OdataEntity):
    NId: Optional[Text] = None


class OpcenterOrderEvent(Strict):
    type: Literal["production_order"]
    order: OpcenterOrder


class OpcenterConsumptionEvent(Strict):
    type: Literal["consumption"]
    lot_nid: Text = Field(description="the material lot (the hub's batch id)")
    lot: Optional[OpcenterLot] = None
    consumptions: list[OpcenterConsumption] = Field(min_length=1, max_length=10000)


OpcenterEvent = Annotated[Union[OpcenterOrderEvent, OpcenterConsumptionEvent], Field(discriminator="type")]

# ------------------------------------------------------------------------------------ Jiandaoyun


JIANDAOYUN_RECORD_OPS = ("data_create", "data_update", "data_recover", "data_remove")


class JiandaoyunRecord(BaseModel):
    """The record of a push (data/get's shape plus formName); any widget fields are passed on."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    record_id: str = Field(alias="_id", min_length=1, description="the record id")
    appId: Optional[str] = None
    entryId: Optional[str] = Field(default=None, description="the form; must be one configured in "
                                                             "jiandaoyun_default (extras *_form)")
    formName: Optional[str] = None


class JiandaoyunRecordPush(Strict):
    """A record event: create, update, recover (the whole record) or remove (at least _id, formName,
    deleter, deleteTime)."""

    op: Literal["data_create", "data_update", "data_recover", "data_remove"]
    data: JiandaoyunRecord


class JiandaoyunFormPush(Strict):
    """``form_update`` (the new form structure) or ``data_test`` (the test button)."""

    op: Literal["form_update", "data_test"]
    data: dict[str, Any]


#: a Jiandaoyun data push as protocols/jiandaoyun.md §3 describes it (the adapter verifies it)
JiandaoyunPush = Annotated[Union[JiandaoyunRecordPush, JiandaoyunFormPush], Field(discriminator="op")]


# -------------------------------------------------------------------------------------- answers


class EventAccepted(BaseModel):
    """The event is stored; it is processed asynchronously (the events DAG)."""

    status: Literal["accepted", "duplicate"] = Field(description="duplicate: this delivery was stored before; "
                                                                 "nothing changed")
    event_id: int = Field(description="the stored event (the first one, for a duplicate)")
    source: str
    kind: str


# ---------------------------------------------------------------------------------- JSON Schemas


def supplier_asn_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema, definitions) of the body suppliers post: a ShipmentNotice without ``source``,
    ``supplier_id`` optional."""
    schema = ShipmentNotice.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    definitions.pop("Source", None)
    schema = deepcopy(schema)
    schema["properties"].pop("source", None)
    schema["required"] = [name for name in schema.get("required", []) if name != "supplier_id"]
    schema["title"] = "SupplierShipmentNotice"
    schema["description"] = ("A canonical ShipmentNotice (ASN). supplier_id may be left out: it is the partner in "
                             "the path, and must equal it when given. Quantities are decimal strings.")
    return schema, definitions


def type_schema(name: str, annotation: Any) -> dict[str, dict[str, Any]]:
    """Component schemas for ``annotation`` (top level under ``name``, its definitions beside it)."""
    schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return {**definitions, name: schema}
