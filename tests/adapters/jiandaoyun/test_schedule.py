"""Delivery schedules in the supplier portal: published once per version into the real simulator,
answered by the supplier in the (simulated) browser, brought back by the signed data push and
read as a ScheduleAckEvent; hostile answers are refused with their reason code.

``hub.flows.schedules.record_schedule_ack`` (the plan-sync flow, another engineer's and still
changing) is outside this adapter: most tests hand ``handle_schedule_ack`` a recorder or put a
stand-in module in its place; the last test runs the flow's real release and recorder."""
from __future__ import annotations

import datetime as dt
import sys
import time
import types
import zoneinfo
from decimal import Decimal

import pytest
import requests

from adapters.jiandaoyun import JiandaoyunForms, JiandaoyunHook, MemoryNonceGuard, handle_event, verify_delivery
from adapters.jiandaoyun.schedule import (ScheduleAckEvent, _portal_users, ack_from_record, delivery_schedule_values,
                                          parse_schedule_ack, schedule_hub_key)
from adapters.jiandaoyun.webhook import parse_event
from canonical_model.documents import DeliverySchedule, DeliveryScheduleLine
from canonical_model.store import audit, documents, quarantine
from collaboration.plan import ScheduleChange
from hub.api import create_app
from hub.errors import SkippableError
from hub.flows import events as event_flow
from hub.flows.events import handle_schedule_ack, process_pending
from simulators.jiandaoyun import DEMO_FORMS, Fault
from simulators.jiandaoyun.push import event_body
from tests.adapters.jiandaoyun.conftest import PUSH_SECRET, SleepRecorder, config_for, only, received, receiver_url
from tests.hub.api.support import event_rows, jiandaoyun_connection, serving, set_connections

FORM = DEMO_FORMS["delivery_schedule"]
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
USERS = {"sup001": frozenset({"SUP-001"}), "sup002": frozenset({"SUP-002"})}
SCHEDULE = DeliverySchedule(
    schedule_id="DS-SUP-001", supplier_id="SUP-001", version=2, issued_at=dt.datetime(2026, 11, 25, 9, 0),
    horizon_start=dt.date(2026, 11, 25), horizon_end=dt.date(2027, 2, 22), lines=[
        DeliveryScheduleLine(material_id="1.02.0033", supplier_material_id="HB-6205", date=dt.date(2026, 12, 1),
                             quantity=Decimal("500"), uom="H87", commitment="firm"),
        DeliveryScheduleLine(material_id="1.02.0033", date=dt.date(2026, 12, 15), quantity=Decimal("300.5"),
                             uom="H87", commitment="forecast")])
CHANGES = [
    ScheduleChange("quantity_changed", "1.02.0033", "H87", dt.date(2026, 12, 1), dt.date(2026, 12, 1),
                   Decimal("400"), Decimal("500"), True).as_dict(),
    ScheduleChange("added", "1.02.0033", "H87", None, dt.date(2026, 12, 15), None, Decimal("300.5"),
                   False).as_dict()]
KEY = "SUP-001/DS-SUP-001/v2"


@pytest.fixture()
def forms(sim):
    hook = JiandaoyunHook(config_for(sim))
    hook.sleep = SleepRecorder()
    with JiandaoyunForms(hook=hook) as client:
        yield client


def records(sim):
    return sim.state.all_records(FORM)


def answer(sim, data_id, data, user="sup001"):
    """The supplier saves the record in the browser: the simulator fires the form's signed push."""
    r = requests.post(f"{sim.base_url}/__sim/ui/update", timeout=10,
                      json={"entry_id": FORM, "data_id": data_id, "user": user, "data": data})
    assert r.status_code == 200, r.text
    return r.json()


def push_to(sim, url):
    r = requests.post(f"{sim.base_url}/__sim/webhooks", json={"entry_id": FORM, "url": url}, timeout=10)
    assert r.status_code == 200, r.text


# ----------------------------------------------------------------------------- publishing


def test_the_hub_key_names_supplier_schedule_and_version():
    assert schedule_hub_key("SUP-001", "DS-SUP-001", 2) == KEY


