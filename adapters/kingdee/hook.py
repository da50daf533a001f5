"""Kingdee K/3 Cloud WebAPI hook: the only code that knows the wire (protocols/kingdee-k3cloud.md).

Sessions: one ``requests.Session`` whose cookie jar carries ``kdservice-sessionid`` and
``ASP.NET_SessionId`` from ``ValidateUser`` (or ``LoginByAppSecret``); the session id is also
sent as the ``kdservice-sessionid`` header, as the official SDKs do. Login is lazy. When a
call comes back with MsgCode 1 (context lost) the hook logs in again once and repeats that
call; a second MsgCode 1 is fatal (something other than an idle timeout is wrong).

Bounded retries (``max_attempts``, default 1 = none, so the scheduler retries the task; the
ERP client uses 4): HTTP 429 (after ``Retry-After``, capped at ``max_retry_after``), 5xx,
``response_error:``, a reset connection, a cut-off or non-JSON body and timeouts are repeated
with exponential backoff from ``backoff_seconds``, then surface as ``RetriableError``. A
non-idempotent call (Save, Submit, Audit, UnAudit) is repeated only when the server cannot have
acted on it (connection refused, 429); any other failure of a write goes back through
:meth:`KingdeeHook.save_submit_audit_idempotent`, which looks the bill up by its external
number before writing again, so a lost answer never becomes a second bill.

Paging (:meth:`KingdeeHook.execute_bill_query`) with ``unique_key`` drops rows a misbehaving
server repeats across pages and advances ``StartRow`` by the rows actually new, so a page that
starts early (rows inserted before the offset between two calls) neither duplicates nor loses.
"""
from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

import requests

from adapters.http_retry import SessionHook, backoff_wait, check_max_attempts, run_with_retries
from adapters.kingdee import errors
from adapters.kingdee.config import DEFAULT_CONN_ID, KingdeeConfig
from hub.errors import FatalError

T = TypeVar("T")

log = logging.getLogger(__name__)

SERVICE_PREFIX = "Kingdee.BOS.WebApi.ServicesStub."
USER_AGENT = "mes-hub kingdee adapter"
#: pages of keys remembered to recognise rows a server repeats (a repeat further back is not caught)
REPEAT_WINDOW_PAGES = 3
#: full pages in a row that bring nothing new before the query is given up as broken
MAX_STALLED_PAGES = 3


