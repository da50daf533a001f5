"""Fixtures for the Opcenter adapter: the real simulator over HTTP, seeded with the demo plant."""
from __future__ import annotations

import datetime as dt

import pytest

from adapters.opcenter import OpcenterConfig, OpcenterHook
from adapters.opcenter.mes import OpcenterMes
from simulators.base import running
from simulators.opcenter import OpcenterState, make_server, seed_demo

CLIENT_ID = "hub-test"
CLIENT_SECRET = "cs-Opc-4e71b9"  # distinctive, so finding it anywhere in output is meaningful
USER, PASSWORD = "PLANT01\\mes_int", "pw-Opc-93d0aa"
TODAY = dt.date(2026, 12, 1)
#: the simulator's clock during the tests: the demo's "today", 09:00 UTC
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture()
def sim():
    state = OpcenterState(clients=f"{CLIENT_ID}:{CLIENT_SECRET}", users=f"{USER}:{PASSWORD}")
    seed_demo(state, TODAY)
    state.set_now(NOW)
    with running(make_server(state=state)) as server:
        try:
            yield server
        finally:
            state.faults.clear()
            state.release_stalled()  # frees a handler a "timeout" fault may still hold


def config(sim, **overrides) -> OpcenterConfig:
    values = dict(base_url=sim.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, timeout=5,
                  backoff_seconds=0.01, max_retry_after=0.05, timezone="Asia/Shanghai")
    values.update(overrides)
    return OpcenterConfig(**values)


def make_hook(sim, max_attempts: int = 1, **overrides) -> OpcenterHook:
    return OpcenterHook(config(sim, **overrides), max_attempts=max_attempts)


def make_mes(sim, max_attempts: int = 4, **overrides) -> OpcenterMes:
    return OpcenterMes(hook=make_hook(sim, max_attempts, **overrides))


@pytest.fixture()
def mes(sim):
    with make_mes(sim) as client:
        yield client


def calls(sim, call: str) -> int:
    return sum(1 for c in sim.state.calls if c == call)
