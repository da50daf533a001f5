"""`hub partner list|add|check|certify|template`: output an engineer can send, exit codes 0/1/2."""
from __future__ import annotations

import datetime as dt
import importlib.util
import secrets
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from typer.testing import CliRunner

from adapters.edi.messages import purchase_order_to_orders, shipment_notice_to_desadv
from canonical_model.documents import PurchaseOrder, ShipmentNotice
from hub.cli import app
from hub.partners import PARTNER_DIR, load_partners
from simulators.sftp_server.server import SftpServer

runner = CliRunner()


@pytest.fixture
def partners(tmp_path: Path, monkeypatch) -> Path:
    """A private profile folder holding copies of the shipped profiles (the repo's stays untouched)."""
    folder = tmp_path / "partners"
    shutil.copytree(PARTNER_DIR, folder)
    monkeypatch.setenv("HUB_PARTNER_DIR", str(folder))
    return folder


def desadv(sender="SUP-001", batches=("B1", "B2"), supplier="SUP-001") -> bytes:
    asn = ShipmentNotice(asn_number="ASN-C1", supplier_id=supplier, ship_date=dt.date(2026, 11, 26), lines=[
        {"line_no": i, "po_number": "CGDD000101", "po_line_no": i, "material_id": m, "quantity": "10", "uom": "H87",
         "batch_number": b}
        for i, (m, b) in enumerate(zip(("1.02.0033", "1.02.0041"), batches), start=1)])
    return shipment_notice_to_desadv(asn, sender=sender, recipient="MESHUB", control_ref="42",
                                     prepared=dt.datetime(2026, 11, 26, 8, 0))


def sections(output: str) -> dict[str, list[str]]:
    """certify output per file: '== name' starts a section."""
    out: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:]
            out[current] = []
        elif current and line:
            out[current].append(line)
    return out


def test_list_shows_every_profile_with_formats_and_stage(partners: Path):
    result = runner.invoke(app, ["partner", "list"])
    assert result.exit_code == 0, result.output
    header, _, *rows = result.stdout.splitlines()
    assert header.split() == ["id", "name", "channel", "formats", "stage"]
    by_id = {row.split()[0]: row for row in rows}
    assert set(by_id) == set(load_partners(partners))
    assert "asn:edifact/DESADV/D96A" in by_id["SUP-001"] and by_id["SUP-001"].endswith("live")


def test_add_scaffolds_a_pilot_profile_that_checks_and_lists(partners: Path):
    result = runner.invoke(app, ["partner", "add", "SUP-003", "--name", "宁波紧固件 (Ningbo Fasteners)"])
    assert result.exit_code == 0, result.output
    profile = load_partners(partners)["SUP-003"]
    assert profile.name == "宁波紧固件 (Ningbo Fasteners)" and profile.stage == "pilot"
    assert profile.sftp_conn_id == "supplier_sftp_sup003"
    assert not (PARTNER_DIR / "SUP-003.yaml").exists()
    check = runner.invoke(app, ["partner", "check", "SUP-003"])
    assert check.exit_code == 0, check.output
    assert "golden asn" in check.stdout and "0 failed" in check.stdout
    listed = runner.invoke(app, ["partner", "list"]).stdout
    assert any(line.startswith("SUP-003") and line.endswith("pilot") for line in listed.splitlines())


def test_add_never_overwrites_and_refuses_bad_ids(partners: Path):
    before = (partners / "SUP-001.yaml").read_bytes()
    result = runner.invoke(app, ["partner", "add", "SUP-001"])
    assert result.exit_code == 2 and "PARTNER_EXISTS" in result.stderr
    assert (partners / "SUP-001.yaml").read_bytes() == before
    for bad in ("../evil", "sup-4", "SUP 4"):
        result = runner.invoke(app, ["partner", "add", bad])
        assert result.exit_code == 2 and "PARTNER_ID_INVALID" in result.stderr, bad
    assert sorted(p.name for p in partners.iterdir()) == ["SUP-001.yaml", "SUP-002.yaml"]


def test_check_reports_a_broken_profile_with_file_and_line(partners: Path):
    path = partners / "SUP-002.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if "min_file_age_seconds" in line)
    lines[n] = "  min_file_age_seconds: soon"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["partner", "check", "SUP-002"])
    assert result.exit_code == 1
    assert f"{path}:{n + 1}: PARTNER_PROFILE_INVALID inbound.min_file_age_seconds" in result.stdout


