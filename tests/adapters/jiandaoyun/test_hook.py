"""JiandaoyunHook against the simulator over real HTTP: paging, filters, writes, every fault
retried or classified, nothing lost and nothing doubled."""
from __future__ import annotations

import uuid

import pytest

from adapters.jiandaoyun import JiandaoyunHook
from adapters.jiandaoyun.hook import all_of, condition, wrap_values
from hub.errors import FatalError, RetriableError, SkippableError
from simulators.jiandaoyun import DEMO_FORMS, Fault
from tests.adapters.jiandaoyun.conftest import API_KEY, SleepRecorder, calls, config_for

ORDERS = DEMO_FORMS["production_order"]
ASN = DEMO_FORMS["asn"]


def seed_orders(sim, n: int) -> list[str]:
    spec = sim.state.forms[ORDERS]
    ids = []
    for i in range(n):
        record = sim.state.create(spec, wrap_values({"order_id": f"MO-T-{i:04d}", "material_id": "3.01.0001",
                                                     "quantity": i + 1, "uom": "H87", "status": "计划"}))
        ids.append(record["_id"])
    return ids


def all_ids(sim, entry_id: str) -> list[str]:
    return [r["_id"] for r in sim.state.all_records(entry_id)]


# ----------------------------------------------------------------------------- reads


def test_paging_walks_every_record_once_in_id_order(sim, hook):
    seed_orders(sim, 23)
    got = [r["_id"] for r in hook.iter_records(ORDERS, page_size=10)]
    assert got == all_ids(sim, ORDERS) and len(got) == 25
    assert calls(sim, "data/list") == 3  # 10 + 10 + 5: the short page ends the walk


def test_exact_multiple_of_the_page_size_ends_on_an_empty_page(sim, hook):
    seed_orders(sim, 8)  # 2 seeded + 8
    assert len(list(hook.iter_records(ORDERS, page_size=5))) == 10
    assert calls(sim, "data/list") == 3


def test_filter_and_fields_reach_the_server(sim, hook):
    seed_orders(sim, 12)
    flt = all_of(condition("quantity", "number", "gt", [9]), condition("status", "radiogroup", "eq", ["计划"]))
    got = list(hook.iter_records(ORDERS, filter=flt, fields=["order_id", "quantity"], page_size=2))
    assert {r["order_id"] for r in got} == {"MO-JDY-0002", "MO-T-0009", "MO-T-0010", "MO-T-0011"}
    assert all(set(r) == {"_id", "order_id", "quantity"} for r in got)


def test_a_repeated_page_loses_and_doubles_nothing(sim, hook):
    seed_orders(sim, 28)
    sim.state.arm_fault(Fault("repeat_page", count=2))
    got = [r["_id"] for r in hook.iter_records(ORDERS, page_size=10)]
    assert got == all_ids(sim, ORDERS)  # every record, each once, in order


def test_a_page_that_starts_a_few_records_early_loses_and_doubles_nothing(sim, hook):
    seed_orders(sim, 28)
    sim.state.arm_fault(Fault("repeat_page", count=1, rows=3))
    assert [r["_id"] for r in hook.iter_records(ORDERS, page_size=10)] == all_ids(sim, ORDERS)


def test_a_server_that_never_pages_fails_retriable_instead_of_looping(sim, hook):
    seed_orders(sim, 28)
    sim.state.arm_fault(Fault("repeat_page", count=None, probability=0.999999))
    with pytest.raises(RetriableError) as info:
        list(hook.iter_records(ORDERS, page_size=10))
    assert info.value.code == "JDY_PAGING"
    assert calls(sim, "data/list") == 4  # first page, then three pages with nothing new


