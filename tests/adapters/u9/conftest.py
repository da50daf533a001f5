"""Fixtures for the U9 adapters: the real simulator over HTTP (SOAP and REST on one port)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

import pytest
from pydantic import SecretStr

from adapters.u9 import U9CloudConfig, U9CloudErp, U9CloudHook, U9SoapConfig, U9SoapErp, U9SoapHook
from simulators.base import SimulatorServer
from simulators.u9 import U9State, make_server, seed

ENT, ORG_ID, USER_ID = "077", "1002207010000001", "1002207010000042"
CLIENT_ID, ORG_CODE, USER_CODE = "hub-client", "201", "mes_api"
CLIENT_SECRET = "cs-U9c-7f3a1e"  # distinctive, so finding it anywhere in output is meaningful


@contextmanager
def serving(server: SimulatorServer) -> Iterator[SimulatorServer]:
    """simulators.base.running, with a short shutdown poll: hundreds of tests each stop a server."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def new_state(**options: Any) -> U9State:
    return U9State(clients=f"{CLIENT_ID}:{ENT}:{ORG_CODE}:{USER_CODE}:{CLIENT_SECRET}",
                   contexts=f"{ENT}:{ORG_ID}:{USER_ID}", **options)


@pytest.fixture()
def sim():
    """The demo plant with production data, plus generated data inside the crosswalks."""
    state = new_state()
    with serving(make_server(state=state, seed_name="demo", with_production=True)) as server:
        seed(state, suppliers=20, materials=50, purchase_orders=12, lines_per_po=3, boms=4, production_orders=5,
             stock=12, random_seed=11)
        try:
            yield server
        finally:
            state.clear_faults()  # also frees a handler a latency fault may still hold


def soap_config(sim, **overrides: Any) -> U9SoapConfig:
    values: dict[str, Any] = dict(base_url=f"{sim.base_url}/U9/Services", enterprise_id=ENT, org_id=ORG_ID,
                                  user_id=USER_ID, user_code=USER_CODE, timeout=5, backoff_seconds=0.0,
                                  max_retry_after=0.05, receipt_warehouse="CK01")
    values.update(overrides)
    return U9SoapConfig(**values)


def cloud_config(sim, **overrides: Any) -> U9CloudConfig:
    values: dict[str, Any] = dict(base_url=f"{sim.base_url}/U9C", client_id=CLIENT_ID,
                                  client_secret=SecretStr(CLIENT_SECRET), ent_code=ENT, org_code=ORG_CODE,
                                  user_code=USER_CODE, timeout=5, backoff_seconds=0.0, max_retry_after=0.05,
                                  receipt_warehouse="CK01")
    values.update(overrides)
    return U9CloudConfig(**values)


def soap_erp(sim, max_attempts: int = 4, **overrides: Any) -> U9SoapErp:
    return U9SoapErp(hook=U9SoapHook(soap_config(sim, **overrides), max_attempts=max_attempts))


def cloud_erp(sim, max_attempts: int = 4, **overrides: Any) -> U9CloudErp:
    return U9CloudErp(hook=U9CloudHook(cloud_config(sim, **overrides), max_attempts=max_attempts))


@pytest.fixture(params=["u9", "u9cloud"])
def erp(request, sim):
    """Each test that takes ``erp`` runs once per transport."""
    client = soap_erp(sim) if request.param == "u9" else cloud_erp(sim)
    with client:
        yield client


def transport(erp) -> str:
    return "soap" if erp.system == "u9" else "rest"
