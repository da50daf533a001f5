"""Fixtures for KingdeeErp tests: the real simulator over HTTP, demo data plus generated data."""
from __future__ import annotations

import pytest

from adapters.kingdee import KingdeeConfig, KingdeeHook
from adapters.kingdee.erp import KingdeeErp
from simulators.base import running
from simulators.kingdee import KingdeeState, make_server, seed_generated

ERP_ACCT, ERP_USER = "acct-erp", "mes_api"
ERP_PASSWORD = "pw-Erp-51c9e0"  # distinctive, so finding it anywhere in output is meaningful


@pytest.fixture()
def erp_sim():
    state = KingdeeState(users=f"{ERP_ACCT}:{ERP_USER}:{ERP_PASSWORD}", apps="")
    with running(make_server(state=state, seed="demo")) as server:
        # generated data within the crosswalks (20 suppliers, 50 materials): every record maps
        seed_generated(state, n_suppliers=20, n_materials=50, n_pos=12, lines_per_po=3, n_boms=6, n_mos=5,
                       n_stock=12, seed=11)
        try:
            yield server
        finally:
            state.faults.clear()
            state.release_stalled()  # frees a handler a "timeout" fault may still hold


def erp_config(sim, **overrides) -> KingdeeConfig:
    values = dict(base_url=f"{sim.base_url}/k3cloud", acct_id=ERP_ACCT, username=ERP_USER, password=ERP_PASSWORD,
                  timeout=5, backoff_seconds=0.01, max_retry_after=0.05)
    values.update(overrides)
    return KingdeeConfig(**values)


def make_erp(sim, max_attempts: int = 4, **overrides) -> KingdeeErp:
    return KingdeeErp(hook=KingdeeHook(erp_config(sim, **overrides), max_attempts=max_attempts))


@pytest.fixture()
def erp(erp_sim):
    with make_erp(erp_sim) as client:
        yield client


def calls(sim, op: str) -> int:
    return sum(1 for service in sim.state.calls if service.endswith("." + op))
