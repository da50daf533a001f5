"""Streaming ANSI X12 parser: ISA/GS/ST envelopes, control checks, HL hierarchies.

X12 has no service string advice: the delimiters are read from the fixed-width ISA, which is
always 106 characters. Byte 4 (index 3) is the element separator, ISA11 the repetition
separator (only from version 00402 on; before that it is the standards id ``U``), ISA16 the
component separator, and the byte right after ISA16 the segment terminator - which may be
``~``, ``|``, ``}``, a newline or anything else the partner's translator picked.

Like :mod:`adapters.edi.edifact` the parser works on *bytes*: a chunk is split on the
terminator with ``bytes.split`` (C speed, no per-character Python loop), only complete
segments are decoded, and transaction sets are handed on one by one, so memory is one chunk
plus one transaction set whatever the file size.

Tolerated on input (all seen in real partner files): UTF-8 BOM, leading blanks/indentation,
CR/LF (and trailing blanks) between segments, hard-wrapped lines (an 80-column wrap inside a
segment is removed - unless the terminator *is* a newline, then every newline ends a segment),
blank lines when the terminator is a newline, a CR-LF file whose terminator is CR.

Locations. ``Segment.index`` is 1-based in the interchange (ISA is 1), ``Segment.line`` the
physical line (LF-counted) where the segment starts; every error's ``where`` reads
``<filename>:segment <index> (<TAG>, line <line>)``.

Element indices. ``Segment.elements`` is 0-based *after the tag*, so X12's ``BSN02`` is
``seg.get(1)`` and ``N104`` is ``seg.get(3)`` (X12 numbers elements from 01). Repetitions
(ISA11) are not split: an element keeps the repetition separator in its text; use
:meth:`X12Delimiters.repetitions` where a segment really repeats.

Errors (all :class:`~hub.errors.SkippableError`: the file or the transaction set goes to
quarantine, the hub goes on):

raised by :func:`parse_interchange` / :func:`parse_interchanges`, nothing is readable after them
    ``MISSING_ISA``   empty file, or the first segment is not ISA.
    ``ISA_INVALID``   the ISA is not 106 fixed-width characters (a field too short or long),
                      or its delimiters are unusable (alphanumeric, equal to each other).
    ``SYNTAX_ERROR``  a segment longer than ``max_segment_bytes`` without terminator.

collected in ``X12Interchange.errors`` (and on the transaction or group they concern; a
transaction set with errors is still yielded so that the caller quarantines exactly it)
    ``SE_COUNT_MISMATCH`` / ``SE_REF_MISMATCH`` / ``MISSING_SE``    (also on the transaction)
    ``GE_COUNT_MISMATCH`` / ``GE_REF_MISMATCH`` / ``MISSING_GE``    (also on the group)
    ``IEA_COUNT_MISMATCH`` / ``IEA_REF_MISMATCH``
    ``MISSING_IEA``       the file (or the next ISA) came before IEA; names the last segment.
    ``SYNTAX_ERROR``      a segment outside any transaction set, ST outside a group, a bad
                          segment tag, an unterminated last segment.
    ``EXTRA_INTERCHANGE`` :func:`parse_interchange` found data after IEA (use
                          :func:`parse_interchanges` for files with several interchanges).

``X12Interchange.errors`` and ``groups`` are complete only once ``iter_transactions()`` is
exhausted.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Optional, Sequence, Union

from adapters.edi.edifact import detect_format  # noqa: F401  (one detector for both standards)
from adapters.edi import segments as _segments_module
from adapters.edi.segments import SEGMENT_SETTERS, Segment
from hub.errors import HubError, SkippableError

__all__ = [
    "X12Delimiters", "X12Group", "X12Transaction", "X12Interchange", "HLNode",
    "parse_interchange", "parse_interchanges", "hl_tree", "detect_format",
]

CHUNK_SIZE = 64 * 1024
MAX_SEGMENT_BYTES = 1024 * 1024
MAX_WARNINGS = 100
ISA_LENGTH = 106
UTF8_BOM = b"\xef\xbb\xbf"

# positions of the 16 element separators inside the fixed-width ISA (X12.5 ISA field widths)
_ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_ISA_SEP_POS = tuple(3 + sum(w + 1 for w in _ISA_WIDTHS[:i]) for i in range(16))
_ISA_NAMES = ("ISA01", "ISA02", "ISA03", "ISA04", "ISA05", "ISA06", "ISA07", "ISA08", "ISA09",
              "ISA10", "ISA11", "ISA12", "ISA13", "ISA14", "ISA15", "ISA16")
_TAG_RE = re.compile(r"[A-Z][A-Z0-9]{1,2}\Z")
_NOISE = b" \t\r\n"
#: tags iter_transactions() has to look at; every other tag inside ST..SE is content
_ENVELOPE_TAGS = frozenset({"ST", "SE", "GS", "GE", "IEA", "ISA", "TA1"})
_new_object = object.__new__
#: Segment's slot setters (None if it stops being a plain slotted dataclass): the batch loop
#: fills a new instance with them, at half the cost of the frozen dataclass __init__
_SETTERS = SEGMENT_SETTERS
_DIRECT_SEGMENTS = _SETTERS is not None


@dataclass(frozen=True)
class X12Delimiters:
    """Element, component, repetition (``None`` before 00402) separators and terminator."""

    element: str = "*"
    component: str = ">"
    repetition: Optional[str] = None
    terminator: str = "~"

    def repetitions(self, value: str) -> list[str]:
        """``value`` split on the repetition separator (one item when there is none)."""
        return value.split(self.repetition) if self.repetition else [value]


@dataclass
class X12Group:
    """One GS..GE functional group; its transaction sets are streamed, not kept here."""

    functional_id: str  # GS01, e.g. SH for 856, PR for 855, FA for 997
    sender: str  # GS02 application sender's code
    receiver: str  # GS03
    date: str  # GS04 CCYYMMDD
    time: str  # GS05
    control: str  # GS06 group control number
    agency: str  # GS07 (X = ASC X12)
    version: str  # GS08, e.g. 004010, 004010UCS
    gs: Segment
    ge: Optional[Segment] = None
    #: transaction sets seen so far (what GE01 must say)
    transaction_count: int = 0
    errors: list[HubError] = field(default_factory=list)


@dataclass
class X12Transaction:
    """One ST..SE transaction set; ``segments`` includes ST and SE.

    ``version`` is the group's GS08 (``004010``, ``004010UCS``); ``implementation_ref`` is
    ST03 where sent (5010 implementation guides). ``errors`` holds this set's own envelope
    failures (SE count/reference, missing SE, bad segment); it is yielded anyway.
    """

    set_id: str  # ST01, e.g. 856
    control: str  # ST02
    version: str
    segments: list[Segment]
    group: Optional[X12Group] = None
    implementation_ref: str = ""
    errors: list[HubError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass
class HLNode:
    """One HL level: ``segments`` are the HL and its own segments up to the next HL."""

    level_code: str  # HL03: S shipment, O order, T tare, P pack, I item ...
    id: str  # HL01
    parent_id: Optional[str]  # HL02, None for a root
    segments: list[Segment]
    children: list["HLNode"] = field(default_factory=list)
    parent: Optional["HLNode"] = field(default=None, repr=False, compare=False)

    def ancestors(self) -> Iterator["HLNode"]:
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def walk(self) -> Iterator["HLNode"]:
        """This node and its descendants, depth first in document order."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _loc(filename: str, seg: Segment) -> str:
    return f"{filename}:segment {seg.index} ({seg.tag}, line {seg.line})"


