"""The edges of each flow: build hooks from Connections, open the store, run, report counts.

DAG tasks call these and nothing else, so a DAG file stays a few lines of wiring and every
step can be run without Airflow (``hub`` CLI, tests). Return values are small count dicts:
XCom carries ids and counts, never payloads.
"""
from __future__ import annotations

from contextlib import closing, contextmanager
from dataclasses import asdict
from typing import Iterator

from canonical_model.store import Store, open_store
from hub.errors import HubError


@contextmanager
def _store() -> Iterator[Store]:
    store = open_store()
    try:
        yield store
    finally:
        store.dispose()


def _wms():
    from adapters.wms.hook import WmsHook

    return WmsHook.from_conn_id()


def _heard(store: Store, system: str, pull: str) -> None:
    """A pull from ``system`` ended without error: its feed is not quiet (collaboration/alerts/feeds.py)."""
    import datetime as dt

    from collaboration.alerts.feeds import record_heard

    with store.session() as session:
        record_heard(session, system, pull, dt.datetime.now(dt.timezone.utc))


def _report(report) -> dict:
    counts = asdict(report)
    errors = counts.pop("errors")
    if report.failed:
        raise HubOutboxFailed(errors)
    return counts


class HubOutboxFailed(HubError):
    kind = "fatal"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("OUTBOX_FAILED", f"{len(errors)} message(s) parked for a human: " + "; ".join(errors))


def partner_ids() -> list[str]:
    from hub.partners import load_partners

    return sorted(load_partners())


def send_orders(partner_id: str) -> dict:
    from hub.flows.supplier_orders import deliver_outbox, plan_orders

    with _store() as store:
        planned = plan_orders(store, partner_id)
        return {**planned, **_report(deliver_outbox(store, partner_id))}


def inbound_channels() -> list[dict]:
    """Per partner, what the inbox sensor needs: the SFTP Connection id and minimum file age."""
    from hub.partners import load_partners

    return [{"partner_id": p.partner_id, "sftp_conn_id": p.sftp_conn_id,
             "min_file_age_seconds": p.inbound.min_file_age_seconds}
            for p in sorted(load_partners().values(), key=lambda p: p.partner_id)]


def collect_supplier_files(partner_id: str) -> dict:
    """Collect one partner's ready files (one SSH session); counts and pending inbox ids."""
    from hub.flows.supplier_collect import collect

    with _store() as store:
        return collect(store, partner_id).as_dict()


def pending_supplier_files() -> list[dict]:
    """``{"partner_id", "inbox_id"}`` per inbox row still waiting, over every profiled partner.

    All waiting rows, not only this run's: files a failed run left behind are taken up again.
    """
    from hub.flows.supplier_inbound import pending_files

    with _store() as store:
        return pending_files(store, partner_ids())


def process_supplier_file(partner_id: str, inbox_id: int) -> dict:
    """One inbox row (ids in, counts out); a no-op if another run already processed it."""
    from hub.flows.supplier_inbound import process_file

    with _store() as store:
        return process_file(store, partner_id, inbox_id)


def push_expected_receipts() -> dict:
    from hub.flows.warehouse import deliver_expected_receipts, plan_expected_receipts

    wms = _wms()
    with _store() as store:
        planned = plan_expected_receipts(store, wms.dialect)
        return {**planned, **_report(deliver_expected_receipts(store, wms))}


def collect_receipts() -> dict:
    from hub.erp import configured_system
    from hub.flows.warehouse import collect_receipts as run

    with _store() as store:
        counts = run(store, _wms(), configured_system())
        _heard(store, "wms", "receipts")
        return counts


def erp_entities() -> list[str]:
    """The entities this plant pulls from its ERP: ``HUB_ERP_ENTITIES`` (comma list), default all."""
    import os

    from hub.erp import ENTITIES
    from hub.errors import FatalError

    raw = os.environ.get("HUB_ERP_ENTITIES", "")
    chosen = [e.strip() for e in raw.split(",") if e.strip()] or list(ENTITIES)
    unknown = [e for e in chosen if e not in ENTITIES]
    if unknown:
        raise FatalError("ERP_UNKNOWN_ENTITY", f"HUB_ERP_ENTITIES names {', '.join(unknown)}; "
                                               f"known: {', '.join(ENTITIES)}", "HUB_ERP_ENTITIES")
    return chosen


