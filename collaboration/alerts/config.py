"""mappings/alerting.yaml as typed settings: parties per alert type, SLAs, escalation chains, channels.

The file is data, validated once when read; a mistake is ``FatalError ALERTING_CONFIG_INVALID`` at
``mappings/alerting.yaml:<line>`` like every other mapping file. Channels name Airflow Connection
ids only: secrets live in the Connections.
"""
from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hub.errors import FatalError
from hub.partners import QuietHours

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PATH = REPO_ROOT / "mappings" / "alerting.yaml"
#: another alerting file (a plant's own, a test) without touching the repository's
PATH_ENV = "HUB_ALERTING_FILE"
CODE = "ALERTING_CONFIG_INVALID"
#: the pseudo-party meaning "the supplier the rule named" (an alert's own responsible_party)
SUPPLIER = "supplier"

ChannelKind = Literal["email", "dingtalk", "wecom"]
#: the systems whose feeds FEED_QUIET watches (collaboration/alerts/feeds.py); partners' feeds are in their profiles
SYSTEM_FEEDS = ("erp", "mes", "wms")
#: a few of each feed's DAG intervals (erp_sync 15 min, mes_sync 10 min, wms_sync hourly): one slow or
#: failed run is not yet an alert, an afternoon without data is
DEFAULT_FEED_QUIET_HOURS: dict[str, Optional[float]] = {"erp": 2, "mes": 2, "wms": 3}
Severity = Literal["info", "warning", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelSpec(_Strict):
    kind: ChannelKind
    conn_id: str = Field(min_length=1)
    #: e-mail recipients
    to: tuple[str, ...] = ()
    #: DingTalk / WeCom: mobile numbers to @-mention in the group
    at_mobiles: tuple[str, ...] = ()
    at_all: bool = False

    @model_validator(mode="after")
    def _email_needs_recipients(self) -> "ChannelSpec":
        if self.kind == "email" and not self.to:
            raise ValueError("an email channel needs at least one address in `to`")
        return self


class PartySpec(_Strict):
    channels: tuple[ChannelSpec, ...] = ()


class AlertTypeSpec(_Strict):
    party: str
    severity: Optional[Severity] = None
    ack_sla_hours: Optional[float] = Field(default=None, gt=0)
    escalation: Optional[tuple[str, ...]] = None
    next_action: Optional[str] = None


class Defaults(_Strict):
    ack_sla_hours: float = Field(default=8, gt=0)
    escalation: tuple[str, ...] = ("buyer", "purchasing_manager")
    next_action: str = "Acknowledge the alert, find the cause and resolve it with a root cause."


class AlertingConfig(_Strict):
    defaults: Defaults = Defaults()
    alert_types: dict[str, AlertTypeSpec] = Field(default_factory=dict)
    push_sla_minutes: dict[str, float] = Field(default_factory=lambda: {"default": 60})
    #: system feed -> hours without a successful pull (or a pushed event) before FEED_QUIET; null = not watched.
    #: A feed left out keeps its entry of DEFAULT_FEED_QUIET_HOURS.
    feed_quiet_hours: dict[str, Optional[QuietHours]] = Field(default_factory=lambda: dict(DEFAULT_FEED_QUIET_HOURS))
    parties: dict[str, PartySpec] = Field(default_factory=dict)

    @field_validator("push_sla_minutes")
    @classmethod
    def _has_default_sla(cls, value: dict[str, float]) -> dict[str, float]:
        if "default" not in value:
            raise ValueError("push_sla_minutes needs a `default` entry")
        if any(minutes <= 0 for minutes in value.values()):
            raise ValueError("push SLAs are minutes > 0")
        return value

    @field_validator("feed_quiet_hours")
    @classmethod
    def _known_feeds(cls, value: dict[str, Optional[float]]) -> dict[str, Optional[float]]:
        unknown = sorted(set(value) - set(SYSTEM_FEEDS))
        if unknown:
            raise ValueError(f"feed_quiet_hours knows the feeds {', '.join(SYSTEM_FEEDS)}, not {', '.join(unknown)} "
                             f"(partners' feeds are set in their profiles: expect.max_quiet_hours)")
        return value

    def undefined_parties(self) -> list[tuple[tuple, str]]:
        """(path, party) of every party named but not defined under ``parties``: a typo in an
        escalation chain would otherwise escalate to nobody, silently."""
        named: list[tuple[tuple, str]] = [(("defaults", "escalation", i), p)
                                          for i, p in enumerate(self.defaults.escalation)]
        for alert_type, spec in self.alert_types.items():
            named.append((("alert_types", alert_type, "party"), spec.party))
            named += [(("alert_types", alert_type, "escalation", i), p) for i, p in enumerate(spec.escalation or ())]
        return [(path, party) for path, party in named if party not in self.parties]

    # ----------------------------------------------------------------------------- lookups
    def spec(self, alert_type: str) -> Optional[AlertTypeSpec]:
        return self.alert_types.get(alert_type)

    def party_for(self, alert_type: str, rule_party: str) -> str:
        """Who owns a new alert: the configured role, or the rule's own party (a supplier id)."""
        spec = self.spec(alert_type)
        if spec is None or spec.party == SUPPLIER:
            return rule_party
        return spec.party

    def ack_sla(self, alert_type: str) -> dt.timedelta:
        spec = self.spec(alert_type)
        hours = spec.ack_sla_hours if spec and spec.ack_sla_hours else self.defaults.ack_sla_hours
        return dt.timedelta(hours=hours)

    def chain(self, alert_type: str) -> tuple[str, ...]:
        spec = self.spec(alert_type)
        return spec.escalation if spec and spec.escalation is not None else self.defaults.escalation

    def next_party(self, alert_type: str, current: str) -> Optional[str]:
        """The next party up the chain; a party outside it (a supplier) hands to the first."""
        chain = self.chain(alert_type)
        if current not in chain:
            return chain[0] if chain else None
        index = chain.index(current)
        return chain[index + 1] if index + 1 < len(chain) else None

    def next_action(self, alert_type: str) -> str:
        spec = self.spec(alert_type)
        return spec.next_action if spec and spec.next_action else self.defaults.next_action

    def channels_for(self, party: str) -> tuple[ChannelSpec, ...]:
        """A party's channels; a supplier id without an own entry uses ``parties.supplier``."""
        spec = self.parties.get(party) or self.parties.get(SUPPLIER)
        return spec.channels if spec else ()

    def feed_quiet(self, feed: str) -> Optional[dt.timedelta]:
        """How long a system feed may stay quiet; None: not watched."""
        hours = self.feed_quiet_hours.get(feed, DEFAULT_FEED_QUIET_HOURS.get(feed))
        return dt.timedelta(hours=hours) if hours else None

    def push_sla(self, target: str) -> dt.timedelta:
        minutes = self.push_sla_minutes.get(target, self.push_sla_minutes["default"])
        return dt.timedelta(minutes=minutes)


def parse_config(text: str, display: str = "<alerting>") -> AlertingConfig:
    """Validate ``text``; errors are ``FatalError ALERTING_CONFIG_INVALID`` at ``display:line``."""
    # the partner profiles' line-marking YAML reader; only its error code is theirs
    from hub.partners import compose_with_lines

    try:
        data, marks = compose_with_lines(text, display)
    except FatalError as exc:
        raise FatalError(CODE, exc.message, exc.where) from None
    if not isinstance(data, dict):
        raise FatalError(CODE, "the alerting file is a YAML mapping (key: value lines)", f"{display}:1")
    try:
        config = AlertingConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise _invalid(tuple(first["loc"]), first["msg"], marks, display) from None
    undefined = config.undefined_parties()
    if undefined:
        path, party = undefined[0]
        more = f" (+{len(undefined) - 1} more)" if len(undefined) > 1 else ""
        raise _invalid(path, f"party {party!r} is not defined under `parties`{more}", marks, display)
    return config


def _invalid(loc: tuple, problem: str, marks, display: str) -> FatalError:
    line = marks.line_of(loc)
    field = ".".join(str(p) for p in loc) or "alerting"
    return FatalError(CODE, f"{field}: {problem}", f"{display}:{line}" if line else display)


def config_path() -> Path:
    override = os.environ.get(PATH_ENV)
    return Path(override) if override else DEFAULT_PATH


def load_config(path: Optional[Path] = None) -> AlertingConfig:
    """The alerting file (``$HUB_ALERTING_FILE`` or mappings/alerting.yaml), re-read when edited."""
    path = path or config_path()
    try:
        stamp = os.stat(path).st_mtime_ns
    except OSError:
        raise FatalError(CODE, "the alerting file does not exist", str(path)) from None
    return _load(str(path), stamp)


@lru_cache(maxsize=4)
def _load(path: str, _stamp: int) -> AlertingConfig:  # the stamp only keys the cache
    from hub.partners import display_path

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FatalError(CODE, f"unreadable ({type(exc).__name__})", path) from None
    return parse_config(text, display_path(Path(path)))