def _hl_where(prefix: str, seg: Segment) -> str:
    # formatted only for an error: there is an HL per item, formatting each cost measurably
    return f"{prefix}segment {seg.index} (HL, line {seg.line})"


def hl_tree(segments: Sequence[Segment], filename: str = "", *,
            summary_tags: frozenset[str] = frozenset({"CTT", "SE"})) -> list[HLNode]:
    """The HL hierarchy of a transaction set as nested :class:`HLNode` roots.

    Each node owns its HL segment and the segments after it up to the next HL (or a summary
    segment such as CTT/SE). Parents must come before their children (X12 requires it); a
    duplicate HL01, an unknown or later parent raises ``SkippableError HL_INVALID``.
    """
    roots: list[HLNode] = []
    by_id: dict[str, HLNode] = {}
    current: Optional[HLNode] = None
    prefix = f"{filename}:" if filename else ""
    for seg in segments:
        tag = seg.tag
        if tag == "HL":
            hl_id, parent_id, level = seg.get(0), seg.get(1), seg.get(2)
            if not hl_id:
                raise SkippableError("HL_INVALID", "HL01 (hierarchical id) is empty", _hl_where(prefix, seg))
            if hl_id in by_id:
                raise SkippableError("HL_INVALID", f"HL id {hl_id!r} is used twice", _hl_where(prefix, seg))
            current = HLNode(level, hl_id, parent_id or None, [seg])
            by_id[hl_id] = current
            if parent_id:
                parent = by_id.get(parent_id)
                if parent is None:
                    raise SkippableError("HL_INVALID", f"HL {hl_id!r} names parent {parent_id!r}, which does "
                                         "not come before it", _hl_where(prefix, seg))
                current.parent = parent
                parent.children.append(current)
            else:
                roots.append(current)
        elif tag in summary_tags:
            current = None
        elif current is not None:
            current.segments.append(seg)
    return roots


