"""JiandaoyunForms against the simulator: publishing is idempotent under faults, answers come
back as canonical documents, pulls are incremental."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import requests

from adapters.jiandaoyun import JiandaoyunForms, JiandaoyunHook
from canonical_model.documents import OrderResponse, ProductionOrder, PurchaseOrder
from hub.errors import FatalError, RetriableError
from simulators.jiandaoyun import DEMO_FORMS, Fault
from tests.adapters.jiandaoyun.conftest import SleepRecorder, calls, config_for

TASKS = DEMO_FORMS["purchase_task"]
CHANGES = DEMO_FORMS["plan_change"]
PO = PurchaseOrder(po_number="CGDD000201", supplier_id="SUP-001", order_date=dt.date(2026, 11, 20), lines=[
    dict(line_no=1, material_id="1.02.0033", quantity=Decimal("500"), uom="H87", delivery_date=dt.date(2026, 12, 1)),
    dict(line_no=2, material_id="1.02.0041", quantity=Decimal("300"), uom="H87", delivery_date=dt.date(2026, 12, 2))])


@pytest.fixture()
def forms(sim):
    hook = JiandaoyunHook(config_for(sim))
    hook.sleep = SleepRecorder()
    with JiandaoyunForms(hook=hook) as client:
        yield client


def records(sim, entry_id):
    return sim.state.all_records(entry_id)


def answer(sim, entry_id, data_id, data, user="sup001"):
    r = requests.post(f"{sim.base_url}/__sim/ui/update",
                      json={"entry_id": entry_id, "data_id": data_id, "user": user, "data": data})
    assert r.status_code == 200, r.text
    return r.json()["record"]


def test_conn_id_default_reads_the_environment(sim, monkeypatch):
    cfg = config_for(sim)
    monkeypatch.setenv("AIRFLOW_CONN_JIANDAOYUN_DEFAULT", (
        '{"conn_type": "http", "host": "%s", "port": %d, "schema": "http", "password": "%s", "extra": '
        '{"app_id": "%s", "production_order_form": "%s", "max_calls_per_second": 0}}'
        % ("127.0.0.1", sim.server_address[1], cfg.api_key.get_secret_value(), cfg.app_id,
           DEMO_FORMS["production_order"])))
    with JiandaoyunForms() as client:
        assert [r.key for r in client.pull("production_order")] == ["MO-JDY-0001", "MO-JDY-0002"]


def test_publishing_twice_makes_one_task(sim, forms):
    first = forms.publish_purchase_task(PO)
    assert forms.publish_purchase_task(PO) == first
    (task,) = records(sim, TASKS)
    assert (task["hub_key"], task["task_status"], task["response"]) == ("CGDD000201", "待确认", "")
    assert [row["quantity"] for row in task["lines"]] == [500, 300]
    assert task["lines"][0]["delivery_date"] == "2026-11-30T16:00:00.000Z"  # 12-01 in Shanghai


@pytest.mark.parametrize("fault", [
    Fault("http5xx", after=True, route="data/create"),
    Fault("reset", route="data/create"),
    Fault("disconnect", after=True, route="data/create"),
    Fault("malformed_json", after=True, route="data/create"),
    Fault("rate_limit", route="data/create"),
    Fault("http5xx", count=2, route="data/list"),
])
def test_publishing_under_a_fault_makes_exactly_one_task(sim, forms, fault):
    sim.state.arm_fault(fault)
    data_id = forms.publish_purchase_task(PO)
    assert [r["_id"] for r in records(sim, TASKS)] == [data_id]
    assert sim.state.faults.active() == []


def test_publishing_gives_up_after_max_attempts(sim, forms):
    sim.state.arm_fault(Fault("http5xx", count=20, route="data/list"))
    with pytest.raises(RetriableError):
        forms.publish_purchase_task(PO)
    assert records(sim, TASKS) == []


def test_a_new_version_replaces_the_task_and_its_old_answer(sim, forms):
    data_id = forms.publish_purchase_task(PO)
    answer(sim, TASKS, data_id, {"response": "接受"})
    v2 = PurchaseOrder.model_validate({**PO.model_dump(), "version": 2, "lines": [PO.lines[0].model_dump()]})
    assert forms.publish_purchase_task(v2) == data_id
    (task,) = records(sim, TASKS)
    assert (task["version"], task["response"], len(task["lines"])) == (2, "", 1)


def test_duplicate_hub_keys_are_fatal(sim, forms):
    hook = forms.hook
    hook.create(TASKS, {"hub_key": "CGDD000201", "po_number": "CGDD000201"})
    hook.create(TASKS, {"hub_key": "CGDD000201", "po_number": "CGDD000201"})
    with pytest.raises(FatalError) as info:
        forms.publish_purchase_task(PO)
    assert info.value.code == "JDY_DUPLICATE" and "CGDD000201" in info.value.where


def test_answer_round_trip_to_an_order_response(sim, forms):
    data_id = forms.publish_purchase_task(PO)
    forms.publish_purchase_task(PO.model_copy(update={"po_number": "CGDD000202"}))  # never answered
    rows = records(sim, TASKS)[0]["lines"]
    answer(sim, TASKS, data_id, {"response": "部分接受", "lines": [
        {**{k: v for k, v in rows[0].items()}, "promised_quantity": 450, "reason": "产能"},
        {**{k: v for k, v in rows[1].items()}, "line_response": "拒绝"}]})
    pulled = list(forms.pull("purchase_task"))
    assert [r.key for r in pulled] == ["CGDD000201"]  # only the answered task
    (response,) = forms.documents(pulled[0])
    assert isinstance(response, OrderResponse) and response.status == "changed"
    assert [(l.action, l.quantity) for l in response.lines] == [("changed", Decimal("450")), ("rejected", 300)]
    forms.update_task_status("purchase_task", "CGDD000201", "confirmed")
    assert records(sim, TASKS)[0]["task_status"] == "已确认"


def test_pull_since_is_incremental(sim, forms):
    sim.state.set_now("2026-12-01T00:00:00+00:00")
    spec = sim.state.forms[DEMO_FORMS["production_order"]]
    late = sim.state.update(spec, records(sim, spec.entry_id)[1]["_id"], {"status": {"value": "生产中"}})
    got = list(forms.pull("production_order", since=dt.datetime(2026, 12, 1, 8, 0)))  # plant-local = 00:00Z
    assert [r.data_id for r in got] == [late["_id"]]
    assert got[0].modified == dt.datetime(2026, 12, 1, 8, 0)
    (order,) = forms.documents(got[0])
    assert isinstance(order, ProductionOrder) and (order.order_id, order.status) == ("MO-JDY-0002", "started")
    assert len(list(forms.pull("production_order"))) == 2


def test_plan_change_publication_and_acknowledgement(sim, forms):
    v2 = PurchaseOrder.model_validate({**PO.model_dump(), "version": 2, "lines": [
        {**PO.lines[0].model_dump(), "quantity": Decimal("650")}, PO.lines[1].model_dump()]})
    data_id = forms.publish_plan_change(v2, PO, change_id="PC-7", reason="插单")
    assert forms.publish_plan_change(v2, PO, change_id="PC-7") == data_id
    (change,) = records(sim, CHANGES)
    assert [(r["line_no"], r["old_quantity"], r["new_quantity"]) for r in change["lines"]] == [(1, 500, 650)]
    answer(sim, CHANGES, data_id, {"response": "确认"})
    (record,) = list(forms.pull("plan_change"))
    (ack,) = forms.documents(record)
    assert (ack.response_number, ack.status, ack.lines[0].action, ack.lines[0].quantity) == \
        ("PC-7", "accepted", "accepted", Decimal("650"))
    assert calls(sim, "data/create") == 1


def test_status_of_an_unpublished_task_is_fatal(forms):
    with pytest.raises(FatalError) as info:
        forms.update_task_status("purchase_task", "CGDD-NOPE", "closed")
    assert info.value.code == "JDY_NOT_PUBLISHED"
    with pytest.raises(ValueError):
        forms.update_task_status("asn", "x", "closed")
    with pytest.raises(ValueError):
        list(forms.pull("invoices"))