@pytest.mark.parametrize("fault", [
    Fault("http5xx", count=2, route="data/list"),
    Fault("http5xx", status=503, count=1),
    Fault("malformed_json", count=1),
    Fault("disconnect", count=1),
    Fault("reset", count=1),
    Fault("rate_limit", count=2),
    Fault("rate_limit", code=8303, count=1),
    Fault("http429", count=1, retry_after=2),
    Fault("latency", count=1, delay=0.05),
])
def test_transient_faults_on_reads_are_retried_and_nothing_is_lost(sim, hook, fault):
    seed_orders(sim, 13)
    sim.state.arm_fault(fault)
    assert [r["_id"] for r in hook.iter_records(ORDERS, page_size=5)] == all_ids(sim, ORDERS)
    assert sim.state.faults.active() == []  # the fault did fire
    if fault.kind == "http429":
        assert hook.sleep.pauses == [2.0]  # Retry-After honoured
    elif fault.kind != "latency":
        assert hook.sleep.pauses[:1] == [0.01]  # backoff from backoff_seconds, doubling


def test_rate_limit_backoff_is_bounded(sim, hook):
    sim.state.arm_fault(Fault("rate_limit", count=10))
    with pytest.raises(RetriableError) as info:
        list(hook.iter_records(ORDERS))
    assert info.value.code == "JDY_RATE_LIMITED" and "8304" in info.value.message
    assert calls(sim, "data/list") == 4 and hook.sleep.pauses == [0.01, 0.02, 0.04]


def test_the_real_endpoint_rate_limit_is_survived_with_real_backoff(sim):
    seed_orders(sim, 8)
    sim.state.limits["app/entry/data/list"] = 1  # one call per second
    with JiandaoyunHook(config_for(sim, backoff_seconds=0.3, max_attempts=6)) as hook:
        got = [r["_id"] for r in hook.iter_records(ORDERS, page_size=4)]
    assert got == all_ids(sim, ORDERS)


def test_token_invalid_is_fatal_and_not_retried(sim, hook):
    sim.state.arm_fault(Fault("token_invalid"))
    with pytest.raises(FatalError) as info:
        list(hook.iter_records(ORDERS))
    assert info.value.code == "JDY_AUTH" and calls(sim, "data/list") == 1
    assert API_KEY not in info.value.as_line()


def test_a_wrong_api_key_is_fatal(sim):
    with JiandaoyunHook(config_for(sim, api_key="not-the-key-x")) as hook:
        with pytest.raises(FatalError) as info:
            hook.get(ORDERS, all_ids(sim, ORDERS)[0])
    assert info.value.code == "JDY_AUTH" and "8301" in info.value.message and "not-the-key-x" not in str(info.value)


def test_error_envelope_codes_are_classified(sim, hook):
    with pytest.raises(FatalError) as info:
        list(hook.iter_records("0" * 24))
    assert info.value.code == "JDY_CONFIG" and "3000" in info.value.message
    with pytest.raises(FatalError) as info:
        list(hook.iter_records(ORDERS, filter=all_of(condition("quantity", "number", "like", ["1"]))))
    assert info.value.code == "JDY_REQUEST" and "4815" in info.value.message
    with pytest.raises(SkippableError) as info:
        hook.update(ORDERS, "f" * 24, {"quantity": 1})
    assert info.value.code == "JDY_REJECTED" and "4001" in info.value.message and "f" * 24 in info.value.where
    with pytest.raises(FatalError) as info:
        hook.create(ORDERS, {"no_such_field": 1})
    assert info.value.code == "JDY_REQUEST" and "17017" in info.value.message
    with JiandaoyunHook(config_for(sim, app_id="1" * 24)) as other:
        with pytest.raises(FatalError) as info:
            other.get(ORDERS, "x")
    assert info.value.code == "JDY_CONFIG" and "2004" in info.value.message


def test_a_wrong_base_url_is_fatal_http(sim):
    with JiandaoyunHook(config_for(sim, base_url=f"{sim.base_url}/wrong")) as hook:
        with pytest.raises(FatalError) as info:
            hook.widgets(ORDERS)
    assert info.value.code == "JDY_HTTP" and "404" in info.value.message


def test_unreachable_server_is_retriable_and_unprocessed():
    from adapters.jiandaoyun.config import JiandaoyunConfig
    cfg = JiandaoyunConfig(base_url="http://127.0.0.1:9/api", api_key="k", app_id="a", max_attempts=2,
                           backoff_seconds=0, max_calls_per_second=0, timeout=2)
    with JiandaoyunHook(cfg) as hook:
        with pytest.raises(RetriableError) as info:
            hook.create("f", {"a": 1})
    assert info.value.code == "JDY_UNAVAILABLE" and info.value.unprocessed


