"""Partner profiles (mappings/partners/<id>.yaml): onboarding a supplier is data, not code.

A profile says who the partner is (names, EDI ids and qualifiers, ERP supplier codes), how we
reach them (SFTP Connection and folders, what to do with collected files), which message
arrives or leaves in which format and version, their own code-table rows, tolerances, ack
policy, charset policy, timezone and rollout stage. ``hub/partner_template.yaml`` is the
starting point ``hub partner add`` copies; it lives outside ``mappings/partners/`` so it is
never mistaken for a partner.

The folder is ``$HUB_PARTNER_DIR`` when set (a staging checkout, tests), else ``mappings/partners/``.

Errors name the profile file and line (``FatalError PARTNER_PROFILE_INVALID`` at
``mappings/partners/SUP-003.yaml:12``), like mapping errors do.

Rollout: ``pilot`` and ``parallel`` partners' documents are processed, validated, stored and
compared, but never pushed to ERP/WMS; only ``live`` partners' are (:func:`pushes_enabled`).

Crosswalk rows: ``crosswalks: {units: {PK: H87}}`` are this partner's own codes. They mean
exactly what a row ``<partner_id>,PK,H87`` in ``mappings/crosswalks/units.csv`` means: the
engine looks codes up with the record's partner as the most specific source (then the
mapping's system, then ``*``), and ``Source.partner`` is the partner id (flows) or the
interchange sender (``hub translate`` without ``--partner``), so :func:`crosswalk_rows`
emits each row under both ``partner_id`` and ``edi.their_id``. ERP supplier codes
(``identity.erp_codes``) are rows of the ``partners`` table under the ERP's system name.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import zoneinfo
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from hub.errors import FatalError

REPO_ROOT = Path(__file__).resolve().parent.parent
PARTNER_DIR = REPO_ROOT / "mappings" / "partners"
#: another profile folder (a staging checkout, a test) without touching the repository's
PARTNER_DIR_ENV = "HUB_PARTNER_DIR"
MAPPINGS_DIR = REPO_ROOT / "mappings"
TEMPLATE_PATH = Path(__file__).resolve().parent / "partner_template.yaml"

#: partner ids become file names, Connection ids and crosswalk sources: keep them plain
PARTNER_ID_RE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,31}$")

Stage = Literal["pilot", "parallel", "live"]
MessageFormat = Literal["edifact", "x12", "csv", "xlsx", "portal"]
MessageKey = Literal["asn", "order_response", "inventory_report", "receiving_advice", "invoice",
                     "orders", "order_change", "delivery_schedule"]

#: canonical message names a profile may configure, and their direction from the hub's view
MESSAGE_DIRECTIONS: dict[str, Literal["inbound", "outbound"]] = {
    "asn": "inbound",                 # DESADV / 856 / CSV -> ShipmentNotice
    "order_response": "inbound",      # ORDRSP / 855 -> OrderResponse
    "inventory_report": "inbound",    # INVRPT / 846 -> InventoryReport
    "receiving_advice": "inbound",    # RECADV / 861
    "invoice": "inbound",             # INVOIC / 810 -> Invoice
    "orders": "outbound",             # ORDERS / 850 <- PurchaseOrder
    "order_change": "outbound",       # ORDCHG / 860
    "delivery_schedule": "outbound",  # DELFOR / 830 <- DeliverySchedule
}


#: the canonical document each message becomes (inbound) or is made from (outbound)
MESSAGE_DOCUMENTS: dict[str, str] = {
    "asn": "ShipmentNotice",
    "order_response": "OrderResponse",
    "inventory_report": "InventoryReport",
    "receiving_advice": "Receipt",
    "invoice": "Invoice",
    "orders": "PurchaseOrder",
    "order_change": "PurchaseOrder",
    "delivery_schedule": "DeliverySchedule",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class X12Ids(_Strict):
    our_id: str
    their_id: str
    our_qualifier: str = "ZZ"
    their_qualifier: str = "ZZ"


class EdiSettings(_Strict):
    standard: Literal["edifact", "x12"] = "edifact"
    our_id: str                 # UNB sender when we send, recipient when they send
    their_id: str
    our_qualifier: Optional[str] = None    # UNB 0007 (e.g. 14 = EAN/GLN, ZZZ = mutually defined)
    their_qualifier: Optional[str] = None
    syntax: str = "UNOC"
    charset_policy: Literal["strict", "lenient"] = "lenient"
    #: ISA ids when the partner (also) speaks X12
    x12: Optional[X12Ids] = None


class InboundSettings(_Strict):
    min_file_age_seconds: int = Field(default=10, ge=0)
    over_ship_tolerance_pct: Decimal = Field(default=Decimal("0"), ge=0)
    #: set only for partners who must ship complete (ASN_QTY_SHORT_OF_PO); omitted = partial
    #: shipments pass and raise the SHORT_SHIPMENT alert instead
    under_ship_tolerance_pct: Optional[Decimal] = Field(default=None, ge=0, le=100)
    #: how many days an ASN's arrival (or ship) date may differ from the PO line's delivery date
    #: (ASN_DATE_OUTSIDE_WINDOW); omitted = not checked
    date_window_days: Optional[int] = Field(default=None, ge=0)
    batch_required: bool = False
    all_or_nothing: bool = False


class SftpSettings(_Strict):
    """Folders on the partner's server; ``None`` keeps the Connection's (extras or defaults)."""

    inbox_folder: Optional[str] = None     # their out/ is our inbox
    outbox_folder: Optional[str] = None    # their in/ is our outbox
    archive_folder: Optional[str] = None
    after_collect: Literal["archive", "delete"] = "archive"

    @field_validator("inbox_folder", "outbox_folder", "archive_folder")
    @classmethod
    def _plain_folder(cls, value: Optional[str]) -> Optional[str]:
        if value is not None:
            from adapters.sftp.errors import check_folder

            try:
                check_folder(value)
            except FatalError as exc:  # as a ValueError it gets the profile's file:line
                raise ValueError(exc.message) from None
        return value


class MessageSettings(_Strict):
    format: MessageFormat
    message: Optional[str] = None   # DESADV, ORDERS, 856 ... (EDI only)
    version: Optional[str] = None   # D96A, 004010 ... (EDI only)
    #: mapping file relative to mappings/ when it is not at the conventional place
    mapping: Optional[str] = None

    @model_validator(mode="after")
    def _edi_needs_message_and_version(self) -> "MessageSettings":
        if self.format in ("edifact", "x12") and not (self.message and self.version):
            raise ValueError(f"format {self.format} needs message and version (e.g. message: DESADV, version: D96A)")
        if self.format in ("csv", "xlsx", "portal") and (self.message or self.version):
            raise ValueError(f"format {self.format} takes no message/version (the canonical template defines the columns)")
        return self

    def mapping_path(self) -> Optional[Path]:
        """The mapping YAML this message goes through; ``None`` for CSV/XLSX (template columns)."""
        if self.mapping:
            return MAPPINGS_DIR / self.mapping
        if self.format == "edifact":
            return MAPPINGS_DIR / "edifact" / f"{self.message}_{self.version}.yaml"
        if self.format == "x12":
            return MAPPINGS_DIR / "x12" / f"{self.message}_{self.version}.yaml"
        return None

    def describe(self) -> str:
        return f"{self.format} {self.message} {self.version}" if self.message else self.format


class AckPolicy(_Strict):
    send: bool = True                                   # do we acknowledge what they send
    standard: Literal["CONTRL", "997", "999"] = "CONTRL"
    expect: bool = False                                # do they acknowledge what we send
    deadline_hours: int = Field(default=24, gt=0)       # ... within this time, else an Alert


class ScheduleSettings(_Strict):
    """Delivery schedules (DELFOR / 830 / portal / sheet) we send them: hub/flows/schedules.py."""
    firm_days: int = Field(default=14, ge=0)     # days from the plan date whose changes need approval
    horizon_days: int = Field(default=90, gt=0)  # how far ahead the schedule reaches


#: how long a declared inbound message may stay away before FEED_QUIET, when the profile says nothing:
#: a week, so a supplier that ships weekly is never flagged while one whose channel died is within days
DEFAULT_MAX_QUIET_HOURS = 168.0
#: hours a feed may stay quiet: a real number (not a quoted one, not yes/no), at most ten years
QuietHours = Annotated[float, Field(gt=0, le=87600, allow_inf_nan=False, strict=True)]


class Expectations(_Strict):
    """What we expect to hear from the partner (collaboration/alerts/feeds.py raises FEED_QUIET).

    ``max_quiet_hours``: inbound message -> hours without one before the feed counts as quiet;
    ``null`` = not watched. Inbound messages the profile declares but does not list here get
    ``DEFAULT_MAX_QUIET_HOURS``."""
    max_quiet_hours: dict[MessageKey, Optional[QuietHours]] = {}

    @field_validator("max_quiet_hours")
    @classmethod
    def _inbound_only(cls, value: dict[str, Optional[float]]) -> dict[str, Optional[float]]:
        outbound = sorted(k for k in value if MESSAGE_DIRECTIONS[k] != "inbound")
        if outbound:
            raise ValueError(f"{', '.join(outbound)}: we send these; only inbound messages can go quiet")
        return value


class Identity(_Strict):
    names: dict[str, str] = {}              # language -> name, e.g. zh: 华东轴承, en: East China Bearings
    #: header language of the CSV/XLSX templates we send them (adapters/tabular/templates.py)
    language: Literal["zh", "en", "zh+en"] = "zh+en"
    supplier_id: Optional[str] = None       # canonical supplier id (default: partner_id)
    erp_codes: dict[str, str] = {}          # system -> supplier code, e.g. kingdee: SUP-001


class PartnerProfile(_Strict):
    partner_id: str
    name: str
    channel: Literal["sftp"] = "sftp"
    sftp_conn_id: str = "supplier_sftp_default"
    stage: Stage = "pilot"
    timezone: str = "Asia/Shanghai"
    identity: Identity = Identity()
    edi: EdiSettings
    sftp: SftpSettings = SftpSettings()
    #: keys are checked one by one so an unknown message name is reported at its own line
    messages: dict[MessageKey, MessageSettings] = {}
    inbound: InboundSettings = InboundSettings()
    acks: AckPolicy = AckPolicy()
    schedule: ScheduleSettings = ScheduleSettings()
    expect: Expectations = Expectations()
    #: table -> {their code: canonical}, see the module doc
    crosswalks: dict[str, dict[str, str]] = {}

    @field_validator("partner_id")
    @classmethod
    def _plain_id(cls, value: str) -> str:
        if not PARTNER_ID_RE.match(value):
            raise ValueError(f"partner_id {value!r} must match {PARTNER_ID_RE.pattern} (upper case, digits, - or _)")
        return value

    @field_validator("messages")
    @classmethod
    def _portal_only_for_schedules(cls, value: dict[str, MessageSettings]) -> dict[str, MessageSettings]:
        wrong = sorted(k for k, m in value.items() if m.format == "portal" and k != "delivery_schedule")
        if wrong:
            raise ValueError(f"format portal (the Jiandaoyun supplier portal) is for delivery_schedule only, not {wrong}")
        return value

    @field_validator("expect")
    @classmethod
    def _expect_declared_messages(cls, value: Expectations, info: ValidationInfo) -> Expectations:
        declared = info.data.get("messages")
        if declared is None:  # messages itself was invalid: that error is the one to report
            return value
        undeclared = sorted(k for k in value.max_quiet_hours if k not in declared)
        if undeclared:
            raise ValueError(f"max_quiet_hours names {', '.join(undeclared)}, which `messages` does not declare")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA timezone {value!r} (e.g. Asia/Shanghai)") from None
        return value

    @field_validator("crosswalks")
    @classmethod
    def _known_tables(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        from mappings.crosswalk import CROSSWALK_DIR

        missing = sorted(t for t in value if not (CROSSWALK_DIR / f"{t}.csv").is_file())
        if missing:
            raise ValueError(f"crosswalk tables {missing} do not exist in mappings/crosswalks/")
        return value

    @property
    def supplier_id(self) -> str:
        return self.identity.supplier_id or self.partner_id

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def quiet_limits(self) -> dict[str, dt.timedelta]:
        """Per declared inbound message, how long it may stay away (messages set to null are left out)."""
        limits = {}
        for key in self.messages:
            if MESSAGE_DIRECTIONS[key] != "inbound":
                continue
            hours = self.expect.max_quiet_hours.get(key, DEFAULT_MAX_QUIET_HOURS)
            if hours is not None:
                limits[key] = dt.timedelta(hours=hours)
        return limits

    @property
    def pushes_enabled(self) -> bool:
        return self.stage == "live"

    def local_time(self, moment: dt.datetime) -> dt.datetime:
        """``moment`` on the partner's wall clock (naive datetimes are taken as UTC)."""
        aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        return aware.astimezone(self.tz)

    def sftp_config(self):
        """The SFTP Connection's settings with this profile's folders and minimum file age."""
        from adapters.sftp.config import SftpConfig

        config = SftpConfig.from_conn_id(self.sftp_conn_id)
        overrides: dict[str, Any] = {"min_file_age_seconds": self.inbound.min_file_age_seconds}
        for name in ("inbox_folder", "outbox_folder", "archive_folder"):
            value = getattr(self.sftp, name)
            if value is not None:
                overrides[name] = value
        return config.model_copy(update=overrides)

    def crosswalk_rows(self, table: str) -> dict[tuple[str, str], str]:
        """This partner's rows of ``table`` as ``(source, code) -> canonical`` (see module doc)."""
        rows: dict[tuple[str, str], str] = {}
        sources = dict.fromkeys([self.partner_id, self.edi.their_id])  # ordered, no repeats
        for code, canonical in self.crosswalks.get(table, {}).items():
            for source in sources:
                rows[(source, code)] = canonical
        if table in ("partners", "suppliers"):  # suppliers: the ERP mappings' table of supplier codes
            for system, code in self.identity.erp_codes.items():
                rows[(system, code)] = self.supplier_id
        return rows


