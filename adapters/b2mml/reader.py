"""B2MML XML -> canonical documents (the inverse of :mod:`adapters.b2mml.writer`).

Steps, each refusing with its own code:

1. parse with :func:`adapters.b2mml.safe_xml.parse_untrusted` (no DTD, no entity, no network:
   ``B2MML_DTD_FORBIDDEN``, ``B2MML_NOT_XML``, ``B2MML_TOO_LARGE``);
2. the root's namespace picks the version (``B2MML_UNKNOWN_NAMESPACE`` otherwise) and the root
   must be one the hub reads (``B2MML_UNSUPPORTED_ROOT``);
3. the whole document is validated against the official schema: ``B2MML_SCHEMA_INVALID`` lists
   every failure with its line and element path (``MaterialLot/Disposition``);
4. each noun becomes a canonical document; a noun the canonical model cannot take (a lot
   without ``MaterialDefinitionID`` or ``Quantity``, an unknown unit) is a ``SkippableError``
   naming the noun's ID and the element, collected in ``ReadResult.errors`` while the other
   nouns go on.

Roots read: ``MaterialLot``, ``MaterialDefinition``, ``MaterialInformation`` and the BOD
wrappers (``SyncMaterialLot``, ``ProcessMaterialDefinition``, ...) -> ``Batch`` / ``Material``;
``OperationsSchedule`` / ``ProductionSchedule`` -> ``ProductionOrder``;
``OperationsPerformance`` / ``ProductionPerformance`` -> :class:`OrderPerformance` reports (what
happened to an order and which lots it consumed or produced: facts to merge into the store's
``ProductionOrder`` and ``Batch`` links, not whole documents).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

from lxml import etree
from pydantic import ValidationError

from adapters.b2mml import schemas, writer
from adapters.b2mml.safe_xml import parse_untrusted
from adapters.b2mml.schemas import V0600
from canonical_model.documents import Batch, CanonicalDocument, Material, ProductionOrder, Source
from hub.errors import SkippableError
from mappings import crosswalk

SYSTEM = "b2mml"
_BOD_VERBS = ("Get", "Show", "Process", "Acknowledge", "Change", "Respond", "Cancel", "Sync")
_MATERIAL_NOUNS = ("MaterialLot", "MaterialDefinition", "MaterialInformation")
_SCHEDULES = ("OperationsSchedule", "ProductionSchedule")
_PERFORMANCES = ("OperationsPerformance", "ProductionPerformance")


@dataclass(frozen=True)
class MaterialUseFact:
    """A lot an order consumed or produced, as a performance document reports it."""

    batch_id: str
    material_id: Optional[str]
    use: str  # "consumed" | "produced"
    quantity: Optional[Decimal] = None
    uom: Optional[str] = None


@dataclass(frozen=True)
class OrderPerformance:
    order_id: str
    status: Optional[str]
    start: Optional[dt.datetime]
    end: Optional[dt.datetime]
    materials: tuple[MaterialUseFact, ...]

    def link_batch(self, batch: Batch) -> Batch:
        """``batch`` with the links this report gives it (consumed_by / produced this order), no duplicates."""
        relations = {"consumed": "consumed_by", "produced": "produced"}
        links = [link.model_dump() for link in batch.links]
        for fact in self.materials:
            if fact.batch_id == batch.batch_id:
                link = {"relation": relations[fact.use], "ref": self.order_id}
                if link not in links:
                    links.append(link)
        return batch.model_copy(update={"links": Batch.model_validate({**batch.model_dump(), "links": links}).links})


@dataclass
class ReadResult:
    version: str
    root: str
    documents: list[CanonicalDocument] = field(default_factory=list)
    performance: list[OrderPerformance] = field(default_factory=list)
    errors: list[SkippableError] = field(default_factory=list)
    #: (document type, business key) of the documents read, to refuse a noun repeated in one document
    keys: set[tuple[str, str]] = field(default_factory=set, repr=False)


def read(data: bytes, name: str = "b2mml.xml") -> ReadResult:
    """Parse, validate and translate one B2MML document (see the module doc for the refusals)."""
    root = parse_untrusted(data, name, code_prefix="B2MML")
    return read_element(root, name)


def detect(root: etree._Element, name: str) -> tuple[str, str]:
    """``(version, root local name)`` of a parsed document, or ``SkippableError``."""
    qname = etree.QName(root)
    version = schemas.version_of_namespace(qname.namespace)
    if version is None:
        known = ", ".join(f"{v}: {ns}" for v, ns in schemas.NAMESPACES.items())
        raise SkippableError("B2MML_UNKNOWN_NAMESPACE",
                             f"root <{qname.localname}> is in namespace {qname.namespace or '(none)'!r}, "
                             f"not a B2MML namespace ({known})", f"{name}:{root.sourceline}")
    return version, qname.localname


def validate(root: etree._Element, name: str) -> tuple[str, str]:
    """Version and root name of a schema-valid document, or ``SkippableError B2MML_SCHEMA_INVALID``."""
    version, local = detect(root, name)
    found = schemas.issues(root, version)
    if found:
        detail = "; ".join(issue.text() for issue in found[:10])
        more = f" (+{len(found) - 10} more)" if len(found) > 10 else ""
        raise SkippableError("B2MML_SCHEMA_INVALID",
                             f"{local} does not validate against B2MML {version}: {detail}{more}",
                             f"{name}:{found[0].line}")
    return version, local


def read_element(root: etree._Element, name: str) -> ReadResult:
    version, local = validate(root, name)
    noun = _noun_of(local)
    result = ReadResult(version=version, root=local)
    source = Source(system=SYSTEM, file=name)
    ctx = _Context(version, name, source)
    if noun in _MATERIAL_NOUNS:
        for element in _elements(root, "MaterialLot"):
            _collect(result, lambda e=element: _batch(ctx, e), ctx, element)
        for element in _elements(root, "MaterialDefinition"):
            _collect(result, lambda e=element: _material(ctx, e), ctx, element)
    elif noun in _SCHEDULES:
        request = "ProductionRequest" if noun == "ProductionSchedule" else "OperationsRequest"
        for element in _children(root, request):
            _collect(result, lambda e=element: _order(ctx, e), ctx, element)
    elif noun in _PERFORMANCES:
        response = "ProductionResponse" if noun == "ProductionPerformance" else "OperationsResponse"
        for element in _children(root, response):
            result.performance.append(_performance(ctx, element))
    else:
        raise SkippableError("B2MML_UNSUPPORTED_ROOT",
                             f"<{local}> is valid B2MML but not a document the hub reads; expected one of "
                             f"{', '.join(_MATERIAL_NOUNS + _SCHEDULES + _PERFORMANCES)} (or a BOD around a "
                             f"material noun)", f"{name}:{root.sourceline}")
    return result


def _noun_of(local: str) -> str:
    for verb in _BOD_VERBS:
        if local.startswith(verb) and local[len(verb):] in _MATERIAL_NOUNS:
            return local[len(verb):]
    return local


def _collect(result: ReadResult, build: Callable[[], CanonicalDocument], ctx: "_Context",
             element: etree._Element) -> None:
    try:
        document = build()
    except SkippableError as error:
        result.errors.append(error)
        return
    key = (document.type, document.business_key)  # type: ignore[attr-defined]
    if key in result.keys:
        noun = etree.QName(element).localname
        result.errors.append(_fail(ctx, element, noun, document.business_key, "B2MML_DUPLICATE_ID",
                                   f"{noun} {document.business_key} appears more than once in the document; "
                                   f"the first one is used"))
        return
    result.keys.add(key)
    result.documents.append(document)


# ----------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Context:
    version: str
    name: str
    source: Source

    @property
    def ns(self) -> str:
        return schemas.NAMESPACES[self.version]


def _elements(root: etree._Element, local: str) -> list[etree._Element]:
    """Every ``local`` element of the document, the root included (assemblies have other tags)."""
    ns = etree.QName(root).namespace
    tag = f"{{{ns}}}{local}"
    return list(root.iter(tag))


def _children(parent: etree._Element, local: str) -> list[etree._Element]:
    ns = etree.QName(parent).namespace
    return parent.findall(f"{{{ns}}}{local}")


def _child(parent: etree._Element, *path: str) -> Optional[etree._Element]:
    ns = etree.QName(parent).namespace
    node: Optional[etree._Element] = parent
    for local in path:
        if node is None:
            return None
        node = node.find(f"{{{ns}}}{local}")
    return node


def _text(parent: etree._Element, *path: str) -> Optional[str]:
    node = _child(parent, *path)
    if node is None or node.text is None:
        return None
    text = node.text.strip()
    return text or None


def _where(ctx: _Context, element: etree._Element, noun: str, key: Optional[str]) -> str:
    return f"{ctx.name}:{element.sourceline}:{noun}={key or '?'}"


def _fail(ctx: _Context, element: etree._Element, noun: str, key: Optional[str], code: str, message: str) -> SkippableError:
    return SkippableError(code, message, _where(ctx, element, noun, key))


def _decimal(ctx: _Context, element: etree._Element, noun: str, key: str, text: Optional[str], what: str) -> Decimal:
    try:
        value = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise _fail(ctx, element, noun, key, "B2MML_BAD_VALUE", f"{what} {text!r} is not a decimal number") from None
    if not value.is_finite():
        raise _fail(ctx, element, noun, key, "B2MML_BAD_VALUE", f"{what} {text!r} is not a finite number")
    return value


def _unit(ctx: _Context, element: etree._Element, noun: str, key: str, code: Optional[str], what: str) -> str:
    if not code:
        raise _fail(ctx, element, noun, key, "MISSING_FIELD", f"{what}/UnitOfMeasure is missing")
    table = crosswalk.load_crosswalk("units")
    canonical = table.lookup(code, [SYSTEM])
    if canonical is not None:
        return canonical
    if code in set(table.entries.values()):  # already a canonical UN/ECE code the hub writes itself
        return code
    raise _fail(ctx, element, noun, key, crosswalk.error_code("units"),
                f"{what}/UnitOfMeasure {code!r} is not in crosswalk units (system {SYSTEM}); add it to "
                f"mappings/crosswalks/units.csv")


def _quantity(ctx: _Context, parent: etree._Element, noun: str, key: str, required: bool,
              name: str = "Quantity") -> tuple[Optional[Decimal], Optional[str]]:
    node = _child(parent, name)
    if node is None:
        if required:
            raise _fail(ctx, parent, noun, key, "MISSING_FIELD", f"{noun} {key} has no {name}")
        return None, None
    value = _decimal(ctx, node, noun, key, _text(node, "QuantityString"), f"{name}/QuantityString")
    return value, _unit(ctx, node, noun, key, _text(node, "UnitOfMeasure"), name)


def _properties(parent: etree._Element, element_name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for prop in _children(parent, element_name):
        prop_id = _text(prop, "ID")
        if prop_id is None:
            continue
        for value in _children(prop, "Value"):
            text = _text(value, "ValueString")
            if text is not None:
                values.setdefault(prop_id, []).append(text)
    return values


def _datetime(ctx: _Context, parent: etree._Element, noun: str, key: str, *path: str) -> Optional[dt.datetime]:
    text = _text(parent, *path)
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise _fail(ctx, parent, noun, key, "B2MML_BAD_VALUE", f"{'/'.join(path)} {text!r} is not an ISO 8601 "
                                                               f"date-time") from None


def _build(ctx: _Context, element: etree._Element, noun: str, key: str, model: type[CanonicalDocument],
           values: dict[str, Any]) -> CanonicalDocument:
    try:
        return model.model_validate({**values, "source": ctx.source})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise _fail(ctx, element, noun, key, "SCHEMA_VIOLATION",
                    f"{noun} {key} does not fit a canonical {model.__name__}: {problems}") from None


# ----------------------------------------------------------------------------- nouns

_STATUS_FROM_TEXT = {text.lower(): status for status, text in writer.LOT_STATUS_TEXT.items()}
_STATUS_FROM_DISPOSITION = {"restricted": "quarantined", "unrestricted": "released", "closed": "consumed"}


def _batch(ctx: _Context, lot: etree._Element) -> Batch:
    key = _text(lot, "ID") or "?"
    material = _text(lot, "MaterialDefinitionID")
    if material is None:
        raise _fail(ctx, lot, "MaterialLot", key, "MISSING_FIELD",
                    f"MaterialLot {key} has no MaterialDefinitionID (the canonical Batch needs its material)")
    quantity, uom = _quantity(ctx, lot, "MaterialLot", key, required=True)
    props = _properties(lot, "MaterialLotProperty")
    status_text = (_text(lot, "Status") or "").lower()
    status = _STATUS_FROM_TEXT.get(status_text) or _STATUS_FROM_DISPOSITION.get((_text(lot, "Disposition") or "").lower())
    if status is None and status_text:
        raise _fail(ctx, lot, "MaterialLot", key, "B2MML_UNKNOWN_STATUS",
                    f"MaterialLot {key} Status {_text(lot, 'Status')!r} is not one of "
                    f"{', '.join(writer.LOT_STATUS_TEXT.values())} and its Disposition says nothing either")
    links = [{"relation": relation, "ref": ref} for relation, prop_id in writer.LINK_PROPERTIES.items()
             for ref in props.get(prop_id, [])]
    expiry = (props.get(writer.PROPERTY_EXPIRY) or [None])[0]
    return _build(ctx, lot, "MaterialLot", key, Batch, {
        "batch_id": key, "material_id": material, "quantity": quantity, "uom": uom,
        "status": status or "quarantined",
        "supplier_id": (props.get(writer.PROPERTY_SUPPLIER) or [None])[0],
        "supplier_batch_number": (props.get(writer.PROPERTY_SUPPLIER_BATCH) or [None])[0],
        "expiry_date": expiry, "links": links,
    })


def _material(ctx: _Context, definition: etree._Element) -> Material:
    key = _text(definition, "ID") or "?"
    props = _properties(definition, "MaterialDefinitionProperty")
    uom_code = (props.get(writer.PROPERTY_BASE_UOM) or [None])[0]
    if uom_code is None:
        raise _fail(ctx, definition, "MaterialDefinition", key, "MISSING_FIELD",
                    f"MaterialDefinition {key} has no MaterialDefinitionProperty {writer.PROPERTY_BASE_UOM} "
                    f"(the canonical Material needs its base unit)")
    uom = _unit(ctx, definition, "MaterialDefinition", key, uom_code, writer.PROPERTY_BASE_UOM)
    parts = [{"supplier_id": prop_id[len(writer.PROPERTY_SUPPLIER_PART_PREFIX):], "supplier_material_id": values[0]}
             for prop_id, values in props.items() if prop_id.startswith(writer.PROPERTY_SUPPLIER_PART_PREFIX)]
    return _build(ctx, definition, "MaterialDefinition", key, Material, {
        "material_id": key, "name": _text(definition, "Description") or key, "uom": uom,
        "spec": (props.get(writer.PROPERTY_SPEC) or [None])[0], "gtin": (props.get(writer.PROPERTY_GTIN) or [None])[0],
        "supplier_part_numbers": parts,
    })


def _state(element: Optional[etree._Element], table: dict[str, str]) -> Optional[str]:
    """A canonical status from a B2MML state element (``Other`` carries it in ``OtherValue``)."""
    if element is None or not element.text:
        return None
    text = element.text.strip()
    if text == "Other":
        other = (element.get("OtherValue") or "").strip().lower()
        return other or None
    return table.get(text)


_REQUEST_STATUS = {**{state: status for status, state in writer.REQUEST_STATE.items()},
                   "Waiting": "released", "Ready": "released", "Held": "started", "Suspended": "started",
                   "Aborted": "cancelled"}
_RESPONSE_STATUS = {**{state: status for status, state in writer.RESPONSE_STATE.items()},
                    "Held": "started", "Holding": "started", "Paused": "started", "Suspended": "started"}


def _order(ctx: _Context, request: etree._Element) -> ProductionOrder:
    noun = etree.QName(request).localname
    key = _text(request, "ID") or "?"
    segment = _child(request, "SegmentRequirement")
    material = quantity = uom = line = None
    if segment is not None:
        if ctx.version == V0600:
            produced = _child(segment, "MaterialProducedRequirement")
            line = _text(segment, "EquipmentRequirement", "EquipmentID")
        else:
            produced = next((m for m in _children(segment, "MaterialRequirement")
                             if (_text(m, "MaterialUse") or "Produced") in ("Produced", "Material Produced")), None)
            line = _text(segment, "EquipmentRequirement", "EquipmentID")
        if produced is not None:
            material = _text(produced, "MaterialDefinitionID")
            quantity, uom = _quantity(ctx, produced, noun, key, required=False)
    if material is None or quantity is None:
        raise _fail(ctx, request, noun, key, "MISSING_FIELD",
                    f"{noun} {key} names no produced material with a quantity (SegmentRequirement/"
                    f"{'MaterialProducedRequirement' if ctx.version == V0600 else 'MaterialRequirement'})")
    status = _state(_child(request, "RequestState"), _REQUEST_STATUS)
    version_text = _text(request, "Version")
    values: dict[str, Any] = {
        "order_id": key, "material_id": material, "quantity": quantity, "uom": uom,
        "start": _datetime(ctx, request, noun, key, "StartTime"), "due": _datetime(ctx, request, noun, key, "EndTime"),
        "line": line, "status": status or "planned",
    }
    if version_text is not None:
        values["version"] = version_text
    return _build(ctx, request, noun, key, ProductionOrder, values)  # type: ignore[return-value]


def _performance(ctx: _Context, response: etree._Element) -> OrderPerformance:
    noun = etree.QName(response).localname
    key = _text(response, "ID") or "?"
    request_id = _text(response, "ProductionRequestID" if ctx.version == V0600 else "OperationsRequestID") or key
    facts: list[MaterialUseFact] = []
    for segment in _children(response, "SegmentResponse"):
        if ctx.version == V0600:
            actuals = [(a, "consumed") for a in _children(segment, "MaterialConsumedActual")]
            actuals += [(a, "produced") for a in _children(segment, "MaterialProducedActual")]
        else:
            uses = {"Consumed": "consumed", "Material Consumed": "consumed", "Produced": "produced",
                    "Material Produced": "produced"}
            actuals = [(a, uses[_text(a, "MaterialUse") or ""]) for a in _children(segment, "MaterialActual")
                       if (_text(a, "MaterialUse") or "") in uses]
        for actual, use in actuals:
            lot = _text(actual, "MaterialLotID")
            if lot is None:
                continue  # an actual by material only links no batch
            quantity, uom = _quantity(ctx, actual, noun, key, required=False)
            facts.append(MaterialUseFact(lot, _text(actual, "MaterialDefinitionID"), use, quantity, uom))
    state_table = _RESPONSE_STATUS
    return OrderPerformance(
        order_id=request_id, status=_state(_child(response, "ResponseState"), state_table),
        start=_datetime(ctx, response, noun, key, "StartTime"),
        end=_datetime(ctx, response, noun, key, "EndTime"), materials=tuple(facts))
