"""Jiandaoyun form records <-> canonical documents, through mappings/jiandaoyun/<purpose>.yaml.

Inbound, :func:`to_documents` takes a record as the API or a data push delivers it and
:func:`flatten` first turns it into what the mapping engine reads (the engine takes literal
keys only, so everything structural happens here):

* widget names -> aliases (``field_aliases`` of the Connection; forms with API aliases need none);
* datetimes (every value in the API's read format ``2026-11-30T16:00:00.000Z``): Jiandaoyun
  stores UTC; the hub's dates are plant-local, so they become naive local ISO
  (``2026-12-01T00:00:00``). INFERRED: a date-only widget comes back as the UTC instant
  of local midnight, so reading it without the zone would move every date one day back;
* user / department fields -> ``username`` / ``dept_no``; empty values (``""``, ``null``, ``[]``)
  are dropped so a mapping's alternatives (``[promised_quantity, quantity]``) fall through;
* radio labels (接受, 合格, 已下达 ...) -> canonical codes from mappings/jiandaoyun/options.csv;
  an unknown label is SkippableError JDY_UNKNOWN_OPTION naming form, record, field and label;
* purchase task / plan change: a line without its own answer takes the header's (accepted or
  rejected); under a partial answer it is ``changed`` when it promises another quantity or date
  than asked, else ``accepted``. A task nobody answered yet maps to no document.

Outbound, :func:`purchase_task_values` / :func:`plan_change_values` build the plain values the
hub publishes to the supplier portal (the hook wraps them as ``{"value": ...}``).
"""
from __future__ import annotations

import csv
import datetime as dt
import functools
import os
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Optional

from adapters.jiandaoyun.config import PURPOSES, JiandaoyunConfig
from canonical_model.documents import CanonicalDocument, Inspection, PurchaseOrder, Source
from hub.errors import SkippableError
from mappings.engine import MAPPINGS_DIR, CompiledMapping, load_mapping

SYSTEM = "jiandaoyun"
MAPPING_DIR = MAPPINGS_DIR / "jiandaoyun"
OPTIONS_FILE = MAPPING_DIR / "options.csv"
#: the field whose value identifies a record of each purpose (hub key or business number)
RECORD_KEYS = {"purchase_task": "po_number", "plan_change": "hub_key", "asn": "asn_number",
               "inspection": "inspection_id", "production_order": "order_id", "delivery_schedule": "hub_key"}
#: purposes answered by the supplier: no answer yet, no document
ANSWERED_PURPOSES = ("purchase_task", "plan_change")
#: purposes whose answer is an acknowledgement the plan-sync flow records, not a canonical
#: document (adapters/jiandaoyun/schedule.py reads it): no mapping, no documents
ACK_PURPOSES = ("delivery_schedule",)
#: tasks the hub publishes for a supplier to answer: a ``response`` and a ``task_status`` field
TASK_PURPOSES = ANSWERED_PURPOSES + ACK_PURPOSES
#: the subform of each purpose (lines of the mapping)
SUBFORMS = {"purchase_task": "lines", "plan_change": "lines", "asn": "lines", "inspection": "characteristics",
            "production_order": None, "delivery_schedule": "lines"}
HUB_KEY_FIELD = "hub_key"


def mapping_path(purpose: str) -> Path:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; expected one of {', '.join(PURPOSES)}")
    return MAPPING_DIR / f"{purpose}.yaml"


def mapping_for(purpose: str) -> CompiledMapping:
    return load_mapping(mapping_path(purpose))


# --------------------------------------------------------------------------- option labels


@functools.lru_cache(maxsize=4)
def _options(path: str, mtime_ns: int) -> dict[tuple[str, str], dict[str, str]]:  # mtime only keys the cache
    table: dict[tuple[str, str], dict[str, str]] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if [h.strip() for h in header or []] != ["purpose", "field", "label", "canonical"]:
            raise ValueError(f"{path}:1: header must be purpose,field,label,canonical")
        for lineno, row in enumerate(rows, start=2):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 4:
                raise ValueError(f"{path}:{lineno}: expected 4 columns, got {len(row)}")
            purpose, field, label, canonical = (cell.strip() for cell in row)
            known = table.setdefault((purpose, field), {})
            if known.get(label, canonical) != canonical:
                raise ValueError(f"{path}:{lineno}: {purpose} {field} {label!r} maps to two codes")
            known[label] = canonical
    return table


def options() -> dict[tuple[str, str], dict[str, str]]:
    """``(purpose, field) -> {label: canonical}`` from options.csv (re-read when it changes)."""
    return _options(str(OPTIONS_FILE), os.stat(OPTIONS_FILE).st_mtime_ns)


def option_code(purpose: str, field: str, label: str, where: str) -> str:
    """The canonical code of an option label; JDY_UNKNOWN_OPTION when options.csv lacks it."""
    labels = options().get((purpose, field), {})
    text = label.strip()
    if text in labels:
        return labels[text]
    if text in labels.values():  # the form's options are the canonical codes themselves
        return text
    raise SkippableError("JDY_UNKNOWN_OPTION",
                         f"{purpose} field {field}: option {text!r} is not in mappings/jiandaoyun/options.csv "
                         f"(known: {', '.join(labels) or 'none'}); add a row for it", where)


