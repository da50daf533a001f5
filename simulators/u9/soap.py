"""Classic U9 (UBF/WCF) SOAP 1.1 services of the simulator (protocols/yonyou-u9.md §2).

Each contract is an endpoint ``{soap_base}/{Contract}.svc`` answering ``?wsdl`` with a WSDL built
from the hand-written ``wsdl/contract.wsdl`` + ``wsdl/types.xml`` and ``POST`` with a
``Do``/``DoResponse`` exchange. Requests are matched by local name, in any order, and the
``context`` is read from ``ThreadContext.nameValueHas`` whether its keys carry ``i:type`` or not
(§2.2). Faults are WCF-shaped: HTTP 500, ``s:Fault`` with ``faultcode``/``faultstring`` and a
declared detail type.

Contracts: the notes confirm ``UFIDA.U9.ISV.ItemQty.IBatchQueryItemQtySVR`` by name (signature
not captured) and the ``UFIDA.U9.ISV.Item.*`` / ``UFIDA.U9.ISV.PO.*`` / ``UFIDA.U9.ISV.RCV.*``
families. INFERRED: every other contract name below, the ``queryDTO`` parameter (incremental by
ModifiedOn, keyset paging by ID) and the write contracts' parameter names; the custom
``UFIDA.U9.Cust.HubSV.IFindDocByExtNoSV`` stands for the site-deployed custom service real
integrations add (§2.2: "many sites ... deploy a custom ... wrapper").

Fault details (INFERRED members, declared types confirmed): ``ServiceException`` with
``ErrorCode`` ``ContextInvalid`` (auth), ``ServerBusy`` (overload) or ``BusinessValidation``
(with ``EntityFullName``/``AttributeName``/``DocNo``); ``ServiceLostException`` when the
server lost the session of the call.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from string import Template
from typing import Any, Callable, Optional
from xml.sax.saxutils import escape

from lxml import etree

from simulators.u9.state import APPROVED, U9BusinessError, U9State, as_datetime

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
UFIDA = "http://www.UFIDA.org"
ENTITY = "http://www.UFIDA.org/EntityData"
CONTEXT_NS = "http://schemas.datacontract.org/2004/07/UFSoft.UBF.Util.Context"
ARRAYS_NS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
SERVICE_NS = "http://schemas.datacontract.org/2004/07/UFSoft.UBF.Service"
MESSAGES_NS = "UFSoft.UBF.Exceptions"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 5000

_WSDL_DIR = Path(__file__).resolve().parent / "wsdl"
#: parse without DTDs, entities or network: a hostile request must not read files or expand
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                              huge_tree=False, remove_comments=True)


class SoapFault(Exception):
    def __init__(self, message: str, code: str, detail_type: str = "ServiceException", faultcode: str = "s:Server",
                 entity: str = "", attribute: str = "", doc_no: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail_type = detail_type
        self.faultcode = faultcode
        self.entity = entity
        self.attribute = attribute
        self.doc_no = doc_no


@dataclass(frozen=True)
class Contract:
    name: str
    #: business parameters after ``context``: (element name, schema type)
    params: tuple[tuple[str, str], ...]
    #: ``DoResult`` type (None: void) and the element name of its array items
    result: Optional[str]
    item: Optional[str]
    handler: Callable[["SoapCall"], Any]
    #: operation label for faults and logs
    label: str = ""


@dataclass
class SoapCall:
    state: U9State
    context: dict[str, str]
    params: dict[str, Any]
    repeat_page: bool = False
    contract: str = ""
    #: answer with the previous page only (a server whose paging is stuck)
    stale_page: bool = False


# --------------------------------------------------------------------------- WSDL


def _schemas_text() -> str:
    root = etree.parse(str(_WSDL_DIR / "types.xml"), SAFE_PARSER).getroot()
    return "\n".join(etree.tostring(child, encoding="unicode") for child in root if isinstance(child.tag, str))


_SCHEMAS = _schemas_text()
_TEMPLATE = Template((_WSDL_DIR / "contract.wsdl").read_text(encoding="utf-8"))


def wsdl(contract: Contract, address: str) -> bytes:
    params = "\n".join(
        f'            <xs:element name="{name}" type="{type_}" minOccurs="0" nillable="true"/>'
        for name, type_ in contract.params)
    result = (f'            <xs:element name="DoResult" type="{contract.result}" minOccurs="0" nillable="true"/>'
              if contract.result else "")
    text = _TEMPLATE.substitute(contract=contract.name, schemas=_SCHEMAS, params=params, result=result,
                                address=escape(address, {'"': "&quot;"}))
    return text.encode("utf-8")


# --------------------------------------------------------------------------- request parsing


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _is_nil(elem: etree._Element) -> bool:
    return elem.get(f"{{{XSI}}}nil") == "true"


def dto_value(elem: etree._Element) -> Any:
    """A DTO element as plain data: members ``m_x`` -> key ``X``; arrays (children named by a
    dotted type name) -> list; leaves -> text (None when nil)."""
    if _is_nil(elem):
        return None
    children = [c for c in elem if isinstance(c.tag, str)]
    if not children:
        return elem.text if elem.text is not None else ""
    names = [_local(c.tag) for c in children]
    if all("." in n and not n.startswith("m_") for n in names):
        return [dto_value(c) for c in children]
    out: dict[str, Any] = {}
    for child, name in zip(children, names):
        out[from_member(name)] = dto_value(child)
    return out


def from_member(name: str) -> str:
    """``m_rcvQtyTU`` -> ``RcvQtyTU``, ``m_iD`` -> ``ID`` (UBF members are ``m_`` + lower-first name)."""
    if name.startswith("m_") and len(name) > 2:
        return name[2].upper() + name[3:]
    return name


def to_member(name: str) -> str:
    return "m_" + name[0].lower() + name[1:]


def read_context(elem: Optional[etree._Element]) -> dict[str, str]:
    values: dict[str, str] = {}
    if elem is None:
        return values
    for pair in elem.iter():
        if _local(pair.tag) != "KeyValueOfanyTypeanyType":
            continue
        key = value = None
        for child in pair:
            if _local(child.tag) == "Key":
                key = (child.text or "").strip()
            elif _local(child.tag) == "Value":
                value = None if _is_nil(child) else (child.text or "").strip()
        if key:
            values[key] = value or ""
    return values


def parse_request(body: bytes) -> tuple[str, Optional[etree._Element], dict[str, etree._Element]]:
    """(operation local name, context element, {parameter name: element}) or SoapFault."""
    try:
        root = etree.fromstring(body, SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SoapFault(f"请求不是有效的 XML：{exc.msg}", "BadRequest", faultcode="s:Client") from None
    if root.getroottree().docinfo.doctype:
        # what WCF's XmlDictionaryReader says about any DOCTYPE
        raise SoapFault("DTD is prohibited in this XML document.", "BadRequest", faultcode="s:Client")
    if _local(root.tag) != "Envelope" or etree.QName(root.tag).namespace != SOAP_ENV:
        raise SoapFault("根元素必须是 SOAP 1.1 Envelope", "BadRequest", faultcode="s:VersionMismatch")
    body_elem = next((c for c in root if _local(c.tag) == "Body"), None)
    operation = next((c for c in body_elem if isinstance(c.tag, str)), None) if body_elem is not None else None
    if operation is None:
        raise SoapFault("SOAP Body 为空", "BadRequest", faultcode="s:Client")
    params = {_local(c.tag): c for c in operation if isinstance(c.tag, str)}
    return _local(operation.tag), params.pop("context", None), params


# --------------------------------------------------------------------------- response building


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


#: array members -> their item element (DTO type) name
ARRAY_ITEMS = {
    "BOMComponents": "UFIDA.U9.ISV.MFG.BOM.BOMComponentDTOData",
    "POLines": "UFIDA.U9.ISV.PO.POLineDTOData",
}


def _append(parent: etree._Element, name: str, value: Any) -> None:
    elem = etree.SubElement(parent, f"{{{ENTITY}}}{name}")
    if value is None:
        elem.set(f"{{{XSI}}}nil", "true")
    elif isinstance(value, dict):
        for key in sorted(value, key=to_member):  # DataContract members serialise in ordinal order
            _append(elem, to_member(key), value[key])
    elif isinstance(value, list):
        item_name = ARRAY_ITEMS.get(from_member(name), "anyType")
        for item in value:
            _append(elem, item_name, item)
    else:
        elem.text = _text(value)


def envelope(contract: Contract, result: Any) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    response = etree.SubElement(body, f"{{{UFIDA}}}DoResponse", nsmap={None: UFIDA, "e": ENTITY, "i": XSI})
    if contract.result is not None:
        holder = etree.SubElement(response, f"{{{UFIDA}}}DoResult")
        if result is None:
            holder.set(f"{{{XSI}}}nil", "true")
        else:
            for item in result:
                _append(holder, contract.item or "anyType", item)
    etree.SubElement(response, f"{{{UFIDA}}}outMessages", nsmap={"m": MESSAGES_NS})
    return etree.tostring(env, xml_declaration=False, encoding="utf-8")


def fault_envelope(fault: SoapFault) -> bytes:
    env = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    body = etree.SubElement(env, f"{{{SOAP_ENV}}}Body")
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = fault.faultcode
    faultstring = etree.SubElement(node, "faultstring")
    faultstring.set("{http://www.w3.org/XML/1998/namespace}lang", "zh-CN")
    faultstring.text = fault.message
    detail = etree.SubElement(node, "detail")
    info = etree.SubElement(detail, f"{{{SERVICE_NS}}}{fault.detail_type}", nsmap={None: SERVICE_NS, "i": XSI})
    etree.SubElement(info, f"{{{SERVICE_NS}}}Message").text = fault.message
    if fault.detail_type == "ServiceException":
        etree.SubElement(info, f"{{{SERVICE_NS}}}ErrorCode").text = fault.code
        for name, value in (("EntityFullName", fault.entity), ("AttributeName", fault.attribute),
                            ("DocNo", fault.doc_no)):
            if value:
                etree.SubElement(info, f"{{{SERVICE_NS}}}{name}").text = value
    return etree.tostring(env, encoding="utf-8")


def hostile_envelope(kind: str, file: str) -> bytes:
    """A DoResponse-shaped reply that tries XXE (reads ``file``) or billion laughs."""
    if kind == "xxe":
        dtd = f'<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file://{escape(file)}">]>'
        payload = "&xxe;"
    else:
        lols = ['<!ENTITY lol "lol">'] + [f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                                          for i in range(1, 10)]
        dtd = "<!DOCTYPE s:Envelope [" + "".join(lols) + "]>"
        payload = "&lol9;"
    return (f'<?xml version="1.0" encoding="utf-8"?>{dtd}'
            f'<s:Envelope xmlns:s="{SOAP_ENV}"><s:Body><DoResponse xmlns="{UFIDA}" xmlns:e="{ENTITY}">'
            f'<DoResult><e:UFIDA.U9.ISV.Supplier.SupplierDTOData><e:m_code>EVIL</e:m_code><e:m_iD>1</e:m_iD>'
            f'<e:m_name>{payload}</e:m_name></e:UFIDA.U9.ISV.Supplier.SupplierDTOData></DoResult>'
            f'</DoResponse></s:Body></s:Envelope>').encode("utf-8")


# --------------------------------------------------------------------------- DTO views of rows


def _ref(code: Any, name: Any = None) -> Optional[dict[str, Any]]:
    if code in (None, ""):
        return None
    return {"Code": code, "Name": name} if name is not None else {"Code": code}


def supplier_dto(state: U9State, row: dict) -> dict:
    return {k: row[k] for k in ("ID", "Code", "Name", "ShortName", "ModifiedOn")}


def item_dto(state: U9State, row: dict) -> dict:
    return {"ID": row["ID"], "Code": row["Code"], "Name": row["Name"], "SPECS": row["SPECS"],
            "InventoryUOM": _ref(row["InventoryUOM_Code"]), "ModifiedOn": row["ModifiedOn"]}


def bom_dto(state: U9State, row: dict) -> dict:
    return {"ID": row["ID"], "ItemMaster": _ref(row["ItemMaster_Code"]), "BOMVersionCode": row["BOMVersionCode"],
            "LotSize": row["LotSize"], "ProductUOM": _ref(row["ProductUOM_Code"]), "Status": row["Status"],
            "ModifiedOn": row["ModifiedOn"],
            "BOMComponents": [{"ID": c["ID"], "Sequence": c["Sequence"], "ItemMaster": _ref(c["ItemMaster_Code"]),
                               "UsageQty": c["UsageQty"], "IssueUOM": _ref(c["IssueUOM_Code"]), "Scrap": c["Scrap"],
                               "EffectiveDate": c["EffectiveDate"], "DisableDate": c["DisableDate"]}
                              for c in state.children("CBO_BOMComponent", row["ID"])]}


def po_dto(state: U9State, row: dict) -> dict:
    ships: dict[int, list[dt.datetime]] = {}
    for ship in state.children("PM_POShipLine", row["ID"]):
        ships.setdefault(ship["POLine"], []).append(ship["DeliveryDate"])
    return {"ID": row["ID"], "DocNo": row["DocNo"], "BusinessDate": row["BusinessDate"], "Status": row["Status"],
            "ModifiedOn": row["ModifiedOn"], "Supplier": _ref(row["Supplier_Code"], row["Supplier_Name"]),
            "TC": _ref(row["TC_Code"]),
            "POLines": [{"ID": line["ID"], "DocLineNo": line["DocLineNo"],
                         "ItemMaster": _ref(line["ItemInfo_ItemCode"], line["ItemInfo_ItemName"]),
                         "PurQtyTU": line["PurQtyTU"], "TradeUOM": _ref(line["TradeUOM_Code"]),
                         "FinallyPriceTC": line["FinallyPriceTC"],
                         "DeliveryDate": min(ships.get(line["ID"], []) or [None], key=lambda d: d or dt.datetime.max),
                         "TotalRecievedQtyTU": line["TotalRecievedQtyTU"],
                         "SupplierConfirmQtyTU": line["SupplierConfirmQtyTU"],
                         "SupplierConfirmDate": line["SupplierConfirmDate"]}
                        for line in state.children("PM_POLine", row["ID"])]}


def mo_dto(state: U9State, row: dict) -> dict:
    return {"ID": row["ID"], "DocNo": row["DocNo"], "DocState": row["DocState"],
            "ItemMaster": _ref(row["ItemMaster_Code"]), "ProductQty": row["ProductQty"],
            "ProductUOM": _ref(row["ProductUOM_Code"]), "StartDate": row["StartDate"],
            "CompleteDate": row["CompleteDate"], "Department": _ref(row["Department_Code"]),
            "ModifiedOn": row["ModifiedOn"]}


def stock_dto(state: U9State, row: dict) -> dict:
    return {"ID": row["ID"], "ItemCode": row["ItemInfo_ItemCode"], "WhCode": row["Wh_Code"], "WhName": row["Wh_Name"],
            "LotCode": row["LotInfo_LotCode"], "StoreQty": row["StoreQty"], "StoreUOMCode": row["StoreUOM_Code"],
            "ModifiedOn": row["ModifiedOn"]}


# --------------------------------------------------------------------------- handlers


def _int(value: Any, default: int, what: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        raise SoapFault(f"{what} 的值 '{value}' 不是整数", "BadRequest", faultcode="s:Client") from None


def _query(table: str, view: Callable[[U9State, dict], dict],
           min_status: Optional[int] = None) -> Callable[[SoapCall], list]:
    where = (lambda row: row["Status"] >= min_status) if min_status is not None else None

    def handle(call: SoapCall) -> list:
        query = call.params.get("queryDTO")
        query = dto_value(query) if query is not None else {}
        if not isinstance(query, dict):
            query = {}
        since_text = query.get("ModifiedOnFrom")
        try:
            since = as_datetime(since_text, "m_modifiedOnFrom") if since_text not in (None, "") else None
        except U9BusinessError as exc:
            raise SoapFault(exc.message, "BadRequest", faultcode="s:Client") from None
        last_id = _int(query.get("LastID"), 0, "m_lastID")
        size = min(max(_int(query.get("PageSize"), DEFAULT_PAGE_SIZE, "m_pageSize"), 1), MAX_PAGE_SIZE)
        with call.state.lock:
            rows = call.state.modified_page(table, since, last_id, size, where)
            page = [view(call.state, row) for row in rows]
            key = f"soap {call.contract}"
            previous = call.state.last_page.get(key, [])
            if call.stale_page:
                return previous
            call.state.last_page[key] = page
        return (previous if call.repeat_page else []) + page
    return handle


def _write_many(create: Callable[[U9State, dict], dict], param: str) -> Callable[[SoapCall], list]:
    def handle(call: SoapCall) -> list:
        elem = call.params.get(param)
        dtos = dto_value(elem) if elem is not None else None
        if not isinstance(dtos, list) or not dtos:
            raise SoapFault(f"参数 {param} 不能为空", "BadRequest", faultcode="s:Client")
        out = []
        for dto in dtos:
            if not isinstance(dto, dict):
                raise SoapFault(f"参数 {param} 格式错误", "BadRequest", faultcode="s:Client")
            row = create(call.state, dto)
            out.append({"ID": row["ID"], "DocNo": row["DocNo"], "Status": row["Status"]})
        return out
    return handle


def _approve(kind: str) -> Callable[[SoapCall], None]:
    def handle(call: SoapCall) -> None:
        elem = call.params.get("docNoList")
        keys = dto_value(elem) if elem is not None else None
        if not isinstance(keys, list) or not keys:
            raise SoapFault("参数 docNoList 不能为空", "BadRequest", faultcode="s:Client")
        call.state.approve(kind, [k.get("DocNo") if isinstance(k, dict) else k for k in keys])
        return None
    return handle


def _confirm(call: SoapCall) -> list:
    elem = call.params.get("confirmDTOs")
    dtos = dto_value(elem) if elem is not None else None
    if not isinstance(dtos, list) or not dtos:
        raise SoapFault("参数 confirmDTOs 不能为空", "BadRequest", faultcode="s:Client")
    return call.state.confirm_po_lines(dtos)


def _find(call: SoapCall) -> list:
    kind_elem, number_elem = call.params.get("docType"), call.params.get("externalNo")
    kind = (kind_elem.text or "").strip() if kind_elem is not None else ""
    number = number_elem.text or "" if number_elem is not None else ""
    if kind not in ("Receivement", "InspectDoc", "POLineConfirm"):
        raise SoapFault(f"不支持的单据类型 '{kind}'", "BadRequest", faultcode="s:Client")
    if not number:
        raise SoapFault("externalNo 不能为空", "BadRequest", faultcode="s:Client")
    return call.state.find_by_external(kind, number)


QUERY = "e:UFIDA.U9.ISV.Pub.QueryByModifiedDTOData"
DOC_KEYS = ("e:ArrayOfUFIDA.U9.ISV.Pub.DocKeyDTOData", "UFIDA.U9.ISV.Pub.DocKeyDTOData")


def _read(name: str, dto: str, table: str, view: Callable, **kw: Any) -> Contract:
    return Contract(name, (("queryDTO", QUERY),), f"e:ArrayOf{dto}", dto, _query(table, view, **kw), table)


CONTRACTS: dict[str, Contract] = {c.name.lower(): c for c in (
    _read("UFIDA.U9.ISV.Supplier.IQuerySupplierSV", "UFIDA.U9.ISV.Supplier.SupplierDTOData", "CBO_Supplier",
          supplier_dto),
    _read("UFIDA.U9.ISV.Item.IQueryItemSV", "UFIDA.U9.ISV.Item.ItemMasterDTOData", "CBO_ItemMaster", item_dto),
    _read("UFIDA.U9.ISV.MFG.BOM.IQueryBOMSv", "UFIDA.U9.ISV.MFG.BOM.BOMMasterDTOData", "CBO_BOMMaster", bom_dto,
          min_status=APPROVED),
    _read("UFIDA.U9.ISV.PO.IQueryPOSRV", "UFIDA.U9.ISV.PO.PurchaseOrderDTOData", "PM_PurchaseOrder", po_dto,
          min_status=APPROVED),
    _read("UFIDA.U9.ISV.MO.IQueryMOSrv", "UFIDA.U9.ISV.MO.MODTOData", "MO_MO", mo_dto),
    _read("UFIDA.U9.ISV.ItemQty.IBatchQueryItemQtySVR", "UFIDA.U9.ISV.ItemQty.ItemQtyDTOData", "InvTrans_WhQoh",
          stock_dto),
    Contract("UFIDA.U9.ISV.RCV.ICreateReceivementSRV", (("rcvDTOs", "e:ArrayOfUFIDA.U9.ISV.RCV.DTO.ReceivementDTOData"),),
             *DOC_KEYS, _write_many(U9State.create_receivement, "rcvDTOs"), "PM_Receivement"),
    Contract("UFIDA.U9.ISV.RCV.IApproveReceivementSRV", (("docNoList", DOC_KEYS[0]),), None, None,
             _approve("Receivement"), "PM_Receivement"),
    Contract("UFIDA.U9.ISV.QC.ICreateInspectDocSRV", (("inspectDTOs", "e:ArrayOfUFIDA.U9.ISV.QC.InspectDocDTOData"),),
             *DOC_KEYS, _write_many(U9State.create_inspect_doc, "inspectDTOs"), "QC_InspectDoc"),
    Contract("UFIDA.U9.ISV.QC.IApproveInspectDocSRV", (("docNoList", DOC_KEYS[0]),), None, None,
             _approve("InspectDoc"), "QC_InspectDoc"),
    Contract("UFIDA.U9.ISV.PO.IConfirmPOLineSRV", (("confirmDTOs", "e:ArrayOfUFIDA.U9.ISV.PO.POLineConfirmDTOData"),),
             *DOC_KEYS, _confirm, "PM_POLine"),
    Contract("UFIDA.U9.Cust.HubSV.IFindDocByExtNoSV", (("docType", "xs:string"), ("externalNo", "xs:string")),
             *DOC_KEYS, _find, ""),
)}


def call(state: U9State, contract: Contract, body: bytes, repeat_page: bool = False,
         stale_page: bool = False) -> bytes:
    """Run one ``Do``; returns the response envelope or raises SoapFault."""
    operation, context_elem, params = parse_request(body)
    if operation != "Do":
        raise SoapFault(f"操作 '{operation}' 不存在，只有 Do", "ActionNotSupported", faultcode="s:Client")
    context = read_context(context_elem)
    problem = state.check_context(context)
    if problem:
        raise SoapFault(problem, "ContextInvalid", faultcode="s:Client")
    try:
        result = contract.handler(SoapCall(state, context, params, repeat_page, contract.name, stale_page))
    except U9BusinessError as exc:
        raise SoapFault(exc.message, "BusinessValidation", entity=exc.entity, attribute=exc.attribute,
                        doc_no=exc.doc_no) from None
    return envelope(contract, result)
