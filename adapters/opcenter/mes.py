"""Siemens Opcenter as the hub's MES: pull orders, consumption and finished lots; push what suppliers announce.

Pulls yield :class:`hub.erp.ErpRecord` (``key``, ``modified``, ``data``: the flat record the
mapping ``mapping_path(kind)`` reads), so the ERP sync flow's steps (ledger, mapping,
validation, upsert, watermark) apply unchanged:

* ``production_orders``: the ``Order`` set (app ``PIOrder``) changed at/after ``since``
  (``LastUpdatedOn ge``) -> ``ProductionOrder`` (mappings/opcenter/Order.yaml);
* ``consumption``: the ``MaterialConsumption`` set changed at/after ``since`` names the lots
  consumed; each such lot is read from ``Material/MaterialLot`` with **all** its consumptions, so
  one record per lot -> one ``Batch`` with every ``consumed_by`` link
  (mappings/opcenter/MaterialLot.yaml). Memory grows with the lots of one window, not the set.
* ``finished_lots``: the same walk over the ``MaterialProduction`` set (app ``PIOrder``,
  INFERRED, see simulators/opcenter/state.py): each lot an order completion booked into is read
  with **all** its completions and the material of each producing order, so one record per
  finished lot -> one ``Batch`` with a ``produced`` link per producing order
  (mappings/opcenter/ProducedMaterialLot.yaml). A lot whose material is not what its producing
  order makes carries no ``hub_material_id`` (and says why in ``hub_problem``): the mapping
  quarantines it instead of inventing a genealogy.

Pushes (each idempotent: a rerun finds what the first run wrote and does not write a second
object; with ``max_attempts`` > 1 a retriable failure restarts the whole step from its look-up,
never with a blind second command):

* :meth:`OpcenterMes.push_material_availability` -> ``SetOrderMaterialAvailability``, an upsert
  keyed by (order, material) in the MES; skipped when the MES already holds the same values;
* :meth:`OpcenterMes.push_incoming_batch` -> ``Material/CreateMaterialLot`` once per lot NId
  (looked up first), then ``SetMaterialLotStatus`` only when the QC status differs;
* :meth:`OpcenterMes.propose_schedule_change` -> ``ProposeScheduleChange`` once per proposal id
  (looked up first): a proposal the planner accepts or rejects in the MES, never an edit of
  the order.

INFERRED (README): the entity sets other than ``Order``/``MaterialLot`` (``MaterialConsumption``,
``MaterialProduction``), the ``HubIntegration`` app and its commands, ``SetMaterialLotStatus``
and the field names of these writes.
"""
from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional, TypeVar

from adapters.opcenter import errors, translate
from adapters.opcenter.config import DEFAULT_CONN_ID, OpcenterConfig
from adapters.opcenter.hook import OpcenterHook, odata_datetime, odata_string
from canonical_model.documents import Batch
from hub.erp import ErpRecord
from hub.errors import FatalError, SkippableError
from mappings.engine import MAPPINGS_DIR

log = logging.getLogger(__name__)
T = TypeVar("T")

#: attempts per call when the Connection does not say (extra ``max_attempts``)
DEFAULT_ATTEMPTS = 4
MAPPING_DIR = MAPPINGS_DIR / "opcenter"
#: pull kind -> (mapping file, canonical document type)
KINDS: dict[str, tuple[str, str]] = {
    "production_orders": ("Order.yaml", "ProductionOrder"),
    "consumption": ("MaterialLot.yaml", "Batch"),
    "finished_lots": ("ProducedMaterialLot.yaml", "Batch"),
}
#: lots looked up per OData request (``NId eq 'a' or NId eq 'b' ...``): keeps URLs short
LOTS_PER_LOOKUP = 20
AVAILABILITY_SET = "OrderMaterialAvailability"
PROPOSAL_SET = "ScheduleChangeProposal"


