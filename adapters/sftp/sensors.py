"""Airflow sensor that waits for a partner's SFTP inbox without holding a worker.

``execute`` looks once (one SFTP listing): files already ready - the usual case when an arrival
event started the run - are the outcome at once, without a round trip through the triggerer;
with a window of 0 seconds, so is "nothing ready" (skipped). Otherwise it defers to :class:`adapters.sftp.triggers.SftpInboxTrigger`; the worker slot is
released until the trigger fires, and ``execute_complete`` turns the event into the task's outcome:

* files ready -> success; the XCom value is the small event payload (paths, sizes, mtimes);
* nothing before the deadline -> skipped when ``soft_fail`` (an idle partner is not a
  failure, and skipping also skips that partner's collect/process), else AirflowSensorTimeout;
* fatal error (credentials, host key, missing folder) -> AirflowFailException, no retries;
* a server still unreachable at the deadline -> the hub's RetriableError, so Airflow retries.

The window is ``timeout`` seconds, or ``wait_seconds`` when that (templated) field renders to
a number - e.g. ``"{{ var.value.get('hub_sftp_wait_seconds', '') }}"`` lets an environment
(the demo) shorten it through ``AIRFLOW_VAR_HUB_SFTP_WAIT_SECONDS`` without a code change.
"""
from __future__ import annotations

import datetime as dt
import time
from typing import Any, Sequence

from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException
from airflow.sdk.bases.sensor import BaseSensorOperator

from hub.errors import RetriableError

# The sensor is built while a DAG file is parsed, so this module imports nothing heavy; the
# trigger (asyncssh, paramiko through the config) is imported when the task runs.
DEFAULT_CONN_ID = "supplier_sftp_default"  # = adapters.sftp.config.DEFAULT_CONN_ID

#: beyond the trigger's own deadline, how long the scheduler waits before it times out the
#: deferral itself (only if the trigger could not report, e.g. a triggerer died)
_GRACE_SECONDS = 120


class SftpInboxSensor(BaseSensorOperator):
    # every constructor argument a mapped task group may hand in must be a template field:
    # only those are resolved from the group's mapped arguments at run time
    template_fields: Sequence[str] = ("sftp_conn_id", "folder", "min_file_age_seconds", "wait_seconds")
    ui_color = "#d7e8f5"

    def __init__(self, *, sftp_conn_id: str = DEFAULT_CONN_ID, folder: str | None = None,
                 min_file_age_seconds: float | None = None, wait_seconds: str | float | None = None,
                 poke_interval: float = 30, timeout: float = 240, soft_fail: bool = True, **kwargs: Any) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, soft_fail=soft_fail, **kwargs)
        self.sftp_conn_id = sftp_conn_id
        self.folder = folder
        self.min_file_age_seconds = min_file_age_seconds
        self.wait_seconds = wait_seconds

    def window_seconds(self) -> float:
        if self.wait_seconds not in (None, ""):
            try:
                value = float(self.wait_seconds)
            except (TypeError, ValueError):
                raise AirflowFailException(f"wait_seconds must be a number of seconds, got {self.wait_seconds!r}") from None
            if value >= 0:
                return value
        return float(self.timeout)

    def execute(self, context: Any) -> Any:
        from adapters.sftp.triggers import SftpInboxTrigger

        window = self.window_seconds()
        look = self.first_look()
        # files there: done; nothing there and no window to wait (the arrival watcher starts the
        # runs): done too, skipped; the look failed: the trigger reports it as it always did
        if look is not None and (look["status"] == "ready" or window <= 0):
            return outcome(look, soft_fail=self.soft_fail)
        self.defer(
            # plain types only: trigger kwargs are serialised into the metadata database
            trigger=SftpInboxTrigger(sftp_conn_id=str(self.sftp_conn_id),
                                     folder=None if self.folder is None else str(self.folder),
                                     min_file_age_seconds=(None if self.min_file_age_seconds is None
                                                           else float(self.min_file_age_seconds)),
                                     deadline=time.time() + window, poll_interval=float(self.poke_interval)),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=window + _GRACE_SECONDS),
        )

    def first_look(self) -> dict[str, Any] | None:
        """What the trigger would report right now: its "ready" event, or "timeout" when nothing is
        ready; None when the look failed (the trigger then waits, retries and reports errors
        exactly as without this look)."""
        from adapters.sftp.config import SftpConfig
        from adapters.sftp.hook import SftpHook
        from adapters.sftp.triggers import ready_event, timeout_event
        from hub.errors import HubError

        try:
            config = SftpConfig.from_conn_id(str(self.sftp_conn_id))
            if self.min_file_age_seconds is not None:
                config = config.model_copy(update={"min_file_age_seconds": float(self.min_file_age_seconds)})
            with SftpHook(config) as sftp:
                listing = sftp.scan(None if self.folder is None else str(self.folder))
        except HubError as error:
            self.log.info("first look at the inbox failed (%s); waiting in the triggerer", error.code)
            return None
        if not listing.ready and not listing.rejected:
            return timeout_event(str(self.sftp_conn_id), listing.folder, config.where)
        return ready_event(str(self.sftp_conn_id), listing.folder,
                           [{"path": f.path, "name": f.name, "size": f.size, "mtime": f.mtime} for f in listing.ready],
                           sorted(repr(name) for name, _ in listing.rejected))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return outcome(event, soft_fail=self.soft_fail)


def outcome(event: dict[str, Any] | None, *, soft_fail: bool) -> dict[str, Any]:
    """What a trigger event means for the sensor task (kept apart so it is testable alone)."""
    status = (event or {}).get("status")
    if status == "ready":
        return event
    if status == "timeout":
        if soft_fail:
            raise AirflowSkipException(event.get("message", "no files"))
        raise AirflowSensorTimeout(event.get("message", "no files"))
    if status == "error" and event.get("kind") == "retriable":
        raise RetriableError(event.get("code", "SFTP_UNAVAILABLE"), event.get("message", ""))
    if status == "error":
        raise AirflowFailException(event.get("message") or event.get("code") or "SFTP sensor failed")
    raise AirflowFailException(f"unexpected trigger event {event!r}")