# --------------------------------------------------------------------------- loading


class _Marks:
    """Line numbers (1-based) of every key and item of a YAML document, by path."""

    def __init__(self) -> None:
        self.lines: dict[tuple, int] = {}

    def line_of(self, loc: tuple) -> Optional[int]:
        # pydantic may point below what the YAML spelled out (a missing key): use the nearest parent
        for n in range(len(loc), -1, -1):
            line = self.lines.get(tuple(loc[:n]))
            if line is not None:
                return line
        return None


def compose_with_lines(text: str, display: str) -> tuple[Any, _Marks]:
    marks = _Marks()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise FatalError("PARTNER_PROFILE_INVALID", "the profile is empty", f"{display}:1")
        marks.lines[()] = node.start_mark.line + 1
        return _build(loader, node, (), marks, display), marks
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise FatalError("PARTNER_PROFILE_INVALID", f"YAML syntax: {exc.problem or exc}",
                         f"{display}:{mark.line + 1}" if mark else display) from None
    except yaml.YAMLError as exc:
        raise FatalError("PARTNER_PROFILE_INVALID", f"YAML: {exc}", display) from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: tuple, marks: _Marks, display: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for knode, vnode in node.value:
            key = loader.construct_object(knode, deep=True)
            if key in out:
                # YAML silently keeps the last of two equal keys; in a profile that hides a mistake
                raise FatalError("PARTNER_PROFILE_INVALID", f"duplicate key {key!r}",
                                 f"{display}:{knode.start_mark.line + 1}")
            marks.lines[(*path, key)] = knode.start_mark.line + 1
            out[key] = _build(loader, vnode, (*path, key), marks, display)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            marks.lines[(*path, i)] = item.start_mark.line + 1
            items.append(_build(loader, item, (*path, i), marks, display))
        return items
    return loader.construct_object(node, deep=True)