class OpcenterMes:
    system = "opcenter"

    def __init__(self, conn_id: str = DEFAULT_CONN_ID, *, hook: Optional[OpcenterHook] = None) -> None:
        if hook is None:
            config = OpcenterConfig.from_conn_id(conn_id)
            hook = OpcenterHook(config, max_attempts=config.max_attempts or DEFAULT_ATTEMPTS)
        self.hook = hook
        self.config: OpcenterConfig = hook.config

    def __repr__(self) -> str:
        return f"OpcenterMes({self.hook!r})"

    def close(self) -> None:
        self.hook.close()

    def __enter__(self) -> "OpcenterMes":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ pull
    def mapping_path(self, kind: str) -> Path:
        return MAPPING_DIR / _kind(kind)[0]

    def pull(self, kind: str, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        """``production_orders``, ``consumption`` or ``finished_lots`` records changed at/after ``since``
        (naive plant time)."""
        _kind(kind)
        pulls = {"production_orders": self.pull_production_orders, "consumption": self.pull_consumption,
                 "finished_lots": self.pull_finished_lots}
        return pulls[kind](since)

    def _changed_since(self, since: Optional[dt.datetime]) -> Optional[str]:
        start = translate.since_utc(since, self.config.zone)
        return f"LastUpdatedOn ge {odata_datetime(start)}" if start is not None else None

    def pull_production_orders(self, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        cfg = self.config
        for entity in self.hook.query(cfg.order_app, cfg.order_set, self._changed_since(since)):
            yield translate.order_record(entity, cfg.zone)

    def pull_consumption(self, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        cfg = self.config
        bookings = self.hook.query(cfg.consumption_app, cfg.consumption_set, self._changed_since(since))
        for lot_nids in _lot_chunks(bookings, "consumption"):
            yield from self._lot_records(lot_nids)

    def pull_finished_lots(self, since: Optional[dt.datetime]) -> Iterator[ErpRecord]:
        cfg = self.config
        bookings = self.hook.query(cfg.production_app, cfg.production_set, self._changed_since(since))
        for lot_nids in _lot_chunks(bookings, "production"):
            yield from self._finished_lot_records(lot_nids)

    def _lots_and_bookings(self, lot_nids: list[str], app: str, entity_set: str
                           ) -> tuple[dict[Any, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """The lots by NId, and per lot every row of ``entity_set`` (consumption or production) naming it."""
        either = " or ".join(f"NId eq {odata_string(nid)}" for nid in lot_nids)
        lots = {row.get("NId"): row for row in self.hook.query(self.config.material_app, "MaterialLot", either)}
        by_lot: dict[str, list[dict[str, Any]]] = {nid: [] for nid in lot_nids}
        naming = " or ".join(f"MaterialLotNId eq {odata_string(nid)}" for nid in lot_nids)
        for booking in self.hook.query(app, entity_set, naming):
            by_lot.setdefault(str(booking.get("MaterialLotNId")), []).append(booking)
        return lots, by_lot

    def _lot_records(self, lot_nids: list[str]) -> Iterator[ErpRecord]:
        cfg = self.config
        lots, by_lot = self._lots_and_bookings(lot_nids, cfg.consumption_app, cfg.consumption_set)
        for nid in lot_nids:
            yield translate.lot_record(nid, lots.get(nid), by_lot.get(nid, []), cfg.zone)

    def _finished_lot_records(self, lot_nids: list[str]) -> Iterator[ErpRecord]:
        cfg = self.config
        lots, by_lot = self._lots_and_bookings(lot_nids, cfg.production_app, cfg.production_set)
        orders = sorted({str(p["OrderNId"]) for rows in by_lot.values() for p in rows
                         if isinstance(p.get("OrderNId"), str) and p["OrderNId"]})
        makes: dict[str, Any] = {}
        for start in range(0, len(orders), LOTS_PER_LOOKUP):
            named = " or ".join(f"NId eq {odata_string(nid)}" for nid in orders[start:start + LOTS_PER_LOOKUP])
            for order in self.hook.query(cfg.order_app, cfg.order_set, named):
                makes[str(order.get("NId"))] = order.get("MaterialNId")
        for nid in lot_nids:
            yield translate.finished_lot_record(nid, lots.get(nid), by_lot.get(nid, []), makes, cfg.zone)

    # ------------------------------------------------------------------ push
    def _step(self, work: Callable[[], T], what: str) -> T:
        """A look-up-then-write step, repeated from its look-up on a retriable failure."""
        return self.hook._retrying(work, what, idempotent=True)

    def push_material_availability(self, order_id: str, material_id: str, *, available_quantity: Decimal,
                                   uom: str, expected_arrival: Optional[dt.date | dt.datetime] = None,
                                   required_quantity: Optional[Decimal] = None, status: Optional[str] = None,
                                   reference: Optional[str] = None) -> str:
        """Tell the MES how much of ``material_id`` order ``order_id`` can count on and when the rest arrives.

        ``status`` defaults to ``available`` (enough), ``expected`` (short, more announced),
        ``partial`` / ``short``. ``reference`` names the evidence (an ASN number). Returns the
        availability record's Id. Idempotent: the MES keeps one record per (order, material)
        and the hub does not write when it already says the same.
        """
        cfg, app = self.config, self.config.integration_app
        where = self.hook.where(app, "SetOrderMaterialAvailability", f"{order_id}/{material_id}")
        with _located(where):
            available = _decimal(available_quantity, "available_quantity", "order", order_id, where, minimum=Decimal(0))
            required = None if required_quantity is None else _decimal(required_quantity, "required_quantity",
                                                                       "order", order_id, where, minimum=Decimal(0))
            if not str(order_id or "").strip() or not str(material_id or "").strip():
                raise errors.bad_record("order", str(order_id), "order_id/material_id", "is empty", where)
            if not uom:
                raise errors.bad_record("order", order_id, "uom", "is empty", where)
        status = status or _availability_status(available, required, expected_arrival)
        parameters: dict[str, Any] = {
            "OrderNId": order_id, "MaterialNId": material_id,
            "AvailableQuantity": translate.quantity(available, cfg.unit_code(uom)),
            "RequiredQuantity": translate.quantity(required, cfg.unit_code(uom)) if required is not None else None,
            "ExpectedArrival": translate.offset_datetime(expected_arrival, cfg.zone) if expected_arrival else None,
            "Status": status, "Reference": reference,
        }

        def step() -> str:
            flt = f"OrderNId eq {odata_string(order_id)} and MaterialNId eq {odata_string(material_id)}"
            existing = self.hook.find(app, AVAILABILITY_SET, flt, limit=2)
            if existing and _same_availability(existing[0], parameters):
                log.info("opcenter availability of %s for %s unchanged; not written", material_id, order_id)
                return str(existing[0]["Id"])
            result = self.hook.command(app, "SetOrderMaterialAvailability", parameters, key=f"{order_id}/{material_id}")
            return str(result.get("OrderMaterialAvailabilityId") or (existing[0]["Id"] if existing else ""))

        return self._step(step, f"material availability {material_id} for {order_id}")

    def push_incoming_batch(self, batch: Batch) -> str:
        """Register an incoming supplier batch in the MES with its QC status; returns the MaterialLot Id.

        The lot is created once per ``batch_id`` (NId); a rerun finds it and only moves its status
        when the QC status changed (quarantined -> released, ...).
        """
        cfg, app = self.config, self.config.material_app
        where = self.hook.where(app, "MaterialLot", batch.batch_id)
        with _located(where):
            if batch.status not in translate.LOT_VERBS:
                raise errors.bad_record("batch", batch.batch_id, "status",
                                        f"is {batch.status!r}; an incoming batch is quarantined, released or rejected",
                                        where)
            _decimal(batch.quantity, "quantity", "batch", batch.batch_id, where, minimum=Decimal(0), strict=True)
        verb, target_status = translate.LOT_VERBS[batch.status]
        create: dict[str, Any] = {
            "NId": batch.batch_id, "Name": batch.batch_id, "MaterialNId": batch.material_id,
            "Quantity": translate.quantity(batch.quantity, cfg.unit_code(batch.uom)),
            "SupplierNId": batch.supplier_id, "SupplierLotNId": batch.supplier_batch_number,
            "ExpirationDate": translate.offset_datetime(batch.expiry_date, cfg.zone) if batch.expiry_date else None,
        }

        def step() -> str:
            lot = self._find_lot(batch.batch_id)
            if lot is None:
                try:
                    result = self.hook.command(app, "CreateMaterialLot", create, key=batch.batch_id)
                except SkippableError as exc:
                    lot = self._find_lot(batch.batch_id)  # created meanwhile (a lost answer, a parallel run)
                    if lot is None:
                        raise exc.located(where) if not exc.where else exc
                else:
                    log.info("opcenter lot %s created for %s", result.get("MaterialLotId"), batch.batch_id)
                    # read back: the lot's initial status is the MES's state machine's, not ours to assume
                    lot = self._find_lot(batch.batch_id)
            if lot is None:
                raise errors.OpcenterRetriable("OPCENTER_BAD_RESPONSE", f"CreateMaterialLot for {batch.batch_id} "
                                                                        f"succeeded but the lot cannot be found", where)
            if str(lot.get("MaterialNId")) != batch.material_id:
                raise SkippableError("OPCENTER_CONFLICT",
                                     f"MES lot {batch.batch_id} is material {lot.get('MaterialNId')}, the batch is "
                                     f"{batch.material_id}; resolve in Opcenter before sending it again", where)
            current = translate.status_of(lot)
            in_mes = translate.LOT_STATES.get(current or "")
            if in_mes not in translate.LOT_VERBS:
                # consumed (or a state the hub does not know): the shop floor has moved on, QC must not undo it
                log.info("opcenter lot %s is %s in the MES; QC status %s not applied", batch.batch_id, current,
                         batch.status)
            elif in_mes != batch.status:
                self.hook.command(app, "SetMaterialLotStatus", {"MaterialLotId": lot["Id"], "Verb": verb},
                                  key=batch.batch_id)
                log.info("opcenter lot %s: %s -> %s", batch.batch_id, current, target_status)
            return str(lot["Id"])

        return self._step(step, f"incoming batch {batch.batch_id}")

    def _find_lot(self, nid: str) -> Optional[dict[str, Any]]:
        rows = self.hook.find(self.config.material_app, "MaterialLot", f"NId eq {odata_string(nid)}", limit=2)
        return rows[0] if rows else None

    def propose_schedule_change(self, proposal_id: str, order_id: str, *, reason: str,
                                proposed_start: Optional[dt.datetime] = None,
                                proposed_due: Optional[dt.datetime] = None) -> str:
        """Ask the MES planner to move order ``order_id`` (a command the planner answers; the order
        itself is not touched). Once per ``proposal_id``; returns the proposal's Id."""
        cfg, app = self.config, self.config.integration_app
        where = self.hook.where(app, "ProposeScheduleChange", proposal_id)
        if not str(proposal_id or "").strip():
            raise errors.bad_record("schedule change for order", str(order_id), "proposal_id",
                                    "is empty: it is what makes the proposal idempotent", where)
        if proposed_start is None and proposed_due is None:
            raise errors.bad_record("schedule change", proposal_id, "proposed_start/proposed_due",
                                    "are both empty: nothing to propose", where)
        if proposed_start and proposed_due and proposed_due < proposed_start:
            raise errors.bad_record("schedule change", proposal_id, "proposed_due", "is before proposed_start", where)
        if not str(reason or "").strip():
            raise errors.bad_record("schedule change", proposal_id, "reason", "is empty", where)
        parameters = {
            "NId": proposal_id, "OrderNId": order_id, "Reason": reason,
            "ProposedStartTime": translate.offset_datetime(proposed_start, cfg.zone) if proposed_start else None,
            "ProposedEndTime": translate.offset_datetime(proposed_due, cfg.zone) if proposed_due else None,
        }

        def step() -> str:
            existing = self.hook.find(app, PROPOSAL_SET, f"NId eq {odata_string(proposal_id)}", limit=2)
            if existing:
                if existing[0].get("OrderNId") != order_id:
                    raise SkippableError("OPCENTER_CONFLICT", f"proposal {proposal_id} already exists for order "
                                                              f"{existing[0].get('OrderNId')}, not {order_id}", where)
                return str(existing[0]["Id"])
            try:
                result = self.hook.command(app, "ProposeScheduleChange", parameters, key=proposal_id)
            except SkippableError as exc:
                again = self.hook.find(app, PROPOSAL_SET, f"NId eq {odata_string(proposal_id)}", limit=2)
                if again:
                    return str(again[0]["Id"])
                raise exc.located(where) if not exc.where else exc
            return str(result.get("ScheduleChangeProposalId") or "")

        return self._step(step, f"schedule change proposal {proposal_id}")


def _lot_chunks(bookings: Iterable[dict[str, Any]], what: str) -> Iterator[list[str]]:
    """The distinct ``MaterialLotNId`` s that consumption or production bookings name, in first-seen
    order, ``LOTS_PER_LOOKUP`` at a time (each lot once per pull)."""
    seen: set[str] = set()
    pending: list[str] = []
    for booking in bookings:
        lot = booking.get("MaterialLotNId")
        if not isinstance(lot, str) or not lot:
            log.warning("opcenter %s %s names no MaterialLotNId; it links no batch", what,
                        booking.get("NId") or booking.get("Id"))
            continue
        if lot in seen:
            continue
        seen.add(lot)
        pending.append(lot)
        if len(pending) >= LOTS_PER_LOOKUP:
            yield pending
            pending = []
    if pending:
        yield pending


def _kind(kind: str) -> tuple[str, str]:
    found = KINDS.get(kind)
    if found is None:
        raise FatalError("OPCENTER_KIND", f"unknown pull kind {kind!r}; use one of {', '.join(KINDS)}",
                         f"opcenter:{kind}")
    return found


def _decimal(value: Any, field: str, what: str, key: str, where: str, minimum: Optional[Decimal] = None,
             strict: bool = False) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise errors.bad_record(what, key, field, f"is {value!r}, not a number", where) from None
    if not number.is_finite():
        raise errors.bad_record(what, key, field, f"is {value!r}, not a finite number", where)
    if minimum is not None and (number <= minimum if strict else number < minimum):
        raise errors.bad_record(what, key, field, f"is {number}, must be {'above' if strict else 'at least'} "
                                                  f"{minimum}", where)
    return number


def _availability_status(available: Decimal, required: Optional[Decimal],
                         expected: Optional[dt.date | dt.datetime]) -> str:
    if required is None:
        return "expected" if expected is not None else "available"
    if available >= required:
        return "available"
    if expected is not None:
        return "expected"
    return "partial" if available > 0 else "short"


def _same_availability(existing: dict[str, Any], parameters: dict[str, Any]) -> bool:
    def number(q: Any) -> Optional[tuple[Decimal, Any]]:
        if not isinstance(q, dict):
            return None
        return Decimal(str(q.get("QuantityValue"))), q.get("UoMNId")

    return (number(existing.get("AvailableQuantity")) == number(parameters["AvailableQuantity"])
            and number(existing.get("RequiredQuantity")) == number(parameters["RequiredQuantity"])
            and _same_time(existing.get("ExpectedArrival"), parameters["ExpectedArrival"])
            and existing.get("Status") == parameters["Status"] and existing.get("Reference") == parameters["Reference"])


def _same_time(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    try:
        return dt.datetime.fromisoformat(str(left)) == dt.datetime.fromisoformat(str(right))
    except ValueError:
        return False


@contextmanager
def _located(where: str) -> Iterator[None]:
    try:
        yield
    except SkippableError as exc:
        raise (exc if exc.where else exc.located(where)) from None