def test_values_of_a_version_worked_by_hand(sim):
    values = delivery_schedule_values(SCHEDULE, CHANGES, config_for(sim))
    assert {k: values[k] for k in ("hub_key", "schedule_id", "supplier_id", "version", "task_status", "response")} \
        == {"hub_key": KEY, "schedule_id": "DS-SUP-001", "supplier_id": "SUP-001", "version": 2,
            "task_status": "待确认", "response": ""}
    assert values["issued_at"] == "2026-11-25T09:00:00+08:00" and values["horizon_end"] == "2027-02-22T00:00:00+08:00"
    assert values["lines"] == [
        {"material_id": "1.02.0033", "supplier_material_id": "HB-6205", "date": "2026-12-01T00:00:00+08:00",
         "quantity": 500, "uom": "H87", "commitment": "确定"},
        {"material_id": "1.02.0033", "supplier_material_id": "", "date": "2026-12-15T00:00:00+08:00",
         "quantity": 300.5, "uom": "H87", "commitment": "预测"}]
    assert values["changes"] == [
        {"kind": "数量变更", "material_id": "1.02.0033", "uom": "H87", "old_date": "2026-12-01T00:00:00+08:00",
         "new_date": "2026-12-01T00:00:00+08:00", "old_quantity": 400, "new_quantity": 500,
         "requires_approval": "是"},
        {"kind": "新增", "material_id": "1.02.0033", "uom": "H87", "new_date": "2026-12-15T00:00:00+08:00",
         "new_quantity": 300.5, "requires_approval": "否"}]


def test_values_use_the_widget_names_of_a_form_without_aliases(sim):
    config = config_for(sim, field_aliases={"delivery_schedule": {"_widget_9001": "hub_key", "_widget_9002": "lines",
                                                                  "_widget_9003": "quantity"}})
    values = delivery_schedule_values(SCHEDULE, [], config)
    assert values["_widget_9001"] == KEY and "hub_key" not in values
    assert [row["_widget_9003"] for row in values["_widget_9002"]] == [500, 300.5]
    assert values["changes"] == []


@pytest.mark.parametrize("bad", [
    {"kind": "moved", "material_id": "m", "uom": "H87"}, {"kind": "added", "uom": "H87"}, "added",
    {**CHANGES[1], "new_quantity": "lots"}, {**CHANGES[1], "new_date": "15.12.2026"}])
def test_a_change_row_that_is_no_schedule_change_is_our_bug(sim, bad):
    with pytest.raises(ValueError, match=r"changes\[1\]"):
        delivery_schedule_values(SCHEDULE, [CHANGES[0], bad], config_for(sim))


def test_publishing_twice_makes_one_record_and_a_new_version_another(sim, forms):
    first = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    assert forms.publish_delivery_schedule(SCHEDULE, CHANGES) == first
    (record,) = records(sim)
    assert (record["hub_key"], record["version"], record["response"], record["task_status"]) == (KEY, 2, "", "待确认")
    assert [(r["date"], r["quantity"], r["commitment"]) for r in record["lines"]] == [
        ("2026-11-30T16:00:00.000Z", 500, "确定"), ("2026-12-14T16:00:00.000Z", 300.5, "预测")]  # local midnight
    assert [(c["kind"], c["old_quantity"], c["new_quantity"], c["requires_approval"]) for c in record["changes"]] == [
        ("数量变更", 400, 500, "是"), ("新增", None, 300.5, "否")]
    v3 = SCHEDULE.model_copy(update={"version": 3, "lines": SCHEDULE.lines[:1]})
    second = forms.publish_delivery_schedule(v3, [])
    assert second != first
    assert [(r["hub_key"], len(r["lines"])) for r in records(sim)] == [(KEY, 2), ("SUP-001/DS-SUP-001/v3", 1)]
    forms.update_task_status("delivery_schedule", KEY, "closed")
    assert [r["task_status"] for r in records(sim)] == ["已关闭", "待确认"]


@pytest.mark.parametrize("fault", [Fault("http5xx", after=True, route="data/create"),
                                   Fault("reset", route="data/create"), Fault("rate_limit", route="data/create")])
