"""Every simulator fault against KingdeeErp: retried or classified, nothing lost, nothing doubled.

The baseline of each test is computed from the simulator's own tables, never from a second
adapter run, so a fault that silently drops or repeats data cannot hide behind itself.
"""
from __future__ import annotations

import datetime as dt

import pytest

from adapters.kingdee import errors
from canonical_model.documents import Receipt
from hub.errors import FatalError, RetriableError, SkippableError

from tests.adapters.kingdee.conftest import ERP_PASSWORD, calls, make_erp

PAGE = 4


def po_lines_in_simulator(sim) -> dict[str, list[int]]:
    return {b["FBillNo"]: [e["FEntryID"] for e in b["FPOOrderEntry"]] for b in sim.state.bills("PUR_PurchaseOrder")}


def pulled_lines(erp) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for record in erp.pull("purchase_orders", None):
        assert record.key not in seen, f"{record.key} pulled twice"
        seen[record.key] = [line["FPOOrderEntry_FEntryID"] for line in record.data["FPOOrderEntry"]]
    return seen


def receipt(receipt_id: str, qty: str = "10") -> Receipt:
    return Receipt(receipt_id=receipt_id, supplier_id="SUP-001", received_at=dt.datetime(2026, 12, 2, 8, 30),
                   lines=[{"line_no": 1, "po_number": "CGDD000101", "material_id": "1.02.0033", "quantity": qty,
                           "uom": "H87", "location": "A-01-01"}])


def instock_bills(sim, external_number: str) -> list[dict]:
    return [b for b in sim.state.bills("STK_InStock") if b.get("F_HUB_ExtNo") == external_number]


# ----------------------------------------------------------------------------- pulls


@pytest.mark.parametrize("kind, options", [
    ("http500", {}),
    ("http429", {"retry_after": 0}),
    ("response_error", {}),
    ("malformed_json", {}),
    ("reset", {}),
    ("disconnect", {}),
    ("latency", {"delay": 0.05}),
])
def test_pull_survives_transient_faults_with_every_line_exactly_once(erp_sim, kind, options):
    expected = po_lines_in_simulator(erp_sim)
    erp_sim.state.fail_next(2, kind, service="ExecuteBillQuery", **options)
    with make_erp(erp_sim, page_size=PAGE) as erp:
        assert pulled_lines(erp) == expected
    pages = sum(map(len, expected.values())) // PAGE + 1  # paging stops at the first short page
    assert erp_sim.state.faults.active() == []  # both faults fired ...
    if kind != "latency":
        assert calls(erp_sim, "ExecuteBillQuery") == pages + 2  # ... and cost one repeated call each


@pytest.mark.parametrize("kind", ["session_expired", "session_lost"])
def test_pull_relogs_in_once_when_the_session_is_gone(erp_sim, kind):
    expected = po_lines_in_simulator(erp_sim)
    erp_sim.state.fail_next(1, kind, service="ExecuteBillQuery")
    with make_erp(erp_sim, page_size=PAGE) as erp:
        assert pulled_lines(erp) == expected
    assert erp_sim.state.login_count == 2


def test_session_lost_again_right_after_relogin_is_fatal(erp_sim):
    erp_sim.state.fail_next(2, "session_expired", service="ExecuteBillQuery")
    with make_erp(erp_sim, page_size=PAGE) as erp, pytest.raises(FatalError) as info:
        list(erp.pull("purchase_orders", None))
    assert info.value.code == "KINGDEE_SESSION_LOST" and erp_sim.state.login_count == 2


def test_timeout_is_retried_with_a_fresh_request(erp_sim):
    expected = po_lines_in_simulator(erp_sim)
    erp_sim.state.fail_next(1, "timeout", service="ExecuteBillQuery")
    with make_erp(erp_sim, page_size=PAGE, timeout=0.3) as erp:
        assert pulled_lines(erp) == expected


@pytest.mark.parametrize("kind, code", [
    ("http500", "KINGDEE_UNAVAILABLE"), ("malformed_json", "KINGDEE_BAD_RESPONSE"), ("reset", "KINGDEE_UNAVAILABLE"),
    ("http429", "KINGDEE_UNAVAILABLE"),
])
def test_a_fault_that_outlasts_the_attempts_is_retriable_and_names_the_call(erp_sim, kind, code):
    erp_sim.state.fail_next(4, kind, service="ExecuteBillQuery", **({"retry_after": 0} if kind == "http429" else {}))
    with make_erp(erp_sim, page_size=PAGE) as erp, pytest.raises(RetriableError) as info:
        list(erp.pull("purchase_orders", None))
    assert info.value.code == code and "ExecuteBillQuery" in info.value.message
    assert ERP_PASSWORD not in str(info.value)
    assert calls(erp_sim, "ExecuteBillQuery") == 4  # bounded: exactly max_attempts


