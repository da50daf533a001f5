"""Airflow glue kept out of the DAG files: error taxonomy -> task retry behaviour, failure alerts,
run deadlines.

Airflow retries a task on any exception. Only ``RetriableError`` should be retried; a fatal
or skippable error raised to the task level means retrying cannot help, so it becomes
``AirflowFailException`` (fail now, no retries) with the hub's one-line message.

A task that fails for good (retries spent, or fatal) raises a ``PIPELINE_FAILED`` alert through the
alert lifecycle (``DEFAULT_ARGS["on_failure_callback"]``); a DAG run still running past its
``run_deadline`` raises ``RUN_DEADLINE_MISSED``. Both import hub/notify/airflow_notifier.py only when
they fire: this module is imported by every DAG file at parse time and stays light (no Airflow, no
canonical model, no store at import).
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import sys
from typing import Any, Callable

from hub.errors import HubError, RetriableError

#: set on every ``classified`` wrapper, so a test can tell a task callable went through it
CLASSIFIED = "__hub_classified__"


def on_task_failure(context: Any) -> None:
    """A task failed for good: ``PIPELINE_FAILED`` for its (DAG, task), stored and told once."""
    from hub.notify.airflow_notifier import HubFailureNotifier

    HubFailureNotifier()(context)


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "integration",
    "retries": 3,
    "retry_delay": dt.timedelta(seconds=30),
    "retry_exponential_backoff": True,
    # retries are not failures: Airflow calls this only when the task will not run again
    "on_failure_callback": on_task_failure,
}


def classified(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from airflow.sdk.exceptions import AirflowFailException

        try:
            return fn(*args, **kwargs)
        except RetriableError:
            raise
        except HubError as error:
            raise AirflowFailException(error.as_line()) from error

    setattr(wrapper, CLASSIFIED, True)
    return wrapper


def deadline_missed(context: Any = None, **kwargs: Any) -> None:
    """Airflow's deadline callback (run in the executor, ``SyncCallback``): ``RUN_DEADLINE_MISSED``.

    ``context`` is what Airflow hands deadline callbacks (the DAG run as the REST API shows it and
    the deadline); ``kwargs`` are the ones :func:`run_deadline` stored with the DAG."""
    import logging

    from collaboration.alerts.config import load_config
    from hub.notify.airflow_notifier import deadline_alert, raise_and_tell

    state = str(((context or {}).get("dag_run") or {}).get("state") or "")
    if state in ("success", "failed"):
        # Airflow 3.3 may still fire the deadline of a run that ended before it (apache/airflow#60927):
        # a failed run has its PIPELINE_FAILED alert already, a finished one missed nothing
        logging.getLogger(__name__).info("deadline of a run already %s: no alert", state)
        return
    config = load_config()
    raise_and_tell(deadline_alert(context or {}, config, allowed=kwargs.get("allowed")), config)


#: ``off``: DAG files carry no run deadline (see ``run_deadline``)
DEADLINES_SETTING = "HUB_RUN_DEADLINES"


def parsed_for_dag_test() -> bool:
    """Is this process one that runs DAGs with ``dag.test()``: ``airflow dags test`` or the demo's
    ``python -m hub.dag_runner``?

    Airflow 3.3.2's ``dag.test()`` crashes at the end of every successful run of a DAG that has a
    deadline (seen here: ``StatementError ... 'dict' object has no attribute 'hex'`` selecting from
    ``deadline_alert``; its in-memory scheduler DAG holds the encoded alerts where the scheduler's
    holds their ids; no upstream issue found for it), so a DAG parsed there must carry none.
    Nothing is lost: only the scheduler evaluates deadlines, ``dag.test()`` never would."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name == "hub.dag_runner":
        return True
    return sys.argv[1:3] == ["dags", "test"]


def run_deadline(minutes: float) -> Any:
    """A ``DeadlineAlert``: a run not finished ``minutes`` after it was queued raises
    ``RUN_DEADLINE_MISSED`` (one alert per DAG, refreshed by the next miss). The scheduler notices the
    miss and runs :func:`deadline_missed` on the executor. ``None`` (no deadline) where DAGs run
    through ``dag.test()`` (:func:`parsed_for_dag_test`) or with ``HUB_RUN_DEADLINES=off``."""
    if parsed_for_dag_test() or os.environ.get(DEADLINES_SETTING, "").strip().lower() == "off":
        return None
    from airflow.sdk import DeadlineAlert, DeadlineReference, SyncCallback

    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=dt.timedelta(minutes=minutes),
                         callback=SyncCallback(deadline_missed, kwargs={"allowed": f"{minutes:g} min"}))


def scheduled(schedule: Any) -> Any:
    """A DAG's schedule, or None (manual runs only) when ``HUB_DAG_SCHEDULES=manual``.

    The demo story on a real scheduler (CeleryExecutor) triggers each DAG itself, in story order:
    a cron tick or an asset event in between would run a step early and change what the story
    shows. Production and ``make up`` keep the schedules."""
    return None if os.environ.get("HUB_DAG_SCHEDULES", "").strip().lower() == "manual" else schedule
