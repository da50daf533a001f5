"""translate.py: raw records (as the simulator returned them) -> the golden mapping inputs ->
canonical documents; option labels, time zones, aliases, and the outbound portal records."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.jiandaoyun import JiandaoyunConfig, translate
from canonical_model.documents import Inspection, OrderResponse, PurchaseOrder
from hub.errors import SkippableError
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS

SAMPLES = Path(__file__).parent / "samples"
GOLDEN = translate.MAPPING_DIR / "golden"
CONFIG = JiandaoyunConfig(base_url="http://jdy.test/api", api_key="k", app_id=DEMO_APP_ID, forms=DEMO_FORMS)
#: raw sample -> (purpose, golden input it must flatten to)
CHAIN = {
    "purchase_task_partial": ("purchase_task", "purchase_task/partial.json"),
    "purchase_task_accepted": ("purchase_task", "purchase_task/accepted.json"),
    "plan_change_countered": ("plan_change", "plan_change/countered.json"),
    "asn_two_lines": ("asn", "asn/two_lines.json"),
    "inspection_conditional": ("inspection", "inspection/conditional.json"),
}


def sample(name: str):
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(CHAIN))
def test_raw_records_flatten_to_the_golden_inputs(name):
    # ties the golden cases (mapping only) to what the API really sends
    purpose, golden = CHAIN[name]
    assert translate.flatten(sample(name), purpose, CONFIG) == json.loads((GOLDEN / golden).read_text("utf-8"))


def test_production_orders_flatten_to_the_golden_input():
    golden = json.loads((GOLDEN / "production_order/production_orders.json").read_text("utf-8"))
    assert [translate.flatten(r, "production_order", CONFIG) for r in sample("production_orders")] == golden[:2]


def test_partial_answer_becomes_an_order_response_line_by_line():
    (doc,) = translate.to_documents(sample("purchase_task_partial"), "purchase_task", CONFIG, ref="jdy:abc")
    assert isinstance(doc, OrderResponse) and (doc.po_number, doc.supplier_id, doc.status) == \
        ("CGDD000101", "SUP-001", "changed")
    assert [(l.line_no, l.action, str(l.quantity), str(l.delivery_date)) for l in doc.lines] == [
        (1, "accepted", "500", "2026-12-01"), (2, "rejected", "300", "2026-12-01"), (3, "changed", "600", "2026-12-08")]
    assert doc.lines[1].reason == "停产"
    assert doc.responded_at == dt.datetime(2026, 11, 21, 14, 30)  # plant-local, from 06:30Z
    assert doc.source.system == "jiandaoyun" and doc.source.partner == "SUP-001" and doc.source.message_ref == "jdy:abc"
    assert doc.source.request == f"{DEMO_FORMS['purchase_task']}/{sample('purchase_task_partial')['_id']}"


def test_an_unanswered_task_maps_to_nothing():
    record = sample("purchase_task_partial")
    record["response"] = ""
    assert translate.to_documents(record, "purchase_task", CONFIG) == []


def test_a_partial_answer_line_without_its_own_answer_is_changed_only_if_it_promises_something_else():
    record = sample("purchase_task_partial")
    record["lines"][0]["promised_date"] = "2026-12-01T16:00:00.000Z"  # 12-02 local: later than asked
    record["lines"][2]["promised_quantity"] = 800  # as ordered, but the date still differs
    (doc,) = translate.to_documents(record, "purchase_task", CONFIG)
    assert [l.action for l in doc.lines] == ["changed", "rejected", "changed"]
    record["lines"][2]["promised_date"] = record["lines"][2]["delivery_date"]
    record["lines"][0]["promised_date"] = None
    (doc,) = translate.to_documents(record, "purchase_task", CONFIG)
    assert [l.action for l in doc.lines] == ["accepted", "rejected", "accepted"]


def test_dates_cross_midnight_into_the_plant_zone():
    record = sample("asn_two_lines")
    assert record["ship_date"] == "2026-11-26T16:00:00.000Z"  # 11-27 00:00 in Shanghai
    (asn,) = translate.to_documents(record, "asn", CONFIG)
    assert str(asn.ship_date) == "2026-11-27" and str(asn.lines[0].expiry_date) == "2028-11-30"
    utc = CONFIG.model_copy(update={"timezone": "UTC"})
    (asn,) = translate.to_documents(record, "asn", utc)
    assert str(asn.ship_date) == "2026-11-26"


def test_inspection_gets_its_defects_and_characteristics():
    (doc,) = translate.to_documents(sample("inspection_conditional"), "inspection", CONFIG)
    assert isinstance(doc, Inspection)
    assert (doc.inspection_id, doc.result, doc.defects) == ("IQC000001", "conditional", ["外观划伤"])
    assert [(c.name, c.result) for c in doc.characteristics] == [("外径", "pass"), ("外观", "fail")]
    assert (doc.inspected_quantity, doc.rejected_quantity) == (Decimal("80"), Decimal("3"))


def test_an_unknown_option_label_is_skippable_and_names_form_record_and_field():
    record = sample("inspection_conditional")
    record["result"] = "待定"
    with pytest.raises(SkippableError) as info:
        translate.to_documents(record, "inspection", CONFIG)
    assert info.value.code == "JDY_UNKNOWN_OPTION" and "'待定'" in info.value.message and "result" in info.value.message
    assert info.value.where == "jiandaoyun:inspection:inspection_id=IQC000001"
    record = sample("inspection_conditional")
    record["characteristics"][1]["item_result"] = "??"
    with pytest.raises(SkippableError) as info:
        translate.to_documents(record, "inspection", CONFIG)
    assert info.value.where.endswith("/characteristics[1]") and "characteristics.item_result" in info.value.message


def test_canonical_codes_are_accepted_as_labels():
    record = sample("inspection_conditional")
    record["result"] = "fail"
    (doc,) = translate.to_documents(record, "inspection", CONFIG)
    assert doc.result == "fail"


def test_mapping_errors_are_located_in_jiandaoyun():
    record = sample("asn_two_lines")
    record["lines"][1]["quantity"] = "很多"
    with pytest.raises(SkippableError) as info:
        translate.to_documents(record, "asn", CONFIG)
    assert info.value.code == "BAD_VALUE"
    assert info.value.where == "jiandaoyun:asn:asn_number=ASN-SUP001-0042/lines[1]"


@pytest.mark.parametrize("broken", [[], "text", None, {"lines": "no"}])
def test_hostile_records_are_skippable(broken):
    with pytest.raises(SkippableError):
        translate.to_documents(broken, "asn", CONFIG)


def test_widget_names_are_renamed_through_field_aliases():
    record = sample("production_orders")[0]
    widgets = {"order_id": "_widget_1700000000901", "quantity": "_widget_1700000000902"}
    raw = {widgets.get(k, k): v for k, v in record.items()}
    aliased = CONFIG.model_copy(update={"field_aliases": {"production_order": {v: k for k, v in widgets.items()}}})
    (doc,) = translate.to_documents(raw, "production_order", aliased)
    assert (doc.order_id, doc.quantity, doc.status) == ("MO-JDY-0001", Decimal("200"), "released")
    with pytest.raises(SkippableError) as info:  # without the aliases the field is simply missing
        translate.to_documents(raw, "production_order", CONFIG)
    assert info.value.code == "MISSING_FIELD"


# ----------------------------------------------------------------------------- outbound


PO = PurchaseOrder(po_number="CGDD000110", supplier_id="SUP-002", order_date=dt.date(2026, 11, 20), currency="CNY",
                   lines=[dict(line_no=1, material_id="1.02.0033", quantity=Decimal("200"), uom="H87",
                               unit_price=Decimal("3.25"), delivery_date=dt.date(2026, 12, 4)),
                          dict(line_no=2, material_id="1.03.0100", quantity=Decimal("1000.5"), uom="H87",
                               delivery_date=dt.date(2026, 12, 3))])


def test_purchase_task_values():
    values = translate.purchase_task_values(PO, CONFIG)
    assert values["hub_key"] == values["po_number"] == "CGDD000110"
    assert values["task_status"] == "待确认" and values["order_date"] == "2026-11-20T00:00:00+08:00"
    assert values["lines"][0] == {"line_no": 1, "material_id": "1.02.0033", "supplier_material_id": "", "quantity": 200,
                                  "uom": "H87", "unit_price": 3.25, "delivery_date": "2026-12-04T00:00:00+08:00"}
    assert values["lines"][1]["quantity"] == 1000.5 and "unit_price" not in values["lines"][1]
    aliased = CONFIG.model_copy(update={"field_aliases": {"purchase_task": {"_widget_9": "hub_key",
                                                                            "_widget_8": "quantity"}}})
    values = translate.purchase_task_values(PO, aliased)
    assert values["_widget_9"] == "CGDD000110" and values["lines"][0]["_widget_8"] == 200


def test_plan_change_values_list_only_what_changed():
    v2 = PurchaseOrder.model_validate({**PO.model_dump(), "version": 2, "lines": [
        {**PO.lines[0].model_dump(), "delivery_date": dt.date(2026, 12, 1)},
        dict(line_no=3, material_id="1.02.0041", quantity=Decimal("50"), uom="H87")]})
    values = translate.plan_change_values(v2, PO, "PC-1", CONFIG, reason="客户插单")
    assert (values["hub_key"], values["version"], values["change_reason"]) == ("PC-1", 2, "客户插单")
    assert [(r["line_no"], r.get("old_quantity"), r["new_quantity"]) for r in values["lines"]] == [
        (1, 200, 200), (2, 1000.5, 0), (3, None, 50)]
    assert values["lines"][0]["new_date"] == "2026-12-01T00:00:00+08:00"
    assert translate.task_status_values("plan_change", "closed", CONFIG) == {"task_status": "已关闭"}
    with pytest.raises(ValueError):
        translate.task_status_values("plan_change", "exploded", CONFIG)