def test_publishing_under_a_fault_makes_exactly_one_record(sim, forms, fault):
    sim.state.arm_fault(fault)
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    assert [r["_id"] for r in records(sim)] == [data_id]


def test_the_form_id_is_the_connection_extra_delivery_schedule_form(sim, monkeypatch):
    cfg = config_for(sim)
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", (
        '{"conn_type": "http", "host": "127.0.0.1", "port": %d, "schema": "http", "password": "%s", "extra": '
        '{"app_id": "%s", "delivery_schedule_form": "%s", "max_calls_per_second": 0}}'
        % (sim.server_address[1], cfg.api_key.get_secret_value(), cfg.app_id, FORM)))
    with JiandaoyunForms() as client:
        assert client.config.form_id("delivery_schedule") == FORM
        client.publish_delivery_schedule(SCHEDULE, [])
    assert [r["hub_key"] for r in records(sim)] == [KEY]


# ----------------------------------------------------------------------------- the answer over HTTP


def test_supplier_acknowledges_in_the_portal_and_the_signed_push_parses_to_the_ack(sim, forms, receiver):
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    push_to(sim, receiver_url(receiver))
    sim.state.set_now("2026-11-26T02:30:00+00:00")
    pushed = answer(sim, data_id, {"response": "确认", "response_note": " 12-15 的量只能到 280 "})
    assert pushed["push"]["ok"]
    got = only(received(receiver), "push")
    event = verify_delivery(got.body, got.params, got.headers, config=config_for(sim), nonce_guard=MemoryNonceGuard(),
                            now=time.time())
    assert (event.op, event.entry_id, event.form_name) == ("data_update", FORM, "交货计划确认")
    ack = parse_schedule_ack(event, config_for(sim))
    assert ack == ScheduleAckEvent(
        supplier_id="SUP-001", schedule_id="DS-SUP-001", version=2, status="acknowledged", by="sup001",
        at=dt.datetime(2026, 11, 26, 10, 30, tzinfo=SHANGHAI),  # updateTime 02:30Z in Shanghai
        comment="12-15 的量只能到 280", source=f"jiandaoyun:{event.delivery_id}", data_id=data_id)
    assert ack.recorder_arguments() == {
        "supplier_id": "SUP-001", "schedule_id": "DS-SUP-001", "version": 2, "status": "acknowledged",
        "by": "sup001", "at": ack.at, "comment": "12-15 的量只能到 280", "source": ack.source}
    assert handle_event(event, config_for(sim)) == []  # an acknowledgement is no canonical document


def test_a_rejection_with_the_suppliers_own_answer_time(sim, forms, receiver):
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    push_to(sim, receiver_url(receiver))
    answer(sim, data_id, {"response": "拒绝", "responded_at": "2026-11-27 08:15:00"})
    event = parse_event(only(received(receiver)).body)
    ack = parse_schedule_ack(event, config_for(sim))
    assert (ack.status, ack.at, ack.comment) == ("rejected", dt.datetime(2026, 11, 27, 8, 15, tzinfo=SHANGHAI), None)


# ----------------------------------------------------------------------------- hostile answers


def published(**changes):
    """A record as the simulator pushes it after the supplier's save (read format, UTC)."""
    record = {"_id": "6740a1f4c3b2a1908f7e6d5c", "appId": "64b7c1e2a1b2c3d4e5f60718", "entryId": FORM,
              "formName": "交货计划确认", "hub_key": KEY, "schedule_id": "DS-SUP-001", "supplier_id": "SUP-001",
              "version": 2, "response": "确认", "response_note": "", "responded_at": None,
              "updateTime": "2026-11-26T02:30:00.000Z", "lines": [], "changes": [],
              "updater": {"name": "sup001", "username": "sup001", "status": 1, "type": 0, "departments": [2]}}
    record.update(changes)
    return record


def ack_of(record, config=None):
    return ack_from_record(record, config or config_for_offline(), source="jiandaoyun:test", users=USERS)


def config_for_offline():
    from tests.adapters.jiandaoyun.test_translate import CONFIG
    return CONFIG


