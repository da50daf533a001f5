"""The planner's side of Airflow's human-in-the-loop API, against a local stand-in for the two routes it uses.

The real api-server answers in the e2e story (tests/e2e); here its refusals and odd answers."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hub.airflow_hitl import AirflowHitlClient, answer_while_running
from hub.errors import FatalError, RetriableError

WAITING = {"hitl_details": [{"options": ["Approve", "Reject"], "subject": "s", "body": "b", "task_instance": {
    "dag_id": "plan_run", "dag_run_id": "manual__2026-12-01T08:00:00+00:00", "task_id": "approve_changes",
    "map_index": -1, "state": "awaiting_input"}},
    {"options": ["Approve"], "subject": "done", "body": "", "task_instance": {
        "dag_id": "plan_run", "dag_run_id": "r2", "task_id": "approve_changes", "map_index": -1,
        "state": "success"}}], "total_entries": 2}


class Airflow(BaseHTTPRequestHandler):
    token_body = {"access_token": "jwt-1"}
    patches: list = []

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body.get("password") != "pw-planner":
            return self._answer(401, {"detail": "Invalid credentials"})
        self._answer(201, self.token_body)

    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer jwt-1":
            return self._answer(401, {"detail": "no token"})
        self._answer(200, WAITING)

    def do_PATCH(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Airflow.patches.append((self.path, body))
        self._answer(500 if body["chosen_options"] == ["Reject"] else 200, {"chosen_options": body["chosen_options"]})


@pytest.fixture()
def airflow():
    Airflow.patches = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Airflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_waiting_tasks_are_answered_once_each_while_the_run_lasts(airflow):
    client = AirflowHitlClient(airflow, "planner", "pw-planner")
    polls = iter([True, True, False])  # the run ends after two polls: the task is answered once
    answered = answer_while_running(client, "plan_run", lambda: next(polls),
                                    decide=lambda task: ("Approve", {"comment": "ok"}), poll_seconds=0)
    assert [(t.task_id, option) for t, option in answered] == [("approve_changes", "Approve")]
    ((path, body),) = Airflow.patches  # the finished task (state success) is not answered
    assert path == ("/api/v2/dags/plan_run/dagRuns/manual__2026-12-01T08%3A00%3A00%2B00%3A00"
                    "/taskInstances/approve_changes/-1/hitlDetails")
    assert body == {"chosen_options": ["Approve"], "params_input": {"comment": "ok"}}


def test_a_wrong_password_an_unknown_option_and_a_server_error_are_clear_errors(airflow):
    with pytest.raises(FatalError) as refused:
        AirflowHitlClient(airflow, "planner", "wrong").waiting("plan_run")
    assert refused.value.code == "AIRFLOW_LOGIN_FAILED" and "wrong" not in refused.value.as_line()
    client = AirflowHitlClient(airflow, "planner", "pw-planner")
    (task,) = client.waiting("plan_run")
    with pytest.raises(FatalError) as bad:
        client.respond(task, "Maybe")
    assert bad.value.code == "HITL_BAD_OPTION" and Airflow.patches == []
    with pytest.raises(RetriableError):
        client.respond(task, "Reject")


def test_a_token_answer_without_a_token_is_refused(airflow, monkeypatch):
    monkeypatch.setattr(Airflow, "token_body", {"token": "jwt-1"})
    with pytest.raises(FatalError) as exc:
        AirflowHitlClient(airflow, "planner", "pw-planner").waiting("plan_run")
    assert exc.value.code == "AIRFLOW_LOGIN_FAILED" and "no access_token" in exc.value.message
