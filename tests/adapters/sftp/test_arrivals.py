"""The asset watcher that starts supplier_inbound when a file arrives, against a real SFTP server."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from adapters.sftp.arrivals import CLASSPATH, SftpArrivalTrigger


def _drop(folder: Path, name: str, body: bytes = b"UNA:+.? 'UNB+UNOC:3+X+Y'", age: float = 60) -> Path:
    """A file as a supplier leaves it, already older than the partner's minimum file age."""
    path = folder / name
    path.write_bytes(body)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


class Watch:
    """One trigger's polls with the state it keeps between them, as ``run`` keeps it."""

    def __init__(self) -> None:
        self.trigger = SftpArrivalTrigger(poll_interval=0.1)
        self.pollers: dict = {}
        self.announced: dict = {}

    def poll(self) -> list[dict]:
        return asyncio.run(self._poll())

    async def _poll(self) -> list[dict]:
        try:
            return await self.trigger.poll_once(self.pollers, self.announced)
        finally:  # each asyncio.run has its own loop: sessions do not outlive it
            for poller in self.pollers.values():
                await poller.close()
            self.pollers.clear()


def test_a_new_file_is_announced_once_and_again_when_it_changes(sftp: Path):
    watch = Watch()
    assert watch.poll() == []
    _drop(sftp / "out", "DESADV_1.edi")
    assert watch.poll() == [{"partner_id": "SUP-001", "name": "DESADV_1.edi", "size": 24}]
    assert watch.poll() == []  # still waiting for collection: no second run for the same file
    _drop(sftp / "out", "DESADV_1.edi", body=b"UNA:+.? 'UNB+UNOC:3+X+Y+Z'")
    assert watch.poll() == [{"partner_id": "SUP-001", "name": "DESADV_1.edi", "size": 26}]


def test_files_younger_than_the_minimum_age_and_temporary_files_wait(sftp: Path):
    watch = Watch()
    _drop(sftp / "out", "DESADV_2.edi", age=0)  # still being written, as far as anyone can tell
    _drop(sftp / "out", "DESADV_3.edi.part")
    _drop(sftp / "out", ".hidden")
    assert watch.poll() == []


def test_a_collected_file_dropped_again_is_announced_again(sftp: Path):
    watch = Watch()
    path = _drop(sftp / "out", "DESADV_4.edi")
    assert len(watch.poll()) == 1
    path.rename(sftp / "archive" / path.name)  # what collect does
    assert watch.poll() == []
    _drop(sftp / "out", "DESADV_4.edi")  # the supplier sends it again: the ledger, not the watcher, dedups
    assert [f["name"] for f in watch.poll()] == ["DESADV_4.edi"]


def test_an_unsafe_name_left_on_the_server_does_not_start_a_run_every_poll(sftp: Path):
    watch = Watch()
    _drop(sftp / "out", "bad\x1bname.edi")
    first = watch.poll()
    assert [f["partner_id"] for f in first] == ["SUP-001"] and "\\x1b" in first[0]["name"]
    assert watch.poll() == []


def test_a_partner_without_a_working_connection_does_not_silence_the_others(sftp: Path, monkeypatch, caplog):
    # SUP-002 has no Connection in this test at all; SUP-001's files are still announced
    monkeypatch.delenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP002", raising=False)
    _drop(sftp / "out", "DESADV_5.edi")
    assert [f["partner_id"] for f in Watch().poll()] == ["SUP-001"]
    assert "SUP-002" in caplog.text


def test_a_changed_host_key_is_never_accepted(sftp: Path, monkeypatch, tmp_path: Path, caplog):
    conn = os.environ["AIRFLOW_CONN_SUPPLIER_SFTP_SUP001"]
    wrong = tmp_path / "other_known_hosts"
    wrong.write_text(Path(sftp.parent.parent / "known_hosts").read_text().replace("127.0.0.1", "127.0.0.2"))
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP001",
                       conn.split("?known_hosts=")[0] + "?known_hosts=" + str(wrong).replace("/", "%2F"))
    _drop(sftp / "out", "DESADV_6.edi")
    assert Watch().poll() == []
    assert "SFTP_HOST_KEY" in caplog.text


def test_run_yields_an_event_per_arrival_and_keeps_watching(sftp: Path):
    async def first_two_events() -> list[dict]:
        events = []
        stream = SftpArrivalTrigger(poll_interval=0.1).run()
        try:
            async for event in stream:
                events.append(event.payload)
                if len(events) == 1:
                    _drop(sftp / "out", "DESADV_8.edi")
                if len(events) == 2:
                    return events
        finally:
            await stream.aclose()

    _drop(sftp / "out", "DESADV_7.edi")
    events = asyncio.run(asyncio.wait_for(first_two_events(), 60))
    assert [[f["name"] for f in e["files"]] for e in events] == [["DESADV_7.edi"], ["DESADV_8.edi"]]
    assert {e["status"] for e in events} == {"arrived"}


def test_the_trigger_serialises_to_plain_kwargs():
    classpath, kwargs = SftpArrivalTrigger(poll_interval=3).serialize()
    assert classpath == CLASSPATH and kwargs == {"poll_interval": 3.0}
    assert SftpArrivalTrigger(**kwargs).serialize() == (classpath, kwargs)