def test_retry_after_is_honoured_and_capped(erp_sim):
    erp_sim.state.fail_next(1, "http429", service="ExecuteBillQuery", retry_after=2)
    erp_sim.state.fail_next(1, "http429", service="ExecuteBillQuery", retry_after=3600)
    erp_sim.state.fail_next(1, "http500", service="ExecuteBillQuery")
    with make_erp(erp_sim, page_size=PAGE, max_retry_after=30, backoff_seconds=0.25) as erp:
        waits: list[float] = []
        erp.hook.sleep = waits.append  # record the pauses instead of waiting them out
        assert len(pulled_lines(erp)) == 15
    # Retry-After 2 s as asked; 3600 s capped at 30; the 500 falls back to backoff (3rd attempt: 0.25 * 2**2)
    assert waits == [2.0, 30.0, 1.0]


def test_session_expiring_mid_pull_relogs_in_once_and_loses_nothing(erp_sim):
    expected = po_lines_in_simulator(erp_sim)
    with make_erp(erp_sim, page_size=PAGE) as erp:
        stream = erp.pull("purchase_orders", None)
        seen = {next(stream).key}
        erp_sim.state.expire_sessions()
        seen |= {record.key for record in stream}
    assert seen == set(expected) and erp_sim.state.login_count == 2


def test_repeated_rows_on_pages_yield_every_bill_once_with_every_line_once(erp_sim):
    expected = po_lines_in_simulator(erp_sim)
    erp_sim.state.fail_next(3, "repeat_rows", service="ExecuteBillQuery", rows=3)
    with make_erp(erp_sim, page_size=PAGE) as erp:
        assert pulled_lines(erp) == expected
    assert erp_sim.state.faults.active() == []  # all three repeats happened


def test_the_repeat_fault_would_duplicate_and_lose_rows_without_the_protection(erp_sim):
    """Evidence that the fault is real: plain offset paging gets it wrong."""
    expected = po_lines_in_simulator(erp_sim)
    erp_sim.state.fail_next(3, "repeat_rows", service="ExecuteBillQuery", rows=3)
    with make_erp(erp_sim, page_size=PAGE) as erp:
        keys = ["FID", "FBillNo", "FPOOrderEntry_FEntryID"]
        rows = list(erp.hook.execute_bill_query("PUR_PurchaseOrder", keys, "", "FID ASC,FPOOrderEntry_FEntryID ASC",
                                                page_size=PAGE))
    entry_ids = [r["FPOOrderEntry_FEntryID"] for r in rows]
    assert len(entry_ids) != len(set(entry_ids))  # duplicated ...
    assert set(entry_ids) != {e for lines in expected.values() for e in lines}  # ... and lost


def test_a_server_that_never_pages_is_retriable_not_an_endless_loop(erp_sim):
    erp_sim.state.fail_next(50, "repeat_rows", service="ExecuteBillQuery", rows=10**6)
    with make_erp(erp_sim, page_size=PAGE) as erp, pytest.raises(RetriableError) as info:
        list(erp.pull("purchase_orders", None))
    assert info.value.code == "KINGDEE_PAGING" and "PUR_PurchaseOrder" in info.value.message


def test_probabilistic_faults_from_a_seeded_rng_lose_and_double_nothing(erp_sim):
    expected = po_lines_in_simulator(erp_sim)
    erp_sim.state.faults.reseed(42)
    erp_sim.state.arm_fault({"kind": "http500", "count": None, "probability": 0.3, "service": "ExecuteBillQuery"})
    erp_sim.state.arm_fault({"kind": "repeat_rows", "count": None, "probability": 0.3, "rows": 2})
    with make_erp(erp_sim, page_size=PAGE, max_attempts=10) as erp:
        assert pulled_lines(erp) == expected


# ----------------------------------------------------------------------------- pushes


@pytest.mark.parametrize("kind", ["reset", "http500", "timeout", "malformed_json", "disconnect", "response_error"])
def test_save_whose_answer_is_lost_leaves_exactly_one_bill(erp_sim, kind):
    erp_sim.state.fail_next(1, kind, service="Save", after=True)
    with make_erp(erp_sim, timeout=0.5) as erp:
        number = erp.push("receipt", receipt("RCV-LOST"), "RCV-LOST")
    [bill] = instock_bills(erp_sim, "RCV-LOST")
    assert (bill["FBillNo"], bill["FDocumentStatus"]) == (number, "C")
    assert calls(erp_sim, "Save") == 1  # the retry found the bill instead of saving it again


