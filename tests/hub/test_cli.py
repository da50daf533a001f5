"""The `hub` CLI contract that later checks rely on: output shape and exit codes."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.edi.messages import shipment_notice_to_desadv
from canonical_model.documents import ShipmentNotice
from hub.cli import app

runner = CliRunner()


def desadv_bytes(qty: str = "10") -> bytes:
    asn = ShipmentNotice(asn_number="ASN-9", supplier_id="SUP-001", lines=[
        {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "M-1", "quantity": qty, "uom": "H87"}])
    return shipment_notice_to_desadv(asn, sender="SUP-001", recipient="MESHUB", control_ref="5",
                                     prepared=dt.datetime(2026, 11, 26))


def test_help_lists_the_contract_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "translate", "mapping", "status", "quarantine"):
        assert command in result.output


@pytest.mark.parametrize("args", [["translate", "--help"], ["mapping", "test", "--help"],
                                  ["quarantine", "replay", "--help"], ["status", "--help"], ["up", "--help"]])
def test_every_command_has_help(args):
    assert runner.invoke(app, args).exit_code == 0


def test_translate_valid_file_prints_ndjson_and_exits_0(tmp_path: Path):
    path = tmp_path / "asn.edi"
    path.write_bytes(desadv_bytes())
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 0, result.stderr
    (doc,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert doc["type"] == "ShipmentNotice" and doc["lines"][0]["quantity"] == "10"


def test_translate_rejected_part_exits_1_with_located_error(tmp_path: Path):
    path = tmp_path / "neg.edi"
    path.write_bytes(desadv_bytes(qty="-3"))
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{path}:") and "QTY_NOT_POSITIVE" in line and "line_no 1" in line


def test_translate_truncated_file_keeps_good_documents_and_names_the_segment(tmp_path: Path):
    data = desadv_bytes()
    path = tmp_path / "cut.edi"
    path.write_bytes(data[: data.index(b"UNZ+")])
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 1
    assert "MISSING_UNZ" in result.stderr and f"{path}:segment " in result.stderr and "(UNT, line" in result.stderr


def test_translate_unreadable_or_missing_file_exits_2(tmp_path: Path):
    assert runner.invoke(app, ["translate", str(tmp_path / "nope.edi")]).exit_code == 2
    assert runner.invoke(app, ["translate"]).exit_code == 2


def test_translate_hostile_bytes_exit_1_not_a_traceback(tmp_path: Path):
    path = tmp_path / "junk"
    path.write_bytes(b"UNB+" + bytes(range(256)) * 50)
    result = runner.invoke(app, ["translate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "junk" in result.stderr


def test_mapping_test_runs_all_golden_cases():
    result = runner.invoke(app, ["mapping", "test"])
    assert result.exit_code == 0, result.output
    assert " 0 failed" in result.output and "DESADV_D96A.yaml" in result.output


def test_status_and_quarantine_on_a_fresh_store(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 0 and "quarantine" in status.output
    assert runner.invoke(app, ["quarantine", "list"]).exit_code == 0
    missing = runner.invoke(app, ["quarantine", "show", "42"])
    assert missing.exit_code == 2 and "no quarantine row 42" in missing.stderr
    assert runner.invoke(app, ["quarantine", "replay", "42"]).exit_code == 2