def sync_erp_entity(entity: str) -> dict:
    """Pull one entity from the configured ERP (``HUB_ERP``) into the store."""
    from hub.erp import open_erp
    from hub.flows.erp_sync import sync_entity

    with _store() as store, closing(open_erp()) as client:
        counts = asdict(sync_entity(store, client, entity))
        _heard(store, "erp", entity)
        return counts


def push_to_erp() -> dict:
    """Drain the configured ERP's outbox; parked rows fail the task so someone looks at them."""
    from hub.erp import open_erp
    from hub.flows.erp_push import drain

    with _store() as store, closing(open_erp()) as client:
        counts = drain(store, client)
    if counts.failed:
        raise HubOutboxFailed(counts.errors)
    return {"sent": counts.sent, "failed": counts.failed, "pending": counts.pending}


def sync_mes(kind: str) -> dict:
    """Pull production orders or consumption from the MES (Opcenter, Connection ``opcenter_default``)."""
    from adapters.opcenter.mes import OpcenterMes
    from hub.flows.mes_sync import sync_mes as run

    with _store() as store, OpcenterMes() as mes:
        counts = asdict(run(store, mes, kind))
        _heard(store, "mes", kind)
        return counts


def sync_wms_stock() -> dict:
    from hub.flows.warehouse import sync_stock

    with _store() as store:
        counts = sync_stock(store, _wms())
        _heard(store, "wms", "stock")
        return counts


def push_batches_to_mes() -> dict:
    from adapters.opcenter.mes import OpcenterMes
    from hub.flows.mes_sync import push_incoming_batches

    with _store() as store, OpcenterMes() as mes:
        return push_incoming_batches(store, mes)


#: purchase orders the supplier portal shows (hub/flows/portal.py publishes the same ones)
PORTAL_PO_STATUSES = ("open", "changed")


def _portal_orders(store: Store, supplier_id: str | None = None) -> list:
    from canonical_model.store import documents

    with store.session() as session:
        return [po for po in documents.current(session, "PurchaseOrder") if po.status in PORTAL_PO_STATUSES
                and (supplier_id is None or po.supplier_id == supplier_id)]


def portal_suppliers() -> list[str]:
    """Suppliers with purchase orders for the portal: one mapped publishing task each."""
    with _store() as store:
        return sorted({po.supplier_id for po in _portal_orders(store)})


def publish_purchase_tasks(supplier_id: str) -> dict:
    """One supplier's open purchase orders as purchase tasks in the portal (found again, never doubled)."""
    from adapters.jiandaoyun.forms import JiandaoyunForms

    with _store() as store:
        orders = _portal_orders(store, supplier_id)
    with JiandaoyunForms() as forms:
        for po in orders:
            forms.publish_purchase_task(po)
    return {"purchase_tasks": len(orders)}


def deliver_supplier_outbox(partner_id: str) -> dict:
    """The partner's pending supplier_sftp rows: acknowledgements, ORDERS left over."""
    from hub.flows.supplier_orders import deliver_outbox

    with _store() as store:
        return _report(deliver_outbox(store, partner_id))


def check_overdue_acks() -> dict:
    from hub.flows.acks import check_overdue_acks as run

    with _store() as store:
        return run(store)


# ------------------------------------------------------------------------------ plan run
def _plan_now():
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    return now.date(), now


def plan_propose() -> dict:
    """MRP -> allocation -> a schedule version per supplier; what waits for the planner."""
    from hub.flows.schedules import approval_summary, collect_acks, pending_approvals, propose

    plan_date, now = _plan_now()
    with _store() as store:
        acks = collect_acks(store, now=now)  # answers to earlier versions first: they are the diff's base
        proposal = propose(store, plan_date=plan_date, now=now)
        pending = pending_approvals(store)
    return {**proposal.as_dict(), "acks": acks, "pending": [p.as_dict() for p in pending],
            "approval_body": approval_summary(pending)}


