"""Raising (deduplicated), acknowledging, resolving and closing alerts in the store, all audited."""
from __future__ import annotations

import datetime as dt

import pytest

from canonical_model.documents import Alert, SubjectRef
from canonical_model.store import documents
from collaboration.alerts.lifecycle import acknowledge, close, lifecycle_history, raise_alert, resolve
from hub.errors import SkippableError

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.timezone.utc)


def short(message="ASN A-1 ships 40 of 50. Next: supplier confirms the rest."):
    return Alert(alert_id="SHORT_SHIPMENT:SUP-001:A-1:PO-1:2", alert_type="SHORT_SHIPMENT",
                 responsible_party="SUP-001", message=message,
                 subjects=[SubjectRef(type="PurchaseOrder", key="PO-1"),
                           SubjectRef(type="ShipmentNotice", key="SUP-001/A-1")])


def stored(session, alert_id):
    return documents.get(session, "Alert", alert_id)


def test_a_new_alert_opens_with_its_party_and_the_sla_due_and_is_audited(store, config):
    with store.session() as session:
        alert, new = raise_alert(session, short(), now=T0, actor="rules", config=config)
        assert new and alert.status == "open" and alert.responsible_party == "SUP-001"
        assert alert.due == T0 + dt.timedelta(hours=4)                 # defaults.ack_sla_hours
        rejected, _ = raise_alert(session, Alert(alert_id="ORDER_REJECTED:SUP-001:PO-1", alert_type="ORDER_REJECTED",
                                                 responsible_party="someone", message="m"), now=T0, config=config)
        assert rejected.responsible_party == "buyer" and rejected.due == T0 + dt.timedelta(hours=2)
    with store.session() as session:
        assert stored(session, alert.alert_id) == alert
        (opened,) = [h for h in lifecycle_history(session, alert.alert_id) if h["action"] == "alert_opened"]
        assert (opened["actor"], opened["at"], opened["responsible_party"]) == ("rules", T0.isoformat(), "SUP-001")


def test_a_rule_given_due_is_kept(sqlite_store, config):
    mine = short().model_copy(update={"due": T0 + dt.timedelta(hours=24)})
    with sqlite_store.session() as session:
        alert, _ = raise_alert(session, mine, now=T0, config=config)
    assert alert.due == T0 + dt.timedelta(hours=24)


def test_the_same_condition_never_opens_a_second_alert_and_keeps_status_owner_and_due(sqlite_store, config):
    with sqlite_store.session() as session:
        first, new = raise_alert(session, short(), now=T0, config=config)
        acknowledge(session, first.alert_id, by="li.wei", now=T0 + dt.timedelta(minutes=5))
        again, new_again = raise_alert(session, short(), now=T0 + dt.timedelta(hours=9), config=config)
        assert (new, new_again) == (True, False)
        assert (again.status, again.responsible_party, again.due) == ("acknowledged", "SUP-001", first.due)
        # the rule now says more: the text is refreshed, nothing else
        worded, _ = raise_alert(session, short("ASN A-1 ships 35 of 50. Next: x."), now=T0, config=config)
        assert worded.status == "acknowledged" and "35 of 50" in worded.message
        assert documents.count_current(session, "Alert") == 1
        assert [h["action"] for h in lifecycle_history(session, first.alert_id)].count("alert_opened") == 1


def test_a_resolved_condition_seen_again_reopens_but_a_closed_one_stays_closed(sqlite_store, config):
    with sqlite_store.session() as session:
        alert, _ = raise_alert(session, short(), now=T0, config=config)
        resolve(session, alert.alert_id, by="li.wei", root_cause="supplier shipped the rest", now=T0)
        reopened, new = raise_alert(session, short(), now=T0 + dt.timedelta(days=1), config=config)
        assert new and reopened.status == "open" and reopened.due == T0 + dt.timedelta(days=1, hours=4)
        assert lifecycle_history(session, alert.alert_id)[-1]["action"] == "alert_reopened"
        close(session, alert.alert_id, by="li.wei", root_cause="accepted the short delivery", now=T0)
        kept, new = raise_alert(session, short(), now=T0 + dt.timedelta(days=2), config=config)
        assert not new and kept.status == "closed"