def refused(record) -> SkippableError:
    with pytest.raises(SkippableError) as info:
        ack_of(record)
    assert "jiandaoyun:delivery_schedule:" in info.value.where
    return info.value


@pytest.mark.parametrize("response", [None, "", "   "])
def test_a_save_without_an_answer_is_no_ack(response):
    assert ack_of(published(response=response)) is None


def test_english_option_codes_are_answers_too():
    assert ack_of(published(response="rejected")).status == "rejected"


@pytest.mark.parametrize("response", ["也许", "接受", "accepted", ["确认"], 1])
def test_an_answer_outside_the_option_list_is_refused(response):
    error = refused(published(response=response))
    assert error.code == "JDY_UNKNOWN_OPTION"


@pytest.mark.parametrize("changes, missing", [
    ({"hub_key": ""}, "hub_key"), ({"schedule_id": None}, "schedule_id"), ({"version": "2"}, "version"),
    ({"version": 0}, "version"), ({"version": True}, "version"), ({"updateTime": "2026/11/26"}, "updateTime"),
])
def test_a_record_the_hub_did_not_write_is_refused(changes, missing):
    error = refused(published(**changes))
    assert error.code == "JDY_ACK_INCOMPLETE" and missing in error.message


@pytest.mark.parametrize("changes", [{"supplier_id": "SUP-002"}, {"version": 3}, {"schedule_id": "DS-SUP-002"},
                                     {"hub_key": "SUP-002/DS-SUP-002/v2"}])
def test_edited_hub_fields_are_refused(changes):
    assert refused(published(**changes)).code == "JDY_ACK_KEY_MISMATCH"


def test_a_float_version_from_a_number_widget_is_fine():
    assert ack_of(published(version=2.0)).version == 2


def test_another_suppliers_account_cannot_answer():
    error = refused(published(updater={"username": "sup002", "name": "苏州精密五金"}))
    assert error.code == "JDY_SUPPLIER_MISMATCH"
    assert "sup002 (SUP-002)" in error.message and "DS-SUP-001" in error.message


@pytest.mark.parametrize("updater", [None, "sup001", {"username": ""}, {"username": "buyer_li"}])
def test_an_answer_from_no_known_portal_account_is_refused(updater):
    assert refused(published(updater=updater)).code == "JDY_PORTAL_USER_UNKNOWN"


def test_widget_names_are_read_through_field_aliases():
    aliases = {"_widget_1": "hub_key", "_widget_2": "response", "_widget_3": "supplier_id"}
    config = config_for_offline().model_copy(update={"field_aliases": {"delivery_schedule": aliases}})
    record = published()
    for widget, alias in aliases.items():
        record[widget] = record.pop(alias)
    assert ack_of(record, config).status == "acknowledged"


def test_events_of_other_forms_or_without_a_record_are_not_acks():
    config = config_for_offline()
    removed = parse_event(event_body("data_remove", {"_id": "6740a1f4c3b2a1908f7e6d5c", "entryId": FORM}))
    assert parse_schedule_ack(removed, config, users=USERS) is None
    other = parse_event(event_body("data_update", published(entryId=DEMO_FORMS["plan_change"])))
    with pytest.raises(ValueError, match="not the delivery_schedule form"):
        parse_schedule_ack(other, config, users=USERS)


def test_the_portal_accounts_file(tmp_path):
    good = tmp_path / "users.csv"
    good.write_text("username,supplier_id\n# comment\nsup001,SUP-001\nagent,SUP-001\nagent,SUP-002\n\n",
                    encoding="utf-8")
    assert _portal_users(str(good), 1) == {"sup001": frozenset({"SUP-001"}), "agent": frozenset({"SUP-001",
                                                                                                 "SUP-002"})}
    for name, text, where in (("header.csv", "user,supplier\n", ":1:"), ("row.csv", "username,supplier_id\nsup001\n",
                                                                          ":2:")):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=where):
            _portal_users(str(path), 1)
    from adapters.jiandaoyun.schedule import portal_users
    assert portal_users()["sup001"] == frozenset({"SUP-001"})  # the shipped demo accounts