class KingdeeHook(SessionHook):
    def __init__(self, config: KingdeeConfig, session: Optional[requests.Session] = None, *,
                 max_attempts: Optional[int] = None) -> None:
        self.config = config
        self._open_session(session, {"User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8"})
        self._session_id: Optional[str] = None
        #: attempts per call (see the module doc); an explicit argument wins over the connection
        self.max_attempts = check_max_attempts(max_attempts if max_attempts is not None else (config.max_attempts or 1))
        #: how the hook waits between attempts (tests swap in a recorder instead of real time)
        self.sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:  # no session id, no password
        return f"KingdeeHook(base_url={self.config.base_url!r}, acct_id={self.config.acct_id!r}, " \
               f"username={self.config.username!r})"

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "KingdeeHook":
        """Build from the Airflow Connection (``AIRFLOW_CONN_<CONN_ID>`` or Airflow's store)."""
        return cls(KingdeeConfig.from_conn_id(conn_id))

    # ------------------------------------------------------------------ transport
    def _url(self, service: str) -> str:
        return f"{self.config.base_url}/{SERVICE_PREFIX}{service}.common.kdsvc"

    def _where(self, form_id: str = "", bill: str = "") -> str:
        return ":".join(p for p in ("kingdee", self.config.acct_id, form_id, bill) if p)

    def pause(self, attempt: int, retry_after: Optional[float] = None) -> None:
        """Wait before attempt ``attempt + 1``: the server's Retry-After, else exponential backoff; capped."""
        self.sleep(backoff_wait(attempt, retry_after, self.config.backoff_seconds, self.config.max_retry_after))

    def _post(self, service: str, body: dict[str, Any], where: str, idempotent: bool = True) -> Any:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        # a write is repeated only when the server cannot have acted on it; anything else
        # goes back through the idempotent path (find by external number first)
        return run_with_retries(lambda: self._post_once(service, data, where), max_attempts=self.max_attempts,
                                pause=self.pause, what=f"kingdee {service}", log=log, idempotent=idempotent,
                                retriable=errors.KingdeeRetriable)

    def _post_once(self, service: str, data: bytes, where: str) -> Any:
        headers = {"kdservice-sessionid": self._session_id} if self._session_id else {}
        try:
            response = self.session.post(self._url(service), data=data, headers=headers, timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise errors.from_transport(exc, service, where, self.config.secrets) from None
        return errors.check_http(response, service, where, self.config.secrets)

    def retrying(self, step: Callable[[], T], what: str) -> T:
        """Run a whole idempotent step (find, then write) up to ``max_attempts`` times on RetriableError."""
        return run_with_retries(step, max_attempts=self.max_attempts, pause=self.pause, what=f"kingdee {what}",
                                log=log, message="%s failed (%s), attempt %d of %d; resuming from a fresh look-up")

    def login(self) -> None:
        """Open a session; raises FatalError KINGDEE_LOGIN_FAILED on bad credentials."""
        cfg = self.config
        self.session.cookies.clear()
        self._session_id = None
        where = self._where()
        if cfg.auth_method == "app_secret":
            service = "AuthService.LoginByAppSecret"
            params = [cfg.acct_id, cfg.username, cfg.app_id, cfg.login_secret, cfg.lcid]
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

    def _call(self, service: str, body: dict[str, Any], where: str, idempotent: bool = True) -> Any:
        """A DynamicFormService call with one re-login on MsgCode 1 (session expired)."""
        if self._session_id is None:
            self.login()
        payload = self._post(service, body, where, idempotent)
        if errors.is_session_lost(payload):
            # MsgCode 1 means the server refused the call before acting on it: repeating a write is safe
            log.warning("kingdee session lost during %s (%s); logging in again once", service, where)
            self.login()
            payload = self._post(service, body, where, idempotent)
            if errors.is_session_lost(payload):
                raise FatalError("KINGDEE_SESSION_LOST",
                                 f"{service}: session lost again right after a fresh login; check that the "
                                 f"load balancer keeps sessions sticky and the user is not logged in elsewhere",
                                 where)
        return payload

    # ------------------------------------------------------------------ queries
    def execute_bill_query(self, form_id: str, field_keys: list[str], filter_string: str = "",
                           order_string: str = "", page_size: Optional[int] = None,
                           unique_key: Optional[Sequence[str]] = None) -> Iterator[dict[str, Any]]:
        """Yield one ``{field_key: value}`` per row, paging with StartRow/Limit until a short page.

        Pass an ``order_string`` that is a total order (e.g. ``FID ASC,<entry>_FEntryID ASC``):
        offset paging over an unordered set can skip or repeat rows between pages.

        ``unique_key`` (field keys among ``field_keys`` that identify a row, e.g. ``FID`` and the
        entry id) turns on repeat protection: rows already seen on the last few pages are dropped
        and ``StartRow`` advances by the rows that were new, so a page that starts early loses
        nothing; a full page with nothing new is asked again, and after MAX_STALLED_PAGES such
        pages the query fails as RetriableError KINGDEE_PAGING.
        """
        limit = page_size or self.config.page_size
        if limit < 1:
            raise ValueError("page_size must be at least 1")
        if unique_key is not None:
            yield from self._query_deduplicated(form_id, field_keys, filter_string, order_string, limit,
                                                list(unique_key))
            return
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

    def _query_page(self, form_id: str, field_keys: list[str], filter_string: str, order_string: str, start: int,
                    limit: int, where: str) -> list[list[Any]]:
        body = {"data": {
            "FormId": form_id, "FieldKeys": ",".join(field_keys), "FilterString": filter_string,
            "OrderString": order_string, "TopRowCount": 0, "StartRow": start, "Limit": limit, "SubSystemId": "",
        }}
        rows = errors.check_query(self._call("DynamicFormService.ExecuteBillQuery", body, where), form_id, where,
                                  self.config.secrets)
        for number, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != len(field_keys):
                raise FatalError("KINGDEE_SCHEMA",
                                 f"ExecuteBillQuery on {form_id}: row {start + number} has "
                                 f"{len(row) if isinstance(row, list) else 'no'} columns, "
                                 f"expected {len(field_keys)} ({','.join(field_keys)})", where)
        return rows

    def _query_deduplicated(self, form_id: str, field_keys: list[str], filter_string: str, order_string: str,
                            limit: int, unique_key: list[str]) -> Iterator[dict[str, Any]]:
        missing = [key for key in unique_key if key not in field_keys]
        if missing or not unique_key:
            raise ValueError(f"unique_key {unique_key} must name field keys of the query ({', '.join(missing)})")
        positions = [field_keys.index(key) for key in unique_key]
        where = self._where(form_id)
        recent: deque[set[Any]] = deque(maxlen=REPEAT_WINDOW_PAGES)
        start = 0
        stalled = 0
        while True:
            rows = self._query_page(form_id, field_keys, filter_string, order_string, start, limit, where)
            page_keys: set[Any] = set()
            fresh = 0
            for row in rows:
                key = tuple(_hashable(row[i]) for i in positions)
                if key in page_keys or any(key in seen for seen in recent):
                    continue
                page_keys.add(key)
                fresh += 1
                yield dict(zip(field_keys, row))
            if fresh < len(rows):
                log.warning("kingdee ExecuteBillQuery on %s repeated %d row(s) at StartRow %d; dropped", form_id,
                            len(rows) - fresh, start)
            if len(rows) < limit:
                return
            if page_keys:
                recent.append(page_keys)
            if fresh == 0:
                stalled += 1
                if stalled >= MAX_STALLED_PAGES:
                    raise errors.KingdeeRetriable(
                        "KINGDEE_PAGING", f"ExecuteBillQuery on {form_id}: {stalled} full pages in a row at StartRow "
                                          f"{start} brought no new rows; the server does not page stably", where)
                continue  # ask for the same offset again: the early page may have been a one-off
            stalled = 0
            start += fresh

    def view(self, form_id: str, number: str) -> dict[str, Any]:
        """The full bill as Kingdee's View model (property names without the ``F`` prefix)."""
        where = self._where(form_id, number)
        body = {"formid": form_id, "data": {"CreateOrgId": 0, "Number": number, "Id": "", "IsSortBySeq": "false"}}
        result = errors.check_operation(self._call("DynamicFormService.View", body, where), "View", form_id, number,
                                        where, self.config.secrets)
        return result.get("Result") or {}

    # ------------------------------------------------------------------ writes
    def save(self, form_id: str, model: dict[str, Any], need_return_fields: Optional[list[str]] = None,
             label: Optional[str] = None, **options: Any) -> tuple[int, str]:
        """Create (``FID`` 0/absent) or update a bill; returns ``(fid, bill number)``.

        ``options`` are Save's other ``data`` keys (``IsDeleteEntry``, ``NeedUpDateFields``, ...);
        ``label`` names the bill in errors (default: its number or FID).
        """
        label = label or model.get("FBillNo") or model.get("FNumber") or (
            f"FID={model['FID']}" if model.get("FID") else "")
        return self._save(form_id, model, need_return_fields, str(label or "(new, unnumbered)"), **options)

    def _save(self, form_id: str, model: dict[str, Any], need_return_fields: Optional[list[str]],
              bill: str, **options: Any) -> tuple[int, str]:
        where = self._where(form_id, bill)
        data: dict[str, Any] = {**options, "Model": model}
        if need_return_fields:
            data["NeedReturnFields"] = list(need_return_fields)
        result = errors.check_operation(
            self._call("DynamicFormService.Save", {"formid": form_id, "data": data}, where, idempotent=False),
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
        errors.check_operation(self._call(f"DynamicFormService.{op}", body, where, idempotent=False), op, form_id,
                               bill, where, self.config.secrets)

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

        With ``max_attempts`` > 1 a retriable failure anywhere in the step (the answer to a Save
        lost to a reset, a 500 after Submit, ...) starts the step again from the look-up, never
        from a raw second Save. INFERRED residual risk: a real server still busy with the lost
        Save when the look-up runs would not show the bill yet; the backoff pause makes that
        unlikely, the unique custom field (README) makes it impossible.
        """
        if not external_number:
            raise ValueError("external_number must not be empty: it is what makes the post idempotent")
        return self.retrying(
            lambda: self._save_submit_audit_once(form_id, model, external_number_field, external_number),
            f"posting {form_id} {external_number_field}={external_number}")

    def find_by_external_number(self, form_id: str, external_number_field: str,
                                external_number: str) -> list[dict[str, Any]]:
        """``FID``, ``FBillNo``, ``FDocumentStatus`` of the bills carrying ``external_number``."""
        literal = str(external_number).replace("'", "''")  # SQL-style quoting inside FilterString
        return list(self.execute_bill_query(
            form_id, ["FID", "FBillNo", "FDocumentStatus"], f"{external_number_field}='{literal}'", "FID ASC",
            page_size=10))

    def _save_submit_audit_once(self, form_id: str, model: dict[str, Any], external_number_field: str,
                                external_number: str) -> str:
        existing = self.find_by_external_number(form_id, external_number_field, external_number)
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


def _hashable(value: Any) -> Any:
    """Row key parts as set members (a server may send a list or an object where we expect a scalar)."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True, default=str)
    return value
