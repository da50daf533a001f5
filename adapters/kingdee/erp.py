"""Kingdee K/3 Cloud as the hub's ERP (hub.erp.ErpClient): pull six entities, push three kinds.

Pulls stream ExecuteBillQuery pages through :func:`adapters.kingdee.entities.records` (one record
per bill, memory flat); incremental entities filter ``FModifyDate`` or ``FApproveDate`` at/after
``since`` (the flow has already moved ``since`` back by its overlap window); ``stock`` is a full
snapshot every time (STK_Inventory has no modification date on many sites).

Pushes convert canonical codes to the site's numbers (:class:`KingdeeCodes`) and post through
the hook's idempotent Save -> Submit -> Audit step, found again by the external number:

* ``receipt``        -> ``STK_InStock`` (default) or ``PUR_ReceiveBill`` (extra ``receipt_form``);
* ``inspection``     -> ``QM_InspectBill`` (extra ``inspection_form``; INFERRED, see README);
* ``order_response`` -> the PO itself: UnAudit (if audited) -> Save of the existing ``FID`` with
  its ``FEntryID`` rows carrying the promised quantity/date -> Submit -> Audit; idempotent by
  content (a line already promised as asked is not written again).
"""
from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from adapters.kingdee import entities
from adapters.kingdee.config import DEFAULT_CONN_ID, KingdeeConfig
from adapters.kingdee.hook import KingdeeHook
from adapters.kingdee.translate import (
    INSTOCK_FORM, PO_ENTRY, PO_FORM, PROMISED_DATE_FIELD, PROMISED_QTY_FIELD, RECEIVE_FORM, KingdeeCodes,
    inspection_to_model, order_response_updates, receipt_in_kingdee_codes, receipt_to_instock_model,
    receipt_to_receive_model,
)
from canonical_model.documents import CanonicalDocument, Inspection, OrderResponse, Receipt
from hub.erp import PUSH_KINDS, ErpRecord
from hub.errors import FatalError, SkippableError
from mappings.engine import MAPPINGS_DIR

log = logging.getLogger(__name__)

#: attempts per call when the Connection does not say (extra ``max_attempts``)
DEFAULT_ATTEMPTS = 4
MAPPING_DIR = MAPPINGS_DIR / "kingdee"