def display_path(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)


def parse_profile(text: str, display: str = "<profile>", expected_id: Optional[str] = None) -> PartnerProfile:
    """Validate profile ``text``; ``FatalError PARTNER_PROFILE_INVALID`` at ``file:line``."""
    data, marks = compose_with_lines(text, display)
    if not isinstance(data, dict):
        raise FatalError("PARTNER_PROFILE_INVALID", "a profile is a YAML mapping (key: value lines)", f"{display}:1")
    try:
        profile = PartnerProfile.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        first = problems[0]
        loc = tuple(first["loc"])
        # model_validator errors carry no field: the loc of the section is the best we have
        line = marks.line_of(loc)
        field = ".".join(str(p) for p in loc) or "profile"
        more = f" (+{len(problems) - 1} more: " + "; ".join(
            f"{'.'.join(map(str, p['loc']))} line {marks.line_of(tuple(p['loc']))}" for p in problems[1:4]) + ")" \
            if len(problems) > 1 else ""
        raise FatalError("PARTNER_PROFILE_INVALID", f"{field}: {first['msg']}{more}",
                         f"{display}:{line}" if line else display) from None
    if expected_id is not None and profile.partner_id != expected_id:
        raise FatalError("PARTNER_PROFILE_INVALID",
                         f"partner_id {profile.partner_id!r} differs from the file name {expected_id}.yaml",
                         f"{display}:{marks.line_of(('partner_id',))}")
    return profile


