"""The delivery schedule in the supplier portal: the record the hub publishes, the answer it reads back.

Outbound, :func:`delivery_schedule_values` is one version of a ``DeliverySchedule`` as a portal
record (``JiandaoyunForms.publish_delivery_schedule`` writes it once per version, found again by
:func:`schedule_hub_key`): header, the schedule lines as subform ``lines`` and what changed since
the previous version (``collaboration.plan.ScheduleChange.as_dict()`` rows) as subform
``changes``; ``response`` and ``response_note`` are left for the supplier.

Inbound, the supplier sets ``response`` (确认 -> acknowledged, 拒绝 -> rejected, options.csv) and
maybe a comment; the data push brings the record back and :func:`parse_schedule_ack` turns it into
a :class:`ScheduleAckEvent` (None while nobody answered). An answer is not a canonical document:
the plan-sync flow records it (hub/flows/events.py hands it to ``record_schedule_ack``).

Who may answer: the record's ``updater`` must be a portal account of the schedule's supplier
(mappings/jiandaoyun/portal_users.csv). The fields the hub wrote (hub key, schedule, supplier,
version) must still agree with each other. Everything else is a :class:`SkippableError` naming the
record, quarantined by the caller:

| code | when |
| --- | --- |
| ``JDY_UNKNOWN_OPTION`` | ``response`` is not one of the form's options |
| ``JDY_ACK_INCOMPLETE`` | a field the hub wrote is missing or unreadable (not a record the hub published) |
| ``JDY_ACK_KEY_MISMATCH`` | ``hub_key`` disagrees with supplier / schedule / version: the record was edited |
| ``JDY_PORTAL_USER_UNKNOWN`` | no updater, or one that portal_users.csv does not list |
| ``JDY_SUPPLIER_MISMATCH`` | the updater is another supplier's account |

INFERRED (the protocol notes say nothing about the portal's accounts): a supplier answers with its
own Jiandaoyun member account, whose ``username`` the push carries in ``updater``; the form's
hub-written fields are read-only for suppliers, but nothing here relies on it.
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Mapping, Optional, Sequence

from adapters.jiandaoyun import translate
from adapters.jiandaoyun.config import JiandaoyunConfig
from adapters.jiandaoyun.translate import HUB_KEY_FIELD, MAPPING_DIR, SYSTEM, option_code, option_label
from canonical_model.documents import DeliverySchedule
from hub.errors import SkippableError

PURPOSE = "delivery_schedule"
PORTAL_USERS_FILE = MAPPING_DIR / "portal_users.csv"
AckStatus = Literal["acknowledged", "rejected"]
CHANGE_KINDS = ("added", "removed", "quantity_changed", "date_changed")


def schedule_hub_key(supplier_id: str, schedule_id: str, version: int) -> str:
    """One portal record per schedule version: ``SUP-001/DS-SUP-001/v3``.

    The supplier is part of the key because a schedule's business key is (supplier, schedule)."""
    return f"{supplier_id}/{schedule_id}/v{version}"


# --------------------------------------------------------------------------- outbound


def _quantity(text: Any, where: str) -> Any:
    if text is None:
        return None
    try:
        return translate._number(Decimal(str(text)))
    except InvalidOperation:
        raise ValueError(f"{where}: quantity {text!r} is not a decimal") from None


def _day(text: Any, where: str, zone: dt.tzinfo) -> Optional[str]:
    if text is None:
        return None
    try:
        return translate._local_text(dt.date.fromisoformat(str(text)), zone)
    except ValueError:
        raise ValueError(f"{where}: date {text!r} is not ISO yyyy-mm-dd") from None


def _change_row(change: Mapping[str, Any], index: int, zone: dt.tzinfo) -> dict[str, Any]:
    """One ``ScheduleChange.as_dict()`` row as a subform row; ValueError names the row (our bug, not data)."""
    where = f"changes[{index}]"
    if not isinstance(change, Mapping) or change.get("kind") not in CHANGE_KINDS or \
            not change.get("material_id") or not change.get("uom"):
        raise ValueError(f"{where}: not a ScheduleChange.as_dict() row (kind, material_id, uom)")
    return translate._present({
        "kind": option_label(PURPOSE, "changes.kind", str(change["kind"])),
        "material_id": str(change["material_id"]), "uom": str(change["uom"]),
        "old_date": _day(change.get("old_date"), where, zone), "new_date": _day(change.get("new_date"), where, zone),
        "old_quantity": _quantity(change.get("old_quantity"), where),
        "new_quantity": _quantity(change.get("new_quantity"), where),
        "requires_approval": option_label(PURPOSE, "changes.requires_approval",
                                          "true" if change.get("requires_approval") else "false"),
    })


