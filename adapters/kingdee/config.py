"""Typed settings for the Kingdee K/3 Cloud adapter, read from an Airflow Connection.

The Connection ``kingdee_default`` (or ``AIRFLOW_CONN_KINGDEE_DEFAULT``) holds everything:

* ``host`` / ``port`` / ``schema``: the WebAPI base, ``http://host:port/<schema>`` (schema
  defaults to ``k3cloud``; a host written with ``https://`` keeps its scheme);
* ``login`` / ``password``: the integration user and its password (``password`` is a secret);
* extras: ``acct_id`` (data-centre id, required), ``lcid`` (2052), ``page_size`` (2000),
  ``timeout`` (seconds, 30), ``protocol`` (``http``/``https``), ``app_id`` + ``app_secret``
  (use ``LoginByAppSecret`` instead of the password; ``app_secret`` is a secret),
  ``instock_external_number_field`` (``F_HUB_ExtNo``).

Secrets are ``SecretStr`` and excluded from ``repr`` so a logged config or a traceback never
shows them; Airflow masks the same fields (``password``, extras containing ``secret``).
"""
from __future__ import annotations

from typing import Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connections import ConnectionSettings
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
    app_id: Optional[str] = None
    app_secret: Optional[SecretStr] = Field(default=None, repr=False, json_schema_extra={"secret": True})
    #: the STK_InStock field carrying the hub's receipt id (see README: why F_HUB_ExtNo)
    instock_external_number_field: str = "F_HUB_ExtNo"

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

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
        protocol = str(extra.pop("protocol", "http"))
        host = str(host)
        if "://" in host:  # people paste the whole URL into Host; honour its scheme
            protocol, _, host = host.partition("://")
        host = host.rstrip("/")
        netloc = f"{host}:{port}" if port else host
        path = (schema or DEFAULT_SCHEMA).strip("/")
        known = {"acct_id", "lcid", "page_size", "timeout", "app_id", "app_secret", "instock_external_number_field"}
        unknown = sorted(set(extra) - known)
        if unknown:
            # a typo in an extra would otherwise silently fall back to a default
            raise FatalError("KINGDEE_CONFIG", f"unknown connection extra(s): {', '.join(unknown)}", DEFAULT_CONN_ID)
        try:
            return cls(base_url=f"{protocol}://{netloc}/{path}", username=str(login), password=SecretStr(password or ""),
                       **{k: v for k, v in extra.items() if v not in (None, "")})
        except ValueError as exc:
            # pydantic errors may echo input values; name the fields only
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in getattr(exc, "errors", lambda: [])())
            raise FatalError("KINGDEE_CONFIG", f"invalid connection setting(s): {fields or 'see README'}",
                             DEFAULT_CONN_ID) from None