# ----------------------------------------------------------------------------- writes


def test_create_update_get_round_trip_with_subform_replaced_wholesale(sim, hook):
    record = hook.create(ASN, {"asn_number": "ASN-1", "ship_date": "2026-12-01T00:00:00+08:00",
                               "lines": [{"material_id": "A", "quantity": 1}, {"material_id": "B", "quantity": 2}]})
    assert record["ship_date"] == "2026-11-30T16:00:00.000Z"
    keep = record["lines"][1]["_id"]
    updated = hook.update(ASN, record["_id"], {"lines": [{"_id": keep, "material_id": "B", "quantity": 5},
                                                         {"material_id": "C", "quantity": 3}]})
    assert [row["material_id"] for row in updated["lines"]] == ["B", "C"]
    assert updated["lines"][0]["_id"] == keep and updated["lines"][1]["_id"] != record["lines"][0]["_id"]
    assert hook.get(ASN, record["_id"]) == updated


def test_create_is_not_repeated_after_an_ambiguous_failure(sim, hook):
    sim.state.arm_fault(Fault("http5xx", after=True, route="data/create"))
    with pytest.raises(RetriableError):
        hook.create(ASN, {"asn_number": "ASN-2"})
    assert calls(sim, "data/create") == 1 and len(all_ids(sim, ASN)) == 1  # stored once, never twice


def test_create_is_repeated_when_the_server_refused_it(sim, hook):
    sim.state.arm_fault(Fault("rate_limit", route="data/create"))
    hook.create(ASN, {"asn_number": "ASN-3"})
    assert calls(sim, "data/create") == 2 and len(all_ids(sim, ASN)) == 1


def test_batch_create_under_a_reset_creates_no_duplicates(sim, hook):
    sim.state.arm_fault(Fault("reset", route="batch_create"))  # the batch is stored, its answer is lost
    tx = str(uuid.uuid4())
    ids = hook.batch_create(ASN, [{"asn_number": f"ASN-B{i}"} for i in range(5)], transaction_id=tx)
    assert calls(sim, "batch_create") == 2 and len(ids) == 5
    assert all_ids(sim, ASN) == ids
    # and a whole rerun of the same call (e.g. the task retried) still adds nothing
    assert hook.batch_create(ASN, [{"asn_number": f"ASN-B{i}"} for i in range(5)], transaction_id=tx) == ids
    assert len(all_ids(sim, ASN)) == 5


def test_batch_create_over_100_uses_stable_chunk_transactions(sim, hook):
    tx = str(uuid.uuid4())
    data = [{"asn_number": f"ASN-C{i:03d}"} for i in range(130)]
    sim.state.arm_fault(Fault("disconnect", after=True, route="batch_create"))  # the first chunk's answer is lost
    ids = hook.batch_create(ASN, data, transaction_id=tx)
    assert len(ids) == 130 == len(set(ids)) == len(all_ids(sim, ASN))
    assert hook.batch_create(ASN, data, transaction_id=tx) == ids and len(all_ids(sim, ASN)) == 130


def test_batch_update_and_delete(sim, hook):
    ids = hook.batch_create(ASN, [{"asn_number": f"ASN-D{i}"} for i in range(3)], transaction_id=str(uuid.uuid4()))
    assert hook.batch_update(ASN, ids, {"asn_status": "作废"}) == 3
    assert {r["asn_status"] for r in sim.state.all_records(ASN)} == {"作废"}
    hook.delete(ASN, ids[0])
    assert all_ids(sim, ASN) == ids[1:]


def test_client_throttle_spaces_calls(sim):
    with JiandaoyunHook(config_for(sim, max_calls_per_second=4)) as hook:
        recorder = SleepRecorder()
        hook.sleep = recorder
        clock = iter([0.0, 0.0, 0.0])
        hook._clock = lambda: next(clock)
        for _ in range(3):
            hook.widgets(ORDERS)
    assert recorder.pauses == [0.25, 0.5]
