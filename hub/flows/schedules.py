"""Plan run: production orders and BOMs -> MRP -> purchase tasks -> one DeliverySchedule version per
supplier -> approval of firm-zone changes -> sent through the partner's channel -> acknowledged.

The steps the ``plan_run`` DAG wires, each a plain function on the store:

* ``propose(store, ...)``: MRP on the current store documents, allocation among approved suppliers
  (grades from the scorecard when there is one), a schedule per supplier (``collaboration.plan``).
  A changed schedule is stored as a new document version and audited ``schedule_proposed`` with
  its diff against the version the supplier last received. It needs approval when a change is
  inside the firm zone of the supplier (``schedule.firm_days`` of its profile); a first schedule is
  the baseline and goes out without approval.
* ``decide(store, schedule_id, version, approved=...)``: the planner's answer (Airflow's
  human-in-the-loop task, or ``hub`` callers), audited with who and when and the comment.
* ``release(store, ...)``: each current version that may go (no approval needed, or approved) is
  rendered for the partner's channel (DELFOR / 830 / CSV / XLSX over SFTP through the outbox, or
  the Jiandaoyun portal) once; ``record_sent`` audits ``schedule_sent`` with the schedule as sent.
* ``collect_acks(store, now)``: EDI acknowledgements of the schedule's interchange (CONTRL / 997
  recorded by the inbound flow) become ``schedule_acknowledged``; a version not acknowledged
  within the partner's ack deadline raises a PLAN_CHANGE_UNACKNOWLEDGED Alert (once).
* ``propose_mes_changes(store, mes, ...)``: production orders that firm supply no longer covers
  at their planned start get a MATERIAL_SHORTAGE Alert and a schedule-change proposal in the MES;
  nothing is rescheduled silently, and the same proposal is never sent twice.

Every step of a schedule is in the audit log under its ``schedule_id``: ``hub audit --subject
DS-SUP-001`` prints it.
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.documents import Alert, DeliverySchedule, SubjectRef
from canonical_model.store import Store, audit, documents, interchanges, outbox, state
from canonical_model.store.tables import AuditRow, OutboxRow
from collaboration.alerts import raise_alert
from collaboration.alerts.rules import plan_change_unacknowledged
from collaboration.plan import diff_schedules, firm_until, needs_approval
from hub.errors import HubError, SkippableError
from hub.flows.common import quarantine_error

log = logging.getLogger(__name__)

SUBJECT = "DeliverySchedule"
TARGET = "supplier_sftp"
#: outbox operations that carry a delivery schedule file
SCHEDULE_OPERATIONS = ("DELFOR", "830", "SCHEDULE_SHEET")
PORTAL_OPERATION = "SCHEDULE_PORTAL"
ACTOR = "plan_run"


@dataclass
class PlanProposal:
    plan_date: dt.date
    requirements: int = 0
    purchase_tasks: int = 0
    unallocated: list[str] = field(default_factory=list)
    #: schedule_id -> (version, "unchanged" | "proposed" | "needs_approval")
    schedules: dict[str, tuple[int, str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"plan_date": self.plan_date.isoformat(), "requirements": self.requirements,
                "purchase_tasks": self.purchase_tasks, "unallocated": self.unallocated,
                "schedules": {k: {"version": v, "status": s} for k, (v, s) in self.schedules.items()},
                "warnings": self.warnings}


@dataclass(frozen=True)
class PendingApproval:
    schedule_id: str
    supplier_id: str
    version: int
    changes: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {"schedule_id": self.schedule_id, "supplier_id": self.supplier_id, "version": self.version,
                "changes": self.changes}


# ------------------------------------------------------------------------------ the audit trail
def _trail(session: Session, schedule_id: str) -> list[AuditRow]:
    return audit.history(session, SUBJECT, schedule_id)


def _for_version(rows: list[AuditRow], version: int, *actions: str) -> list[AuditRow]:
    return [r for r in rows if r.action in actions and (r.details or {}).get("version") == version]


def last_sent(session: Session, schedule_id: str) -> Optional[DeliverySchedule]:
    """The version the supplier last received (as sent), or None."""
    return _last_sent_in(_trail(session, schedule_id))


def _last_sent_in(trail: list[AuditRow]) -> Optional[DeliverySchedule]:
    sent = [r for r in trail if r.action == "schedule_sent"]
    return DeliverySchedule.model_validate(sent[-1].details["schedule"]) if sent else None


#: audit action -> the status of the version after it (schedule_proposed: see version_status)
STATUS_AFTER = {"schedule_approved": "approved", "schedule_rejected": "rejected",
                "schedule_superseded": "superseded", "schedule_sent": "sent",
                "schedule_acknowledged": "acknowledged", "schedule_ack_rejected": "ack_rejected"}


def version_status(session: Session, schedule_id: str, version: int) -> str:
    """unknown | proposed | needs_approval | approved | rejected | superseded | sent | acknowledged |
    ack_rejected: the status after the version's latest audited step."""
    return _status_in(_trail(session, schedule_id), version)


