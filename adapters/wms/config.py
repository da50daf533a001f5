"""Typed settings for the WMS adapter, read from the Airflow Connection ``wms_default``.

Connection fields (URI form, as in ``AIRFLOW_CONN_WMS_DEFAULT``; Airflow's JSON form works too,
see :func:`hub.connections.parse_connection`)::

    wms://:<token>@<host>:<port>/<schema>?dialect=greaterwms&timeout=30&page_size=100

* password -> ``token`` (GreaterWMS openid sent in the ``token`` header); secret: excluded
  from ``repr`` and wrapped in ``SecretStr`` so it prints as ``**********``.
* schema (the URI path) -> ``http`` or ``https`` (Airflow's HTTP provider convention); default http.
* extras ``dialect``, ``timeout``, ``page_size``, ``base_path`` (a URL prefix if GreaterWMS is
  served under a sub-path).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connections import ConnectionSettings
from hub.errors import FatalError

DEFAULT_CONN_ID = "wms_default"

#: ``greaterwms`` is implemented. ``odoo`` (JSON-RPC, protocols/wms.md §1) is a planned second
#: dialect: it is accepted here so a Connection can name it, and the hook refuses it with a
#: FatalError until it is written.
Dialect = Literal["greaterwms", "odoo"]


class WmsConfig(ConnectionSettings, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    DEFAULT_CONN_ID: ClassVar[str] = DEFAULT_CONN_ID

    base_url: str
    token: SecretStr = Field(repr=False)
    dialect: Dialect = "greaterwms"
    timeout: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=100, ge=1, le=1000)  # GreaterWMS caps max_page at 1000

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @classmethod
    def from_connection(cls, conn: Any) -> "WmsConfig":
        """Build from an Airflow ``Connection`` or a :class:`hub.connections.ConnectionParts`;
        errors never echo the password (it is the token)."""
        conn_type = getattr(conn, "conn_type", None)
        if conn_type and conn_type not in ("wms", "http", "https"):
            raise FatalError("WMS_CONFIG", f"connection type must be 'wms', got {conn_type!r}", "wms connection")
        schema = (conn.schema or "").strip("/") or (conn_type if conn_type in ("http", "https") else "http")
        return cls._build(host=conn.host or "", port=conn.port, schema=schema, password=conn.password or "",
                          extras=dict(conn.extra_dejson or {}))



    @classmethod
    def _build(cls, *, host: str, port: int | None, schema: str, password: str, extras: dict[str, Any]) -> "WmsConfig":
        if schema not in ("http", "https"):
            raise FatalError("WMS_CONFIG", f"schema must be http or https, got {schema!r}", "wms connection")
        if not password:
            raise FatalError("WMS_CONFIG", "connection has no password (the GreaterWMS token)", "wms connection")
        if not host:
            raise FatalError("WMS_CONFIG", "connection has no host", "wms connection")
        base_path = "/" + str(extras.pop("base_path", "")).strip("/")
        netloc = f"{host}:{port}" if port else host
        known = {k: extras[k] for k in ("dialect", "timeout", "page_size") if k in extras}
        unknown = sorted(set(extras) - set(known))
        if unknown:
            raise FatalError("WMS_CONFIG", f"unknown connection extras: {', '.join(unknown)}", "wms connection")
        try:
            return cls(base_url=f"{schema}://{netloc}{base_path.rstrip('/')}", token=SecretStr(password), **known)
        except ValueError as exc:  # pydantic ValidationError; its text holds field names, not the token
            raise FatalError("WMS_CONFIG", _safe_validation_text(exc), "wms connection") from None


def _safe_validation_text(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors())
    return "invalid connection settings"
