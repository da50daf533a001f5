"""ANSI X12 serialiser: fixed-width ISA, GS/ST/SE/GE/IEA with correct counts and control numbers.

The mirror of :mod:`adapters.edi.x12`: whatever it writes, the parser reads back to the same
strings (tests/adapters/edi/test_x12_writer.py). X12 has *no release character*, so a value
that contains one of the interchange's delimiters (element, component, repetition from 00402
on, terminator) cannot be written at all: it is refused with ``SkippableError
DELIMITER_IN_DATA`` naming the segment and element, rather than silently altered. CR/LF and
other control characters are refused too (the parser treats them as line noise).

Control numbers (ISA13, GS06, ST02) are passed in by the caller, who takes them from
``state.next_counter`` per partner so that none is ever reused; the writer only checks
their form and puts the same number in the trailer (IEA02, GE02, SE02).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

from adapters.edi.x12 import X12Delimiters
from hub.errors import SkippableError

Component = Optional[str]
#: an element is a simple value or a list of components; None / "" mean empty
Element = Union[Component, Sequence[Component]]
SegmentSpec = tuple[str, Sequence[Element]]

DEFAULT_DELIMITERS = X12Delimiters(element="*", component=">", repetition="^", terminator="~")


@dataclass
class _Group:
    functional_id: str
    control: str
    version: str
    sender: str
    receiver: str
    transactions: list[list[str]] = field(default_factory=list)


def _control(value: Union[int, str], width: int, what: str) -> str:
    text = str(value).strip()
    if not text.isdigit() or len(text) > width or int(text) <= 0:
        raise ValueError(f"{what} must be a positive number of at most {width} digits, not {value!r}")
    return text


def _fixed(value: str, width: int, what: str) -> str:
    if len(value) > width:
        raise ValueError(f"{what} {value!r} is longer than its {width} fixed-width ISA characters")
    return value.ljust(width)


class X12Writer:
    """Build one interchange: ``add_group`` then ``add_transaction`` (any number), ``to_bytes``.

    ``version`` is ISA12 (``00401``; from ``00402`` ISA11 carries the repetition separator,
    before that ``U``). ``prepared`` defaults to now (UTC); pass it for byte-identical output
    (outbox idempotency keys).
    """

    def __init__(self, sender: str, receiver: str, control_ref: Union[int, str], *,
                 sender_qualifier: str = "ZZ", receiver_qualifier: str = "ZZ", version: str = "00401",
                 usage: str = "P", ack_requested: bool = False,
                 delimiters: X12Delimiters = DEFAULT_DELIMITERS, prepared: Optional[dt.datetime] = None,
                 newline: bool = True) -> None:
        if usage not in ("P", "T", "I"):
            raise ValueError("usage must be P (production), T (test) or I (information)")
        if not (len(version) == 5 and version.isdigit()):
            raise ValueError(f"ISA12 version must be 5 digits like 00401, not {version!r}")
        d = delimiters
        if version < "00402":
            d = X12Delimiters(d.element, d.component, None, d.terminator)
        used = [c for c in (d.element, d.component, d.repetition, d.terminator) if c]
        if any(len(c) != 1 for c in used) or len(set(used)) != len(used) or any(c.isalnum() or c == " " for c in used):
            raise ValueError(f"unusable delimiters {d}")
        self.d = d
        self.sender = _fixed(sender, 15, "ISA06 sender")
        self.receiver = _fixed(receiver, 15, "ISA08 receiver")
        self.sender_qualifier = _fixed(sender_qualifier, 2, "ISA05")
        self.receiver_qualifier = _fixed(receiver_qualifier, 2, "ISA07")
        self.control_ref = _control(control_ref, 9, "ISA13 control number").zfill(9)
        self.version = version
        self.usage = usage
        self.ack_requested = ack_requested
        self.prepared = prepared or dt.datetime.now(dt.timezone.utc)
        self.newline = newline and d.terminator not in "\r\n"
        self._groups: list[_Group] = []
        self._special = set(used)

    # -- escaping (refusing) ---------------------------------------------------------
    def _value(self, value: str, where: str) -> str:
        bad = [c for c in value if c in self._special or (ord(c) < 32) or ord(c) == 127]
        if bad:
            c = bad[0]
            what = {self.d.element: "element separator", self.d.component: "component separator",
                    self.d.repetition: "repetition separator", self.d.terminator: "segment terminator"}.get(
                c, "control character")
            raise SkippableError(
                "DELIMITER_IN_DATA",
                f"{value!r} contains {c!r}, the interchange's {what}; X12 has no release character, so "
                "the value cannot be sent as is: correct the data or agree other delimiters with the partner",
                where,
            )
        return value

    def _element(self, el: Element, where: str) -> str:
        if el is None:
            return ""
        if isinstance(el, str):
            return self._value(el, where)
        comps = ["" if c is None else self._value(str(c), where) for c in el]
        while comps and comps[-1] == "":
            comps.pop()
        return self.d.component.join(comps)

    def segment(self, tag: str, elements: Sequence[Element] = (), where: str = "") -> str:
        """One segment as text, terminator included; trailing empty elements omitted."""
        parts = [self._element(e, f"{where}{tag}{i:02d}") for i, e in enumerate(elements, start=1)]
        while parts and parts[-1] == "":
            parts.pop()
        return self.d.element.join([tag, *parts]) + self.d.terminator

    # -- building ---------------------------------------------------------------------
    def add_group(self, functional_id: str, control: Union[int, str], version: str = "004010", *,
                  sender: Optional[str] = None, receiver: Optional[str] = None) -> None:
        """Start a GS group (GS01 e.g. PO, SH, PS, PC); following transactions go into it."""
        self._groups.append(_Group(functional_id, _control(control, 9, "GS06 control number"), version,
                                   sender or self.sender.strip(), receiver or self.receiver.strip()))

    def add_transaction(self, set_id: str, control: Union[int, str], segments: Sequence[SegmentSpec],
                        implementation_ref: Optional[str] = None) -> str:
        """Append ST, ``segments``, SE (count filled in) to the current group; returns ST02."""
        if not self._groups:
            raise ValueError("add_group() before add_transaction()")
        ctrl = _control(control, 9, "ST02 control number").zfill(4)
        where = f"transaction set {set_id} {ctrl}: "
        body = [self.segment("ST", [set_id, ctrl, implementation_ref], where)]
        body.extend(self.segment(tag, els, where) for tag, els in segments)
        body.append(self.segment("SE", [str(len(body) + 1), ctrl], where))
        self._groups[-1].transactions.append(body)
        return ctrl

    def isa(self) -> str:
        d = self.d
        for value, what in ((self.sender, "ISA06"), (self.receiver, "ISA08")):
            self._value(value, f"interchange {self.control_ref}: {what}")
        fields = ["ISA", "00", " " * 10, "00", " " * 10, self.sender_qualifier, self.sender,
                  self.receiver_qualifier, self.receiver, self.prepared.strftime("%y%m%d"),
                  self.prepared.strftime("%H%M"), d.repetition or "U", self.version, self.control_ref,
                  "1" if self.ack_requested else "0", self.usage, d.component]
        text = d.element.join(fields) + d.terminator
        assert len(text) == 106, text  # fixed width by construction
        return text

    def to_text(self) -> str:
        lines = [self.isa()]
        for g in self._groups:
            lines.append(self.segment("GS", [g.functional_id, g.sender, g.receiver,
                                             self.prepared.strftime("%Y%m%d"), self.prepared.strftime("%H%M"),
                                             g.control, "X", g.version]))
            for body in g.transactions:
                lines.extend(body)
            lines.append(self.segment("GE", [str(len(g.transactions)), g.control]))
        lines.append(self.segment("IEA", [str(len(self._groups)), self.control_ref]))
        sep = "\n" if self.newline else ""
        return sep.join(lines) + sep

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")
