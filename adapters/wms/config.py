"""Typed settings for the WMS adapter, read from the Airflow Connection ``wms_default``.

Connection fields (URI form, as in ``AIRFLOW_CONN_WMS_DEFAULT``)::

    wms://:<token>@<host>:<port>/<schema>?dialect=greaterwms&timeout=30&page_size=100

* password -> ``token`` (GreaterWMS openid sent in the ``token`` header); secret: excluded
  from ``repr`` and wrapped in ``SecretStr`` so it prints as ``**********``.
* schema (the URI path) -> ``http`` or ``https`` (Airflow's HTTP provider convention); default http.
* extras ``dialect``, ``timeout``, ``page_size``, ``base_path`` (a URL prefix if GreaterWMS is
  served under a sub-path).
"""
from __future__ import annotations

import json
import os
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.errors import FatalError

DEFAULT_CONN_ID = "wms_default"

#: ``greaterwms`` is implemented. ``odoo`` (JSON-RPC, protocols/wms.md §1) is a planned second
#: dialect: it is accepted here so a Connection can name it, and the hook refuses it with a
#: FatalError until it is written.
Dialect = Literal["greaterwms", "odoo"]


class WmsConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

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
    def from_uri(cls, uri: str) -> "WmsConfig":
        """Parse an Airflow Connection URI; errors never echo the URI (it holds the token)."""
        parts = urlsplit(uri)
        if parts.scheme not in ("wms", "http", "https"):
            raise FatalError("WMS_CONFIG", f"connection type must be 'wms', got {parts.scheme!r}", "wms connection")
        if not parts.hostname:
            raise FatalError("WMS_CONFIG", "connection has no host", "wms connection")
        try:
            port = parts.port
        except ValueError:
            raise FatalError("WMS_CONFIG", "connection port is not a number", "wms connection") from None
        extras = dict(parse_qsl(parts.query))
        schema = unquote(parts.path.strip("/")) or (parts.scheme if parts.scheme != "wms" else "http")
        return cls._build(host=parts.hostname, port=port, schema=schema,
                          password=unquote(parts.password or ""), extras=extras)

    @classmethod
    def from_env(cls, conn_id: str = DEFAULT_CONN_ID, environ: dict[str, str] | None = None) -> "WmsConfig":
        """Read ``AIRFLOW_CONN_<CONN_ID>`` in URI or JSON form, as Airflow itself accepts."""
        env = os.environ if environ is None else environ
        name = f"AIRFLOW_CONN_{conn_id.upper()}"
        value = env.get(name)
        if not value:
            raise FatalError("WMS_CONFIG", f"{name} is not set", conn_id)
        if value.lstrip().startswith("{"):
            try:
                data = json.loads(value)
            except json.JSONDecodeError:
                raise FatalError("WMS_CONFIG", f"{name} is not valid JSON", conn_id) from None
            extra = data.get("extra") or {}
            if isinstance(extra, str):
                extra = json.loads(extra or "{}")
            return cls._build(host=data.get("host") or "", port=data.get("port"), schema=data.get("schema") or "http",
                              password=data.get("password") or "", extras=extra)
        return cls.from_uri(value)

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
