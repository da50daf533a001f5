"""Where endpoints and secrets come from: Airflow Connections, never code.

Inside Airflow the Connection is read through Airflow (which also masks its password in task
logs). Outside Airflow (CLI, tests) the same ``AIRFLOW_CONN_<ID>`` environment variables are
read directly, so both paths see the same configuration.
"""
from __future__ import annotations

import os

from hub.errors import FatalError


def connection_uri(conn_id: str) -> str:
    env_name = f"AIRFLOW_CONN_{conn_id.upper()}"
    uri = os.environ.get(env_name)
    if uri:
        return uri
    try:
        from airflow.sdk import BaseHook  # imported lazily: the core must not need Airflow

        return BaseHook.get_connection(conn_id).get_uri()
    except Exception as exc:  # noqa: BLE001 - any lookup failure means "not configured"
        raise FatalError("CONNECTION_MISSING",
                         f"Airflow Connection {conn_id!r} is not defined; set {env_name} (see .env.example)",
                         conn_id) from exc