# --------------------------------------------------------------------------- tokenizer


class _Tokenizer:
    """Splits the byte stream on the terminator, a chunk at a time.

    ``pending`` holds raw segments already split off the buffer (``bytes.split``, C speed);
    ``buf[pos:]`` the bytes after the last terminator found. Memory: one chunk plus the
    longest segment.
    """

    def __init__(self, stream: BinaryIO, filename: str, chunk_size: int, max_segment: int) -> None:
        self.stream = stream
        self.filename = filename
        self.chunk_size = chunk_size
        self.max_segment = max_segment
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.line = 1  # line at buf[pos]
        self.term = b"~"
        self.newline_term = False
        self.pending: list[bytes] = []
        self.pending_i = 0
        self.pending_line = 1  # line where pending[pending_i] starts (before its noise)
        self.tail = False  # pending is the unterminated end of the file
        # the raw segment last handed out: (original bytes, line before its noise, terminated)
        self.last: tuple[bytes, int, bool] = (b"", 1, True)

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_size)
        if not chunk:
            self.eof = True
            return False
        self.buf = (self.buf[self.pos:] + chunk) if self.pos else (self.buf + chunk)
        self.pos = 0
        return True

    def ensure(self, n: int) -> bytes:
        while len(self.buf) - self.pos < n and self._fill():
            pass
        return self.buf[self.pos:self.pos + n]

    def skip_noise(self, also_bom: bool = False) -> None:
        if also_bom and self.ensure(3) == UTF8_BOM:
            self.pos += 3
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                return
            rest = self.buf[self.pos:]
            body = rest.lstrip(_NOISE + b"\x1a\x00")
            skipped = len(rest) - len(body)
            self.line += rest.count(b"\n", 0, skipped)
            self.pos += skipped
            if body:
                return

    def unread(self, first: Optional[tuple[bytes, int, bool]] = None) -> None:
        """Put ``first`` (an original raw) and every pending raw back in front of the buffer,
        so that the next interchange is read from its own ISA with its own delimiters."""
        parts = []
        if first is not None:
            raw, line, terminated = first
            parts.append(raw + self.term if terminated else raw)
        else:
            line = self.pending_line
        rest = self.pending[self.pending_i:]
        if rest:
            if self.tail:
                parts.extend(p + self.term for p in rest[:-1])
                parts.append(rest[-1])
            else:
                parts.extend(p + self.term for p in rest)
        if parts:
            self.buf = b"".join(parts) + self.buf[self.pos:]
            self.pos = 0
            self.line = line
        self.pending, self.pending_i, self.tail = [], 0, False

    def has_more(self) -> bool:
        """True if anything but noise follows what was read so far."""
        if any(p.strip(_NOISE + b"\x1a\x00") for p in self.pending[self.pending_i:]):
            return True
        self.skip_noise()
        return bool(self.ensure(1))

    def set_terminator(self, term: bytes) -> None:
        self.term = term
        self.newline_term = term in (b"\n", b"\r")

    def _refill(self) -> bool:
        """Split every complete segment in the buffer into ``pending``; False at end of data."""
        while True:
            k = self.buf.rfind(self.term, self.pos)
            if k != -1:
                chunk = self.buf[self.pos:k]
                self.pending = chunk.split(self.term)
                self.pending_i = 0
                self.pending_line = self.line
                self.line += chunk.count(b"\n") + (1 if self.term == b"\n" else 0)
                self.pos = k + 1
                return True
            if len(self.buf) - self.pos > self.max_segment:
                raise SkippableError(
                    "SYNTAX_ERROR",
                    f"no segment terminator {self.term!r} within {self.max_segment} bytes; the file is "
                    "not X12 or its terminator differs from the one after ISA16; ask the sender to check",
                    f"{self.filename}:line {self.line}",
                )
            if not self._fill():
                tail = self.buf[self.pos:]
                self.pos = len(self.buf)
                if not tail.strip(_NOISE + b"\x1a\x00"):
                    self.line += tail.count(b"\n")
                    return False
                self.pending, self.pending_i, self.tail = [tail], 0, True
                self.pending_line = self.line
                self.line += tail.count(b"\n")
                return True

    def next_raw(self) -> Optional[tuple[bytes, int]]:
        """Next segment's bytes (noise removed) and its start line, or None at the end.
        ``self.last`` keeps the original bytes so a new ISA can be unread."""
        while True:
            if self.pending_i >= len(self.pending):
                if self.tail:
                    return None
                if not self._refill():
                    return None
            raw = self.pending[self.pending_i]
            self.pending_i += 1
            line = start = self.pending_line
            terminated = not (self.tail and self.pending_i == len(self.pending))
            if self.newline_term:
                # every newline ends a segment; CR (or the LF after a CR terminator) is noise
                if self.term == b"\n":
                    self.pending_line += 1
                else:
                    nl = raw.count(b"\n")
                    self.pending_line += nl
                    if raw[:1] == b"\n":
                        line += 1
                body = raw.strip(_NOISE)
            else:
                nl = raw.count(b"\n")
                if nl or b"\r" in raw:
                    self.pending_line += nl
                    body = raw.lstrip(_NOISE)
                    lead = len(raw) - len(body)
                    if lead:
                        line += raw.count(b"\n", 0, lead)
                    if b"\n" in body or b"\r" in body:  # hard wrap inside the segment
                        body = body.replace(b"\r", b"").replace(b"\n", b"")
                elif raw[:1] in b" \t":
                    body = raw.lstrip(b" \t")
                else:
                    body = raw
            if body:
                self.last = (raw, start, terminated)
                return body, line


