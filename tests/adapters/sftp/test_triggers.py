"""SftpInboxTrigger run directly with asyncio against the real SFTP simulator (no scheduler)."""
from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from urllib.parse import quote

import asyncssh
import pytest

from adapters.sftp.sensors import outcome
from adapters.sftp.triggers import CLASSPATH, SftpInboxTrigger
from hub.errors import RetriableError
from simulators.sftp_server import SftpServer, known_hosts_line

PASSWORD = "Trigger-S3cret-pw"


@pytest.fixture
def server(tmp_path: Path):
    with SftpServer(tmp_path / "sftp", {"sup001": PASSWORD}, host_key_path=tmp_path / "host_key") as srv:
        yield srv


@pytest.fixture
def conn(server: SftpServer, tmp_path: Path, monkeypatch) -> str:
    known_hosts = server.write_known_hosts(tmp_path / "known_hosts")
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_T", f"sftp://sup001:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/"
                       f"?known_hosts={quote(str(known_hosts), safe='')}&min_file_age_seconds=60&timeout=5")
    return "supplier_sftp_t"


def drop(root: Path, name: str, age: float, data: bytes = b"x") -> Path:
    path = root / "sup001" / "out" / name
    path.write_bytes(data)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def events(trigger: SftpInboxTrigger) -> list:
    async def collect():
        return [event async for event in trigger.run()]

    return asyncio.run(collect())


def test_fires_once_with_only_the_ready_files(conn: str, tmp_path: Path):
    root = tmp_path / "sftp"
    drop(root, "DESADV_old.edi", age=3600, data=b"old!")
    drop(root, "DESADV_young.edi", age=0)
    drop(root, "DESADV_upload.edi.part", age=3600)
    drop(root, ".hidden", age=3600)
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=time.time() + 30, poll_interval=0.1))
    assert event.payload["status"] == "ready"
    assert [(f["path"], f["size"]) for f in event.payload["files"]] == [("out/DESADV_old.edi", 4)]
    assert event.payload["rejected"] == []
    assert PASSWORD not in repr(event.payload)


def test_idle_inbox_times_out_at_the_deadline(conn: str, tmp_path: Path):
    drop(tmp_path / "sftp", "too_young.edi", age=0)
    deadline = time.time() + 0.5
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=deadline, poll_interval=0.1))
    assert event.payload["status"] == "timeout"
    assert time.time() >= deadline  # it really waited for the window, it did not give up early
    with pytest.raises(Exception) as skipped:
        outcome(event.payload, soft_fail=True)
    assert type(skipped.value).__name__ == "AirflowSkipException"
    with pytest.raises(Exception) as timed_out:
        outcome(event.payload, soft_fail=False)
    assert type(timed_out.value).__name__ == "AirflowSensorTimeout"


def test_a_file_that_ages_during_the_wait_fires(conn: str, tmp_path: Path):
    # min age from the sensor (1 s) overrides the Connection's 60 s; the file becomes ready
    # while the trigger polls, so the event comes from a later poll, not the first one.
    drop(tmp_path / "sftp", "arriving.edi", age=0)
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=time.time() + 20, poll_interval=0.2,
                                       min_file_age_seconds=2))
    assert event.payload["status"] == "ready"
    assert [f["name"] for f in event.payload["files"]] == ["arriving.edi"]


def test_unsafe_names_fire_so_the_collector_can_quarantine_them(conn: str, tmp_path: Path):
    drop(tmp_path / "sftp", "evil\nname.edi", age=3600)
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=time.time() + 30, poll_interval=0.1))
    assert event.payload["files"] == [] and event.payload["rejected"] == ["'evil\\nname.edi'"]


def test_wrong_host_key_is_a_fatal_error_event(conn: str, server: SftpServer, tmp_path: Path, monkeypatch):
    impostor = tmp_path / "impostor_known_hosts"
    impostor.write_text(known_hosts_line(asyncssh.generate_private_key("ssh-ed25519"), "127.0.0.1", server.port) + "\n")
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_T", f"sftp://sup001:{quote(PASSWORD, safe='')}@127.0.0.1:"
                       f"{server.port}/?known_hosts={quote(str(impostor), safe='')}&timeout=5")
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=time.time() + 30, poll_interval=0.1))
    assert (event.payload["status"], event.payload["kind"], event.payload["code"]) == ("error", "fatal", "SFTP_HOST_KEY")
    with pytest.raises(Exception) as failed:
        outcome(event.payload, soft_fail=True)  # soft_fail never hides a broken Connection
    assert type(failed.value).__name__ == "AirflowFailException"


def test_wrong_password_is_fatal_and_not_in_the_event(server: SftpServer, tmp_path: Path, monkeypatch):
    known_hosts = server.write_known_hosts(tmp_path / "known_hosts")
    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_T", f"sftp://sup001:Wrong-Pw-Leak-9@127.0.0.1:{server.port}/"
                       f"?known_hosts={quote(str(known_hosts), safe='')}&timeout=5")
    (event,) = events(SftpInboxTrigger(sftp_conn_id="supplier_sftp_t", deadline=time.time() + 30))
    assert event.payload["code"] == "SFTP_AUTH"
    assert "Wrong-Pw-Leak-9" not in repr(event.payload)


