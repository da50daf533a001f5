"""The hub's ERP contract (hub/erp.py) for Yonyou U9: classic SOAP (``u9``) and U9 Cloud REST (``u9cloud``).

Both clients stream the same records (translate.py) so one set of mappings (``mappings/u9/``)
serves both, and push the same way: find the document by the hub's external number first, create
it only if absent, approve it unless already approved. A rerun after a lost reply therefore
continues the document it created instead of creating a second one. Not safe against two
*concurrent* pushes of one external number: the outbox serialises those.
"""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any, Iterator, Optional

from adapters.u9 import translate
from adapters.u9.cloud_hook import U9CloudHook, sql_datetime
from adapters.u9.config import CLOUD_CONN_ID, SOAP_CONN_ID
from adapters.u9.hook import U9SoapHook
from canonical_model.documents import CanonicalDocument, Inspection, OrderResponse, Receipt
from hub.erp import ENTITIES, PUSH_KINDS, ErpRecord
from hub.errors import FatalError
from mappings.engine import MAPPINGS_DIR

log = logging.getLogger(__name__)

#: in-process attempts of the ERP clients unless the connection's extra max_attempts says otherwise
DEFAULT_ATTEMPTS = 4
#: push kind -> U9 document kind (the hooks' vocabulary)
DOCUMENT_KINDS = {"receipt": "Receivement", "inspection": "InspectDoc", "order_response": "POLineConfirm"}


