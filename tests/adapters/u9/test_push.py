"""U9 pushes (receipt, inspection, order response) against the simulator: create + approve once per
external number, whatever the wire does in between."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from canonical_model.documents import (Inspection, InspectionCharacteristic, OrderResponse, OrderResponseLine,
                                       PurchaseOrder, PurchaseOrderLine, Receipt, ReceiptLine)
from hub.errors import FatalError, RetriableError, SkippableError

from tests.adapters.u9.conftest import cloud_erp, soap_erp, transport

CST = dt.timezone(dt.timedelta(hours=8))


def receipt(receipt_id: str = "RC-0001", qty: str = "480", material: str = "1.02.0033", uom: str = "H87",
            po_line_no: int | None = 1, po_number: str | None = "CGDD000101") -> Receipt:
    return Receipt(receipt_id=receipt_id, asn_number="ASN-9", supplier_id="SUP-001",
                   received_at=dt.datetime(2026, 12, 1, 1, 30, tzinfo=dt.timezone.utc),
                   lines=[ReceiptLine(line_no=1, po_number=po_number, po_line_no=po_line_no, material_id=material,
                                      quantity=Decimal(qty), uom=uom, batch_id="LOT-7", location="A-01-01"),
                          ReceiptLine(line_no=2, po_number="CGDD000101", po_line_no=2, material_id="1.02.0041",
                                      quantity=Decimal(0), uom="H87")])


def inspection(inspection_id: str = "QC-0001") -> Inspection:
    return Inspection(inspection_id=inspection_id, batch_id="LOT-7", material_id="1.02.0033", supplier_id="SUP-001",
                      receipt_id="RC-0001", inspected_quantity=Decimal(50), rejected_quantity=Decimal(2), uom="H87",
                      result="conditional", inspected_at=dt.datetime(2026, 12, 1, 14, 0, tzinfo=CST),
                      characteristics=[InspectionCharacteristic(name="外径", value="47.01", result="pass"),
                                       InspectionCharacteristic(name="噪音", value="52dB", result="fail")],
                      defects=["噪音超标"])


def order_response(number: str = "ORSP-1") -> OrderResponse:
    return OrderResponse(po_number="CGDD000102", supplier_id="SUP-002", response_number=number, status="changed",
                         lines=[OrderResponseLine(line_no=1, action="changed", quantity=Decimal(900),
                                                  delivery_date=dt.date(2026, 12, 6)),
                                OrderResponseLine(line_no=2, action="accepted")])


def docs(sim, table: str, external: str) -> list[dict]:
    return [r for r in sim.state.rows(table) if r["DescFlexField_PrivateDescSeg1"] == external]


def po_line(sim, doc_no: str, line_no: int) -> dict:
    po = sim.state.find_one("PM_PurchaseOrder", "DocNo", doc_no)
    return next(l for l in sim.state.children("PM_POLine", po["ID"]) if l["DocLineNo"] == line_no)


# ----------------------------------------------------------------------------- happy paths, reruns


def test_receipt_becomes_one_approved_receivement_and_a_rerun_finds_it(erp, sim):
    number = erp.push("receipt", receipt(), "RC-0001")
    again = erp.push("receipt", receipt(), "RC-0001")
    assert again == number
    [doc] = docs(sim, "PM_Receivement", "RC-0001")
    assert (doc["DocNo"], doc["Status"], doc["Supplier_Code"]) == (number, 2, "SUP-001")
    # received 01:30 UTC = 09:30 U9 server time
    assert doc["BusinessDate"] == dt.datetime(2026, 12, 1, 9, 30)
    [line] = sim.state.children("PM_RcvLine", doc["ID"])  # the 0-quantity line books nothing
    assert (line["SrcDoc_SrcDocNo"], line["SrcDoc_SrcDocLineNo"], line["RcvQtyTU"], line["TradeUOM_Code"],
            line["Wh_Code"], line["LotInfo_LotCode"]) == ("CGDD000101", 1, Decimal(480), "PCS", "CK01", "LOT-7")
    assert po_line(sim, "CGDD000101", 1)["TotalRecievedQtyTU"] == Decimal(480)  # approval booked it once


def test_inspection_becomes_one_approved_inspection_document(erp, sim):
    number = erp.push("inspection", inspection(), "QC-0001")
    assert erp.push("inspection", inspection(), "QC-0001") == number
    [doc] = docs(sim, "QC_InspectDoc", "QC-0001")
    assert (doc["Status"], doc["Result"], doc["InspectQty"], doc["RejectQty"], doc["UOM_Code"], doc["Memo"]) == (
        2, 2, Decimal(50), Decimal(2), "PCS", "噪音超标")
    checks = sim.state.children("QC_InspectItem", doc["ID"])
    assert [(c["CheckItem"], c["CheckValue"], c["CheckResult"]) for c in checks] == [("外径", "47.01", 0),
                                                                                      ("噪音", "52dB", 1)]


def test_order_response_writes_promised_quantity_and_date_onto_po_lines(erp, sim):
    assert erp.push("order_response", order_response(), "ORSP-1") == "CGDD000102"
    first, second = po_line(sim, "CGDD000102", 1), po_line(sim, "CGDD000102", 2)
    assert (first["SupplierConfirmQtyTU"], first["SupplierConfirmDate"]) == (Decimal(900), dt.datetime(2026, 12, 6))
    assert second["SupplierConfirmQtyTU"] == Decimal(200)  # accepted without a quantity: as ordered
    calls_before = len(sim.state.calls)
    sim.state.confirm_po_lines([{"DocNo": "CGDD000102", "DocLineNo": 1, "ConfirmQtyTU": 1,
                                 "DescFlexField": {"PrivateDescSeg2": "ORSP-1"}}])
    assert erp.push("order_response", order_response(), "ORSP-1") == "CGDD000102"
    # found by its number: nothing written the second time
    assert po_line(sim, "CGDD000102", 1)["SupplierConfirmQtyTU"] == Decimal(1)
    assert not any("Confirm" in c or "SupplierConfirm" in c for c in sim.state.calls[calls_before:])


def test_a_created_but_unapproved_document_is_approved_not_created_again(erp, sim):
    created = sim.state.create_receivement({"Supplier": {"Code": "SUP-001"},
                                            "DescFlexField": {"PrivateDescSeg1": "RC-HALF"},
                                            "RcvLines": [{"SrcDocNo": "CGDD000101", "SrcDocLineNo": 1,
                                                          "RcvQtyTU": 5, "Wh": {"Code": "CK01"}}]})
    assert erp.push("receipt", receipt("RC-HALF"), "RC-HALF") == created["DocNo"]
    [doc] = docs(sim, "PM_Receivement", "RC-HALF")
    assert doc["Status"] == 2


def test_rest_accepts_results_as_a_json_encoded_string(sim):
    sim.state.data_as_string = True
    with cloud_erp(sim) as erp:
        number = erp.push("receipt", receipt(), "RC-0001")
    assert [d["DocNo"] for d in docs(sim, "PM_Receivement", "RC-0001")] == [number]


# ----------------------------------------------------------------------------- faults during a push


@pytest.mark.parametrize("kind", ["reset", "malformed", "http500", "busy"])
@pytest.mark.parametrize("step", ["create", "approve"])
def test_a_lost_reply_never_makes_a_second_document(sim, erp, kind, step):
    target = {("soap", "create"): "ICreateReceivementSRV", ("soap", "approve"): "IApproveReceivementSRV",
              ("rest", "create"): "Receivement/CreateRcvBySrcPO", ("rest", "approve"): "Receivement/Approve"}
    sim.state.fail_next(kind, target=target[(transport(erp), step)])
    number = erp.push("receipt", receipt(), "RC-0001")
    [doc] = docs(sim, "PM_Receivement", "RC-0001")
    assert (doc["DocNo"], doc["Status"]) == (number, 2)
    assert po_line(sim, "CGDD000101", 1)["TotalRecievedQtyTU"] == Decimal(480)


@pytest.mark.parametrize("factory", [soap_erp, cloud_erp])
def test_without_in_process_retries_the_scheduler_rerun_completes_the_same_document(sim, factory):
    target = "ICreateReceivementSRV" if factory is soap_erp else "Receivement/CreateRcvBySrcPO"
    sim.state.fail_next("reset", target=target)
    with factory(sim, max_attempts=1) as erp:
        with pytest.raises(RetriableError):
            erp.push("receipt", receipt(), "RC-0001")
        [half] = docs(sim, "PM_Receivement", "RC-0001")  # the create ran; only its reply was cut
        assert half["Status"] == 0
        assert erp.push("receipt", receipt(), "RC-0001") == half["DocNo"]  # the task's retry
    [doc] = docs(sim, "PM_Receivement", "RC-0001")
    assert (doc["ID"], doc["Status"]) == (half["ID"], 2)


def test_429_on_a_write_is_sent_again_because_it_was_never_executed(erp, sim):
    target = "ICreateReceivementSRV" if transport(erp) == "soap" else "Receivement/CreateRcvBySrcPO"
    sim.state.fail_next("http429", target=target, retry_after=0)
    erp.push("receipt", receipt(), "RC-0001")
    assert len(docs(sim, "PM_Receivement", "RC-0001")) == 1


def test_session_expired_during_a_write_is_recovered_once(erp, sim):
    target = "ICreateInspectDocSRV" if transport(erp) == "soap" else "InspectDoc/Create"
    sim.state.fail_next("session_expired", target=target)
    logins = sim.state.login_count
    erp.push("inspection", inspection(), "QC-0001")
    assert len(docs(sim, "QC_InspectDoc", "QC-0001")) == 1
    if transport(erp) == "rest":
        assert sim.state.login_count == logins + 2  # the first login and the one re-login


def test_a_failure_on_every_attempt_is_retriable_and_leaves_at_most_one_document(erp, sim):
    target = "IApproveReceivementSRV" if transport(erp) == "soap" else "Receivement/Approve"
    sim.state.fail_next("http500", count=10, target=target)
    with pytest.raises(RetriableError):
        erp.push("receipt", receipt(), "RC-0001")
    assert [d["Status"] for d in docs(sim, "PM_Receivement", "RC-0001")] == [0]
    sim.state.clear_faults()
    erp.push("receipt", receipt(), "RC-0001")
    assert [d["Status"] for d in docs(sim, "PM_Receivement", "RC-0001")] == [2]


# ----------------------------------------------------------------------------- refusals and hostile input


def test_business_validation_is_skippable_and_names_the_document_and_field(erp, sim):
    with pytest.raises(SkippableError) as caught:
        erp.push("receipt", receipt(qty="5000"), "RC-OVER")
    error = caught.value
    assert error.code in ("U9_REJECTED", "U9C_REJECTED")
    assert "RC-OVER" in error.where and "RcvQtyTU" in error.message
    assert docs(sim, "PM_Receivement", "RC-OVER") == []


def test_unknown_material_or_unit_is_refused_before_u9_is_called(erp, sim):
    before = len(sim.state.calls)
    with pytest.raises(SkippableError) as material:
        erp.push("receipt", receipt(material="9.99.9999"), "RC-X")
    with pytest.raises(SkippableError) as unit:
        erp.push("receipt", receipt(uom="LBR"), "RC-Y")
    assert (material.value.code, unit.value.code) == ("UNKNOWN_MATERIAL", "UNKNOWN_UOM")
    assert "9.99.9999" in material.value.message and "line 1" in material.value.where
    assert len(sim.state.calls) == before


def test_a_receipt_line_without_its_po_line_is_skippable(erp):
    with pytest.raises(SkippableError) as caught:
        erp.push("receipt", receipt(po_line_no=None), "RC-NOPO")
    assert caught.value.code == "U9_BAD_DOCUMENT" and "po_line_no" in caught.value.message


def test_an_order_response_without_lines_is_skippable(erp):
    empty = OrderResponse(po_number="CGDD000102", supplier_id="SUP-002", status="accepted")
    with pytest.raises(SkippableError):
        erp.push("order_response", empty, "ORSP-EMPTY")


@pytest.mark.parametrize("external", ["RC-'7\"<x>&amp;</DescFlexField>", "RC-' OR '1'='1", "RC-]]>--;DROP"])
def test_quotes_and_angle_brackets_travel_escaped_and_come_back_intact(erp, sim, external):
    erp.push("receipt", receipt(qty="10"), "RC-PLAIN")
    number = erp.push("receipt", receipt(qty="10"), external)
    assert erp.push("receipt", receipt(qty="10"), external) == number  # found again by the exact text
    [doc] = docs(sim, "PM_Receivement", external)
    assert doc["DocNo"] == number
    assert len(sim.state.rows("PM_Receivement")) == 2  # an injected "OR 1=1" matched nothing else


def test_wrong_document_for_the_kind_and_empty_external_number_are_fatal(erp):
    po = PurchaseOrder(po_number="X", supplier_id="SUP-001", order_date=dt.date(2026, 1, 1),
                       lines=[PurchaseOrderLine(line_no=1, material_id="1.02.0033", quantity=Decimal(1), uom="H87")])
    for kind, document, number in (("receipt", po, "X"), ("invoice", receipt(), "X"), ("receipt", receipt(), " ")):
        with pytest.raises(FatalError) as caught:
            erp.push(kind, document, number)
        assert caught.value.code == "ERP_PUSH_KIND"


def test_two_documents_with_one_external_number_stop_the_push(erp, sim):
    for _ in range(2):
        sim.state.create_receivement({"Supplier": {"Code": "SUP-001"}, "DescFlexField": {"PrivateDescSeg1": "RC-DUP"},
                                      "RcvLines": [{"SrcDocNo": "CGDD000101", "SrcDocLineNo": 1, "RcvQtyTU": 1,
                                                    "Wh": {"Code": "CK01"}}]})
    with pytest.raises(FatalError) as caught:
        erp.push("receipt", receipt("RC-DUP"), "RC-DUP")
    assert caught.value.code == "U9_DUPLICATE" and "RC-DUP" in caught.value.message


def test_a_receipt_needs_a_warehouse_from_config_or_crosswalk(sim):
    with soap_erp(sim, receipt_warehouse=None) as erp:
        with pytest.raises(FatalError) as caught:
            erp.push("receipt", receipt(), "RC-NOWH")
    assert caught.value.code == "U9_CONFIG" and "receipt_warehouse" in caught.value.message


def test_the_wire_carries_hostile_text_escaped(sim):
    """Observe the raw requests (a requests response hook), not the adapter's internals."""
    import requests

    from adapters.u9 import U9CloudErp, U9CloudHook, U9SoapErp, U9SoapHook
    from tests.adapters.u9.conftest import cloud_config, soap_config

    external = "RC-'9\"<DescFlexField>&x"
    sent: list[bytes] = []

    def session() -> requests.Session:
        s = requests.Session()
        s.hooks["response"].append(lambda response, *a, **k: sent.append(response.request.body or b""))
        return s

    with U9SoapErp(hook=U9SoapHook(soap_config(sim), session=session(), max_attempts=1)) as erp:
        erp.push("receipt", receipt(qty="10"), external)
    soap_bodies = b"".join(b for b in sent if isinstance(b, bytes))
    assert b"RC-'9\"&lt;DescFlexField&gt;&amp;x" in soap_bodies and b"<DescFlexField>&x" not in soap_bodies
    sent.clear()
    with U9CloudErp(hook=U9CloudHook(cloud_config(sim), session=session(), max_attempts=1)) as erp:
        erp.push("receipt", receipt(qty="10"), external + "-rest")
    rest_bodies = b"".join(b for b in sent if isinstance(b, bytes)).decode("utf-8")
    assert "N'RC-''9\\\"<DescFlexField>&x-rest'" in rest_bodies  # SQL literal: quote doubled, JSON-escaped
    assert [len(docs(sim, "PM_Receivement", e)) for e in (external, external + "-rest")] == [1, 1]