def load_profile(path: Path) -> PartnerProfile:
    """One profile file, validated on its own (``hub partner check`` must not need the others)."""
    display = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FatalError("UNKNOWN_PARTNER", "no such partner profile", display) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FatalError("PARTNER_PROFILE_INVALID", f"unreadable profile ({exc})", display) from None
    return parse_profile(text, display, expected_id=path.stem)


def partner_dir() -> Path:
    """Where profiles live: ``$HUB_PARTNER_DIR`` if set, else ``mappings/partners/``."""
    override = os.environ.get(PARTNER_DIR_ENV)
    return Path(override) if override else PARTNER_DIR


def profile_path(partner_id: str, folder: Optional[Path] = None) -> Path:
    return (folder or partner_dir()) / f"{partner_id}.yaml"


def profile_files(folder: Optional[Path] = None) -> list[Path]:
    folder = folder or partner_dir()
    # "_"/"." prefixed files are drafts or editor leftovers, never partners
    return sorted(p for p in folder.glob("*.yaml") if not p.name.startswith(("_", ".")))


def load_partners(folder: Optional[Path] = None) -> dict[str, PartnerProfile]:
    """Every profile in ``folder`` by partner id; re-read when a file is added, removed or edited."""
    stamps = tuple((str(p), os.stat(p).st_mtime_ns) for p in profile_files(folder))
    return _load_all(stamps)