def collect_schedule_acks() -> dict:
    from hub.flows.schedules import collect_acks

    _, now = _plan_now()
    with _store() as store:
        return collect_acks(store, now=now)


def plan_decide(pending: list[dict], response: dict) -> dict:
    """Apply the human-in-the-loop answer (Approve / Reject + comment) to every version it covered."""
    import datetime as dt

    from hub.flows.schedules import decide

    chosen = response.get("chosen_options") or []
    user = response.get("responded_by_user") or {}
    by = f"airflow:{user.get('name') or user.get('id') or 'unknown'}"
    comment = (response.get("params_input") or {}).get("comment")
    at = response.get("responded_at")
    at = dt.datetime.fromisoformat(at) if isinstance(at, str) else (at or dt.datetime.now(dt.timezone.utc))
    approved = chosen == ["Approve"]
    with _store() as store:
        decided = sum(decide(store, p["schedule_id"], p["version"], approved=approved, by=by, at=at, comment=comment)
                      for p in pending)
    return {"decision": "approved" if approved else "rejected", "by": by, "versions": decided}


def plan_send() -> dict:
    """Release what may go, deliver it to each partner's channel, audit what was sent."""
    from hub.flows.schedules import record_sent, release
    from hub.flows.supplier_orders import deliver_outbox
    from hub.partners import load_partners

    _, now = _plan_now()
    partners = load_partners()
    portal = None
    if any(getattr(p.messages.get("delivery_schedule"), "format", None) == "portal" for p in partners.values()):
        from adapters.jiandaoyun.forms import JiandaoyunForms

        portal = JiandaoyunForms()
    with _store() as store:
        counts = release(store, now=now, portal=portal)
        delivered = {pid: _report(deliver_outbox(store, pid))["sent"] for pid in sorted(partners)}
        return {**counts, "delivered": delivered, "recorded_sent": record_sent(store)}


def plan_mes_proposals() -> dict:
    from adapters.opcenter.mes import OpcenterMes
    from hub.flows.schedules import propose_mes_changes

    plan_date, now = _plan_now()
    with _store() as store, OpcenterMes() as mes:
        return propose_mes_changes(store, mes, plan_date=plan_date, now=now)


# ------------------------------------------------------------------------------ alerts
def alert_sweep() -> dict:
    """The rules that need a clock: ASNs missing or late against the promised dates, pushes failing
    past their SLA, feeds gone quiet (raised, and resolved once they speak again); then escalation of
    alerts nobody acknowledged in time and a notification for every open alert not yet told at its
    level (collaboration/alerts)."""
    import datetime as dt

    from sqlalchemy import select

    from canonical_model.store import documents
    from canonical_model.store.tables import OutboxRow
    from collaboration.alerts import escalate_overdue, load_config, notify_pending, raise_alert
    from collaboration.alerts.feeds import feeds_for, sweep_feeds
    from collaboration.alerts.rules import asn_late, asn_missing, push_failing
    from hub.erp import configured_system
    from hub.partners import load_partners

    now = dt.datetime.now(dt.timezone.utc)
    config = load_config()
    with _store() as store, store.session() as session:
        asns = list(documents.current(session, "ShipmentNotice"))
        responses = {(r.supplier_id, r.po_number): r for r in documents.current(session, "OrderResponse")}
        found = []
        for po in documents.current(session, "PurchaseOrder"):
            mine = [a for a in asns if any(line.po_number == po.po_number for line in a.lines)]
            response = responses.get((po.supplier_id, po.po_number))
            found += asn_missing(po, mine, now=now, response=response) + asn_late(po, mine, response=response)
        rows = session.scalars(select(OutboxRow).where(OutboxRow.status != "sent")).all()
        found += push_failing(rows, now=now, sla=config.push_sla)
        opened = sum(raise_alert(session, alert, now=now, actor="rules", config=config)[1] for alert in found)
        feeds = feeds_for(load_partners(), config, configured_system())
        opened += sweep_feeds(session, feeds, now=now, config=config)["opened"]
        escalated = escalate_overdue(session, now=now, config=config)
        notified = notify_pending(session, now=now, config=config)
    return {"opened": opened, "escalated": len(escalated), "notified": len(notified)}