@pytest.mark.parametrize("kind, saves", [("disconnect", 2), ("http500", 2), ("http429", 2)])
def test_save_that_never_happened_is_saved_once_on_retry(erp_sim, kind, saves):
    options = {"retry_after": 0} if kind == "http429" else {}
    erp_sim.state.fail_next(1, kind, service="Save", **options)
    with make_erp(erp_sim) as erp:
        erp.push("receipt", receipt("RCV-NEVER"), "RCV-NEVER")
    assert len(instock_bills(erp_sim, "RCV-NEVER")) == 1
    assert calls(erp_sim, "Save") == saves


@pytest.mark.parametrize("op", ["Submit", "Audit"])
def test_lost_answer_after_submit_or_audit_resumes_the_same_bill(erp_sim, op):
    erp_sim.state.fail_next(1, "reset", service=op)  # reset fires after the work is done
    with make_erp(erp_sim) as erp:
        erp.push("receipt", receipt("RCV-STEP"), "RCV-STEP")
    [bill] = instock_bills(erp_sim, "RCV-STEP")
    assert bill["FDocumentStatus"] == "C"
    assert (calls(erp_sim, "Save"), calls(erp_sim, "Submit"), calls(erp_sim, "Audit")) == (1, 1, 1)


def test_push_failing_every_attempt_is_retriable_and_a_rerun_posts_once(erp_sim):
    erp_sim.state.fail_next(4, "http500", service="Submit")
    with make_erp(erp_sim) as erp:
        with pytest.raises(RetriableError) as info:
            erp.push("receipt", receipt("RCV-LATER"), "RCV-LATER")
        assert info.value.code == "KINGDEE_UNAVAILABLE" and "Submit" in info.value.message
        # the bill was saved once; every attempt resumed it instead of saving another
        assert [b["FDocumentStatus"] for b in instock_bills(erp_sim, "RCV-LATER")] == ["A"]
        assert calls(erp_sim, "Submit") == 4
        erp.push("receipt", receipt("RCV-LATER"), "RCV-LATER")  # the scheduler's rerun
    [bill] = instock_bills(erp_sim, "RCV-LATER")
    assert bill["FDocumentStatus"] == "C" and calls(erp_sim, "Save") == 1


def test_session_expired_during_push_relogs_in_and_posts_once(erp_sim):
    erp_sim.state.fail_next(1, "session_expired", service="Save")
    with make_erp(erp_sim) as erp:
        erp.push("receipt", receipt("RCV-SESSION"), "RCV-SESSION")
    assert len(instock_bills(erp_sim, "RCV-SESSION")) == 1 and erp_sim.state.login_count == 2


def test_field_rejection_is_skippable_and_not_retried(erp_sim):
    with make_erp(erp_sim) as erp, pytest.raises(SkippableError) as info:
        erp.push("receipt", receipt("RCV-BIG", qty="9999"), "RCV-BIG")  # the PO line holds 500
    assert info.value.code == "KINGDEE_REJECTED" and "FRealQty" in info.value.message
    assert "RCV-BIG" in info.value.message and calls(erp_sim, "Save") == 1


def test_wrong_password_on_push_is_fatal(erp_sim):
    with make_erp(erp_sim, password="wrong") as erp, pytest.raises(FatalError) as info:
        erp.push("receipt", receipt("RCV-AUTH"), "RCV-AUTH")
    assert info.value.code == "KINGDEE_LOGIN_FAILED" and erp_sim.state.sessions == {}


# ----------------------------------------------------------------------------- classification (pure)


def test_call_limit_msgcode_14_is_retriable():
    payload = {"Result": {"ResponseStatus": {"IsSuccess": False, "MsgCode": 14, "ErrorCode": 500,
                                             "Errors": [{"FieldName": None, "Message": "接口调用次数超限"}]}}}
    with pytest.raises(RetriableError) as info:
        errors.check_operation(payload, "Save", "STK_InStock", "X", "kingdee", ())
    assert info.value.code == "KINGDEE_RATE_LIMITED"
    with pytest.raises(RetriableError):
        errors.check_query([[payload]], "PUR_PurchaseOrder", "kingdee", ())


@pytest.mark.parametrize("header, seconds", [
    ("5", 5.0), ("0.25", 0.25), ("-3", 0.0), ("soon", None), ("", None), (None, None),
    ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
])
def test_retry_after_header_forms(header, seconds):
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.timezone.utc)
    assert errors.retry_after_seconds(header, now=now) == seconds
