"""Siemens Opcenter Execution Foundation hook: the only code that knows the wire (protocols/opcenter.md §2).

Token (§2.1): ``POST {base}/sit-auth/OAuth/Token`` form-encoded, client authentication as HTTP
Basic ``client_id:client_secret``. ``grant_type=client_credentials`` by default (INFERRED: the
notes show only the ``password`` grant, which ``grant_type password`` selects), ``scope=global``.
The token is cached until ``expires_in`` minus a margin; a ``refresh_token`` is used when the
server gave one, falling back to a full grant. Every ``/sit-svc`` call carries
``Authorization: Bearer``; HTTP 401 means expired: one new token and the call is repeated once
(401 again is fatal). Logins are serialised so parallel callers do not fetch a token each.

Reads (§2.2): ``GET {base}/sit-svc[/{plant}]/Application/{App}/odata/{EntitySet}`` with
``$filter``/``$orderby``/``$top``. :meth:`OpcenterHook.query` pages by key, not by offset:
``$orderby=Id`` and ``Id gt <last Id>`` (INFERRED: ``gt`` on the GUID key is standard OData v4,
not shown in the notes), so rows inserted, changed or deleted while paging neither shift a page
nor get lost, and a server that caps ``$top`` (answering with ``@odata.nextLink``) is simply
asked for the next key range. Rows a misbehaving server repeats are dropped by ``Id``.

Commands (§2.3): ``POST .../odata/{Command}`` with ``{"command": {...}}``; the output parameters
come back as top-level properties. A command is repeated only when the server cannot have acted
on it (401, 429, connection refused); any other failure of a write is resolved by the caller
looking its object up again (adapters/opcenter/mes.py), never by blindly posting twice.

``$metadata`` (CSDL XML) is the only XML this hook reads, through the hub's safe parser (no DTD,
no entity, no network). Bounded retries (``max_attempts``, default 1 = leave retrying to the
scheduler): 429 after ``Retry-After`` (capped), 5xx, timeouts, resets, cut-off or non-JSON
bodies, with exponential backoff from ``backoff_seconds``.
"""
from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from typing import Any, Callable, Iterator, Optional

import requests

from adapters.http_retry import SessionHook, backoff_wait, check_max_attempts, run_with_retries
from adapters.opcenter import errors
from adapters.opcenter.config import DEFAULT_CONN_ID, OpcenterConfig
from hub.errors import FatalError

log = logging.getLogger(__name__)

USER_AGENT = "mes-hub opcenter adapter"
#: a token is renewed this many seconds before the server says it expires
TOKEN_MARGIN_SECONDS = 30.0
#: full pages in a row that bring no new row before the query is given up as broken
MAX_STALLED_PAGES = 3
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EDM_NS = "http://docs.oasis-open.org/odata/ns/edm"


def odata_string(value: Any) -> str:
    """An OData string literal: quotes doubled, so a value cannot end the literal."""
    return "'" + str(value).replace("'", "''") + "'"


def odata_key(value: Any) -> str:
    """The literal of an ``Id``: a bare GUID (Edm.Guid) when it is one, else a string."""
    text = str(value)
    return text if _GUID.match(text) else odata_string(text)


def odata_datetime(value: dt.datetime) -> str:
    """An Edm.DateTimeOffset literal in UTC (``2026-11-20T08:00:00Z``)."""
    if value.tzinfo is None:
        raise ValueError("odata_datetime needs an aware datetime")
    return value.astimezone(dt.timezone.utc).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


