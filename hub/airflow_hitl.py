"""Answer Airflow human-in-the-loop tasks through Airflow's REST API (what the demo's planner does).

Airflow 3.3's public API: ``GET /api/v2/dags/{dag_id}/dagRuns/~/hitlDetails?response_received=false``
lists the tasks waiting for a person; ``PATCH /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/
{task_id}/{map_index}/hitlDetails`` with ``{"chosen_options": [...], "params_input": {...}}`` answers
one (the task resumes; the answer carries the responding user, who ends in the audit trail). A JWT
comes from ``POST /auth/token`` with the user's name and password (simple auth manager: the
password file Airflow generates; never printed).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import quote

import requests

from hub.api.trigger import request_token
from hub.errors import FatalError, RetriableError


@dataclass(frozen=True)
class WaitingTask:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    subject: str
    body: str
    options: tuple[str, ...]


class AirflowHitlClient:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self.timeout = timeout
        self._token: Optional[str] = None

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            self._token = request_token(self.base_url, self._username, self._password, self.timeout)
        return {"Authorization": f"Bearer {self._token}"}

    def waiting(self, dag_id: str) -> list[WaitingTask]:
        answer = requests.get(f"{self.base_url}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/~/hitlDetails",
                              params={"response_received": "false"}, headers=self._headers(), timeout=self.timeout)
        _check(answer, f"hitlDetails of {dag_id}")
        return [WaitingTask(dag_id=d["task_instance"]["dag_id"], run_id=d["task_instance"]["dag_run_id"],
                            task_id=d["task_instance"]["task_id"], map_index=d["task_instance"]["map_index"],
                            subject=d.get("subject") or "", body=d.get("body") or "", options=tuple(d["options"]))
                for d in answer.json()["hitl_details"]
                if d["task_instance"]["state"] in ("awaiting_input", "deferred")]

    def respond(self, task: WaitingTask, option: str, params: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        if option not in task.options:
            raise FatalError("HITL_BAD_OPTION", f"{option!r} is not one of {list(task.options)}", task.task_id)
        url = (f"{self.base_url}/api/v2/dags/{quote(task.dag_id, safe='')}/dagRuns/{quote(task.run_id, safe='')}"
               f"/taskInstances/{quote(task.task_id, safe='')}/{task.map_index}/hitlDetails")
        answer = requests.patch(url, json={"chosen_options": [option], "params_input": params or {}},
                                headers=self._headers(), timeout=self.timeout)
        _check(answer, f"answer to {task.dag_id}.{task.task_id}")
        return answer.json()


def _check(answer: requests.Response, what: str) -> None:
    if answer.status_code >= 500:
        raise RetriableError("AIRFLOW_API_ERROR", f"{what}: HTTP {answer.status_code}")
    if answer.status_code >= 400:
        raise FatalError("AIRFLOW_API_REFUSED", f"{what}: HTTP {answer.status_code} {answer.text[:200]}")


def answer_while_running(client: AirflowHitlClient, dag_id: str, running: Callable[[], bool],
                         decide: Callable[[WaitingTask], tuple[str, dict[str, Any]]],
                         poll_seconds: float = 1.0) -> list[tuple[WaitingTask, str]]:
    """Answer each task of ``dag_id`` that waits for input while ``running()`` is true (the DAG run
    in progress); returns what was answered. Polling is the API's only way to learn of a new wait."""
    answered: list[tuple[WaitingTask, str]] = []
    seen: set[tuple[str, str, str, int]] = set()
    while running():
        for task in client.waiting(dag_id):
            key = (task.dag_id, task.run_id, task.task_id, task.map_index)
            if key in seen:
                continue
            option, params = decide(task)
            client.respond(task, option, params)
            seen.add(key)
            answered.append((task, option))
        time.sleep(poll_seconds)
    return answered