#: what follows the terminator between two batch segments, by separator length
_LINE_ENDS = {1: b"", 2: b"\n", 3: b"\r\n"}


def _batch_end(buf: bytes, pos: int, term: bytes) -> int:
    """The index of the last terminator a batch starting at ``pos`` may take, or -1: never
    past the first IEA, never into an ISA (the next interchange may have other delimiters).
    A marker inside data only ends a batch early. (The accelerator's ``batch_end`` finds the
    same in one pass.)"""
    end = buf.rfind(term, pos)
    if end <= pos:
        return -1
    k = buf.find(b"IEA", pos, end)
    if k >= 0:
        end = buf.find(term, k, end + 1)
    k = buf.find(b"ISA", pos, end)
    if k >= 0:
        end = buf.rfind(term, pos, k)
        if end <= pos:
            return -1
    return end


def _region_shape(region: bytes, term: bytes) -> Optional[tuple[int, int, int, int, bool]]:
    """Whether a batch region (complete segments, last terminator cut off) has the plain
    shape the batch path needs: one segment per line or all on one line, no blank lines,
    wraps, indentation or empty segments. Returns ``(lead, newlines in lead, newlines in
    body, separator length, body is ASCII)`` where body is the region without its leading
    noise, or None. (The accelerator's ``region_shape`` computes the same in a few memchr passes.)"""
    body = region.lstrip(_NOISE)
    if not body:
        return None
    lead = len(region) - len(body)
    lead_nl = region.count(b"\n", 0, lead) if lead else 0
    nl = body.count(b"\n")
    if nl == 0 and b"\r" not in body:
        if term + b" " in body or term + b"\t" in body or term + term in body or body.endswith(term):
            return None
        return lead, lead_nl, 0, 1, body.isascii()
    sep = term + (b"\r\n" if b"\r" in body else b"\n")
    # every line end must sit right after a terminator, and every terminator before one
    if (body.count(sep) != nl or body.count(term) != nl or body.count(b"\r") != body.count(b"\r\n")
            or (len(sep) == 3 and body.count(b"\r") != nl) or b"\n " in body or b"\n\t" in body
            or body.endswith(b"\n")):
        return None
    return lead, lead_nl, nl, len(sep), body.isascii()


# --------------------------------------------------------------------------- interchange