class _U9Erp:
    system: str
    hook: Any

    def mapping_path(self, entity: str) -> Path:
        return MAPPINGS_DIR / "u9" / self._spec(entity).mapping

    def _spec(self, entity: str) -> translate.EntitySpec:
        spec = translate.SPECS.get(entity)
        if spec is None:
            raise FatalError("ERP_ENTITY", f"unknown entity {entity!r}; use one of {', '.join(ENTITIES)}", self.system)
        return spec

    def close(self) -> None:
        self.hook.close()

    def __enter__(self) -> "_U9Erp":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pull
    def pull(self, entity: str, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        """Records modified at/after ``since`` (U9 server time; aware values are converted), page by page."""
        spec = self._spec(entity)
        cutoff = translate.u9_local(since) if since is not None else None
        for record in self._records(spec, cutoff):
            yield ErpRecord(key=spec.key(record), modified=translate.modified_of(record), data=record)

    def _records(self, spec: translate.EntitySpec, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    # ------------------------------------------------------------------ push
    def push(self, kind: str, document: CanonicalDocument, external_number: str) -> str:
        """Write ``document`` once per ``external_number``; return the U9 document number (PO number for
        an order response)."""
        expected = PUSH_KINDS.get(kind)
        if expected is None:
            raise FatalError("ERP_PUSH_KIND", f"unknown push kind {kind!r}; use one of {', '.join(PUSH_KINDS)}",
                             self.system)
        if getattr(document, "type", None) != expected:
            raise FatalError("ERP_PUSH_KIND", f"push {kind!r} takes a {expected}, got "
                                              f"{getattr(document, 'type', type(document).__name__)}", self.system)
        if not external_number or not str(external_number).strip():
            raise FatalError("ERP_PUSH_KIND", "external_number must not be empty: it is what makes the push "
                                              "idempotent", self.system)
        doc_kind = DOCUMENT_KINDS[kind]
        what = f"{self.system} push {kind} {external_number}"
        if isinstance(document, OrderResponse):
            dtos = translate.order_response_dtos(document, external_number)
            # the whole step is idempotent (it looks first), so it may be repeated after any retriable failure
            return self.hook.retrier.run(lambda: self._confirm(dtos, external_number), what)
        if isinstance(document, Receipt):
            dto = translate.receipt_dto(document, external_number, self.hook.config.receipt_warehouse)
        elif isinstance(document, Inspection):
            dto = translate.inspection_dto(document, external_number)
        else:  # unreachable: PUSH_KINDS and the type check above cover every kind
            raise FatalError("ERP_PUSH_KIND", f"no U9 document for {kind!r}", self.system)
        return self.hook.retrier.run(lambda: self._create_and_approve(doc_kind, dto, external_number), what)

    def _existing(self, doc_kind: str, external_number: str) -> Optional[tuple[str, int]]:
        rows = self.hook.find_by_external(doc_kind, external_number)
        numbers = sorted({str(r.get("DocNo")) for r in rows if r.get("DocNo")})
        if len(numbers) > 1:
            raise FatalError("U9_DUPLICATE", f"{len(numbers)} U9 {doc_kind} documents carry external number "
                                             f"{external_number!r}: {', '.join(numbers)}; resolve in U9 before "
                                             f"pushing again", f"{self.system}:{doc_kind}:{external_number}")
        if not numbers:
            return None
        row = next(r for r in rows if str(r.get("DocNo")) == numbers[0])
        try:
            status = int(row.get("Status"))
        except (TypeError, ValueError):
            status = -1
        return numbers[0], status

    def _create_and_approve(self, doc_kind: str, dto: dict[str, Any], external_number: str) -> str:
        found = self._existing(doc_kind, external_number)
        if found is not None:
            doc_no, status = found
            log.info("%s %s %s already exists for %s (status %s); resuming", self.system, doc_kind, doc_no,
                     external_number, status)
        else:
            doc_no, status = str(self.hook.create(doc_kind, dto, external_number)["DocNo"]), 0
            log.info("%s %s %s created for %s", self.system, doc_kind, doc_no, external_number)
        if status != translate.APPROVED:
            self.hook.approve(doc_kind, doc_no, external_number)
        return doc_no

    def _confirm(self, dtos: list[dict[str, Any]], external_number: str) -> str:
        found = self._existing("POLineConfirm", external_number)
        if found is not None:
            log.info("%s order response %s already written to PO %s", self.system, external_number, found[0])
            return found[0]
        return self.hook.confirm_po_lines(dtos, external_number)


class U9SoapErp(_U9Erp):
    """Classic U9 through its UBF SOAP services (zeep), Connection ``u9_default``."""

    system = "u9"

    def __init__(self, conn_id: str = SOAP_CONN_ID, *, hook: Optional[U9SoapHook] = None) -> None:
        self.hook = hook or U9SoapHook.from_conn_id(conn_id, max_attempts=DEFAULT_ATTEMPTS)

    def _records(self, spec: translate.EntitySpec, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]:
        for page in self.hook.query_pages(spec.entity, since):
            for dto in page:
                yield translate.record_from_dto(spec, dto)


class U9CloudErp(_U9Erp):
    """U9 Cloud through its OpenAPI (REST/JSON), Connection ``u9cloud_default``."""

    system = "u9cloud"

    def __init__(self, conn_id: str = CLOUD_CONN_ID, *, hook: Optional[U9CloudHook] = None) -> None:
        self.hook = hook or U9CloudHook.from_conn_id(conn_id, max_attempts=DEFAULT_ATTEMPTS)

    def _records(self, spec: translate.EntitySpec, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]:
        conditions = [c for c in (spec.condition, f"ModifiedOn >= {sql_datetime(since)}" if since else "") if c]
        for page in self.hook.sql_pages(spec.table, spec.header, " AND ".join(conditions)):
            children: dict[int, list[dict[str, Any]]] = {}
            delivery: Optional[dict[Any, Any]] = None
            if spec.line_table and spec.parent_column:
                ids = [int(row["ID"]) for row in page]
                line_columns = [c for c in spec.line_fields if c != "DeliveryDate"]
                for line in self.hook.sql_children(spec.line_table, line_columns, spec.parent_column, ids):
                    children.setdefault(int(line[spec.parent_column]), []).append(line)
                if "DeliveryDate" in spec.line_fields:  # lives on the ship lines (§1.3: PM_POShipLine)
                    delivery = translate.earliest_delivery(
                        self.hook.sql_children("PM_POShipLine", ["POLine", "DeliveryDate"], "PurchaseOrder", ids))
            for row in page:
                yield translate.record_from_rows(spec, row, children.get(int(row["ID"]), []), delivery)
