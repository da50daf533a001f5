"""Profile tolerances reach validation in the real inbound flow (off unless the profile sets them)."""
from __future__ import annotations

import datetime as dt
import os

from adapters.edi.messages import shipment_notice_to_desadv
from canonical_model.documents import PurchaseOrder, ShipmentNotice
from canonical_model.store import documents, quarantine
from hub.flows.supplier_collect import collect_files
from hub.flows.supplier_inbound import process_inbox
from hub.partners import PARTNER_DIR

PARTNER = "SUP-001"


def profile_with(tmp_path, inbound_lines: str):
    text = (PARTNER_DIR / f"{PARTNER}.yaml").read_text(encoding="utf-8")
    folder = tmp_path / "partners"
    folder.mkdir()
    (folder / f"{PARTNER}.yaml").write_text(text.replace("inbound:\n", "inbound:\n" + inbound_lines), encoding="utf-8")
    return folder


def run_one(store, sftp, ship_date: dt.date, qty: str) -> list:
    po = PurchaseOrder(po_number="PO-7", supplier_id=PARTNER, order_date=dt.date(2026, 11, 20), lines=[
        {"line_no": 1, "material_id": "1.02.0033", "quantity": "100", "uom": "H87",
         "delivery_date": dt.date(2026, 12, 1)}])
    with store.session() as s:
        documents.upsert(s, po)
    asn = ShipmentNotice(asn_number="ASN-7", supplier_id=PARTNER, ship_date=ship_date, lines=[
        {"line_no": 1, "po_number": "PO-7", "po_line_no": 1, "material_id": "1.02.0033", "quantity": qty,
         "uom": "H87", "batch_number": "B7"}])
    path = sftp / "out" / "asn7.edi"
    path.write_bytes(shipment_notice_to_desadv(asn, sender=PARTNER, recipient="MESHUB", control_ref="77",
                                               prepared=dt.datetime(2026, 11, 26)))
    past = dt.datetime.now().timestamp() - 3600
    os.utime(path, (past, past))
    collect_files(store, PARTNER)
    process_inbox(store, PARTNER)
    with store.session() as s:
        return [r.reason_code for r in quarantine.list_rows(s)]


def test_without_tolerances_a_short_late_asn_is_stored_and_alerted(sqlite_store, sftp):
    assert run_one(sqlite_store, sftp, dt.date(2026, 11, 20), "60") == []
    with sqlite_store.session() as s:
        assert [a.alert_type for a in documents.current(s, "Alert")] == ["SHORT_SHIPMENT"]


def test_date_window_from_the_profile(sqlite_store, sftp, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_PARTNER_DIR", str(profile_with(tmp_path, "  date_window_days: 3\n")))
    # shipped 11-20 against delivery 12-01: 11 days, outside a 3-day window
    assert run_one(sqlite_store, sftp, dt.date(2026, 11, 20), "100") == ["ASN_DATE_OUTSIDE_WINDOW"]
    with sqlite_store.session() as s:
        assert documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-7") is None


def test_must_ship_complete_from_the_profile(sqlite_store, sftp, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_PARTNER_DIR", str(profile_with(tmp_path, "  under_ship_tolerance_pct: 10\n")))
    # 60 of 100 is more than 10 % short: quarantined instead of stored with an alert
    assert run_one(sqlite_store, sftp, dt.date(2026, 11, 29), "60") == ["ASN_QTY_SHORT_OF_PO"]
    with sqlite_store.session() as s:
        assert documents.get(s, "ShipmentNotice", f"{PARTNER}/ASN-7") is None