def test_unreachable_server_is_retried_until_the_deadline_then_retriable(conn: str, server: SftpServer):
    server.stop()
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=time.time() + 0.5, poll_interval=0.1))
    assert (event.payload["status"], event.payload["kind"]) == ("error", "retriable")
    with pytest.raises(RetriableError):
        outcome(event.payload, soft_fail=True)


def test_key_login_with_encrypted_key(server: SftpServer, tmp_path: Path, monkeypatch):
    key = asyncssh.generate_private_key("ssh-ed25519")
    key_file = tmp_path / "id_ed25519"
    key_file.write_bytes(key.export_private_key("openssh", passphrase="key-Passphrase-1"))
    authorized = tmp_path / "authorized_keys"
    authorized.write_bytes(key.export_public_key("openssh"))
    known_hosts = server.write_known_hosts(tmp_path / "known_hosts")
    with SftpServer(tmp_path / "sftp2", {"sup001": "unused-Password-1"}, host_key_path=tmp_path / "host_key",
                    authorized_keys={"sup001": authorized}) as keyed:
        known_hosts = keyed.write_known_hosts(tmp_path / "known_hosts2")
        drop(tmp_path / "sftp2", "x.edi", age=3600)
        monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_K", f"sftp://sup001:key-Passphrase-1@127.0.0.1:{keyed.port}/"
                           f"?known_hosts={quote(str(known_hosts), safe='')}&key_file={quote(str(key_file), safe='')}")
        (event,) = events(SftpInboxTrigger(sftp_conn_id="supplier_sftp_k", deadline=time.time() + 30))
    assert event.payload["status"] == "ready" and event.payload["files"][0]["name"] == "x.edi"


def test_serialize_round_trips():
    trigger = SftpInboxTrigger(sftp_conn_id="c", deadline=123.5, folder="out", min_file_age_seconds=7, poll_interval=3)
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert SftpInboxTrigger(**kwargs).serialize() == (classpath, kwargs)


def sensor(conn: str, wait_seconds: float = 5):
    from adapters.sftp.sensors import SftpInboxSensor

    return SftpInboxSensor(task_id="wait_for_files", sftp_conn_id=conn, wait_seconds=wait_seconds)


def test_the_sensor_takes_files_already_there_without_deferring(conn: str, tmp_path: Path):
    root = tmp_path / "sftp"
    drop(root, "DESADV_old.edi", age=3600, data=b"old!")
    drop(root, "DESADV_young.edi", age=0)
    result = sensor(conn).execute(context={})
    # the same event the trigger would have fired for this folder
    (event,) = events(SftpInboxTrigger(sftp_conn_id=conn, deadline=time.time() + 30, poll_interval=0.1))
    assert result == event.payload
    assert [f["name"] for f in result["files"]] == ["DESADV_old.edi"]


def test_the_sensor_defers_when_nothing_is_ready_yet(conn: str, tmp_path: Path):
    from airflow.exceptions import TaskDeferred

    drop(tmp_path / "sftp", "DESADV_young.edi", age=0)
    with pytest.raises(TaskDeferred) as deferred:
        sensor(conn).execute(context={})
    assert isinstance(deferred.value.trigger, SftpInboxTrigger) and deferred.value.method_name == "execute_complete"


def test_the_sensor_leaves_a_failing_server_to_the_trigger(conn: str, tmp_path: Path, monkeypatch):
    # a wrong password: the first look fails quietly, the trigger reports SFTP_AUTH as before
    from airflow.exceptions import TaskDeferred

    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_T", os.environ["AIRFLOW_CONN_SUPPLIER_SFTP_T"].replace(
        quote(PASSWORD, safe=""), "wrong"))
    drop(tmp_path / "sftp", "DESADV_old.edi", age=3600)
    with pytest.raises(TaskDeferred):
        sensor(conn).execute(context={})


def test_the_sensor_reports_an_unsafe_name_at_once(conn: str, tmp_path: Path):
    drop(tmp_path / "sftp", "bad\x07name.edi", age=3600)
    result = sensor(conn).execute(context={})
    assert result["files"] == [] and result["rejected"] == [repr("bad\x07name.edi")]


def test_without_a_window_an_empty_inbox_skips_at_once(conn: str, tmp_path: Path):
    from airflow.exceptions import AirflowSkipException

    drop(tmp_path / "sftp", "DESADV_young.edi", age=0)  # not ready yet: the watcher will start a run for it
    with pytest.raises(AirflowSkipException, match="no ready file"):
        sensor(conn, wait_seconds=0).execute(context={})


def test_without_a_window_a_failing_server_still_goes_to_the_trigger(conn: str, tmp_path: Path, monkeypatch):
    from airflow.exceptions import TaskDeferred

    monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_T", os.environ["AIRFLOW_CONN_SUPPLIER_SFTP_T"].replace(
        quote(PASSWORD, safe=""), "wrong"))
    with pytest.raises(TaskDeferred):
        sensor(conn, wait_seconds=0).execute(context={})
