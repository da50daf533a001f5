from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from canonical_model.documents import DOCUMENT_TYPES, ShipmentNotice
from canonical_model.json_schemas import SCHEMA_DIR, render


def test_committed_json_schemas_are_current():
    rendered = render()
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in SCHEMA_DIR.glob("*.json")}
    stale = sorted(name for name in rendered if on_disk.get(name) != rendered[name])
    extra = sorted(set(on_disk) - set(rendered))
    assert not stale and not extra, (
        f"stale {stale}, extra {extra}: run `python -m canonical_model.json_schemas` and commit")


def test_quantities_are_decimal_and_serialise_as_strings():
    asn = ShipmentNotice(asn_number="ASN1", supplier_id="SUP-001",
                         lines=[{"line_no": 1, "material_id": "M", "quantity": "0.1", "uom": "H87"},
                                {"line_no": 2, "material_id": "M", "quantity": "0.2", "uom": "H87"}])
    assert sum(line.quantity for line in asn.lines) == Decimal("0.3")
    dumped = json.loads(asn.model_dump_json())
    assert dumped["type"] == "ShipmentNotice"
    assert [line["quantity"] for line in dumped["lines"]] == ["0.1", "0.2"]


def test_schema_rejects_unknown_fields_and_empty_lines():
    with pytest.raises(ValidationError):
        ShipmentNotice(asn_number="A", supplier_id="S", lines=[])
    with pytest.raises(ValidationError):
        ShipmentNotice(asn_number="A", supplier_id="S", surprise=1,
                       lines=[{"line_no": 1, "material_id": "M", "quantity": "1", "uom": "H87"}])


def test_every_type_has_a_business_key():
    assert all(model.business_key_fields for model in DOCUMENT_TYPES.values())


def test_supplier_lot_is_the_lot_inside_a_hub_batch_id():
    from canonical_model.documents import supplier_lot

    assert supplier_lot("SUP-001:L33-2611A", "SUP-001") == "L33-2611A"
    assert supplier_lot("SUP-001:L:with:colons", "SUP-001") == "L:with:colons"
    assert supplier_lot("SUP-002:L33", "SUP-001") == "SUP-002:L33"  # another supplier's prefix stays
    assert supplier_lot("L33", "SUP-001") == "L33"
    assert supplier_lot(None, "SUP-001") is None and supplier_lot("SUP-001:L1", None) == "SUP-001:L1"
