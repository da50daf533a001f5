"""Plan run on the store: MRP -> purchase tasks -> schedule versions -> approval -> sent -> acknowledged.

The demo's sourcing and planning tables are used as they are (mappings/sourcing/): bearing 6205
(1.02.0041) comes from SUP-001 only (MOQ 100, multiple 100, 7 days) with a safety stock of 100;
the motor 3.01.0007 is made in 2 days. The partner profiles are the demo's (firm zone 14 days,
acknowledgement deadline 24 h).
"""
from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal as D

import pytest

from canonical_model.documents import BillOfMaterials, Material, ProductionOrder
from canonical_model.store import audit, documents, interchanges, outbox
from hub.flows import schedules

PLAN = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.timezone.utc)


def motor_order(quantity: int, order_id: str = "MO-1", start_day: int = 4) -> ProductionOrder:
    start = dt.datetime(2026, 12, start_day, 8, tzinfo=dt.timezone.utc)
    return ProductionOrder(order_id=order_id, material_id="3.01.0007", quantity=quantity, uom="H87",
                           status="released", start=start, due=start + dt.timedelta(days=1))


@pytest.fixture
def plant(sqlite_store):
    """One motor order of 100 on 12-04; the motor is one bearing 6205 (SUP-001 only)."""
    with sqlite_store.session() as s:
        for material_id in ("3.01.0007", "1.02.0041"):
            documents.upsert(s, Material(material_id=material_id, name=material_id, uom="H87"))
        documents.upsert(s, BillOfMaterials(bom_id="3.01.0007_V1.0", material_id="3.01.0007", components=[
            {"line_no": 1, "material_id": "1.02.0041", "quantity_per": "1", "uom": "H87"}]))
        documents.upsert(s, motor_order(100))
    return sqlite_store


def replan(store, quantity: int) -> None:
    with store.session() as s:
        documents.upsert(s, motor_order(quantity))


def schedule_lines(store, schedule_id="DS-SUP-001"):
    with store.session() as s:
        doc = documents.get(s, "DeliverySchedule", f"SUP-001/{schedule_id}")
        return doc.version, [(l.material_id, l.date, l.quantity, l.commitment) for l in doc.lines]


def actions(store, schedule_id="DS-SUP-001"):
    with store.session() as s:
        return [(r.action, (r.details or {}).get("version"), r.actor) for r in audit.history(s, "DeliverySchedule", schedule_id)]


def mark_sent(store, version: int, control_ref: str = "41", sent_at: dt.datetime = NOW) -> None:
    """What the SFTP delivery does (its own tests cover the upload): the row is sent."""
    with store.session() as s:
        row, _ = outbox.enqueue(s, target="supplier_sftp", operation="DELFOR",
                             idempotency_key=f"schedule:DS-SUP-001:v{version}", payload={
                                 "partner": "SUP-001", "schedule_id": "DS-SUP-001", "version": version,
                                 "control_ref": control_ref, "filename": f"DELFOR_v{version}.edi",
                                 "content_b64": base64.b64encode(b"UNA:+.? '").decode()})
        s.flush()
        outbox.mark_sent(row, {"path": "in/x"})
        row.sent_at = sent_at


def test_first_plan_is_the_baseline_and_goes_without_approval(plant):
    result = schedules.propose(plant, plan_date=PLAN, now=NOW)
    # safety stock 100 is wanted now (12-01); the order needs 100 on its start, 12-04; lot-for-lot
    # and SUP-001's MOQ 100 / multiple 100 leave both at 100; the 14-day firm zone holds both
    assert schedule_lines(plant) == (1, [("1.02.0041", dt.date(2026, 12, 1), D(100), "firm"),
                                         ("1.02.0041", dt.date(2026, 12, 4), D(100), "firm")])
    assert result.schedules["DS-SUP-001"] == (1, "proposed") and result.purchase_tasks == 2
    assert schedules.pending_approvals(plant) == []
    assert actions(plant) == [("schedule_proposed", 1, "plan_run")]


