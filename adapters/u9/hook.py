"""Classic U9 SOAP hook: the only code that knows the UBF/WCF wire (protocols/yonyou-u9.md §2).

One zeep ``Client`` per service contract, generated from the contract's own WSDL
(``{base}/{Contract}.svc?wsdl``) and bound to ``{base}/{Contract}.svc`` whatever address the WSDL
advertises (sites behind a proxy publish internal host names). All clients share one
``requests.Session`` through one zeep ``Transport``. XML is parsed with
``Settings(forbid_dtd=True, forbid_entities=True, forbid_external=True)``: a reply carrying a DTD,
an entity declaration or an external reference is refused before anything of it is read.

Every ``Do`` carries the login context as the first body parameter: a ``ThreadContext`` whose
``nameValueHas`` dictionary holds ``OrgID``, ``UserID``, ``EnterpriseID``, ``CultureName``, ...
as ``xs:string`` keys and values (§2.2). There is no session, so there is nothing to log in to:
a ``ServiceLostException`` fault is repeated once at once, a second one is retriable. Other
failures are classified (errors.py); retriable ones are retried within ``max_attempts``
(retry.py: reads always, a write only when HTTP 429 says it was not executed) and then surface
for the scheduler, which is safe for writes because erp.py posts through find-by-external-number
first.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterator, Optional

import requests
import zeep
import zeep.exceptions
from zeep import xsd
from zeep.helpers import serialize_object
from zeep.transports import Transport

from adapters.u9 import errors
from adapters.u9.config import SOAP_CONN_ID, U9SoapConfig
from adapters.u9.base import U9Hook, keyset_page
from hub.errors import FatalError, RetriableError

log = logging.getLogger(__name__)

UFIDA = "http://www.UFIDA.org"
CONTEXT_NS = "http://schemas.datacontract.org/2004/07/UFSoft.UBF.Util.Context"
ARRAYS_NS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
USER_AGENT = "mes-hub u9 adapter"
#: zeep must never resolve entities, DTDs or imports from a reply or a WSDL
SETTINGS = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True,
                         xml_huge_tree=False)

# Contracts (INFERRED names except IBatchQueryItemQtySVR; see simulators/u9/soap.py and README)
QUERY_CONTRACTS = {
    "suppliers": "UFIDA.U9.ISV.Supplier.IQuerySupplierSV",
    "materials": "UFIDA.U9.ISV.Item.IQueryItemSV",
    "boms": "UFIDA.U9.ISV.MFG.BOM.IQueryBOMSv",
    "purchase_orders": "UFIDA.U9.ISV.PO.IQueryPOSRV",
    "production_orders": "UFIDA.U9.ISV.MO.IQueryMOSrv",
    "stock": "UFIDA.U9.ISV.ItemQty.IBatchQueryItemQtySVR",
}
#: document kind -> (create contract, its parameter, approve contract or None)
WRITE_CONTRACTS = {
    "Receivement": ("UFIDA.U9.ISV.RCV.ICreateReceivementSRV", "rcvDTOs", "UFIDA.U9.ISV.RCV.IApproveReceivementSRV"),
    "InspectDoc": ("UFIDA.U9.ISV.QC.ICreateInspectDocSRV", "inspectDTOs", "UFIDA.U9.ISV.QC.IApproveInspectDocSRV"),
    "POLineConfirm": ("UFIDA.U9.ISV.PO.IConfirmPOLineSRV", "confirmDTOs", None),
}
FIND_CONTRACT = "UFIDA.U9.Cust.HubSV.IFindDocByExtNoSV"
#: array-typed members/parameters -> the DTO type name of their items (DataContract array wrapping)
ARRAY_ITEMS = {
    "rcvDTOs": "UFIDA.U9.ISV.RCV.DTO.ReceivementDTOData",
    "RcvLines": "UFIDA.U9.ISV.RCV.DTO.RcvLineDTOData",
    "inspectDTOs": "UFIDA.U9.ISV.QC.InspectDocDTOData",
    "InspectItems": "UFIDA.U9.ISV.QC.InspectItemDTOData",
    "confirmDTOs": "UFIDA.U9.ISV.PO.POLineConfirmDTOData",
    "docNoList": "UFIDA.U9.ISV.Pub.DocKeyDTOData",
}


class HttpStatusError(Exception):
    """An HTTP reply that is no SOAP answer at all (429, 5xx HTML page, 404, 415)."""

    def __init__(self, status: int, body: str, retry_after: Optional[str]) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.retry_after = retry_after


class HostileXmlError(Exception):
    """A reply or WSDL that declares a DTD: refused before any XML parser sees it."""


def declares_dtd(content: bytes) -> bool:
    """True when the document prolog (before the root element) holds a ``<!DOCTYPE``.

    SOAP forbids a DTD outright, and a DTD is where XXE and entity-expansion bombs live; zeep's
    ``forbid_dtd`` refuses it too, but only after libxml2 has read the DTD. Checked on the raw
    bytes (UTF-8/ASCII prologs; anything else still meets zeep's own refusal).
    """
    text = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    while text.startswith(b"<?") or text.startswith(b"<!--"):
        end = text.find(b"?>" if text.startswith(b"<?") else b"-->")
        if end < 0:
            return False
        text = text[end + (2 if text.startswith(b"<?") else 3):].lstrip(b" \t\r\n")
    return text[:9].upper() == b"<!DOCTYPE"


class _CheckedTransport(Transport):
    """zeep's transport, but a non-SOAP HTTP reply or a DTD stops here instead of reaching the parser."""

    def post(self, address: str, message: Any, headers: dict) -> requests.Response:
        response = super().post(address, message, headers)
        content_type = response.headers.get("Content-Type", "").lower()
        is_xml = "xml" in content_type
        # a WCF fault arrives as HTTP 500 text/xml and is zeep's to parse; anything else is not SOAP
        if response.status_code == 429 or (response.status_code >= 300 and not (is_xml and response.status_code == 500)):
            raise HttpStatusError(response.status_code, response.text[:200], response.headers.get("Retry-After"))
        if declares_dtd(response.content):
            raise HostileXmlError(f"reply from {address} declares a DTD")
        return response

    def load(self, url: str) -> bytes:
        content = super().load(url)
        if declares_dtd(content):
            raise HostileXmlError(f"document at {url} declares a DTD")
        return content


def to_member(name: str) -> str:
    """``RcvQtyTU`` -> ``m_rcvQtyTU``, ``ID`` -> ``m_iD`` (UBF DataContract member names)."""
    return "m_" + name[0].lower() + name[1:]


def from_member(name: str) -> str:
    return name[2].upper() + name[3:] if name.startswith("m_") and len(name) > 2 else name


def to_wire(value: Any, name: str = "") -> Any:
    """A PascalCase DTO -> the zeep input (``m_`` members, arrays wrapped in their item element)."""
    if isinstance(value, dict):
        return {to_member(k): to_wire(v, k) for k, v in value.items()}
    if isinstance(value, list):
        item = ARRAY_ITEMS.get(name)
        if item is None:
            raise KeyError(f"no DataContract array item type known for {name!r}")
        return {item: [to_wire(v) for v in value]}
    return value


def from_wire(value: Any) -> Any:
    """zeep output -> PascalCase dicts and plain lists (array wrappers removed)."""
    value = serialize_object(value, dict)
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if "." in key and not key.startswith("m_"):  # {"UFIDA...DTOData": [...]}: an array wrapper
                return [_plain(v) for v in (inner if isinstance(inner, list) else [inner]) if v is not None]
        return {from_member(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class U9SoapHook(U9Hook, system="u9", config_class=U9SoapConfig, default_conn_id=SOAP_CONN_ID):

    def __init__(self, config: U9SoapConfig, session: Optional[requests.Session] = None,
                 max_attempts: Optional[int] = None) -> None:
        super().__init__(config, session, max_attempts, {"User-Agent": USER_AGENT})
        self.transport = _CheckedTransport(session=self.session, timeout=config.timeout,
                                           operation_timeout=config.timeout)
        self._clients: dict[str, tuple[zeep.Client, Any, Any]] = {}

    def __repr__(self) -> str:
        return f"U9SoapHook(base_url={self.config.base_url!r}, enterprise_id={self.config.enterprise_id!r})"

    # ------------------------------------------------------------------ plumbing
    def where(self, contract: str, document: str = "") -> str:
        short = contract.rsplit(".", 1)[-1]
        return ":".join(p for p in ("u9", self.config.enterprise_id, short, document) if p)

    def _client(self, contract: str) -> tuple[zeep.Client, Any, Any]:
        """(client, bound service, ThreadContext value) of a contract, generated from its WSDL once."""
        cached = self._clients.get(contract)
        if cached is not None:
            return cached
        address = f"{self.config.base_url}/{contract}.svc"
        where = self.where(contract)
        try:
            client = zeep.Client(f"{address}?wsdl", transport=self.transport, settings=SETTINGS)
            service = client.create_service(f"{{{UFIDA}}}BasicHttpBinding_{contract}", address)
            context = self._context(client)
        except (HostileXmlError, zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden,
                zeep.exceptions.ExternalReferenceForbidden) as exc:
            raise errors.xml_forbidden(exc, f"WSDL of {contract}", where) from None
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status >= 500 or status == 429:
                raise errors.http_status(status, "", "u9", f"WSDL of {contract}", where, ()) from None
            raise FatalError("U9_WSDL", f"WSDL of {contract} not found (HTTP {status}) at {address}?wsdl; check the "
                                      f"connection's schema (services path) and that the service is deployed",
                           where) from None
        except requests.RequestException as exc:
            raise errors.from_transport(exc, "u9", f"WSDL of {contract}", where, ()) from None
        except zeep.exceptions.XMLSyntaxError:
            # not even well-formed: a cut or garbled download rather than a different contract
            raise errors.bad_xml(f"WSDL of {contract}", None, where) from None
        except (zeep.exceptions.Error, ValueError, KeyError) as exc:
            raise FatalError("U9_WSDL", f"WSDL of {contract} is not usable ({type(exc).__name__}: {str(exc)[:200]})",
                           where) from None
        self._clients[contract] = (client, service, context)
        return self._clients[contract]

    def _context(self, client: zeep.Client) -> Any:
        thread_context = client.get_type(f"{{{CONTEXT_NS}}}ThreadContext")
        dictionary = client.get_type(f"{{{ARRAYS_NS}}}ArrayOfKeyValueOfanyTypeanyType")
        string = client.get_type(f"{{{XSD_NS}}}string")
        pairs = [{"Key": xsd.AnyObject(string, key), "Value": xsd.AnyObject(string, value)}
                 for key, value in self.config.context_values()]
        return xsd.AnyObject(thread_context, thread_context(nameValueHas=dictionary(KeyValueOfanyTypeanyType=pairs)))

    def call(self, contract: str, document: str = "", write: bool = False, **params: Any) -> Any:
        """``Do(context, **params)``; returns the DoResult as PascalCase data (None for void services).

        Reads are retried within ``max_attempts``; a write only when it cannot have been executed.
        """
        return self.retrier.run(lambda: self._call_once(contract, document, write, params),
                                f"u9 {contract.rsplit('.', 1)[-1]} {document}".strip(), idempotent=not write)

    def _call_once(self, contract: str, document: str, write: bool, params: dict[str, Any]) -> Any:
        where = self.where(contract, document)
        _, service, context = self._client(contract)
        service_lost_once = False
        while True:
            try:
                response = service.Do(context=context, **params)
            except zeep.exceptions.Fault as exc:
                if errors.is_service_lost(exc.detail) and not service_lost_once:
                    # the call never ran: repeating it at once is safe even for a write
                    service_lost_once = True
                    log.warning("u9 %s lost the service call (%s); repeating once", contract, where)
                    continue
                raise errors.from_fault(exc.message, exc.code, exc.detail, contract.rsplit(".", 1)[-1], document,
                                        where, write) from None
            except (HostileXmlError, zeep.exceptions.DTDForbidden, zeep.exceptions.EntitiesForbidden,
                    zeep.exceptions.ExternalReferenceForbidden) as exc:
                raise errors.xml_forbidden(exc, contract, where) from None
            except HttpStatusError as exc:
                raise errors.http_status(exc.status, exc.body, "u9", contract, where, (), exc.retry_after) from None
            except zeep.exceptions.TransportError as exc:
                raise errors.bad_xml(contract, exc.status_code, where) from None
            except (zeep.exceptions.XMLSyntaxError, zeep.exceptions.XMLParseError):
                raise errors.bad_xml(contract, None, where) from None
            except (zeep.exceptions.ValidationError, zeep.exceptions.UnexpectedElementError) as exc:
                raise FatalError("U9_CONTRACT", f"{contract}: request or reply does not fit the WSDL "
                                                f"({type(exc).__name__}: {str(exc)[:200]})", where) from None
            except requests.RequestException as exc:
                raise errors.from_transport(exc, "u9", contract, where, ()) from None
            return self._result(response, contract, where)

    def _result(self, response: Any, contract: str, where: str) -> Any:
        data = from_wire(response) if response is not None else None
        if not isinstance(data, dict) or "DoResult" not in data and "outMessages" not in data:
            return data  # a single-part reply: zeep hands out that part itself
        messages = data.get("outMessages") or []
        if isinstance(messages, dict):  # ArrayOfMessageBase: items named MessageBase (no dotted type name)
            messages = messages.get("MessageBase") or []
        for message in messages if isinstance(messages, list) else []:
            # non-fatal messages (§2.3): evidence for the log, not a failure
            log.warning("u9 %s message (%s): %s", contract, where, (message or {}).get("localMessage"))
        return data.get("DoResult")

    # ------------------------------------------------------------------ reads
    def query_pages(self, entity: str, since: Optional[dt.datetime],
                    page_size: Optional[int] = None) -> Iterator[list[dict[str, Any]]]:
        """Pages of PascalCase DTOs modified at/after ``since``, keyset-paged by ID.

        A row whose ID is not above the last page's highest ID is a repeat (a page served twice, an
        overlapping page) and is dropped here; a full page of nothing but repeats is a paging bug
        on the other side and raises ``RetriableError`` instead of looping.
        """
        contract = QUERY_CONTRACTS[entity]
        size = page_size or self.config.page_size
        last_id = 0
        while True:
            query = {"m_lastID": last_id, "m_modifiedOnFrom": since, "m_pageSize": size}
            rows = self.call(contract, f"page after ID {last_id}", write=False, queryDTO=query) or []
            page, next_id = keyset_page(rows, last_id, _id, lambda: RetriableError(
                "U9_BAD_PAGING", f"{contract}: the page after ID {last_id} repeated only rows already read; "
                                 f"retry later", self.where(contract)))
            if page:
                yield page
            if len(page) < size:
                return
            last_id = next_id

    # ------------------------------------------------------------------ writes
    def find_by_external(self, kind: str, external_number: str) -> list[dict[str, Any]]:
        """``[{ID, DocNo, Status}]`` of the documents of ``kind`` carrying ``external_number``."""
        rows = self.call(FIND_CONTRACT, external_number, write=False, docType=kind, externalNo=external_number)
        return [row for row in (rows or []) if isinstance(row, dict)]

    def create(self, kind: str, dto: dict[str, Any], document: str) -> dict[str, Any]:
        """Create one document; returns its key ``{ID, DocNo, Status}``."""
        contract, param, _ = WRITE_CONTRACTS[kind]
        keys = self.call(contract, document, write=True, **{param: to_wire([dto], param)}) or []
        if not keys or not isinstance(keys[0], dict) or not keys[0].get("DocNo"):
            raise RetriableError("U9_BAD_RESPONSE", f"{contract} succeeded without returning the document number",
                                 self.where(contract, document))
        return keys[0]

    def approve(self, kind: str, doc_no: str, document: str) -> None:
        contract = WRITE_CONTRACTS[kind][2]
        if contract is None:
            return
        self.call(contract, document, write=True, docNoList=to_wire([{"DocNo": doc_no}], "docNoList"))

    def confirm_po_lines(self, dtos: list[dict[str, Any]], document: str) -> str:
        """Write supplier confirmations onto PO lines; returns the PO number."""
        contract, param, _ = WRITE_CONTRACTS["POLineConfirm"]
        keys = self.call(contract, document, write=True, **{param: to_wire(dtos, param)}) or []
        if not keys or not isinstance(keys[0], dict) or not keys[0].get("DocNo"):
            raise RetriableError("U9_BAD_RESPONSE", f"{contract} succeeded without returning the PO number",
                                 self.where(contract, document))
        return str(keys[0]["DocNo"])


def _id(row: Any) -> Optional[int]:
    try:
        return int(row.get("ID")) if isinstance(row, dict) and row.get("ID") is not None else None
    except (TypeError, ValueError):
        return None
