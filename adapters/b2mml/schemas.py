"""The official MESA B2MML schemas (shipped in ``schemas/``, see ``schemas/NOTICE.md``) and validation.

Two versions, told apart by namespace:

* ``V0701`` (``http://www.mesa.org/xml/B2MML``): one compiled schema covers every root, because
  ``B2MML-Common.xsd`` pulls in all nouns; schedule and performance are ``OperationsSchedule`` /
  ``OperationsPerformance`` (``OperationsType`` Production).
* ``V0600`` (``http://www.mesa.org/xml/B2MML-V0600``): one schema per root file (Material,
  ProductionSchedule, ProductionPerformance); its ``AllSchemas.xsd`` does not compile with
  libxml2 and is not shipped.

Schemas are parsed from their files on disk (the ``xsd:include`` locations are relative names)
with a parser that never touches the network, compiled once per process and reused.
Validation reports every failure with its line and a readable element path
(``MaterialLot/Disposition``), never only lxml's ``/*/*[5]``.
"""
from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"

V0701 = "V0701"
V0600 = "V0600"
VERSIONS = (V0701, V0600)
NAMESPACES = {V0701: "http://www.mesa.org/xml/B2MML", V0600: "http://www.mesa.org/xml/B2MML-V0600"}

#: V0600 root element -> the schema file defining it (V0701: B2MML-Material.xsd covers all)
_V0600_ROOT_FILES = {
    "ProductionSchedule": "B2MML-V0600-ProductionSchedule.xsd",
    "ProductionPerformance": "B2MML-V0600-ProductionPerformance.xsd",
}
_V0600_DEFAULT_FILE = "B2MML-V0600-Material.xsd"
_V0701_FILE = "B2MML-Material.xsd"

_lock = threading.Lock()


@dataclass(frozen=True)
class SchemaIssue:
    """One schema failure: where it is and what is wrong, in words an integrator can act on."""

    line: int
    element: str  # readable path of local names, e.g. MaterialInformation/MaterialLot[2]/Disposition
    message: str

    def text(self) -> str:
        return f"line {self.line}: {self.element}: {self.message}"


def version_of_namespace(namespace: str | None) -> str | None:
    for version, ns in NAMESPACES.items():
        if ns == namespace:
            return version
    return None


def schema_file(version: str, root: str) -> Path:
    if version == V0701:
        return SCHEMA_DIR / V0701 / _V0701_FILE
    if version == V0600:
        return SCHEMA_DIR / V0600 / _V0600_ROOT_FILES.get(root, _V0600_DEFAULT_FILE)
    raise ValueError(f"unknown B2MML version {version!r}; use one of {', '.join(VERSIONS)}")


@functools.lru_cache(maxsize=8)
def _compiled(path: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    # lxml's schema compilation is not documented as thread-safe; compile one at a time
    with _lock:
        return etree.XMLSchema(etree.parse(path, parser))


def schema_for(version: str, root: str) -> etree.XMLSchema:
    """The compiled schema that validates a ``root`` document of ``version``."""
    return _compiled(str(schema_file(version, root)))


def issues(element: etree._Element, version: str) -> list[SchemaIssue]:
    """Every schema failure of the document rooted at ``element`` (empty when it is valid)."""
    root_name = etree.QName(element).localname
    schema = schema_for(version, root_name)
    tree = element.getroottree()
    if schema.validate(tree):
        return []
    found = []
    for error in schema.error_log:
        found.append(SchemaIssue(error.line, _readable_path(tree, error.path) or root_name,
                                 _strip_namespaces(error.message)))
    return found


def _strip_namespaces(message: str) -> str:
    # "Element '{http://www.mesa.org/xml/B2MML}Disposition': ..." -> "Element 'Disposition': ..."
    # only namespace URIs (a scheme, no spaces or quotes): enumeration sets {'A', 'B'} stay
    return re.sub(r"\{[A-Za-z][A-Za-z0-9+.-]*:[^{}\s']*\}", "", message).strip()


def _readable_path(tree: etree._ElementTree, xpath: str | None) -> str:
    if not xpath:
        return ""
    try:
        found = tree.xpath(xpath)
    except etree.XPathError:
        return xpath
    if not found or not isinstance(found[0], etree._Element):
        return xpath
    parts = []
    node = found[0]
    while node is not None:
        name = etree.QName(node).localname
        parent = node.getparent()
        if parent is not None:
            same = [child for child in parent if isinstance(child.tag, str) and child.tag == node.tag]
            if len(same) > 1:
                name = f"{name}[{same.index(node) + 1}]"
        parts.append(name)
        node = parent
    return "/".join(reversed(parts))