def _status_in(trail: list[AuditRow], version: int) -> str:
    """``version_status`` on a schedule's trail already read."""
    latest = "unknown"
    for row in _for_version(trail, version, "schedule_proposed", *STATUS_AFTER):
        if row.action == "schedule_proposed":
            latest = "needs_approval" if row.details.get("requires_approval") else "proposed"
        else:
            latest = STATUS_AFTER[row.action]
    return latest


# ------------------------------------------------------------------------------ propose
def load_plan_input(session: Session, plan_date: dt.date):
    """Everything MRP reads, from the store's current documents and the planning tables."""
    from collaboration.mrp import MrpInput, UnitConverter
    from mappings.sourcing import load_planning, load_sourcing, planning_with_defaults

    def current(doc_type: str) -> list:
        return list(documents.current(session, doc_type))

    loaded = {name: current(doc_type) for name, doc_type in (
        ("materials", "Material"), ("boms", "BillOfMaterials"), ("production_orders", "ProductionOrder"),
        ("stock", "StockLevel"), ("batches", "Batch"), ("purchase_orders", "PurchaseOrder"),
        ("receipts", "Receipt"), ("shipment_notices", "ShipmentNotice"))}
    planning = planning_with_defaults(load_planning(), load_sourcing())
    return MrpInput(plan_date=plan_date, planning=planning, units=UnitConverter.load(),
                    committed_schedules=committed_schedules(session), **loaded)


def committed_schedules(session: Session) -> list[DeliverySchedule]:
    """Per schedule, the latest version its supplier acknowledged, as it was sent: the supplier's
    commitment (its firm zone counts as supply when order coverage is judged)."""
    rows = session.scalars(select(AuditRow).where(
        AuditRow.subject_type == SUBJECT, AuditRow.action.in_(("schedule_sent", "schedule_acknowledged")))
        .order_by(AuditRow.id)).all()
    sent = {(r.subject_key, r.details["version"]): r.details["schedule"] for r in rows if r.action == "schedule_sent"}
    acknowledged: dict[str, int] = {}
    for r in rows:
        if r.action == "schedule_acknowledged":
            acknowledged[r.subject_key] = max(acknowledged.get(r.subject_key, 0), r.details["version"])
    return [DeliverySchedule.model_validate(sent[(key, version)]) for key, version in sorted(acknowledged.items())
            if (key, version) in sent]


def _grades(session: Session, plan_date: dt.date, warnings: list[str]) -> dict[str, str]:
    """Current supplier grades from the scorecard. A broken scorecard config must not stop the plan:
    allocation then goes by quota alone, and the run's warnings say why."""
    from collaboration.scorecard import current_grades

    try:
        return current_grades(session, today=plan_date)
    except HubError as exc:
        warnings.append(f"grades not used: {exc.as_line()}")
        return {}


def _profiles() -> dict[str, Any]:
    from hub.partners import load_partners

    return {p.supplier_id: p for p in load_partners().values()}


