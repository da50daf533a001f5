"""Fixtures for the Jiandaoyun adapter tests: the real simulator over HTTP on 127.0.0.1, and a
tiny push receiver that records what arrives (standing in for the lead's ingress)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional
from urllib.parse import parse_qsl

import pytest

from adapters.jiandaoyun import JiandaoyunConfig, JiandaoyunHook
from simulators.base import SimulatorServer, running
from simulators.jiandaoyun import DEMO_APP_ID, DEMO_FORMS, JiandaoyunState, make_server

API_KEY = "jdy-key-Test-8c41f2"  # distinctive, so finding it anywhere in output is meaningful
PUSH_SECRET = "jdy-push-Secret-5be7a9"


@pytest.fixture()
def sim():
    state = JiandaoyunState(api_keys=API_KEY, webhook_secret=PUSH_SECRET)
    with running(make_server(state=state, seed="demo")) as server:
        try:
            yield server
        finally:
            state.faults.clear()


def config_for(sim, **overrides: Any) -> JiandaoyunConfig:
    values: dict[str, Any] = dict(base_url=f"{sim.base_url}/api", api_key=API_KEY, app_id=DEMO_APP_ID,
                                  forms=dict(DEMO_FORMS), webhook_secret=PUSH_SECRET, timeout=5,
                                  max_calls_per_second=0, backoff_seconds=0.01)
    values.update(overrides)
    return JiandaoyunConfig(**values)


class SleepRecorder:
    """Stands in for time.sleep so backoff is asserted, not waited for."""

    def __init__(self) -> None:
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture()
def hook(sim):
    with JiandaoyunHook(config_for(sim)) as h:
        h.sleep = SleepRecorder()
        yield h


def calls(sim, route_suffix: str) -> int:
    return sum(1 for route in sim.state.calls if route.endswith(route_suffix))


# --------------------------------------------------------------------------- push receiver


@dataclass
class Received:
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class ReceiverState:
    requests: list[Received] = field(default_factory=list)
    #: statuses to answer, in order; then 200
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        state: ReceiverState = self.server.state  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        path, _, query = self.path.partition("?")
        with state.lock:
            state.requests.append(Received(path, dict(parse_qsl(query)), dict(self.headers.items()), body))
            status = state.statuses.pop(0) if state.statuses else 200
        raw = b"success" if status == 200 else b"fail"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture()
def receiver():
    with running(SimulatorServer(("127.0.0.1", 0), _ReceiverHandler, ReceiverState())) as server:
        yield server


def receiver_url(receiver, path: str = "/webhooks/jiandaoyun") -> str:
    return f"{receiver.base_url}{path}"


def received(receiver) -> list[Received]:
    return list(receiver.state.requests)


def only(items: list, what: Optional[str] = None):
    assert len(items) == 1, f"expected one {what or 'item'}, got {len(items)}"
    return items[0]
