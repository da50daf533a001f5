"""`hub scorecard` (the command function as hub/cli.py registers it): table, trend, JSON, exit codes."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from canonical_model.documents import Inspection, OrderResponse, Party, PurchaseOrder, Receipt, ShipmentNotice
from canonical_model.store import documents, open_store
from canonical_model.store.tables import AuditRow, DocumentRow
from collaboration import scorecard as scorecard_module
from hub.cli_scorecard import scorecard

runner = CliRunner()
PLANT = dt.timezone(dt.timedelta(hours=8))

# The shipped weights may be retuned: the CLI is tested against its own copy of the config.
CONFIG_TEXT = """\
timezone: Asia/Shanghai
otif: {days_early: 2, days_late: 0, quantity_tolerance_pct: 2}
quality: {conditional_is_accepted: false, ppm_full_marks: 0, ppm_zero_marks: 5000}
responsiveness: {full_marks_hours: 24, zero_marks_hours: 120, unanswered_counts_as_hours: 120}
asn: {quantity_tolerance_pct: 0}
weights: {otif: 35, lot_acceptance: 15, ppm: 15, responsiveness: 15, asn_accuracy: 20}
grades: {A: 90, B: 75, C: 60}
"""


def app() -> typer.Typer:
    hub = typer.Typer()
    hub.command("version")(lambda: None)  # a second command, so "scorecard" is a subcommand as in hub
    hub.command("scorecard")(scorecard)
    return hub


@pytest.fixture()
def hub_store(tmp_path, monkeypatch):
    """HUB_DATABASE_URL / HUB_VAR_DIR pointing at a fresh store, and the test config, as the CLI sees them."""
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path / 'hub.db'}")
    config = tmp_path / "scorecard.yaml"
    config.write_text(CONFIG_TEXT, encoding="utf-8")
    monkeypatch.setattr(scorecard_module, "DEFAULT_CONFIG_PATH", config)
    store = open_store()
    yield store
    store.dispose()


def at(month: int, day: int, hour: int = 8) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=PLANT)


def line(no: int, qty: str, due: dt.date) -> dict:
    return {"line_no": no, "material_id": "M-1", "quantity": qty, "uom": "H87", "delivery_date": due}


# Every date is well in the past, so the CLI's "now" closes every window the same way on any later day.
DOCS = [
    Party(party_id="SUP-C", role="supplier", name="Known, no data yet"),
    PurchaseOrder(po_number="PO-A1", supplier_id="SUP-A", order_date=dt.date(2026, 9, 1),
                  lines=[line(1, "100", dt.date(2026, 9, 10))]),
    OrderResponse(po_number="PO-A1", supplier_id="SUP-A", status="accepted", responded_at=at(9, 1, 12)),
    ShipmentNotice(asn_number="ASN-A1", supplier_id="SUP-A", lines=[
        {"line_no": 1, "material_id": "M-1", "quantity": "100", "uom": "H87"}]),
    Receipt(receipt_id="R-A1", supplier_id="SUP-A", asn_number="ASN-A1", received_at=at(9, 10), lines=[
        {"line_no": 1, "po_number": "PO-A1", "po_line_no": 1, "material_id": "M-1", "quantity": "100", "uom": "H87",
         "batch_id": "SUP-A:L1"}]),
    Inspection(inspection_id="I-A1", batch_id="SUP-A:L1", material_id="M-1", supplier_id="SUP-A",
               inspected_quantity="1000", uom="H87", result="pass", inspected_at=at(9, 11)),
    PurchaseOrder(po_number="PO-A2", supplier_id="SUP-A", order_date=dt.date(2026, 10, 1),
                  lines=[line(1, "100", dt.date(2026, 10, 10))]),
    OrderResponse(po_number="PO-A2", supplier_id="SUP-A", status="accepted", responded_at=at(10, 2, 12)),
    Receipt(receipt_id="R-A2", supplier_id="SUP-A", received_at=at(10, 9), lines=[
        {"line_no": 1, "po_number": "PO-A2", "po_line_no": 1, "material_id": "M-1", "quantity": "50", "uom": "H87"}]),
    Inspection(inspection_id="I-B1", batch_id="SUP-B:L7", material_id="M-1", supplier_id="SUP-B",
               inspected_quantity="100", rejected_quantity="100", uom="H87", result="fail", inspected_at=at(9, 20)),
]
# SUP-A 2026-09: PO-A1 100 on time and in full (100 %); its one lot passed with 0 ppm (100 points);
#   answered 12 h after 09-01 00:00 (100 points); ASN-A1 = received (100 %): score 100.0, A.
# SUP-A 2026-10: PO-A2 wanted 100 by 10-10 and got 50 (miss, 0 %); answered 36 h after 10-01 00:00
#   -> 100 x (120 - 36) / 96 = 87.5 points; no lots, no ASN: (35 x 0 + 15 x 87.5) / 50 = 26.25 -> 26.3, D.
# SUP-B 2026-09: one lot failed, 100 of 100 rejected = 1,000,000 ppm: lot and PPM 0 points -> 0.0, D.
TABLE = [
    ["SUP-A", "2026-09", "100.0", "100.0", "0.0", "12.0", "100.0", "100.0", "A"],
    ["SUP-A", "2026-10", "0.0", "-", "-", "36.0", "-", "26.3", "D"],
    ["SUP-B", "2026-09", "-", "0.0", "1000000.0", "-", "-", "0.0", "D"],
]


def put(store, *docs) -> None:
    with store.session() as session:
        documents.upsert_many(session, list(docs))


def snapshot(store) -> tuple:
    with store.session() as session:
        return (session.scalar(select(func.count()).select_from(DocumentRow)),
                session.scalar(select(func.count()).select_from(AuditRow)))


def rows_of(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.startswith("SUP-")]


def test_table_notes_and_trend(hub_store):
    put(hub_store, *DOCS)
    before = snapshot(hub_store)
    result = runner.invoke(app(), ["scorecard"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["supplier", "month", "OTIF", "%", "lot", "acc", "%", "PPM", "resp", "h", "ASN", "acc",
                                "%", "score", "grade"]
    assert rows_of(result.stdout) == TABLE
    assert "  SUP-A 2026-10: no data for lot_acceptance, ppm, asn_accuracy: weight shared among the other " \
           "metrics" in lines
    assert "trend SUP-A: 2026-09 100.0, 2026-10 26.3 (-73.7 on the month before)" in lines
    assert "trend SUP-B: 2026-09 0.0" in lines
    assert snapshot(hub_store) == before  # only read
    assert runner.invoke(app(), ["scorecard"]).stdout == result.stdout  # a rerun is the same


def test_filters_by_supplier_and_month_trend_stays_whole(hub_store):
    put(hub_store, *DOCS)
    result = runner.invoke(app(), ["scorecard", "--supplier", "SUP-A", "--month", "2026-10"])
    assert result.exit_code == 0, result.output
    assert rows_of(result.stdout) == [TABLE[1]]
    assert "trend SUP-A: 2026-09 100.0, 2026-10 26.3 (-73.7 on the month before)" in result.stdout
    assert "SUP-B" not in result.stdout


def test_json_is_one_object_per_row(hub_store):
    put(hub_store, *DOCS)
    result = runner.invoke(app(), ["scorecard", "--json", "--month", "2026-09"])
    assert result.exit_code == 0, result.output
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(o["supplier_id"], o["month"], o["score"], o["grade"]) for o in objects] == [
        ("SUP-A", "2026-09", "100.0", "A"), ("SUP-B", "2026-09", "0.0", "D")]
    assert objects[1] == {"supplier_id": "SUP-B", "month": "2026-09", "deliveries": 0, "otif": None, "lots": 1,
                          "lot_acceptance": "0.0000", "ppm": "1000000.0", "response_hours_median": None,
                          "asn_accuracy": None, "score": "0.0", "grade": "D",
                          "notes": ["no data for otif, responsiveness, asn_accuracy: weight shared among the "
                                    "other metrics"]}


@pytest.mark.parametrize("args, expected", [
    ([], "no data"),
    (["--supplier", "SUP-C"], "no data for SUP-C"),
    (["--month", "2025-01"], "no data in 2025-01"),
])
def test_no_data_is_exit_0(hub_store, args, expected):
    put(hub_store, *(DOCS if args else DOCS[:1]))
    result = runner.invoke(app(), ["scorecard", *args])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("args, fragment", [
    (["--month", "2026-13"], "--month '2026-13' is not YYYY-MM"),
    (["--month", "2026-9"], "is not YYYY-MM"),
    (["--month", "'; DROP TABLE documents; --"], "is not YYYY-MM"),
    (["--supplier", "NOBODY"], "supplier 'NOBODY' is not in the store"),
    (["--supplier", "'; DROP TABLE documents; --"], "is not in the store"),
    (["--bogus"], "No such option"),
])
def test_usage_errors_exit_2(hub_store, args, fragment):
    put(hub_store, *DOCS)
    before = snapshot(hub_store)
    result = runner.invoke(app(), ["scorecard", *args])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert snapshot(hub_store) == before


def test_broken_config_exits_1_with_where_and_code(hub_store, tmp_path, monkeypatch):
    broken = tmp_path / "broken.yaml"
    broken.write_text(CONFIG_TEXT.replace("ppm: 15, ", "ppm: fifteen, "), encoding="utf-8")
    monkeypatch.setattr(scorecard_module, "DEFAULT_CONFIG_PATH", broken)
    result = runner.invoke(app(), ["scorecard"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"{broken}:6: SCORECARD_CONFIG_INVALID weights.ppm: must be a number, "
                                     f"got 'fifteen'")


def test_an_unreachable_store_is_one_line_without_the_url(hub_store, monkeypatch):
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+psycopg://hub:s3cret-pw@127.0.0.1:1/hub?connect_timeout=1")
    result = runner.invoke(app(), ["scorecard"])
    assert result.exit_code == 1
    assert "STORE_UNAVAILABLE" in result.stderr and "s3cret-pw" not in result.output
