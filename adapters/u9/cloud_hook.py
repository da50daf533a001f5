"""U9 Cloud OpenAPI hook: the only code that knows the REST wire (protocols/yonyou-u9.md §1).

Login is lazy: ``GET {base}/webapi/OAuth2/AuthLogin?clientid=&clientsecret=&entCode=&userCode=&orgCode=``
returns the token (``Data``), sent on every call as header ``token``. ResCode 402 (expired),
504 (invalidated: someone logged in with the same client id) or HTTP 401 (a gateway) log in again
once and repeat the call; the same answer right after a fresh login is fatal. Logins are
serialised (a new token invalidates the previous one, §1.1).

Reads go through ``QueryCommon/QueryInfoBySql`` because it is the only read service that filters
by modification time: keyset pages ``SELECT TOP n ... WHERE ID > last AND ... ORDER BY ID``,
child rows fetched per page with ``WHERE <parent> IN (...)``. Values in SQL are literals the hook
quotes itself (``N'...'`` with ``''``), never text glued in from a document.

``Data`` may be a JSON-encoded string (create/batch services, §1.2); both forms are accepted.
Numbers are parsed as ``Decimal``. The client secret travels in the login URL's query (that is the
official contract), so every error text is scrubbed of it, raw and URL-encoded, and urllib3's
debug log line of that URL is redacted.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import threading
from decimal import Decimal
from typing import Any, Iterable, Iterator, Optional

import requests

from adapters.u9 import errors
from adapters.u9.config import CLOUD_CONN_ID, U9CloudConfig
from adapters.u9.base import U9Hook, keyset_page
from hub.errors import FatalError, RetriableError

log = logging.getLogger(__name__)

USER_AGENT = "mes-hub u9cloud adapter"
LOGIN_ROUTE = "OAuth2/AuthLogin"
SQL_ROUTE = "QueryCommon/QueryInfoBySql"
#: document kind -> (create route, approve route, table, external-number column). Receivement paths are
#: official; InspectDoc/* and PurchaseOrder/SupplierConfirm, the tables and columns are INFERRED.
WRITE_ROUTES: dict[str, tuple[str, Optional[str], str, str]] = {
    "Receivement": ("Receivement/CreateRcvBySrcPO", "Receivement/Approve", "PM_Receivement",
                    "DescFlexField_PrivateDescSeg1"),
    "InspectDoc": ("InspectDoc/Create", "InspectDoc/Approve", "QC_InspectDoc", "DescFlexField_PrivateDescSeg1"),
    "POLineConfirm": ("PurchaseOrder/SupplierConfirm", None, "PM_POLine", "DescFlexField_PrivateDescSeg2"),
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _RedactSecretQuery(logging.Filter):
    """urllib3 logs request lines at DEBUG; the login line carries clientsecret in its query."""

    _pattern = re.compile(r"(clientsecret=)[^&\s\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self._pattern.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = self._pattern.sub(r"\1***", record.msg)
        return True


_REDACT = _RedactSecretQuery()


def _install_redaction() -> None:
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    if _REDACT not in urllib3_log.filters:
        urllib3_log.addFilter(_REDACT)


def sql_string(value: Any) -> str:
    """A T-SQL Unicode string literal; quotes doubled, so a value cannot end the literal."""
    text = str(value)
    if "\x00" in text:
        raise ValueError("a NUL character cannot travel in a SQL literal")
    return "N'" + text.replace("'", "''") + "'"


def sql_datetime(value: dt.datetime) -> str:
    # ISO 8601 with 'T' is read the same by SQL Server whatever the session's language/dateformat
    return "'" + value.replace(microsecond=0, tzinfo=None).isoformat() + "'"


def sql_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"{name!r} is not a plain column/table name")
    return name


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        as_float = float(value)
        if Decimal(repr(as_float)) == value:
            return int(value) if value == value.to_integral_value() and abs(value) < 2 ** 53 else as_float
        return format(value, "f")  # more digits than a double keeps: send it as text, .NET converts it
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class U9CloudHook(U9Hook, system="u9cloud", config_class=U9CloudConfig, default_conn_id=CLOUD_CONN_ID):

    def __init__(self, config: U9CloudConfig, session: Optional[requests.Session] = None,
                 max_attempts: Optional[int] = None) -> None:
        super().__init__(config, session, max_attempts, {
            "User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
        self._token: Optional[str] = None
        self._login_lock = threading.Lock()
        self.login_count = 0
        _install_redaction()

    def __repr__(self) -> str:  # no token, no secret
        return (f"U9CloudHook(base_url={self.config.base_url!r}, client_id={self.config.client_id!r}, "
                f"ent_code={self.config.ent_code!r}, org_code={self.config.org_code!r})")

    # ------------------------------------------------------------------ plumbing
    @property
    def secrets(self) -> tuple[str, ...]:
        return self.config.secrets + ((self._token,) if self._token else ())

    def where(self, route: str, document: str = "") -> str:
        return ":".join(p for p in ("u9cloud", self.config.ent_code, route, document) if p)

    def _url(self, route: str) -> str:
        return f"{self.config.base_url}/webapi/{route}"

    def _send(self, method: str, route: str, where: str, body: Any = None,
              params: Optional[dict[str, Any]] = None) -> tuple[int, Any]:
        """(HTTP status, parsed JSON or None for 401); transport errors and other HTTP failures classified."""
        data = None if body is None else json.dumps(body, ensure_ascii=False, default=_json_default).encode("utf-8")
        headers = {"token": self._token} if self._token and route != LOGIN_ROUTE else {}
        try:
            response = self.session.request(method, self._url(route), data=data, params=params, headers=headers,
                                            timeout=self.config.timeout)
            text = response.text or ""
        except requests.RequestException as exc:
            raise errors.from_transport(exc, "u9cloud", route, where, self.secrets) from None
        status = response.status_code
        if status == 401:
            return status, None
        if status >= 400:
            raise errors.http_status(status, text, "u9cloud", route, where, self.secrets,
                                     response.headers.get("Retry-After"))
        try:
            return status, json.loads(text, parse_float=Decimal)
        except ValueError:
            raise RetriableError("U9C_BAD_RESPONSE", errors.scrub(
                f"{route} answered HTTP {status} with a body that is not JSON: {text[:200]!r}", self.secrets),
                where) from None

    def login(self) -> None:
        """Get a token; raises FatalError U9C_AUTH on refused credentials (never naming the secret)."""
        cfg = self.config
        where = self.where(LOGIN_ROUTE)
        with self._login_lock:
            self._token = None
            params = {"clientid": cfg.client_id, "clientsecret": cfg.client_secret.get_secret_value(),
                      "entCode": cfg.ent_code, "userCode": cfg.user_code, "orgCode": cfg.org_code,
                      "loginType": cfg.login_type, "language": cfg.language}
            status, payload = self.retrier.run(lambda: self._send("GET", LOGIN_ROUTE, where, params=params),
                                               "u9cloud login")
            if status == 401:
                raise FatalError("U9C_AUTH", f"AuthLogin answered HTTP 401 for client {cfg.client_id!r}", where)
            code, message, data = errors.check_envelope(payload, LOGIN_ROUTE, where, self.secrets)
            if code != 0 or not isinstance(data, str) or not data:
                log.error("u9cloud login refused for user %s, client %s (ResCode %s)", cfg.user_code, cfg.client_id,
                          code)
                raise errors.login_failed(code, message, cfg.user_code, cfg.client_id, where, self.secrets)
            self._token = data
            self.login_count += 1
        log.info("u9cloud login ok for user %s, client %s, org %s", cfg.user_code, cfg.client_id, cfg.org_code)

    def call(self, route: str, body: Any, document: str = "", write: bool = False) -> Any:
        """POST one OpenAPI service; returns ``Data`` (a JSON-encoded string is decoded).

        Reads are retried within ``max_attempts``; a write only when it cannot have been executed.
        """
        return self.retrier.run(lambda: self._call_once(route, body, document), f"u9cloud {route} {document}".strip(),
                                idempotent=not write)

    def _call_once(self, route: str, body: Any, document: str) -> Any:
        where = self.where(route, document)
        if self._token is None:
            self.login()
        for attempt in (1, 2):
            status, payload = self._send("POST", route, where, body=body)
            if status == 401:
                code, message = 401, "HTTP 401"
            else:
                code, message, data = errors.check_envelope(payload, route, where, self.secrets)
                if code == 0:
                    return _decode_data(data, route, where, self.secrets)
            if (code in errors.TOKEN_CODES or code == 401) and attempt == 1:
                log.warning("u9cloud token refused on %s (ResCode %s); logging in again once", route, code)
                self.login()
                continue
            if code == 401:
                code = 402  # a refusal right after a fresh login: same meaning as an expired token
            raise errors.from_res_code(code, message, route, where, self.secrets)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reads
    def query_sql(self, sql: str, document: str = "") -> list[dict[str, Any]]:
        rows = self.call(SQL_ROUTE, {"SqlString": sql}, document)
        if rows is None:
            return []
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise RetriableError("U9C_BAD_RESPONSE", f"{SQL_ROUTE}: Data is not a list of rows",
                                 self.where(SQL_ROUTE, document))
        return rows

    def sql_pages(self, table: str, columns: Iterable[str], condition: str = "",
                  page_size: Optional[int] = None) -> Iterator[list[dict[str, Any]]]:
        """Keyset pages of ``table`` (ascending ``ID``), each row once even if the server repeats rows."""
        size = page_size or self.config.page_size
        cols = ", ".join(sql_ident(c) for c in ("ID", *[c for c in columns if c != "ID"]))

        def numeric_id(row: dict[str, Any]) -> int:
            try:
                return int(row.get("ID"))
            except (TypeError, ValueError):
                raise RetriableError("U9C_BAD_RESPONSE", f"{table}: a row without a numeric ID",
                                     self.where(SQL_ROUTE, table)) from None

        last_id = 0
        while True:
            where = f"ID > {int(last_id)}" + (f" AND ({condition})" if condition else "")
            rows = self.query_sql(f"SELECT TOP {int(size)} {cols} FROM {sql_ident(table)} WHERE {where} ORDER BY ID",
                                  f"{table} after ID {last_id}")
            page, next_id = keyset_page(rows, last_id, numeric_id, lambda: RetriableError(
                "U9C_BAD_PAGING", f"{table}: the page after ID {last_id} repeated only rows already read; retry later",
                self.where(SQL_ROUTE, table)))
            if page:
                yield page
            if len(page) < size:
                return
            last_id = next_id

    def sql_children(self, table: str, columns: Iterable[str], parent_column: str,
                     parent_ids: Iterable[int]) -> list[dict[str, Any]]:
        """Rows of a child table for some parents, each row once (by ID)."""
        ids = sorted({int(i) for i in parent_ids})
        if not ids:
            return []
        cols = ", ".join(sql_ident(c) for c in ("ID", sql_ident(parent_column),
                                                *[c for c in columns if c not in ("ID", parent_column)]))
        rows = self.query_sql(f"SELECT {cols} FROM {sql_ident(table)} WHERE {sql_ident(parent_column)} IN "
                              f"({', '.join(str(i) for i in ids)}) ORDER BY ID", f"{table} of {len(ids)} parents")
        seen: dict[Any, dict[str, Any]] = {}
        for row in rows:
            seen.setdefault(row.get("ID"), row)
        return list(seen.values())

    # ------------------------------------------------------------------ writes
    def find_by_external(self, kind: str, external_number: str) -> list[dict[str, Any]]:
        """``[{ID, DocNo, Status}]`` of the documents of ``kind`` carrying ``external_number``."""
        _, _, table, column = WRITE_ROUTES[kind]
        literal = sql_string(external_number)
        if kind == "POLineConfirm":  # the number sits on PO lines; answer with their orders
            lines = self.query_sql(f"SELECT ID, PurchaseOrder FROM {table} WHERE {column} = {literal} ORDER BY ID",
                                   external_number)
            ids = sorted({int(r["PurchaseOrder"]) for r in lines if r.get("PurchaseOrder") is not None})
            if not ids:
                return []
            return self.query_sql(f"SELECT ID, DocNo, Status FROM PM_PurchaseOrder WHERE ID IN "
                                  f"({', '.join(str(i) for i in ids)}) ORDER BY ID", external_number)
        return self.query_sql(f"SELECT ID, DocNo, Status FROM {table} WHERE {column} = {literal} ORDER BY ID",
                              external_number)

    def create(self, kind: str, dto: dict[str, Any], document: str) -> dict[str, Any]:
        """Create one document; returns ``{ID, DocNo}``."""
        rows = self.write(WRITE_ROUTES[kind][0], [dto], document)
        if not rows[0].get("DocNo"):
            raise RetriableError("U9C_BAD_RESPONSE", f"{WRITE_ROUTES[kind][0]} succeeded without a document number",
                                 self.where(WRITE_ROUTES[kind][0], document))
        return rows[0]

    def approve(self, kind: str, doc_no: str, document: str) -> None:
        route = WRITE_ROUTES[kind][1]
        if route is not None:
            self.write(route, [{"DocNo": doc_no}], document)

    def confirm_po_lines(self, dtos: list[dict[str, Any]], document: str) -> str:
        rows = self.write(WRITE_ROUTES["POLineConfirm"][0], dtos, document)
        return str(rows[0].get("DocNo") or "")

    def write(self, route: str, body: Any, document: str) -> list[dict[str, Any]]:
        """A create/approve service: its per-row results; a failed row is SkippableError."""
        where = self.where(route, document)
        rows = self.call(route, body, document, write=True)
        if not isinstance(rows, list) or not rows:
            raise RetriableError("U9C_BAD_RESPONSE", f"{route} answered without per-row results", where)
        for row in rows:
            if not isinstance(row, dict):
                raise RetriableError("U9C_BAD_RESPONSE", f"{route}: a result row is not an object", where)
            ok = row.get("m_isSucess", row.get("IsSucess", row.get("IsSuccess")))
            if not (ok is True or str(ok).lower() == "true"):
                raise errors.rejected_row(row, route, document, where, self.secrets)
        return [{"ID": r.get("m_iD", r.get("ID")), "DocNo": r.get("m_code", r.get("Code"))} for r in rows]


def _decode_data(data: Any, route: str, where: str, secrets: tuple[str, ...]) -> Any:
    if isinstance(data, str) and data.strip()[:1] in ("[", "{"):
        try:
            return json.loads(data, parse_float=Decimal)
        except ValueError:
            raise RetriableError("U9C_BAD_RESPONSE", errors.scrub(f"{route}: Data is a string but not valid JSON",
                                                                  secrets), where) from None
    return data
