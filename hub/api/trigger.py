"""After an event is committed: ask Airflow to run the ``events`` DAG now (fire and forget).

Airflow 3's REST API (``/api/v2``) takes a JWT bearer token, issued by the auth manager's
``POST /auth/token`` with ``{"username", "password"}`` (simple, FAB and Keycloak auth managers
alike; the token lives ``[api_auth] jwt_expiration_time``, 24 h by default). A run is requested
with ``POST /api/v2/dags/events/dagRuns`` and ``{"logical_date": null, "conf": {...}}``
(``logical_date`` is required and may be null in Airflow 3).

Settings:

* ``HUB_AIRFLOW_API_URL`` (e.g. ``http://127.0.0.1:8080``): without it, nothing is triggered;
* Connection ``airflow_api_default`` (optional): ``login`` / ``password`` of an Airflow user
  allowed to trigger DAG runs. Without it the request goes without a token; when Airflow answers
  401, an all-admins simple auth manager still hands out a token on ``GET /auth/token``;
* ``HUB_AIRFLOW_API_TIMEOUT`` (seconds, default 3).

The call runs in a background thread after the event is stored, with a short timeout, and
failures are only logged (never the token or the password): the events DAG also runs on a
schedule, so a lost trigger delays processing, it never loses an event. Bursts are coalesced:
while one call is in flight, further requests make one more call after it, not one each.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Optional

import requests

from hub.connections import get_connection
from hub.errors import FatalError

log = logging.getLogger(__name__)

URL_SETTING = "HUB_AIRFLOW_API_URL"
TIMEOUT_SETTING = "HUB_AIRFLOW_API_TIMEOUT"
CONN_ID = "airflow_api_default"
DAG_ID = "events"


class AirflowTrigger:
    def __init__(self, base_url: str, *, dag_id: str = DAG_ID, username: Optional[str] = None,
                 password: Optional[str] = None, timeout: float = 3.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.dag_id = dag_id
        self._username = username
        self._password = password
        self.timeout = timeout
        self._token: Optional[str] = None
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._last_conf: dict[str, Any] = {}
        #: how many times a run was asked for (``request``) and how many calls reached Airflow with
        #: a 2xx (``triggered``); for tests and the log
        self.requested = 0
        self.triggered = 0
        self.failed = 0

    def __repr__(self) -> str:  # no password, no token
        return f"AirflowTrigger({self.base_url!r}, dag_id={self.dag_id!r}, user={self._username!r})"

    @classmethod
    def from_environment(cls) -> Optional["AirflowTrigger"]:
        url = os.environ.get(URL_SETTING, "").strip()
        if not url:
            return None
        try:
            timeout = float(os.environ.get(TIMEOUT_SETTING, "3") or 3)
        except ValueError:
            raise FatalError("AIRFLOW_API_SETTING", f"{TIMEOUT_SETTING} is not a number of seconds",
                             TIMEOUT_SETTING) from None
        username = password = None
        try:
            conn = get_connection(CONN_ID)
            username, password = conn.login or None, conn.password or None
        except FatalError as error:
            if error.code != "CONNECTION_MISSING":
                raise
        return cls(url, username=username, password=password, timeout=timeout)

    def request(self, conf: Optional[dict[str, Any]] = None) -> None:
        """Ask for a run without waiting; returns at once."""
        with self._lock:
            self.requested += 1
            self._last_conf = dict(conf or {})
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._drain, name="airflow-trigger", daemon=True).start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                conf = self._last_conf
                self._again = False
            self.trigger_now(conf)
            with self._lock:
                if not self._again:
                    self._running = False
                    return

    def trigger_now(self, conf: Optional[dict[str, Any]] = None) -> bool:
        """One trigger call (blocking, bounded by the timeout); True when Airflow accepted it."""
        url = f"{self.base_url}/api/v2/dags/{self.dag_id}/dagRuns"
        body = {"logical_date": None, "conf": dict(conf or {})}
        try:
            response = self._post(url, body)
            if response.status_code == 401:
                self._token = None
                if self._fetch_token():
                    response = self._post(url, body)
            if 200 <= response.status_code < 300:
                self.triggered += 1
                log.info("events DAG run requested from Airflow (%s)", response.status_code)
                return True
            self.failed += 1
            log.warning("Airflow refused the events DAG run: HTTP %s %s; the schedule will pick the event up",
                        response.status_code, _detail(response))
        except requests.RequestException as exc:
            self.failed += 1
            log.warning("Airflow API not reachable to trigger the events DAG (%s); the schedule will pick the "
                        "event up", type(exc).__name__)
        return False

    def _post(self, url: str, body: dict[str, Any]) -> requests.Response:
        if self._token is None and self._username:
            self._fetch_token()
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        return requests.post(url, json=body, headers=headers, timeout=self.timeout)

    def _fetch_token(self) -> bool:
        try:
            self._token = request_token(self.base_url, self._username, self._password, self.timeout)
        except FatalError as error:
            log.warning("%s; check Connection %s", error.as_line(), CONN_ID)
            return False
        return True


def request_token(base_url: str, username: Optional[str], password: Optional[str], timeout: float) -> str:
    """A JWT from Airflow's auth manager: ``POST /auth/token`` with the user's name and password, or
    ``GET /auth/token`` without a user (an all-admins simple auth manager hands one out). A refusal or
    an answer without ``access_token`` is ``FatalError AIRFLOW_LOGIN_FAILED``; never the password."""
    url = f"{base_url.rstrip('/')}/auth/token"
    if username:
        response = requests.post(url, json={"username": username, "password": password or ""}, timeout=timeout)
    else:
        response = requests.get(url, timeout=timeout)
    if not 200 <= response.status_code < 300:
        raise FatalError("AIRFLOW_LOGIN_FAILED", f"Airflow refused a token for {username or '(no user)'}: "
                                                 f"HTTP {response.status_code}", url)
    try:
        token = response.json().get("access_token")
    except (ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise FatalError("AIRFLOW_LOGIN_FAILED", f"Airflow's token answer has no access_token "
                                                 f"(HTTP {response.status_code})", url)
    return token

def _detail(response: requests.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail)[:200] if detail else ""
