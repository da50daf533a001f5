"""Every simulator fault against OpcenterMes: retried or classified, nothing lost, nothing doubled.

Baselines come from the simulator's own tables, never from a second adapter run, so a fault that
silently drops or repeats data cannot hide behind itself.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from adapters.opcenter import errors
from canonical_model.documents import Batch
from hub.errors import FatalError, RetriableError

from tests.adapters.opcenter.conftest import calls, make_mes

PAGE = 2


def orders_in_simulator(sim) -> dict[str, str]:
    return {o["NId"]: o["Id"] for o in sim.state.rows("Order")}


def pulled_orders(mes) -> dict[str, str]:
    seen: dict[str, str] = {}
    for record in mes.pull_production_orders(None):
        assert record.key not in seen, f"{record.key} pulled twice"
        seen[record.key] = record.data["Id"]
    return seen


def add_orders(sim, n: int = 5) -> None:
    start = dt.datetime(2026, 12, 10, tzinfo=dt.timezone.utc)
    for i in range(n):
        sim.state.add_order(f"MO-F-{i:02d}", "3.01.0007", 10, "PCS", start, start + dt.timedelta(days=1))


def incoming(status: str = "released") -> Batch:
    return Batch(batch_id="BCGDD000101-1", material_id="1.02.0033", supplier_id="SUP-001", quantity="500", uom="H87",
                 status=status)


# ----------------------------------------------------------------------------- pulls


@pytest.mark.parametrize("kind, options", [
    ("http500", {}), ("http503", {}), ("http429", {"retry_after": 0}), ("malformed_json", {}), ("reset", {}),
    ("disconnect", {}), ("latency", {"delay": 0.05}), ("xml_bomb", {}),
])
def test_pull_survives_transient_faults_with_every_order_exactly_once(sim, kind, options):
    add_orders(sim)
    expected = orders_in_simulator(sim)
    sim.state.fail_next(2, kind, service="Order", **options)
    with make_mes(sim, page_size=PAGE) as mes:
        assert pulled_orders(mes) == expected
    assert sim.state.faults.active() == []  # both faults fired ...
    pages = len(expected) // PAGE + 1
    if kind != "latency":
        assert calls(sim, "GET Order") == pages + 2  # ... and cost one repeated call each


def test_token_expiry_mid_pull_renews_once_and_loses_nothing(sim):
    add_orders(sim)
    expected = orders_in_simulator(sim)
    with make_mes(sim, page_size=PAGE) as mes:
        records = mes.pull_production_orders(None)
        first = [next(records).key for _ in range(PAGE)]
        sim.state.fail_next(1, "token_expired", service="Order")
        rest = [r.key for r in records]
    assert sorted(first + rest) == sorted(expected) and sim.state.token_count == 2


def test_token_endpoint_trouble_is_retried_like_any_call(sim):
    sim.state.fail_next(1, "http503", service="token")
    with make_mes(sim) as mes:
        assert len(pulled_orders(mes)) == 3
    assert calls(sim, "token") == 2


def test_timeout_is_retried_once_released(sim):
    sim.state.fail_next(1, "timeout", service="Order")
    with make_mes(sim, timeout=0.3) as mes:
        assert len(pulled_orders(mes)) == 3
    sim.state.release_stalled()


def test_persistent_5xx_is_retriable_after_the_attempt_budget(sim):
    sim.state.fail_next(10, "http500", service="Order")
    with make_mes(sim, max_attempts=3) as mes, pytest.raises(RetriableError) as info:
        list(mes.pull_production_orders(None))
    assert info.value.code == "OPCENTER_UNAVAILABLE" and "HTTP 500" in info.value.message
    assert calls(sim, "GET Order") == 3


def test_consumption_pull_survives_faults_on_each_of_its_reads(sim):
    sim.state.add_lot("L-X", "1.02.0041", 10, "PCS", "Released")
    sim.state.consume("MO-2026-0002", "L-X", 4)
    sim.state.fail_next(1, "http500", service="MaterialConsumption")
    sim.state.fail_next(1, "malformed_json", service="MaterialLot")
    sim.state.fail_next(1, "reset", service="MaterialConsumption")
    with make_mes(sim, page_size=PAGE) as mes:
        keys = [r.key for r in mes.pull_consumption(None)]
    assert sorted(keys) == ["L-1.03.0100-0001", "L-X"] and sim.state.faults.active() == []


# ----------------------------------------------------------------------------- pushes: answer lost after the work


PUSHES = {
    "CreateMaterialLot": lambda mes: mes.push_incoming_batch(incoming("quarantined")),
    "SetOrderMaterialAvailability": lambda mes: mes.push_material_availability(
        "MO-2026-0002", "1.02.0033", available_quantity=Decimal(500), uom="H87", expected_arrival=dt.date(2026, 12, 3)),
    "ProposeScheduleChange": lambda mes: mes.propose_schedule_change(
        "PCH-1", "MO-2026-0002", reason="late", proposed_start=dt.datetime(2026, 12, 5, 8)),
}
CREATED = {"CreateMaterialLot": ("MaterialLot", "BCGDD000101-1"),
           "SetOrderMaterialAvailability": ("OrderMaterialAvailability", "MO-2026-0002/1.02.0033"),
           "ProposeScheduleChange": ("ScheduleChangeProposal", "PCH-1")}


def created(sim, command: str) -> list[dict]:
    """The objects the push wrote (seeded demo rows of the same set do not count)."""
    entity_set, nid = CREATED[command]
    return [row for row in sim.state.rows(entity_set) if row["NId"] == nid]


@pytest.mark.parametrize("command", list(PUSHES))
@pytest.mark.parametrize("kind", ["http500", "http503", "malformed_json", "reset", "disconnect", "timeout"])
def test_lost_answer_of_a_write_does_not_double_it(sim, command, kind):
    sim.state.fail_next(1, kind, service=command, after=True)
    with make_mes(sim, timeout=0.5) as mes:
        result = PUSHES[command](mes)
    sim.state.release_stalled()
    (written,) = created(sim, command)
    assert result == written["Id"]
    assert calls(sim, f"POST {command}") == 1  # the rerun found the object instead of posting again


@pytest.mark.parametrize("command", list(PUSHES))
def test_without_retries_a_lost_answer_is_retriable_and_the_rerun_doubles_nothing(sim, command):
    sim.state.fail_next(1, "http500", service=command, after=True)
    with make_mes(sim, max_attempts=1) as mes:
        with pytest.raises(RetriableError):
            PUSHES[command](mes)
        assert len(created(sim, command)) == 1  # the work happened ...
        again = PUSHES[command](mes)  # ... the scheduler's rerun finds it
    (written,) = created(sim, command)
    assert again == written["Id"]


@pytest.mark.parametrize("command", list(PUSHES))
@pytest.mark.parametrize("kind, options", [("http429", {"retry_after": 0}), ("token_expired", {})])
def test_refused_writes_are_repeated_once_and_done_once(sim, command, kind, options):
    sim.state.fail_next(1, kind, service=command, **options)
    with make_mes(sim) as mes:
        result = PUSHES[command](mes)
    (written,) = created(sim, command)
    assert result == written["Id"] and calls(sim, f"POST {command}") == 2


def test_status_change_answer_lost_is_resolved_by_looking_again(sim):
    with make_mes(sim) as mes:
        lot_id = mes.push_incoming_batch(incoming("quarantined"))
        sim.state.fail_next(1, "disconnect", service="SetMaterialLotStatus", after=True)
        assert mes.push_incoming_batch(incoming("released")) == lot_id
    (lot,) = created(sim, "CreateMaterialLot")
    assert lot["Status"]["StatusNId"] == "Released"
    assert calls(sim, "POST SetMaterialLotStatus") == 1  # the look-up saw Released; no second verb


def test_hostile_xml_answer_to_a_command_is_classified_and_the_rerun_is_clean(sim):
    sim.state.fail_next(1, "xml_xxe", service="ProposeScheduleChange")
    with make_mes(sim, max_attempts=1) as mes:
        with pytest.raises(errors.OpcenterRetriable) as info:
            PUSHES["ProposeScheduleChange"](mes)
        assert info.value.code == "OPCENTER_BAD_RESPONSE" and "root:" not in str(info.value)
        PUSHES["ProposeScheduleChange"](mes)
    assert len(sim.state.rows("ScheduleChangeProposal")) == 1


def test_bad_credentials_stop_a_push_before_it_writes(sim):
    with make_mes(sim, client_secret="wrong-0000") as mes, pytest.raises(FatalError) as info:
        PUSHES["CreateMaterialLot"](mes)
    assert info.value.code == "OPCENTER_AUTH_FAILED" and created(sim, "CreateMaterialLot") == []