def test_same_plan_again_proposes_nothing(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    again = schedules.propose(plant, plan_date=PLAN, now=NOW + dt.timedelta(hours=4))
    assert again.schedules["DS-SUP-001"] == (1, "unchanged")
    assert actions(plant) == [("schedule_proposed", 1, "plan_run")]


def test_a_firm_zone_change_to_a_sent_schedule_waits_for_approval(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    mark_sent(plant, 1)
    assert schedules.record_sent(plant) == 1 and schedules.record_sent(plant) == 0
    replan(plant, 150)
    result = schedules.propose(plant, plan_date=PLAN, now=NOW)
    # 150 on 12-04, rounded up to SUP-001's multiple of 100: 200
    assert schedule_lines(plant)[1][1] == ("1.02.0041", dt.date(2026, 12, 4), D(200), "firm")
    assert result.schedules["DS-SUP-001"] == (2, "needs_approval")
    (pending,) = schedules.pending_approvals(plant)
    assert (pending.schedule_id, pending.version) == ("DS-SUP-001", 2)
    assert pending.changes == [{"kind": "quantity_changed", "material_id": "1.02.0041", "uom": "H87",
                                "old_date": "2026-12-04", "new_date": "2026-12-04", "old_quantity": "100",
                                "new_quantity": "200", "requires_approval": True}]
    assert "| quantity_changed | 1.02.0041 | 2026-12-04 | 2026-12-04 | 100 | 200 | yes |" in \
        schedules.approval_summary([pending])
    # nothing of v2 may be released before the decision
    with plant.session() as s:
        assert schedules.version_status(s, "DS-SUP-001", 2) == "needs_approval"
    assert schedules.decide(plant, "DS-SUP-001", 2, approved=True, by="airflow:planner", at=NOW, comment=" ok ")
    assert not schedules.decide(plant, "DS-SUP-001", 2, approved=False, by="airflow:other", at=NOW)
    assert not schedules.decide(plant, "DS-SUP-001", 1, approved=True, by="airflow:planner", at=NOW)
    trail = actions(plant)
    assert trail[-1] == ("schedule_approved", 2, "airflow:planner")
    with plant.session() as s:
        (approved,) = [r for r in audit.history(s, "DeliverySchedule", "DS-SUP-001") if r.action == "schedule_approved"]
        assert approved.details["comment"] == "ok" and schedules.version_status(s, "DS-SUP-001", 2) == "approved"


def test_a_forecast_only_change_needs_no_approval(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    mark_sent(plant, 1)
    schedules.record_sent(plant)
    with plant.session() as s:  # a second order in 3 weeks: past SUP-001's 14-day firm zone
        documents.upsert(s, motor_order(100, "MO-2", start_day=22))
    result = schedules.propose(plant, plan_date=PLAN, now=NOW)
    assert result.schedules["DS-SUP-001"] == (2, "proposed")
    assert schedule_lines(plant)[1][-1] == ("1.02.0041", dt.date(2026, 12, 22), D(100), "forecast")


def test_a_newer_plan_supersedes_a_version_still_waiting(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    mark_sent(plant, 1)
    schedules.record_sent(plant)
    replan(plant, 150)
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    replan(plant, 250)
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    assert [(p.schedule_id, p.version) for p in schedules.pending_approvals(plant)] == [("DS-SUP-001", 3)]
    assert ("schedule_superseded", 2, "plan_run") in actions(plant)
    assert not schedules.decide(plant, "DS-SUP-001", 2, approved=True, by="airflow:planner", at=NOW)


def test_a_rejected_version_is_recorded_and_stays_unsent(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    mark_sent(plant, 1)
    schedules.record_sent(plant)
    replan(plant, 150)
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    assert schedules.decide(plant, "DS-SUP-001", 2, approved=False, by="airflow:planner", at=NOW, comment="no")
    with plant.session() as s:
        assert schedules.version_status(s, "DS-SUP-001", 2) == "rejected"
        assert schedules.last_sent(s, "DS-SUP-001").version == 1


def test_edi_acknowledgement_and_the_unacknowledged_alert(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    mark_sent(plant, 1, control_ref="41")
    schedules.record_sent(plant)
    with plant.session() as s:
        interchanges.register(s, partner="SUP-001", direction="out", standard="edifact", control_ref="41",
                              message_refs=["1"], message_types=["DELFOR"], ack_status="pending",
                              ack_due=NOW + dt.timedelta(hours=24))
    # within the 24 h deadline and no ack yet: nothing to do
    assert schedules.collect_acks(plant, now=NOW + dt.timedelta(hours=23)) == {
        "acknowledged": 0, "ack_rejected": 0, "unacknowledged_alerts": 0}
    late = NOW + dt.timedelta(hours=25)
    assert schedules.collect_acks(plant, now=late)["unacknowledged_alerts"] == 1
    assert schedules.collect_acks(plant, now=late)["unacknowledged_alerts"] == 0  # once
    with plant.session() as s:
        (alert,) = [a for a in documents.current(s, "Alert") if a.alert_type == "PLAN_CHANGE_UNACKNOWLEDGED"]
        assert alert.responsible_party == "SUP-001" and "version 1 of delivery schedule DS-SUP-001" in alert.message
        row = interchanges.get(s, "SUP-001", "out", "41")
        interchanges.record_ack(row, "accepted", {"kind": "CONTRL"}, late)
    assert schedules.collect_acks(plant, now=late)["acknowledged"] == 1
    assert actions(plant)[-1] == ("schedule_acknowledged", 1, "partner:SUP-001")
    assert schedules.collect_acks(plant, now=late)["acknowledged"] == 0


def test_portal_answers_only_count_for_the_supplier_and_version_sent(plant):
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    with plant.session() as s:  # not sent yet: an answer is ignored, with the reason audited
        assert not schedules.record_schedule_ack(s, supplier_id="SUP-001", schedule_id="DS-SUP-001", version=1,
                                                 status="acknowledged", by="portal:SUP-001", at=NOW, comment=None,
                                                 source="jiandaoyun")
    mark_sent(plant, 1)
    schedules.record_sent(plant)
    with plant.session() as s:
        assert not schedules.record_schedule_ack(s, supplier_id="SUP-002", schedule_id="DS-SUP-001", version=1,
                                                 status="acknowledged", by="portal:SUP-002", at=NOW, comment=None,
                                                 source="jiandaoyun")
        assert schedules.record_schedule_ack(s, supplier_id="SUP-001", schedule_id="DS-SUP-001", version=1,
                                             status="rejected", by="portal:SUP-001", at=NOW, comment="capacity",
                                             source="jiandaoyun")
    with plant.session() as s:
        assert not schedules.record_schedule_ack(s, supplier_id="SUP-001", schedule_id="DS-SUP-001", version=1,
                                                 status="acknowledged", by="portal:SUP-001", at=NOW, comment=None,
                                                 source="jiandaoyun")
        alert = documents.get(s, "Alert", "PLAN_CHANGE_REJECTED:DS-SUP-001:v1")
        assert alert.severity == "critical" and "capacity" in alert.message
        ignored = [r.details["reason"] for r in audit.history(s, "DeliverySchedule", "DS-SUP-001")
                   if r.action == "schedule_ack_ignored"]
    assert ignored == ["version is proposed", "sent to SUP-001, not SUP-002", "version is ack_rejected"]


class RecordingMes:
    """Stands in for the MES only where a test must see what would be proposed (see the Opcenter
    test below for the real simulator)."""

    def __init__(self):
        self.proposals = []

    def propose_schedule_change(self, proposal_id, order_id, *, reason, proposed_start=None):
        self.proposals.append((proposal_id, order_id, proposed_start, reason))
        return proposal_id


def test_an_order_without_any_firm_supply_gets_a_shortage_alert_and_no_proposal(plant):
    mes = RecordingMes()
    # no stock, no PO, no acknowledged schedule: no start date is feasible, so nothing to propose
    assert schedules.propose_mes_changes(plant, mes, plan_date=PLAN, now=NOW) == {"proposals": 0, "alerts": 1,
                                                                                  "failed": 0}
    assert schedules.propose_mes_changes(plant, mes, plan_date=PLAN, now=NOW)["alerts"] == 0  # once
    assert mes.proposals == []
    with plant.session() as s:
        (alert,) = [a for a in documents.current(s, "Alert") if a.alert_type == "MATERIAL_SHORTAGE"]
    assert alert.alert_id == "MATERIAL_SHORTAGE:MO-1:1.02.0041"
    assert (alert.responsible_party, alert.severity) == ("planner", "critical") and "never covers" in alert.message


def test_a_late_po_moves_the_proposed_start_in_the_real_opcenter_simulator(plant):
    from adapters.opcenter import OpcenterConfig, OpcenterHook
    from adapters.opcenter.mes import OpcenterMes
    from canonical_model.documents import PurchaseOrder
    from simulators.base import running
    from simulators.opcenter import OpcenterState, make_server, seed_demo

    with plant.session() as s:  # 200 bearings arrive on 12-09: five days after MO-1's start on 12-04
        documents.upsert(s, PurchaseOrder(po_number="PO-7", supplier_id="SUP-001", order_date=PLAN, lines=[
            {"line_no": 1, "material_id": "1.02.0041", "quantity": "200", "uom": "H87",
             "delivery_date": dt.date(2026, 12, 9)}]))
    state = OpcenterState(clients="hub-test:cs-test", users="PLANT01\\u:p")
    seed_demo(state, PLAN)
    with running(make_server(state=state)) as server:
        config = OpcenterConfig(base_url=server.base_url, client_id="hub-test", client_secret="cs-test", timeout=5,
                                backoff_seconds=0.01, max_retry_after=0.05, timezone="UTC")
        with OpcenterMes(hook=OpcenterHook(config, max_attempts=2)) as mes:
            state.add_order("MO-1", "3.01.0007", 100, "PCS", dt.datetime(2026, 12, 4, 8), dt.datetime(2026, 12, 5, 8))
            assert schedules.propose_mes_changes(plant, mes, plan_date=PLAN, now=NOW)["proposals"] == 1
            assert schedules.propose_mes_changes(plant, mes, plan_date=PLAN, now=NOW)["proposals"] == 0
        (proposal,) = state.rows("ScheduleChangeProposal")
    assert proposal["NId"] == "SCP-MO-1-2026-12-09" and proposal["OrderNId"] == "MO-1"
    assert proposal["ProposedStartTime"].startswith("2026-12-09T08:00")
    assert "1.02.0041" in proposal["Reason"]


def test_release_sends_a_delfor_over_sftp_and_the_suppliers_contrl_acknowledges_it(plant, sftp):
    """The whole loop on real SFTP: released once, uploaded, registered, acknowledged by the
    (simulated) supplier with a CONTRL, collected, and the trail says so."""
    import os

    from adapters.edi.edifact import parse_interchange
    from hub.flows.supplier_collect import collect_files
    from hub.flows.supplier_inbound import process_inbox
    from hub.flows.supplier_orders import deliver_outbox
    from hub.partners import get_partner
    from simulators.supplier import SupplierScenario, acknowledge_schedules

    schedules.propose(plant, plan_date=PLAN, now=NOW)
    assert schedules.release(plant, now=NOW) == {"released": 1, "waiting_approval": 0, "no_channel": 0, "quarantined": 0}
    assert schedules.release(plant, now=NOW)["released"] == 0  # once per version
    assert deliver_outbox(plant, "SUP-001").sent == 1
    assert schedules.record_sent(plant) == 1
    (name,) = os.listdir(sftp / "in")
    (message,) = parse_interchange((sftp / "in" / name).read_bytes(), name).messages()
    assert message.type == "DELFOR" and name.startswith("DELFOR_DS-SUP-001_v1_")
    quantities = [s.elements[0][1] for s in message.segments if s.tag == "QTY"]
    assert quantities == ["100", "100"]

    profile = get_partner("SUP-001")
    scenario = SupplierScenario(partner_id="SUP-001", our_id=profile.edi.their_id, hub_id=profile.edi.our_id)
    (ack,) = acknowledge_schedules(profile.sftp_config(), scenario)
    past = dt.datetime.now().timestamp() - 3600  # older than the partner's minimum file age (real clock)
    os.utime(sftp / ack, (past, past))
    collect_files(plant, "SUP-001")
    process_inbox(plant, "SUP-001")
    assert schedules.collect_acks(plant, now=NOW)["acknowledged"] == 1
    assert [a for a, _, _ in actions(plant)] == ["schedule_proposed", "schedule_sent", "schedule_acknowledged"]

    # a firm-zone change waits; approved, it goes out as v2 and is diffed against v1 as sent
    replan(plant, 150)
    schedules.propose(plant, plan_date=PLAN, now=NOW)
    assert schedules.release(plant, now=NOW) == {"released": 0, "waiting_approval": 1, "no_channel": 0, "quarantined": 0}
    schedules.decide(plant, "DS-SUP-001", 2, approved=True, by="airflow:planner", at=NOW)
    assert schedules.release(plant, now=NOW)["released"] == 1
    assert deliver_outbox(plant, "SUP-001").sent == 1 and schedules.record_sent(plant) == 1
    with plant.session() as s:
        assert schedules.last_sent(s, "DS-SUP-001").version == 2
        # v2 is sent, not answered: the supplier's commitment is still v1 as it was sent
        (committed,) = schedules.committed_schedules(s)
        assert (committed.version, [l.quantity for l in committed.lines]) == (1, [D(100), D(100)])


def test_a_version_that_cannot_be_written_is_quarantined_once_and_takes_no_control_number(sqlite_store):
    from canonical_model.documents import DeliverySchedule
    from canonical_model.store import quarantine, state
    from canonical_model.store.tables import OutboxRow
    from sqlalchemy import select

    schedule = DeliverySchedule(schedule_id="DS-SUP-001", supplier_id="SUP-001", version=1, horizon_start=PLAN,
                                horizon_end=dt.date(2026, 12, 31), lines=[
                                    {"material_id": "1.02.0041", "supplier_material_id": "轴承-6205", "date": PLAN,
                                     "quantity": "100", "uom": "H87", "commitment": "firm"}])
    with sqlite_store.session() as s:  # as propose() leaves it
        documents.upsert(s, schedule)
        audit.record(s, actor="plan_run", action="schedule_proposed", subject_type="DeliverySchedule",
                     subject_key="DS-SUP-001", details={"version": 1, "requires_approval": False, "changes": []})
    # SUP-001's DELFOR is UNOC (Latin-1 repertoire): a Chinese part number cannot be written
    assert schedules.release(sqlite_store, now=NOW)["quarantined"] == 1
    assert schedules.release(sqlite_store, now=NOW)["quarantined"] == 0  # the same failure, recorded once
    with sqlite_store.session() as s:
        (entry,) = quarantine.list_rows(s)
        assert entry.reason_code == "CHARSET_MISMATCH" and entry.business_key == "SUP-001/DS-SUP-001"
        assert entry.evidence["schedule"]["lines"][0]["supplier_material_id"] == "轴承-6205"
        assert s.scalars(select(OutboxRow)).all() == []
        assert state.next_counter(s, "edifact:SUP-001:out") == 1  # rolled back with the failed render
