"""`hub edi parse` / `hub edi ack`: JSON tree, the acknowledgement we would send, exit codes."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from adapters.edi import acks as edi_acks
from adapters.edi.edifact import parse_interchange
from adapters.edi.messages import shipment_notice_to_desadv
from adapters.edi.x12_writer import X12Writer
from canonical_model.documents import ShipmentNotice
from hub.cli import app

runner = CliRunner()


def desadv_bytes() -> bytes:
    asn = ShipmentNotice(asn_number="ASN-9", supplier_id="SUP-001", lines=[
        {"line_no": 1, "po_number": "PO-1", "po_line_no": 1, "material_id": "M-1", "quantity": "10", "uom": "H87"}])
    return shipment_notice_to_desadv(asn, sender="SUP-001", recipient="MESHUB", control_ref="5",
                                     prepared=dt.datetime(2026, 11, 26))


def x12_bytes() -> bytes:
    w = X12Writer("SUP001", "MESHUB", 12, prepared=dt.datetime(2026, 11, 26, 9, 0))
    w.add_group("SH", 3, "004010")
    w.add_transaction("856", 1, [("BSN", ["00", "ASN1", "20261126", "0900"]), ("HL", ["1", None, "S"]),
                                 ("HL", ["2", "1", "O"]), ("HL", ["3", "2", "I"])])
    return w.to_bytes()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_edi_help_lists_parse_and_ack():
    result = runner.invoke(app, ["edi", "--help"])
    assert result.exit_code == 0 and "parse" in result.output and "ack" in result.output


def test_parse_edifact_prints_envelope_and_segments(tmp_path: Path):
    result = runner.invoke(app, ["edi", "parse", str(write(tmp_path, "asn.edi", desadv_bytes()))])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    (inter,) = doc["interchanges"]
    assert doc["format"] == "edifact" and (inter["sender"], inter["recipient"], inter["control_ref"]) == (
        "SUP-001", "MESHUB", "5")
    (message,) = inter["messages"]
    assert message["type"] == "DESADV" and message["segments"][0]["tag"] == "UNH"
    assert message["segments"][-1] == {"tag": "UNT", "index": 12, "line": 13, "elements": [["11"], ["5"]]}


def test_parse_x12_prints_groups_sets_and_the_hl_tree(tmp_path: Path):
    result = runner.invoke(app, ["edi", "parse", str(write(tmp_path, "asn.x12", x12_bytes()))])
    assert result.exit_code == 0, result.stderr
    (inter,) = json.loads(result.stdout)["interchanges"]
    (group,) = inter["groups"]
    (txn,) = group["transactions"]
    assert (inter["control_ref"], group["control"], txn["set_id"]) == ("000000012", "3", "856")
    (root,) = txn["hierarchy"]
    assert (root["level"], root["children"][0]["level"], root["children"][0]["children"][0]["level"]) == (
        "S", "O", "I")


def test_parse_broken_file_exits_1_with_located_errors_and_junk_exits_1(tmp_path: Path):
    bad = write(tmp_path, "bad.edi", desadv_bytes().replace(b"UNT+11", b"UNT+12"))
    result = runner.invoke(app, ["edi", "parse", str(bad)])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["interchanges"][0]["messages"][0]["errors"]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{bad}:segment 12 (UNT, line 13): UNT_COUNT_MISMATCH")
    junk = runner.invoke(app, ["edi", "parse", str(write(tmp_path, "junk.bin", b"\x00\x01hello"))])
    assert junk.exit_code == 1 and "UNKNOWN_FORMAT" in junk.stderr
    assert runner.invoke(app, ["edi", "parse", str(tmp_path / "missing.edi")]).exit_code == 2


def test_ack_of_a_clean_file_accepts_and_exits_0(tmp_path: Path):
    result = runner.invoke(app, ["edi", "ack", str(write(tmp_path, "asn.edi", desadv_bytes())), "--partner", "SUP-001"])
    assert result.exit_code == 0, result.stderr
    (ack,) = edi_acks.read_acks(result.stdout.encode("latin-1"))
    assert (ack.interchange_ref, ack.result) == ("5", "accepted")
    inter = parse_interchange(result.stdout.encode("latin-1"))
    assert (inter.sender, inter.recipient) == ("MESHUB", "SUP-001")


def test_ack_of_a_wrong_unt_count_prints_a_rejecting_contrl(tmp_path: Path):
    bad = write(tmp_path, "bad_unt.edi", desadv_bytes().replace(b"UNT+11", b"UNT+12"))
    result = runner.invoke(app, ["edi", "ack", str(bad)])
    assert result.exit_code == 1
    segments = parse_interchange(result.stdout.encode("latin-1")).messages()[0].segments
    uci = next(s for s in segments if s.tag == "UCI")
    ucm = next(s for s in segments if s.tag == "UCM")
    assert uci.get(0) == "5" and uci.get(3) == "4"
    assert (ucm.get(0), ucm.get(2), ucm.get(3), ucm.get(4)) == ("5", "4", "29", "UNT")
    assert "UNT_COUNT_MISMATCH" in result.stderr and "code 29" in result.stderr


def test_ack_of_x12_prints_a_997_or_999(tmp_path: Path):
    path = write(tmp_path, "asn.x12", x12_bytes())
    result = runner.invoke(app, ["edi", "ack", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "ST*997*0001~" in result.stdout and "AK9*A*1*1*1~" in result.stdout
    result = runner.invoke(app, ["edi", "ack", str(path), "--x12", "999"])
    assert result.exit_code == 0 and "IK5*A~" in result.stdout
    assert runner.invoke(app, ["edi", "ack", str(path), "--x12", "998"]).exit_code == 2


def test_ack_refuses_acks_unreadable_files_and_unknown_partners(tmp_path: Path):
    (ack,) = edi_acks.edifact_acks(desadv_bytes())
    contrl = write(tmp_path, "contrl.edi", edi_acks.write_contrl(ack, "1"))
    result = runner.invoke(app, ["edi", "ack", str(contrl)])
    assert result.exit_code == 2 and "IS_AN_ACK" in result.stderr
    result = runner.invoke(app, ["edi", "ack", str(write(tmp_path, "x.txt", b"not edi"))])
    assert result.exit_code == 2 and "UNKNOWN_FORMAT" in result.stderr
    result = runner.invoke(app, ["edi", "ack", str(contrl), "--partner", "NOPE"])
    assert result.exit_code == 2 and "UNKNOWN_PARTNER" in result.stderr