def propose(store: Store, *, plan_date: dt.date, now: dt.datetime) -> PlanProposal:
    """MRP -> allocation -> schedules; new versions stored and audited (see the module docstring)."""
    from collaboration.allocation import allocate
    from collaboration.mrp import run_mrp
    from collaboration.plan import build_schedules
    from mappings.sourcing import load_sourcing

    profiles = _profiles()
    firm_days = {sid: p.schedule.firm_days for sid, p in profiles.items()}
    firm_days["*"] = 14
    horizon = max((p.schedule.horizon_days for p in profiles.values()), default=90)
    result = PlanProposal(plan_date=plan_date)
    with store.session() as session:
        inp = load_plan_input(session, plan_date)
        mrp = run_mrp(inp)
        result.warnings = [w.as_line() for w in mrp.warnings]
        allocation = allocate(mrp.purchase_requirements(), load_sourcing(), plan_date=plan_date, units=inp.units,
                              grades=_grades(session, plan_date, result.warnings))
        result.requirements = len(mrp.purchase_requirements())
        result.purchase_tasks = len(allocation.tasks)
        result.unallocated = [f"{u.material_id} {u.need_date.isoformat()} {u.quantity}" for u in allocation.unallocated]
        previous = {s.supplier_id: s for s in documents.current(session, SUBJECT)}
        schedules = build_schedules(allocation.tasks, plan_date=plan_date, issued_at=now, firm_days=firm_days,
                                    horizon_days=horizon, previous=previous)
        for supplier_id, schedule in schedules.items():
            if schedule is previous.get(supplier_id):
                result.schedules[schedule.schedule_id] = (schedule.version, "unchanged")
                continue
            documents.upsert(session, schedule, actor=ACTOR)
            trail = _trail(session, schedule.schedule_id)
            sent = _last_sent_in(trail)
            last_firm = firm_until(plan_date, firm_days.get(supplier_id, firm_days["*"]))
            changes = diff_schedules(sent, schedule, last_firm)
            approval = sent is not None and needs_approval(changes)
            for older in range(1, schedule.version):
                if _status_in(trail, older) in ("proposed", "needs_approval", "approved"):
                    audit.record(session, actor=ACTOR, action="schedule_superseded", subject_type=SUBJECT,
                                 subject_key=schedule.schedule_id, details={"version": older, "by_version": schedule.version})
            audit.record(session, actor=ACTOR, action="schedule_proposed", subject_type=SUBJECT,
                         subject_key=schedule.schedule_id, details={
                             "version": schedule.version, "supplier_id": supplier_id, "plan_date": plan_date.isoformat(),
                             "firm_until": last_firm.isoformat(), "requires_approval": approval,
                             "against_version": sent.version if sent else None,
                             "changes": [c.as_dict() for c in changes], "purchase_tasks": [
                                 t.task_id for t in allocation.tasks if t.supplier_id == supplier_id]})
            result.schedules[schedule.schedule_id] = (schedule.version, "needs_approval" if approval else "proposed")
    return result


def pending_approvals(store: Store) -> list[PendingApproval]:
    """Current schedule versions waiting for a planner's decision."""
    pending = []
    with store.session() as session:
        for schedule in documents.current(session, SUBJECT):
            trail = _trail(session, schedule.schedule_id)
            if _status_in(trail, schedule.version) != "needs_approval":
                continue
            proposed = _for_version(trail, schedule.version, "schedule_proposed")[-1]
            pending.append(PendingApproval(schedule.schedule_id, schedule.supplier_id, schedule.version,
                                           proposed.details["changes"]))
    return sorted(pending, key=lambda p: p.schedule_id)


def approval_summary(pending: list[PendingApproval]) -> str:
    """Markdown for the approval form: each schedule's firm-zone changes."""
    lines = []
    for item in pending:
        lines.append(f"**{item.schedule_id}** v{item.version} ({item.supplier_id})\n")
        lines.append("| change | material | old date | new date | old qty | new qty | firm zone |")
        lines.append("|---|---|---|---|---|---|---|")
        for c in item.changes:
            lines.append(f"| {c['kind']} | {c['material_id']} | {c['old_date'] or ''} | {c['new_date'] or ''} | "
                         f"{c['old_quantity'] or ''} | {c['new_quantity'] or ''} | "
                         f"{'yes' if c['requires_approval'] else 'no'} |")
        lines.append("")
    return "\n".join(lines)