class OpcenterHook(SessionHook):
    system = "opcenter"

    def __init__(self, config: OpcenterConfig, session: Optional[requests.Session] = None, *,
                 max_attempts: Optional[int] = None) -> None:
        self.config = config
        self._open_session(session, {"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.verify = config.verify
        self.max_attempts = check_max_attempts(max_attempts if max_attempts is not None else (config.max_attempts or 1))
        #: how the hook waits between attempts (tests may swap in a recorder)
        self.sleep: Callable[[float], None] = time.sleep
        self._token: Optional[str] = None
        self._refresh_token: Optional[str] = None
        self._token_deadline = 0.0
        self._token_lock = threading.Lock()
        #: tokens fetched (grants and refreshes), for tests and logs
        self.token_count = 0

    def __repr__(self) -> str:  # no token, no secret
        return f"OpcenterHook(base_url={self.config.base_url!r}, client_id={self.config.client_id!r}, " \
               f"plant_id={self.config.plant_id!r})"

    @classmethod
    def from_conn_id(cls, conn_id: str = DEFAULT_CONN_ID) -> "OpcenterHook":
        return cls(OpcenterConfig.from_conn_id(conn_id))

    # ------------------------------------------------------------------ addresses
    def service_url(self, app: str, name: str) -> str:
        plant = f"/{self.config.plant_id}" if self.config.plant_id else ""
        return f"{self.config.base_url}/sit-svc{plant}/Application/{app}/odata/{name}"

    @property
    def token_url(self) -> str:
        return f"{self.config.base_url}/{self.config.token_path.strip('/')}"

    def where(self, app: str = "", name: str = "", key: str = "") -> str:
        target = f"{app}/{name}" if app else name
        return ":".join(p for p in ("opcenter", self.config.plant_id or "", target, key) if p)

    def _secrets(self) -> tuple[str, ...]:
        extra = tuple(t for t in (self._token, self._refresh_token) if t)
        return self.config.secrets + extra

    # ------------------------------------------------------------------ token
    def invalidate_token(self) -> None:
        with self._token_lock:
            self._token = None
            self._token_deadline = 0.0

    def _bearer(self) -> str:
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token_deadline:
                self._fetch_token()
            assert self._token is not None
            return self._token

    def _fetch_token(self) -> None:
        cfg = self.config
        where = self.where(name="token")
        form: dict[str, str]
        if self._refresh_token:
            form = {"grant_type": "refresh_token", "refresh_token": self._refresh_token}
            try:
                self._store_token(self._post_token(form, where))
                return
            except FatalError:
                log.info("opcenter refresh token refused; asking for a new grant")
                self._refresh_token = None
        if cfg.grant_type == "password":
            form = {"grant_type": "password", "username": cfg.username or "",
                    "password": cfg.password.get_secret_value(), "scope": cfg.scope}
        else:
            form = {"grant_type": "client_credentials", "scope": cfg.scope}
        self._store_token(self._post_token(form, where))
        log.info("opcenter token obtained for client %s (grant %s)", cfg.client_id, cfg.grant_type)

    def _post_token(self, form: dict[str, str], where: str) -> dict[str, Any]:
        cfg = self.config

        # not retried here: a retriable failure surfaces through the service call that needed the
        # token, whose own retry loop asks again (one loop, one attempt budget)
        try:
            response = self.session.post(self.token_url, data=form, timeout=cfg.timeout,
                                         auth=(cfg.client_id, cfg.client_secret.get_secret_value()),
                                         headers={"Accept": "application/json"})
        except requests.RequestException as exc:
            raise errors.from_transport(exc, "token request", where, self._secrets()) from None
        return errors.check_token(response, where, self._secrets())

    def _store_token(self, payload: dict[str, Any]) -> None:
        try:
            lifetime = float(payload.get("expires_in") or 300)
        except (TypeError, ValueError):
            lifetime = 300.0
        self._token = payload["access_token"]
        refresh = payload.get("refresh_token")
        self._refresh_token = refresh if isinstance(refresh, str) and refresh else None
        self._token_deadline = time.monotonic() + max(0.0, lifetime - min(TOKEN_MARGIN_SECONDS, lifetime / 2))
        self.token_count += 1

    # ------------------------------------------------------------------ transport
    def pause(self, attempt: int, retry_after: Optional[float] = None) -> None:
        self.sleep(backoff_wait(attempt, retry_after, self.config.backoff_seconds, self.config.max_retry_after))

    def _retrying(self, work: Callable[[], Any], what: str, idempotent: bool) -> Any:
        # an expired token is not retried here: _send renews it once and repeats the call
        return run_with_retries(work, max_attempts=self.max_attempts, pause=self.pause, what=f"opcenter {what}",
                                log=log, idempotent=idempotent, retriable=errors.OpcenterRetriable,
                                not_retried=(errors.TokenExpired,))

    def _send(self, method: str, url: str, call: str, where: str, check: Callable[..., Any], *,
              params: Optional[dict[str, str]] = None, body: Optional[dict[str, Any]] = None,
              idempotent: bool = True) -> Any:
        """One service call with bounded retries and one token renewal on HTTP 401."""
        renewed = False
        while True:
            def once() -> Any:
                try:
                    headers = {"Authorization": f"Bearer {self._bearer()}"}
                except errors.OpcenterRetriable as exc:
                    exc.unprocessed = True  # the call itself was never sent
                    raise
                try:
                    response = self.session.request(method, url, params=params, json=body, headers=headers,
                                                    timeout=self.config.timeout)
                except requests.RequestException as exc:
                    raise errors.from_transport(exc, call, where, self._secrets()) from None
                return check(response, call, where, self._secrets())

            try:
                return self._retrying(once, call, idempotent)
            except errors.TokenExpired:
                if renewed:
                    raise FatalError("OPCENTER_TOKEN_REFUSED",
                                     f"{call} answered HTTP 401 again right after a fresh token; check the roles "
                                     f"of the integration client/user and the server clock", where) from None
                # 401 means the call was refused before it did anything: repeating even a command is safe
                log.info("opcenter token expired during %s; getting a new one", call)
                self.invalidate_token()
                renewed = True

    # ------------------------------------------------------------------ reads
    def read_page(self, app: str, entity_set: str, params: dict[str, str]) -> dict[str, Any]:
        return self._send("GET", self.service_url(app, entity_set), f"GET {app}/{entity_set}",
                          self.where(app, entity_set), errors.check_read, params=params)

    def query(self, app: str, entity_set: str, filter_text: Optional[str] = None, *,
              select: Optional[list[str]] = None, page_size: Optional[int] = None) -> Iterator[dict[str, Any]]:
        """Every entity matching ``filter_text``, in ``Id`` order, keyset-paged (see the module doc)."""
        limit = page_size or self.config.page_size
        where = self.where(app, entity_set)
        last: Optional[str] = None
        seen: set[str] = set()
        stalled = 0
        while True:
            parts = [f"({filter_text})"] if filter_text else []
            if last is not None:
                parts.append(f"Id gt {odata_key(last)}")
            params = {"$orderby": "Id", "$top": str(limit)}
            if parts:
                params["$filter"] = " and ".join(parts)
            if select:
                params["$select"] = ",".join(dict.fromkeys(["Id", *select]))
            page = self.read_page(app, entity_set, params)
            rows = page["value"]
            fresh = 0
            for row in rows:
                row_id = row.get("Id")
                if not isinstance(row_id, str) or not row_id:
                    raise FatalError("OPCENTER_SCHEMA", f"GET {app}/{entity_set} returned an entity without an Id "
                                                        f"(NId {row.get('NId')!r})", where)
                if row_id in seen:
                    continue
                seen.add(row_id)
                fresh += 1
                yield row
            if not rows or (len(rows) < limit and not page.get("@odata.nextLink")):
                return
            if fresh == 0:
                stalled += 1
                if stalled >= MAX_STALLED_PAGES:
                    raise errors.OpcenterRetriable(
                        "OPCENTER_PAGING", f"GET {app}/{entity_set}: {stalled} pages in a row after Id {last} brought "
                                           f"no new entity; the server ignores the key filter", where)
            else:
                stalled = 0
            last = rows[-1]["Id"]

    def find(self, app: str, entity_set: str, filter_text: str, limit: int = 50) -> list[dict[str, Any]]:
        """A small look-up (one page): the entities matching ``filter_text``."""
        page = self.read_page(app, entity_set, {"$filter": filter_text, "$top": str(limit), "$orderby": "Id"})
        return page["value"]

    # ------------------------------------------------------------------ commands
    def command(self, app: str, name: str, parameters: dict[str, Any], key: str = "") -> dict[str, Any]:
        """Run a command; returns its output parameters. Repeated only when it cannot have run."""
        return self._send("POST", self.service_url(app, name), f"POST {app}/{name}", self.where(app, name, key),
                          errors.check_command, body={"command": parameters}, idempotent=False)

    # ------------------------------------------------------------------ metadata
    def entity_sets(self, app: str) -> set[str]:
        """Names of the entity sets and operations ``app`` declares in its ``$metadata``."""
        root = self._send("GET", self.service_url(app, "$metadata"), f"GET {app}/$metadata",
                          self.where(app, "$metadata"), errors.check_metadata)
        names = set()
        for tag in ("EntitySet", "ActionImport", "FunctionImport", "Action", "Function"):
            names.update(e.get("Name") for e in root.iter(f"{{{_EDM_NS}}}{tag}") if e.get("Name"))
        return names
