"""`hub replay --day`: re-run the files a partner sent on one day of its own calendar."""
from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from canonical_model.store import audit, open_store
from canonical_model.store.tables import InboxRow
from hub.cli import app
from hub.errors import FatalError
from hub.history_replay import day_window, replay_history
from tests.hub.test_history_replay import PARTNER, asn, receive, seed_po, store_older_variant

UTC = dt.timezone.utc
#: when each file arrived; SUP-001 is on Asia/Shanghai (UTC+8), so its 2026-11-26 is 11-25 16:00 to 11-26 16:00 UTC
ARRIVALS = {
    "DESADV_late_25th.edi": dt.datetime(2026, 11, 25, 15, 59, tzinfo=UTC),   # 23:59 on the 25th in Shanghai
    "DESADV_26th.edi": dt.datetime(2026, 11, 25, 16, 0, tzinfo=UTC),         # 00:00 on the 26th
    "DESADV_26th_evening.edi": dt.datetime(2026, 11, 26, 15, 59, tzinfo=UTC),  # 23:59 on the 26th
    "DESADV_27th.edi": dt.datetime(2026, 11, 26, 16, 0, tzinfo=UTC),         # 00:00 on the 27th
}


def receive_days(store) -> None:
    seed_po(store)
    for n, name in enumerate(ARRIVALS, start=1):
        doc = asn(qty=("10", "10")).model_copy(update={"asn_number": f"ASN-{n}"})
        receive(store, name, doc, f"90{n}")
        with store.session() as s:
            s.execute(update(InboxRow).where(InboxRow.name == name).values(received_at=ARRIVALS[name]))


def test_a_day_is_the_partners_calendar_day(sqlite_store):
    receive_days(sqlite_store)
    since, until = day_window("2026-11-26", zoneinfo.ZoneInfo("Asia/Shanghai"))

    report = replay_history(sqlite_store, PARTNER, since, until=until)

    assert [f.name for f in report.files] == ["DESADV_26th.edi", "DESADV_26th_evening.edi"]
    assert report.until == dt.datetime(2026, 11, 26, 16, 0, tzinfo=UTC)


def test_a_day_with_a_clock_change_is_23_or_25_hours_long():
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start, end = day_window("2026-03-29", berlin)
    assert (start, end - start) == (dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC), dt.timedelta(hours=23))
    start, end = day_window("2026-10-25", berlin)
    assert end - start == dt.timedelta(hours=25)
    assert day_window("2026-11-26") == (dt.datetime(2026, 11, 26, tzinfo=UTC), dt.datetime(2026, 11, 27, tzinfo=UTC))


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "2026-11-26T08:00", "", "2026-11-26\n2026-11-27"])
def test_a_day_that_is_not_a_date_is_refused(text):
    with pytest.raises(FatalError) as refused:
        day_window(text)
    assert refused.value.code == "BAD_DATE" and refused.value.where == "--day"


@pytest.fixture
def cli_store(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    store = open_store(f"sqlite:///{tmp_path / 'hub.db'}", archive_dir=tmp_path / "archive")
    yield store
    store.dispose()


def test_cli_day_replays_that_day_only_and_applies_it(cli_store):
    receive_days(cli_store)
    for name in ARRIVALS:  # an older mapping's result for every file: each one would change now
        store_older_variant(cli_store, name)
    runner = CliRunner()

    dry = runner.invoke(app, ["replay", "--partner", PARTNER, "--day", "2026-11-26"])

    assert dry.exit_code == 1, dry.output  # differences found in a dry run
    assert "since 2026-11-25T16:00:00+00:00 until 2026-11-26T16:00:00+00:00 (dry run" in dry.stdout
    shown = [line.split()[1] for line in dry.stdout.splitlines() if line.startswith("== ")]
    assert shown == ["DESADV_26th.edi", "DESADV_26th_evening.edi"]

    applied = runner.invoke(app, ["replay", "--partner", PARTNER, "--day", "2026-11-26", "--apply"])
    assert applied.exit_code == 0, applied.output
    with cli_store.session() as s:
        (run,) = audit.history(s, "partner", PARTNER)
    assert run.details["since"] == "2026-11-25T16:00:00+00:00" and run.details["until"] == "2026-11-26T16:00:00+00:00"
    assert run.details["files"] == 2
    # the day is done; the 27th still differs
    assert runner.invoke(app, ["replay", "--partner", PARTNER, "--day", "2026-11-26"]).exit_code == 0
    assert runner.invoke(app, ["replay", "--partner", PARTNER, "--day", "2026-11-27"]).exit_code == 1


@pytest.mark.parametrize("args", [
    ["--partner", PARTNER, "--day", "2026-11-26", "--since", "2026-11-01"],   # both
    ["--partner", PARTNER],                                                   # neither
    ["--partner", PARTNER, "--day", "26.11.2026"],
    ["--partner", PARTNER, "--day", "2026-02-30"],
    ["--partner", PARTNER, "--day", "2026-11-26T00:00"],
    ["--partner", "SUP-404", "--day", "2026-11-26"],
    ["--partner", "../SUP-001", "--day", "2026-11-26"],
    ["--partner", PARTNER, "--day"],
])
def test_cli_usage_errors_exit_2_and_touch_nothing(cli_store, args):
    result = CliRunner().invoke(app, ["replay", *args])
    assert result.exit_code == 2, result.output
    with cli_store.session() as s:
        assert audit.history(s, "partner", PARTNER) == []
