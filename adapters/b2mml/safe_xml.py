"""The one way the hub parses XML it did not write: no DTDs, no entities, no network.

lxml is told not to load DTDs, not to resolve entities and not to touch the network, so an
external entity (XXE: ``<!ENTITY x SYSTEM "file:///etc/passwd">``) is never read and an
entity bomb ("billion laughs") is never expanded. A document that declares a DTD at all is
then refused outright: B2MML and OData never need one, and whatever a DTD could change in
the meaning of a document (default attributes, entities) is exactly what must not happen to
data coming from outside. The size is bounded before parsing.
"""
from __future__ import annotations

from typing import Optional

from lxml import etree

from hub.errors import SkippableError

#: bigger documents are refused before parsing (B2MML exports of one plant stay far below)
MAX_XML_BYTES = 64 << 20


#: ``<!DOCTYPE`` in the encodings XML documents arrive in (UTF-8 and its ASCII subsets, UTF-16)
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(encoding) for encoding in ("utf-8", "utf-16-le", "utf-16-be"))


def _dtd_forbidden(code_prefix: str, where: str) -> SkippableError:
    return SkippableError(f"{code_prefix}_DTD_FORBIDDEN",
                          "the document declares a DTD (<!DOCTYPE ...>); DTDs and entities are refused "
                          "(they are how XXE and entity-expansion attacks arrive)", where)


def _parser() -> etree.XMLParser:
    # a fresh parser per call: lxml parsers are not thread-safe
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_blank_text=False)


def parse_untrusted(data: bytes, where: str, code_prefix: str = "XML",
                    max_bytes: Optional[int] = MAX_XML_BYTES) -> etree._Element:
    """Parse ``data`` and return its root element, or raise ``SkippableError <PREFIX>_...``.

    Codes: ``_TOO_LARGE``, ``_NOT_XML`` (with the parser's line), ``_DTD_FORBIDDEN`` (any
    DOCTYPE, which is how XXE and entity bombs arrive).
    """
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("parse_untrusted takes bytes (the document's own encoding declaration decides)")
    if max_bytes is not None and len(data) > max_bytes:
        raise SkippableError(f"{code_prefix}_TOO_LARGE", f"document is {len(data)} bytes, the limit is {max_bytes}",
                             where)
    if any(marker in data for marker in _DOCTYPE_MARKERS):
        # refused before parsing: libxml2 would otherwise stop an entity bomb with a generic syntax error
        raise _dtd_forbidden(code_prefix, where)
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        line = getattr(exc, "lineno", None)
        raise SkippableError(f"{code_prefix}_NOT_XML", f"not well-formed XML: {exc.msg}",
                             f"{where}:{line}" if line else where) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _dtd_forbidden(code_prefix, where)  # an encoding the byte scan does not know
    if root.tag is etree.Entity or not isinstance(root.tag, str):  # pragma: no cover - guarded by the DTD check
        raise SkippableError(f"{code_prefix}_NOT_XML", "no element at the root", where)
    return root
