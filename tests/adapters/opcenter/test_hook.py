"""OpcenterHook against the simulator: tokens, keyset paging, classification, hostile XML."""
from __future__ import annotations

import datetime as dt
import socket
import time

import pytest

from adapters.opcenter import errors
from adapters.opcenter.hook import odata_datetime, odata_key, odata_string
from hub.errors import FatalError, RetriableError, SkippableError

from adapters.opcenter import OpcenterHook

from tests.adapters.opcenter.conftest import CLIENT_SECRET, PASSWORD, USER, calls, config, make_hook


def order_ids(sim) -> list[str]:
    return sorted(o["Id"] for o in sim.state.rows("Order"))


def add_orders(sim, n: int) -> None:
    start = dt.datetime(2026, 12, 10, tzinfo=dt.timezone.utc)
    for i in range(n):
        sim.state.add_order(f"MO-GEN-{i:04d}", "3.01.0007", 10 + i, "PCS", start, start + dt.timedelta(days=1))


def test_literals_cannot_break_out_of_a_filter():
    assert odata_string("O'Brien") == "'O''Brien'"
    assert odata_key("5B0C2A3E-8F51-4C7E-9E3A-2F4A1D6B7C80") == "5B0C2A3E-8F51-4C7E-9E3A-2F4A1D6B7C80"
    assert odata_key("x' or 1 eq 1") == "'x'' or 1 eq 1'"
    assert odata_datetime(dt.datetime(2026, 12, 1, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))) \
        == "2026-12-01T08:30:00Z"


# ----------------------------------------------------------------------------- tokens


def test_one_token_serves_many_calls(sim):
    with make_hook(sim) as hook:
        for _ in range(3):
            list(hook.query("PIOrder", "Order"))
    assert sim.state.token_count == 1 and calls(sim, "token") == 1


def test_expired_token_is_renewed_once_and_the_call_repeated(sim):
    with make_hook(sim) as hook:
        list(hook.query("PIOrder", "Order"))
        sim.state.expire_tokens()
        assert len(list(hook.query("PIOrder", "Order"))) == 3
    assert sim.state.token_count == 2


def test_a_token_refused_again_right_after_renewal_is_fatal(sim):
    sim.state.token_lifetime = 0  # every token is dead on arrival
    with make_hook(sim, max_attempts=3) as hook, pytest.raises(FatalError) as info:
        list(hook.query("PIOrder", "Order"))
    assert info.value.code == "OPCENTER_TOKEN_REFUSED" and sim.state.token_count == 2


def test_bad_client_secret_is_fatal_and_never_shown(sim):
    with make_hook(sim, client_secret="wrong-secret-5a5a", max_attempts=4) as hook, pytest.raises(FatalError) as info:
        list(hook.query("PIOrder", "Order"))
    assert info.value.code == "OPCENTER_AUTH_FAILED" and "invalid_client" in info.value.message
    assert "wrong-secret-5a5a" not in str(info.value) and calls(sim, "token") == 1  # fatal: not retried


def test_password_grant_uses_the_refresh_token_when_the_token_runs_out(sim):
    sim.state.token_lifetime = 3600
    with make_hook(sim, grant_type="password", username=USER, password=PASSWORD) as hook:
        list(hook.query("PIOrder", "Order"))
        first_refresh = hook._refresh_token
        assert first_refresh is not None
        hook._token_deadline = time.monotonic() - 1  # as if expires_in had passed
        list(hook.query("PIOrder", "Order"))
    assert sim.state.grants == ["password", "refresh_token"]
    assert first_refresh not in sim.state.refresh_tokens  # spent; the server rotated it


def test_bad_user_password_is_fatal(sim):
    with make_hook(sim, grant_type="password", username=USER, password="nope-0000") as hook, \
            pytest.raises(FatalError) as info:
        list(hook.query("PIOrder", "Order"))
    assert info.value.code == "OPCENTER_AUTH_FAILED" and "invalid_grant" in info.value.message
    assert "nope-0000" not in str(info.value)


def test_no_error_message_carries_the_bearer_token(sim):
    with make_hook(sim) as hook:
        list(hook.query("PIOrder", "Order"))
        token = hook._token
        with pytest.raises(FatalError) as info:
            list(hook.query("PIOrder", "NoSuchSet"))
    assert token and token not in str(info.value) and CLIENT_SECRET not in str(info.value)


# ----------------------------------------------------------------------------- paging


def test_keyset_paging_returns_every_entity_once(sim):
    add_orders(sim, 9)
    with make_hook(sim, page_size=4) as hook:
        ids = [row["Id"] for row in hook.query("PIOrder", "Order")]
    assert sorted(ids) == order_ids(sim) and len(ids) == 12
    assert calls(sim, "GET Order") == 3 + 1  # 4+4+4, then an empty page closes a full last page


def test_a_server_capping_top_is_followed_by_key(sim):
    add_orders(sim, 9)
    sim.state.max_page_size = 5
    with make_hook(sim, page_size=100) as hook:
        ids = [row["Id"] for row in hook.query("PIOrder", "Order")]
    assert sorted(ids) == order_ids(sim)


