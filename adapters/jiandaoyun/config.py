"""Typed settings for the Jiandaoyun (简道云) adapter, read from an Airflow Connection.

The Connection ``jiandaoyun_default`` (or ``AIRFLOW_CONN_JIANDAOYUN_DEFAULT``) holds everything:

* ``host`` / ``port`` / ``schema``: the API base. ``schema`` ``http``/``https`` is the protocol
  (Airflow HTTP-connection style, :func:`hub.connections.http_base_url`); the path defaults to
  ``api`` (``https://api.jiandaoyun.com/api``; private deployments ``https://<host>/api``);
* ``password``: the API key (开放平台 → 密钥管理), sent as ``Authorization: Bearer``; a secret;
* extras: ``app_id`` (required), ``webhook_secret`` (the secret of the form's data push; a
  secret), one form id (``entry_id``) per purpose: ``purchase_task_form``, ``plan_change_form``,
  ``asn_form``, ``inspection_form``, ``production_order_form``, ``delivery_schedule_form``
  (only those the plant uses),
  ``field_aliases`` (``{"<purpose>": {"_widget_1700000000001": "po_number", ...}}`` for forms
  whose widgets have no API alias; see README), ``timezone`` (the plant's, ``Asia/Shanghai``),
  ``page_size`` (1-100, 100), ``timeout`` (seconds, 30), ``max_attempts`` (4),
  ``backoff_seconds`` (0.5, doubling), ``max_backoff_seconds`` (30), ``max_calls_per_second``
  (client-side throttle, 10; 0 = off), ``webhook_max_age_seconds`` (300),
  ``webhook_max_body_bytes`` (1 MiB), ``protocol`` / ``path``.

Secrets are ``SecretStr`` and excluded from ``repr``; Airflow masks ``password`` and extras whose
name contains ``secret``.
"""
from __future__ import annotations

import json
import zoneinfo
from typing import Any, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from hub.connections import ConnectionSettings, http_base_url
from hub.errors import FatalError

DEFAULT_CONN_ID = "jiandaoyun_default"
DEFAULT_PATH = "api"
#: what the hub uses Jiandaoyun forms for; each but delivery_schedule (an acknowledgement, not a
#: document: adapters/jiandaoyun/schedule.py) has a mapping mappings/jiandaoyun/<purpose>.yaml
PURPOSES = ("purchase_task", "plan_change", "asn", "inspection", "production_order", "delivery_schedule")
FORM_EXTRA_SUFFIX = "_form"
_SETTING_EXTRAS = {"app_id", "webhook_secret", "field_aliases", "timezone", "page_size", "timeout", "max_attempts",
                   "backoff_seconds", "max_backoff_seconds", "max_calls_per_second", "webhook_max_age_seconds",
                   "webhook_max_body_bytes"}


