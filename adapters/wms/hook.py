"""WMS hook: the only code that knows the GreaterWMS wire (protocols/wms.md §2).

Speaks the neutral contract of §3 to the rest of the hub. No retries here: errors are
classified once (``errors.py``) and Airflow/the outbox retry the retriable ones.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator

import requests

from adapters.wms import translate
from adapters.wms.config import DEFAULT_CONN_ID, WmsConfig
from adapters.wms.errors import classify_exception, classify_response
from hub.errors import FatalError, SkippableError

log = logging.getLogger(__name__)

#: ``creater`` GreaterWMS stores on rows we create, so warehouse staff see where they came from
CREATER = "mes-hub"


class WmsHook:
    def __init__(self, config: WmsConfig) -> None:
        if config.dialect != "greaterwms":
            raise FatalError("WMS_DIALECT", f"dialect {config.dialect!r} is planned but not implemented; "
                                            "use 'greaterwms'", "wms connection")
        self.config = config
        self._secret = config.token.get_secret_value()
        self.session = requests.Session()
        self.session.headers.update({"token": self._secret, "Accept": "application/json"})

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "WmsHook":
        """Build from the Airflow Connection (``AIRFLOW_CONN_<CONN_ID>`` or Airflow's store)."""
        return cls(WmsConfig.from_conn_id(conn_id))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "WmsHook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
            results = body.get("results")
            if not isinstance(results, list):
                raise FatalError("WMS_CONTRACT", f"GET {path} answered without a results list", where)
            yield from results
            if not body.get("next") or not results:
                return
            page += 1

    # -- neutral contract -----------------------------------------------------------------
    def find_inbound(self, asn_no: str) -> dict[str, Any] | None:
        """The ASN created for ``asn_no``, via the simulator's ``asn_ref`` extension.

        Real GreaterWMS ignores unknown filters and would return *every* ASN, so the rows are
        checked client-side; against it this finds nothing and the mapping table must be used.
        """
        where = f"asn {asn_no}"
        matches = [row for row in self._pages("/asn/list/", {"asn_ref": asn_no}, where) if row.get("asn_ref") == asn_no]
        if len(matches) > 1:
            codes = ", ".join(r["asn_code"] for r in matches)
            raise SkippableError("WMS_DUPLICATE_ASN", f"{len(matches)} WMS ASNs carry asn_ref {asn_no}: {codes}; "
                                                      "resolve in the WMS", where)
        return matches[0] if matches else None

    def create_inbound(self, asn_no: str, supplier_code: str, expected_date: str | None,
                       lines: list[dict[str, Any]]) -> dict[str, Any]:
        """Create the expected receipt once; a repeated call returns the existing one.

        Returns ``{wms_id, asn_code, status}``. GreaterWMS has no expected-date or UoM field on
        an ASN, so ``expected_date`` and ``uom`` are not sent (the goods master holds the unit).
        If an earlier call created the header but failed on the lines (e.g. unknown goods), a
        retry reuses that header instead of leaving an orphan behind.
        """
        where = f"asn {asn_no}"
        skus = [str(line["sku"]) for line in lines]
        if not lines:
            raise SkippableError("WMS_ASN_INCOMPLETE", "no lines to send", where)
        if len(set(skus)) != len(skus):
            raise SkippableError("WMS_DUPLICATE_SKU", "GreaterWMS takes one line per goods code; "
                                                      "sum lines first (translate.expected_receipt_from_asn)", where)
        qtys = [translate.whole_qty(line["qty"], f"{where} line {line.get('line_no')}") for line in lines]

        asn = self.find_inbound(asn_no)
        if asn is None:
            asn = self._call("POST", "/asn/list/", where, json={"creater": CREATER, "asn_ref": asn_no})
            log.info("wms created %s for asn %s", asn["asn_code"], asn_no)
        existing = list(self._pages("/asn/detail/", {"asn_code": asn["asn_code"]}, where))
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

    def get_receipt(self, asn_code: str, asn_no: str | None = None) -> dict[str, Any] | None:
        """Neutral receipt for a counted ASN (status >= 4), else None."""
        where = f"asn_code {asn_code}"
        rows = [r for r in self._pages("/asn/list/", {"asn_code": asn_code}, where) if r.get("asn_code") == asn_code]
        if not rows:
            raise SkippableError("WMS_UNKNOWN_ASN", f"the WMS has no ASN {asn_code}", where)
        asn = rows[0]
        if int(asn.get("asn_status") or 0) < 4:
            return None
        details = [r for r in self._pages("/asn/detail/", {"asn_code": asn_code}, where) if r.get("asn_code") == asn_code]
        bins: list[dict[str, Any]] = []
        for detail in details:
            if detail.get("t_code"):
                bins.extend(self._pages("/stock/bin/", {"t_code": detail["t_code"]}, where))
        return translate.receipt_from_greaterwms(asn_no or asn.get("asn_ref") or asn_code, asn, details, bins)

    def inventory_snapshot(self, sku: str | None = None) -> Iterator[dict[str, Any]]:
        """Per-SKU stock from ``/stock/list/`` as neutral items, page by page."""
        params = {"goods_code": sku} if sku else {}
        for row in self._pages("/stock/list/", params, f"stock {sku or '*'}"):
            yield translate.stock_item_from_greaterwms(row)