def test_only_open_alerts_can_be_raised(sqlite_store, config):
    with sqlite_store.session() as session, pytest.raises(SkippableError) as bad:
        raise_alert(session, short().model_copy(update={"status": "resolved"}), now=T0, config=config)
    assert bad.value.code == "ALERT_TRANSITION"


def test_transitions_are_audited_with_actor_time_and_root_cause(store, config):
    with store.session() as session:
        alert, _ = raise_alert(session, short(), now=T0, config=config)
        acked = acknowledge(session, alert.alert_id, by="li.wei", now=T0 + dt.timedelta(minutes=10))
        done = resolve(session, alert.alert_id, by="wang.fang", root_cause=" wrong pack size in the ASN ",
                       now=T0 + dt.timedelta(hours=1))
        final = close(session, alert.alert_id, by="wang.fang", root_cause="credit note received",
                      now=T0 + dt.timedelta(hours=2))
        assert (acked.status, done.status, final.status) == ("acknowledged", "resolved", "closed")
    with store.session() as session:
        assert stored(session, alert.alert_id).status == "closed"
        steps = [h for h in lifecycle_history(session, alert.alert_id) if h["action"].startswith("alert_")]
    assert [(h["action"], h["actor"], h.get("from"), h.get("to")) for h in steps] == [
        ("alert_opened", "hub", None, None),
        ("alert_acknowledged", "li.wei", "open", "acknowledged"),
        ("alert_resolved", "wang.fang", "acknowledged", "resolved"),
        ("alert_closed", "wang.fang", "resolved", "closed")]
    assert steps[1]["at"] == "2026-12-01T08:10:00+00:00"
    assert steps[2]["root_cause"] == "wrong pack size in the ASN"


@pytest.mark.parametrize("steps, failing, message", [
    ([], lambda s, i: resolve(s, i, by="u", root_cause="r", now=T0) and acknowledge(s, i, by="u", now=T0),
     "cannot go from resolved to acknowledged"),
    ([("ack",)], lambda s, i: acknowledge(s, i, by="u", now=T0), "cannot go from acknowledged to acknowledged"),
    ([("close",)], lambda s, i: resolve(s, i, by="u", root_cause="r", now=T0), "from closed only to nothing"),
])
def test_invalid_transitions_name_from_and_to(sqlite_store, config, steps, failing, message):
    with sqlite_store.session() as session:
        alert, _ = raise_alert(session, short(), now=T0, config=config)
        for (step,) in steps:
            if step == "ack":
                acknowledge(session, alert.alert_id, by="u", now=T0)
            else:
                close(session, alert.alert_id, by="u", root_cause="r", now=T0)
        with pytest.raises(SkippableError) as bad:
            failing(session, alert.alert_id)
    assert bad.value.code == "ALERT_TRANSITION" and message in bad.value.message
    assert bad.value.where == f"Alert {alert.alert_id}"


def test_missing_actor_root_cause_or_alert_are_refused(sqlite_store, config):
    with sqlite_store.session() as session:
        alert, _ = raise_alert(session, short(), now=T0, config=config)
        for call, code in [(lambda: acknowledge(session, alert.alert_id, by=" ", now=T0), "ALERT_ACTOR_MISSING"),
                           (lambda: resolve(session, alert.alert_id, by="u", root_cause="  ", now=T0),
                            "ROOT_CAUSE_MISSING"),
                           (lambda: close(session, alert.alert_id, by="u", root_cause="", now=T0),
                            "ROOT_CAUSE_MISSING"),
                           (lambda: acknowledge(session, "NOPE:1", by="u", now=T0), "ALERT_NOT_FOUND")]:
            with pytest.raises(SkippableError) as bad:
                call()
            assert bad.value.code == code
        assert stored(session, alert.alert_id).status == "open"  # nothing moved


def test_existing_callers_upserts_and_raise_alert_share_one_document(sqlite_store, config):
    """Flows still upsert rule alerts directly until the lead switches them: raise_alert must see those."""
    with sqlite_store.session() as session:
        documents.upsert(session, short(), actor="rules")
        alert, new = raise_alert(session, short(), now=T0, config=config)
    assert not new and alert.due is None