class KingdeeErp:
    system = "kingdee"

    def __init__(self, conn_id: str = DEFAULT_CONN_ID, *, hook: Optional[KingdeeHook] = None) -> None:
        if hook is None:
            config = KingdeeConfig.from_conn_id(conn_id)
            hook = KingdeeHook(config, max_attempts=config.max_attempts or DEFAULT_ATTEMPTS)
        self.hook = hook
        self.config: KingdeeConfig = hook.config
        self.codes = KingdeeCodes()

    def __repr__(self) -> str:
        return f"KingdeeErp({self.hook!r})"

    def close(self) -> None:
        self.hook.close()

    def __enter__(self) -> "KingdeeErp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pull
    def mapping_path(self, entity: str) -> Path:
        return MAPPING_DIR / f"{_spec(entity).form_id}.yaml"

    def pull(self, entity: str, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        spec = _spec(entity)
        if since is not None and not spec.date_keys:
            log.info("kingdee %s (%s) has no change date: pulling a full snapshot, not since %s", entity,
                     spec.form_id, since)
        rows = self.hook.execute_bill_query(spec.form_id, spec.field_keys, spec.filter_string(since),
                                            spec.order_string, unique_key=spec.unique_key)
        return entities.records(rows, spec)

    # ------------------------------------------------------------------ push
    def push(self, kind: str, document: CanonicalDocument, external_number: str) -> str:
        expected = PUSH_KINDS.get(kind)
        if expected is None:
            raise FatalError("KINGDEE_PUSH_KIND", f"unknown push kind {kind!r}; use one of {', '.join(PUSH_KINDS)}",
                             f"kingdee:{kind}")
        if type(document).__name__ != expected:
            raise FatalError("KINGDEE_PUSH_KIND", f"push {kind} takes a {expected}, got {type(document).__name__}",
                             f"kingdee:{kind}")
        if not str(external_number or "").strip():
            raise FatalError("KINGDEE_PUSH_KIND", "external_number is empty: it is what makes the push idempotent",
                             f"kingdee:{kind}")
        if kind == "receipt":
            return self._push_receipt(document, external_number)  # type: ignore[arg-type]
        if kind == "inspection":
            return self._push_inspection(document, external_number)  # type: ignore[arg-type]
        return self._push_order_response(document, external_number)  # type: ignore[arg-type]

    def _push_receipt(self, receipt: Receipt, external_number: str) -> str:
        cfg = self.config
        form = cfg.receipt_form or INSTOCK_FORM
        with _located(f"kingdee:{form}:{external_number}"):
            data = receipt_in_kingdee_codes(receipt, self.codes)
            if form == RECEIVE_FORM:
                model = receipt_to_receive_model(data, cfg.external_number_field, cfg.org)
                field = cfg.external_number_field
            else:
                model = receipt_to_instock_model(data, cfg.instock_external_number_field, cfg.org)
                field = cfg.instock_external_number_field
        return self.hook.save_submit_audit_idempotent(form, model, field, external_number)

    def _push_inspection(self, inspection: Inspection, external_number: str) -> str:
        cfg = self.config
        with _located(f"kingdee:{cfg.inspection_form}:{external_number}"):
            model = inspection_to_model(inspection, self.codes, cfg.external_number_field, cfg.org)
        return self.hook.save_submit_audit_idempotent(cfg.inspection_form, model, cfg.external_number_field,
                                                      external_number)

    def _push_order_response(self, response: OrderResponse, external_number: str) -> str:
        where = f"kingdee:{self.config.acct_id}:{PO_FORM}:{response.po_number}"
        with _located(f"kingdee:{PO_FORM}:{external_number}"):
            supplier = self.codes.supplier(response.supplier_id, f"OrderResponse:{response.po_number}")
        return self.hook.retrying(lambda: self._write_promises(response, supplier, external_number, where),
                                  f"order response {external_number} on {PO_FORM} {response.po_number}")

    def _write_promises(self, response: OrderResponse, supplier: str, external_number: str, where: str) -> str:
        hook = self.hook
        literal = response.po_number.replace("'", "''")
        keys = ["FID", "FBillNo", "FDocumentStatus", "FSupplierId.FNumber", f"{PO_ENTRY}_FEntryID", "FSeq", "FQty",
                "FDeliveryDate", PROMISED_QTY_FIELD, PROMISED_DATE_FIELD]
        rows = list(hook.execute_bill_query(PO_FORM, keys, f"FBillNo='{literal}'", f"FID ASC,{PO_ENTRY}_FEntryID ASC",
                                            unique_key=["FID", f"{PO_ENTRY}_FEntryID"]))
        if not rows:
            raise SkippableError("KINGDEE_UNKNOWN_PO", f"no {PO_FORM} {response.po_number!r} to write the response "
                                                       f"{external_number} back to", where)
        fid, number, status = rows[0]["FID"], str(rows[0]["FBillNo"]), str(rows[0]["FDocumentStatus"])
        if str(rows[0]["FSupplierId.FNumber"]) != supplier:
            raise SkippableError("KINGDEE_SUPPLIER_MISMATCH",
                                 f"response {external_number} comes from {response.supplier_id} (Kingdee {supplier}) "
                                 f"but {number} is ordered from {rows[0]['FSupplierId.FNumber']}", where)
        with _located(f"kingdee:{PO_FORM}:{external_number}"):
            updates = order_response_updates(response, rows)
        if not updates and status == "C":
            log.info("kingdee %s %s already carries response %s", PO_FORM, number, external_number)
            return number
        if updates:
            if status == "B":
                raise SkippableError("KINGDEE_STATE", f"{number} is submitted for approval (status B) by someone "
                                                      f"else; audit or withdraw it in Kingdee, then replay", where)
            if status == "C":
                hook.unaudit(PO_FORM, [number])
            entry_ids = {u["FEntryID"] for u in updates}
            # every entry goes into the packet (untouched ones by FEntryID alone) so no site setting of
            # IsDeleteEntry can drop a line; NeedUpDateFields limits the write to the promised fields
            packet = updates + [{"FEntryID": row[f"{PO_ENTRY}_FEntryID"]} for row in rows
                                if row[f"{PO_ENTRY}_FEntryID"] not in entry_ids]
            hook.save(PO_FORM, {"FID": fid, PO_ENTRY: packet}, label=number, IsDeleteEntry="false",
                      NeedUpDateFields=[PO_ENTRY, PROMISED_QTY_FIELD, PROMISED_DATE_FIELD])
            status = "D" if status == "C" else status
        if status in ("A", "D", "Z"):
            hook.submit(PO_FORM, [number])
        hook.audit(PO_FORM, [number])
        log.info("kingdee %s %s: response %s written to %d line(s)", PO_FORM, number, external_number, len(updates))
        return number


@contextmanager
def _located(where: str) -> Iterator[None]:
    """Prefix a document's own error location with the form and external number it was pushed as."""
    try:
        yield
    except SkippableError as exc:
        raise exc.located(where) from None


def _spec(entity: str) -> entities.EntitySpec:
    spec = entities.SPECS.get(entity)
    if spec is None:
        raise FatalError("KINGDEE_ENTITY", f"unknown entity {entity!r}; use one of {', '.join(entities.SPECS)}",
                         f"kingdee:{entity}")
    return spec
