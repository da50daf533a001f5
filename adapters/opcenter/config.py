"""Typed settings for the Siemens Opcenter Execution (Foundation, OAuth2 + OData) adapter.

The Connection ``opcenter_default`` (``AIRFLOW_CONN_OPCENTER_DEFAULT``) holds everything:

* ``host`` / ``port`` / ``schema``: the server. ``schema`` ``http``/``https`` is the protocol
  (Airflow's HTTP convention); extra ``path`` is a prefix in front of ``/sit-svc`` and
  ``/sit-auth`` when a reverse proxy adds one (default none);
* ``login`` / ``password``: with ``grant_type`` ``client_credentials`` (the default) the OAuth2
  client id and client secret; with ``grant_type`` ``password`` (the grant the protocol notes
  confirm) the user (``PLANT01\\mes_int``) and its password, the client then in extras
  ``client_id`` / ``client_secret``;
* extras: ``grant_type``, ``client_id``, ``client_secret`` (a secret), ``scope`` (``global``),
  ``plant_id`` (multiplant path segment ``/sit-svc/<plant_id>/...``, default none),
  ``token_path`` (``sit-auth/OAuth/Token``), ``order_app`` / ``order_set`` (``PIOrder`` /
  ``Order``), ``consumption_app`` / ``consumption_set`` (``PIOrder`` / ``MaterialConsumption``,
  INFERRED), ``production_app`` / ``production_set`` (``PIOrder`` / ``MaterialProduction``: the
  completions that fill finished lots, INFERRED), ``material_app`` (``Material``),
  ``integration_app`` (``HubIntegration``: the
  site's custom app with the hub's commands, INFERRED), ``unit_codes`` (JSON object canonical
  unit -> Opcenter UoMNId, default ``{"H87": "PCS"}``), ``timezone`` (IANA name; Opcenter sends
  UTC, records carry naive plant-local times like every ERP record; default ``UTC``),
  ``page_size`` (500), ``timeout`` (seconds, 30), ``verify`` (TLS verification, true),
  ``max_attempts`` / ``backoff_seconds`` / ``max_retry_after`` (the hook's own bounded retries).

Secrets are ``SecretStr`` and excluded from ``repr``; unknown extras are refused so a typo cannot
silently fall back to a default; errors name fields, never values.
"""
from __future__ import annotations

import json
import zoneinfo
from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connections import ConnectionSettings, http_base_url
from hub.errors import FatalError

DEFAULT_CONN_ID = "opcenter_default"
DEFAULT_UNIT_CODES = {"H87": "PCS"}
_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _invalid_fields(exc: ValueError) -> str:
    # pydantic errors may echo input values (a secret); name the fields only
    # (a model-level check has no field location; its message is ours and names no value)
    return ", ".join(".".join(str(p) for p in e["loc"]) or str(e.get("msg", ""))
                     for e in getattr(exc, "errors", lambda: [])()) or "see adapters/opcenter/README.md"