class JiandaoyunConfig(ConnectionSettings, BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    DEFAULT_CONN_ID: ClassVar[str] = DEFAULT_CONN_ID

    base_url: str = Field(description="API base, e.g. https://api.jiandaoyun.com/api")
    api_key: SecretStr = Field(repr=False, json_schema_extra={"secret": True})
    app_id: str = Field(min_length=1, description="the Jiandaoyun application holding the forms")
    webhook_secret: Optional[SecretStr] = Field(default=None, repr=False, json_schema_extra={"secret": True})
    #: purpose -> form id (entry_id)
    forms: dict[str, str] = Field(default_factory=dict)
    #: purpose -> {widget name as the API sends it -> the alias our mappings use}
    field_aliases: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: the plant's time zone: Jiandaoyun stores UTC; the hub's dates are plant-local
    timezone: str = "Asia/Shanghai"
    page_size: int = Field(default=100, ge=1, le=100)
    timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0, le=60)
    max_backoff_seconds: float = Field(default=30.0, ge=0, le=600)
    max_calls_per_second: float = Field(default=10.0, ge=0, le=50)
    webhook_max_age_seconds: int = Field(default=300, ge=1, le=86400)
    webhook_max_body_bytes: int = Field(default=1 << 20, ge=1024, le=64 << 20)

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("forms")
    @classmethod
    def _known_purposes(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(PURPOSES))
        if unknown:
            raise ValueError(f"unknown form purpose(s) {unknown}")
        return value

    @field_validator("field_aliases")
    @classmethod
    def _alias_purposes(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        unknown = sorted(set(value) - set(PURPOSES))
        if unknown:
            raise ValueError(f"unknown purpose(s) in field_aliases {unknown}")
        for aliases in value.values():
            if len(set(aliases.values())) != len(aliases):
                raise ValueError("field_aliases map two widgets to the same alias")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("timezone is not an IANA zone name") from None
        return value

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret value, so error texts can be scrubbed of them before they are raised."""
        values = [self.api_key.get_secret_value()]
        if self.webhook_secret is not None:
            values.append(self.webhook_secret.get_secret_value())
        return tuple(v for v in values if v)

    def form_id(self, purpose: str) -> str:
        """The form (entry_id) configured for ``purpose``; FatalError JDY_CONFIG when not set."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
        entry_id = self.forms.get(purpose)
        if not entry_id:
            raise FatalError("JDY_CONFIG", f"no form configured for {purpose}; set extra {purpose}{FORM_EXTRA_SUFFIX} "
                                           f"of {DEFAULT_CONN_ID}", DEFAULT_CONN_ID)
        return entry_id

    def purpose_of(self, entry_id: Optional[str]) -> Optional[str]:
        """The purpose whose form is ``entry_id``, or None for a form the hub does not know."""
        for purpose, form in self.forms.items():
            if entry_id and form == entry_id:
                return purpose
        return None

    @classmethod
    def from_connection(cls, conn: Any) -> "JiandaoyunConfig":
        """Build from an Airflow ``Connection`` or a :class:`hub.connections.ConnectionParts`."""
        extra = dict(conn.extra_dejson or {})
        missing = [name for name, value in (("host", conn.host), ("password (API key)", conn.password),
                                            ("extra.app_id", extra.get("app_id"))) if not value]
        if missing:
            raise FatalError("JDY_CONFIG", f"connection is missing {', '.join(missing)}", DEFAULT_CONN_ID)
        base_url = http_base_url(conn.host, conn.port, conn.schema, extra, DEFAULT_PATH)
        forms = {}
        for purpose in PURPOSES:
            value = extra.pop(f"{purpose}{FORM_EXTRA_SUFFIX}", None)
            if value not in (None, ""):
                forms[purpose] = str(value)
        unknown = sorted(set(extra) - _SETTING_EXTRAS)
        if unknown:
            # a typo in an extra would otherwise silently fall back to a default
            raise FatalError("JDY_CONFIG", f"unknown connection extra(s): {', '.join(unknown)}; form extras are "
                                           f"{', '.join(p + FORM_EXTRA_SUFFIX for p in PURPOSES)}", DEFAULT_CONN_ID)
        aliases = extra.pop("field_aliases", None)
        if isinstance(aliases, str) and aliases.strip():
            try:
                aliases = json.loads(aliases)
            except json.JSONDecodeError:
                raise FatalError("JDY_CONFIG", "extra field_aliases is not valid JSON", DEFAULT_CONN_ID) from None
        secret = extra.pop("webhook_secret", None)
        values = {k: v for k, v in extra.items() if v not in (None, "")}
        try:
            return cls(base_url=base_url, api_key=SecretStr(str(conn.password)), forms=forms,
                       field_aliases=aliases or {},
                       webhook_secret=SecretStr(str(secret)) if secret not in (None, "") else None, **values)
        except ValueError as exc:
            # pydantic errors may echo input values; name the fields and our own messages only
            problems = []
            for err in getattr(exc, "errors", lambda: [])():
                loc = ".".join(str(p) for p in err.get("loc", ()))
                ctx_error = (err.get("ctx") or {}).get("error")
                problems.append(f"{loc}: {ctx_error}" if isinstance(ctx_error, ValueError) else loc)
            raise FatalError("JDY_CONFIG", f"invalid connection setting(s): {'; '.join(problems) or 'see README'}",
                             DEFAULT_CONN_ID) from None
