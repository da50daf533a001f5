"""GreaterWMS REST client (protocols/wms.md §2): the only code that knows the GreaterWMS wire.

Implements ``contract.WmsDialect``. No retries here: errors are classified once (``errors.py``)
and Airflow / the outbox retry the retriable ones.

Finding our expected receipt again (idempotency by ASN number): GreaterWMS generates ``asn_code``
itself and has no field for our ASN number. What a real GreaterWMS stores from the client and can
filter on exactly is the header's ``creater`` (``asn/models.py`` CharField(255), ``asn/filter.py``
``creater: exact``): the hub creates every inbound with ``creater = "mes-hub:<asn_no>"`` and looks
it up with ``GET /asn/list/?creater=...``, re-checking each returned row (a server that ignored the
filter would otherwise hand back every ASN). INFERRED: using ``creater`` as the reference (the notes
name no such use; the warehouse sees "mes-hub:SUP-001/DESADV-1" as creator, which also tells them
where the inbound came from). ``asn_ref`` is still sent: the simulator keeps it (an EXTENSION; real
GreaterWMS drops unknown fields).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any, Iterator, Optional

import requests

from adapters.wms import contract, translate
from adapters.wms.config import WmsConfig
from adapters.wms.errors import classify_exception, classify_response
from canonical_model.documents import StockLevel
from hub.errors import FatalError, SkippableError

log = logging.getLogger(__name__)

#: ``creater`` on lines we create, and the prefix of the reference on headers
CREATER = "mes-hub"
#: ``utils/datasolve.data_validate`` refuses any text containing these (an HTTP 500 "Bad Data")
_REFUSED_WORDS = re.compile(r"script|select", re.IGNORECASE)
_MAX_TEXT = 255  # CharField(max_length=255) on ASN rows


def inbound_reference(asn_no: str) -> str:
    """The ``creater`` value that names our ASN number on a GreaterWMS ASN header."""
    return f"{CREATER}:{asn_no}"


def asn_no_of(asn_row: dict[str, Any]) -> Optional[str]:
    """Our ASN number from a header we created, or None for an inbound someone else created."""
    creater = str(asn_row.get("creater") or "")
    if creater.startswith(CREATER + ":"):
        return creater[len(CREATER) + 1:]
    return asn_row.get("asn_ref") or None


class GreaterWmsClient:
    dialect = "greaterwms"
    features = frozenset({contract.EXPECTED_RECEIPTS, contract.RECEIPTS, contract.STOCK})

    def __init__(self, config: WmsConfig) -> None:
        self.config = config
        self._secret = config.token.get_secret_value()
        self.session = requests.Session()
        self.session.headers.update({"token": self._secret, "Accept": "application/json"})

    def close(self) -> None:
        self.session.close()

    # -- wire -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, where: str, *, params: dict[str, Any] | None = None,
              json: Any = None) -> Any:
        url = self.config.base_url + path
        try:
            resp = self.session.request(method, url, params=params, json=json, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise classify_exception(exc, where, self._secret) from None
        log.debug("wms %s %s -> %s", method, path, resp.status_code)
        error = classify_response(resp, where, self._secret)
        if error is not None:
            raise error
        return resp.json()

    def _pages(self, path: str, params: dict[str, Any], where: str) -> Iterator[dict[str, Any]]:
        """Every row of a page-number paginated list, once.

        We count pages ourselves and use ``next`` only as "there is more": GreaterWMS builds
        ``next`` from the request's Origin header (``asn/page.py``), which a server-to-server
        client does not send, so the link's scheme cannot be trusted.
        """
        page = 1
        while True:
            body = self._call("GET", path, where, params={**params, "page": page, "max_page": self.config.page_size})
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise FatalError("WMS_CONTRACT", f"GET {path} answered without a results list", where)
            yield from results
            if not body.get("next") or not results:
                return
            page += 1

    # -- expected receipts ----------------------------------------------------------------
    def find_inbound(self, asn_no: str) -> dict[str, Any] | None:
        """The ASN header created for ``asn_no`` (found by its ``creater`` reference), or None."""
        where = f"asn {asn_no}"
        reference = inbound_reference(asn_no)
        matches = [row for row in self._pages("/asn/list/", {"creater": reference}, where)
                   if row.get("creater") == reference]
        if len(matches) > 1:
            codes = ", ".join(r["asn_code"] for r in matches)
            raise SkippableError("WMS_DUPLICATE_ASN", f"{len(matches)} WMS ASNs carry the reference {reference}: "
                                                      f"{codes}; resolve in the WMS", where)
        return matches[0] if matches else None

    def create_inbound(self, asn_no: str, supplier_code: str, expected_date: str | None,
                       lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Create the expected receipt once; a repeated call returns the existing one.

        Returns ``{wms_id, asn_code, status}``. GreaterWMS has no expected-date or UoM field on
        an ASN, so ``expected_date`` and ``uom`` are not sent (the goods master holds the unit).
        If an earlier call created the header but failed on the lines (e.g. unknown goods, or the
        answer was lost), a retry reuses that header instead of leaving an orphan behind.
        """
        where = f"asn {asn_no}"
        skus = [str(line["sku"]) for line in lines]
        if not lines:
            raise SkippableError("WMS_ASN_INCOMPLETE", "no lines to send", where)
        if len(set(skus)) != len(skus):
            raise SkippableError("WMS_DUPLICATE_SKU", "GreaterWMS takes one line per goods code; "
                                                      "sum lines first (translate.expected_receipt_from_asn)", where)
        qtys = [translate.whole_qty(line["qty"], f"{where} line {line.get('line_no')}") for line in lines]
        reference = inbound_reference(asn_no)
        for field, text in (("ASN number", reference), ("supplier", supplier_code), *(("goods code", s) for s in skus)):
            if _REFUSED_WORDS.search(text) or len(text) > _MAX_TEXT:
                raise SkippableError("WMS_REJECTED", f"GreaterWMS refuses the {field} {text[:80]!r}: it stores at most "
                                                     f"{_MAX_TEXT} characters and no text containing 'script' or "
                                                     "'select' (utils/datasolve.data_validate)", where)

        asn = self.find_inbound(asn_no)
        if asn is None:
            asn = self._call("POST", "/asn/list/", where, json={"creater": reference, "asn_ref": asn_no})
            log.info("wms created %s for asn %s", asn["asn_code"], asn_no)
        existing = [row for row in self._pages("/asn/detail/", {"asn_code": asn["asn_code"]}, where)
                    if row.get("asn_code") == asn["asn_code"]]
        if not existing:
            try:
                self._call("POST", "/asn/detail/", where, json={
                    "asn_code": asn["asn_code"], "supplier": supplier_code, "creater": CREATER,
                    "goods_code": skus, "goods_qty": qtys})
            except SkippableError as exc:
                # the WMS detail may not name the culprit; the evidence must (invariant 3)
                raise SkippableError(exc.code, f"{exc.message} (asn_code {asn['asn_code']}, supplier "
                                               f"{supplier_code}, goods {', '.join(skus)})", exc.where) from None
        else:
            sent = {row["goods_code"]: row["goods_qty"] for row in existing}
            if sent != dict(zip(skus, qtys)):
                raise SkippableError("WMS_ASN_CHANGED", f"{asn['asn_code']} already holds {sent}; "
                                                        "the ShipmentNotice now says otherwise", where)
        return {"wms_id": asn["id"], "asn_code": asn["asn_code"], "status": asn["asn_status"]}

    def cancel_inbound(self, asn_no: str) -> dict[str, Any]:
        """Withdraw the expected receipt of ``asn_no``; idempotent.

        Returns ``{asn_code, wms_id, withdrawn}``: ``withdrawn`` is False when the WMS holds no
        inbound for ``asn_no`` (never created, or withdrawn by an earlier call), which counts as
        done. An inbound past status 1 is refused with ``SkippableError WMS_CANCEL_TOO_LATE``:
        the goods are on their way in or counted, and a person in the warehouse has to decide.
        """
        where = f"asn {asn_no}"
        asn = self.find_inbound(asn_no)
        if asn is None:
            return {"asn_code": None, "wms_id": None, "withdrawn": False}
        self._refuse_if_too_late(asn, where)
        try:
            self._call("DELETE", f"/asn/list/{asn['id']}/", where)
        except (FatalError, SkippableError) as exc:
            # 404: gone meanwhile (another worker withdrew it); "Status Is Not '1'": received
            # meanwhile. Either way the WMS's current state decides, not the error text.
            now = self.find_inbound(asn_no)
            if now is None:
                return {"asn_code": asn["asn_code"], "wms_id": asn["id"], "withdrawn": False}
            self._refuse_if_too_late(now, where)
            raise exc from None
        log.info("wms withdrew %s for asn %s", asn["asn_code"], asn_no)
        return {"asn_code": asn["asn_code"], "wms_id": asn["id"], "withdrawn": True}

    @staticmethod
    def _refuse_if_too_late(asn: dict[str, Any], where: str) -> None:
        refusal = translate.inbound_cancel_refusal(asn)
        if refusal is not None:
            raise SkippableError("WMS_CANCEL_TOO_LATE", f"{asn['asn_code']} cannot be withdrawn any more ({refusal}); "
                                                        "the warehouse has to resolve it", where)

    # -- receipts -------------------------------------------------------------------------
    def get_receipt(self, asn_code: str, asn_no: str | None = None) -> dict[str, Any] | None:
        """Neutral receipt for a counted ASN (status >= 4), else None."""
        where = f"asn_code {asn_code}"
        rows = [r for r in self._pages("/asn/list/", {"asn_code": asn_code}, where) if r.get("asn_code") == asn_code]
        if not rows:
            raise SkippableError("WMS_UNKNOWN_ASN", f"the WMS has no ASN {asn_code}", where)
        return self._receipt(rows[0], asn_no, where)

    def _receipt(self, asn: dict[str, Any], asn_no: str | None, where: str) -> dict[str, Any] | None:
        if int(asn.get("asn_status") or 0) < 4:
            return None
        asn_code = asn["asn_code"]
        details = [r for r in self._pages("/asn/detail/", {"asn_code": asn_code}, where) if r.get("asn_code") == asn_code]
        bins: list[dict[str, Any]] = []
        for detail in details:
            if detail.get("t_code"):
                bins.extend(self._pages("/stock/bin/", {"t_code": detail["t_code"]}, where))
        return translate.receipt_from_greaterwms(asn_no or asn_no_of(asn), asn, details, bins)

    def receipts_since(self, since: Optional[dt.datetime]) -> Iterator[dict[str, Any]]:
        """Every counted ASN changed at or after ``since`` (all when None), as neutral receipts;
        ``asn_no`` is None for inbounds the hub did not create (receipts without ASN).
        ``since`` is compared with GreaterWMS' naive server-local ``update_time``."""
        params: dict[str, Any] = {"asn_status__gte": 4, "ordering": "id"}
        if since is not None:
            params["update_time__gte"] = since.strftime("%Y-%m-%d %H:%M:%S")
        for asn in list(self._pages("/asn/list/", params, "receipts")):
            if since is not None and str(asn.get("update_time") or "") < params["update_time__gte"]:
                continue  # re-checked: a server that ignores the filter answers with every ASN
            receipt = self._receipt(asn, None, f"asn_code {asn.get('asn_code')}")
            if receipt is not None:
                yield receipt

    # -- QC and stock -------------------------------------------------------------------------
    def qc_hold(self, batch: contract.BatchRef) -> dict[str, Any]:
        raise self._no_batches(batch, "hold")

    def qc_release(self, batch: contract.BatchRef) -> dict[str, Any]:
        raise self._no_batches(batch, "release")

    @staticmethod
    def _no_batches(batch: contract.BatchRef, what: str) -> FatalError:
        material, lot = translate.batch_ref(batch)
        return FatalError("WMS_UNSUPPORTED", f"GreaterWMS keeps no batches, so it cannot {what} batch {lot} "
                                             f"alone; {what} it in the MES / ERP, or use a WMS dialect with lots "
                                             "(odoo). Flows check wms.supports('qc_hold') first.",
                          f"batch {material}/{lot}")

    def inventory_snapshot(self, sku: str | None = None) -> Iterator[dict[str, Any]]:
        """Per-SKU stock from ``/stock/list/`` as neutral items, page by page."""
        params = {"goods_code": sku} if sku else {}
        for row in self._pages("/stock/list/", params, f"stock {sku or '*'}"):
            if sku and row.get("goods_code") != sku:
                continue
            yield translate.stock_item_from_greaterwms(row)

    def stock_snapshot(self, rejects: Optional[list] = None) -> list[StockLevel]:
        """On-hand stock per goods code and bin (``/stock/bin/``) as canonical StockLevels; the
        unit comes from the goods master (``/goods/``, ``goods_unit``). GreaterWMS has no lots:
        ``batch_number`` is "". INFERRED: that ``/stock/bin/`` ``goods_qty`` is the on-hand quantity
        of the bin (picked quantities are left in it until shipped)."""
        units = {row.get("goods_code"): row.get("goods_unit") for row in self._pages("/goods/", {}, "goods")}
        items = [{"sku": row["goods_code"], "bin": row.get("bin_name"), "lot": None, "on_hand": row.get("goods_qty"),
                  "as_of": translate._iso(row.get("update_time"))}
                 for row in self._pages("/stock/bin/", {}, "stock bins")]
        return translate.stock_levels(items, units.get, "greaterwms", rejects)