@lru_cache(maxsize=8)
def _load_all(stamps: tuple[tuple[str, int], ...]) -> dict[str, PartnerProfile]:  # stamps only key the cache
    profiles: dict[str, PartnerProfile] = {}
    for path, _mtime in stamps:
        profile = load_profile(Path(path))
        profiles[profile.partner_id] = profile
    return profiles


def get_partner(partner_id: str, folder: Optional[Path] = None) -> PartnerProfile:
    try:
        return load_partners(folder)[partner_id]
    except KeyError:
        raise FatalError("UNKNOWN_PARTNER",
                         f"no partner profile {partner_id}.yaml in {display_path(folder or partner_dir())}",
                         partner_id) from None


def pushes_enabled(partner_id: str, folder: Optional[Path] = None) -> bool:
    """May this partner's documents be pushed to ERP/WMS? Only when its stage is ``live``.

    ``pilot`` and ``parallel`` partners are processed and compared but not pushed. An unknown
    partner raises ``FatalError UNKNOWN_PARTNER`` rather than answering: guessing either way
    would either leak pilot data into the ERP or silently hold a live partner's documents.
    """
    return get_partner(partner_id, folder).pushes_enabled


def crosswalk_rows(table: str, folder: Optional[Path] = None) -> dict[tuple[str, str], str]:
    """Every partner's own rows of crosswalk ``table`` (to merge into the CSV table's entries)."""
    rows: dict[tuple[str, str], str] = {}
    for profile in load_partners(folder).values():
        rows.update(profile.crosswalk_rows(table))
    return rows


def render_template(partner_id: str, name: Optional[str] = None, template: Path = TEMPLATE_PATH) -> str:
    """The template with this partner's id, name and Connection id filled in."""
    if not PARTNER_ID_RE.match(partner_id):
        raise FatalError("PARTNER_ID_INVALID",
                         f"{partner_id!r} is not a usable partner id: use upper-case letters, digits, - or _ "
                         "(2-32 characters, e.g. SUP-003)", partner_id)
    conn_id = "supplier_sftp_" + re.sub(r"[^a-z0-9]", "", partner_id.lower())
    # json.dumps gives a double-quoted scalar YAML reads back verbatim, whatever the name holds
    import json

    values = {"partner_id": partner_id, "name": json.dumps(name or partner_id, ensure_ascii=False),
              "sftp_conn_id": conn_id, "conn_env": "AIRFLOW_CONN_" + conn_id.upper()}
    text = template.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", value)
    return text
