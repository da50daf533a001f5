"""The Opcenter simulator over raw HTTP: token endpoint, OData reads, commands, faults, admin, demo seed."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from simulators.base import running
from simulators.opcenter import OpcenterState, make_server, seed_demo
from simulators.opcenter.odata import ODataError, parse_filter

CLIENT, SECRET = "sim-client", "sim-secret-1"
USER, PASSWORD = "PLANT01\\op", "op-pass-2"
TODAY = dt.date(2026, 12, 1)


@pytest.fixture()
def sim():
    state = OpcenterState(clients=f"{CLIENT}:{SECRET}", users=f"{USER}:{PASSWORD}")
    seed_demo(state, TODAY)
    state.set_now(dt.datetime(2026, 12, 1, 9, tzinfo=dt.timezone.utc))
    with running(make_server(state=state)) as server:
        try:
            yield server
        finally:
            state.release_stalled()


def token(sim, **form) -> requests.Response:
    data = {"grant_type": "client_credentials", "scope": "global", **form}
    return requests.post(f"{sim.base_url}/sit-auth/OAuth/Token", data=data, auth=(CLIENT, SECRET), timeout=5)


@pytest.fixture()
def bearer(sim) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sim).json()['access_token']}"}


def url(sim, app: str, name: str, plant: str = "") -> str:
    return f"{sim.base_url}/sit-svc{'/' + plant if plant else ''}/Application/{app}/odata/{name}"


def get(sim, bearer, name: str, app: str = "PIOrder", **params) -> requests.Response:
    return requests.get(url(sim, app, name), params=params, headers=bearer, timeout=5)


def command(sim, bearer, app: str, name: str, params: dict) -> requests.Response:
    return requests.post(url(sim, app, name), json={"command": params}, headers=bearer, timeout=5)


# ----------------------------------------------------------------------------- token


def test_client_credentials_token_has_the_documented_fields_and_no_refresh_token(sim):
    answer = token(sim)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "token_type", "expires_in"} and body["token_type"] == "bearer"


def test_password_grant_gives_a_refresh_token_that_works_once(sim):
    body = token(sim, grant_type="password", username=USER, password=PASSWORD).json()
    refresh = body["refresh_token"]
    assert token(sim, grant_type="refresh_token", refresh_token=refresh).status_code == 200
    again = token(sim, grant_type="refresh_token", refresh_token=refresh)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_client_in_form_fields_is_accepted_too(sim):
    answer = requests.post(f"{sim.base_url}/sit-auth/oauth/token", timeout=5, data={
        "grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET})
    assert answer.status_code == 200


@pytest.mark.parametrize("auth, form, status, error", [
    ((CLIENT, "wrong"), {"grant_type": "client_credentials"}, 401, "invalid_client"),
    (None, {"grant_type": "client_credentials"}, 401, "invalid_client"),
    ((CLIENT, SECRET), {"grant_type": "password", "username": USER, "password": "bad"}, 400, "invalid_grant"),
    ((CLIENT, SECRET), {"grant_type": "implicit"}, 400, "unsupported_grant_type"),
])
def test_token_refusals_use_oauth_error_codes(sim, auth, form, status, error):
    answer = requests.post(f"{sim.base_url}/sit-auth/OAuth/Token", data=form, auth=auth, timeout=5)
    assert answer.status_code == status and answer.json()["error"] == error
    assert SECRET not in answer.text


def test_token_needs_a_form_body(sim):
    answer = requests.post(f"{sim.base_url}/sit-auth/OAuth/Token", json={"grant_type": "client_credentials"},
                           auth=(CLIENT, SECRET), timeout=5)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_reads_need_a_live_bearer_token(sim, bearer):
    assert requests.get(url(sim, "PIOrder", "Order"), timeout=5).status_code == 401
    assert get(sim, {"Authorization": "Bearer forged"}, "Order").status_code == 401
    assert get(sim, bearer, "Order").status_code == 200
    sim.state.set_now(dt.datetime(2026, 12, 1, 10, tzinfo=dt.timezone.utc))  # past expires_in (1799 s)
    expired = get(sim, bearer, "Order")
    assert expired.status_code == 401 and "invalid_token" in expired.headers["WWW-Authenticate"]


# ----------------------------------------------------------------------------- reads


def test_order_entities_carry_the_documented_shape(sim, bearer):
    body = get(sim, bearer, "Order", **{"$filter": "NId eq 'MO-2026-0002'", "$count": "true"}).json()
    assert body["@odata.count"] == 1 and body["@odata.context"].endswith("$metadata#Order")
    (order,) = body["value"]
    for field in ("Id", "AId", "IsFrozen", "ConcurrencyVersion", "IsDeleted", "CreatedOn", "LastUpdatedOn",
                  "EntityType", "OptimisticVersion", "IsLocked", "ToBeCleaned", "NId", "Name", "Description"):
        assert field in order
    assert order["Quantity"] == {"UoMNId": "PCS", "QuantityValue": 500}
    assert order["Status"] == {"StateMachineNId": "Order", "StatusNId": "Released"}
    assert order["MaterialNId"] == "3.01.0007" and order["PlannedEndTime"] == "2026-12-06T00:00:00Z"


@pytest.mark.parametrize("flt, expected", [
    ("Status/StatusNId eq 'Edit'", ["MO-2026-0003"]),
    ("startswith(NId,'MO-2026-000') and Quantity/QuantityValue gt 250", ["MO-2026-0002", "MO-2026-0003"]),
    ("contains(Description,'bearing') or NId eq 'MO-2026-0001'", ["MO-2026-0001", "MO-2026-0002"]),
    ("not (NId eq 'MO-2026-0001') and PlannedEndTime lt 2026-12-07T00:00:00Z", ["MO-2026-0002"]),
    ("LastUpdatedOn ge 2026-11-30T00:00:00+00:00", ["MO-2026-0002", "MO-2026-0003"]),
    ("ActualEndTime ne null", ["MO-2026-0001"]),
])
def test_filters(sim, bearer, flt, expected):
    answer = get(sim, bearer, "Order", **{"$filter": flt})
    assert answer.status_code == 200, answer.text
    assert sorted(o["NId"] for o in answer.json()["value"]) == expected


def test_keyset_by_guid_and_order_by(sim, bearer):
    ids = [o["Id"] for o in get(sim, bearer, "Order", **{"$orderby": "Id"}).json()["value"]]
    assert ids == sorted(ids)
    after = get(sim, bearer, "Order", **{"$orderby": "Id", "$filter": f"Id gt {ids[0]}"}).json()["value"]
    assert [o["Id"] for o in after] == ids[1:]
    newest = get(sim, bearer, "Order", **{"$orderby": "LastUpdatedOn desc,NId", "$top": "1"}).json()["value"]
    assert newest[0]["NId"] == "MO-2026-0002"


def test_top_skip_select_and_the_page_cap(sim, bearer):
    sim.state.max_page_size = 2
    body = get(sim, bearer, "Order", **{"$orderby": "NId", "$select": "NId,Status"}).json()
    assert [o["NId"] for o in body["value"]] == ["MO-2026-0001", "MO-2026-0002"]
    assert set(body["value"][0]) == {"NId", "Status"}
    assert "$skip=2" in body["@odata.nextLink"]
    rest = get(sim, bearer, "Order", **{"$orderby": "NId", "$skip": "2", "$top": "5"}).json()
    assert [o["NId"] for o in rest["value"]] == ["MO-2026-0003"] and "@odata.nextLink" not in rest


@pytest.mark.parametrize("params, words", [
    ({"$filter": "Colour eq 'red'"}, "no property 'Colour'"),
    ({"$filter": "NId eq"}, "ends too early"),
    ({"$filter": "NId eq 'x' extra"}, "unexpected"),
    ({"$filter": "NId ~ 'x'"}, "unexpected character"),
    ({"$top": "-1"}, "$top"),
    ({"$orderby": "NId sideways"}, "$orderby"),
    ({"$apply": "groupby(NId)"}, "$apply"),
    ({"$select": "Secret"}, "$select"),
])
def test_bad_queries_are_400_with_the_reason(sim, bearer, params, words):
    answer = get(sim, bearer, "Order", **params)
    assert answer.status_code == 400 and words in answer.json()["error"]["message"]


def test_filter_literals_cannot_inject():
    predicate = parse_filter("NId eq 'x'' or NId ne ''y'")
    assert predicate({"NId": "x' or NId ne 'y"}) and not predicate({"NId": "other"})
    with pytest.raises(ODataError):
        parse_filter("x" * 9000 + " eq 1")


def test_unknown_paths_plants_and_methods(sim, bearer):
    assert requests.get(url(sim, "Nope", "Order"), headers=bearer, timeout=5).status_code == 404
    assert requests.get(url(sim, "PIOrder", "Nope"), headers=bearer, timeout=5).status_code == 404
    assert requests.get(url(sim, "PIOrder", "Order", plant="PLANT01"), headers=bearer, timeout=5).status_code == 200
    assert requests.get(url(sim, "PIOrder", "Order", plant="PLANT02"), headers=bearer, timeout=5).status_code == 404
    assert requests.get(url(sim, "Material", "CreateMaterialLot"), headers=bearer, timeout=5).status_code == 405
    assert requests.get(f"{sim.base_url}/elsewhere", timeout=5).status_code == 404
    assert requests.get(url(sim, "piorder", "Order").replace("Application", "application"), headers=bearer,
                        timeout=5).status_code == 200


def test_metadata_is_csdl_xml(sim, bearer):
    answer = requests.get(url(sim, "HubIntegration", "$metadata"), headers=bearer, timeout=5)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/xml")
    assert b'EntitySet Name="ScheduleChangeProposal"' in answer.content
    assert b'ActionImport Name="ProposeScheduleChange"' in answer.content


# ----------------------------------------------------------------------------- commands


def new_lot(nid: str = "LOT-1", material: str = "1.02.0033", qty=10) -> dict:
    return {"NId": nid, "MaterialNId": material, "Quantity": {"QuantityValue": qty, "UoMNId": "PCS"}}


def test_command_success_has_outputs_at_top_level(sim, bearer):
    answer = command(sim, bearer, "Material", "CreateMaterialLot", new_lot())
    body = answer.json()
    assert answer.status_code == 200 and body["Succeeded"] is True
    assert body["Error"] == {"ErrorCode": 0, "ErrorMessage": None} and body["MaterialLotId"]
    (lot,) = [r for r in sim.state.rows("MaterialLot") if r["NId"] == "LOT-1"]
    assert lot["Id"] == body["MaterialLotId"] and lot["Status"]["StatusNId"] == "Quarantine"


def test_command_failures_use_both_documented_shapes(sim, bearer):
    command(sim, bearer, "Material", "CreateMaterialLot", new_lot())
    duplicate = command(sim, bearer, "Material", "CreateMaterialLot", new_lot())
    assert duplicate.status_code == 400
    assert duplicate.json() == {"Error": {"ErrorCode": 12, "ErrorMessage": "MaterialLot LOT-1 already exists"}}
    lot_id = sim.state.rows("MaterialLot")[-1]["Id"]
    lots = {r["NId"]: r["Id"] for r in sim.state.rows("MaterialLot")}
    bad_verb = command(sim, bearer, "Material", "SetMaterialLotStatus", {"MaterialLotId": lots["LOT-1"], "Verb": "Fly"})
    assert bad_verb.status_code == 400 and bad_verb.json()["error"]["code"] == "InvalidTransition"
    assert lot_id


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"command": 5}', b"{}"])
def test_malformed_command_bodies_are_400(sim, bearer, body):
    answer = requests.post(url(sim, "Material", "CreateMaterialLot"), data=body, headers=bearer, timeout=5)
    assert answer.status_code == 400


@pytest.mark.parametrize("params, message", [
    ({"MaterialNId": "1.02.0033", "Quantity": {"QuantityValue": 1, "UoMNId": "PCS"}}, "parameter NId is mandatory"),
    (new_lot(material="9.9"), "Material 9.9 does not exist"),
    (new_lot(qty=0), "must be positive"),
    ({**new_lot(), "Quantity": {"QuantityValue": "lots"}}, "QuantityValue and UoMNId"),
])
def test_create_lot_validates(sim, bearer, params, message):
    answer = command(sim, bearer, "Material", "CreateMaterialLot", params)
    assert answer.status_code == 400 and message in answer.json()["Error"]["ErrorMessage"]


def test_availability_is_upserted_and_proposals_are_unique(sim, bearer):
    params = {"OrderNId": "MO-2026-0002", "MaterialNId": "1.02.0033",
              "AvailableQuantity": {"QuantityValue": 100, "UoMNId": "PCS"}, "Status": "partial"}
    first = command(sim, bearer, "HubIntegration", "SetOrderMaterialAvailability", params).json()
    second = command(sim, bearer, "HubIntegration", "SetOrderMaterialAvailability",
                     {**params, "AvailableQuantity": {"QuantityValue": 500, "UoMNId": "PCS"}}).json()
    assert first["OrderMaterialAvailabilityId"] == second["OrderMaterialAvailabilityId"]
    (row,) = sim.state.rows("OrderMaterialAvailability")
    assert row["AvailableQuantity"]["QuantityValue"] == 500
    unknown = command(sim, bearer, "HubIntegration", "SetOrderMaterialAvailability", {**params, "OrderNId": "MO-X"})
    assert unknown.status_code == 400 and "Order MO-X does not exist" in unknown.text
    proposal = {"NId": "P1", "OrderNId": "MO-2026-0002", "ProposedStartTime": "2026-12-05T00:00:00Z", "Reason": "x"}
    assert command(sim, bearer, "HubIntegration", "ProposeScheduleChange", proposal).status_code == 200
    assert command(sim, bearer, "HubIntegration", "ProposeScheduleChange", proposal).status_code == 400
    no_dates = command(sim, bearer, "HubIntegration", "ProposeScheduleChange", {"NId": "P2", "OrderNId": "MO-2026-0002"})
    assert no_dates.status_code == 400


def test_oversized_body_is_413(sim, bearer):
    answer = requests.post(url(sim, "Material", "CreateMaterialLot"), data=b"x" * (1 << 20 | 1),
                           headers={**bearer, "Content-Type": "application/json"}, timeout=5)
    assert answer.status_code == 413


# ----------------------------------------------------------------------------- faults + admin


def admin(sim, name: str, body: dict | None = None) -> requests.Response:
    if body is None:
        return requests.get(f"{sim.base_url}/__sim/{name}", timeout=5)
    return requests.post(f"{sim.base_url}/__sim/{name}", json=body, timeout=5)


def test_faults_armed_over_http_fire_once_each(sim, bearer):
    assert admin(sim, "faults", {"faults": [{"kind": "http429", "service": "Order", "retry_after": 7},
                                            {"kind": "xml_bomb", "service": "Order"},
                                            {"kind": "malformed_json", "service": "Order"}]}).status_code == 200
    limited = get(sim, bearer, "Order")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    bomb = get(sim, bearer, "Order")
    assert bomb.status_code == 200 and bomb.headers["Content-Type"].startswith("application/xml")
    assert b"<!DOCTYPE" in bomb.content and b"&lol9;" in bomb.content
    cut = get(sim, bearer, "Order")
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)
    assert get(sim, bearer, "Order").status_code == 200
    assert admin(sim, "faults").json() == {"faults": []}


def test_after_fault_does_the_work_then_fails(sim, bearer):
    sim.state.fail_next(1, "http500", service="CreateMaterialLot", after=True)
    answer = command(sim, bearer, "Material", "CreateMaterialLot", new_lot("LOT-AFTER"))
    assert answer.status_code == 500 and "text/html" in answer.headers["Content-Type"]
    assert [r["NId"] for r in sim.state.rows("MaterialLot")].count("LOT-AFTER") == 1


def test_token_expired_fault_revokes_tokens(sim, bearer):
    sim.state.fail_next(1, "token_expired", service="Order")
    assert get(sim, bearer, "Order").status_code == 401
    assert get(sim, bearer, "Order").status_code == 401  # really revoked, not a one-off answer


@pytest.mark.parametrize("body, words", [
    ({"kind": "meteor"}, "unknown fault kind"),
    ({"kind": "http429", "after": True}, "after is only for"),
    ({"kind": "http500", "count": None}, "needs a probability"),
    ({"kind": "http500", "colour": "red"}, "unknown fault field"),
    ({"faults": [{"kind": "http500"}, {"kind": "nope"}]}, "unknown fault kind"),
])
def test_admin_refuses_bad_faults_and_arms_none_of_a_bad_list(sim, body, words):
    answer = admin(sim, "faults", body)
    assert answer.status_code == 400 and words in answer.json()["error"]
    assert admin(sim, "faults").json() == {"faults": []}


def test_admin_consume_expire_and_stats(sim, bearer):
    command(sim, bearer, "Material", "CreateMaterialLot", new_lot("LOT-C", qty=50))
    lot_id = next(r["Id"] for r in sim.state.rows("MaterialLot") if r["NId"] == "LOT-C")
    refused = admin(sim, "consume", {"order": "MO-2026-0002", "lot": "LOT-C", "quantity": 10})
    assert refused.status_code == 400 and "Quarantine" in refused.json()["error"]
    command(sim, bearer, "Material", "SetMaterialLotStatus", {"MaterialLotId": lot_id, "Verb": "Release"})
    used = admin(sim, "consume", {"order": "MO-2026-0002", "lot": "LOT-C", "quantity": 10}).json()
    assert (used["OrderNId"], used["MaterialLotNId"], used["Quantity"]["QuantityValue"]) == ("MO-2026-0002", "LOT-C", 10)
    assert admin(sim, "consume", {"order": "MO-2026-0002", "lot": "LOT-C", "quantity": 41}).status_code == 400
    assert admin(sim, "order-status", {"order": "MO-2026-0002", "status": "Completed"}).status_code == 200
    assert admin(sim, "expire-tokens", {}).json()["expired"] >= 1
    assert get(sim, bearer, "Order").status_code == 401
    stats = admin(sim, "stats").json()
    assert stats["sets"]["MaterialConsumption"] == 2 and stats["tokens_live"] == 0
    assert admin(sim, "nothing", {}).status_code == 404


def test_auto_consume_books_a_released_lot_into_the_order_that_needs_it(sim, bearer):
    sim.state.auto_consume = True
    command(sim, bearer, "Material", "CreateMaterialLot", new_lot("BCGDD000101-1", qty=500))
    lot_id = next(r["Id"] for r in sim.state.rows("MaterialLot") if r["NId"] == "BCGDD000101-1")
    assert command(sim, bearer, "Material", "SetMaterialLotStatus", {"MaterialLotId": lot_id, "Verb": "Release"}) \
        .status_code == 200
    (used,) = [c for c in sim.state.rows("MaterialConsumption") if c["MaterialLotNId"] == "BCGDD000101-1"]
    assert used["OrderNId"] == "MO-2026-0002" and used["Quantity"]["QuantityValue"] == 500
    order = next(o for o in sim.state.rows("Order") if o["NId"] == "MO-2026-0002")
    assert order["Status"]["StatusNId"] == "Active"


def test_demo_seed_has_an_order_for_the_demo_material_due_after_the_demo_asn(sim):
    order = next(o for o in sim.state.rows("Order") if o["NId"] == "MO-2026-0002")
    assert sim.state.requirements["MO-2026-0002"] == {"1.02.0033": 500}
    asn_arrival = TODAY + dt.timedelta(days=2)  # simulators/supplier.py: expected_arrival = today + 2
    assert dt.datetime.fromisoformat(order["PlannedEndTime"]).date() > asn_arrival
    assert dt.datetime.fromisoformat(order["PlannedStartTime"]).date() > asn_arrival


def test_server_refuses_unknown_seed():
    with pytest.raises(ValueError):
        make_server(seed="full")


def test_credentials_never_appear_in_repr():
    state = OpcenterState(clients="c:very-secret-1", users="u:very-secret-2")
    assert "very-secret" not in repr(state)


def test_admin_order_plan_changes_the_order_and_touches_it(sim, bearer):
    version = next(r for r in sim.state.rows("Order") if r["NId"] == "MO-2026-0003")["ConcurrencyVersion"]
    changed = admin(sim, "order-plan", {"order": "MO-2026-0003", "quantity": 400,
                                        "start": "2026-12-04T00:00:00+00:00"}).json()
    assert changed["Quantity"]["QuantityValue"] == 400
    assert changed["PlannedStartTime"].startswith("2026-12-04T00:00:00")
    fetched = get(sim, bearer, "Order", **{"$filter": "NId eq 'MO-2026-0003'"}).json()["value"][0]
    assert fetched["Quantity"]["QuantityValue"] == 400
    # touched: the hub's next pull (LastUpdatedOn since its watermark) sees the change
    assert fetched["ConcurrencyVersion"] == version + 1 and fetched["LastUpdatedOn"].startswith("2026-12-01T09:00")


@pytest.mark.parametrize("body, words", [
    ({"order": "MO-9"}, "does not exist"),
    ({"quantity": 5}, "order is required"),
    ({"order": "MO-2026-0003", "quantity": "lots"}, "not a number"),
    ({"order": "MO-2026-0003", "quantity": -1}, "positive"),
    ({"order": "MO-2026-0003", "start": "tomorrow"}, "Invalid isoformat"),
    ({"order": "MO-2026-0003", "priority": 1}, "unknown field"),
])
def test_admin_order_plan_refuses_bad_input(sim, body, words):
    answer = admin(sim, "order-plan", body)
    assert answer.status_code == 400 and words in answer.json()["error"]


# ----------------------------------------------------------------------------- finished lots (INFERRED set)


def test_demo_seed_has_the_finished_lot_of_the_completed_order(sim, bearer):
    body = get(sim, bearer, "MaterialProduction", **{"$filter": "OrderNId eq 'MO-2026-0001'"}).json()
    (made,) = body["value"]
    assert (made["MaterialLotNId"], made["MaterialNId"], made["Quantity"]) == \
        ("FG-3.01.0007-0001", "3.01.0007", {"UoMNId": "PCS", "QuantityValue": 200})
    assert made["ProducedOn"] == "2026-11-29T00:00:00Z" and made["EntityType"] == "PIOrder.MaterialProduction"
    (lot,) = get(sim, bearer, "MaterialLot", app="Material",
                 **{"$filter": "NId eq 'FG-3.01.0007-0001'"}).json()["value"]
    assert (lot["MaterialNId"], lot["Quantity"]["QuantityValue"], lot["Status"]["StatusNId"]) == \
        ("3.01.0007", 200, "Released")
    assert lot["SupplierNId"] is None  # made in the plant, not bought
    assert 'EntitySet Name="MaterialProduction"' in get(sim, bearer, "$metadata").text


def test_productions_are_filterable_by_last_updated_on(sim, bearer):
    sim.state.produce("MO-2026-0002", "FG-3.01.0007-0002", 300)  # at the fixture's now, 2026-12-01T09:00Z
    newer = get(sim, bearer, "MaterialProduction", **{"$filter": "LastUpdatedOn ge 2026-12-01T09:00:00Z"}).json()
    assert [(p["OrderNId"], p["MaterialLotNId"]) for p in newer["value"]] == [("MO-2026-0002", "FG-3.01.0007-0002")]
    every = get(sim, bearer, "MaterialProduction", **{"$count": "true"}).json()
    assert every["@odata.count"] == 2


def test_admin_produce_fills_a_lot_and_refuses_what_a_shop_floor_could_not_book(sim, bearer):
    first = admin(sim, "produce", {"order": "MO-2026-0002", "lot": "FG-X", "quantity": 100})
    assert first.status_code == 200 and first.json()["Quantity"] == {"UoMNId": "PCS", "QuantityValue": 100}
    assert admin(sim, "produce", {"order": "MO-2026-0002", "lot": "FG-X", "quantity": "50.5"}).status_code == 200
    lot = sim.state.by_nid("MaterialLot", "FG-X")
    assert lot["Quantity"]["QuantityValue"] == 150.5 and lot["ConcurrencyVersion"] == 1  # created once, filled once
    assert len([p for p in sim.state.rows("MaterialProduction") if p["MaterialLotNId"] == "FG-X"]) == 2
    for body, words in [({"order": "MO-2026-0002", "lot": "L-1.03.0100-0001", "quantity": 1}, "1.03.0100"),
                        ({"order": "MO-2026-0002", "lot": "FG-X", "quantity": 1, "uom": "KG"}, "KG"),
                        ({"order": "MO-NOPE", "lot": "FG-Y", "quantity": 1}, "MO-NOPE"),
                        ({"order": "MO-2026-0002", "lot": "FG-Y", "quantity": 0}, "cannot produce"),
                        ({"order": "MO-2026-0002", "lot": "FG-Y", "quantity": "lots"}, "not a number"),
                        ({"order": "MO-2026-0002", "lot": "FG-Y"}, "required"),
                        ({"order": "MO-2026-0002", "lot": "FG-Y", "quantity": 1, "by": "me"}, "unknown field")]:
        answer = admin(sim, "produce", body)
        assert answer.status_code == 400 and words in answer.json()["error"], body
    assert sim.state.by_nid("MaterialLot", "FG-Y") is None  # nothing half-booked
    assert sim.state.by_nid("MaterialLot", "FG-X")["Quantity"]["QuantityValue"] == 150.5
