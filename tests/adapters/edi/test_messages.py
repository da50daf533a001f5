"""ORDERS / DESADV builders: write from canonical documents, read back with our parser, and
check the segments an EANCOM reader looks for."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from adapters.edi.edifact import parse_interchange
from adapters.edi.messages import purchase_order_to_orders, shipment_notice_to_desadv
from canonical_model.documents import (
    PurchaseOrder,
    PurchaseOrderLine,
    ShipmentNotice,
    ShipmentNoticeLine,
)

WHEN = dt.datetime(2024, 5, 2, 8, 30)


def read(data):
    inter = parse_interchange(data, "out.edi")
    msgs = list(inter.iter_messages())
    assert inter.errors == [] and all(m.ok for m in msgs)
    return inter, msgs


def seg_texts(msg):
    """Segments as tag + elements, a compact form to compare against hand-written expectations."""
    return [(s.tag, s.elements) for s in msg.segments]


def make_po(**kw):
    return PurchaseOrder(
        po_number="PO-4711", supplier_id="4098765000002", buyer_id="4012345000009",
        order_date=dt.date(2024, 5, 2), currency="EUR",
        lines=[
            PurchaseOrderLine(line_no=1, material_id="M-100", supplier_material_id="S:100?+'x",
                              quantity=Decimal("12.50"), uom="KGM", unit_price=Decimal("3.1000"),
                              delivery_date=dt.date(2024, 5, 20)),
            PurchaseOrderLine(line_no=2, material_id="M-200", quantity=Decimal("100"), uom="PCE"),
        ],
        **kw,
    )


def test_orders_segments():
    data = purchase_order_to_orders(make_po(), sender="HUB", recipient="SUP", control_ref="77",
                                    prepared=WHEN)
    inter, (msg,) = read(data)
    assert (inter.sender, inter.recipient, inter.control_ref, inter.syntax) == ("HUB", "SUP", "77", "UNOC")
    assert (msg.type, msg.version, msg.release, msg.agency, msg.assoc_code) == (
        "ORDERS", "D", "96A", "UN", "EAN008")
    assert seg_texts(msg)[1:-1] == [
        ("BGM", [["220"], ["PO-4711"], ["9"]]),
        ("DTM", [["137", "20240502", "102"]]),
        ("NAD", [["BY"], ["4012345000009", "", "9"]]),
        ("NAD", [["SU"], ["4098765000002", "", "9"]]),
        ("CUX", [["2", "EUR", "9"]]),
        ("LIN", [["1"], [""], ["M-100", "IN"]]),
        ("PIA", [["1"], ["S:100?+'x", "SA"]]),  # delimiters in data survive the round trip
        ("QTY", [["21", "12.5", "KGM"]]),
        ("DTM", [["2", "20240520", "102"]]),
        ("PRI", [["AAA", "3.1"]]),
        ("LIN", [["2"], [""], ["M-200", "IN"]]),
        ("QTY", [["21", "100", "PCE"]]),
        ("UNS", [["S"]]),
        ("CNT", [["2", "2"]]),
    ]
    assert msg.segments[-1].elements == [[str(len(msg.segments))], ["77"]]


def test_orders_buyer_defaults_to_sender_and_message_function_follows_status():
    po = make_po().model_copy(update={"buyer_id": None, "currency": None, "version": 2})
    _, (msg,) = read(purchase_order_to_orders(po, sender="HUB", recipient="SUP", control_ref="1",
                                              prepared=WHEN))
    tags = [s.tag for s in msg.segments]
    assert "CUX" not in tags
    assert msg.segments[1].elements == [["220"], ["PO-4711"], ["5"]]  # replacement
    assert msg.segments[3].elements == [["BY"], ["HUB", "", "9"]]
    cancelled = make_po(status="cancelled")
    _, (msg,) = read(purchase_order_to_orders(cancelled, sender="H", recipient="S", control_ref="2",
                                              prepared=WHEN))
    assert msg.segments[1].get(2) == "1"


def test_orders_is_deterministic_for_a_fixed_preparation_time():
    a = purchase_order_to_orders(make_po(), sender="H", recipient="S", control_ref="5", prepared=WHEN)
    b = purchase_order_to_orders(make_po(), sender="H", recipient="S", control_ref="5", prepared=WHEN)
    assert a == b


def make_asn():
    return ShipmentNotice(
        asn_number="ASN-9", supplier_id="4098765000002", ship_to_id="4012345000016",
        ship_date=dt.date(2024, 5, 18), expected_arrival=dt.date(2024, 5, 20),
        lines=[
            ShipmentNoticeLine(line_no=1, po_number="PO-4711", po_line_no=1, material_id="M-100",
                               supplier_material_id="S-100", quantity=Decimal("12.5"), uom="KGM",
                               batch_number="B'24+05", package_id="340123450000000016",
                               expiry_date=dt.date(2025, 5, 1)),
            ShipmentNoticeLine(line_no=2, material_id="M-200", quantity=Decimal("0.1"), uom="PCE"),
        ],
    )


def test_desadv_segments():
    data = shipment_notice_to_desadv(make_asn(), sender="SUP", recipient="HUB", control_ref="ASN9",
                                     prepared=WHEN)
    _, (msg,) = read(data)
    assert (msg.type, msg.assoc_code, msg.ref) == ("DESADV", "EAN005", "ASN9")
    assert seg_texts(msg)[1:-1] == [
        ("BGM", [["351"], ["ASN-9"], ["9"]]),
        ("DTM", [["11", "20240518", "102"]]),
        ("DTM", [["132", "20240520", "102"]]),
        ("NAD", [["SU"], ["4098765000002", "", "9"]]),
        ("NAD", [["ST"], ["4012345000016", "", "9"]]),
        ("CPS", [["1"]]),
        ("CPS", [["2"], ["1"]]),
        ("PAC", [["1"]]),
        ("PCI", [["33E"]]),
        ("GIN", [["BJ"], ["340123450000000016"]]),
        ("LIN", [["1"], [""], ["M-100", "IN"]]),
        ("PIA", [["1"], ["S-100", "SA"]]),
        ("QTY", [["12", "12.5", "KGM"]]),
        ("RFF", [["ON", "PO-4711"]]),
        ("RFF", [["LI", "1"]]),
        ("PCI", [["36E"]]),
        ("DTM", [["36", "20250501", "102"]]),
        ("GIN", [["BX"], ["B'24+05"]]),
        ("CPS", [["3"], ["1"]]),
        ("LIN", [["2"], [""], ["M-200", "IN"]]),
        ("QTY", [["12", "0.1", "PCE"]]),
        ("CNT", [["2", "2"]]),
    ]