def delivery_schedule_values(schedule: DeliverySchedule, changes: Sequence[Mapping[str, Any]],
                             config: JiandaoyunConfig, status: str = "open") -> dict[str, Any]:
    """The portal record of one schedule version (answer fields left empty for the supplier)."""
    zone = config.zone
    values = {
        HUB_KEY_FIELD: schedule_hub_key(schedule.supplier_id, schedule.schedule_id, schedule.version),
        "schedule_id": schedule.schedule_id, "supplier_id": schedule.supplier_id,
        "ship_to": schedule.ship_to_id or "", "version": schedule.version,
        "issued_at": translate._local_text(schedule.issued_at, zone),
        "horizon_start": translate._local_text(schedule.horizon_start, zone),
        "horizon_end": translate._local_text(schedule.horizon_end, zone),
        "task_status": option_label(PURPOSE, "task_status", status),
        "response": "", "response_note": "",
        "lines": [translate._present({
            "material_id": line.material_id, "supplier_material_id": line.supplier_material_id or "",
            "date": translate._local_text(line.date, zone), "quantity": translate._number(line.quantity),
            "uom": line.uom, "commitment": option_label(PURPOSE, "lines.commitment", line.commitment)})
            for line in schedule.lines],
        "changes": [_change_row(change, index, zone) for index, change in enumerate(changes)],
    }
    return translate._named(PURPOSE, translate._present(values), config)


# --------------------------------------------------------------------------- portal accounts


@functools.lru_cache(maxsize=4)
def _portal_users(path: str, mtime_ns: int) -> dict[str, frozenset[str]]:  # mtime only keys the cache
    table: dict[str, set[str]] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if [h.strip() for h in header or []] != ["username", "supplier_id"]:
            raise ValueError(f"{path}:1: header must be username,supplier_id")
        for lineno, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 2 or not all(cell.strip() for cell in row):
                raise ValueError(f"{path}:{lineno}: expected username,supplier_id")
            table.setdefault(row[0].strip(), set()).add(row[1].strip())
    return {user: frozenset(suppliers) for user, suppliers in table.items()}


def portal_users() -> dict[str, frozenset[str]]:
    """``username -> {supplier_id, ...}`` from mappings/jiandaoyun/portal_users.csv (re-read when it changes)."""
    return _portal_users(str(PORTAL_USERS_FILE), os.stat(PORTAL_USERS_FILE).st_mtime_ns)


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class ScheduleAckEvent:
    """A supplier's answer to one schedule version, as ``record_schedule_ack`` takes it."""

    supplier_id: str
    schedule_id: str
    version: int
    status: AckStatus
    #: the portal account that answered (``updater.username``)
    by: str
    #: the supplier's answer time (``responded_at``, else the record's ``updateTime``), in the plant's zone
    at: dt.datetime
    comment: Optional[str]
    #: ``jiandaoyun:`` + where it came from (the push's delivery id, which names the archived body)
    source: str
    #: the portal record (evidence; not passed on)
    data_id: str

    def recorder_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``hub.flows.schedules.record_schedule_ack`` (after ``session``)."""
        return {"supplier_id": self.supplier_id, "schedule_id": self.schedule_id, "version": self.version,
                "status": self.status, "by": self.by, "at": self.at, "comment": self.comment,
                "source": self.source}


def _text(value: Any) -> Optional[str]:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _version(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and value >= 1 else None


def _moment(value: Any, zone: dt.tzinfo) -> Optional[dt.datetime]:
    """An API datetime (UTC ``...Z``) as an aware datetime in the plant's zone; None if unreadable."""
    if not isinstance(value, str) or not translate._API_DATETIME.match(value.strip()):
        return None
    try:
        return dt.datetime.fromisoformat(value.strip()).astimezone(zone)
    except ValueError:
        return None