def decide(store: Store, schedule_id: str, version: int, *, approved: bool, by: str, at: dt.datetime,
           comment: Optional[str] = None) -> bool:
    """Record the planner's decision on a version waiting for approval; False when it is not waiting
    (already decided, superseded or never needed approval): nothing is recorded twice."""
    with store.session() as session:
        if version_status(session, schedule_id, version) != "needs_approval":
            return False
        audit.record(session, actor=by, action="schedule_approved" if approved else "schedule_rejected",
                     subject_type=SUBJECT, subject_key=schedule_id,
                     details={"version": version, "at": at.isoformat(), "comment": (comment or "").strip() or None})
    return True


# ------------------------------------------------------------------------------ release and send
def release(store: Store, *, now: dt.datetime, portal: Any = None) -> dict[str, int]:
    """Render each sendable current version for its partner's channel, once (idempotency key per
    version). ``portal``: a JiandaoyunForms for partners whose profile says ``format: portal``."""
    from adapters.edi.delivery_schedules import render_delivery_schedule

    profiles = _profiles()
    counts = {"released": 0, "waiting_approval": 0, "no_channel": 0, "quarantined": 0}
    with store.session() as session:
        for schedule in sorted(documents.current(session, SUBJECT), key=lambda s: s.schedule_id):
            trail = _trail(session, schedule.schedule_id)
            status = _status_in(trail, schedule.version)
            if status == "needs_approval":
                counts["waiting_approval"] += 1
                continue
            if status not in ("proposed", "approved"):
                continue
            profile = profiles.get(schedule.supplier_id)
            message = profile.messages.get("delivery_schedule") if profile else None
            if message is None:
                counts["no_channel"] += 1
                continue
            proposed = _for_version(trail, schedule.version, "schedule_proposed")
            changes = proposed[-1].details["changes"] if proposed else []
            key = f"schedule:{schedule.schedule_id}:v{schedule.version}"
            if session.scalars(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)).first():
                continue
            ids = {"partner": profile.partner_id, "supplier_id": schedule.supplier_id,
                   "schedule_id": schedule.schedule_id, "version": schedule.version}
            if message.format == "portal":
                outbox.enqueue(session, target="jiandaoyun", operation=PORTAL_OPERATION, idempotency_key=key,
                               payload={**ids, "changes": changes})
                counts["released"] += 1
                continue
            try:
                with session.begin_nested():  # a version that cannot be written takes no counter value
                    # the interchange counter of the message's own standard; a sheet has no interchange
                    control_ref = (str(state.next_counter(session, f"{message.format}:{profile.partner_id}:out"))
                                   if message.format in ("edifact", "x12") else "-")
                    rendered = render_delivery_schedule(schedule, profile, control_ref=control_ref, changes=changes,
                                                        now=now)
            except HubError as exc:
                # e.g. Chinese text under UNOC: the evidence is the schedule; fixed data makes a new version
                counts["quarantined"] += quarantine_error(
                    session, exc if exc.where else exc.located(key), partner=profile.partner_id, doc_type=SUBJECT,
                    business_key=schedule.business_key, evidence={"schedule": schedule.model_dump(mode="json")})
                continue
            operation = {"edifact": "DELFOR", "x12": "830"}.get(rendered.standard or "", "SCHEDULE_SHEET")
            outbox.enqueue(session, target=TARGET, operation=operation, idempotency_key=key, payload={
                **ids, "control_ref": rendered.control_ref, "filename": rendered.filename,
                "content_b64": base64.b64encode(rendered.content).decode("ascii")})
            counts["released"] += 1
    if portal is not None:
        counts.update(publish_portal(store, portal))
    return counts


def publish_portal(store: Store, portal: Any) -> dict[str, int]:
    """Deliver the portal rows: one form record per schedule version (found again, never doubled)."""
    from hub.outbox import dispatch

    def publish(row: OutboxRow) -> dict:
        session = Session.object_session(row)
        schedule = documents.get(session, SUBJECT, _business_key(row.payload))
        if schedule is None or schedule.version != row.payload["version"]:
            raise SkippableError("SCHEDULE_SUPERSEDED", f"{row.payload['schedule_id']} v{row.payload['version']} is "
                                                        "no longer the current version", row.idempotency_key)
        return {"data_id": portal.publish_delivery_schedule(schedule, row.payload["changes"])}

    report = dispatch(store, "jiandaoyun", publish,
                      only=lambda row: row.operation == PORTAL_OPERATION)
    return {"portal_published": report.sent, "portal_failed": report.failed}


