"""Every simulator fault against both U9 clients' pulls: retried or classified, nothing lost, nothing doubled."""
from __future__ import annotations

import pytest

from hub.errors import FatalError, RetriableError

from tests.adapters.u9.conftest import cloud_erp, soap_erp, transport
from tests.adapters.u9.test_pull import expected_keys

#: a fault on the second page of purchase orders, per transport
PAGE_TARGET = {"soap": "IQueryPOSRV", "rest": "PM_PurchaseOrder"}


def keys(erp, entity: str = "purchase_orders") -> list[str]:
    return [r.key for r in erp.pull(entity, None)]


@pytest.fixture(params=["u9", "u9cloud"])
def small_pages(request, sim):
    """Clients with pages of 5, so 15 purchase orders take three pages and page 2 can be hit."""
    factory = soap_erp if request.param == "u9" else cloud_erp
    with factory(sim, page_size=5) as client:
        yield client


@pytest.mark.parametrize("kind", ["http500", "http429", "busy", "malformed", "reset", "session_expired",
                                  "token_invalid"])
def test_a_transient_fault_on_page_two_is_retried_and_nothing_is_lost_or_doubled(sim, small_pages, kind):
    erp = small_pages
    sim.state.fail_next(kind, target=PAGE_TARGET[transport(erp)], skip=1, retry_after=0)
    got = keys(erp)
    assert sorted(got) == expected_keys(sim, "purchase_orders")
    assert len(got) == len(set(got)) == 15
    assert sim.state.faults() == []  # the fault really struck


@pytest.mark.parametrize("kind", ["http500", "malformed", "reset", "busy"])
def test_without_retries_the_fault_is_retriable_and_a_rerun_gets_everything(sim, kind):
    for factory, target in ((soap_erp, "IQueryPOSRV"), (cloud_erp, "PM_PurchaseOrder")):
        sim.state.fail_next(kind, target=target, skip=1)
        with factory(sim, max_attempts=1, page_size=5) as erp:
            seen = []
            with pytest.raises(RetriableError) as caught:
                for record in erp.pull("purchase_orders", None):
                    seen.append(record.key)
            assert seen == expected_keys(sim, "purchase_orders")[:5] or len(seen) == 5  # page 1 came through
            assert caught.value.code.endswith(("UNAVAILABLE", "BAD_RESPONSE", "BUSY", "SERVER_ERROR"))
            assert sorted(keys(erp)) == expected_keys(sim, "purchase_orders")  # the task's rerun


def test_a_page_that_repeats_rows_yields_each_record_once(sim, small_pages):
    erp = small_pages
    sim.state.fail_next("repeat_page", target=PAGE_TARGET[transport(erp)], skip=1, count=2)
    got = keys(erp)
    assert sorted(got) == expected_keys(sim, "purchase_orders") and len(got) == len(set(got))


def test_repeated_line_rows_do_not_double_order_lines(sim):
    with cloud_erp(sim) as erp:
        list(erp.pull("purchase_orders", None))  # the simulator remembers the last PM_POLine result
        sim.state.fail_next("repeat_page", target="PM_POLine")
        records = list(erp.pull("purchase_orders", None))
    for record in records:
        ids = [line["ID"] for line in record.data["POLines"]]
        assert len(ids) == len(set(ids)) and ids
    assert sim.state.faults() == []


@pytest.mark.parametrize("factory", [soap_erp, cloud_erp])
def test_a_page_of_nothing_but_repeats_is_retriable_not_an_endless_loop(sim, factory):
    target = "IQueryPOSRV" if factory is soap_erp else "PM_PurchaseOrder"
    sim.state.fail_next("stale_page", target=target, skip=1, count=50)
    with factory(sim, page_size=5, max_attempts=2) as erp:
        seen = []
        with pytest.raises(RetriableError) as caught:
            for record in erp.pull("purchase_orders", None):
                seen.append(record.key)
    assert caught.value.code in ("U9_BAD_PAGING", "U9C_BAD_PAGING")
    assert len(seen) == len(set(seen)) == 5