def ack_from_record(record: Mapping[str, Any], config: JiandaoyunConfig, *, source: str,
                    users: Optional[Mapping[str, frozenset[str]]] = None) -> Optional[ScheduleAckEvent]:
    """The answer a delivery-schedule record carries (as pushed or pulled); None when unanswered.

    ``users``: portal account -> suppliers (default portal_users.csv). Raises SkippableError (module doc)."""
    if not isinstance(record, Mapping):
        raise SkippableError("BAD_RECORD", "a delivery_schedule record must be a JSON object", f"{SYSTEM}:{PURPOSE}")
    aliases = config.field_aliases.get(PURPOSE, {})
    named = {aliases.get(k, k): v for k, v in record.items()}
    where = translate.record_where(named, PURPOSE)
    response = named.get("response")
    if response is None or (isinstance(response, str) and not response.strip()):
        return None  # saved without an answer: nothing to record
    if not isinstance(response, str):
        raise SkippableError("JDY_UNKNOWN_OPTION", f"{PURPOSE} field response: {type(response).__name__} is not an "
                                                   f"option label", where)
    # options.csv maps this form's response labels to acknowledged / rejected only
    status = option_code(PURPOSE, "response", response, where)
    hub_key, schedule_id = _text(named.get(HUB_KEY_FIELD)), _text(named.get("schedule_id"))
    supplier_id, version = _text(named.get("supplier_id")), _version(named.get("version"))
    at = _moment(named.get("responded_at"), config.zone) or _moment(named.get("updateTime"), config.zone)
    data_id = _text(named.get("_id"))
    missing = [name for name, value in ((HUB_KEY_FIELD, hub_key), ("schedule_id", schedule_id),
                                        ("supplier_id", supplier_id), ("version", version),
                                        ("responded_at/updateTime", at), ("_id", data_id)) if value is None]
    if missing:
        raise SkippableError("JDY_ACK_INCOMPLETE", f"answered {PURPOSE} record lacks readable {', '.join(missing)}; "
                                                   f"not a record the hub published as it was written", where)
    assert supplier_id and schedule_id and version and at and data_id  # narrowed above
    expected_key = schedule_hub_key(supplier_id, schedule_id, version)
    if hub_key != expected_key:
        raise SkippableError("JDY_ACK_KEY_MISMATCH", f"hub_key {hub_key!r} but the record's supplier, schedule and "
                                                     f"version make {expected_key!r}: fields the hub wrote were "
                                                     f"edited; the answer is not recorded", where)
    updater = named.get("updater")
    by = _text(updater.get("username")) if isinstance(updater, Mapping) else None
    table = portal_users() if users is None else users
    if by is None or by not in table:
        raise SkippableError("JDY_PORTAL_USER_UNKNOWN",
                             f"answer by {by or 'nobody named'} is from no supplier's portal account; add "
                             f"'<username>,<supplier_id>' to mappings/jiandaoyun/portal_users.csv if it is one", where)
    if supplier_id not in table[by]:
        raise SkippableError("JDY_SUPPLIER_MISMATCH",
                             f"portal account {by} ({', '.join(sorted(table[by]))}) answered schedule {schedule_id} "
                             f"v{version} of {supplier_id}; a supplier answers only its own schedules", where)
    return ScheduleAckEvent(supplier_id=supplier_id, schedule_id=schedule_id, version=version,
                            status=status,  # type: ignore[arg-type]  # one of options.csv's codes
                            by=by, at=at, comment=_text(named.get("response_note")), source=source, data_id=data_id)


def parse_schedule_ack(event: Any, config: JiandaoyunConfig, *,
                       users: Optional[Mapping[str, frozenset[str]]] = None) -> Optional[ScheduleAckEvent]:
    """The answer in a verified push (``webhook.WebhookEvent``) of the delivery-schedule form.

    None for an event that carries no answer (a remove, a save without response); the source is
    ``jiandaoyun:<delivery id>``. An event of another form is a ValueError (the caller routes)."""
    purpose = config.purpose_of(event.entry_id)
    if purpose != PURPOSE:
        raise ValueError(f"event of form {event.entry_id} ({purpose or 'not configured'}) is not the {PURPOSE} form")
    if not event.carries_record:
        return None
    return ack_from_record(event.data, config, source=f"{SYSTEM}:{event.delivery_id}", users=users)
