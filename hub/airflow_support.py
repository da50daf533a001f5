"""Airflow glue kept out of the DAG files: error taxonomy -> task retry behaviour.

Airflow retries a task on any exception. Only ``RetriableError`` should be retried; a fatal
or skippable error raised to the task level means retrying cannot help, so it becomes
``AirflowFailException`` (fail now, no retries) with the hub's one-line message.
"""
from __future__ import annotations

import datetime as dt
import functools
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
