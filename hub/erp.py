"""The one ERP contract: what the sync and push flows need from Kingdee, U9 or U9 Cloud.

A plant runs one ERP; which one is configuration (``HUB_ERP``, default ``kingdee``) and an
Airflow Connection (``<system>_default``), never a code path in the DAGs or flows. Each ERP
adapter implements :class:`ErpClient` in ``adapters/<system>/erp.py``:

* ``pull(entity, since)`` streams whole records (a bill with its entry lines, a material, a
  supplier) as the ERP names its fields; the flow maps them with ``mapping_path(entity)``,
  validates, dedupes by content hash and stores. The client may repeat records (page overlap,
  watermark overlap); it must not drop any.
* ``push(kind, document, external_number)`` writes one canonical document into the ERP and
  returns the ERP's bill number. It is idempotent by ``external_number``: a rerun finds the
  bill it created before instead of creating a second one. ERP-specific code conversion
  (units, warehouses) happens inside the client, through crosswalks.

Errors follow the taxonomy (hub.errors): ``FatalError`` for auth/schema problems,
``RetriableError`` for transport/5xx/429/session trouble, ``SkippableError`` for one bad record
or document (names the record and the field).
"""
from __future__ import annotations

import datetime as dt
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Protocol

from canonical_model.documents import CanonicalDocument
from hub.errors import FatalError

#: entity name (CLI and DAG vocabulary) -> canonical document type it becomes
ENTITIES: dict[str, str] = {
    "suppliers": "Party",
    "materials": "Material",
    "boms": "BillOfMaterials",
    "purchase_orders": "PurchaseOrder",
    "production_orders": "ProductionOrder",
    "stock": "StockLevel",
}

#: push kind -> canonical document type it takes
PUSH_KINDS: dict[str, str] = {
    "receipt": "Receipt",
    "inspection": "Inspection",
    "order_response": "OrderResponse",
}

#: system name -> "module:factory"; the factory takes a conn_id and returns an ErpClient
SYSTEMS: dict[str, str] = {
    "kingdee": "adapters.kingdee.erp:KingdeeErp",
    "u9": "adapters.u9.erp:U9SoapErp",
    "u9cloud": "adapters.u9.erp:U9CloudErp",
}

ERP_SETTING = "HUB_ERP"
DEFAULT_ERP = "kingdee"


@dataclass(frozen=True)
class ErpRecord:
    """One record as read from the ERP."""

    #: the record's own number in the ERP (FBillNo, FNumber, DocNo, Code): names it in errors,
    #: the inbox ledger and quarantine
    key: str
    #: last modification as the ERP reports it (naive, ERP local time); None when the entity has
    #: no modification time (then every pull is a full pull and dedupe does the rest)
    modified: Optional[dt.datetime]
    #: JSON-able dict with the ERP's field names: the input of the entity's mapping
    data: dict[str, Any]


class ErpClient(Protocol):
    #: "kingdee", "u9" or "u9cloud": the outbox target and the crosswalk source name
    system: str

    def mapping_path(self, entity: str) -> Path:
        """The YAML mapping (mappings/<system>/...) turning this entity's records into canonical documents."""

    def pull(self, entity: str, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        """Records modified at or after ``since`` (all when None), page by page, memory flat."""

    def push(self, kind: str, document: CanonicalDocument, external_number: str) -> str:
        """Write ``document`` (a PUSH_KINDS type) once per ``external_number``; return the ERP bill number."""

    def close(self) -> None:
        ...


def configured_system() -> str:
    """The plant's ERP from ``HUB_ERP`` (kingdee, u9 or u9cloud)."""
    system = os.environ.get(ERP_SETTING, DEFAULT_ERP).strip().lower() or DEFAULT_ERP
    if system not in SYSTEMS:
        raise FatalError("ERP_UNKNOWN", f"{ERP_SETTING}={system!r} is not one of {', '.join(SYSTEMS)}", ERP_SETTING)
    return system


def open_erp(system: Optional[str] = None, conn_id: Optional[str] = None) -> ErpClient:
    """The ErpClient of ``system`` (default: the configured one) on Connection ``<system>_default``."""
    system = system or configured_system()
    target = SYSTEMS.get(system)
    if target is None:
        raise FatalError("ERP_UNKNOWN", f"unknown ERP system {system!r}; use one of {', '.join(SYSTEMS)}", system)
    module_name, factory_name = target.split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    return factory(conn_id or f"{system}_default")