def test_check_fails_for_a_message_without_mapping_and_exits_2_for_unknown(partners: Path):
    path = partners / "SUP-002.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  orders: {format: edifact, message: ORDERS, version: D96A}",
        "  orders: {format: edifact, message: ORDERS, version: D96A}\n"
        "  invoice: {format: edifact, message: INVOIC, version: D01B}")
    path.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["partner", "check", "SUP-002"])
    assert result.exit_code == 1
    assert "FAIL message invoice (edifact INVOIC D01B): mapping mappings/edifact/INVOIC_D01B.yaml does not exist" \
        in result.stdout
    assert runner.invoke(app, ["partner", "check", "SUP-404"]).exit_code == 2
    assert runner.invoke(app, ["partner", "check", "../SUP-001"]).exit_code == 2


def test_check_knows_delivery_schedules_are_written_not_mapped(partners: Path):
    ok = runner.invoke(app, ["partner", "check", "SUP-001"])
    assert "ok   message delivery_schedule (edifact DELFOR D96A): written by adapters/edi/delivery_schedules.py" \
        in ok.stdout
    assert "message delivery_schedule (portal): published to the Jiandaoyun portal" in \
        runner.invoke(app, ["partner", "check", "SUP-002"]).stdout
    path = partners / "SUP-001.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "delivery_schedule: {format: edifact, message: DELFOR, version: D96A}",
        "delivery_schedule: {format: edifact, message: DELJIT, version: D96A}"), encoding="utf-8")
    result = runner.invoke(app, ["partner", "check", "SUP-001"])
    assert result.exit_code == 1
    assert "FAIL message delivery_schedule (edifact DELJIT D96A): the hub writes edifact delivery schedules as " \
           "DELFOR D96A only" in result.stdout


@pytest.fixture
def sftp_server(tmp_path: Path, monkeypatch):
    password = secrets.token_urlsafe(12)
    server = SftpServer(tmp_path / "sftp", {"sup001": password}, host_key_path=tmp_path / "host_key")
    port = server.start()
    known_hosts = server.write_known_hosts(tmp_path / "known_hosts")

    def connect_as(user_password: str) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_SUPPLIER_SFTP_SUP001",
                           f"sftp://sup001:{quote(user_password, safe='')}@127.0.0.1:{port}/"
                           f"?known_hosts={quote(str(known_hosts), safe='')}")

    connect_as(password)
    yield tmp_path / "sftp" / "sup001", connect_as
    server.stop()


def test_check_connect_logs_in_and_finds_the_folders(partners: Path, sftp_server):
    root, _ = sftp_server
    result = runner.invoke(app, ["partner", "check", "SUP-001", "--connect"])
    assert result.exit_code == 0, result.output
    for line in ("ok   sftp login", "ok   sftp inbox folder: out", "ok   sftp outbox folder: in",
                 "ok   sftp archive folder: archive"):
        assert line in result.stdout
    (root / "archive").rmdir()
    result = runner.invoke(app, ["partner", "check", "SUP-001", "--connect"])
    assert result.exit_code == 1 and "FAIL sftp archive folder: 'archive'" in result.stdout


def test_check_connect_with_a_wrong_password_fails_without_leaking_it(partners: Path, sftp_server):
    _, connect_as = sftp_server
    wrong = "Wr0ng-" + secrets.token_hex(6)
    connect_as(wrong)
    result = runner.invoke(app, ["partner", "check", "SUP-001", "--connect"])
    assert result.exit_code == 1
    assert "FAIL sftp login" in result.stdout and wrong not in result.output


