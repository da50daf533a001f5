"""The simulated Opcenter's data, tokens and commands (no HTTP here; see server.py).

Entity sets per app (the base fields of §2.2 on every entity: ``Id`` GUID, ``AId``,
``IsFrozen``, ``ConcurrencyVersion``, ``IsDeleted``, ``CreatedOn``, ``LastUpdatedOn``,
``EntityType``, ``OptimisticVersion``, ``IsLocked``, ``ToBeCleaned``, plus ``NId``, ``Name``,
``Description``):

| app | set | fields beyond the base | evidence |
| --- | --- | --- | --- |
| ``PIOrder`` | ``Order`` | ``MaterialNId``, ``MaterialRevision``, ``EquipmentNId``, ``Type``, ``Quantity {UoMNId, QuantityValue}``, ``Status {StateMachineNId, StatusNId}``, ``PlannedStartTime``, ``PlannedEndTime``, ``ActualStartTime``, ``ActualEndTime`` | confirmed (notes §2.2/§2.3); ``Status`` on Order INFERRED from WorkOrder |
| ``PIOrder`` | ``MaterialConsumption`` | ``OrderNId``, ``MaterialLotNId``, ``MaterialNId``, ``Quantity``, ``ConsumedOn``, ``EquipmentNId`` | INFERRED |
| ``PIOrder`` | ``MaterialProduction`` | ``OrderNId``, ``MaterialLotNId``, ``MaterialNId``, ``Quantity``, ``ProducedOn``, ``EquipmentNId`` | INFERRED (see below) |
| ``Material`` | ``Material`` | ``Revision``, ``UoMNId``, ``TemplateNId``, ``IsCurrent`` | confirmed |
| ``Material`` | ``MaterialLot`` | ``MaterialNId``, ``Quantity``, ``Status``, ``SupplierNId``, ``SupplierLotNId``, ``ExpirationDate`` | set confirmed, fields INFERRED |
| ``HubIntegration`` | ``OrderMaterialAvailability``, ``ScheduleChangeProposal`` | see the commands | INFERRED (a site's custom app) |

Commands: ``Material/CreateMaterialLot`` -> ``MaterialLotId`` (confirmed name and output; lots
start in status ``Quarantine``, INFERRED), ``Material/SetMaterialLotStatus {MaterialLotId, Verb}``
(INFERRED, shaped like the confirmed ``SetOrderStatus {OrderId, Verb}``),
``HubIntegration/SetOrderMaterialAvailability`` (an upsert per order and material) and
``HubIntegration/ProposeScheduleChange`` (one proposal per NId; the order is not touched), both
INFERRED. Business failures raise :class:`CommandError` in one of the two documented 400 shapes.

Shop floor (simulator only): :meth:`OpcenterState.consume` books a consumption of a lot into an
order; with ``auto_consume`` on (the demo seed), releasing a lot of a material a released or
active order still needs consumes it into that order at once, so the demo's batch ends linked to
the order that used it without anyone typing on a terminal.

Produced (finished) lots, INFERRED - the protocol notes confirm the ``MaterialLot`` set but say
nothing about how a lot records the order that made it. The simulator keeps the finished lot an
ordinary ``MaterialLot`` (NId, ``MaterialNId`` = the order's material, ``Quantity``, status
``Released``) and books each completion as a ``PIOrder/MaterialProduction`` row (``OrderNId``,
``MaterialLotNId``, ``MaterialNId``, ``Quantity``, ``ProducedOn``), the mirror of
``MaterialConsumption`` and of ISA-95's MaterialProducedActual. Chosen over a
``ProducedByOrderNId`` field on the lot because a lot can be filled by several completions (and,
on some sites, several orders), which one field cannot say, and over ``MaterialTrackingUnit``
because an MTU is a handling unit (a pallet, a serial) of a lot, not the lot genealogy names.
:meth:`OpcenterState.produce` books a completion (admin ``POST /__sim/produce``); the row's and
the lot's ``LastUpdatedOn`` move, so ``$filter=LastUpdatedOn ge ...`` pulls see it.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import uuid
from decimal import Decimal
from typing import Any, Iterable, Optional

from simulators.opcenter.faults import Fault, FaultBook

log = logging.getLogger(__name__)

CLIENTS_ENV = "OPCENTER_SIM_CLIENTS"
USERS_ENV = "OPCENTER_SIM_USERS"
#: DEMO ONLY - a public, documented OAuth2 client for the local simulator and ``make demo``;
#: it protects nothing and must never be configured on a real Opcenter server.
DEMO_CLIENTS = "mes-hub:demo-only-client-secret"
#: DEMO ONLY - ``user:password`` for the password grant against the simulator.
DEMO_USERS = "PLANT01\\mes_int:demo-only-password"
DEMO_PLANT = "PLANT01"
TOKEN_LIFETIME_SECONDS = 1799
MAX_PAGE_SIZE = 1000
_ID_NAMESPACE = uuid.UUID("6f1b8d2e-8a3c-4b7e-9d51-0c2f4e6a8b10")

#: app -> entity set -> EntityType name
APPS: dict[str, dict[str, str]] = {
    "PIOrder": {"Order": "PIOrder.Order", "MaterialConsumption": "PIOrder.MaterialConsumption",
                "MaterialProduction": "PIOrder.MaterialProduction"},
    "Material": {"Material": "Material.Material", "MaterialLot": "Material.MaterialLot"},
    "HubIntegration": {"OrderMaterialAvailability": "HubIntegration.OrderMaterialAvailability",
                       "ScheduleChangeProposal": "HubIntegration.ScheduleChangeProposal"},
}
COMMANDS: dict[str, tuple[str, ...]] = {
    "PIOrder": (),
    "Material": ("CreateMaterialLot", "SetMaterialLotStatus"),
    "HubIntegration": ("SetOrderMaterialAvailability", "ProposeScheduleChange"),
}
#: lot status -> verb -> next status (INFERRED state machine)
LOT_TRANSITIONS = {
    "Quarantine": {"Release": "Released", "Reject": "Rejected"},
    "Released": {"Quarantine": "Quarantine", "Reject": "Rejected"},
    "Rejected": {"Release": "Released", "Quarantine": "Quarantine"},
    "Consumed": {},
}
#: order statuses in which the shop floor consumes material (auto_consume)
CONSUMING_ORDER_STATES = ("Released", "Active")

_BASE_FIELDS = ("Id", "AId", "IsFrozen", "ConcurrencyVersion", "IsDeleted", "CreatedOn", "LastUpdatedOn", "EntityType",
                "OptimisticVersion", "IsLocked", "ToBeCleaned", "NId", "Name", "Description")
FIELDS: dict[str, tuple[str, ...]] = {
    "Order": _BASE_FIELDS + ("MaterialNId", "MaterialRevision", "EquipmentNId", "Type", "Quantity", "Status",
                             "PlannedStartTime", "PlannedEndTime", "ActualStartTime", "ActualEndTime"),
    "MaterialConsumption": _BASE_FIELDS + ("OrderNId", "MaterialLotNId", "MaterialNId", "Quantity", "ConsumedOn",
                                           "EquipmentNId"),
    "MaterialProduction": _BASE_FIELDS + ("OrderNId", "MaterialLotNId", "MaterialNId", "Quantity", "ProducedOn",
                                          "EquipmentNId"),
    "Material": _BASE_FIELDS + ("Revision", "UoMNId", "TemplateNId", "IsCurrent"),
    "MaterialLot": _BASE_FIELDS + ("MaterialNId", "Quantity", "Status", "SupplierNId", "SupplierLotNId",
                                   "ExpirationDate"),
    "OrderMaterialAvailability": _BASE_FIELDS + ("OrderNId", "MaterialNId", "AvailableQuantity", "RequiredQuantity",
                                                 "ExpectedArrival", "Status", "Reference"),
    "ScheduleChangeProposal": _BASE_FIELDS + ("OrderNId", "ProposedStartTime", "ProposedEndTime", "Reason", "Status"),
}


class CommandError(Exception):
    """A business failure: HTTP 400 with ``{"Error": {...}}`` (platform) or ``{"error": {...}}`` (OData)."""

    def __init__(self, code: int | str, message: str, odata_style: bool = False) -> None:
        super().__init__(message)
        self.code, self.message, self.odata_style = code, message, odata_style

    def body(self) -> dict[str, Any]:
        if self.odata_style:
            return {"error": {"code": str(self.code), "message": self.message}}
        return {"Error": {"ErrorCode": self.code, "ErrorMessage": self.message}}


def _pairs(text: str, what: str) -> dict[str, str]:
    found = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, secret = item.rpartition(":")
        if not sep or not name:
            raise ValueError(f"{what} entries are name:secret (entry #{len(found) + 1})")
        found[name] = secret
    return found


def iso(value: dt.datetime) -> str:
    """Edm.DateTimeOffset text in UTC (``2026-11-20T08:00:00Z``)."""
    return value.astimezone(dt.timezone.utc).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _number(value: Decimal) -> Any:
    return int(value) if value == value.to_integral_value() else float(value)


class OpcenterState:
    """Entity sets, tokens and faults. Every mutation holds ``lock``."""

    def __init__(self, clients: Optional[str] = None, users: Optional[str] = None, plant_id: str = DEMO_PLANT,
                 token_lifetime: float = TOKEN_LIFETIME_SECONDS) -> None:
        self.lock = threading.RLock()
        self._clients = _pairs(clients if clients is not None else os.environ.get(CLIENTS_ENV, DEMO_CLIENTS),
                               "client")
        self._users = _pairs(users if users is not None else os.environ.get(USERS_ENV, DEMO_USERS), "user")
        self.plant_id = plant_id
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, tuple[str, float]] = {}  # token -> (client, expires at, wall clock)
        self.refresh_tokens: dict[str, tuple[str, str]] = {}  # refresh token -> (client, user)
        self.sets: dict[str, dict[str, dict[str, Any]]] = {name: {} for app in APPS.values() for name in app}
        self.faults = FaultBook()
        self._stall_release = threading.Event()
        self.max_page_size = MAX_PAGE_SIZE
        self.max_body_bytes = 1 << 20
        #: what the shop floor needs per order: order NId -> material NId -> quantity still to consume
        self.requirements: dict[str, dict[str, Decimal]] = {}
        self.auto_consume = False
        self.token_count = 0
        #: grant_type of every token issued, in order
        self.grants: list[str] = []
        #: every routed call as "GET Order", "POST CreateMaterialLot", "token" - for tests counting round trips
        self.calls: list[str] = []
        self._now: Optional[dt.datetime] = None
        self._sequence = 0

    def __repr__(self) -> str:  # the client and user tables hold secrets: never print them
        return f"OpcenterState(clients={len(self._clients)}, users={len(self._users)}, tokens={len(self.tokens)})"

    # -- clock
    def set_now(self, when: dt.datetime | str | None) -> None:
        if isinstance(when, str):
            when = dt.datetime.fromisoformat(when)
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        self._now = when

    def now(self) -> dt.datetime:
        return self._now or dt.datetime.now(dt.timezone.utc)

    # -- faults
    def fail_next(self, n: int, kind: str, service: Optional[str] = None, **options: Any) -> Fault:
        return self.arm_fault({"kind": kind, "count": n, "service": service, **options})

    def arm_fault(self, spec: dict[str, Any] | Fault) -> Fault:
        fault = spec if isinstance(spec, Fault) else Fault.from_json(spec)
        if fault.kind == "timeout":
            self._stall_release.clear()
        return self.faults.arm(fault)

    def release_stalled(self) -> None:
        self._stall_release.set()

    def wait_stalled(self, cap: float = 60.0) -> None:
        self._stall_release.wait(cap)

    # -- auth
    def check_client(self, client_id: str, secret: str) -> bool:
        with self.lock:
            return client_id in self._clients and self._clients[client_id] == secret

    def check_user(self, username: str, password: str) -> bool:
        with self.lock:
            return username in self._users and self._users[username] == password

    def issue_token(self, client_id: str, user: Optional[str], grant: str) -> dict[str, Any]:
        with self.lock:
            self.grants.append(grant)
            token = uuid.uuid4().hex + uuid.uuid4().hex
            self.tokens[token] = (client_id, self.now().timestamp() + self.token_lifetime)
            self.token_count += 1
            answer: dict[str, Any] = {"access_token": token, "token_type": "bearer",
                                      "expires_in": int(self.token_lifetime)}
            if user is not None:  # client_credentials gets no refresh token (RFC 6749 §4.4.3)
                refresh = uuid.uuid4().hex
                self.refresh_tokens[refresh] = (client_id, user)
                answer["refresh_token"] = refresh
            return answer

    def token_valid(self, token: str) -> bool:
        with self.lock:
            entry = self.tokens.get(token)
            return entry is not None and entry[1] > self.now().timestamp()

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    # -- entities
    def new_id(self, entity_set: str, nid: str) -> str:
        return str(uuid.uuid5(_ID_NAMESPACE, f"{entity_set}:{nid}"))

    def _base(self, entity_set: str, nid: str, name: Optional[str] = None,
              description: Optional[str] = None) -> dict[str, Any]:
        now = iso(self.now())
        app = next(a for a, sets in APPS.items() if entity_set in sets)
        return {"Id": self.new_id(entity_set, nid), "AId": "", "IsFrozen": False, "ConcurrencyVersion": 0,
                "IsDeleted": 0, "CreatedOn": now, "LastUpdatedOn": now, "EntityType": APPS[app][entity_set],
                "OptimisticVersion": "AAAAAAAB", "IsLocked": False, "ToBeCleaned": False, "NId": nid,
                "Name": name or nid, "Description": description}

    def put(self, entity_set: str, entity: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.sets[entity_set][entity["Id"]] = entity
            return entity

    def touch(self, entity: dict[str, Any]) -> None:
        with self.lock:
            entity["LastUpdatedOn"] = iso(self.now())
            entity["ConcurrencyVersion"] = int(entity.get("ConcurrencyVersion") or 0) + 1

    def by_nid(self, entity_set: str, nid: str) -> Optional[dict[str, Any]]:
        with self.lock:
            return self.sets[entity_set].get(self.new_id(entity_set, nid))

    def rows(self, entity_set: str) -> list[dict[str, Any]]:
        """A deep copy of a set's entities, for test assertions."""
        with self.lock:
            return json.loads(json.dumps(list(self.sets[entity_set].values())))

    def add_material(self, nid: str, name: str, uom: str, template: str = "RAW") -> dict[str, Any]:
        entity = self._base("Material", nid, name)
        entity.update(Revision="A", UoMNId=uom, TemplateNId=template, IsCurrent=True)
        return self.put("Material", entity)

    def add_order(self, nid: str, material: str, quantity: Decimal | int, uom: str, start: dt.datetime,
                  end: dt.datetime, status: str = "Released", equipment: Optional[str] = "LINE01",
                  needs: Optional[dict[str, Decimal | int]] = None, description: Optional[str] = None) -> dict[str, Any]:
        entity = self._base("Order", nid, nid, description)
        entity.update(MaterialNId=material, MaterialRevision="A", EquipmentNId=equipment, Type="Production",
                      Quantity={"UoMNId": uom, "QuantityValue": _number(Decimal(str(quantity)))},
                      Status={"StateMachineNId": "Order", "StatusNId": status}, PlannedStartTime=iso(start),
                      PlannedEndTime=iso(end), ActualStartTime=None, ActualEndTime=None)
        with self.lock:
            self.requirements[nid] = {m: Decimal(str(q)) for m, q in (needs or {}).items()}
            return self.put("Order", entity)

    def set_order_status(self, nid: str, status: str) -> None:
        with self.lock:
            order = self.by_nid("Order", nid)
            if order is None:
                raise KeyError(nid)
            order["Status"]["StatusNId"] = status
            if status == "Active" and not order.get("ActualStartTime"):
                order["ActualStartTime"] = iso(self.now())
            if status in ("Completed", "Closed") and not order.get("ActualEndTime"):
                order["ActualEndTime"] = iso(self.now())
            self.touch(order)

    def replan_order(self, nid: str, *, quantity: Optional[Decimal | int | str] = None,
                     start: Optional[dt.datetime] = None, end: Optional[dt.datetime] = None) -> dict[str, Any]:
        """A planner changes an order in the MES (quantity and/or planned times); the order is touched
        so the hub's next pull sees it."""
        with self.lock:
            order = self.by_nid("Order", nid)
            if order is None:
                raise KeyError(nid)
            if quantity is not None:
                try:
                    value = Decimal(str(quantity))
                except ArithmeticError:
                    raise ValueError(f"quantity {quantity!r} is not a number") from None
                if not value.is_finite() or value <= 0:
                    raise ValueError(f"quantity {quantity!r} must be a positive number")
                order["Quantity"]["QuantityValue"] = _number(value)
            if start is not None:
                order["PlannedStartTime"] = iso(start)
            if end is not None:
                order["PlannedEndTime"] = iso(end)
            self.touch(order)
            return order

    def add_lot(self, nid: str, material: str, quantity: Decimal | int, uom: str, status: str = "Quarantine",
                supplier: Optional[str] = None, supplier_lot: Optional[str] = None,
                expiration: Optional[str] = None) -> dict[str, Any]:
        entity = self._base("MaterialLot", nid)
        entity.update(MaterialNId=material, Quantity={"UoMNId": uom, "QuantityValue": _number(Decimal(str(quantity)))},
                      Status={"StateMachineNId": "MaterialLot", "StatusNId": status}, SupplierNId=supplier,
                      SupplierLotNId=supplier_lot, ExpirationDate=expiration)
        return self.put("MaterialLot", entity)

    def _free_nid(self, entity_set: str, prefix: str) -> str:
        """The next ``PREFIX-000123`` of the shared sequence that ``entity_set`` does not hold yet."""
        while True:
            self._sequence += 1
            nid = f"{prefix}-{self._sequence:06d}"
            if self.by_nid(entity_set, nid) is None:
                return nid

    def consume(self, order_nid: str, lot_nid: str, quantity: Decimal | int | None = None) -> dict[str, Any]:
        """The shop floor books ``quantity`` (default: all that is left) of a lot into an order."""
        with self.lock:
            order, lot = self.by_nid("Order", order_nid), self.by_nid("MaterialLot", lot_nid)
            if order is None or lot is None:
                raise CommandError(4, f"{'Order ' + order_nid if order is None else 'MaterialLot ' + lot_nid} "
                                      f"does not exist")
            if lot["Status"]["StatusNId"] != "Released":
                raise CommandError(21, f"MaterialLot {lot_nid} is {lot['Status']['StatusNId']}, not Released")
            left = Decimal(str(lot["Quantity"]["QuantityValue"]))
            amount = left if quantity is None else Decimal(str(quantity))
            if amount <= 0 or amount > left:
                raise CommandError(22, f"cannot consume {amount} of MaterialLot {lot_nid} ({left} left)")
            entity = self._base("MaterialConsumption", self._free_nid("MaterialConsumption", "CONS"))
            entity.update(OrderNId=order_nid, MaterialLotNId=lot_nid, MaterialNId=lot["MaterialNId"],
                          Quantity={"UoMNId": lot["Quantity"]["UoMNId"], "QuantityValue": _number(amount)},
                          ConsumedOn=iso(self.now()), EquipmentNId=order.get("EquipmentNId"))
            self.put("MaterialConsumption", entity)
            lot["Quantity"]["QuantityValue"] = _number(left - amount)
            if left - amount == 0:
                lot["Status"]["StatusNId"] = "Consumed"
            self.touch(lot)
            need = self.requirements.get(order_nid, {})
            if lot["MaterialNId"] in need:
                need[lot["MaterialNId"]] = max(Decimal(0), need[lot["MaterialNId"]] - amount)
            if order["Status"]["StatusNId"] == "Released":
                self.set_order_status(order_nid, "Active")
            return entity

    def produce(self, order_nid: str, lot_nid: str, quantity: Decimal | int | str,
                uom: Optional[str] = None) -> dict[str, Any]:
        """The shop floor books ``quantity`` of the order's material into finished lot ``lot_nid``.

        The lot is created (status ``Released``, the order's material, unit ``uom`` or the
        order's) or, when it exists, filled up; a lot of another material or unit is refused.
        Returns the new ``MaterialProduction`` entity."""
        with self.lock:
            order = self.by_nid("Order", order_nid)
            if order is None:
                raise CommandError(4, f"Order {order_nid} does not exist")
            try:
                amount = Decimal(str(quantity))
            except ArithmeticError:
                raise CommandError(1, f"quantity {quantity!r} is not a number") from None
            if not amount.is_finite() or amount <= 0:
                raise CommandError(22, f"cannot produce {quantity} into MaterialLot {lot_nid}")
            material, unit = order["MaterialNId"], uom or order["Quantity"]["UoMNId"]
            lot = self.by_nid("MaterialLot", lot_nid)
            if lot is None:
                lot = self.add_lot(lot_nid, material, amount, unit, "Released")
            elif lot["MaterialNId"] != material or lot["Quantity"]["UoMNId"] != unit:
                raise CommandError(23, f"MaterialLot {lot_nid} is {lot['MaterialNId']} in "
                                       f"{lot['Quantity']['UoMNId']}, order {order_nid} makes {material} in {unit}")
            else:
                lot["Quantity"]["QuantityValue"] = _number(Decimal(str(lot["Quantity"]["QuantityValue"])) + amount)
                self.touch(lot)
            entity = self._base("MaterialProduction", self._free_nid("MaterialProduction", "PROD"))
            entity.update(OrderNId=order_nid, MaterialLotNId=lot_nid, MaterialNId=material,
                          Quantity={"UoMNId": unit, "QuantityValue": _number(amount)}, ProducedOn=iso(self.now()),
                          EquipmentNId=order.get("EquipmentNId"))
            return self.put("MaterialProduction", entity)

    def _auto_consume(self, lot: dict[str, Any]) -> None:
        if not self.auto_consume or lot["Status"]["StatusNId"] != "Released":
            return
        for order in sorted(self.sets["Order"].values(), key=lambda o: o["PlannedStartTime"]):
            need = self.requirements.get(order["NId"], {}).get(lot["MaterialNId"], Decimal(0))
            if need > 0 and order["Status"]["StatusNId"] in CONSUMING_ORDER_STATES:
                left = Decimal(str(lot["Quantity"]["QuantityValue"]))
                try:
                    self.consume(order["NId"], lot["NId"], min(need, left))
                except CommandError:  # the shop floor's business, never the status command's answer
                    log.exception("opcenter simulator: auto-consumption of %s failed", lot["NId"])
                return

    # -- commands
    def run_command(self, app: str, name: str, params: dict[str, Any]) -> dict[str, Any]:
        handler = getattr(self, f"cmd_{name}", None)
        if handler is None or name not in COMMANDS.get(app, ()):
            raise LookupError(name)
        with self.lock:
            return handler(params)

    def cmd_CreateMaterialLot(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - the command's own name
        nid = _required_text(p, "NId")
        material = _required_text(p, "MaterialNId")
        amount, unit = _quantity(p.get("Quantity"), "Quantity")
        if amount <= 0:
            raise CommandError(3, f"Quantity of MaterialLot {nid} must be positive")
        if self.by_nid("Material", material) is None:
            raise CommandError(2, f"Material {material} does not exist")
        if self.by_nid("MaterialLot", nid) is not None:
            raise CommandError(12, f"MaterialLot {nid} already exists")
        lot = self.add_lot(nid, material, amount, unit, "Quarantine", p.get("SupplierNId"), p.get("SupplierLotNId"),
                           p.get("ExpirationDate"))
        if p.get("Name"):
            lot["Name"] = str(p["Name"])
        return {"MaterialLotId": lot["Id"]}

    def cmd_SetMaterialLotStatus(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        lot_id, verb = _required_text(p, "MaterialLotId"), _required_text(p, "Verb")
        lot = self.sets["MaterialLot"].get(lot_id)
        if lot is None:
            raise CommandError("NotFound", f"MaterialLot with Id {lot_id} does not exist", odata_style=True)
        current = lot["Status"]["StatusNId"]
        target = LOT_TRANSITIONS.get(current, {}).get(verb)
        if target is None:
            raise CommandError("InvalidTransition", f"verb {verb} is not allowed for MaterialLot {lot['NId']} in "
                                                    f"status {current}", odata_style=True)
        lot["Status"]["StatusNId"] = target
        self.touch(lot)
        self._auto_consume(lot)
        return {}

    def cmd_SetOrderMaterialAvailability(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        order, material = _required_text(p, "OrderNId"), _required_text(p, "MaterialNId")
        if self.by_nid("Order", order) is None:
            raise CommandError(4, f"Order {order} does not exist")
        available = _quantity(p.get("AvailableQuantity"), "AvailableQuantity")
        required = _quantity(p.get("RequiredQuantity"), "RequiredQuantity") if p.get("RequiredQuantity") else None
        nid = f"{order}/{material}"
        entity = self.by_nid("OrderMaterialAvailability", nid)
        if entity is None:
            entity = self.put("OrderMaterialAvailability", self._base("OrderMaterialAvailability", nid))
        else:
            self.touch(entity)
        entity.update(OrderNId=order, MaterialNId=material,
                      AvailableQuantity={"UoMNId": available[1], "QuantityValue": _number(available[0])},
                      RequiredQuantity=None if required is None else {"UoMNId": required[1],
                                                                      "QuantityValue": _number(required[0])},
                      ExpectedArrival=p.get("ExpectedArrival"), Status=p.get("Status"), Reference=p.get("Reference"))
        return {"OrderMaterialAvailabilityId": entity["Id"]}

    def cmd_ProposeScheduleChange(self, p: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        nid, order = _required_text(p, "NId"), _required_text(p, "OrderNId")
        if self.by_nid("Order", order) is None:
            raise CommandError(4, f"Order {order} does not exist")
        if self.by_nid("ScheduleChangeProposal", nid) is not None:
            raise CommandError(12, f"ScheduleChangeProposal {nid} already exists")
        if not p.get("ProposedStartTime") and not p.get("ProposedEndTime"):
            raise CommandError(1, "ProposedStartTime or ProposedEndTime is mandatory")
        entity = self._base("ScheduleChangeProposal", nid)
        entity.update(OrderNId=order, ProposedStartTime=p.get("ProposedStartTime"),
                      ProposedEndTime=p.get("ProposedEndTime"), Reason=p.get("Reason"),
                      Status={"StateMachineNId": "ScheduleChangeProposal", "StatusNId": "Proposed"})
        self.put("ScheduleChangeProposal", entity)
        return {"ScheduleChangeProposalId": entity["Id"]}


def _required_text(p: dict[str, Any], name: str) -> str:
    value = p.get(name)
    if value in (None, "") or not isinstance(value, (str, int)):
        raise CommandError(1, f"parameter {name} is mandatory")
    return str(value)


def _quantity(value: Any, name: str) -> tuple[Decimal, str]:
    if not isinstance(value, dict) or "QuantityValue" not in value or not value.get("UoMNId"):
        raise CommandError(1, f"parameter {name} needs QuantityValue and UoMNId")
    try:
        amount = Decimal(str(value["QuantityValue"]))
    except ArithmeticError:
        raise CommandError(1, f"{name}.QuantityValue is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise CommandError(1, f"{name}.QuantityValue must be a non-negative number")
    return amount, str(value["UoMNId"])


# ----------------------------------------------------------------------------- demo data

DEMO_MATERIALS = (("1.02.0033", "轴承 6204", "PCS", "RAW"), ("1.02.0041", "轴承 6205", "PCS", "RAW"),
                  ("1.03.0100", "油封 TC 25x47x7", "PCS", "RAW"), ("3.01.0007", "电机总成", "PCS", "FG"))


def seed_demo(state: OpcenterState, today: Optional[dt.date] = None) -> None:
    """The demo plant, dated around ``today`` (default: the real date, like the demo's ASN, which
    arrives today + 2): a completed order that consumed an oil-seal lot and produced the finished
    lot ``FG-3.01.0007-0001`` (200 PCS), the order ``MO-2026-0002``
    that needs 500 bearings 1.02.0033 and is planned to start today + 3 and be due today + 5 (after
    the demo ASN arrives), and a planned order for the week after."""
    today = today or dt.date.today()

    def at(days: int, hour: int = 0) -> dt.datetime:
        return dt.datetime.combine(today + dt.timedelta(days=days), dt.time(hour), tzinfo=dt.timezone.utc)

    previous = state._now
    try:
        state.set_now(at(-10))
        for nid, name, uom, template in DEMO_MATERIALS:
            state.add_material(nid, name, uom, template)
        state.set_now(at(-7))
        state.add_order("MO-2026-0001", "3.01.0007", 200, "PCS", at(-5), at(-2), "Released",
                        needs={"1.03.0100": 200}, description="Motor assembly, first batch")
        state.add_lot("L-1.03.0100-0001", "1.03.0100", 1000, "PCS", "Released", "SUP-002", "JN-2026-0815")
        state.set_now(at(-4))
        state.consume("MO-2026-0001", "L-1.03.0100-0001", 200)
        state.set_now(at(-2))
        state.produce("MO-2026-0001", "FG-3.01.0007-0001", 200)
        state.set_order_status("MO-2026-0001", "Completed")
        state.set_now(at(-1))
        state.add_order("MO-2026-0002", "3.01.0007", 500, "PCS", at(3), at(5), "Released",
                        needs={"1.02.0033": 500}, description="Motor assembly, needs bearing 6204")
        state.add_order("MO-2026-0003", "3.01.0007", 300, "PCS", at(8), at(10), "Edit",
                        needs={"1.02.0041": 300}, description="Motor assembly, next week")
    finally:
        state._now = previous


def iter_sets() -> Iterable[tuple[str, str]]:
    for app, sets in APPS.items():
        for name in sets:
            yield app, name
