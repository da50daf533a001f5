"""Inbound supplier messages (ORDRSP, INVRPT, RECADV, INVOIC, DESADV replace/cancel) on the real
sample corpus: the mapping hub.translate picks for each, and the fields the samples' quirks test.

The corpus is read from HUB_EDI_CORPUS (default <repo>/../shared/edi-samples) and never copied
into the repository; a test skips when its sample is not there. Our own fixtures are the golden
cases under mappings/edifact/golden/.
"""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest

from canonical_model.documents import Invoice, OrderResponse, Receipt, ShipmentNotice
from hub.translate import translate
from mappings.engine import MAPPINGS_DIR

REPO = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("HUB_EDI_CORPUS", REPO.parent / "shared" / "edi-samples")) / "edifact"


def sample(name: str):
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"sample {name} not in {CORPUS}")
    return translate(path.read_bytes(), name)


def test_invoic_d97b_with_custom_una_maps_through_the_d97a_mapping():
    # acceptance 3 of issue 4: UNA=*.? ~, NAD+SE as supplier, DTM+3, PRI+INV, MOA+39
    result = sample("INVOIC_D97B_engine-plant_custom-UNA-delimiters.edi")
    assert result.errors == []
    assert any("used INVOIC_D97A (nearest release)" in w for w in result.warnings)
    (inv,) = result.documents
    assert isinstance(inv, Invoice)
    assert (inv.invoice_number, inv.supplier_id, inv.invoice_date, inv.currency, inv.po_number) == (
        "342459", "005435656", dt.date(2006, 5, 15), "USD", "521052")
    assert inv.total_amount == Decimal("2137.58")
    assert [(l.material_id, l.quantity, l.uom, l.unit_price, l.amount) for l in inv.lines] == [
        ("157870", Decimal("1020"), "H87", Decimal("1.179"), Decimal("1202.58")),
        ("157871", Decimal("20"), "H87", Decimal("20.5"), Decimal("410"))]


def test_ordrsp_line_actions_follow_lin_1229():
    result = sample("ORDRSP_D96A_EAN009_bom-crlf.txt")
    assert result.errors == []
    (rsp,) = result.documents
    assert isinstance(rsp, OrderResponse)
    assert (rsp.po_number, rsp.response_number, rsp.status) == ("652744", "ORSP12856", "changed")  # BGM 1225 = 4
    assert [(l.line_no, l.action, l.quantity, l.delivery_date) for l in rsp.lines] == [
        (1, "accepted", None, None), (2, "changed", Decimal("48"), dt.date(2002, 9, 10)), (3, "rejected", None, None)]


def test_recadv_release_character_and_buyer_item_number():
    result = sample("RECADV_D01B_EAN007_UNOA-with-utf8-and-release-char.txt")
    assert result.errors == []
    (rcv,) = result.documents
    assert isinstance(rcv, Receipt)
    assert (rcv.receipt_id, rcv.supplier_id, rcv.received_at) == ("20220808112809950", "FR21", dt.datetime(2022, 8, 23))
    assert [(l.material_id, l.quantity) for l in rcv.lines] == [("1000629", Decimal("200"))]


def test_desadv_takes_the_seller_when_there_is_no_supplier_party():
    result = sample("DESADV_D07A_GMI021_automotive.edifact")
    assert result.errors == []
    asns = result.documents
    assert asns and all(isinstance(a, ShipmentNotice) for a in asns)
    assert {a.supplier_id for a in asns} == {"0048202147"}  # NAD+SE
    # RFF+ON:5500011089:00010 names the order line in its third component
    assert {(l.po_number, l.po_line_no) for a in asns for l in a.lines} == {("5500011089", 10)}


def test_every_new_message_type_has_a_mapping_file():
    names = {p.stem for p in (MAPPINGS_DIR / "edifact").glob("*.yaml")}
    assert {"ORDRSP_D96A", "INVRPT_D96A", "RECADV_D01B", "INVOIC_D96A", "INVOIC_D97A"} <= names
