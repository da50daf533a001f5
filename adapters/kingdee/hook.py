"""Kingdee K/3 Cloud WebAPI hook: the only code that knows the wire (protocols/kingdee-k3cloud.md).

Sessions: one ``requests.Session`` whose cookie jar carries ``kdservice-sessionid`` and
``ASP.NET_SessionId`` from ``ValidateUser`` (or ``LoginByAppSecret``); the session id is also
sent as the ``kdservice-sessionid`` header, as the official SDKs do. Login is lazy. When a
call comes back with MsgCode 1 (context lost) the hook logs in again once and repeats that
call; a second MsgCode 1 is fatal (something other than an idle timeout is wrong).

No other retries happen here: timeouts, 5xx and ``response_error:`` surface as
``RetriableError`` and the scheduler retries the task, which is safe because every write goes
through :meth:`KingdeeHook.save_submit_audit_idempotent`.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Iterator, Optional

import requests

from adapters.kingdee import errors
from adapters.kingdee.config import DEFAULT_CONN_ID, KingdeeConfig
from hub.errors import FatalError

log = logging.getLogger(__name__)

SERVICE_PREFIX = "Kingdee.BOS.WebApi.ServicesStub."
USER_AGENT = "mes-hub kingdee adapter"


class KingdeeHook:
    def __init__(self, config: KingdeeConfig, session: Optional[requests.Session] = None) -> None:
        self.config = config
        self.session = session or requests.Session()
        self.session.headers.update({"User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8"})
        self._session_id: Optional[str] = None

    def __repr__(self) -> str:  # no session id, no password
        return f"KingdeeHook(base_url={self.config.base_url!r}, acct_id={self.config.acct_id!r}, " \
               f"username={self.config.username!r})"

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "KingdeeHook":
        """Build from the Airflow Connection (``AIRFLOW_CONN_<CONN_ID>`` or Airflow's store)."""
        return cls(KingdeeConfig.from_conn_id(conn_id))

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "KingdeeHook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _url(self, service: str) -> str:
        return f"{self.config.base_url}/{SERVICE_PREFIX}{service}.common.kdsvc"

    def _where(self, form_id: str = "", bill: str = "") -> str:
        return ":".join(p for p in ("kingdee", self.config.acct_id, form_id, bill) if p)

    def _post(self, service: str, body: dict[str, Any], where: str) -> Any:
        headers = {"kdservice-sessionid": self._session_id} if self._session_id else {}
        try:
            response = self.session.post(
                self._url(service),
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers=headers,
                timeout=self.config.timeout,
            )
        except requests.RequestException as exc:
            raise errors.from_transport(exc, service, where, self.config.secrets) from None
        return errors.check_http(response, service, where, self.config.secrets)

    def login(self) -> None:
        """Open a session; raises FatalError KINGDEE_LOGIN_FAILED on bad credentials."""
        cfg = self.config
        self.session.cookies.clear()
        self._session_id = None
        where = self._where()
        if cfg.app_id and cfg.app_secret is not None:
            service = "AuthService.LoginByAppSecret"
            params = [cfg.acct_id, cfg.username, cfg.app_id, cfg.app_secret.get_secret_value(), cfg.lcid]
        else:
            service = "AuthService.ValidateUser"
            params = [cfg.acct_id, cfg.username, cfg.password.get_secret_value(), cfg.lcid]
        # positional parameters: accepted by every K/3 Cloud version (§1.1)
        payload = self._post(service, {"parameters": params}, where)
        try:
            self._session_id = errors.check_login(payload, cfg.username, cfg.acct_id, where, cfg.secrets)
        except FatalError:
            log.error("kingdee login refused for user %s on data centre %s", cfg.username, cfg.acct_id)
            raise
        log.info("kingdee login ok for user %s on data centre %s", cfg.username, cfg.acct_id)

    def _call(self, service: str, body: dict[str, Any], where: str) -> Any:
        """A DynamicFormService call with one re-login on MsgCode 1 (session expired)."""
        if self._session_id is None:
            self.login()
        payload = self._post(service, body, where)
        if errors.is_session_lost(payload):
            log.warning("kingdee session lost during %s (%s); logging in again once", service, where)
            self.login()
            payload = self._post(service, body, where)
            if errors.is_session_lost(payload):
                raise FatalError("KINGDEE_SESSION_LOST",
                                 f"{service}: session lost again right after a fresh login; check that the "
                                 f"load balancer keeps sessions sticky and the user is not logged in elsewhere",
                                 where)
        return payload

    # ------------------------------------------------------------------ queries
    def execute_bill_query(self, form_id: str, field_keys: list[str], filter_string: str = "",
                           order_string: str = "", page_size: Optional[int] = None) -> Iterator[dict[str, Any]]:
        """Yield one ``{field_key: value}`` per row, paging with StartRow/Limit until a short page.

        Pass an ``order_string`` that is a total order (e.g. ``FID ASC,<entry>_FEntryID ASC``):
        offset paging over an unordered set can skip or repeat rows between pages.
        """
        limit = page_size or self.config.page_size
        if limit < 1:
            raise ValueError("page_size must be at least 1")
        where = self._where(form_id)
        start = 0
        while True:
            body = {"data": {
                "FormId": form_id, "FieldKeys": ",".join(field_keys), "FilterString": filter_string,
                "OrderString": order_string, "TopRowCount": 0, "StartRow": start, "Limit": limit, "SubSystemId": "",
            }}
            rows = errors.check_query(self._call("DynamicFormService.ExecuteBillQuery", body, where), form_id,
                                      where, self.config.secrets)
            for number, row in enumerate(rows):
                if not isinstance(row, list) or len(row) != len(field_keys):
                    raise FatalError("KINGDEE_SCHEMA",
                                     f"ExecuteBillQuery on {form_id}: row {start + number} has "
                                     f"{len(row) if isinstance(row, list) else 'no'} columns, "
                                     f"expected {len(field_keys)} ({','.join(field_keys)})", where)
                yield dict(zip(field_keys, row))
            if len(rows) < limit:
                return
            start += limit

    def view(self, form_id: str, number: str) -> dict[str, Any]:
        """The full bill as Kingdee's View model (property names without the ``F`` prefix)."""
        where = self._where(form_id, number)
        body = {"formid": form_id, "data": {"CreateOrgId": 0, "Number": number, "Id": "", "IsSortBySeq": "false"}}
        result = errors.check_operation(self._call("DynamicFormService.View", body, where), "View", form_id, number,
                                        where, self.config.secrets)
        return result.get("Result") or {}

    # ------------------------------------------------------------------ writes
    def save(self, form_id: str, model: dict[str, Any],
             need_return_fields: Optional[list[str]] = None) -> tuple[int, str]:
        """Create (``FID`` 0/absent) or update a bill; returns ``(fid, bill number)``."""
        label = model.get("FBillNo") or model.get("FNumber") or (f"FID={model['FID']}" if model.get("FID") else "")
        return self._save(form_id, model, need_return_fields, str(label or "(new, unnumbered)"))

    def _save(self, form_id: str, model: dict[str, Any], need_return_fields: Optional[list[str]],
              bill: str) -> tuple[int, str]:
        where = self._where(form_id, bill)
        data: dict[str, Any] = {"Model": model}
        if need_return_fields:
            data["NeedReturnFields"] = list(need_return_fields)
        result = errors.check_operation(
            self._call("DynamicFormService.Save", {"formid": form_id, "data": data}, where),
            "Save", form_id, bill, where, self.config.secrets)
        entity = (result.get("ResponseStatus", {}).get("SuccessEntitys") or [{}])[0]
        fid = result.get("Id") or entity.get("Id")
        number = result.get("Number") or entity.get("Number")
        try:
            return int(fid), str(number)
        except (TypeError, ValueError):
            raise errors.RetriableError("KINGDEE_BAD_RESPONSE",
                                        f"Save of {form_id} succeeded without returning Id/Number", where) from None

    def _status_op(self, op: str, form_id: str, numbers: list[str]) -> None:
        bill = ",".join(numbers)
        where = self._where(form_id, bill)
        body = {"formid": form_id, "data": {"CreateOrgId": 0, "Numbers": list(numbers), "Ids": "", "NetworkCtrl": ""}}
        errors.check_operation(self._call(f"DynamicFormService.{op}", body, where), op, form_id, bill, where,
                               self.config.secrets)

    def submit(self, form_id: str, numbers: list[str]) -> None:
        self._status_op("Submit", form_id, numbers)

    def audit(self, form_id: str, numbers: list[str]) -> None:
        self._status_op("Audit", form_id, numbers)

    def unaudit(self, form_id: str, numbers: list[str]) -> None:
        self._status_op("UnAudit", form_id, numbers)

    def save_submit_audit_idempotent(self, form_id: str, model: dict[str, Any], external_number_field: str,
                                     external_number: str) -> str:
        """Post a bill exactly once per ``external_number`` and leave it audited; return its bill number.

        First looks for a bill already carrying the external number, so a rerun (after a timeout
        on Save, a crash between Submit and Audit, ...) continues that bill instead of creating a
        second one: status A/D/Z -> Submit + Audit, B -> Audit, C -> nothing to do.
        Not safe against two *concurrent* runs for the same number: the outbox serialises those.
        """
        if not external_number:
            raise ValueError("external_number must not be empty: it is what makes the post idempotent")
        literal = str(external_number).replace("'", "''")  # SQL-style quoting inside FilterString
        existing = list(self.execute_bill_query(
            form_id, ["FID", "FBillNo", "FDocumentStatus"], f"{external_number_field}='{literal}'", "FID ASC",
            page_size=10))
        where = self._where(form_id, external_number)
        if len({row["FID"] for row in existing}) > 1:
            numbers = sorted({str(row["FBillNo"]) for row in existing})
            raise FatalError("KINGDEE_DUPLICATE",
                             f"{len(numbers)} {form_id} bills carry {external_number_field}={external_number!r}: "
                             f"{', '.join(numbers)}; resolve in Kingdee before posting again", where)
        if existing:
            number, status = str(existing[0]["FBillNo"]), str(existing[0]["FDocumentStatus"])
            log.info("kingdee %s %s already exists for %s (status %s); resuming", form_id, number,
                     external_number, status)
        else:
            # a new bill has no number yet: the external number is what identifies it in errors
            _, number = self._save(form_id, {**model, external_number_field: external_number}, None,
                                   f"{external_number_field}={external_number}")
            status = "A"
            log.info("kingdee %s %s saved for %s", form_id, number, external_number)
        if status in ("A", "D", "Z"):
            self.submit(form_id, [number])
            status = "B"
        if status == "B":
            self.audit(form_id, [number])
        elif status != "C":
            raise FatalError("KINGDEE_STATE", f"{form_id} {number} has unknown FDocumentStatus {status!r}", where)
        return number
