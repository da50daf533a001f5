"""After the commit, the ingress asks Airflow's REST API for an events DAG run.

Airflow is an external system here: a tiny HTTP server on 127.0.0.1 stands in for its API
(``POST /auth/token`` -> JWT, ``POST /api/v2/dags/events/dagRuns`` with the Bearer token)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest
from fastapi.testclient import TestClient

from hub.api import create_app
from hub.api.trigger import AirflowTrigger
from simulators.base import SimulatorServer, running
from tests.hub.api.support import WMS_TOKEN, event_rows

QC = {"type": "qc", "qc": {"batch_id": "SUP-001:B1", "status": "released"}}
USER, PASSWORD = "hub-ingress", "airflow-Pass-19be4f"


@dataclass
class FakeAirflow:
    tokens_issued: int = 0
    runs: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    #: the status the dagRuns endpoint answers (201 is Airflow's "created")
    run_status: int = 200
    #: tokens the API accepts; emptied to simulate expiry
    valid_tokens: set[str] = field(default_factory=set)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        state: FakeAirflow = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/auth/token":
            body = json.loads(raw)
            if body != {"username": USER, "password": PASSWORD}:
                return self._answer(401, {"detail": "Invalid credentials"})
            state.tokens_issued += 1
            token = f"jwt-{state.tokens_issued}"
            state.valid_tokens.add(token)
            return self._answer(201, {"access_token": token})
        if self.path == "/api/v2/dags/events/dagRuns":
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            if token not in state.valid_tokens:
                state.refused.append(token)
                return self._answer(401, {"detail": "Not authenticated"})
            state.runs.append(json.loads(raw))
            return self._answer(state.run_status, {"dag_run_id": f"manual__{len(state.runs)}"})
        self._answer(404, {"detail": "Not Found"})


@pytest.fixture
def airflow():
    with running(SimulatorServer(("127.0.0.1", 0), _Handler, FakeAirflow())) as server:
        yield server


def wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_an_accepted_event_triggers_one_dag_run_with_a_fresh_token(store, connections, airflow):
    trigger = AirflowTrigger(airflow.base_url, username=USER, password=PASSWORD, timeout=5)
    with TestClient(create_app(store, trigger=trigger, connection_ttl_seconds=0)) as client:
        answer = client.post("/events/wms", json=QC, headers={"Authorization": f"Bearer {WMS_TOKEN}"})
        assert answer.status_code == 202
        assert wait_for(lambda: trigger.triggered == 1)
        duplicate = client.post("/events/wms", json=QC, headers={"Authorization": f"Bearer {WMS_TOKEN}"})
    assert duplicate.status_code == 200
    assert trigger.requested == 1  # a duplicate stores nothing and triggers nothing
    [run] = airflow.state.runs
    assert run == {"logical_date": None, "conf": {"event_id": answer.json()["event_id"], "source": "wms"}}
    assert airflow.state.tokens_issued == 1


def test_an_expired_token_is_renewed_once(airflow):
    trigger = AirflowTrigger(airflow.base_url, username=USER, password=PASSWORD, timeout=5)
    assert trigger.trigger_now({"event_id": 1})
    airflow.state.valid_tokens.clear()  # Airflow restarted with a new signing key, or the token expired
    assert trigger.trigger_now({"event_id": 2})
    assert airflow.state.tokens_issued == 2 and len(airflow.state.runs) == 2
    assert airflow.state.refused == ["jwt-1"]


def test_wrong_credentials_or_a_refusing_airflow_are_logged_not_raised(airflow, caplog):
    trigger = AirflowTrigger(airflow.base_url, username=USER, password="wrong", timeout=5)
    assert trigger.trigger_now({}) is False
    airflow.state.run_status = 404  # e.g. the events DAG is not deployed
    ok = AirflowTrigger(airflow.base_url, username=USER, password=PASSWORD, timeout=5)
    assert ok.trigger_now({}) is False
    assert "HTTP 404" in caplog.text
    assert PASSWORD not in caplog.text and "jwt-" not in caplog.text


def test_an_unreachable_airflow_does_not_hurt_the_push(store, connections):
    trigger = AirflowTrigger("http://127.0.0.1:9", timeout=0.5)  # discard port: nothing listens
    with TestClient(create_app(store, trigger=trigger, connection_ttl_seconds=0)) as client:
        answer = client.post("/events/wms", json=QC, headers={"Authorization": f"Bearer {WMS_TOKEN}"})
    assert answer.status_code == 202
    assert wait_for(lambda: trigger.failed == 1)
    assert [row.status for row in event_rows(store)] == ["received"]  # the schedule will process it


def test_a_burst_of_events_is_coalesced_into_few_trigger_calls(store, connections, airflow):
    trigger = AirflowTrigger(airflow.base_url, username=USER, password=PASSWORD, timeout=5)
    with TestClient(create_app(store, trigger=trigger, connection_ttl_seconds=0)) as client:
        for n in range(10):
            body = {"type": "qc", "qc": {"batch_id": f"SUP-001:B{n}", "status": "hold"}}
            assert client.post("/events/wms", json=body,
                               headers={"Authorization": f"Bearer {WMS_TOKEN}"}).status_code == 202
        assert wait_for(lambda: not trigger._running)
    assert trigger.requested == 10
    assert 1 <= len(airflow.state.runs) <= 10
    # the last call carries the newest event, so the run Airflow starts covers everything stored
    assert airflow.state.runs[-1]["conf"]["event_id"] == max(row.id for row in event_rows(store))


def test_without_the_setting_nothing_is_triggered(monkeypatch, store, connections):
    monkeypatch.delenv("HUB_AIRFLOW_API_URL", raising=False)
    assert AirflowTrigger.from_environment() is None
    assert create_app(store, connection_ttl_seconds=0).state.trigger is None


def test_the_setting_and_the_connection_configure_the_trigger(monkeypatch, airflow):
    monkeypatch.setenv("HUB_AIRFLOW_API_URL", airflow.base_url + "/")
    monkeypatch.setenv("AIRFLOW_CONN_AIRFLOW_API_DEFAULT", json.dumps({"conn_type": "http", "login": USER,
                                                                       "password": PASSWORD}))
    trigger = AirflowTrigger.from_environment()
    assert trigger is not None and PASSWORD not in repr(trigger)
    assert trigger.trigger_now({"event_id": 7})
    assert airflow.state.runs == [{"logical_date": None, "conf": {"event_id": 7}}]
