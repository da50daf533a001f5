"""WMS hook: the one entry point the flows use, whatever WMS the plant runs.

``WmsHook(config)`` / ``WmsHook.from_conn_id("wms_default")`` picks the dialect client from the
Connection extra ``dialect`` (``greaterwms`` -> ``greaterwms.GreaterWmsClient``, ``odoo`` ->
``odoo.OdooClient``); each client is the only code that knows its wire. The hook implements
``contract.Wms``: the dialect operations, passed through, plus the canonical entry points
``create_expected_receipt(asn)`` / ``cancel_expected_receipt(asn_no)``.

No retries here: errors are classified once (``errors.py``) and Airflow / the outbox retry the
retriable ones (the Odoo session route logs in again once when its session expired).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Mapping, Optional, Union

from adapters.wms import contract, translate
from adapters.wms.config import DEFAULT_CONN_ID, WmsConfig
from adapters.wms.greaterwms import GreaterWmsClient
from adapters.wms.odoo import OdooClient
from canonical_model.documents import ShipmentNotice, StockLevel
from hub.errors import FatalError

_CLIENTS = {"greaterwms": GreaterWmsClient, "odoo": OdooClient}


class WmsHook:
    def __init__(self, config: WmsConfig) -> None:
        client = _CLIENTS.get(config.dialect)
        if client is None:
            raise FatalError("WMS_DIALECT", f"dialect {config.dialect!r} has no client; use one of "
                                            f"{', '.join(sorted(_CLIENTS))}", "wms connection")
        self.config = config
        self.client: contract.WmsDialect = client(config)

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "WmsHook":
        """Build from the Airflow Connection (``AIRFLOW_CONN_<CONN_ID>`` or Airflow's store)."""
        return cls(WmsConfig.from_conn_id(conn_id))

    @property
    def dialect(self) -> str:
        return self.client.dialect

    @property
    def features(self) -> frozenset[str]:
        return self.client.features

    def supports(self, feature: str) -> bool:
        return feature in self.client.features

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "WmsHook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- canonical entry points ---------------------------------------------------------------
    def create_expected_receipt(self, asn: Union[ShipmentNotice, Mapping[str, Any]]) -> dict[str, Any]:
        """The ShipmentNotice as an expected receipt in the WMS, once (idempotent by ASN number,
        which is the ShipmentNotice's business key ``supplier/asn_number``)."""
        payload = translate.expected_receipt_from_asn(asn, self.dialect)
        business_key = getattr(asn, "business_key", None)
        if business_key is None:
            content = translate.asn_content(asn)
            business_key = f"{content.get('supplier_id')}/{content.get('asn_number')}"
        payload["asn_no"] = business_key  # unique across suppliers, as the warehouse flow keys it
        return self.client.create_inbound(**payload)

    def cancel_expected_receipt(self, asn_no: str) -> dict[str, Any]:
        return self.client.cancel_inbound(asn_no)

    # -- the dialect's operations -------------------------------------------------------------
    def create_inbound(self, asn_no: str, supplier_code: str, expected_date: Optional[str],
                       lines: list[dict[str, Any]]) -> dict[str, Any]:
        return self.client.create_inbound(asn_no, supplier_code, expected_date, lines)

    def find_inbound(self, asn_no: str) -> Optional[dict[str, Any]]:
        return self.client.find_inbound(asn_no)

    def cancel_inbound(self, asn_no: str) -> dict[str, Any]:
        return self.client.cancel_inbound(asn_no)

    def get_receipt(self, asn_code: str, asn_no: Optional[str] = None) -> Optional[dict[str, Any]]:
        return self.client.get_receipt(asn_code, asn_no)

    def receipts_since(self, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]:
        return self.client.receipts_since(since)

    def qc_hold(self, batch: contract.BatchRef) -> dict[str, Any]:
        return self.client.qc_hold(batch)

    def qc_release(self, batch: contract.BatchRef) -> dict[str, Any]:
        return self.client.qc_release(batch)

    def inventory_snapshot(self, sku: Optional[str] = None) -> Iterator[dict[str, Any]]:
        return self.client.inventory_snapshot(sku)

    def stock_snapshot(self, rejects: Optional[list] = None) -> list[StockLevel]:
        return self.client.stock_snapshot(rejects)
