"""Typed settings for the WMS adapter, read from the Airflow Connection ``wms_default``.

One Connection, two dialects, chosen by the extra ``dialect`` (see README.md for every field)::

    wms://:<token>@<host>:<port>/<schema>?dialect=greaterwms&timeout=30&page_size=100
    wms://<login>:<password-or-api-key>@<host>:<port>/<schema>?dialect=odoo&database=wms_prod

* password -> ``token``: the GreaterWMS openid (sent in the ``token`` header) or the Odoo
  password / API key (sent in every ``execute_kw``). Secret: excluded from ``repr`` and wrapped
  in ``SecretStr`` so it prints as ``**********``.
* login -> ``login``: the Odoo user; unused by GreaterWMS (it has no login exchange).
* schema (the URI path) -> ``http`` or ``https`` (Airflow's HTTP provider convention); default http.
* extras: ``dialect``, ``timeout``, ``page_size``, ``base_path`` for both; ``database``, ``route``,
  ``stock_location``, ``quarantine_location`` for Odoo only.
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connections import ConnectionSettings
from hub.errors import FatalError

DEFAULT_CONN_ID = "wms_default"

Dialect = Literal["greaterwms", "odoo"]
DIALECTS: tuple[str, ...] = ("greaterwms", "odoo")

#: extras each dialect reads; anything else is a typo and refused
_COMMON_EXTRAS = ("dialect", "timeout", "page_size")
_ODOO_EXTRAS = ("database", "route", "stock_location", "quarantine_location")


class WmsConfig(ConnectionSettings, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    DEFAULT_CONN_ID: ClassVar[str] = DEFAULT_CONN_ID

    base_url: str
    #: GreaterWMS openid, or the Odoo password / API key
    token: SecretStr = Field(repr=False)
    dialect: Dialect = "greaterwms"
    timeout: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)  # GreaterWMS caps max_page at 1000
    # -- Odoo only ---------------------------------------------------------------------------
    login: Optional[str] = None
    database: Optional[str] = None
    #: ``jsonrpc``: stateless ``POST /jsonrpc`` (password in every call); ``session``:
    #: ``/web/session/authenticate`` then ``/web/dataset/call_kw`` with the session cookie
    route: Literal["jsonrpc", "session"] = "jsonrpc"
    #: ``complete_name`` of the location expected receipts go to and QC releases return to
    stock_location: str = "WH/Stock"
    #: ``complete_name`` of the location a QC hold moves a batch into (Odoo's 3-step reception name)
    quarantine_location: str = "WH/Quality Control"

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _odoo_needs_login_and_database(self) -> "WmsConfig":
        if self.dialect == "odoo" and not (self.login and self.database):
            raise ValueError("dialect odoo needs the login (Connection login) and the extra database")
        return self

    @classmethod
    def from_connection(cls, conn: Any) -> "WmsConfig":
        """Build from an Airflow ``Connection`` or a :class:`hub.connections.ConnectionParts`;
        errors never echo the password (it is the token)."""
        conn_type = getattr(conn, "conn_type", None)
        if conn_type and conn_type not in ("wms", "http", "https"):
            raise FatalError("WMS_CONFIG", f"connection type must be 'wms', got {conn_type!r}", "wms connection")
        schema = (conn.schema or "").strip("/") or (conn_type if conn_type in ("http", "https") else "http")
        return cls._build(host=conn.host or "", port=conn.port, schema=schema, login=conn.login or None,
                          password=conn.password or "", extras=dict(conn.extra_dejson or {}))

    @classmethod
    def _build(cls, *, host: str, port: int | None, schema: str, login: str | None, password: str,
               extras: dict[str, Any]) -> "WmsConfig":
        if schema not in ("http", "https"):
            raise FatalError("WMS_CONFIG", f"schema must be http or https, got {schema!r}", "wms connection")
        if not password:
            raise FatalError("WMS_CONFIG", "connection has no password (the GreaterWMS token or the Odoo "
                                           "password / API key)", "wms connection")
        if not host:
            raise FatalError("WMS_CONFIG", "connection has no host", "wms connection")
        dialect = str(extras.get("dialect") or "greaterwms")
        if dialect not in DIALECTS:
            raise FatalError("WMS_CONFIG", f"extra dialect must be one of {', '.join(DIALECTS)}, got {dialect!r}",
                             "wms connection")
        extras.pop("ingress_token", None)  # the token the WMS sends to the hub's ingress API (hub/api), not ours
        base_path = "/" + str(extras.pop("base_path", "")).strip("/")
        netloc = f"{host}:{port}" if port else host
        allowed = _COMMON_EXTRAS + (_ODOO_EXTRAS if dialect == "odoo" else ())
        known = {k: extras[k] for k in allowed if k in extras}
        unknown = sorted(set(extras) - set(known))
        if unknown:
            hint = " (Odoo-only extras need dialect=odoo)" if set(unknown) & set(_ODOO_EXTRAS) else ""
            raise FatalError("WMS_CONFIG", f"unknown connection extras: {', '.join(unknown)}{hint}", "wms connection")
        if dialect == "odoo":
            known["login"] = login
        try:
            return cls(base_url=f"{schema}://{netloc}{base_path.rstrip('/')}", token=SecretStr(password), **known)
        except ValueError as exc:  # pydantic ValidationError; its text holds field names, not the token
            raise FatalError("WMS_CONFIG", _safe_validation_text(exc), "wms connection") from None


def _safe_validation_text(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'connection'}: {e['msg']}" for e in errors())
    return "invalid connection settings"