# ----------------------------------------------------------------------------- through the ingress and the events flow


class Recorder:
    """Stands in for hub.flows.schedules.record_schedule_ack (not written yet): records the call and
    writes one audit row, as the real one will."""

    def __init__(self, known: bool = True) -> None:
        self.calls: list[dict] = []
        self.known = known

    def __call__(self, session, **ack) -> bool:
        self.calls.append(ack)
        audit.record(session, actor=ack["by"], action=f"schedule_{ack['status']}", subject_type="DeliverySchedule",
                     subject_key=f"{ack['supplier_id']}/{ack['schedule_id']}", details={"version": ack["version"]})
        return self.known


def _stand_in(recorder: Recorder) -> types.ModuleType:
    module = types.ModuleType("hub.flows.schedules")
    module.record_schedule_ack = recorder  # type: ignore[attr-defined]
    return module


@pytest.fixture()
def ingress(sim, sqlite_store, monkeypatch):
    """The ingress API on a real server, the simulator's delivery-schedule form pushing to it."""
    set_connections(monkeypatch)
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", jiandaoyun_connection(secret=PUSH_SECRET))
    with serving(create_app(sqlite_store, trigger=None, connection_ttl_seconds=0)) as base_url:
        push_to(sim, f"{base_url}/webhooks/jiandaoyun")
        yield sqlite_store


@pytest.fixture()
def hub(ingress, monkeypatch):
    """The ingress with the plan-sync recorder stood in."""
    recorder = Recorder()
    monkeypatch.setitem(sys.modules, "hub.flows.schedules", _stand_in(recorder))
    yield ingress, recorder


def audit_rows(store):
    with store.session() as session:
        return audit.history(session, "DeliverySchedule", "SUP-001/DS-SUP-001")


def test_an_ack_goes_from_the_portal_through_the_ingress_to_the_recorder_once(sim, forms, hub):
    store, recorder = hub
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    first = answer(sim, data_id, {"response": "确认"})["push"]
    assert first["status"] == 202
    again = requests.post(f"{sim.base_url}/__sim/push", json={"entry_id": FORM, "data_id": data_id}, timeout=10)
    assert again.json()["push"]["status"] == 200 and '"duplicate"' in again.json()["push"]["body"]
    (row,) = event_rows(store)  # the same body twice: one event
    assert row.kind == "delivery_schedule:data_update"
    assert process_pending(store) == {"events": 1, "processed": 1, "quarantined": 0, "failed": 0, "waiting": 0}
    assert process_pending(store)["events"] == 0
    (call,) = recorder.calls
    assert (call["supplier_id"], call["schedule_id"], call["version"], call["status"], call["by"]) == \
        ("SUP-001", "DS-SUP-001", 2, "acknowledged", "sup001")
    assert call["source"] == f"jiandaoyun:{row.delivery_id}"
    assert len(audit_rows(store)) == 1
    assert event_rows(store)[0].detail == "schedule DS-SUP-001 v2 of SUP-001 acknowledged by sup001"


def test_another_suppliers_answer_is_quarantined_and_not_recorded(sim, forms, hub):
    store, recorder = hub
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    assert answer(sim, data_id, {"response": "确认"}, user="sup002")["push"]["status"] == 202
    assert process_pending(store)["quarantined"] == 1
    assert recorder.calls == [] and audit_rows(store) == []
    (row,) = event_rows(store)
    with store.session() as session:
        (entry,) = quarantine.list_rows(session)
    assert (row.status, entry.reason_code, entry.location) == \
        ("quarantined", "JDY_SUPPLIER_MISMATCH", f"jiandaoyun:delivery_schedule:hub_key={KEY}")
    assert entry.evidence["event_id"] == row.id


def test_a_save_without_answer_is_processed_without_a_call(sim, forms, hub):
    store, recorder = hub
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    answer(sim, data_id, {"response_note": "看过了"})
    assert process_pending(store)["processed"] == 1 and recorder.calls == []
    assert "without an answer" in event_rows(store)[0].detail