def test_latency_beyond_the_timeout_is_retriable_and_a_shorter_one_is_just_slow(sim, erp):
    sim.state.fail_next("latency", seconds=0.01, target=transport(erp))
    assert sorted(keys(erp, "suppliers")) == expected_keys(sim, "suppliers")
    slow = soap_erp(sim, max_attempts=1, timeout=0.3) if erp.system == "u9" else cloud_erp(sim, max_attempts=1,
                                                                                         timeout=0.3)
    with slow:
        list(slow.pull("suppliers", None))  # WSDL / token fetched before the stall
        sim.state.fail_next("latency", seconds=30, target=transport(erp))
        try:
            with pytest.raises(RetriableError) as caught:
                list(slow.pull("suppliers", None))
        finally:
            sim.state.release_stalled()
    assert caught.value.code in ("U9_UNAVAILABLE", "U9C_UNAVAILABLE") and "timed out" in caught.value.message


def test_429_retry_after_is_honoured_then_retried(sim, erp):
    pauses: list[float] = []
    erp.hook.retrier.sleep = pauses.append
    erp.hook.retrier.max_retry_after = 5
    sim.state.fail_next("http429", target=transport(erp), retry_after=3)
    assert sorted(keys(erp, "suppliers")) == expected_keys(sim, "suppliers")
    assert pauses == [3.0]


def test_a_long_retry_after_is_reported_when_attempts_run_out(sim):
    with soap_erp(sim, max_attempts=1) as erp:
        sim.state.fail_next("http429", target="IQuerySupplierSV", retry_after=120)
        with pytest.raises(RetriableError) as caught:
            keys(erp, "suppliers")
    assert "retry after 120s" in caught.value.message and caught.value.code == "U9_UNAVAILABLE"


def test_rest_token_expiry_logs_in_again_once(sim):
    with cloud_erp(sim) as erp:
        keys(erp, "suppliers")
        logins = sim.state.login_count
        sim.state.expire_tokens()
        assert sorted(keys(erp, "suppliers")) == expected_keys(sim, "suppliers")
        assert sim.state.login_count == logins + 1


def test_rest_token_invalidated_by_another_login_is_recovered(sim):
    with cloud_erp(sim) as erp, cloud_erp(sim) as other:
        keys(erp, "suppliers")
        keys(other, "suppliers")  # same client id: erp's token is now invalid (ResCode 504)
        assert sorted(keys(erp, "suppliers")) == expected_keys(sim, "suppliers")


def test_rest_token_refused_right_after_a_fresh_login_is_fatal(sim):
    with cloud_erp(sim, max_attempts=1) as erp:
        sim.state.fail_next("session_expired", count=2, target="QueryInfoBySql")
        with pytest.raises(FatalError) as caught:
            keys(erp, "suppliers")
    assert caught.value.code == "U9C_TOKEN_LOST" and "client_id" in caught.value.message


def test_soap_service_lost_twice_is_retriable_once_is_invisible(sim):
    with soap_erp(sim, max_attempts=1) as erp:
        sim.state.fail_next("session_expired", target="IQuerySupplierSV")
        assert sorted(keys(erp, "suppliers")) == expected_keys(sim, "suppliers")
        sim.state.fail_next("session_expired", count=2, target="IQuerySupplierSV")
        with pytest.raises(RetriableError) as caught:
            keys(erp, "suppliers")
    assert caught.value.code == "U9_SERVICE_LOST"


def test_a_persistent_fault_surfaces_after_the_bounded_attempts(sim, erp):
    sim.state.fail_next("http500", count=50, target=PAGE_TARGET[transport(erp)])
    before = len(sim.state.calls)
    with pytest.raises(RetriableError):
        keys(erp)
    assert len([c for c in sim.state.calls[before:] if transport(erp) in c]) <= 4 + 2  # 4 attempts (+ WSDL/login)
