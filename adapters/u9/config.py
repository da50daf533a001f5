"""Typed settings for the two U9 adapters, read from Airflow Connections.

Classic U9 SOAP, Connection ``u9_default`` (``AIRFLOW_CONN_U9_DEFAULT``):

* ``host`` / ``port`` / ``schema``: the services base. ``schema`` ``http``/``https`` is the
  protocol (Airflow's HTTP convention) and extra ``path`` the service path (default
  ``U9/Services``; sites also use ``U9/services``, ``services`` or ``U9/CUSTService``); any other
  ``schema`` is taken as the path (URI form ``u9://host:port/U9/Services``);
* ``login``: the user code (``UserCode`` context key, optional); ``password`` is not used: classic
  U9 carries no password, the context is the whole login (protocols/yonyou-u9.md §2.2);
* extras: ``enterprise_id`` (账套 code, the ``EnterpriseID`` key), ``org_id`` and ``user_id``
  (long ids, required), ``org_code``, ``culture`` (``zh-CN``), ``page_size`` (500), ``timeout``
  (seconds, 30), ``protocol``, ``path``, ``receipt_warehouse`` (U9 warehouse code for
  receipts), ``max_attempts`` / ``backoff_seconds`` / ``max_retry_after`` (the hook's own bounded
  retries, adapters/u9/retry.py).

U9 Cloud REST, Connection ``u9cloud_default`` (``AIRFLOW_CONN_U9CLOUD_DEFAULT``):

* ``host`` / ``port`` / ``schema`` as above (path default ``U9C``; some sites ``U9``);
* ``login``: ``userCode``; ``password``: the ``clientsecret`` (a secret);
* extras: ``client_id``, ``ent_code``, ``org_code`` (required), ``login_type`` (1), ``language``
  (``zh-CN``), ``page_size``, ``timeout``, ``protocol``, ``path``, ``receipt_warehouse``, ``max_attempts``,
  ``backoff_seconds``, ``max_retry_after``.

Secrets are ``SecretStr`` and excluded from ``repr``; unknown extras are refused so a typo cannot
silently fall back to a default.
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connections import ConnectionSettings, http_base_url
from hub.errors import FatalError

SOAP_CONN_ID = "u9_default"
CLOUD_CONN_ID = "u9cloud_default"


def _invalid_fields(exc: ValueError) -> str:
    # pydantic errors may echo input values (a secret); name the fields only
    return ", ".join(".".join(str(p) for p in e["loc"]) for e in getattr(exc, "errors", lambda: [])()) or "see README"


class _Common(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    page_size: int = Field(default=500, ge=1, le=5000)
    timeout: float = Field(default=30.0, gt=0, description="seconds, for connect and for each read")
    #: U9 warehouse code receipts are booked into (a crosswalk u9_warehouses, if present, wins per bin)
    receipt_warehouse: Optional[str] = None
    #: the hook's own bounded retries (adapters/u9/retry.py); None: 1 for a bare hook, 4 in the ERP clients
    max_attempts: Optional[int] = Field(default=None, ge=1, le=10)
    #: first backoff pause in seconds; doubles per attempt
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    #: longest pause a Retry-After header (or the backoff) may impose, seconds
    max_retry_after: float = Field(default=30.0, ge=0, le=600)

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")


class U9SoapConfig(ConnectionSettings, _Common):
    DEFAULT_CONN_ID: ClassVar[str] = SOAP_CONN_ID

    enterprise_id: str = Field(description="EnterpriseID: the enterprise (账套) code, e.g. 010")
    org_id: str = Field(description="OrgID: the organisation's long id")
    user_id: str = Field(description="UserID: the integration user's long id")
    user_code: Optional[str] = None
    org_code: Optional[str] = None
    culture: str = "zh-CN"

    @property
    def secrets(self) -> tuple[str, ...]:
        return ()  # classic U9 has no secret on the wire

    def context_values(self) -> list[tuple[str, str]]:
        """The ThreadContext keys real callers send (§2.2), in a stable order."""
        values = [("OrgID", self.org_id), ("UserID", self.user_id), ("EnterpriseID", self.enterprise_id),
                  ("CultureName", self.culture), ("DefaultCultureName", self.culture),
                  ("Support_CultureNameList", self.culture)]
        if self.org_code:
            values.append(("OrgCode", self.org_code))
        if self.user_code:
            values.append(("UserCode", self.user_code))
        return values

    @classmethod
    def from_connection(cls, conn: Any) -> "U9SoapConfig":
        extra = dict(conn.extra_dejson or {})
        missing = [name for name, value in (("host", conn.host), ("extra.enterprise_id", extra.get("enterprise_id")),
                                            ("extra.org_id", extra.get("org_id")),
                                            ("extra.user_id", extra.get("user_id"))) if not value]
        if missing:
            raise FatalError("U9_CONFIG", f"connection is missing {', '.join(missing)}", SOAP_CONN_ID)
        base = http_base_url(conn.host, conn.port, conn.schema, extra, "U9/Services")
        known = {"enterprise_id", "org_id", "user_id", "org_code", "culture", "page_size", "timeout",
                 "receipt_warehouse", "max_attempts", "backoff_seconds", "max_retry_after"}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise FatalError("U9_CONFIG", f"unknown connection extra(s): {', '.join(unknown)}", SOAP_CONN_ID)
        try:
            return cls(base_url=base, user_code=conn.login or None,
                       **{k: str(v) if k in ("enterprise_id", "org_id", "user_id") else v
                          for k, v in extra.items() if v not in (None, "")})
        except ValueError as exc:
            raise FatalError("U9_CONFIG", f"invalid connection setting(s): {_invalid_fields(exc)}",
                             SOAP_CONN_ID) from None


class U9CloudConfig(ConnectionSettings, _Common):
    DEFAULT_CONN_ID: ClassVar[str] = CLOUD_CONN_ID

    client_id: str
    client_secret: SecretStr = Field(repr=False, json_schema_extra={"secret": True})
    ent_code: str
    org_code: str
    user_code: str
    login_type: int = 1
    language: str = "zh-CN"

    @property
    def secrets(self) -> tuple[str, ...]:
        value = self.client_secret.get_secret_value()
        return (value,) if value else ()

    @classmethod
    def from_connection(cls, conn: Any) -> "U9CloudConfig":
        extra = dict(conn.extra_dejson or {})
        missing = [name for name, value in (("host", conn.host), ("login", conn.login), ("password", conn.password),
                                            ("extra.client_id", extra.get("client_id")),
                                            ("extra.ent_code", extra.get("ent_code")),
                                            ("extra.org_code", extra.get("org_code"))) if not value]
        if missing:
            raise FatalError("U9C_CONFIG", f"connection is missing {', '.join(missing)}", CLOUD_CONN_ID)
        base = http_base_url(conn.host, conn.port, conn.schema, extra, "U9C")
        known = {"client_id", "ent_code", "org_code", "login_type", "language", "page_size", "timeout",
                 "receipt_warehouse", "max_attempts", "backoff_seconds", "max_retry_after"}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise FatalError("U9C_CONFIG", f"unknown connection extra(s): {', '.join(unknown)}", CLOUD_CONN_ID)
        try:
            return cls(base_url=base, user_code=str(conn.login), client_secret=SecretStr(str(conn.password)),
                       **{k: str(v) if k in ("client_id", "ent_code", "org_code") else v
                          for k, v in extra.items() if v not in (None, "")})
        except ValueError as exc:
            raise FatalError("U9C_CONFIG", f"invalid connection setting(s): {_invalid_fields(exc)}",
                             CLOUD_CONN_ID) from None
