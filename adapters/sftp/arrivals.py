"""Event-driven start of ``supplier_inbound``: an Airflow 3 asset watcher on the partners' SFTP inboxes.

The triggerer runs :class:`SftpArrivalTrigger` for as long as the DAG exists. It polls every
partner's inbox folder (one asyncssh session per partner, the same ``InboxPoller`` and readiness
rules as the sensor: host key pinned, minimum file age, unsafe names reported) and yields one
event whenever a file shows up that it has not announced yet. The event updates the asset
``sftp://suppliers/inbox``, which schedules a ``supplier_inbound`` run within seconds instead of
at the next cron tick; the cron schedule stays as the safety net (a missed event, a triggerer
restart). Several events before the run starts make one run (Airflow queues one run per DAG).

What was announced is remembered in memory, keyed by partner, name, size and mtime: a file
the hub leaves on the server (an unsafe name it quarantined) does not start a run every poll,
and a file that changes is announced again. A triggerer restart announces waiting files once
more, which costs one run that finds them already collected or collects them - never a
duplicate document (the inbox ledger dedups by content).

This module is imported when DAG files are parsed: asyncssh, paramiko and the partner profiles
are imported only inside ``run`` (in the triggerer).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)

CLASSPATH = "adapters.sftp.arrivals.SftpArrivalTrigger"
ASSET_URI = "sftp://suppliers/inbox"


class SftpArrivalTrigger(BaseEventTrigger):
    def __init__(self, *, poll_interval: float = 5.0) -> None:
        super().__init__()
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {"poll_interval": self.poll_interval}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        announced: dict[str, set[tuple]] = {}
        pollers: dict[str, Any] = {}
        try:
            while True:
                arrived = await self.poll_once(pollers, announced)
                if arrived:
                    yield TriggerEvent({"status": "arrived", "files": arrived})
                await asyncio.sleep(self.poll_interval)
        finally:
            for poller in pollers.values():
                await poller.close()

    async def poll_once(self, pollers: dict[str, Any], announced: dict[str, set[tuple]]) -> list[dict]:
        """New ready files of every partner since the last poll, as ``{"partner_id", "name", "size"}``.

        A partner whose server fails is logged and skipped (its next poll tries again; ``hub doctor``
        and the feed-quiet alert tell people): one broken supplier must not stop the others' events."""
        from asgiref.sync import sync_to_async

        from adapters.sftp.config import SftpConfig
        from adapters.sftp.errors import check_folder
        from adapters.sftp.triggers import InboxPoller
        from hub.errors import HubError
        from hub.tasks import inbound_channels

        arrived: list[dict] = []
        channels = await sync_to_async(inbound_channels)()
        for channel in channels:
            partner = channel["partner_id"]
            try:
                poller = pollers.get(partner)
                if poller is None:
                    config = await sync_to_async(SftpConfig.from_conn_id)(channel["sftp_conn_id"])
                    poller = pollers[partner] = InboxPoller(config)
                folder = check_folder(poller.config.inbox_folder, poller.config.where)
                ready, rejected = await poller.poll(folder, float(channel["min_file_age_seconds"]))
            except HubError as error:
                log.warning("arrival watch of %s: %s", partner, error.as_line())
                stale = pollers.pop(partner, None)
                if stale is not None:
                    await stale.close()
                continue
            seen = {(f["name"], f["size"], f["mtime"]) for f in ready} | {(name, None, None) for name in rejected}
            new = seen - announced.get(partner, set())
            announced[partner] = seen  # forget what left the folder: memory stays bounded
            arrived += [{"partner_id": partner, "name": name, "size": size} for name, size, _ in sorted(
                new, key=lambda entry: entry[0])]
        return arrived
