"""The shipped MESA schemas: byte-exact, with MESA's notice, loadable offline, and readable errors."""
from __future__ import annotations

import hashlib
import re

import pytest
from lxml import etree

from adapters.b2mml import schemas
from adapters.b2mml.schemas import SCHEMA_DIR, V0600, V0701

ATTRIBUTION = "The Business To Manufacturing Markup Language (B2MML) is used courtesy of MESA International."

LOT_V0701 = b"""<?xml version="1.0" encoding="UTF-8"?>
<MaterialLot xmlns="http://www.mesa.org/xml/B2MML">
  <ID>LOT-1</ID>
  <MaterialDefinitionID>1.02.0033</MaterialDefinitionID>
  <Status>Released</Status>
  <Disposition>UnRestricted</Disposition>
  <Quantity><QuantityString>250</QuantityString><DataType>decimal</DataType><UnitOfMeasure>H87</UnitOfMeasure></Quantity>
</MaterialLot>
"""


def test_every_shipped_schema_is_byte_exact_as_listed_in_sha256sums():
    listed = {}
    for line in (SCHEMA_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    shipped = {p.relative_to(SCHEMA_DIR).as_posix() for p in SCHEMA_DIR.glob("V*/*")}
    assert shipped == set(listed)
    assert len([n for n in listed if n.endswith(".xsd")]) == 34 + 12
    for name, digest in listed.items():
        assert hashlib.sha256((SCHEMA_DIR / name).read_bytes()).hexdigest() == digest, f"{name} was modified"


def test_mesa_attribution_ships_with_the_schemas():
    assert ATTRIBUTION in (SCHEMA_DIR / "NOTICE.md").read_text()
    for version in (V0701, V0600):
        licence = " ".join((SCHEMA_DIR / version / "LICENSE").read_text().split())
        assert ATTRIBUTION in licence


def test_no_schema_location_reaches_outside_its_folder():
    for xsd in SCHEMA_DIR.glob("V*/*.xsd"):
        for location in re.findall(rb'schemaLocation\s*=\s*"([^"]+)"', xsd.read_bytes()):
            text = location.decode()
            assert "://" not in text and "/" not in text, f"{xsd.name} points at {text}"
            assert (xsd.parent / text).is_file(), f"{xsd.name} includes missing {text}"


@pytest.mark.parametrize("version, root", [(V0701, "MaterialLot"), (V0701, "OperationsSchedule"),
                                           (V0600, "MaterialLot"), (V0600, "ProductionSchedule"),
                                           (V0600, "ProductionPerformance")])
def test_schemas_compile(version, root):
    assert isinstance(schemas.schema_for(version, root), etree.XMLSchema)


def test_a_valid_lot_has_no_issues():
    assert schemas.issues(etree.fromstring(LOT_V0701), V0701) == []


def test_an_invalid_enumeration_names_the_element_its_line_and_the_allowed_values():
    doc = etree.fromstring(LOT_V0701.replace(b"UnRestricted", b"Unrestricted"))
    (issue,) = schemas.issues(doc, V0701)
    assert issue.element == "MaterialLot/Disposition"
    assert issue.line == 6
    assert "'Unrestricted'" in issue.message and "'UnRestricted'" in issue.message
    assert "{http" not in issue.message  # namespaces stripped, the enumeration set kept


def test_repeated_siblings_get_an_index_in_the_path():
    doc = etree.fromstring(b'<MaterialInformation xmlns="http://www.mesa.org/xml/B2MML"><ID>I</ID>'
                           b"<MaterialLot><ID>A</ID></MaterialLot><MaterialLot><Status>x</Status></MaterialLot>"
                           b"</MaterialInformation>")
    (issue,) = schemas.issues(doc, V0701)
    assert issue.element.startswith("MaterialInformation/MaterialLot[2]")


def test_a_v0701_lot_is_not_a_v0600_lot():
    doc = etree.fromstring(LOT_V0701.replace(b"http://www.mesa.org/xml/B2MML", b"http://www.mesa.org/xml/B2MML-V0600"))
    found = schemas.issues(doc, V0600)
    assert [i.element for i in found] == ["MaterialLot/Disposition"]  # V0600 has no Disposition