def option_label(purpose: str, field: str, code: str) -> str:
    """The first label options.csv gives for ``code`` (what the hub writes into a form)."""
    for label, canonical in options().get((purpose, field), {}).items():
        if canonical == code:
            return label
    raise ValueError(f"options.csv has no label for {purpose} {field} {code!r}")


# --------------------------------------------------------------------------- inbound


#: the API's datetime read format (§1.3): UTC, milliseconds, Z
_API_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def local_time(value: Any, zone: dt.tzinfo) -> Any:
    """A UTC instant as the API returns it -> naive plant-local ISO text; anything else unchanged
    (the mapping then reports it as BAD_VALUE with its record and field)."""
    if not isinstance(value, str) or not _API_DATETIME.match(value.strip()):
        return value
    try:
        moment = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.isoformat()
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if "username" in value:  # member field
            return value.get("username")
        if "dept_no" in value:  # department field
            return value.get("dept_no")
        if "id" in value and len(value) == 1:  # linkdata
            return value.get("id")
    return value


def _empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def record_where(record: dict[str, Any], purpose: str) -> str:
    """``jiandaoyun:<purpose>:<key>=<value>`` (or the record id): where errors point."""
    key = RECORD_KEYS.get(purpose, "_id")
    value = record.get(key)
    if value in (None, "") or not isinstance(value, (str, int)):
        key, value = "_id", record.get("_id")
    return f"{SYSTEM}:{purpose}:{key}={value}"


def flatten(record: dict[str, Any], purpose: str, config: JiandaoyunConfig) -> dict[str, Any]:
    """The record as the mapping of ``purpose`` reads it (module doc)."""
    if not isinstance(record, dict):
        raise SkippableError("BAD_RECORD", f"a {purpose} record must be a JSON object", f"{SYSTEM}:{purpose}")
    aliases = config.field_aliases.get(purpose, {})
    zone = config.zone
    subform = SUBFORMS.get(purpose)
    renamed = {aliases.get(k, k): v for k, v in record.items()}
    where = record_where(renamed, purpose)
    table = options()
    out: dict[str, Any] = {}
    for key, value in renamed.items():
        if key == subform and isinstance(value, list):
            rows = []
            for index, row in enumerate(value):
                if not isinstance(row, dict):
                    raise SkippableError("BAD_RECORD", f"{purpose} subform {subform} row {index} is not an object",
                                         where)
                rows.append(_flatten_row(row, aliases, zone, purpose, f"{subform}", table,
                                         f"{where}/{subform}[{index}]"))
            out[key] = rows
            continue
        value = _plain(value)
        if _empty(value):
            continue
        value = local_time(value, zone)
        if (purpose, key) in table and isinstance(value, str):
            value = option_code(purpose, key, value, where)
        out[key] = value
    if purpose in ANSWERED_PURPOSES and subform:
        _default_line_answers(out, purpose)
    return out


