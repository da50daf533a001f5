"""Jiandaoyun Open API v5 hook: the only code that knows the wire (protocols/jiandaoyun.md §1-2).

Every call is ``POST {base}/v5/<route>`` with a JSON body and ``Authorization: Bearer <API key>``;
errors come back as HTTP 4xx ``{"code", "msg"}`` and are classified in errors.py.

Retries, bounded by ``max_attempts`` (default 4) with exponential backoff from
``backoff_seconds`` capped at ``max_backoff_seconds``: the rate-limit codes 8303/8304 and HTTP 429
(the server refused before acting, so even a create is repeated), and for idempotent calls
(reads, update, batch create under one ``transaction_id``) also 5xx, a reset connection and a
cut-off body. A create that fails in any other way is not repeated here: the caller goes back
through a look-up by its hub key (``adapters/jiandaoyun/forms.py``), so a lost answer never
becomes a second record. A client-side throttle (``max_calls_per_second``, default 10) keeps
the hook under the documented per-endpoint limits (30/s list, 20/s create, 10/s batch).

Paging (:meth:`JiandaoyunHook.iter_records`) follows §2.1: records sorted by ``_id``, each call
passes the last ``_id`` received as ``data_id``, a short page ends the list. Records a server
repeats (a page that ignores or lags the cursor) are dropped by ``_id``; a full page with nothing
new is asked again, and after MAX_STALLED_PAGES such pages the list fails as RetriableError
JDY_PAGING rather than looping.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable, Iterator, Optional, Sequence

import requests

from adapters.http_retry import SessionHook, backoff_wait, check_max_attempts, run_with_retries
from adapters.jiandaoyun import errors
from adapters.jiandaoyun.config import DEFAULT_CONN_ID, JiandaoyunConfig

log = logging.getLogger(__name__)

USER_AGENT = "mes-hub jiandaoyun adapter"
MAX_BATCH = 100  # data_list / data_ids per batch call (§2)
#: pages of ids remembered to recognise records a server repeats
REPEAT_WINDOW_PAGES = 3
#: full pages in a row that bring nothing new before the list is given up as broken
MAX_STALLED_PAGES = 3
#: namespace of the per-chunk transaction ids derived from a caller's transaction id
_CHUNK_NAMESPACE = uuid.UUID("6b0f6f52-3c1c-4f7e-9a57-1f3e5b0c9d21")


def wrap_values(data: dict[str, Any]) -> dict[str, Any]:
    """Plain ``{field: value}`` to the write form ``{field: {"value": value}}`` (§1.3), subform rows too.

    A subform row's ``_id`` (to keep that row on update) is sent as is (INFERRED: the notes only
    say rows need "a correct ``_id``"; the simulator accepts it plain or wrapped)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            value = [{k: (v if k == "_id" else {"value": v}) for k, v in row.items()} for row in value]
        out[key] = {"value": value}
    return out


def condition(field: str, type_: str, method: str, values: Sequence[Any]) -> dict[str, Any]:
    """One filter condition (§2.2); ``value`` is always an array."""
    return {"field": field, "type": type_, "method": method, "value": list(values)}