def _business_key(payload: dict[str, Any]) -> str:
    probe = DeliverySchedule.model_construct(supplier_id=payload.get("supplier_id", payload["partner"]),
                                             schedule_id=payload["schedule_id"])
    return probe.business_key


def record_sent(store: Store) -> int:
    """Audit ``schedule_sent`` for every schedule row the outbox delivered (SFTP or portal), once,
    with the schedule as sent (the base the next version is diffed against)."""
    recorded = 0
    with store.session() as session:
        rows = session.scalars(select(OutboxRow).where(
            OutboxRow.operation.in_((*SCHEDULE_OPERATIONS, PORTAL_OPERATION)), OutboxRow.status == "sent")
            .order_by(OutboxRow.id)).all()
        for row in rows:
            schedule_id, version = row.payload["schedule_id"], row.payload["version"]
            trail = _trail(session, schedule_id)
            if _for_version(trail, version, "schedule_sent"):
                continue
            schedule = documents.get(session, SUBJECT, _business_key(row.payload))
            if schedule is None or schedule.version != version:
                continue  # a newer version was proposed meanwhile; its own row will be recorded
            audit.record(session, actor=ACTOR, action="schedule_sent", subject_type=SUBJECT, subject_key=schedule_id,
                         details={"version": version, "channel": row.operation, "partner": row.payload["partner"],
                                  "control_ref": row.payload.get("control_ref"),
                                  "filename": row.payload.get("filename"),
                                  "sent_at": (row.sent_at or row.created_at).isoformat(),
                                  "schedule": schedule.model_dump(mode="json")})
            recorded += 1
    return recorded


# ------------------------------------------------------------------------------ acknowledgements
def record_schedule_ack(session: Session, *, supplier_id: str, schedule_id: str, version: int,
                        status: Literal["acknowledged", "rejected"], by: str, at: dt.datetime,
                        comment: Optional[str], source: str) -> bool:
    """The supplier's answer to a sent version (portal webhook or EDI acknowledgement), once.

    False (and an audit entry saying why) when the version was not sent to this supplier or is
    already answered; the caller's session commits.
    """
    trail = _trail(session, schedule_id)
    current = _status_in(trail, version)
    sent = _for_version(trail, version, "schedule_sent")
    owner = sent[-1].details.get("schedule", {}).get("supplier_id") if sent else None
    if current != "sent" or owner != supplier_id:
        audit.record(session, actor=by, action="schedule_ack_ignored", subject_type=SUBJECT, subject_key=schedule_id,
                     details={"version": version, "supplier_id": supplier_id, "status": status, "source": source,
                              "reason": f"version is {current}" if owner == supplier_id or not sent
                              else f"sent to {owner}, not {supplier_id}"})
        return False
    audit.record(session, actor=by, action="schedule_acknowledged" if status == "acknowledged" else "schedule_ack_rejected",
                 subject_type=SUBJECT, subject_key=schedule_id,
                 details={"version": version, "supplier_id": supplier_id, "at": at.isoformat(), "source": source,
                          "comment": comment, "sent_at": sent[-1].details.get("sent_at")})
    if status == "rejected":
        raise_alert(session, Alert(alert_id=f"PLAN_CHANGE_REJECTED:{schedule_id}:v{version}", alert_type="PLAN_CHANGE_REJECTED",
                              severity="critical", responsible_party="buyer", subjects=[
                                  SubjectRef(type=SUBJECT, key=schedule_id), SubjectRef(type="Party", key=supplier_id)],
                              message=f"{supplier_id} rejected delivery schedule {schedule_id} v{version}"
                                      f"{': ' + comment if comment else ''}; agree the quantities with the supplier "
                                      "or re-plan"), now=at, actor="rules")
    return True


