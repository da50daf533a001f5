"""Acknowledgements: the CONTRL / 997 / 999 the hub sends for an inbound interchange, and
reading the ones partners send back for ours.

Everything here is a pure function on bytes or parsed interchanges. One structure, :class:`Ack`,
serves both directions: ``edifact_acks(data)`` / ``x12_acks(data)`` build the Ack the hub would
send for a received file, ``write_contrl`` / ``write_x12_ack`` serialise it, and ``read_acks``
turns a partner's CONTRL / 997 / 999 back into Acks, so ``read_acks(write_contrl(ack))`` gives
the same statuses and codes (tests check that round trip).

The acknowledgement is a *syntax* report (ISO 9735 CONTRL, X12 997/999): it says whether the
envelopes and counts are right, not whether the business content is (an unknown PO number is
quarantined and alerted, never NAKed in a CONTRL). Our parser's error codes are mapped to the
standard code lists in one place, ``EDIFACT_ERROR_MAP`` / ``X12_*_MAP``; adapters/edi/README.md
documents the mapping.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Iterable, Literal, Optional, Union

from adapters.edi.edifact import UTF8_BOM, detect_format, parse_interchanges
from adapters.edi.writer import EdifactWriter
from hub.errors import HubError, SkippableError

AckKind = Literal["CONTRL", "997", "999"]
AckResult = Literal["received", "accepted", "partially_accepted", "rejected"]
MessageStatus = Literal["accepted", "accepted_with_errors", "rejected"]

#: message types that are acknowledgements themselves: never acknowledged again (no ack loops)
ACK_MESSAGE_TYPES = {"CONTRL", "997", "999"}

# ISO 9735 data element 0083 (action, coded)
ACTION_REJECTED = "4"
ACTION_ACKNOWLEDGED = "7"
ACTION_RECEIVED = "8"


@dataclass(frozen=True)
class AckError:
    """One error as the standard codes it.

    ``code``: EDIFACT 0085 syntax error code, or the X12 code of the segment it sits in (AK3/IK3
    segment syntax error, AK5/IK5 transaction set error, AK9 group error). ``segment``: the
    service segment tag it concerns (0013: UNT, UNZ...) or the X12 segment id. ``element``:
    position of the erroneous data element (S011), "" when not known. ``hub_code`` and ``text``
    say which of our parser errors caused it; they are not transmitted.
    """

    code: str
    segment: str = ""
    element: str = ""
    hub_code: str = ""
    text: str = ""
    #: X12 only: "segment" for an AK3/IK3 (segment error), "element" for AK4/IK4, "" for AK5/IK5
    level: str = ""


@dataclass
class MessageResult:
    """One message (EDIFACT UNH..UNT, X12 ST..SE) and what the acknowledgement says of it."""

    ref: str
    type: str
    status: MessageStatus = "accepted"
    errors: list[AckError] = field(default_factory=list)
    group_ref: Optional[str] = None
    #: EDIFACT S009 of the subject message (UCM repeats it); X12 leaves them empty
    version: str = ""
    release: str = ""
    agency: str = ""


@dataclass
class Ack:
    """An acknowledgement: of one subject interchange (CONTRL) or functional group (997/999).

    ``interchange_ref`` is the subject's control reference (UNB 0020 / ISA13); for X12
    ``group_ref`` is the acknowledged group's GS06 (AK1-02), the reference a 997 actually carries
    (``interchange_ref`` is then only known when we build the ack, not when we read one).
    ``sender``/``recipient`` are the *subject's* parties (UCI repeats them that way round).
    """

    kind: AckKind
    interchange_ref: str
    result: AckResult
    sender: str = ""
    recipient: str = ""
    sender_qualifier: str = ""
    recipient_qualifier: str = ""
    messages: list[MessageResult] = field(default_factory=list)
    errors: list[AckError] = field(default_factory=list)
    group_ref: Optional[str] = None
    functional_id: Optional[str] = None
    #: subject envelope facts the reply copies: syntax identifier/version, test flag, ack request
    syntax: str = "UNOC"
    syntax_version: str = "3"
    version: str = ""  # X12 GS08 of the subject group
    test: bool = False
    ack_requested: bool = False
    #: X12 only: what the TA1 says of the subject ISA/IEA (TA105 codes); 997/999 cannot carry it
    interchange_errors: list[AckError] = field(default_factory=list)
    #: X12 only: GE01 of the subject group, which AK9-02 repeats
    declared_count: Optional[int] = None

    @property
    def accepted(self) -> bool:
        return self.result in ("accepted", "received")

    def summary(self, max_messages: int = 100) -> dict:
        """JSON-able detail for the interchange register: counts, envelope errors, and the
        messages that were not plainly accepted (all of them only while there are few, so a
        100 000-message interchange does not put 100 000 entries in one row)."""
        shown = self.messages if len(self.messages) <= max_messages else [
            m for m in self.messages if m.status != "accepted"][:max_messages]
        return {
            "kind": self.kind, "result": self.result, "interchange_ref": self.interchange_ref,
            "group_ref": self.group_ref,
            "counts": {status: sum(m.status == status for m in self.messages)
                       for status in ("accepted", "accepted_with_errors", "rejected")},
            "errors": [_error_dict(e) for e in self.errors + self.interchange_errors],
            "messages": [{"ref": m.ref, "type": m.type, "status": m.status,
                          "errors": [_error_dict(e) for e in m.errors]} for m in shown],
        }


def _error_dict(error: AckError) -> dict:
    return {k: v for k, v in (("code", error.code), ("segment", error.segment), ("element", error.element),
                              ("hub_code", error.hub_code), ("text", error.text)) if v}


def _result(top_rejected: bool, messages: list[MessageResult]) -> AckResult:
    if top_rejected or (messages and all(m.status == "rejected" for m in messages)):
        return "rejected"
    if any(m.status == "rejected" for m in messages):
        return "partially_accepted"
    return "accepted"


# =====================================================================================
# EDIFACT: our parser's codes -> ISO 9735 code list 0085 (syntax error, coded)
# =====================================================================================
#: hub error code -> (0085 code, service segment tag 0013, erroneous data element position S011).
#: 29 "Control count does not match number of instances received", 28 "References do not
#: match", 13 "Missing", 33 "Invalid occurrence outside message, package or group", 21 "Invalid
#: character(s)", 18 "Unspecified error". Message-level codes go to UCM, the rest to UCI.
EDIFACT_ERROR_MAP: dict[str, tuple[str, str, str]] = {
    "UNT_COUNT_MISMATCH": ("29", "UNT", "1"),
    "UNT_REF_MISMATCH": ("28", "UNT", "2"),
    "MISSING_UNT": ("13", "UNT", ""),
    "UNE_COUNT_MISMATCH": ("29", "UNE", "1"),
    "UNE_REF_MISMATCH": ("28", "UNE", "2"),
    "MISSING_UNE": ("13", "UNE", ""),
    "UNZ_COUNT_MISMATCH": ("29", "UNZ", "1"),
    "UNZ_REF_MISMATCH": ("28", "UNZ", "2"),
    "MISSING_UNZ": ("13", "UNZ", ""),
    "CHARSET_MISMATCH": ("21", "", ""),
    "SYNTAX_ERROR": ("18", "", ""),
    "DUPLICATE_INTERCHANGE": ("26", "UNB", "5"),
}
_MESSAGE_LEVEL = {"UNT_COUNT_MISMATCH", "UNT_REF_MISMATCH", "MISSING_UNT"}


def rejects_interchange(error: HubError) -> bool:
    """Does our ack reject the whole interchange (or X12 group) for ``error``?

    Envelope errors above the message do (UCI action 4 / AK9 R / TA1); errors of one message
    (UNT/SE) reject only that message, and mapping or business errors are not syntax at all.
    """
    if error.code in EDIFACT_ERROR_MAP:
        return error.code not in _MESSAGE_LEVEL
    level = X12_ERROR_MAP.get(error.code, ("", ""))[0]
    return level in ("group", "interchange")


def edifact_error(error: HubError) -> AckError:
    code, tag, element = EDIFACT_ERROR_MAP.get(error.code, ("18", "", ""))
    if error.code == "SYNTAX_ERROR" and ("outside any message" in error.message or " without " in error.message):
        # a segment between messages, UNT without UNH, UNE without UNG: 33 names exactly that
        code = "33"
    return AckError(code, tag, element, error.code, error.as_line())


def edifact_acks(data: Union[bytes, object], filename: str = "<bytes>", charset_policy: str = "lenient",
                 *, receipt: bool = False) -> list[Ack]:
    """The CONTRL content for every interchange of an EDIFACT file (one Ack per UNB..UNZ).

    ``receipt=True`` builds the syntax-4 style "interchange received" report (UCI action 8,
    no message detail). Raises the parser's ``SkippableError`` when not even the first UNB can
    be read (then there is no control reference to acknowledge). Interchanges made only of
    CONTRL messages are skipped: acknowledgements are never acknowledged.
    """
    acks: list[Ack] = []
    interchanges = parse_interchanges(data, filename, charset_policy)  # type: ignore[arg-type]
    while True:
        try:
            inter = next(interchanges)
        except StopIteration:
            break
        except HubError:
            if not acks:
                raise
            break  # junk after a good interchange: it has no UNB we could refer to
        ack = Ack(kind="CONTRL", interchange_ref=inter.control_ref, result="accepted",
                  sender=inter.sender, recipient=inter.recipient, sender_qualifier=inter.sender_qualifier,
                  recipient_qualifier=inter.recipient_qualifier, syntax=inter.syntax or "UNOC",
                  syntax_version=inter.syntax_version or "3", test=inter.unb.get(10, 0) == "1",
                  ack_requested=inter.unb.get(8, 0) == "1")
        fatal: Optional[HubError] = None
        try:
            for message in inter.iter_messages():
                result = MessageResult(ref=message.ref, type=message.type, group_ref=message.group_ref,
                                       version=message.version, release=message.release, agency=message.agency)
                result.errors = [edifact_error(e) for e in message.errors]
                result.status = "rejected" if result.errors else "accepted"
                ack.messages.append(result)
        except HubError as exc:  # strict charset: the rest of the interchange cannot be read
            fatal = exc
        for error in inter.errors:
            if error.code not in _MESSAGE_LEVEL:
                ack.errors.append(edifact_error(error))
        if fatal is not None:
            ack.errors.append(edifact_error(fatal))
        if ack.messages and all(m.type in ACK_MESSAGE_TYPES for m in ack.messages):
            continue
        if ack.errors:
            # UCI action 4 rejects "this level and all lower levels": say so per message too
            for result in ack.messages:
                result.status = "rejected"
        if receipt:
            ack.result, ack.messages = "received", []
        else:
            ack.result = _result(bool(ack.errors), ack.messages)
        acks.append(ack)
        if fatal is not None:
            break  # the stream position is lost after a raised error
    return acks


def write_contrl(ack: Ack, control_ref: str, *, our_id: Optional[str] = None, their_id: Optional[str] = None,
                 our_qualifier: Optional[str] = None, their_qualifier: Optional[str] = None,
                 prepared: Optional[dt.datetime] = None, syntax: Optional[str] = None) -> bytes:
    """Serialise ``ack`` as a CONTRL interchange from us (the subject's recipient) to its sender.

    The reply uses the subject's syntax version: CONTRL D:3:UN under syntax 3 (and below),
    CONTRL 4:1:UN under syntax 4. UCI action 8 for a receipt, 4 when the interchange (or every
    message in it) is rejected, else 7 with a UCM per message (7 or 4 with the 0085 code).
    """
    version4 = ack.syntax_version == "4"
    # our UNB parties: the profile's ids when given, else the subject's, turned round
    sender = [our_id or ack.recipient, our_qualifier if our_id else (ack.recipient_qualifier or None)]
    recipient = [their_id or ack.sender, their_qualifier if their_id else (ack.sender_qualifier or None)]
    writer = EdifactWriter(sender, recipient, control_ref, syntax=syntax or ack.syntax or "UNOC",
                           syntax_version="4" if version4 else "3", prepared=prepared, test=ack.test)
    action = {"received": ACTION_RECEIVED, "rejected": ACTION_REJECTED}.get(ack.result, ACTION_ACKNOWLEDGED)
    first = ack.errors[0] if ack.errors else AckError("")
    segments: list[tuple[str, list]] = [("UCI", [
        ack.interchange_ref, [ack.sender, ack.sender_qualifier or None], [ack.recipient, ack.recipient_qualifier or None],
        action, first.code or None, first.segment or None, first.element or None])]
    if ack.result != "received":
        for message in ack.messages:
            # 0085 carries one code per level: the first error is reported, the rest are in the store
            err = message.errors[0] if message.errors else AckError("")
            m_action = ACTION_REJECTED if message.status == "rejected" or ack.result == "rejected" \
                else ACTION_ACKNOWLEDGED
            s009 = [message.type, message.version or None, message.release or None, message.agency or None]
            segments.append(("UCM", [message.ref, s009, m_action,
                                     err.code or None, err.segment or None, err.element or None]))
    writer.add_message("CONTRL", "4" if version4 else "D", "1" if version4 else "3", "UN", None, segments)
    return writer.to_bytes()


# =====================================================================================
# reading CONTRL / 997 / 999
# =====================================================================================
def is_ack_file(data: bytes) -> Optional[AckKind]:
    """``"CONTRL"``, ``"997"`` or ``"999"`` when the file's first message is an acknowledgement
    (cheap: looks at the first 4 KiB only), else None."""
    head = data[:4096]
    if head.startswith(UTF8_BOM):
        head = head[3:]
    fmt = detect_format(head)
    if fmt == "edifact":
        i = head.find(b"UNH")
        if i >= 0 and b"CONTRL" in head[i:i + 40]:
            return "CONTRL"
        return None
    if fmt == "x12":
        # ST01 of the first transaction set: ISA is fixed width, so the element separator is
        # byte 4 and the segment terminator byte 106; a segment starts after a terminator
        body = head.lstrip(b" \t\r\n")
        sep, term = body[3:4], body[105:106]
        if sep and term:
            m = re.search(re.escape(term) + rb"[\r\n\t ]*ST" + re.escape(sep) + rb"(\d{3})", body)
            if m and m.group(1) in (b"997", b"999"):
                return m.group(1).decode()  # type: ignore[return-value]
    return None


def read_acks(data: bytes, filename: str = "<bytes>") -> list[Ack]:
    """Every acknowledgement in a CONTRL / 997 / 999 file.

    Raises ``SkippableError("NOT_AN_ACK")`` if the file holds anything else (a business message
    mixed in is processed as a normal file instead), or the parser's error if it is unreadable.
    """
    fmt = detect_format(data[:512].removeprefix(UTF8_BOM))
    if fmt == "x12":
        return read_x12_acks(data, filename)
    if fmt != "edifact":
        raise SkippableError("NOT_AN_ACK", "neither EDIFACT nor X12", f"{filename}:line 1")
    acks: list[Ack] = []
    for inter in parse_interchanges(data, filename):
        for message in inter.iter_messages():
            unh = message.segments[0]
            if message.type != "CONTRL":
                raise SkippableError("NOT_AN_ACK", f"message {message.ref!r} is {message.type}, not CONTRL",
                                     f"{filename}:segment {unh.index} ({unh.tag}, line {unh.line})")
            acks.append(_read_contrl(message, filename))
        if inter.errors:
            raise inter.errors[0]
    return acks


def _read_contrl(message, filename: str) -> Ack:
    uci = next((s for s in message.segments if s.tag == "UCI"), None)
    if uci is None:
        unh = message.segments[0]
        raise SkippableError("MISSING_UCI", f"CONTRL {message.ref!r} has no UCI segment",
                             f"{filename}:segment {unh.index} ({unh.tag}, line {unh.line})")
    ack = Ack(kind="CONTRL", interchange_ref=uci.get(0, 0), result="accepted", sender=uci.get(1, 0),
              sender_qualifier=uci.get(1, 1), recipient=uci.get(2, 0), recipient_qualifier=uci.get(2, 1),
              syntax_version=message.version if message.version == "4" else "3")
    action = uci.get(3, 0)
    if uci.get(4, 0):
        ack.errors.append(AckError(uci.get(4, 0), uci.get(5, 0), uci.get(6, 0)))
    group: Optional[str] = None
    group_rejected = False
    current: Optional[MessageResult] = None
    for seg in message.segments:
        if seg.tag == "UCF":
            group, group_rejected = seg.get(0, 0), seg.get(3, 0) == ACTION_REJECTED
            if seg.get(4, 0):
                ack.errors.append(AckError(seg.get(4, 0), seg.get(5, 0) or "UNG", seg.get(6, 0)))
        elif seg.tag == "UCM":
            rejected = seg.get(2, 0) == ACTION_REJECTED or group_rejected
            current = MessageResult(ref=seg.get(0, 0), type=seg.get(1, 0),
                                    status="rejected" if rejected else "accepted", group_ref=group,
                                    version=seg.get(1, 1), release=seg.get(1, 2), agency=seg.get(1, 3))
            if seg.get(3, 0):
                current.errors.append(AckError(seg.get(3, 0), seg.get(4, 0), seg.get(5, 0)))
            ack.messages.append(current)
        elif seg.tag == "UCS" and current is not None and seg.get(1, 0):
            current.errors.append(AckError(seg.get(1, 0), element=f"segment {seg.get(0, 0)}"))
        elif seg.tag == "UCD" and current is not None:
            current.errors.append(AckError(seg.get(0, 0), element=":".join(seg.elements[1]) if len(seg.elements) > 1 else ""))
    if action == ACTION_RECEIVED:
        ack.result = "received"
    else:
        ack.result = _result(action == ACTION_REJECTED, ack.messages)
        if action != ACTION_REJECTED and group_rejected and not ack.messages:
            ack.result = "partially_accepted"
    return ack


# =====================================================================================
# X12 997 / 999
# =====================================================================================
#: hub error code -> (level, code). AK5/IK5 use code list 718 (transaction set syntax error):
#: 2 trailer missing, 3 control numbers in header and trailer do not match, 4 number of included
#: segments does not match actual count, 5 one or more segments in error. AK9 uses 716
#: (functional group syntax error): 3 trailer missing, 4 group control numbers do not agree,
#: 5 number of included transaction sets does not match actual count. TA1 (TA105, I18):
#: 001 interchange control numbers do not match, 021 invalid number of included groups,
#: 023 improper (premature) end of file, 024 invalid interchange content.
X12_ERROR_MAP: dict[str, tuple[str, str]] = {
    "MISSING_SE": ("set", "2"),
    "SE_REF_MISMATCH": ("set", "3"),
    "SE_COUNT_MISMATCH": ("set", "4"),
    "SYNTAX_ERROR": ("set", "5"),
    "MISSING_GE": ("group", "3"),
    "GE_REF_MISMATCH": ("group", "4"),
    "GE_COUNT_MISMATCH": ("group", "5"),
    "IEA_REF_MISMATCH": ("interchange", "001"),
    "IEA_COUNT_MISMATCH": ("interchange", "021"),
    "MISSING_IEA": ("interchange", "023"),
    "EXTRA_INTERCHANGE": ("interchange", "024"),
}
#: AK3/IK3 segment syntax error (code list 720 / 620): 1 unrecognized segment ID
_X12_SEGMENT_CODE = "1"


def x12_error(error: HubError) -> tuple[str, AckError]:
    level, code = X12_ERROR_MAP.get(error.code, ("set", "5"))
    tag = {"set": "SE", "group": "GE", "interchange": "IEA"}[level]
    if error.code == "SYNTAX_ERROR":
        tag = ""
    return level, AckError(code, tag, "", error.code, error.as_line())


def x12_acks(data: Union[bytes, object], filename: str = "<bytes>", *, kind: str = "997") -> list[Ack]:
    """The 997 (or 999) content for every functional group of an X12 file (one Ack per GS..GE).

    AK5/IK5 per transaction set: A accepted, R rejected with its 718 code; a segment that is not
    a segment (bad tag, unterminated) is also reported in AK3/IK3. AK9: A all accepted, P some
    rejected, R group rejected (its own envelope is wrong, or every set is). ISA/IEA errors go to
    ``interchange_errors`` (written as a TA1 in the reply). Raises the parser's error when not
    even the ISA can be read. Groups of 997/999/TA1 (GS01 FA) are never acknowledged.
    """
    from adapters.edi import x12

    if kind not in ("997", "999"):
        raise ValueError(f"kind must be '997' or '999', not {kind!r}")
    acks: list[Ack] = []
    interchanges = x12.parse_interchanges(data, filename)  # type: ignore[arg-type]
    while True:
        try:
            inter = next(interchanges)
        except StopIteration:
            break
        except HubError:
            if not acks:
                raise
            break
        by_group: dict[int, Ack] = {}
        orphans: list[MessageResult] = []
        fatal: Optional[HubError] = None

        def ack_of(group) -> Ack:
            ack = by_group.get(id(group))
            if ack is None:
                ack = by_group[id(group)] = Ack(
                    kind=kind, interchange_ref=inter.control_ref, result="accepted", sender=inter.sender,
                    recipient=inter.receiver, sender_qualifier=inter.sender_qualifier,
                    recipient_qualifier=inter.receiver_qualifier, group_ref=group.control,
                    functional_id=group.functional_id, version=group.version, test=inter.test,
                    ack_requested=inter.ack_requested)
            return ack

        try:
            for txn in inter.iter_transactions():
                result = MessageResult(ref=txn.control, type=txn.set_id,
                                       group_ref=txn.group.control if txn.group else None)
                for error in txn.errors:
                    _level, err = x12_error(error)
                    if error.code == "SYNTAX_ERROR":
                        where = error.where.rsplit("segment ", 1)[-1] if "segment " in error.where else ""
                        position = where.split(" ", 1)[0]
                        seg_tag = where.split("(", 1)[-1].split(",", 1)[0] if "(" in where else ""
                        result.errors.append(AckError(_X12_SEGMENT_CODE, seg_tag, position, error.code,
                                                      error.as_line(), level="segment"))
                    result.errors.append(err)
                result.status = "rejected" if result.errors else "accepted"
                if txn.group is None:
                    orphans.append(result)
                else:
                    ack_of(txn.group).messages.append(result)
        except HubError as exc:
            fatal = exc
        for group in inter.groups:
            ack = ack_of(group)
            declared = group.ge.get(0).strip() if group.ge is not None else ""
            ack.declared_count = int(declared) if declared.isascii() and declared.isdigit() else group.transaction_count
            ack.errors = [x12_error(e)[1] for e in group.errors]
        interchange_errors = [x12_error(e)[1] for e in inter.errors if x12_error(e)[0] == "interchange"]
        if fatal is not None:
            interchange_errors.append(AckError("024", "", "", fatal.code, fatal.as_line()))
        group_acks = [by_group[id(g)] for g in inter.groups if id(g) in by_group]
        if not group_acks and (interchange_errors or orphans):
            # nothing to put in an AK1: the reply is the TA1 alone
            group_acks = [Ack(kind=kind, interchange_ref=inter.control_ref, result="rejected", sender=inter.sender,
                              recipient=inter.receiver, sender_qualifier=inter.sender_qualifier,
                              recipient_qualifier=inter.receiver_qualifier, test=inter.test, messages=orphans)]
        for ack in group_acks:
            if ack.functional_id == "FA":
                continue  # acknowledgements are never acknowledged
            ack.interchange_errors = list(interchange_errors)
            if ack.errors or interchange_errors:
                for result in ack.messages:
                    result.status = "rejected"
            ack.result = _result(bool(ack.errors or interchange_errors), ack.messages)
            acks.append(ack)
        if fatal is not None:
            break
    return acks


def write_x12_ack(acks: Union[Ack, list[Ack]], control_ref: str, *, our_id: Optional[str] = None,
                  their_id: Optional[str] = None, our_qualifier: Optional[str] = None,
                  their_qualifier: Optional[str] = None, prepared: Optional[dt.datetime] = None) -> bytes:
    """Serialise the acks of one subject interchange as one X12 interchange (with
    :class:`adapters.edi.x12_writer.X12Writer`): a TA1 when its ISA/IEA was wrong, then one GS
    (FA) holding a 997/999 per acknowledged group. ``control_ref`` is ISA13 and GS06."""
    from adapters.edi.x12_writer import X12Writer

    acks = [acks] if isinstance(acks, Ack) else list(acks)
    if not acks:
        raise ValueError("no acknowledgement to write")
    first = acks[0]
    kind = first.kind
    when = prepared or dt.datetime.now(dt.timezone.utc)
    writer = X12Writer((our_id or first.recipient)[:15], (their_id or first.sender)[:15], control_ref,
                       sender_qualifier=(our_qualifier or first.recipient_qualifier or "ZZ")[:2],
                       receiver_qualifier=(their_qualifier or first.sender_qualifier or "ZZ")[:2],
                       version="00501" if kind == "999" else "00401", usage="T" if first.test else "P",
                       prepared=when)
    segment = "IK" if kind == "999" else "AK"
    group_acks = [a for a in acks if a.group_ref is not None]
    if group_acks:
        writer.add_group("FA", control_ref, "005010X231A1" if kind == "999" else "004010")
    for n, ack in enumerate(group_acks, start=1):
        body: list[tuple[str, list]] = [("AK1", [ack.functional_id, ack.group_ref,
                                                 ack.version if kind == "999" else None])]
        accepted = 0
        for message in ack.messages:
            body.append(("AK2", [message.type, message.ref]))
            for err in message.errors:
                if err.level == "segment":
                    body.append((segment + "3", [err.segment or "ZZZ", err.element or "1", None, err.code]))
                elif err.level == "element":
                    body.append((segment + "4", [err.element or "1", None, err.code]))
            set_codes = [e.code for e in message.errors if not e.level][:5]
            status = {"rejected": "R", "accepted_with_errors": "E"}.get(message.status, "A")
            accepted += status != "R"
            body.append((segment + "5", [status, *set_codes]))
        ak901 = {"partially_accepted": "P", "rejected": "R"}.get(ack.result, "A")
        included = ack.declared_count if ack.declared_count is not None else len(ack.messages)
        body.append(("AK9", [ak901, str(included), str(len(ack.messages)), str(accepted),
                             *[e.code for e in ack.errors][:5]]))
        writer.add_transaction(kind, n, body, "005010X231A1" if kind == "999" else None)
    text = writer.to_text()
    if first.interchange_errors:
        # TA1 sits between ISA and GS; the writer has no slot for it, so it goes in after the ISA
        err = first.interchange_errors[0]
        ta1 = writer.segment("TA1", [first.interchange_ref.zfill(9), f"{when:%y%m%d}", f"{when:%H%M}", "R",
                                     err.code])
        isa_end = len(writer.isa()) + (1 if writer.newline else 0)
        text = text[:isa_end] + ta1 + ("\n" if writer.newline else "") + text[isa_end:]
    return text.encode("ascii")


_AK5_STATUS: dict[str, MessageStatus] = {"A": "accepted", "E": "accepted_with_errors"}
_AK9_RESULT: dict[str, AckResult] = {"A": "accepted", "E": "accepted", "P": "partially_accepted", "R": "rejected"}


def read_x12_acks(data: bytes, filename: str = "<bytes>") -> list[Ack]:
    """Every 997/999 (one Ack per AK1 group) and TA1 of an X12 file from a partner."""
    from adapters.edi import x12

    acks: list[Ack] = []
    for inter in x12.parse_interchanges(data, filename):
        ta1_errors: list[AckError] = []
        ta1_ref = ""
        inter_acks: list[Ack] = []
        for txn in inter.iter_transactions():
            st = txn.segments[0]
            if txn.set_id not in ("997", "999"):
                raise SkippableError("NOT_AN_ACK", f"transaction set {txn.control!r} is {txn.set_id}, not 997/999",
                                     f"{filename}:segment {st.index} ({st.tag}, line {st.line})")
            inter_acks.append(_read_997(txn, inter))
        for ta1 in inter.ta1:
            ta1_ref = ta1.get(0).strip()
            if ta1.get(3) == "R" or ta1.get(4) not in ("", "000"):
                ta1_errors.append(AckError(ta1.get(4), "TA1"))
        if inter.errors:
            raise inter.errors[0]
        if not inter_acks and inter.ta1:
            inter_acks.append(Ack(kind="997", interchange_ref=ta1_ref, result="accepted"))
        for ack in inter_acks:
            if ta1_ref:
                ack.interchange_ref = ta1_ref
            if ta1_errors:
                ack.interchange_errors = ta1_errors
                ack.result = "rejected"
            acks.append(ack)
    return acks


def _read_997(txn, inter) -> Ack:
    kind: AckKind = "999" if txn.set_id == "999" else "997"
    ack = Ack(kind=kind, interchange_ref="", result="accepted", sender=inter.receiver, recipient=inter.sender)
    current: Optional[MessageResult] = None
    for seg in txn.segments:
        if seg.tag == "AK1":
            ack.functional_id, ack.group_ref, ack.version = seg.get(0), seg.get(1), seg.get(2)
        elif seg.tag == "AK2":
            current = MessageResult(ref=seg.get(1), type=seg.get(0), group_ref=ack.group_ref)
            ack.messages.append(current)
        elif seg.tag in ("AK3", "IK3") and current is not None:
            current.errors.append(AckError(seg.get(3), seg.get(0), seg.get(1), level="segment"))
        elif seg.tag in ("AK4", "IK4") and current is not None:
            current.errors.append(AckError(seg.get(2), "", seg.get(0, 0), level="element"))
        elif seg.tag in ("AK5", "IK5") and current is not None:
            current.status = _AK5_STATUS.get(seg.get(0), "rejected")
            current.errors.extend(AckError(code, "SE") for code in
                                  (seg.get(i) for i in range(1, 6)) if code)
        elif seg.tag == "AK9":
            ack.result = _AK9_RESULT.get(seg.get(0), "rejected")
            count = seg.get(1).strip()
            ack.declared_count = int(count) if count.isascii() and count.isdigit() else None
            ack.errors.extend(AckError(code, "GE") for code in (seg.get(i) for i in range(4, 9)) if code)
    return ack


# =====================================================================================
# either standard
# =====================================================================================
def acks_for(data: bytes, filename: str = "<bytes>", charset_policy: str = "lenient", *,
             x12_kind: str = "997", receipt: bool = False) -> list[Ack]:
    """The acknowledgements the hub would send for ``data``, whatever its format."""
    fmt = detect_format(data[:512].removeprefix(UTF8_BOM).lstrip(b" \t\r\n"))
    if fmt == "edifact":
        return edifact_acks(data, filename, charset_policy, receipt=receipt)
    if fmt == "x12":
        return x12_acks(data, filename, kind=x12_kind)
    raise SkippableError("UNKNOWN_FORMAT", f"neither EDIFACT (UNA/UNB) nor X12 (ISA); starts with {data[:12]!r}",
                         f"{filename}:line 1")


def write_acks(acks: list[Ack], control_ref: str, **kwargs) -> bytes:
    """One reply interchange for the acks of one subject interchange (CONTRL or 997/999)."""
    if not acks:
        raise ValueError("no acknowledgement to write")
    if acks[0].kind == "CONTRL":
        if len(acks) != 1:
            raise ValueError("one CONTRL interchange answers one subject interchange")
        return write_contrl(acks[0], control_ref, **kwargs)
    return write_x12_ack(acks, control_ref, **{k: v for k, v in kwargs.items() if k != "syntax"})


def merge(acks: Iterable[Ack]) -> AckResult:
    """One status for several acks of the same interchange (e.g. a 997 per group)."""
    results = [a.result for a in acks]
    if not results:
        return "accepted"
    if all(r in ("accepted", "received") for r in results):
        return "received" if all(r == "received" for r in results) else "accepted"
    if all(r == "rejected" for r in results):
        return "rejected"
    return "partially_accepted"
