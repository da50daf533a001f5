"""Typed settings for the Kingdee K/3 Cloud adapter, read from an Airflow Connection.

The Connection ``kingdee_default`` (or ``AIRFLOW_CONN_KINGDEE_DEFAULT``) holds everything:

* ``host`` / ``port`` / ``schema``: the WebAPI base. ``schema`` ``http``/``https`` is the protocol
  (Airflow's HTTP convention, the ``hub erp`` contract) and extra ``path`` the site path (default
  ``k3cloud``); any other ``schema`` is taken as the path (URI form ``kingdee://host:port/k3cloud``);
  a host written with ``https://`` keeps its scheme;
* ``login`` / ``password``: the integration user and its password (``password`` is a secret);
* extras: ``acct_id`` (data-centre id, required), ``lcid`` (2052), ``page_size`` (2000),
  ``timeout`` (seconds, 30), ``protocol`` (``http``/``https``), ``path``, ``auth`` (``password`` or
  ``app_secret``: ``LoginByAppSecret`` with ``app_id`` and the secret from extra ``app_secret``
  or, when absent, the Connection password; without ``auth``, ``app_id`` + ``app_secret`` mean
  ``app_secret``), ``instock_external_number_field`` (``F_HUB_ExtNo``),
  ``external_number_field`` (``F_HUB_ExtNo``, the other bills the hub posts), ``receipt_form``
  (``STK_InStock`` or ``PUR_ReceiveBill``), ``inspection_form`` (``QM_InspectBill``), ``org``
  (organisation number on posted bills, ``100``), ``max_attempts`` / ``backoff_seconds`` /
  ``max_retry_after`` (the hook's own bounded retries).

Secrets are ``SecretStr`` and excluded from ``repr`` so a logged config or a traceback never
shows them; Airflow masks the same fields (``password``, extras containing ``secret``).
"""
from __future__ import annotations

from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from hub.connections import ConnectionSettings, http_base_url
from hub.errors import FatalError

DEFAULT_CONN_ID = "kingdee_default"
DEFAULT_SCHEMA = "k3cloud"


class KingdeeConfig(ConnectionSettings, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    DEFAULT_CONN_ID: ClassVar[str] = DEFAULT_CONN_ID

    base_url: str = Field(description="WebAPI base, e.g. http://erp.example.com/k3cloud")
    acct_id: str = Field(description="data-centre (账套) id")
    username: str
    password: SecretStr = Field(default=SecretStr(""), repr=False, json_schema_extra={"secret": True})
    lcid: int = 2052
    page_size: int = Field(default=2000, ge=1, le=10000)
    timeout: float = Field(default=30.0, gt=0, description="seconds, for connect and for each read")
    #: password -> ValidateUser; app_secret -> LoginByAppSecret (None: app_secret when app_id and a secret are set)
    auth: Optional[Literal["password", "app_secret"]] = None
    app_id: Optional[str] = None
    app_secret: Optional[SecretStr] = Field(default=None, repr=False, json_schema_extra={"secret": True})
    #: the STK_InStock field carrying the hub's receipt id (see README: why F_HUB_ExtNo)
    instock_external_number_field: str = "F_HUB_ExtNo"
    #: the same for the other bills the hub posts (PUR_ReceiveBill, the inspection bill)
    external_number_field: str = "F_HUB_ExtNo"
    #: where a receipt is posted: purchase in-stock (采购入库) or receiving notice (收料单)
    receipt_form: Literal["STK_InStock", "PUR_ReceiveBill"] = "STK_InStock"
    #: INFERRED: the notes name no inspection bill; QM_InspectBill is K/3 Cloud's 检验单
    inspection_form: str = "QM_InspectBill"
    #: organisation number (stock / purchase / inspection org) written on posted bills
    org: str = "100"
    #: attempts per call for faults worth repeating at once (429, 5xx, reset, bad JSON); None: the
    #: caller's default (KingdeeHook: 1, i.e. leave retrying to the scheduler; KingdeeErp: 4)
    max_attempts: Optional[int] = Field(default=None, ge=1, le=10)
    #: first backoff pause in seconds; doubles per attempt
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    #: longest pause a Retry-After header may impose (seconds)
    max_retry_after: float = Field(default=30.0, ge=0, le=600)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _auth_complete(self) -> "KingdeeConfig":
        if self.auth == "app_secret" and not (self.app_id and self.login_secret):
            raise ValueError("auth=app_secret needs extra app_id and a secret (extra app_secret or the password)")
        return self

    @property
    def auth_method(self) -> str:
        """``password`` or ``app_secret``, resolving the default."""
        if self.auth is not None:
            return self.auth
        return "app_secret" if self.app_id and self.app_secret is not None else "password"

    @property
    def login_secret(self) -> str:
        """The secret the login call sends: the app secret (extra, else the password) or the password."""
        if self.auth == "app_secret" or (self.auth is None and self.app_id and self.app_secret is not None):
            if self.app_secret is not None and self.app_secret.get_secret_value():
                return self.app_secret.get_secret_value()
        return self.password.get_secret_value()

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so error texts can be scrubbed of them before they are raised."""
        values = [self.password.get_secret_value()]
        if self.app_secret is not None:
            values.append(self.app_secret.get_secret_value())
        return tuple(v for v in values if v)

    @classmethod
    def from_connection(cls, conn: Any) -> "KingdeeConfig":
        """Build from an Airflow ``Connection`` or a :class:`hub.connections.ConnectionParts`."""
        return cls._build(conn.host, conn.port, conn.schema, conn.login, conn.password,
                          dict(conn.extra_dejson or {}))

    @classmethod
    def _build(cls, host: Optional[str], port: Optional[int], schema: Optional[str], login: Optional[str],
               password: Optional[str], extra: dict[str, Any]) -> "KingdeeConfig":
        missing = [name for name, value in (("host", host), ("login", login), ("extra.acct_id", extra.get("acct_id")))
                   if not value]
        if missing:
            raise FatalError("KINGDEE_CONFIG", f"connection is missing {', '.join(missing)}", DEFAULT_CONN_ID)
        base_url = http_base_url(host, port, schema, extra, DEFAULT_SCHEMA)
        known = {"acct_id", "lcid", "page_size", "timeout", "app_id", "app_secret", "instock_external_number_field",
                 "auth", "external_number_field", "receipt_form", "inspection_form", "org", "max_attempts",
                 "backoff_seconds", "max_retry_after"}
        unknown = sorted(set(extra) - known)
        if unknown:
            # a typo in an extra would otherwise silently fall back to a default
            raise FatalError("KINGDEE_CONFIG", f"unknown connection extra(s): {', '.join(unknown)}", DEFAULT_CONN_ID)
        try:
            return cls(base_url=base_url, username=str(login), password=SecretStr(password or ""),
                       **{k: v for k, v in extra.items() if v not in (None, "")})
        except ValueError as exc:
            # pydantic errors may echo input values; name the fields only
            # (a model-level check has no field location; its message is ours and names no value)
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or str(e.get("msg", ""))
                               for e in getattr(exc, "errors", lambda: [])())
            raise FatalError("KINGDEE_CONFIG", f"invalid connection setting(s): {fields or 'see README'}",
                             DEFAULT_CONN_ID) from None