def test_an_unknown_or_stale_version_is_the_recorders_to_audit(sim, forms, sqlite_store):
    data_id = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    record = {**answer(sim, data_id, {"response": "拒绝", "response_note": "太多"})["record"], "formName": "交货计划确认"}
    event = parse_event(event_body("data_update", record))
    recorder = Recorder(known=False)
    with sqlite_store.session() as session:
        outcome = handle_schedule_ack(session, event, config_for(sim), record_ack=recorder)
    assert outcome == event_flow.Outcome("processed", "schedule DS-SUP-001 v2 of SUP-001 rejected by sup001: not "
                                                      "recorded (unknown or stale version; audited)")
    assert [c["comment"] for c in recorder.calls] == ["太多"]


def test_answers_can_also_be_polled(sim, forms):
    answered = forms.publish_delivery_schedule(SCHEDULE, CHANGES)
    forms.publish_delivery_schedule(SCHEDULE.model_copy(update={"version": 3}), [])  # not answered
    answer(sim, answered, {"response": "确认"})
    (pulled,) = forms.pull("delivery_schedule")
    assert (pulled.key, pulled.data_id) == (KEY, answered)
    assert forms.documents(pulled) == []
    ack = ack_from_record(pulled.data, config_for(sim), source=f"jiandaoyun:{pulled.data_id}")
    assert (ack.version, ack.status, ack.by) == (2, "acknowledged", "sup001")


PORTAL_PROFILE = """partner_id: SUP-001
name: 华东轴承
edi: {our_id: MESHUB, their_id: SUP-001}
messages:
  delivery_schedule: {format: portal}
"""


def test_with_the_plan_sync_flow_release_publish_answer_and_one_audit_entry(sim, forms, ingress, tmp_path,
                                                                            monkeypatch):
    """The lead's hub/flows/schedules.py as it stands: release -> portal -> answer -> record_schedule_ack.
    Only ``propose`` (MRP) is skipped: its audit entry is written here as it writes it."""
    from hub.flows import schedules

    store = ingress
    (tmp_path / "partners").mkdir()
    (tmp_path / "partners" / "SUP-001.yaml").write_text(PORTAL_PROFILE, encoding="utf-8")
    monkeypatch.setenv("HUB_PARTNER_DIR", str(tmp_path / "partners"))
    with store.session() as session:
        documents.upsert(session, SCHEDULE, actor="test")
        audit.record(session, actor="plan_run", action="schedule_proposed", subject_type="DeliverySchedule",
                     subject_key="DS-SUP-001", details={"version": 2, "supplier_id": "SUP-001",
                                                        "requires_approval": False, "changes": CHANGES})
    now = dt.datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)
    assert schedules.release(store, now=now, portal=forms)["portal_published"] == 1
    assert schedules.record_sent(store) == 1
    (record,) = records(sim)
    assert record["hub_key"] == KEY and len(record["changes"]) == 2
    sim.state.set_now("2026-11-26T02:30:00+00:00")
    answer(sim, record["_id"], {"response": "拒绝", "response_note": "12-01 只能交 450"})
    requests.post(f"{sim.base_url}/__sim/push", json={"entry_id": FORM, "data_id": record["_id"]}, timeout=10)
    assert process_pending(store)["processed"] == 1  # the push and its duplicate: one event

    def actions():
        with store.session() as session:
            return [(r.action, (r.details or {}).get("comment")) for r in
                    audit.history(session, "DeliverySchedule", "DS-SUP-001")]
    assert actions()[-1] == ("schedule_ack_rejected", "12-01 只能交 450")
    assert [a for a, _ in actions()].count("schedule_ack_rejected") == 1
    # the supplier saves its answer again (a new push, a new event): the flow ignores it, audited as such
    sim.state.set_now("2026-11-26T03:00:00+00:00")
    answer(sim, record["_id"], {"response": "拒绝", "response_note": "12-01 只能交 450"})
    assert process_pending(store)["processed"] == 1
    assert [a for a, _ in actions()].count("schedule_ack_rejected") == 1
    assert actions()[-1][0] == "schedule_ack_ignored"
    assert event_rows(store)[-1].detail.endswith("not recorded (unknown or stale version; audited)")