def collect_acks(store: Store, *, now: dt.datetime) -> dict[str, int]:
    """EDI acks of sent schedules -> audit; unanswered after the partner's deadline -> one Alert."""
    profiles = _profiles()
    counts = {"acknowledged": 0, "ack_rejected": 0, "unacknowledged_alerts": 0}
    with store.session() as session:
        for schedule in documents.current(session, SUBJECT):
            trail = _trail(session, schedule.schedule_id)
            if _status_in(trail, schedule.version) != "sent":
                continue
            sent = _for_version(trail, schedule.version, "schedule_sent")[-1].details
            row = None
            if sent.get("control_ref") and sent["channel"] in ("DELFOR", "830"):
                row = interchanges.get(session, sent["partner"], "out", sent["control_ref"])
            if row is not None and row.ack_status in ("accepted", "partially_accepted", "rejected"):
                status = "rejected" if row.ack_status == "rejected" else "acknowledged"
                record_schedule_ack(session, supplier_id=schedule.supplier_id, schedule_id=schedule.schedule_id,
                                    version=schedule.version, status=status, by=f"partner:{sent['partner']}",
                                    at=interchanges.aware(row.acked_at) or now, comment=None,
                                    source=f"{row.standard} ack of interchange {row.control_ref}")
                counts["acknowledged" if status == "acknowledged" else "ack_rejected"] += 1
                continue
            profile = profiles.get(schedule.supplier_id)
            alert = plan_change_unacknowledged(
                schedule.schedule_id, schedule.supplier_id, schedule.version,
                dt.datetime.fromisoformat(sent["sent_at"]), profile.acks.deadline_hours if profile else 24, now,
                acknowledged=False)
            if alert is not None:
                counts["unacknowledged_alerts"] += raise_alert(session, alert, now=now, actor="rules")[1]
    return counts


# ------------------------------------------------------------------------------ MES proposals
def propose_mes_changes(store: Store, mes: Any, *, plan_date: dt.date, now: dt.datetime) -> dict[str, int]:
    """Orders that firm supply does not cover at their planned start: a MATERIAL_SHORTAGE Alert per
    material (kept up to date, never doubled) and, when a later start is feasible, a schedule-change
    proposal in the MES, once per order and proposed start (audited ``schedule_change_proposed``).
    ``mes``: an object with ``propose_schedule_change(proposal_id, order_id, reason=, proposed_start=)``
    (OpcenterMes)."""
    from collaboration.alerts.rules import material_shortage
    from collaboration.coverage import order_coverage
    from collaboration.mrp import run_mrp

    counts = {"proposals": 0, "alerts": 0, "failed": 0}
    with store.session() as session:
        mrp = run_mrp(load_plan_input(session, plan_date))
        at_risk = sorted((c for c in order_coverage(mrp).values() if not c.covered), key=lambda c: c.order_id)
        for coverage in at_risk:
            for alert in material_shortage(coverage):
                counts["alerts"] += raise_alert(session, alert, now=now, actor="rules")[1]
    for coverage in at_risk:
        start = coverage.earliest_start
        if start is None:
            continue  # nothing feasible to propose: the shortage alert asks for supply
        proposal_id = f"SCP-{coverage.order_id}-{start.isoformat()}"
        with store.session() as session:
            if any(r.action == "schedule_change_proposed" and r.details.get("proposal_id") == proposal_id
                   for r in audit.history(session, "ProductionOrder", coverage.order_id)):
                continue
        reason = "material not covered by firm supply: " + ", ".join(
            f"{s.material_id} {s.quantity} needed {s.need_date.isoformat()} "
            f"(available {s.available_on.isoformat() if s.available_on else 'not in firm supply'})"
            for s in coverage.shortages)
        try:
            mes.propose_schedule_change(proposal_id, coverage.order_id, reason=reason[:500],
                                        proposed_start=dt.datetime.combine(start, dt.time(8), dt.timezone.utc))
        except HubError as exc:
            log.warning("schedule change proposal %s not sent: %s", proposal_id, exc.as_line())
            counts["failed"] += 1
            continue
        with store.session() as session:
            audit.record(session, actor=ACTOR, action="schedule_change_proposed", subject_type="ProductionOrder",
                         subject_key=coverage.order_id, details={
                             "proposal_id": proposal_id, "planned_start": coverage.planned_start.isoformat(),
                             "proposed_start": start.isoformat(), "reason": reason})
        counts["proposals"] += 1
    return counts