def test_changes_between_pages_neither_lose_nor_repeat(sim):
    add_orders(sim, 9)
    before = set(order_ids(sim))
    with make_hook(sim, page_size=4) as hook:
        rows = hook.query("PIOrder", "Order")
        seen = [next(rows)["Id"] for _ in range(4)]
        # between two pages: one order is deleted, one changes, one is added
        victim, changed = sorted(before - set(seen))[:2]
        with sim.state.lock:
            del sim.state.sets["Order"][victim]
        sim.state.set_order_status(sim.state.sets["Order"][changed]["NId"], "Active")
        sim.state.add_order("MO-LATE", "3.01.0007", 1, "PCS", dt.datetime(2026, 12, 20, tzinfo=dt.timezone.utc),
                            dt.datetime(2026, 12, 21, tzinfo=dt.timezone.utc))
        seen += [row["Id"] for row in rows]
    assert len(seen) == len(set(seen))
    assert before - {victim} <= set(seen)


def test_filter_selects_by_change_time(sim):
    with make_hook(sim) as hook:
        rows = list(hook.query("PIOrder", "Order", "LastUpdatedOn ge 2026-11-30T00:00:00Z"))
    assert sorted(r["NId"] for r in rows) == ["MO-2026-0002", "MO-2026-0003"]


# ----------------------------------------------------------------------------- classification


def test_unknown_entity_set_is_fatal_not_found(sim):
    with make_hook(sim) as hook, pytest.raises(FatalError) as info:
        list(hook.query("PIOrder", "NoSuchSet"))
    assert info.value.code == "OPCENTER_NOT_FOUND" and "NoSuchSet" in info.value.message


def test_wrong_plant_id_is_fatal_not_found(sim):
    with make_hook(sim, plant_id="PLANT99") as hook, pytest.raises(FatalError) as info:
        list(hook.query("PIOrder", "Order"))
    assert info.value.code == "OPCENTER_NOT_FOUND"
    with make_hook(sim, plant_id="PLANT01") as hook:
        assert len(list(hook.query("PIOrder", "Order"))) == 3


def test_a_filter_the_server_refuses_is_fatal_with_its_words(sim):
    with make_hook(sim) as hook, pytest.raises(FatalError) as info:
        list(hook.query("PIOrder", "Order", "Colour eq 'red'"))
    assert info.value.code == "OPCENTER_QUERY_INVALID" and "Colour" in info.value.message


def test_command_rejection_is_skippable_in_both_error_shapes(sim):
    with make_hook(sim) as hook:
        with pytest.raises(SkippableError) as platform:
            hook.command("Material", "CreateMaterialLot", {"NId": "L1", "MaterialNId": "9.99",
                                                           "Quantity": {"QuantityValue": 1, "UoMNId": "PCS"}}, key="L1")
        with pytest.raises(SkippableError) as odata:
            hook.command("Material", "SetMaterialLotStatus", {"MaterialLotId": "nope", "Verb": "Release"})
    assert platform.value.code == "OPCENTER_REJECTED" and "Material 9.99 does not exist (code 2)" in platform.value.message
    assert platform.value.where == "opcenter:Material/CreateMaterialLot:L1"
    assert odata.value.code == "OPCENTER_REJECTED" and "(code NotFound)" in odata.value.message


def test_connection_refused_is_retriable_and_unprocessed(sim):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = OpcenterHook(config(sim, base_url=f"http://127.0.0.1:{port}", timeout=1))
    with pytest.raises(errors.OpcenterRetriable) as info:
        list(hook.query("PIOrder", "Order"))
    assert info.value.code == "OPCENTER_UNAVAILABLE" and info.value.unprocessed


def test_timeout_is_retriable(sim):
    sim.state.fail_next(1, "timeout", service="Order")
    with make_hook(sim, timeout=0.5) as hook, pytest.raises(RetriableError) as info:
        list(hook.query("PIOrder", "Order"))
    sim.state.release_stalled()
    assert info.value.code == "OPCENTER_UNAVAILABLE" and "timed out" in info.value.message


# ----------------------------------------------------------------------------- XML replies


def test_metadata_lists_entity_sets_and_commands(sim):
    with make_hook(sim) as hook:
        assert hook.entity_sets("Material") == {"Material", "MaterialLot", "CreateMaterialLot", "SetMaterialLotStatus"}


@pytest.mark.parametrize("kind", ["xml_bomb", "xml_xxe"])
def test_hostile_metadata_is_refused_unparsed(sim, kind):
    sim.state.fail_next(1, kind, service="$metadata")
    with make_hook(sim, max_attempts=3) as hook, pytest.raises(FatalError) as info:
        hook.entity_sets("Material")
    assert info.value.code == "OPCENTER_XML_REFUSED"
    assert "root:" not in str(info.value)  # nothing of /etc/passwd
    assert calls(sim, "GET $metadata") == 1  # fatal: not retried


@pytest.mark.parametrize("kind", ["xml_bomb", "xml_xxe"])
def test_hostile_xml_where_json_is_expected_is_never_parsed(sim, kind):
    sim.state.fail_next(1, kind, service="Order")
    with make_hook(sim) as hook, pytest.raises(RetriableError) as info:
        list(hook.query("PIOrder", "Order"))
    assert info.value.code == "OPCENTER_BAD_RESPONSE" and "not parsed" in info.value.message
    with make_hook(sim, max_attempts=2) as hook:
        sim.state.fail_next(1, kind, service="Order")
        assert len(list(hook.query("PIOrder", "Order"))) == 3


def test_xml_error_bodies_are_read_safely():
    class Reply:
        status_code = 400
        headers = {"Content-Type": "application/xml"}
        content = b'<error><code>X</code><message>Bad filter near "Colour"</message></error>'
        text = content.decode()

    assert errors.server_message(Reply()) == 'X Bad filter near "Colour"'
    Reply.content = b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><error>&x;</error>'
    assert errors.server_message(Reply()) == "XML body refused (OPCENTER_XML_DTD_FORBIDDEN)"