class OpcenterConfig(ConnectionSettings, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    DEFAULT_CONN_ID: ClassVar[str] = DEFAULT_CONN_ID

    base_url: str = Field(description="server root, e.g. https://mes01 (the hub adds /sit-svc and /sit-auth)")
    grant_type: Literal["client_credentials", "password"] = "client_credentials"
    client_id: str
    client_secret: SecretStr = Field(default=SecretStr(""), repr=False, json_schema_extra={"secret": True})
    username: Optional[str] = None
    password: SecretStr = Field(default=SecretStr(""), repr=False, json_schema_extra={"secret": True})
    scope: str = "global"
    plant_id: Optional[str] = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    token_path: str = "sit-auth/OAuth/Token"
    order_app: str = Field(default="PIOrder", pattern=_NAME)
    order_set: str = Field(default="Order", pattern=_NAME)
    consumption_app: str = Field(default="PIOrder", pattern=_NAME)
    consumption_set: str = Field(default="MaterialConsumption", pattern=_NAME)
    production_app: str = Field(default="PIOrder", pattern=_NAME)
    production_set: str = Field(default="MaterialProduction", pattern=_NAME)
    material_app: str = Field(default="Material", pattern=_NAME)
    integration_app: str = Field(default="HubIntegration", pattern=_NAME)
    unit_codes: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_UNIT_CODES))
    timezone: str = "UTC"
    page_size: int = Field(default=500, ge=1, le=5000)
    timeout: float = Field(default=30.0, gt=0, description="seconds, for connect and for each read")
    verify: bool = True
    #: attempts per call for retriable failures; None: 1 for a bare hook (the scheduler retries), 4 in OpcenterMes
    max_attempts: Optional[int] = Field(default=None, ge=1, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    max_retry_after: float = Field(default=30.0, ge=0, le=600)

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("timezone must be an IANA time zone name such as Asia/Shanghai") from None
        return value

    @model_validator(mode="after")
    def _grant_complete(self) -> "OpcenterConfig":
        if self.grant_type == "password" and not (self.username and self.password.get_secret_value()):
            raise ValueError("grant_type password needs the user in login and its password")
        if not self.client_id:
            raise ValueError("the OAuth2 client id is missing")
        return self

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so error texts can be scrubbed of them before they are raised."""
        return tuple(v for v in (self.client_secret.get_secret_value(), self.password.get_secret_value()) if v)

    def unit_code(self, canonical: str) -> str:
        """The Opcenter UoMNId the hub writes for a canonical (UN/ECE) unit."""
        return self.unit_codes.get(canonical, canonical)

    @classmethod
    def from_connection(cls, conn: Any) -> "OpcenterConfig":
        """Build from an Airflow ``Connection`` or a :class:`hub.connections.ConnectionParts`."""
        extra = dict(conn.extra_dejson or {})
        if not conn.host:
            raise FatalError("OPCENTER_CONFIG", "connection is missing host", DEFAULT_CONN_ID)
        base = http_base_url(conn.host, conn.port, conn.schema, extra, "")
        extra.pop("ingress_token", None)  # the token Opcenter sends to the hub's ingress API (hub/api), not ours
        known = {"grant_type", "client_id", "client_secret", "scope", "plant_id", "token_path", "order_app",
                 "order_set", "consumption_app", "consumption_set", "production_app", "production_set", "material_app",
                 "integration_app", "unit_codes",
                 "timezone", "page_size", "timeout", "verify", "max_attempts", "backoff_seconds", "max_retry_after"}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise FatalError("OPCENTER_CONFIG", f"unknown connection extra(s): {', '.join(unknown)}", DEFAULT_CONN_ID)
        values = {k: v for k, v in extra.items() if v not in (None, "")}
        if isinstance(values.get("unit_codes"), str):
            try:
                values["unit_codes"] = json.loads(values["unit_codes"])
            except json.JSONDecodeError:
                raise FatalError("OPCENTER_CONFIG", "extra unit_codes is not a JSON object", DEFAULT_CONN_ID) from None
        if isinstance(values.get("verify"), str):
            values["verify"] = values["verify"].strip().lower() not in ("false", "0", "no")
        grant = values.get("grant_type", "client_credentials")
        if grant == "password":
            missing = [n for n, v in (("login", conn.login), ("password", conn.password),
                                      ("extra.client_id", values.get("client_id"))) if not v]
            values.update(username=conn.login, password=SecretStr(conn.password or ""))
        else:
            missing = [n for n, v in (("login (client id)", conn.login), ("password (client secret)", conn.password))
                       if not v]
            values.update(client_id=conn.login, client_secret=SecretStr(conn.password or ""))
        if missing:
            raise FatalError("OPCENTER_CONFIG", f"connection is missing {', '.join(missing)} for grant_type {grant}",
                             DEFAULT_CONN_ID)
        if "client_secret" in values and not isinstance(values["client_secret"], SecretStr):
            values["client_secret"] = SecretStr(str(values["client_secret"]))
        try:
            return cls(base_url=base, **values)
        except ValueError as exc:
            raise FatalError("OPCENTER_CONFIG", f"invalid connection setting(s): {_invalid_fields(exc)}",
                             DEFAULT_CONN_ID) from None
