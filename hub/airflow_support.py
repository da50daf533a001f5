"""Airflow glue kept out of the DAG files: error taxonomy -> task retry behaviour.

Airflow retries a task on any exception. Only ``RetriableError`` should be retried; a fatal
or skippable error raised to the task level means retrying cannot help, so it becomes
``AirflowFailException`` (fail now, no retries) with the hub's one-line message.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
from typing import Any, Callable

from hub.errors import HubError, RetriableError

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "integration",
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
}


def classified(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from airflow.exceptions import AirflowFailException

        try:
            return fn(*args, **kwargs)
        except RetriableError:
            raise
        except HubError as error:
            raise AirflowFailException(error.as_line()) from error

    return wrapper


def scheduled(schedule: Any) -> Any:
    """A DAG's schedule, or None (manual runs only) when ``HUB_DAG_SCHEDULES=manual``.

    The demo story on a real scheduler (CeleryExecutor) triggers each DAG itself, in story order:
    a cron tick or an asset event in between would run a step early and change what the story
    shows. Production and ``make up`` keep the schedules."""
    return None if os.environ.get("HUB_DAG_SCHEDULES", "").strip().lower() == "manual" else schedule