def updated_since(since: dt.datetime) -> dict[str, Any]:
    """``updateTime >= since`` (an aware datetime; naive ones are taken as UTC)."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    stamp = since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{since.microsecond // 1000:03d}Z"
    return condition("updateTime", "datetime", "range", [stamp, None])


def all_of(*conditions: dict[str, Any]) -> Optional[dict[str, Any]]:
    conds = [c for c in conditions if c]
    return {"rel": "and", "cond": conds} if conds else None


class JiandaoyunHook(SessionHook):
    def __init__(self, config: JiandaoyunConfig, session: Optional[requests.Session] = None, *,
                 max_attempts: Optional[int] = None) -> None:
        self.config = config
        self._open_session(session, {
            "User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {config.api_key.get_secret_value()}",
        })
        self.max_attempts = check_max_attempts(max_attempts if max_attempts is not None else config.max_attempts)
        #: how the hook waits between attempts (tests swap in a recorder instead of real time)
        self.sleep: Callable[[float], None] = time.sleep
        self._clock: Callable[[], float] = time.monotonic
        self._throttle_lock = threading.Lock()
        self._next_call_at = 0.0

    def __repr__(self) -> str:  # no API key
        return f"JiandaoyunHook(base_url={self.config.base_url!r}, app_id={self.config.app_id!r})"

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "JiandaoyunHook":
        return cls(JiandaoyunConfig.from_conn_id(conn_id))

    # ------------------------------------------------------------------ transport
    def _where(self, entry_id: str = "", key: str = "") -> str:
        return ":".join(p for p in ("jiandaoyun", self.config.app_id, entry_id, key) if p)

    def _throttle(self) -> None:
        rate = self.config.max_calls_per_second
        if rate <= 0:
            return
        with self._throttle_lock:
            now = self._clock()
            wait = self._next_call_at - now
            self._next_call_at = max(now, self._next_call_at) + 1.0 / rate
        if wait > 0:
            self.sleep(wait)

    def pause(self, attempt: int, retry_after: Optional[float] = None) -> None:
        """Wait before attempt ``attempt + 1``: Retry-After if given, else exponential backoff; capped."""
        self.sleep(backoff_wait(attempt, retry_after, self.config.backoff_seconds, self.config.max_backoff_seconds))

    def call(self, route: str, body: dict[str, Any], where: str, *, idempotent: bool = True) -> dict[str, Any]:
        """POST ``/v5/<route>`` with bounded retries (module doc); the JSON object of the answer."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        return run_with_retries(lambda: self._call_once(route, data, where), max_attempts=self.max_attempts,
                                pause=self.pause, what=f"jiandaoyun {route}", log=log, idempotent=idempotent,
                                retriable=errors.JiandaoyunRetriable)

    def _call_once(self, route: str, data: bytes, where: str) -> dict[str, Any]:
        self._throttle()
        try:
            response = self.session.post(f"{self.config.base_url}/v5/{route}", data=data,
                                         timeout=self.config.timeout)
        except requests.RequestException as exc:
            raise errors.from_transport(exc, route, where, self.config.secrets) from None
        return errors.check_response(response, route, where, self.config.secrets)

    def _body(self, entry_id: Optional[str] = None, **fields: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"app_id": self.config.app_id}
        if entry_id is not None:
            body["entry_id"] = entry_id
        body.update({k: v for k, v in fields.items() if v is not None})
        return body

    def _record(self, payload: dict[str, Any], route: str, where: str) -> dict[str, Any]:
        record = payload.get("data")
        if not isinstance(record, dict) or not isinstance(record.get("_id"), str):
            raise errors.bad_response(route, f"answer has no record ('data' with '_id'): {str(payload)[:200]!r}",
                                      where, self.config.secrets)
        return record

    # ------------------------------------------------------------------ metadata
    def widgets(self, entry_id: str) -> list[dict[str, Any]]:
        """The form's widgets (``label``, ``name``, ``type``, ``items`` of a subform)."""
        where = self._where(entry_id)
        payload = self.call("app/entry/widget/list", self._body(entry_id), where)
        widgets = payload.get("widgets")
        if not isinstance(widgets, list):
            raise errors.bad_response("app/entry/widget/list", "answer has no 'widgets' list", where,
                                      self.config.secrets)
        return widgets

    # ------------------------------------------------------------------ reads
    def get(self, entry_id: str, data_id: str) -> dict[str, Any]:
        where = self._where(entry_id, data_id)
        payload = self.call("app/entry/data/get", self._body(entry_id, data_id=data_id), where)
        return self._record(payload, "app/entry/data/get", where)

    def iter_records(self, entry_id: str, *, filter: Optional[dict[str, Any]] = None,
                     fields: Optional[list[str]] = None, page_size: Optional[int] = None,
                     start_after: Optional[str] = None) -> Iterator[dict[str, Any]]:
        """Every record of the form matching ``filter``, in ``_id`` order, each exactly once (module doc)."""
        limit = page_size or self.config.page_size
        if not 1 <= limit <= 100:
            raise ValueError("page_size must be 1..100")
        route = "app/entry/data/list"
        where = self._where(entry_id)
        recent: deque[set[str]] = deque(maxlen=REPEAT_WINDOW_PAGES)
        cursor = start_after
        stalled = 0
        while True:
            payload = self.call(route, self._body(entry_id, data_id=cursor, limit=limit, fields=fields,
                                                  filter=filter), where)
            page = payload.get("data")
            if not isinstance(page, list) or not all(isinstance(r, dict) and isinstance(r.get("_id"), str)
                                                     for r in page):
                raise errors.bad_response(route, f"page after data_id {cursor!r} is not a list of records",
                                          where, self.config.secrets)
            ids: set[str] = set()
            fresh = 0
            for record in page:
                record_id = record["_id"]
                if record_id in ids or any(record_id in seen for seen in recent):
                    continue
                ids.add(record_id)
                fresh += 1
                yield record
            if fresh < len(page):
                log.warning("jiandaoyun list of %s repeated %d record(s) after data_id %s; dropped", entry_id,
                            len(page) - fresh, cursor)
            if len(page) < limit:
                return
            recent.append(ids)
            if fresh == 0:
                stalled += 1
                if stalled >= MAX_STALLED_PAGES:
                    raise errors.JiandaoyunRetriable(
                        "JDY_PAGING", f"{route} of form {entry_id}: {stalled} full pages in a row after data_id "
                                      f"{cursor} brought no new records; the server does not page by cursor", where)
                continue  # same cursor again: the repeated page may have been a one-off
            stalled = 0
            cursor = page[-1]["_id"]

    def find(self, entry_id: str, field: str, value: str, *, type_: str = "text") -> list[dict[str, Any]]:
        """Records whose ``field`` equals ``value`` (e.g. the hub key of a published task)."""
        return list(self.iter_records(entry_id, filter=all_of(condition(field, type_, "eq", [value])),
                                      page_size=10))

    # ------------------------------------------------------------------ writes
    def create(self, entry_id: str, data: dict[str, Any], *, transaction_id: Optional[str] = None,
               start_workflow: bool = False, start_trigger: bool = False) -> dict[str, Any]:
        """Create one record from plain values; the full record as stored. Not repeated on an
        ambiguous failure (see the module doc)."""
        where = self._where(entry_id, "(new)")
        body = self._body(entry_id, data=wrap_values(data), transaction_id=transaction_id,
                          is_start_workflow=start_workflow, is_start_trigger=start_trigger)
        payload = self.call("app/entry/data/create", body, where, idempotent=False)
        return self._record(payload, "app/entry/data/create", where)

    def update(self, entry_id: str, data_id: str, data: dict[str, Any], *,
               start_trigger: bool = False) -> dict[str, Any]:
        """Set fields of one record (a subform given is replaced wholesale, §2.3); idempotent."""
        where = self._where(entry_id, data_id)
        body = self._body(entry_id, data_id=data_id, data=wrap_values(data), is_start_trigger=start_trigger)
        payload = self.call("app/entry/data/update", body, where)
        return self._record(payload, "app/entry/data/update", where)

    def batch_create(self, entry_id: str, data_list: list[dict[str, Any]], *, transaction_id: str) -> list[str]:
        """Create many records; ids in order. Repeating the call with the same ``transaction_id``
        within an hour overwrites the earlier batch instead of adding to it (§2.3), which is what
        makes a retry after a reset safe; batches over 100 are cut into chunks whose transaction
        ids are derived from ``transaction_id`` (the same on every run)."""
        if not transaction_id:
            raise ValueError("transaction_id is required: it is what makes a repeated batch idempotent")
        ids: list[str] = []
        chunks = [data_list[i:i + MAX_BATCH] for i in range(0, len(data_list), MAX_BATCH)]
        for number, chunk in enumerate(chunks):
            chunk_tx = transaction_id if len(chunks) == 1 else str(uuid.uuid5(_CHUNK_NAMESPACE,
                                                                               f"{transaction_id}:{number}"))
            where = self._where(entry_id, f"transaction_id={chunk_tx}")
            body = self._body(entry_id, data_list=[wrap_values(d) for d in chunk], transaction_id=chunk_tx)
            payload = self.call("app/entry/data/batch_create", body, where)
            got = payload.get("success_ids")
            if not isinstance(got, list) or len(got) != len(chunk):
                raise errors.bad_response("app/entry/data/batch_create",
                                          f"{len(chunk)} records sent, success_ids {str(got)[:120]!r} returned",
                                          where, self.config.secrets)
            ids.extend(str(i) for i in got)
        return ids

    def batch_update(self, entry_id: str, data_ids: list[str], data: dict[str, Any]) -> int:
        """Set the same (non-subform) values on many records; the count updated."""
        count = 0
        for i in range(0, len(data_ids), MAX_BATCH):
            chunk = data_ids[i:i + MAX_BATCH]
            where = self._where(entry_id, f"{len(chunk)} records")
            payload = self.call("app/entry/data/batch_update",
                                self._body(entry_id, data_ids=chunk, data=wrap_values(data)), where)
            count += int(payload.get("success_count") or 0)
        return count

    def delete(self, entry_id: str, data_id: str) -> None:
        where = self._where(entry_id, data_id)
        self.call("app/entry/data/delete", self._body(entry_id, data_id=data_id), where)
