"""Canonical -> B2MML -> canonical, for both versions; refusals with the element named."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters.b2mml import reader, writer
from adapters.b2mml.schemas import NAMESPACES, SCHEMA_DIR, V0600, V0701
from canonical_model.documents import Batch, Material, ProductionOrder
from hub.errors import FatalError, SkippableError

HEADER = writer.Header("EXP-1", dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.timezone.utc))
VERSIONS = (V0701, V0600)


def independent_schema(version: str) -> etree.XMLSchema:
    """The official schema loaded straight from the shipped files, not through the module under test."""
    name = "B2MML-Material.xsd" if version == V0701 else "B2MML-V0600-Material.xsd"
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / version / name), parser))


def batch(**overrides) -> Batch:
    values = dict(batch_id="BCGDD000101-1", material_id="1.02.0033", supplier_id="SUP-001",
                  supplier_batch_number="B7781", quantity="500", uom="H87", status="released",
                  expiry_date="2027-06-30", links=[{"relation": "consumed_by", "ref": "MO-2026-0002"},
                                                   {"relation": "consumed_by", "ref": "MO-2026-0007"},
                                                   {"relation": "produced", "ref": "MO-2026-0001"}])
    values.update(overrides)
    return Batch(**values)


def order(**overrides) -> ProductionOrder:
    values = dict(order_id="MO-2026-0002", material_id="3.01.0007", quantity="500", uom="H87",
                  start=dt.datetime(2026, 12, 4, 8), due=dt.datetime(2026, 12, 6, 8), line="LINE01",
                  status="released", version=2)
    values.update(overrides)
    return ProductionOrder(**values)


def lots_xml(batches, version: str = V0701) -> bytes:
    return writer.to_bytes(writer.material_lots(batches, version, HEADER), version)


def content(documents) -> list[dict]:
    return [d.content() for d in documents]


# ----------------------------------------------------------------------------- MaterialLot round trip


@pytest.mark.parametrize("version", VERSIONS)
def test_material_lots_round_trip_exactly(version):
    batches = [batch(), batch(batch_id="B2", material_id="1.03.0100", quantity="0.125", uom="KGM", status="quarantined",
                              supplier_id=None, supplier_batch_number=None, expiry_date=None, links=[]),
               batch(batch_id="B3", status="consumed", uom="LTR"), batch(batch_id="B4", status="rejected")]
    data = lots_xml(batches, version)
    assert independent_schema(version).validate(etree.fromstring(data))
    result = reader.read(data, "lots.xml")
    assert (result.version, result.root, result.errors) == (version, "MaterialInformation", [])
    assert content(result.documents) == content(batches)
    assert all(d.source.system == "b2mml" and d.source.file == "lots.xml" for d in result.documents)


text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and "  " not in s)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch_id=text, material=text, supplier=st.none() | text, quantity=st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal("1e9"), places=3), status=st.sampled_from(
    ["quarantined", "released", "rejected", "consumed"]), refs=st.lists(text, max_size=3, unique=True),
    version=st.sampled_from(VERSIONS))
def test_any_batch_round_trips(batch_id, material, supplier, quantity, status, refs, version):
    original = Batch(batch_id=batch_id, material_id=material, supplier_id=supplier, quantity=quantity, uom="H87",
                     status=status, links=[{"relation": "consumed_by", "ref": r} for r in refs])
    result = reader.read(lots_xml([original], version))
    assert result.errors == []
    assert content(result.documents) == content([original])


@pytest.mark.parametrize("version", VERSIONS)
def test_no_batches_is_a_valid_empty_material_information(version):
    data = lots_xml([], version)
    assert independent_schema(version).validate(etree.fromstring(data))
    assert reader.read(data).documents == []


def test_a_value_xml_cannot_carry_is_refused_on_export():
    with pytest.raises(FatalError) as info:
        lots_xml([batch(batch_id="B\x01")])
    assert info.value.code == "B2MML_EXPORT_INVALID" and "MaterialLot/ID" in info.value.message


# ----------------------------------------------------------------------------- other nouns


@pytest.mark.parametrize("version", VERSIONS)
def test_material_definitions_round_trip(version):
    materials = [Material(material_id="1.02.0033", name="轴承 6204", uom="H87", spec="6204-2RS 20x47x14",
                          gtin="06901234567892", supplier_part_numbers=[
                              {"supplier_id": "SUP-001", "supplier_material_id": "SP-33-A"},
                              {"supplier_id": "SUP-002", "supplier_material_id": "X33"}]),
                 Material(material_id="1.03.0100", name="油封", uom="KGM")]
    data = writer.to_bytes(writer.material_definitions(materials, version, HEADER), version)
    result = reader.read(data)
    assert result.errors == [] and content(result.documents) == content(materials)


@pytest.mark.parametrize("version", VERSIONS)
def test_schedule_round_trips(version):
    orders = [order(), order(order_id="MO-2", status="planned", line=None, start=None, due=None, quantity="12.5",
                             uom="KGM", version=1),
              order(order_id="MO-3", status="started"), order(order_id="MO-4", status="cancelled")]
    data = writer.to_bytes(writer.schedule(orders, version, HEADER), version)
    result = reader.read(data)
    assert result.root == ("OperationsSchedule" if version == V0701 else "ProductionSchedule")
    assert result.errors == [] and content(result.documents) == content(orders)


def test_v0701_schedule_is_production_typed_with_the_mandatory_segment_ids():
    root = etree.fromstring(writer.to_bytes(writer.schedule([order()], V0701, HEADER), V0701))
    ns = {"b": NAMESPACES[V0701]}
    assert root.xpath("b:OperationsType/text()", namespaces=ns) == ["Production"]
    segment = root.xpath("b:OperationsRequest/b:SegmentRequirement", namespaces=ns)[0]
    assert segment.xpath("b:ProcessSegmentID/text()", namespaces=ns) == ["PRODUCE"]
    assert segment.xpath("b:OperationsDefinitionID/text()", namespaces=ns) == ["3.01.0007"]


def test_v0701_schedule_or_performance_of_nothing_is_refused_not_written_invalid():
    for build in (lambda: writer.schedule([], V0701, HEADER), lambda: writer.performance([], [], V0701, HEADER),
                  lambda: writer.performance([order(status="planned")], [], V0701, HEADER)):
        with pytest.raises(FatalError) as info:
            build()
        assert info.value.code == "B2MML_NOTHING_TO_EXPORT"
    for build in (writer.schedule([], V0600, HEADER), writer.performance([], [], V0600, HEADER)):
        assert writer.to_bytes(build, V0600)  # V0600 accepts an empty schedule / performance


@pytest.mark.parametrize("version", VERSIONS)
def test_performance_reports_consumed_and_produced_lots_per_order(version):
    orders = [order(status="started"), order(order_id="MO-2026-0007"), order(order_id="MO-2026-0001",
                                                                              status="completed"),
              order(order_id="MO-IDLE", status="planned")]
    data = writer.to_bytes(writer.performance(orders, [batch(), batch(batch_id="B9", links=[])], version, HEADER),
                           version)
    result = reader.read(data)
    by_order = {p.order_id: p for p in result.performance}
    assert set(by_order) == {"MO-2026-0002", "MO-2026-0007", "MO-2026-0001"}  # MO-IDLE has nothing to report
    assert by_order["MO-2026-0002"].status == "started"
    assert [(f.batch_id, f.use) for f in by_order["MO-2026-0002"].materials] == [("BCGDD000101-1", "consumed")]
    assert [(f.batch_id, f.use) for f in by_order["MO-2026-0001"].materials] == [("BCGDD000101-1", "produced")]
    bare = batch(links=[])
    linked = by_order["MO-2026-0002"].link_batch(bare)
    assert [link.model_dump() for link in linked.links] == [{"relation": "consumed_by", "ref": "MO-2026-0002"}]
    assert by_order["MO-2026-0002"].link_batch(linked) == linked  # a repeated report adds nothing


# ----------------------------------------------------------------------------- refusals


def test_schema_invalid_document_is_refused_naming_element_and_line():
    data = lots_xml([batch()]).replace(b"<Disposition>UnRestricted", b"<Disposition>Unrestricted")
    with pytest.raises(SkippableError) as info:
        reader.read(data, "bad.xml")
    error = info.value
    assert error.code == "B2MML_SCHEMA_INVALID"
    assert "MaterialInformation/MaterialLot/Disposition" in error.message and "'Unrestricted'" in error.message
    line = next(i for i, text in enumerate(data.decode().splitlines(), 1) if "Unrestricted" in text)
    assert error.where == f"bad.xml:{line}"


def test_missing_mandatory_id_is_named():
    data = lots_xml([batch()]).replace(b"<ID>BCGDD000101-1</ID>", b"")
    with pytest.raises(SkippableError) as info:
        reader.read(data, "bad.xml")
    assert "MaterialInformation/MaterialLot" in info.value.message and "ID" in info.value.message


def test_foreign_namespace_and_unsupported_roots_are_refused():
    with pytest.raises(SkippableError) as info:
        reader.read(b'<MaterialLot xmlns="urn:other"><ID>x</ID></MaterialLot>')
    assert info.value.code == "B2MML_UNKNOWN_NAMESPACE"
    with pytest.raises(SkippableError) as info:
        reader.read(b'<MaterialClass xmlns="http://www.mesa.org/xml/B2MML"><ID>RAW</ID></MaterialClass>')
    assert info.value.code == "B2MML_UNSUPPORTED_ROOT"


def test_hostile_import_is_refused_before_validation():
    data = (b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<MaterialLot xmlns="http://www.mesa.org/xml/B2MML"><ID>&e;</ID></MaterialLot>')
    with pytest.raises(SkippableError) as info:
        reader.read(data, "evil.xml")
    assert info.value.code == "B2MML_DTD_FORBIDDEN" and "root:" not in str(info.value)


def test_one_bad_lot_is_skipped_with_its_id_and_the_others_are_read():
    data = lots_xml([batch(batch_id="GOOD"), batch(batch_id="NOMAT"), batch(batch_id="ODDUNIT")])
    data = data.replace(b"<ID>NOMAT</ID>\n    <MaterialDefinitionID>1.02.0033</MaterialDefinitionID>", b"<ID>NOMAT</ID>")
    tree = etree.fromstring(data)
    ns = {"b": NAMESPACES[V0701]}
    tree.xpath("b:MaterialLot[b:ID='ODDUNIT']/b:Quantity/b:UnitOfMeasure", namespaces=ns)[0].text = "BOXES"
    result = reader.read(etree.tostring(tree), "mixed.xml")
    assert [d.batch_id for d in result.documents] == ["GOOD"]
    codes = {e.code: e for e in result.errors}
    assert set(codes) == {"MISSING_FIELD", "UNKNOWN_UOM"}
    assert "MaterialLot=NOMAT" in codes["MISSING_FIELD"].where and "MaterialDefinitionID" in codes["MISSING_FIELD"].message
    assert "MaterialLot=ODDUNIT" in codes["UNKNOWN_UOM"].where and "'BOXES'" in codes["UNKNOWN_UOM"].message


def test_a_lot_repeated_in_one_document_is_read_once_and_reported():
    data = lots_xml([batch(batch_id="SAME"), batch(batch_id="SAME", quantity="7")])
    result = reader.read(data, "dup.xml")
    assert [d.quantity for d in result.documents] == [Decimal("500")]
    (error,) = result.errors
    assert error.code == "B2MML_DUPLICATE_ID" and "SAME" in error.message


def test_units_known_to_the_crosswalk_are_translated():
    data = lots_xml([batch()]).replace(b"<UnitOfMeasure>H87</UnitOfMeasure>", b"<UnitOfMeasure>PCS</UnitOfMeasure>")
    (document,) = reader.read(data).documents
    assert document.uom == "H87"


def test_a_bod_wrapper_is_read_like_the_noun():
    ns = NAMESPACES[V0701]
    lot = etree.fromstring(lots_xml([batch()])).find(f"{{{ns}}}MaterialLot")
    bod = etree.Element(f"{{{ns}}}SyncMaterialLot", nsmap={None: ns}, releaseID="1", versionID="1")
    area = etree.SubElement(bod, f"{{{ns}}}ApplicationArea")
    etree.SubElement(area, f"{{{ns}}}CreationDateTime").text = "2026-11-26T08:00:00Z"
    data_area = etree.SubElement(bod, f"{{{ns}}}DataArea")
    etree.SubElement(data_area, f"{{{ns}}}Sync")
    data_area.append(lot)
    result = reader.read(etree.tostring(bod))
    assert result.root == "SyncMaterialLot" and content(result.documents) == content([batch()])


def test_an_opcenter_style_lot_without_hub_properties_reads_with_defaults():
    data = b"""
<MaterialLot xmlns="http://www.mesa.org/xml/B2MML"><ID>L1</ID><MaterialDefinitionID>M1</MaterialDefinitionID>
<Disposition>UnRestricted</Disposition>
<Quantity><QuantityString>3</QuantityString><UnitOfMeasure>KGM</UnitOfMeasure></Quantity></MaterialLot>"""
    (document,) = reader.read(data).documents
    assert (document.batch_id, document.status, document.quantity, document.uom) == ("L1", "released", 3, "KGM")
