"""collect() against the real SFTP simulator and a real store: ledger, growing files, names."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.sftp.config import SftpConfig
from adapters.sftp.hook import SftpHook
from canonical_model.store import ledger, quarantine
from canonical_model.store.tables import InboxRow
from hub.flows import supplier_collect
from hub.flows.supplier_collect import collect, fetch_file
from hub.partners import get_partner

PARTNER = "SUP-001"




def drop(folder: Path, name: str, data: bytes, age_seconds: int = 3600) -> Path:
    path = folder / "out" / name
    path.write_bytes(data)
    past = int(dt.datetime.now().timestamp()) - age_seconds
    os.utime(path, (past, past))
    return path


def hook() -> SftpHook:
    return SftpHook(SftpConfig.from_conn_id(get_partner(PARTNER).sftp_conn_id).model_copy(
        update={"min_file_age_seconds": 0}))


def test_big_file_streams_into_the_archive_with_its_sha256(sqlite_store, sftp):
    data = os.urandom(5 * 1024 * 1024 + 3)
    drop(sftp, "big.csv", data)
    report = collect(sqlite_store, PARTNER)
    assert (report.new, report.duplicate) == (1, 0)
    with sqlite_store.session() as s:
        row = s.scalars(select(InboxRow)).one()
        assert row.sha256 == hashlib.sha256(data).hexdigest() and row.size == len(data)
        assert row.remote_path == "out/big.csv" and row.remote_mtime == (sftp / "archive" / "big.csv").stat().st_mtime
        assert ledger.read_raw(sqlite_store, s, row.sha256) == data
    assert report.pending_inbox_ids == [row.id]
    assert not [p for p in sqlite_store.archive_dir.rglob("*.part")]  # no temp left behind


def test_file_growing_between_listing_and_download_is_left_for_later(sqlite_store, sftp):
    path = drop(sftp, "growing.edi", b"UNA:+.? 'UNB+UNOC:3+SUP")
    with hook() as sftp_hook:
        (listed,) = sftp_hook.list_ready()
        with path.open("ab") as more:  # the supplier is still writing
            more.write(b"-001+MESHUB'")
        assert fetch_file(sqlite_store, sftp_hook, PARTNER, listed) == "growing"
    assert path.exists() and not list((sftp / "archive").iterdir())
    with sqlite_store.session() as s:
        assert s.scalars(select(InboxRow)).first() is None
    # the next run sees the finished file (older than the minimum age by then) and takes it
    os.utime(path, (path.stat().st_mtime - 60,) * 2)
    assert collect(sqlite_store, PARTNER).new == 1


def test_same_path_size_mtime_already_in_ledger_is_not_downloaded_again(sqlite_store, sftp, monkeypatch):
    drop(sftp, "DESADV_1.edi", b"first payload")
    # A crash after the store commit but before the move on the server: simulated by a
    # server that refuses the move once (the collector then raises, the row is committed).
    (sftp / "archive").rename(sftp / "archive-gone")
    with pytest.raises(Exception):
        collect(sqlite_store, PARTNER)
    (sftp / "archive-gone").rename(sftp / "archive")
    with sqlite_store.session() as s:
        assert s.scalars(select(InboxRow)).one().remote_path == "out/DESADV_1.edi"
    assert (sftp / "out" / "DESADV_1.edi").exists()
    # next run: recognised from the ledger (path + size + mtime), moved away, not re-read
    report = collect(sqlite_store, PARTNER)
    assert (report.new, report.duplicate, report.already_collected) == (0, 0, 1)
    assert [p.name for p in (sftp / "archive").iterdir()] == ["DESADV_1.edi"]
    with sqlite_store.session() as s:
        assert len(s.scalars(select(InboxRow)).all()) == 1


def test_same_bytes_under_another_name_is_a_duplicate_and_both_leave_the_inbox(sqlite_store, sftp):
    drop(sftp, "a.edi", b"same bytes", age_seconds=7200)
    drop(sftp, "b.edi", b"same bytes")
    report = collect(sqlite_store, PARTNER)
    assert (report.new, report.duplicate) == (1, 1)
    assert sorted(p.name for p in (sftp / "archive").iterdir()) == ["a.edi", "b.edi"]


def test_unsafe_name_is_quarantined_as_evidence_and_left_on_the_server(sqlite_store, sftp):
    drop(sftp, "evil\nname.edi", b"x")
    drop(sftp, "ok.edi", b"ok")
    for _ in range(2):  # a rerun names the same file once, not twice
        report = collect(sqlite_store, PARTNER)
        assert report.rejected_names == 1
    with sqlite_store.session() as s:
        (row,) = quarantine.list_rows(s)
    assert row.reason_code == "SFTP_BAD_NAME" and row.partner == PARTNER
    assert row.evidence["name"] == "evil\nname.edi" and "'evil\\nname.edi'" in row.message
    assert "\n" not in row.location and "\n" not in row.message
    assert (sftp / "out" / "evil\nname.edi").exists()


def test_after_collect_delete_removes_instead_of_archiving(sqlite_store, sftp, monkeypatch):
    profile = get_partner(PARTNER)
    deleting = profile.model_copy(update={"sftp": profile.sftp.model_copy(update={"after_collect": "delete"})})
    monkeypatch.setattr(supplier_collect, "get_partner", lambda _id: deleting)
    drop(sftp, "gone.edi", b"payload")
    assert collect(sqlite_store, PARTNER).new == 1
    assert not list((sftp / "out").iterdir()) and not list((sftp / "archive").iterdir())


def test_young_files_wait(sqlite_store, sftp):
    drop(sftp, "fresh.edi", b"x", age_seconds=0)
    report = collect(sqlite_store, PARTNER)
    assert (report.new, report.waiting) == (0, 1)
    assert (sftp / "out" / "fresh.edi").exists()