class X12Interchange:
    """One ISA..IEA interchange; the ISA is read, transaction sets are streamed.

    Header fields are strings as sent, with the fixed-width padding removed.
    """

    def __init__(self, tok: _Tokenizer, delimiters: X12Delimiters, isa: Segment, single: bool) -> None:
        self._tok = tok
        self._single = single
        self.filename = tok.filename
        self.delimiters = delimiters
        self.isa = isa
        g = lambda i: isa.get(i).strip()  # noqa: E731
        self.authorization_qualifier, self.authorization = g(0), g(1)
        self.security_qualifier = g(2)
        self.sender_qualifier, self.sender = g(4), g(5)
        self.receiver_qualifier, self.receiver = g(6), g(7)
        self.date, self.time = g(8), g(9)
        self.version = g(11)  # ISA12, e.g. 00401
        self.control_ref = g(12)  # ISA13
        self.ack_requested = g(13) == "1"  # ISA14: the sender wants a TA1
        self.usage = g(14)  # ISA15: P production, T test, I information
        self.iea: Optional[Segment] = None
        self.groups: list[X12Group] = []
        self.ta1: list[Segment] = []
        self.errors: list[HubError] = []
        self.warnings: list[str] = []
        self._more_warnings = 0
        self._index = 1
        self._started = False
        self.finished = False
        # the C accelerator splits bytes, so it takes only ASCII delimiters (any others: Python)
        used = [c for c in (delimiters.element, delimiters.component, delimiters.terminator) if c]
        self._speedups = _segments_module.speedups() if all(c.isascii() for c in used) else None
        self._sink: Optional[list[Segment]] = None  # the open transaction set's segments (accelerator)
        self._read_last: Optional[Segment] = None  # last segment the accelerator read

    @property
    def test(self) -> bool:
        return self.usage == "T"

    def _warn(self, text: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        else:
            self._more_warnings += 1

    def _error(self, code: str, message: str, seg: Segment, *owners: list) -> SkippableError:
        err = SkippableError(code, message, _loc(self.filename, seg))
        self.errors.append(err)
        for owner in owners:
            owner.append(err)
        return err

    def _decode(self, raw: bytes, line: int) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._warn(f"{self.filename}:segment {self._index} (line {line}): bytes are not UTF-8; "
                       "decoded as latin-1")
            return raw.decode("latin-1")

    def _next_segment(self) -> Optional[Segment]:
        """The next segment; ``self._bad`` says why it is not trustworthy (or None).
        None at the end of the interchange's data or at the next ISA (left unread)."""
        item = self._tok.next_raw()
        if item is None:
            return None
        raw, line = item
        if raw[:3] == b"ISA" and len(raw) > 3 and not raw[3:4].isalnum():
            # a new interchange began: leave it, with its own delimiters, to parse_interchanges
            self._next_isa = True
            return None
        self._index += 1
        text = self._decode(raw, line)
        d = self.delimiters
        parts = text.split(d.element)
        tag = parts[0]
        if d.component in text:
            elements = [p.split(d.component) for p in parts[1:]]
        else:
            elements = [[p] for p in parts[1:]]
        seg = Segment(tag, elements, line, self._index)
        if not self._tok.last[2]:
            self._bad = "last segment has no terminator; the file is probably truncated; ask the sender to resend"
        elif _TAG_RE.match(tag) is None:
            self._bad = f"{tag[:12]!r} is not a segment tag (2-3 capital letters/digits)"
        else:
            self._bad = None
        return seg

    _bad: Optional[str] = None
    _next_isa = False

    def _fast_batch(self) -> Optional[tuple[list[str], int, int]]:
        """The text of every complete segment in the buffer, the first one's line and the
        line step per segment, or None to take the careful path (see :meth:`_fast_region`)."""
        region = self._fast_region()
        if region is None:
            return None
        body, sep, line, step = region
        # latin-1: a non-ASCII terminator cannot be in an ASCII body (one segment), nothing to split
        return body.decode("ascii").split(sep.decode("latin-1")), line, step

    def _fast_region(self) -> Optional[tuple[bytes, bytes, int, int]]:
        """The bytes of every complete segment in the buffer, the separator between two
        segments (terminator plus line end), the first one's line and the line step per
        segment, or None to take the careful path (``_next_segment``). The tokenizer is
        moved past them.

        The common file has one segment per line (or all on one line), ASCII only, no blank
        or wrapped lines: then the buffer up to its last terminator splits with one
        bytes.split and decodes with one ascii decode (C speed), instead of a Python call per
        segment. Anything else (hard wraps, leading blanks, empty segments, non-ASCII bytes,
        a newline terminator) is left to the careful path one segment at a time. A batch
        never reaches past an IEA or into an ISA, so the next interchange (which may have
        other delimiters) is read with its own.
        """
        tok = self._tok
        if tok.pending_i < len(tok.pending) or tok.tail or tok.newline_term:
            return None
        buf, pos = tok.buf, tok.pos
        if len(buf) - pos < tok.chunk_size and not tok.eof:
            tok._fill()
            buf, pos = tok.buf, tok.pos
        term = tok.term
        speedups = self._speedups
        end = speedups.batch_end(buf, pos, term[0], True) if speedups is not None else _batch_end(buf, pos, term)
        if end < 0:
            return None
        region = buf[pos:end]
        shape = (speedups.region_shape(region, term[0], -1, True) if speedups is not None
                 else _region_shape(region, term))
        if shape is None:
            return None
        lead, lead_nl, nl, sep_len, ascii = shape
        if not ascii:
            return None
        body = region[lead:] if lead else region
        line = tok.line + lead_nl
        sep = term + _LINE_ENDS[sep_len]
        step = 1 if sep_len > 1 else 0
        tok.pos = end + 1
        tok.line = line + nl
        return body, sep, line, step

    def _special_segment(self, raw: bytes, line: int, index: int) -> Segment:
        # the batch is ASCII-only, so the accelerator never needs this; kept for its contract
        self._index = index
        text = self._decode(raw, line)
        d = self.delimiters
        parts = text.split(d.element)
        return Segment(parts[0], [p.split(d.component) for p in parts[1:]], line, index)

    def _bad_tag(self, tag: str, good_tags: set[str]) -> Optional[str]:
        if tag in good_tags:
            return None
        if _TAG_RE.match(tag) is None:
            return f"{tag[:12]!r} is not a segment tag (2-3 capital letters/digits)"
        good_tags.add(tag)
        return None

    def _compiled_segments(self, speedups) -> Iterator[Segment]:
        """:meth:`_segments` with the C accelerator: a validated batch is split and built in
        C, and transaction set content with a valid tag goes straight into the open set
        (``self._sink``); envelope segments, bad tags and segments outside a set come back
        here (``self._bad`` set for each, as in the Python loop)."""
        d = self.delimiters
        args = (ord(d.element), ord(d.component), -1, -1, True)
        batch_type = speedups.SegmentBatch
        special = self._special_segment
        good_tags: set[str] = set()
        while True:
            region = self._fast_region()
            if region is None:
                seg = self._next_segment()
                if seg is None:
                    return
                yield seg
                continue
            body, sep, line, step = region
            batch = batch_type(body, sep, *args, line, step, self._index, special, _ENVELOPE_TAGS)
            fill = batch.fill
            while True:
                seg = fill(self._sink)
                self._index = batch.index
                if seg is None:
                    break
                self._bad = self._bad_tag(seg.tag, good_tags)
                yield seg
            self._read_last = batch.last

    def _segments(self) -> Iterator[Segment]:
        """Segments one by one (``self._bad`` set for each), batch-split where possible."""
        d = self.delimiters
        el, comp = d.element, d.component
        if self._speedups is not None:
            yield from self._compiled_segments(self._speedups)
            return
        good_tags: set[str] = set()
        new = _new_object
        set_tag, set_elements, set_line, set_index = _SETTERS or (None, None, None, None)
        while True:
            batch = self._fast_batch() if _DIRECT_SEGMENTS else None
            if batch is None:
                seg = self._next_segment()
                if seg is None:
                    return
                yield seg
                continue
            texts, line, step = batch
            idx = self._index
            for text in texts:
                idx += 1
                parts = text.split(el)
                tag = parts[0]
                if comp in text:
                    elements = [p.split(comp) for p in parts[1:]]
                else:
                    elements = [[p] for p in parts[1:]]
                seg = new(Segment)
                set_tag(seg, tag)
                set_elements(seg, elements)
                set_line(seg, line)
                set_index(seg, idx)
                if tag in good_tags:
                    self._bad = None
                elif _TAG_RE.match(tag) is None:
                    self._bad = f"{tag[:12]!r} is not a segment tag (2-3 capital letters/digits)"
                else:
                    good_tags.add(tag)
                    self._bad = None
                self._index = idx
                yield seg
                line += step

    def iter_transactions(self) -> Iterator[X12Transaction]:
        """Yield each transaction set as soon as its SE (or whatever ends it) has been read."""
        if self._started:
            raise RuntimeError("iter_transactions() streams the interchange once; it was already called")
        self._started = True
        txn: Optional[X12Transaction] = None
        group: Optional[X12Group] = None
        last = self.isa

        def missing_se(t: X12Transaction, by: Segment) -> X12Transaction:
            self._error("MISSING_SE", f"transaction set {t.set_id} {t.control!r} has no SE before "
                        f"{by.tag}; the set is incomplete", by, t.errors)
            return t

        envelope = _ENVELOPE_TAGS
        for seg in self._segments():
            tag = seg.tag
            last = seg
            if txn is not None and tag not in envelope and self._bad is None:
                txn.segments.append(seg)  # the hot path: transaction set content
                continue
            if self._bad is not None:
                self._error("SYNTAX_ERROR", self._bad, seg, *((txn.errors,) if txn is not None else ()))
                if txn is not None:
                    txn.segments.append(seg)
                continue
            if tag == "ST":
                if txn is not None:
                    yield missing_se(txn, seg)
                txn = X12Transaction(seg.get(0), seg.get(1), group.version if group else "", [seg], group,
                                     seg.get(2))
                self._sink = txn.segments
                if group is None:
                    self._error("SYNTAX_ERROR", "ST outside a functional group (no GS before it)", seg, txn.errors)
                else:
                    group.transaction_count += 1
            elif tag == "SE":
                if txn is None:
                    self._error("SYNTAX_ERROR", "SE without ST", seg)
                    continue
                txn.segments.append(seg)
                self._check_se(txn, seg)
                yield txn
                txn = self._sink = None
            elif tag == "GS":
                if txn is not None:
                    yield missing_se(txn, seg)
                    txn = self._sink = None
                if group is not None:
                    self._error("MISSING_GE", f"group {group.control!r} has no GE before the next GS", seg,
                                group.errors)
                group = X12Group(seg.get(0), seg.get(1), seg.get(2), seg.get(3), seg.get(4), seg.get(5),
                                 seg.get(6), seg.get(7), seg)
                self.groups.append(group)
            elif tag == "GE":
                if txn is not None:
                    yield missing_se(txn, seg)
                    txn = self._sink = None
                if group is None:
                    self._error("SYNTAX_ERROR", "GE without GS", seg)
                    continue
                group.ge = seg
                self._check_count("GE_COUNT_MISMATCH", seg, group.transaction_count, "transaction sets",
                                  group.errors)
                if _control_eq(seg.get(1), group.control) is False:
                    self._error("GE_REF_MISMATCH", f"GE02 {seg.get(1)!r} != GS06 {group.control!r}", seg,
                                group.errors)
                group = None
            elif tag == "IEA":
                if txn is not None:
                    yield missing_se(txn, seg)
                    txn = self._sink = None
                if group is not None:
                    self._error("MISSING_GE", f"group {group.control!r} has no GE before IEA", seg, group.errors)
                    group = None
                self._check_count("IEA_COUNT_MISMATCH", seg, len(self.groups), "functional groups")
                if _control_eq(seg.get(1), self.control_ref) is False:
                    self._error("IEA_REF_MISMATCH", f"IEA02 {seg.get(1)!r} != ISA13 {self.control_ref!r}", seg)
                self.iea = seg
                break
            elif txn is not None:
                txn.segments.append(seg)
            elif tag == "TA1" and group is None:
                self.ta1.append(seg)  # interchange acknowledgment: allowed between ISA and GS
            else:
                self._error("SYNTAX_ERROR", f"segment {tag} outside any transaction set", seg)

        self._sink = None
        if self._read_last is not None and self._read_last.index > last.index:
            last = self._read_last  # transaction set content the accelerator read past this loop
        if self.iea is None:
            if txn is not None:
                yield missing_se(txn, last)
            if group is not None:
                group.errors.append(SkippableError("MISSING_GE", f"group {group.control!r} has no GE",
                                                   _loc(self.filename, last)))
            self._error("MISSING_IEA", f"interchange {self.control_ref!r} ended after this segment without "
                        "IEA; the file is probably truncated; ask the sender to resend", last)
        elif self._single and self._tok.has_more():
            self._error("EXTRA_INTERCHANGE", "data follows IEA; read the file with parse_interchanges() "
                        "to get every interchange", self.iea)
        if self._more_warnings:
            self.warnings.append(f"... and {self._more_warnings} more warnings")
            self._more_warnings = 0
        self.finished = True

    def _check_count(self, code: str, seg: Segment, actual: int, what: str, owner: Optional[list] = None) -> None:
        declared = seg.get(0).strip()
        if not _is_number(declared) or int(declared) != actual:
            self._error(code, f"{seg.tag}01 says {declared!r} {what} but {actual} were found", seg,
                        *((owner,) if owner is not None else ()))

    def _check_se(self, txn: X12Transaction, se: Segment) -> None:
        declared = se.get(0).strip()
        if not _is_number(declared) or int(declared) != len(txn.segments):
            self._error("SE_COUNT_MISMATCH", f"SE01 says {declared!r} segments but transaction set "
                        f"{txn.control!r} has {len(txn.segments)} (ST and SE included)", se, txn.errors)
        if se.get(1) != txn.control:
            self._error("SE_REF_MISMATCH", f"SE02 {se.get(1)!r} != ST02 {txn.control!r}", se, txn.errors)

    def transactions(self) -> list[X12Transaction]:
        """All transaction sets as a list (small files only; not streaming)."""
        return list(self.iter_transactions())


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def _control_eq(a: str, b: str) -> Optional[bool]:
    """Control numbers compare as numbers when both are numeric (``000000001`` == ``1``):
    translators pad GS06/GE02 differently."""
    a, b = a.strip(), b.strip()
    if _is_number(a) and _is_number(b):
        return int(a) == int(b)
    return a == b


def _as_stream(source: Union[bytes, bytearray, memoryview, BinaryIO]) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    return source


def _read_isa(tok: _Tokenizer, single: bool, first: bool) -> Optional[X12Interchange]:
    tok.skip_noise(also_bom=first)
    head = tok.ensure(ISA_LENGTH + 40)
    where = f"{tok.filename}:segment 1 (ISA, line {tok.line})"
    if not head:
        if first:
            raise SkippableError("MISSING_ISA", "the file is empty; expected an X12 interchange starting "
                                 "with ISA", f"{tok.filename}:line 1")
        return None
    if not head.startswith(b"ISA"):
        raise SkippableError("MISSING_ISA", f"expected ISA, the file starts with {head[:12]!r}",
                             f"{tok.filename}:line {tok.line}")
    # the first 105 characters that are not CR/LF: a hard-wrapped file may break the ISA too
    isa = bytearray()
    i = 0
    while len(isa) < ISA_LENGTH - 1 and i < len(head):
        b = head[i]
        if b not in (0x0D, 0x0A):
            isa.append(b)
        i += 1
    if len(isa) < ISA_LENGTH - 1 or i >= len(head):
        raise SkippableError("ISA_INVALID", f"the ISA has {len(isa)} characters before the file ends; it "
                             f"must be {ISA_LENGTH} fixed-width characters", where)
    term = head[i:i + 1]
    isa = bytes(isa)
    sep = isa[3:4]
    bad = [name for name, p in zip(_ISA_NAMES, _ISA_SEP_POS) if isa[p:p + 1] != sep]
    if bad:
        raise SkippableError(
            "ISA_INVALID",
            f"the ISA is not {ISA_LENGTH} fixed-width characters: the element separator {sep.decode('latin-1')!r} "
            f"is not where it should be before {bad[0]} (position {_ISA_SEP_POS[_ISA_NAMES.index(bad[0])] + 1}); "
            "ISA fields are padded to fixed widths; ask the sender to fix their ISA", where)
    comp = isa[104:105]
    version = isa[84:89].decode("latin-1")
    rep = isa[82:83]
    used = [sep, comp, term]
    if version.isdigit() and version >= "00402" and rep not in (b" ",) and not rep.isalnum():
        used.append(rep)
        repetition: Optional[str] = rep.decode("latin-1")
    else:
        repetition = None
    if len(set(used)) != len(used) or any(d.isalnum() or d == b" " for d in used) or term == b"":
        raise SkippableError("ISA_INVALID", f"the ISA defines unusable delimiters (element {sep!r}, component "
                             f"{comp!r}, repetition {rep!r}, terminator {term!r})", where)
    delimiters = X12Delimiters(sep.decode("latin-1"), comp.decode("latin-1"), repetition, term.decode("latin-1"))
    text = bytes(isa).decode("latin-1")
    isa_seg = Segment("ISA", [[p] for p in text.split(delimiters.element)[1:]], tok.line, 1)
    tok.line += head.count(b"\n", 0, i + 1)
    tok.pos += i + 1
    tok.set_terminator(term)
    return X12Interchange(tok, delimiters, isa_seg, single)


def parse_interchanges(source: Union[bytes, BinaryIO], filename: str = "<bytes>", *,
                       chunk_size: int = CHUNK_SIZE,
                       max_segment_bytes: int = MAX_SEGMENT_BYTES) -> Iterator[X12Interchange]:
    """Every ISA..IEA interchange of a file, in order. Consume each one's
    ``iter_transactions()`` before asking for the next (an unconsumed one is drained)."""
    tok = _Tokenizer(_as_stream(source), filename, chunk_size, max_segment_bytes)
    first = True
    while True:
        inter = _read_isa(tok, single=False, first=first)
        if inter is None:
            return
        first = False
        yield inter
        if not inter.finished:
            if inter._started:
                raise RuntimeError("the previous interchange was only partly read; finish "
                                   "iter_transactions() before asking for the next interchange")
            for _ in inter.iter_transactions():
                pass
        # what the tokenizer split with this interchange's terminator goes back as bytes: the
        # next ISA may define other delimiters
        tok.unread(tok.last if inter._next_isa else None)


def parse_interchange(source: Union[bytes, BinaryIO], filename: str = "<bytes>", *,
                      chunk_size: int = CHUNK_SIZE, max_segment_bytes: int = MAX_SEGMENT_BYTES) -> X12Interchange:
    """The first interchange of ``source`` (bytes or a binary stream, read in chunks).

    The ISA is read now (``MISSING_ISA`` / ``ISA_INVALID`` raised here); transaction sets are
    read by ``iter_transactions()``. Data after IEA is reported as ``EXTRA_INTERCHANGE``.
    """
    tok = _Tokenizer(_as_stream(source), filename, chunk_size, max_segment_bytes)
    inter = _read_isa(tok, single=True, first=True)
    assert inter is not None
    return inter
