"""The hub's use of Jiandaoyun forms: pull records per purpose, publish tasks to the supplier portal.

:class:`JiandaoyunForms` is what flows and DAGs hold (``JiandaoyunForms()`` reads the Connection
``jiandaoyun_default``):

* ``pull(form, since)`` streams the records of one purpose (``production_order``, ``asn``,
  ``inspection``, ``purchase_task``, ``plan_change``, ``delivery_schedule``) changed at or after
  ``since``, in ``_id`` order, each once per page walk; supplier-answered purposes only yield answered records.
  Each is a :class:`FormRecord` (``key``, ``modified``, ``data`` like ``hub.erp.ErpRecord``;
  ``data`` is the record as received, to archive); ``documents(record)`` maps it.
* ``publish_purchase_task(po)`` / ``publish_plan_change(po, previous, change_id=...)`` write the
  portal record once per hub key: they look the key up first, so a rerun (after a timeout, a
  reset, a crash) finds the record it made instead of making a second one; the whole find-then-
  write step is repeated on RetriableError up to ``max_attempts`` times.
* ``publish_delivery_schedule(schedule, changes)`` writes one record per schedule version (hub
  key ``<supplier>/<schedule>/v<version>``, schedule.py) the same find-then-write way; the
  supplier's acknowledgement comes back as a data push (``schedule.parse_schedule_ack``).
* ``update_task_status(form, hub_key, status)`` sets the task status the supplier sees.

Not safe against two *concurrent* publishers of the same key: the outbox serialises those.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, TypeVar

from adapters.jiandaoyun import schedule as schedule_form
from adapters.jiandaoyun import translate
from adapters.jiandaoyun.config import DEFAULT_CONN_ID, PURPOSES
from adapters.jiandaoyun.hook import JiandaoyunHook, all_of, condition, updated_since
from canonical_model.documents import CanonicalDocument, DeliverySchedule, PurchaseOrder
from hub.errors import FatalError, RetriableError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class FormRecord:
    """One form record as pulled; shaped like ``hub.erp.ErpRecord`` (key, modified, data)."""

    purpose: str
    #: the record's business key (po_number, asn_number, order_id ...) or, lacking one, its _id
    key: str
    data_id: str
    #: updateTime in plant-local time (naive, as the ERP records' ``modified``)
    modified: Optional[dt.datetime]
    #: the record exactly as the API returned it
    data: dict[str, Any]


class JiandaoyunForms:
    system = "jiandaoyun"

    def __init__(self, conn_id: str = DEFAULT_CONN_ID, *, hook: Optional[JiandaoyunHook] = None) -> None:
        self.hook = hook or JiandaoyunHook.from_conn_id(conn_id)
        self.config = self.hook.config

    def close(self) -> None:
        self.hook.close()

    def __enter__(self) -> "JiandaoyunForms":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def mapping_path(self, form: str):
        return translate.mapping_path(form)

    # ------------------------------------------------------------------ inbound
    def pull(self, form: str, since: Optional[dt.datetime] = None) -> Iterator[FormRecord]:
        """Records of purpose ``form`` updated at or after ``since`` (naive = plant-local time)."""
        if form not in PURPOSES:
            raise ValueError(f"unknown form purpose {form!r}; expected one of {', '.join(PURPOSES)}")
        entry_id = self.config.form_id(form)
        conditions = []
        if since is not None:
            conditions.append(updated_since(since if since.tzinfo else since.replace(tzinfo=self.config.zone)))
        if form in translate.TASK_PURPOSES:
            conditions.append(condition(self._field(form, "response"), "radiogroup", "not_empty", []))
        for record in self.hook.iter_records(entry_id, filter=all_of(*conditions)):
            yield self._record(form, record)

    def _record(self, form: str, record: dict[str, Any]) -> FormRecord:
        aliases = self.config.field_aliases.get(form, {})
        named = {aliases.get(k, k): v for k, v in record.items()}
        key = named.get(translate.RECORD_KEYS[form])
        modified = translate.local_time(record.get("updateTime"), self.config.zone)
        try:
            when = dt.datetime.fromisoformat(modified) if isinstance(modified, str) else None
        except ValueError:
            when = None
        return FormRecord(purpose=form, key=str(key) if key not in (None, "") else str(record["_id"]),
                          data_id=str(record["_id"]), modified=when, data=record)

    def documents(self, record: FormRecord) -> list[CanonicalDocument]:
        """The canonical documents of a pulled record (flatten + mapping + defects)."""
        return translate.to_documents(record.data, record.purpose, self.config)

    # ------------------------------------------------------------------ outbound
    def _field(self, purpose: str, alias: str) -> str:
        return translate._widget(purpose, alias, self.config)

    def _retrying(self, step: Callable[[], T], what: str) -> T:
        attempt = 1
        while True:
            try:
                return step()
            except RetriableError as exc:
                if attempt >= self.hook.max_attempts:
                    raise
                log.warning("jiandaoyun %s failed (%s), attempt %d of %d; resuming from a fresh look-up", what,
                            exc.code, attempt, self.hook.max_attempts)
                self.hook.pause(attempt, getattr(exc, "retry_after", None))
                attempt += 1

    def find_by_hub_key(self, purpose: str, hub_key: str) -> list[dict[str, Any]]:
        return self.hook.find(self.config.form_id(purpose), self._field(purpose, translate.HUB_KEY_FIELD), hub_key)

    def _one(self, purpose: str, hub_key: str) -> Optional[dict[str, Any]]:
        found = self.find_by_hub_key(purpose, hub_key)
        if len(found) > 1:
            raise FatalError("JDY_DUPLICATE", f"{len(found)} {purpose} records carry hub key {hub_key!r} "
                                              f"({', '.join(r['_id'] for r in found)}); delete the extra ones in "
                                              f"Jiandaoyun before publishing again",
                             f"jiandaoyun:{purpose}:{translate.HUB_KEY_FIELD}={hub_key}")
        return found[0] if found else None

    def _publish(self, purpose: str, hub_key: str, values: dict[str, Any], version: int) -> str:
        entry_id = self.config.form_id(purpose)
        version_field = self._field(purpose, "version")

        def step() -> str:
            existing = self._one(purpose, hub_key)
            if existing is None:
                return self.hook.create(entry_id, values)["_id"]
            if existing.get(version_field) == version:
                log.info("jiandaoyun %s %s already published (record %s)", purpose, hub_key, existing["_id"])
                return existing["_id"]
            # a new version: the new content replaces the old, and the old answer with it
            return self.hook.update(entry_id, existing["_id"], values)["_id"]
        return self._retrying(step, f"publishing {purpose} {hub_key}")

    def publish_purchase_task(self, po: PurchaseOrder) -> str:
        """The purchase task of ``po`` in the supplier portal, once per PO version; its record id."""
        return self._publish("purchase_task", po.po_number, translate.purchase_task_values(po, self.config),
                             po.version)

    def publish_plan_change(self, po: PurchaseOrder, previous: Optional[PurchaseOrder] = None, *, change_id: str,
                            reason: Optional[str] = None) -> str:
        """A plan change (``po`` against ``previous``) for the supplier to confirm; its record id."""
        if not change_id:
            raise ValueError("change_id must not be empty: it is what makes the publication idempotent")
        values = translate.plan_change_values(po, previous, change_id, self.config, reason)
        return self._publish("plan_change", change_id, values, po.version)

    def publish_delivery_schedule(self, schedule: DeliverySchedule, changes: Sequence[Mapping[str, Any]]) -> str:
        """One version of ``schedule`` for the supplier to acknowledge, with ``changes`` since the
        last version (``ScheduleChange.as_dict()`` rows); its record id. Once per version: a rerun
        finds the record by its hub key. The form id is extra ``delivery_schedule_form``."""
        values = schedule_form.delivery_schedule_values(schedule, changes, self.config)
        hub_key = schedule_form.schedule_hub_key(schedule.supplier_id, schedule.schedule_id, schedule.version)
        return self._publish(schedule_form.PURPOSE, hub_key, values, schedule.version)

    def update_task_status(self, form: str, hub_key: str, status: str) -> str:
        """Set the status of a published task (open, answered, confirmed, closed, cancelled)."""
        if form not in translate.TASK_PURPOSES:
            raise ValueError(f"only {', '.join(translate.TASK_PURPOSES)} have a task status")
        values = translate.task_status_values(form, status, self.config)

        def step() -> str:
            existing = self._one(form, hub_key)
            if existing is None:
                raise FatalError("JDY_NOT_PUBLISHED", f"no {form} record carries hub key {hub_key!r}; publish it first",
                                 f"jiandaoyun:{form}:{translate.HUB_KEY_FIELD}={hub_key}")
            return self.hook.update(self.config.form_id(form), existing["_id"], values)["_id"]
        return self._retrying(step, f"setting {form} {hub_key} to {status}")