def _flatten_row(row: dict[str, Any], aliases: dict[str, str], zone: dt.tzinfo,
                 purpose: str, subform: str, table: dict, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        key = aliases.get(key, key)
        value = _plain(value)
        if _empty(value):
            continue
        value = local_time(value, zone)
        field = f"{subform}.{key}"
        if (purpose, field) in table and isinstance(value, str):
            value = option_code(purpose, field, value, where)
        out[key] = value
    return out


def _differs(promised: Any, asked: Any) -> bool:
    if promised is None:
        return False
    try:
        return Decimal(str(promised)) != Decimal(str(asked))
    except InvalidOperation:
        return str(promised)[:10] != str(asked)[:10]


def _default_line_answers(record: dict[str, Any], purpose: str) -> None:
    header = record.get("response")
    asked_qty, asked_date = ("quantity", "delivery_date") if purpose == "purchase_task" else \
        ("new_quantity", "new_date")
    for row in record.get("lines") or []:
        if row.get("line_response") or header is None:
            continue
        if header in ("accepted", "rejected"):
            row["line_response"] = header
        elif _differs(row.get("promised_quantity"), row.get(asked_qty)) or \
                _differs(row.get("promised_date"), row.get(asked_date)):
            row["line_response"] = "changed"
        else:
            row["line_response"] = "accepted"


def is_answered(record: dict[str, Any]) -> bool:
    """A supplier-answered purpose's flattened record carries an answer."""
    return not _empty(record.get("response"))


def to_documents(record: dict[str, Any], purpose: str, config: JiandaoyunConfig, *,
                 ref: Optional[str] = None) -> list[CanonicalDocument]:
    """The canonical documents one form record stands for (none for an unanswered task).

    ``ref`` (a webhook delivery id) goes into ``Source.message_ref``; ``Source.request`` names
    the form and record (``<entry_id>/<data_id>``); ``Source.partner`` is the record's supplier,
    so that supplier's crosswalk rows apply (its own part numbers on an ASN). An acknowledgement
    purpose (``ACK_PURPOSES``) maps to no document: read it with ``schedule.ack_from_record``."""
    if purpose in ACK_PURPOSES:
        return []
    flat = flatten(record, purpose, config)
    if purpose in ANSWERED_PURPOSES and not is_answered(flat):
        return []
    source = Source(system=SYSTEM, partner=flat.get("supplier_id") if isinstance(flat.get("supplier_id"), str)
                    else None, request=f"{record.get('entryId') or config.forms.get(purpose, '')}/"
                                       f"{record.get('_id', '')}", message_ref=ref)
    mapping = mapping_for(purpose)
    try:
        document = mapping.apply(flat, source)
    except SkippableError as exc:
        raise exc.located(f"{SYSTEM}:{purpose}") from None
    if isinstance(document, Inspection):
        document = _with_defects(document, flat)
    return [document]


def _with_defects(document: Inspection, flat: dict[str, Any]) -> Inspection:
    defects = flat.get("defects")
    if defects is None:
        return document
    values = defects if isinstance(defects, list) else [defects]
    return document.model_copy(update={"defects": [str(v).strip() for v in values if str(v).strip()]})


# --------------------------------------------------------------------------- outbound


def _widget(purpose: str, alias: str, config: JiandaoyunConfig) -> str:
    """The field name the API wants for one of our aliases (reverse of ``field_aliases``)."""
    for widget, name in config.field_aliases.get(purpose, {}).items():
        if name == alias:
            return widget
    return alias


def _named(purpose: str, values: dict[str, Any], config: JiandaoyunConfig) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            value = [{_widget(purpose, k, config): v for k, v in row.items()} for row in value]
        out[_widget(purpose, key, config)] = value
    return out


def _local_text(value: Optional[dt.date | dt.datetime], zone: dt.tzinfo) -> Optional[str]:
    """A hub date/datetime (plant-local) as RFC 3339 with the plant's offset: unambiguous on write."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.isoformat(timespec="seconds")


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _number(value: Optional[Decimal]) -> Any:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def purchase_task_values(po: PurchaseOrder, config: JiandaoyunConfig, status: str = "open") -> dict[str, Any]:
    """The purchase-task record for ``po`` (answer fields left empty for the supplier)."""
    zone = config.zone
    values = {
        HUB_KEY_FIELD: po.po_number, "po_number": po.po_number, "supplier_id": po.supplier_id,
        "order_date": _local_text(po.order_date, zone), "currency": po.currency or "", "version": po.version,
        "task_status": option_label("purchase_task", "task_status", status),
        "response": "", "response_note": "",
        "lines": [_present({"line_no": line.line_no, "material_id": line.material_id,
                            "supplier_material_id": line.supplier_material_id or "",
                            "quantity": _number(line.quantity), "uom": line.uom,
                            "unit_price": _number(line.unit_price),
                            "delivery_date": _local_text(line.delivery_date, zone)}) for line in po.lines],
    }
    return _named("purchase_task", _present(values), config)


def plan_change_values(po: PurchaseOrder, previous: Optional[PurchaseOrder], change_id: str,
                       config: JiandaoyunConfig, reason: Optional[str] = None,
                       status: str = "open") -> dict[str, Any]:
    """The plan-change record: the lines of ``po`` that differ from ``previous`` (all without it);
    a line dropped from the order is published with new quantity 0."""
    zone = config.zone
    before = {line.line_no: line for line in previous.lines} if previous else {}
    rows = []
    for line in po.lines:
        old = before.pop(line.line_no, None)
        if old is not None and (old.quantity, old.delivery_date, old.material_id) == \
                (line.quantity, line.delivery_date, line.material_id):
            continue
        rows.append({"line_no": line.line_no, "material_id": line.material_id, "uom": line.uom,
                     "old_quantity": _number(old.quantity) if old else None, "new_quantity": _number(line.quantity),
                     "old_date": _local_text(old.delivery_date, zone) if old else None,
                     "new_date": _local_text(line.delivery_date, zone)})
    for old in before.values():
        rows.append({"line_no": old.line_no, "material_id": old.material_id, "uom": old.uom,
                     "old_quantity": _number(old.quantity), "new_quantity": 0,
                     "old_date": _local_text(old.delivery_date, zone), "new_date": None})
    rows.sort(key=lambda row: row["line_no"])
    values = {
        HUB_KEY_FIELD: change_id, "po_number": po.po_number, "supplier_id": po.supplier_id, "version": po.version,
        "change_reason": reason or "", "task_status": option_label("plan_change", "task_status", status),
        "response": "", "response_note": "",
        "lines": [_present(row) for row in rows],
    }
    return _named("plan_change", values, config)


def task_status_values(purpose: str, status: str, config: JiandaoyunConfig) -> dict[str, Any]:
    """``{task_status: <label>}`` for an update of a published task's status."""
    return _named(purpose, {"task_status": option_label(purpose, "task_status", status)}, config)
