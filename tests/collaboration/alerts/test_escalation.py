"""Escalation by a controllable clock: not acknowledged within the SLA -> next party, notified once per level."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from canonical_model.documents import Alert, SubjectRef
from canonical_model.store import documents
from collaboration.alerts.escalation import escalate_overdue, escalation_level, notify_pending
from collaboration.alerts.lifecycle import acknowledge, lifecycle_history, raise_alert, resolve

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)


@dataclass
class Result:
    ok: bool = True

    def as_dict(self):
        return {"ok": self.ok}


class Recorder:
    def __init__(self):
        self.sent: list[tuple[str, str, int]] = []

    def __call__(self, alert, level):
        self.sent.append((alert.alert_id, alert.responsible_party, level))
        return [Result()]


def short() -> Alert:
    return Alert(alert_id="SHORT_SHIPMENT:SUP-001:A-1:PO-1:2", alert_type="SHORT_SHIPMENT", responsible_party="SUP-001",
                 message="short", subjects=[SubjectRef(type="PurchaseOrder", key="PO-1")])


@pytest.fixture
def raised(sqlite_store, config):
    with sqlite_store.session() as session:
        alert, _ = raise_alert(session, short(), now=T0, config=config)   # due T0 + 4 h
    return alert


def sweep(store, config, now, recorder):
    with store.session() as session:
        return escalate_overdue(session, now=now, config=config, notifier=recorder)


def test_supplier_to_buyer_to_purchasing_manager_then_the_chain_ends(sqlite_store, config, raised):
    rec = Recorder()
    assert sweep(sqlite_store, config, T0 + 4 * H - dt.timedelta(seconds=1), rec) == []      # within the SLA
    (first,) = sweep(sqlite_store, config, T0 + 4 * H, rec)
    assert (first.responsible_party, first.due) == ("buyer", T0 + 8 * H)
    assert sweep(sqlite_store, config, T0 + 5 * H, rec) == []                                 # buyer's SLA runs
    (second,) = sweep(sqlite_store, config, T0 + 8 * H, rec)
    assert (second.responsible_party, second.due) == ("purchasing_manager", T0 + 12 * H)
    assert sweep(sqlite_store, config, T0 + 30 * H, rec) == []                                # end of the chain
    assert rec.sent == [(raised.alert_id, "buyer", 1), (raised.alert_id, "purchasing_manager", 2)]
    with sqlite_store.session() as session:
        stored = documents.get(session, "Alert", raised.alert_id)
        assert stored.responsible_party == "purchasing_manager" and stored.status == "open"
        assert escalation_level(session, raised.alert_id) == 2
        escalations = [h for h in lifecycle_history(session, raised.alert_id) if h["action"] == "alert_escalated"]
    assert [(h["from"], h["to"], h["level"], h["at"]) for h in escalations] == [
        ("SUP-001", "buyer", 1, (T0 + 4 * H).isoformat()),
        ("buyer", "purchasing_manager", 2, (T0 + 8 * H).isoformat())]


def test_an_acknowledged_or_resolved_alert_does_not_escalate(sqlite_store, config, raised):
    rec = Recorder()
    with sqlite_store.session() as session:
        acknowledge(session, raised.alert_id, by="li.wei", now=T0 + H)
    assert sweep(sqlite_store, config, T0 + 99 * H, rec) == [] and rec.sent == []
    with sqlite_store.session() as session:
        resolve(session, raised.alert_id, by="li.wei", root_cause="r", now=T0 + 2 * H)
    assert sweep(sqlite_store, config, T0 + 99 * H, rec) == []


def test_the_same_sweep_twice_escalates_and_notifies_once(sqlite_store, config, raised):
    rec = Recorder()
    assert len(sweep(sqlite_store, config, T0 + 5 * H, rec)) == 1
    assert sweep(sqlite_store, config, T0 + 5 * H, rec) == []
    assert len(rec.sent) == 1


def test_a_custom_chain_is_followed(sqlite_store, config):
    rec = Recorder()
    failing = Alert(alert_id="PUSH_FAILING:kingdee", alert_type="PUSH_FAILING", responsible_party="it_ops", message="m")
    with sqlite_store.session() as session:
        raise_alert(session, failing, now=T0, config=config)                                  # SLA 1 h
    (moved,) = sweep(sqlite_store, config, T0 + H, rec)
    assert moved.responsible_party == "it_manager"


def test_notify_pending_sends_each_new_alert_once_at_level_0_and_not_after_ack(sqlite_store, config, raised):
    rec = Recorder()
    other = Alert(alert_id="ORDER_REJECTED:SUP-001:PO-9", alert_type="ORDER_REJECTED", responsible_party="x",
                  message="m")
    with sqlite_store.session() as session:
        raise_alert(session, other, now=T0, config=config)
        acknowledge(session, other.alert_id, by="u", now=T0)
        assert [a.alert_id for a in notify_pending(session, now=T0, config=config, notifier=rec)] == [raised.alert_id]
        assert notify_pending(session, now=T0, config=config, notifier=rec) == []
    assert rec.sent == [(raised.alert_id, "SUP-001", 0)]
    # escalation notifies level 1 itself; the pending sweep then has nothing left to send
    sweep(sqlite_store, config, T0 + 4 * H, rec)
    with sqlite_store.session() as session:
        assert notify_pending(session, now=T0 + 4 * H, config=config, notifier=rec) == []
        notified = [h for h in lifecycle_history(session, raised.alert_id) if h["action"] == "alert_notified"]
    assert [(h["level"], h["party"], h["results"]) for h in notified] == [(0, "SUP-001", [{"ok": True}]),
                                                                         (1, "buyer", [{"ok": True}])]


def test_a_reopened_alert_starts_again_at_level_0(sqlite_store, config, raised):
    rec = Recorder()
    sweep(sqlite_store, config, T0 + 4 * H, rec)
    with sqlite_store.session() as session:
        resolve(session, raised.alert_id, by="u", root_cause="r", now=T0 + 5 * H)
        reopened, new = raise_alert(session, short(), now=T0 + 6 * H, config=config)
        assert new and reopened.responsible_party == "SUP-001" and escalation_level(session, raised.alert_id) == 0
        notify_pending(session, now=T0 + 6 * H, config=config, notifier=rec)
    (again,) = sweep(sqlite_store, config, T0 + 10 * H, rec)
    assert again.responsible_party == "buyer"
    assert rec.sent[-2:] == [(raised.alert_id, "SUP-001", 0), (raised.alert_id, "buyer", 1)]