def test_certify_reports_pass_and_fail_per_file_and_rule(partners: Path, tmp_path: Path):
    good = tmp_path / "good.edi"
    good.write_bytes(desadv())
    no_batch = tmp_path / "no_batch.edi"
    no_batch.write_bytes(desadv(batches=("B1", "")))
    stranger = tmp_path / "stranger.edi"
    stranger.write_bytes(desadv(sender="ACME"))
    orders = tmp_path / "orders.edi"
    po = PurchaseOrder(po_number="CGDD000101", supplier_id="SUP-001", order_date=dt.date(2026, 11, 20),
                       lines=[{"line_no": 1, "material_id": "1.02.0033", "quantity": "5", "uom": "H87"}])
    orders.write_bytes(purchase_order_to_orders(po, sender="SUP-001", recipient="MESHUB", control_ref="7",
                                                prepared=dt.datetime(2026, 11, 26)))
    result = runner.invoke(app, ["partner", "certify", "SUP-001", str(good), str(no_batch), str(stranger),
                                 str(orders)])
    assert result.exit_code == 1, result.output
    report = sections(result.stdout)
    assert report["good.edi"][-1] == "good.edi: PASS"
    assert {"ok   UNB sender: interchange 42: SUP-001", "ok   UNH DESADV D96A: 1 message(s)",
            "ok   batch required: every line has a batch number"} <= set(report["good.edi"])
    assert report["no_batch.edi"][-1] == "no_batch.edi: FAIL"
    assert any(line.startswith("FAIL batch required: SUP-001/ASN-C1 lines[1] (line_no 2)")
               for line in report["no_batch.edi"])
    assert "FAIL UNB sender: interchange 42: ACME, expected SUP-001" in report["stranger.edi"]
    # ORDERS is something we send them, not something they may send us
    assert any(line.startswith("FAIL UNH ORDERS D96A") for line in report["orders.edi"])
    assert any(line.startswith("FAIL message configured: PurchaseOrder") for line in report["orders.edi"])
    assert result.stdout.rstrip().endswith("1 of 4 file(s) passed")


def test_certify_all_pass_exits_0_and_usage_errors_exit_2(partners: Path, tmp_path: Path):
    good = tmp_path / "good.edi"
    good.write_bytes(desadv())
    assert runner.invoke(app, ["partner", "certify", "SUP-001", str(good)]).exit_code == 0
    assert runner.invoke(app, ["partner", "certify", "SUP-001"]).exit_code == 2
    assert runner.invoke(app, ["partner", "certify", "SUP-404", str(good)]).exit_code == 2
    missing = runner.invoke(app, ["partner", "certify", "SUP-001", str(tmp_path / "nope.edi")])
    assert missing.exit_code == 1 and "FAIL readable" in missing.stdout


def test_certify_uses_the_partners_charset_policy(partners: Path, tmp_path: Path):
    # UNOC (latin-1) declared, UTF-8 sent: SUP-001 is lenient (decode, warn), SUP-002 strict (reject)
    for partner in ("SUP-001", "SUP-002"):
        data = desadv(sender=partner, supplier=partner, batches=("B1", "B2"))
        assert b"UNOC" in data and data.count(b"B1") == 1
        path = tmp_path / f"utf8_{partner}.edi"
        path.write_bytes(data.replace(b"B1", "批1".encode("utf-8")))
        result = runner.invoke(app, ["partner", "certify", partner, str(path)])
        if partner == "SUP-001":
            assert "ok   translate" in result.stdout and "note translate warning" in result.stdout, result.stdout
        else:
            assert result.exit_code == 1 and "CHARSET_MISMATCH" in result.stdout, result.stdout


def test_template_needs_a_tabular_format_and_reports_a_missing_writer(partners: Path, tmp_path: Path):
    usage = runner.invoke(app, ["partner", "template", "SUP-001", "--message", "asn", "--format", "pdf"])
    assert usage.exit_code == 2
    out = tmp_path / "asn.csv"
    result = runner.invoke(app, ["partner", "template", "SUP-001", "--message", "asn", "--format", "csv",
                                 "--out", str(out)])
    if importlib.util.find_spec("adapters.tabular.templates") is None:
        assert result.exit_code == 1 and "TEMPLATES_UNAVAILABLE" in result.stderr
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    # the profile's language (zh+en) decides the headers: both names in one cell
    header = out.read_bytes().decode("utf-8-sig").splitlines()[0]
    assert "数量" in header and "quantity" in header.lower()
    english = tmp_path / "asn_en.csv"
    assert runner.invoke(app, ["partner", "template", "SUP-001", "--format", "csv", "--language", "en",
                               "--out", str(english)]).exit_code == 0
    assert "数量" not in english.read_bytes().decode("utf-8-sig")
    unknown = runner.invoke(app, ["partner", "template", "SUP-001", "--message", "bananas", "--format", "csv",
                                  "--out", str(tmp_path / "b.csv")])
    assert unknown.exit_code == 2 and "UNKNOWN_MESSAGE" in unknown.stderr
