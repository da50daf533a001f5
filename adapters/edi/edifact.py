"""Streaming EDIFACT parser (ISO 9735 syntax versions 1 to 4).

The parser reads a binary stream in chunks and yields one message at a time, so a 1 GB
interchange costs about one chunk plus one message of memory. It works on *bytes* up to the
point where a segment is complete and only then decodes that segment: the delimiters are
ASCII, so they can be found in UTF-8, latin-1 and ISO 8859-x text alike, and decoding per
segment lets one file carry a UTF-8 NAD next to a latin-1 NAD (it happens, see
``edi-samples/edifact/ORDRSP_D96A_EAN005_wholesale_mixed-utf8-latin1.edi``).

Locations. Every segment carries ``index`` (1-based position in the interchange, UNB is 1;
UNA is a service string advice, not a segment) and ``line`` (1-based physical line of the
file where the segment starts, counting LF). Every error's ``where`` reads
``<filename>:segment <index> (<TAG>, line <line>)``.

Errors (all :class:`~hub.errors.SkippableError`: a broken file is quarantined and the hub
goes on with the next file; nothing here means the hub's own configuration is broken):

raised, because nothing after them can be trusted
    ``MISSING_UNB``      the file is empty or its first segment is not UNB.
    ``SYNTAX_ERROR``     not EDIFACT at all, a truncated UNA, or one segment longer than
                         ``max_segment_bytes`` without a terminator (so hostile input
                         cannot make the parser buffer without bound).
    ``CHARSET_MISMATCH`` only with ``charset_policy="strict"``: a segment's bytes do not
                         fit the charset declared in UNB.

collected into ``Interchange.errors`` (the messages are still yielded; a message whose own
envelope is wrong is yielded with ``Message.errors`` set, never dropped, so the caller can
quarantine exactly that message)
    ``UNT_COUNT_MISMATCH`` / ``UNT_REF_MISMATCH`` / ``MISSING_UNT``  (also on the message)
    ``UNE_COUNT_MISMATCH`` / ``UNE_REF_MISMATCH`` / ``MISSING_UNE``
    ``UNZ_COUNT_MISMATCH`` / ``UNZ_REF_MISMATCH``
    ``MISSING_UNZ``        the file (or the next UNA/UNB) came before UNZ; ``where`` names
                           the last segment read.
    ``SYNTAX_ERROR``       a segment outside any message, or an unterminated last segment.
    ``EXTRA_INTERCHANGE``  :func:`parse_interchange` found more data after UNZ; use
                           :func:`parse_interchanges` for files with several interchanges.

``Interchange.errors`` is complete only once ``iter_messages()`` is exhausted.
"""
from __future__ import annotations

import io
import re
from itertools import repeat
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Iterator, Literal, Optional, Union

from adapters.edi import segments as _segments_module
from adapters.edi.segments import SEGMENT_SETTERS, Segment
from hub.errors import HubError, SkippableError

CHUNK_SIZE = 64 * 1024
#: no real segment comes near this; a bigger one is a missing terminator or hostile input
MAX_SEGMENT_BYTES = 1024 * 1024
#: warnings are evidence, not a log: keep the first ones and count the rest (bounded memory)
MAX_WARNINGS = 100

UTF8_BOM = b"\xef\xbb\xbf"
_NOISE = b"\r\n"
_CR, _LF = 0x0D, 0x0A
_TAG_RE = re.compile(rb"[A-Z0-9]{3}")

# ISO 9735 syntax identifiers -> Python codecs
CHARSETS: dict[str, str] = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOG": "iso8859-3",
    "UNOH": "iso8859-4",
    "UNOI": "iso8859-6",
    "UNOJ": "iso8859-8",
    "UNOK": "iso8859-9",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}
#: declared charsets for which partners are known to send UTF-8 anyway (lenient fallback)
_UTF8_SUSPECTS = {"UNOA", "UNOB", "UNOC"}

CharsetPolicy = Literal["strict", "lenient"]


@dataclass(frozen=True)
class Delimiters:
    """The UNA service string: component, element, decimal mark, release, repetition, terminator.

    ``release`` and ``repetition`` are ``None`` when not used (a space in UNA). The
    repetition separator only means something in syntax 4; in syntax 3 UNA position 5 is
    reserved.
    """

    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: Optional[str] = "?"
    repetition: Optional[str] = None
    terminator: str = "'"

    @classmethod
    def from_una(cls, una: bytes) -> "Delimiters":
        chars = una[3:9].decode("latin-1")
        release = None if chars[3] == " " else chars[3]
        repetition = None if chars[4] == " " else chars[4]
        return cls(chars[0], chars[1], chars[2], release, repetition, chars[5])

    def una(self) -> str:
        return "UNA" + self.component + self.element + self.decimal + (self.release or " ") + (
            self.repetition or " ") + self.terminator


DEFAULT_DELIMITERS = Delimiters()


@dataclass
class Message:
    """One UNH..UNT message; ``segments`` includes UNH and UNT.

    ``errors`` holds this message's own envelope failures (UNT count/reference, missing
    UNT); a message with errors is still yielded so the caller can quarantine it.
    """

    type: str
    version: str
    release: str
    agency: str
    assoc_code: str
    ref: str
    segments: list[Segment]
    group_ref: Optional[str] = None
    errors: list[HubError] = field(default_factory=list)

    @property
    def error(self) -> Optional[HubError]:
        return self.errors[0] if self.errors else None

    @property
    def ok(self) -> bool:
        return not self.errors


def detect_format(head: bytes) -> Optional[str]:
    """``"edifact"`` if ``head`` (after BOM and whitespace) starts with UNA or UNB, ``"x12"``
    for ISA, else ``None``. A few dozen bytes are enough."""
    body = head[3:] if head.startswith(UTF8_BOM) else head
    body = body.lstrip(b" \t\r\n")
    if body.startswith((b"UNA", b"UNB")):
        return "edifact"
    if body.startswith(b"ISA"):
        return "x12"
    return None


class _Tokenizer:
    """Splits a byte stream into raw segments, honouring the release character.

    Keeps ``buf[pos:]`` as the unread bytes; reads more only when no terminator is left, and
    compacts then, so memory is one chunk plus the longest segment.
    """

    def __init__(self, stream: BinaryIO, filename: str, chunk_size: int, max_segment: int) -> None:
        self.stream = stream
        self.filename = filename
        self.chunk_size = chunk_size
        self.max_segment = max_segment
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.line = 1  # physical line at self.pos
        self.term = ord("'")
        self.rel: Optional[int] = ord("?")
        # state of the last segment handed out, so that it can be pushed back (new UNB/UNA)
        self._last_pos = 0
        self._last_line = 1
        self.unterminated = False

    # -- raw buffer access -------------------------------------------------------------
    def _fill(self) -> bool:
        """Read one more chunk; False at end of stream."""
        if self.eof:
            return False
        chunk = self.stream.read(self.chunk_size)
        if not chunk:
            self.eof = True
            return False
        if self.pos:
            self.buf = self.buf[self.pos:] + chunk
            self.pos = 0
        else:
            self.buf += chunk
        return True

    def ensure(self, n: int) -> bytes:
        """At least ``n`` unread bytes if the stream has them; returns the unread view."""
        while len(self.buf) - self.pos < n and self._fill():
            pass
        return self.buf[self.pos:self.pos + n]

    def skip_noise(self, also_bom: bool = False) -> None:
        """Skip CR/LF/blanks (and, at file start, a UTF-8 BOM) before an interchange."""
        while True:
            if self.pos >= len(self.buf) and not self._fill():
                return
            if also_bom:
                also_bom = False
                if self.ensure(3) == UTF8_BOM:
                    self.pos += 3
                continue
            b = self.buf[self.pos]
            if b not in b" \t\r\n":
                return
            if b == _LF:
                self.line += 1
            self.pos += 1

    def at_eof(self) -> bool:
        return not self.ensure(1)

    def set_delimiters(self, d: Delimiters) -> None:
        self.term = ord(d.terminator)
        self.rel = ord(d.release) if d.release else None

    def push_back(self) -> None:
        self.pos, self.line = self._last_pos, self._last_line

    def where(self, what: str) -> str:
        return f"{self.filename}:{what}"

    # -- segments -------------------------------------------------------------------
    def _released(self, i: int) -> bool:
        """True if the terminator at ``buf[i]`` is escaped: an odd run of release
        characters before it, looking through CR/LF a wrapped file may have put between."""
        buf, rel, j = self.buf, self.rel, i - 1
        while j >= self.pos and buf[j] in _NOISE:
            j -= 1
        n = 0
        while j >= self.pos and buf[j] == rel:
            n += 1
            j -= 1
        return n % 2 == 1

    def next_raw(self) -> Optional[tuple[bytes, int]]:
        """Next segment's bytes (terminator and CR/LF removed) and its start line, or None at
        end of stream. Raises SYNTAX_ERROR for an over-long segment; an unterminated tail is
        returned as ``(bytes, line)`` with ``self.unterminated`` set."""
        self.unterminated = False
        search = self.pos
        while True:
            i = self.buf.find(self.term, search) if self.term is not None else -1
            if i == -1:
                if len(self.buf) - self.pos > self.max_segment:
                    raise SkippableError(
                        "SYNTAX_ERROR",
                        f"no segment terminator within {self.max_segment} bytes; the file is not "
                        "EDIFACT or its terminator differs from UNA/default; ask the sender to check",
                        self.where(f"line {self._start_line(self.buf[self.pos:])}"),
                    )
                search_rel = len(self.buf) - self.pos
                if not self._fill():
                    tail = self.buf[self.pos:]
                    if not tail.strip(b" \t\r\n\x1a\x00"):
                        self.pos = len(self.buf)
                        return None
                    self.unterminated = True
                    self._last_pos, self._last_line = self.pos, self.line
                    line = self._start_line(tail)
                    self.line += tail.count(b"\n")
                    self.pos = len(self.buf)
                    return self._clean(tail), line
                search = self.pos + max(search_rel - 1, 0)
                continue
            if self.rel is not None and i > self.pos and (
                self.buf[i - 1] == self.rel or self.buf[i - 1] in _NOISE
            ) and self._released(i):
                search = i + 1
                continue
            raw = self.buf[self.pos:i]
            self._last_pos, self._last_line = self.pos, self.line
            self.pos = i + 1
            line = self.line
            # hot path, inlined: most raws are "\r\nTAG+..." (the line end after the previous
            # terminator) or have no noise at all
            if b"\n" in raw or b"\r" in raw:
                body = raw.lstrip(b" \t\r\n")
                lead = len(raw) - len(body)
                if lead:
                    line += raw.count(b"\n", 0, lead)
                self.line += raw.count(b"\n")
                if b"\n" in body or b"\r" in body:  # 80-column wrap inside the segment
                    body = body.replace(b"\r", b"").replace(b"\n", b"")
                return body, line
            if raw[:1] in b" \t" and raw:
                raw = raw.lstrip(b" \t")
            return raw, line

    def _start_line(self, raw: bytes) -> int:
        stripped = raw.lstrip(b" \t\r\n")
        lead = len(raw) - len(stripped)
        return self.line + (raw.count(b"\n", 0, lead) if lead else 0)

    @staticmethod
    def _clean(raw: bytes) -> bytes:
        # EDIFACT data never carries raw CR/LF: they are line-end or 80-column wrap noise
        if b"\n" in raw or b"\r" in raw:
            raw = raw.replace(b"\r", b"").replace(b"\n", b"")
        return raw.lstrip(b" \t")


_PH_ELEMENT, _PH_COMPONENT, _PH_REPEAT = "\ue000", "\ue001", "\ue002"  # stand-ins for released delimiters
_PLACEHOLDERS = (_PH_ELEMENT, _PH_COMPONENT, _PH_REPEAT)
_RELEASE_RX: dict[str, re.Pattern[str]] = {}
_str_split = str.split
#: the service segments iter_messages() has to look at; every other tag is message content
_SERVICE_TAGS = frozenset({"UNA", "UNB", "UNH", "UNT", "UNG", "UNE", "UNZ"})

Repetitions = Optional[dict[int, list[list[str]]]]


@dataclass(frozen=True, slots=True)
class EdifactSegment(Segment):
    """A segment with repeated data elements (syntax 4 repetition separator).

    ``elements[i]`` keeps the first occurrence, so mappings that address ``TAG.i.j`` read
    the first repetition exactly as they would read a non-repeated element;
    ``repetitions[i]`` lists *every* occurrence of element ``i`` (the first included), each
    as its list of components. Only elements that really repeat are keys. Segments without
    repetitions are plain :class:`Segment`; use :func:`repetitions` to read either kind.
    """

    repetitions: dict[int, list[list[str]]] = field(default_factory=dict)


def repetitions(seg: Segment, element: int) -> list[list[str]]:
    """Every occurrence of data element ``element`` (0-based, after the tag) of ``seg``:
    ``[components]`` for an element that does not repeat, ``[]`` when it is absent."""
    reps = getattr(seg, "repetitions", None)
    if reps and element in reps:
        return reps[element]
    if element < len(seg.elements):
        return [seg.elements[element]]
    return []


def _split(text: str, d: Delimiters) -> tuple[str, list[list[str]], Repetitions]:
    """Split one decoded segment (no terminator) into tag, elements/components and the
    repetitions of repeated elements (``None`` when nothing repeats).

    A release character makes the next character literal, whatever it is; released element,
    component and repetition separators are swapped for private-use stand-ins, the text is
    split with str.split (fast), and the stand-ins are put back. Text that already contains a
    stand-in takes the slow character loop instead, so no data can be mistaken for a delimiter.
    """
    rel, rep = d.release, d.repetition
    if (rel is None or rel not in text) and (rep is None or rep not in text):
        elements = [e.split(d.component) for e in text.split(d.element)]
        return elements[0][0], elements[1:], None
    if any(ph in text for ph in _PLACEHOLDERS):
        return _split_slow(text, d)
    el, comp = d.element, d.component
    released = rel is not None and rel in text
    if released:
        rx = _RELEASE_RX.get(rel)  # type: ignore[arg-type]
        if rx is None:
            rx = _RELEASE_RX[rel] = re.compile(re.escape(rel) + "(.)?", re.S)  # type: ignore[index]

        def unrelease(m: re.Match[str]) -> str:
            ch = m.group(1)
            if ch == el:
                return _PH_ELEMENT
            if ch == comp:
                return _PH_COMPONENT
            if ch is not None and ch == rep:
                return _PH_REPEAT
            return ch or ""  # a release at the very end releases nothing: drop it

        text = rx.sub(unrelease, text)
    elements: list[list[str]] = []
    reps: Repetitions = None
    for i, e in enumerate(text.split(el)):
        if rep is not None and rep in e:
            occurrences = [o.split(comp) for o in e.split(rep)]
            if reps is None:
                reps = {}
            reps[i - 1] = occurrences
            elements.append(occurrences[0])
        else:
            elements.append(e.split(comp))
    if released:
        back = {_PH_ELEMENT: el, _PH_COMPONENT: comp, _PH_REPEAT: rep or ""}

        def restore(comps: list[str]) -> list[str]:
            return [_restore(c, back) for c in comps]

        elements = [restore(c) for c in elements]
        if reps is not None:
            reps = {i: [restore(o) for o in occ] for i, occ in reps.items()}
            for i, occ in reps.items():  # keep elements[i] and repetitions[i][0] one object
                elements[i + 1] = occ[0]
    if reps is not None:
        reps.pop(-1, None)  # a separator inside the tag is not a repetition of an element
    return elements[0][0], elements[1:], reps


def _restore(c: str, back: dict[str, str]) -> str:
    for ph, ch in back.items():
        if ph in c:
            c = c.replace(ph, ch)
    return c


def _split_slow(text: str, d: Delimiters) -> tuple[str, list[list[str]], Repetitions]:
    elements: list[list[str]] = []
    occurrences: list[list[str]] = []
    comps: list[str] = []
    cur: list[str] = []
    reps: dict[int, list[list[str]]] = {}
    rep = d.repetition
    it = iter(text)
    for ch in it:
        if ch == d.release:
            cur.append(next(it, ""))  # release before anything makes it literal
        elif ch == d.component:
            comps.append("".join(cur))
            cur = []
        elif rep is not None and ch == rep:
            comps.append("".join(cur))
            occurrences.append(comps)
            comps, cur = [], []
        elif ch == d.element:
            comps.append("".join(cur))
            if occurrences:
                occurrences.append(comps)
                reps[len(elements) - 1] = occurrences
                comps = occurrences[0]
            elements.append(comps)
            comps, cur, occurrences = [], [], []
        else:
            cur.append(ch)
    comps.append("".join(cur))
    if occurrences:
        occurrences.append(comps)
        reps[len(elements) - 1] = occurrences
        comps = occurrences[0]
    elements.append(comps)
    reps.pop(-1, None)
    return elements[0][0], elements[1:], reps or None


_new_object = object.__new__
#: Segment's slot setters (None if it stops being a plain slotted dataclass): the batch loop
#: fills a new instance with them, at half the cost of the frozen dataclass __init__
_SETTERS = SEGMENT_SETTERS
_DIRECT_SEGMENTS = _SETTERS is not None


#: what follows the terminator between two batch segments, by separator length
_LINE_ENDS = {1: b"", 2: b"\n", 3: b"\r\n"}


def _batch_end(buf: bytes, pos: int, term: bytes) -> int:
    """The index of the last terminator a batch starting at ``pos`` may take, or -1: never
    past the first UNZ, never into a UNB/UNA (the next interchange may have other
    delimiters). A marker inside data only ends a batch early. (The accelerator's
    ``batch_end`` finds the same in one pass.)"""
    end = buf.rfind(term, pos)
    if end <= pos:
        return -1
    k = buf.find(b"UNZ", pos, end)
    if k >= 0:
        end = buf.find(term, k, end + 1)
    for marker in (b"UNB", b"UNA"):
        k = buf.find(marker, pos, end)
        if k >= 0:
            end = buf.rfind(term, pos, k)
            if end <= pos:
                return -1
    return end


def _region_shape(region: bytes, term: bytes, rel: Optional[bytes]) -> Optional[tuple[int, int, int, int, bool]]:
    """Whether a batch region (complete segments, last terminator cut off) has the plain
    shape the batch path needs: one segment per line or all on one line, no blank lines,
    wraps or indentation, no release character before a terminator or line end. Returns
    ``(lead, newlines in lead, newlines in body, separator length, body is ASCII)`` where
    body is the region without its leading blanks/line ends, or None. (The accelerator's
    ``region_shape`` computes the same in a few memchr passes.)"""
    if rel is not None and rel in region and (region.endswith(rel) or rel + term in region
                                              or rel + b"\n" in region or rel + b"\r" in region):
        return None
    body = region.lstrip(b" \t\r\n")
    if not body:
        return None
    lead = len(region) - len(body)
    lead_nl = region.count(b"\n", 0, lead) if lead else 0
    nl = body.count(b"\n")
    if nl == 0 and b"\r" not in body:
        if term + b" " in body or term + b"\t" in body:
            return None
        return lead, lead_nl, 0, 1, body.isascii()
    sep = term + (b"\r\n" if b"\r" in body else b"\n")
    # every line end must sit right after a terminator, and every terminator before one
    if (body.count(sep) != nl or body.count(term) != nl or body.count(b"\r") != body.count(b"\r\n")
            or (len(sep) == 3 and body.count(b"\r") != nl)
            or b"\n " in body or b"\n\t" in body):
        return None
    return lead, lead_nl, nl, len(sep), body.isascii()


def _make_segment(tag: str, elements: list[list[str]], line: int, index: int,
                  reps: Repetitions) -> Segment:
    if reps:
        return EdifactSegment(tag, elements, line, index, reps)
    return Segment(tag, elements, line, index)


class Interchange:
    """One UNB..UNZ interchange read lazily from a stream.

    Header fields are filled when the object is created; ``iter_messages()`` streams the
    body exactly once. ``errors`` and ``warnings`` are complete after it is exhausted.
    """

    def __init__(self, tok: _Tokenizer, delimiters: Delimiters, unb: Segment, charset_policy: str,
                 single: bool) -> None:
        self._tok = tok
        self._single = single
        self.filename = tok.filename
        self.delimiters = delimiters
        self.charset_policy = charset_policy
        self.syntax = unb.get(0, 0)
        self.syntax_version = unb.get(0, 1)
        self.sender = unb.get(1, 0)
        self.sender_qualifier = unb.get(1, 1)
        self.recipient = unb.get(2, 0)
        self.recipient_qualifier = unb.get(2, 1)
        self.prepared: tuple[str, str] = (unb.get(3, 0), unb.get(3, 1))
        self.control_ref = unb.get(4, 0)
        self.unb = unb
        self.unz: Optional[Segment] = None
        self.errors: list[HubError] = []
        self.warnings: list[str] = []
        self._more_warnings = 0
        self._charset = CHARSETS.get(self.syntax)
        if self._charset is None:
            self._warn(f"unknown syntax identifier {self.syntax!r}; decoding as UTF-8, else latin-1")
        self._index = 1  # UNB
        self._started = False
        self.finished = False
        # batch fast path (see _fast_batch): needs a bounded segment, i.e. a buffer of at most
        # two chunks that stays below the segment cap
        self._fast = 2 * tok.chunk_size <= tok.max_segment
        self._term_b = delimiters.terminator.encode("latin-1")
        self._rel_b = delimiters.release.encode("latin-1") if delimiters.release else None
        # the C accelerator splits bytes, so it takes only ASCII delimiters (any others: Python)
        used = [c for c in (delimiters.component, delimiters.element, delimiters.release,
                            delimiters.repetition, delimiters.terminator) if c]
        self._speedups = _segments_module.speedups() if all(c.isascii() for c in used) else None
        self._sink: Optional[list[Segment]] = None  # the open message's segments (accelerator)
        self._read_last: Optional[Segment] = None  # last segment the accelerator read

    # -- helpers ---------------------------------------------------------------------
    def _warn(self, text: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        else:
            self._more_warnings += 1

    def _loc(self, seg: Segment) -> str:
        return f"{self.filename}:segment {seg.index} ({seg.tag}, line {seg.line})"

    def _error(self, code: str, message: str, seg: Segment) -> SkippableError:
        err = SkippableError(code, message, self._loc(seg))
        self.errors.append(err)
        return err

    def _decode(self, raw: bytes, line: int) -> str:
        if raw.isascii():
            return raw.decode("ascii")
        tag = raw.lstrip(b" \t")[:3].decode("latin-1")
        where = f"{self.filename}:segment {self._index} ({tag}, line {line})"
        declared = self._charset
        if declared is not None and declared != "ascii":
            try:
                text = raw.decode(declared)
            except UnicodeDecodeError:
                text = None
            if text is not None and not (self.syntax in _UTF8_SUSPECTS and _is_utf8(raw)):
                return text
        # declared charset does not fit, or latin-1 text that is really UTF-8
        if self.charset_policy == "strict" and declared is not None:
            raise SkippableError(
                "CHARSET_MISMATCH",
                f"bytes do not match the declared charset {self.syntax} ({declared}); ask the "
                "sender to declare the charset they use (e.g. UNOW/UNOY for UTF-8)",
                where,
            )
        if _is_utf8(raw):
            self._warn(f"{where}: declared {self.syntax} but bytes are UTF-8; decoded as UTF-8")
            return raw.decode("utf-8")
        self._warn(f"{where}: bytes are neither {self.syntax} nor UTF-8; decoded as latin-1")
        return raw.decode("latin-1")

    def _next_segment(self) -> Optional[Segment]:
        """The careful path: one segment at a time, any noise, release anywhere."""
        item = self._tok.next_raw()
        if item is None:
            return None
        raw, line = item
        self._index += 1
        if self._tok.unterminated:
            seg = Segment(raw[:3].decode("latin-1"), [], line, self._index)
            self._error("SYNTAX_ERROR", "last segment has no terminator; the file is probably "
                        "truncated; ask the sender to resend", seg)
            return None
        text = self._decode(raw, line)
        tag, elements, reps = _split(text, self.delimiters)
        return _make_segment(tag, elements, line, self._index, reps)

    def _fast_batch(self) -> Optional[tuple[list[str], int, int, bool]]:
        """The text of every complete segment in the buffer (with the first one's line, the
        line step per segment and whether any needs release/repetition handling), or None
        to take the careful path (see :meth:`_fast_region`)."""
        region = self._fast_region()
        if region is None:
            return None
        body, sep, line, step = region
        if body.isascii():
            # latin-1: a non-ASCII terminator cannot be in an ASCII body (one segment), nothing to split
            texts = body.decode("ascii").split(sep.decode("latin-1"))
        else:  # lenient policy (_fast_region refuses non-ASCII under the strict one)
            texts = []
            first = idx = self._index
            ln = line
            for raw in body.split(sep):
                idx += 1
                if raw.isascii():
                    texts.append(raw.decode("ascii"))
                else:
                    self._index = idx  # _decode names the segment in its warning
                    texts.append(self._decode(raw, ln))
                ln += step
            self._index = first
        rel, rep = self._rel_b, self.delimiters.repetition
        careful = (rel is not None and rel in body) or (rep is not None and any(rep in t for t in texts))
        return texts, line, step, careful

    def _fast_region(self) -> Optional[tuple[bytes, bytes, int, int]]:
        """The bytes of every complete segment in the buffer, the separator between two
        segments (terminator plus line end), the first segment's line and the line step per
        segment; or None to take the careful path. The tokenizer is moved past them.

        The common file is one segment per line (or none per line), with no released
        terminator: then the buffer up to its last terminator splits with one bytes.split,
        decodes with one ascii decode, and line numbers go up by one per segment. Whatever
        does not fit that shape exactly (a release before a terminator or line end, blank
        lines, wraps, leading blanks, UNA/UNB of a next interchange, non-ASCII bytes under
        the strict charset policy) is left to _next_segment, which handles it one segment
        at a time. A batch never reaches past a UNZ, so the next interchange (which may have
        other delimiters) is read with its own.
        """
        tok = self._tok
        buf, pos = tok.buf, tok.pos
        if len(buf) - pos < tok.chunk_size and not tok.eof:
            tok._fill()
            buf, pos = tok.buf, tok.pos
        term = self._term_b
        speedups = self._speedups
        end = speedups.batch_end(buf, pos, term[0], False) if speedups is not None else _batch_end(buf, pos, term)
        if end < 0:
            return None
        region = buf[pos:end]
        if speedups is not None:
            shape = speedups.region_shape(region, term[0], self._rel_b[0] if self._rel_b else -1, False)
        else:
            shape = _region_shape(region, term, self._rel_b)
        if shape is None:
            return None
        lead, lead_nl, nl, sep_len, ascii = shape
        if self.charset_policy == "strict" and not ascii:
            return None  # raise CHARSET_MISMATCH at its own segment, after the ones before it
        body = region[lead:] if lead else region
        line = tok.line + lead_nl
        sep = term + _LINE_ENDS[sep_len]
        step = 1 if sep_len > 1 else 0
        tok._last_pos, tok._last_line = pos, tok.line
        tok.pos = end + 1
        tok.line = line + nl
        return body, sep, line, step

    def _special_segment(self, raw: bytes, line: int, index: int) -> Segment:
        """One batch segment the accelerator leaves to Python: non-ASCII bytes (decoded, with
        the charset warning), release or repetition characters."""
        self._index = index  # _decode names the segment in its warning
        text = raw.decode("ascii") if raw.isascii() else self._decode(raw, line)
        tag, elements, reps = _split(text, self.delimiters)
        return _make_segment(tag, elements, line, index, reps)

    def _compiled_segments(self, speedups) -> Iterator[Segment]:
        """:meth:`_segments` with the C accelerator: a validated batch is split and built in
        C, and message content goes straight into the open message (``self._sink``); only
        service segments and segments outside a message come back here."""
        d = self.delimiters
        args = (ord(d.element), ord(d.component), ord(d.release) if d.release else -1,
                ord(d.repetition) if d.repetition else -1, False)
        batch_type = speedups.SegmentBatch
        special = self._special_segment
        while True:
            region = self._fast_region()
            if region is None:
                seg = self._next_segment()
                if seg is None:
                    return
                yield seg
                continue
            body, sep, line, step = region
            batch = batch_type(body, sep, *args, line, step, self._index, special, _SERVICE_TAGS)
            fill = batch.fill
            while True:
                seg = fill(self._sink)
                self._index = batch.index
                if seg is None:
                    break
                yield seg
            self._read_last = batch.last

    def _segments(self) -> Iterator[Segment]:
        """Segments one by one, never a batch of them at once: a list of thousands of
        Segment objects would outlive the young GC generations and make every full
        collection walk them (measured: a third of the parse time)."""
        fast = self._fast
        if fast and self._speedups is not None:
            yield from self._compiled_segments(self._speedups)
            return
        d = self.delimiters
        el, comps, rel, rep = d.element, repeat(d.component), d.release, d.repetition
        split = _str_split
        new = _new_object
        set_tag, set_elements, set_line, set_index = _SETTERS or (None, None, None, None)
        while True:
            batch = self._fast_batch() if fast else None
            if batch is None:
                seg = self._next_segment()
                if seg is None:
                    return
                yield seg
                continue
            texts, line, step, careful = batch
            idx = self._index
            if _DIRECT_SEGMENTS and not careful:
                for text in texts:
                    idx += 1
                    parts = list(map(split, text.split(el), comps))
                    seg = new(Segment)
                    set_tag(seg, parts[0][0])
                    set_elements(seg, parts[1:])
                    set_line(seg, line)
                    set_index(seg, idx)
                    self._index = idx
                    yield seg
                    line += step
            else:
                for text in texts:
                    idx += 1
                    if (rel is not None and rel in text) or (rep is not None and rep in text):
                        tag, elements, reps = _split(text, d)
                        seg = _make_segment(tag, elements, line, idx, reps)
                    elif _DIRECT_SEGMENTS:
                        parts = list(map(split, text.split(el), comps))
                        seg = new(Segment)
                        set_tag(seg, parts[0][0])
                        set_elements(seg, parts[1:])
                        set_line(seg, line)
                        set_index(seg, idx)
                    else:
                        parts = list(map(split, text.split(el), comps))
                        seg = Segment(parts[0][0], parts[1:], line, idx)
                    self._index = idx
                    yield seg
                    line += step

    # -- the body ----------------------------------------------------------------------
    def iter_messages(self) -> Iterator[Message]:
        """Yield each message as soon as its UNT (or whatever ends it) has been read."""
        if self._started:
            raise RuntimeError("iter_messages() streams the interchange once; it was already called")
        self._started = True
        msg: Optional[Message] = None
        group: Optional[Segment] = None
        group_count = 0
        groups = 0
        messages = 0
        last: Segment = self.unb

        def close_missing_unt(m: Message, by: Segment) -> Message:
            err = self._error("MISSING_UNT", f"message {m.ref!r} ({m.type}) has no UNT before "
                              f"{by.tag}; the message is incomplete", by)
            m.errors.append(err)
            return m

        append = None  # msg.segments.append while a message is open
        service = _SERVICE_TAGS
        for seg in self._segments():
            tag = seg.tag
            if tag not in service:
                # the hot path: message content (UNS included, it is a section separator)
                last = seg
                if append is not None:
                    append(seg)
                else:
                    self._error("SYNTAX_ERROR", f"segment {tag} outside any message", seg)
                continue
            if tag in ("UNB", "UNA"):
                # a new interchange started without UNZ: leave it for parse_interchanges
                self._tok.push_back()
                self._index -= 1
                break
            last = seg
            if tag == "UNH":
                if msg is not None:
                    yield close_missing_unt(msg, seg)
                msg = Message(seg.get(1, 0), seg.get(1, 1), seg.get(1, 2), seg.get(1, 3), seg.get(1, 4),
                              seg.get(0, 0), [seg], group.get(4, 0) if group is not None else None)
                append = msg.segments.append
                self._sink = msg.segments
                messages += 1
                group_count += 1
            elif tag == "UNT":
                if msg is None:
                    self._error("SYNTAX_ERROR", "UNT without UNH", seg)
                    continue
                msg.segments.append(seg)
                self._check_unt(msg, seg)
                yield msg
                msg = append = self._sink = None
            elif tag == "UNG":
                if msg is not None:
                    yield close_missing_unt(msg, seg)
                    msg = append = self._sink = None
                if group is not None:
                    self._error("MISSING_UNE", f"group {group.get(4, 0)!r} has no UNE before the next UNG", seg)
                group, group_count = seg, 0
                groups += 1
            elif tag == "UNE":
                if msg is not None:
                    yield close_missing_unt(msg, seg)
                    msg = append = self._sink = None
                if group is None:
                    self._error("SYNTAX_ERROR", "UNE without UNG", seg)
                    continue
                self._check_count("UNE_COUNT_MISMATCH", seg, group_count, "messages in the group")
                if seg.get(1, 0) != group.get(4, 0):
                    self._error("UNE_REF_MISMATCH", f"UNE reference {seg.get(1, 0)!r} != UNG reference "
                                f"{group.get(4, 0)!r}", seg)
                group = None
            elif tag == "UNZ":
                if msg is not None:
                    yield close_missing_unt(msg, seg)
                    msg = append = self._sink = None
                if group is not None:
                    self._error("MISSING_UNE", f"group {group.get(4, 0)!r} has no UNE before UNZ", seg)
                # ISO 9735: UNZ counts groups when groups are used, else messages
                self._check_count("UNZ_COUNT_MISMATCH", seg, groups if groups else messages,
                                  "functional groups" if groups else "messages")
                if seg.get(1, 0) != self.control_ref:
                    self._error("UNZ_REF_MISMATCH", f"UNZ reference {seg.get(1, 0)!r} != UNB reference "
                                f"{self.control_ref!r}", seg)
                self.unz = seg
                break

        self._sink = None
        if self._read_last is not None and self._read_last.index > last.index:
            last = self._read_last  # message content the accelerator read past this loop
        if self.unz is None:
            if msg is not None:
                yield close_missing_unt(msg, last)
            self._error("MISSING_UNZ", f"interchange {self.control_ref!r} ended after this segment "
                        "without UNZ; the file is probably truncated; ask the sender to resend", last)
        elif self._single:
            self._tok.skip_noise()
            if not self._tok.at_eof():
                self._error("EXTRA_INTERCHANGE", "data follows UNZ; read the file with "
                            "parse_interchanges() to get every interchange", self.unz)
        if self._more_warnings:
            self.warnings.append(f"... and {self._more_warnings} more charset warnings")
            self._more_warnings = 0
        self.finished = True

    def _check_count(self, code: str, seg: Segment, actual: int, what: str) -> None:
        declared = seg.get(0, 0)
        if not _is_number(declared) or int(declared) != actual:
            self._error(code, f"{seg.tag} says {declared!r} {what} but {actual} were found", seg)

    def _check_unt(self, msg: Message, unt: Segment) -> None:
        declared = unt.get(0, 0)
        if not _is_number(declared) or int(declared) != len(msg.segments):
            msg.errors.append(self._error(
                "UNT_COUNT_MISMATCH", f"UNT says {declared!r} segments but message {msg.ref!r} has "
                f"{len(msg.segments)} (UNH and UNT included)", unt))
        if unt.get(1, 0) != msg.ref:
            msg.errors.append(self._error(
                "UNT_REF_MISMATCH", f"UNT reference {unt.get(1, 0)!r} != UNH reference {msg.ref!r}", unt))

    def messages(self) -> list[Message]:
        """All messages as a list (convenience for small files; not streaming)."""
        return list(self.iter_messages())


def _is_number(text: str) -> bool:
    """ASCII digits only: str.isdigit() also accepts '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _as_stream(source: Union[bytes, bytearray, memoryview, BinaryIO]) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    return source


def _read_header(tok: _Tokenizer, charset_policy: str, single: bool, first: bool) -> Optional[Interchange]:
    """Read optional UNA and the UNB; None at clean end of stream (after a first interchange)."""
    tok.skip_noise(also_bom=first)
    head = tok.ensure(9)
    if not head:
        if first:
            raise SkippableError("MISSING_UNB", "the file is empty; expected an EDIFACT interchange "
                                 "starting with UNA or UNB", tok.where("line 1"))
        return None
    delimiters = DEFAULT_DELIMITERS
    if head.startswith(b"UNA"):
        if len(head) < 9:
            raise SkippableError("SYNTAX_ERROR", f"UNA service string advice is truncated ({head!r}); "
                                 "it needs 6 characters", tok.where(f"line {tok.line}"))
        delimiters = Delimiters.from_una(head)
        used = [c for c in (delimiters.component, delimiters.element, delimiters.release,
                            delimiters.terminator) if c]
        if len(set(used)) != len(used) or any(c.isalnum() or c in "\r\n" for c in used):
            raise SkippableError("SYNTAX_ERROR", f"UNA {head!r} defines unusable delimiters",
                                 tok.where(f"line {tok.line}"))
        tok.pos += 9
        tok.skip_noise()
        head = tok.ensure(4)
        if not head:
            raise SkippableError("MISSING_UNB", "the file ends after UNA; expected UNB",
                                 tok.where(f"line {tok.line}"))
    if not head.startswith(b"UNB"):
        if _TAG_RE.match(head[:3]) and len(head) > 3 and head[3:4] == delimiters.element.encode():
            raise SkippableError("MISSING_UNB", f"the first segment is {head[:3].decode()}, expected UNB",
                                 tok.where(f"line {tok.line}"))
        raise SkippableError("SYNTAX_ERROR", f"not an EDIFACT interchange (starts with {head[:9]!r})",
                             tok.where(f"line {tok.line}"))
    tok.set_delimiters(delimiters)
    item = tok.next_raw()
    assert item is not None  # head starts with UNB, so there are bytes
    raw, line = item
    if tok.unterminated:
        raise SkippableError("SYNTAX_ERROR", "UNB has no segment terminator", tok.where(f"line {line}"))
    # the UNB names the charset and the syntax version, so it is read as latin-1 (never fails)
    # without a repetition separator, and re-read below once both are known
    tag, elements, _ = _split(raw.decode("latin-1"), replace(delimiters, repetition=None))
    unb = Segment(tag, elements, line, 1)
    if unb.get(0, 1) == "4":
        if delimiters is DEFAULT_DELIMITERS:
            # syntax 4 without UNA: the repetition separator defaults to '*'
            delimiters = Delimiters(repetition="*")
    elif delimiters.repetition is not None:
        # before syntax 4, UNA position 5 is reserved: whatever it holds is not a separator
        delimiters = replace(delimiters, repetition=None)
    inter = Interchange(tok, delimiters, unb, charset_policy, single)
    if not raw.isascii() or delimiters.repetition is not None:
        tag, elements, reps = _split(inter._decode(raw, line), delimiters)
        inter.unb = unb = _make_segment(tag, elements, line, 1, reps)
        inter.sender, inter.recipient = unb.get(1, 0), unb.get(2, 0)
    return inter


def parse_interchanges(source: Union[bytes, BinaryIO], filename: str = "<bytes>",
                       charset_policy: CharsetPolicy = "lenient", *, chunk_size: int = CHUNK_SIZE,
                       max_segment_bytes: int = MAX_SEGMENT_BYTES) -> Iterator[Interchange]:
    """Every interchange of a file, one after the other (a file may hold several UNB..UNZ).

    Each interchange must be consumed (``iter_messages()``) before the next is requested,
    like :func:`itertools.groupby`; an unconsumed one is drained (its messages are lost to
    the caller, its errors kept) so that the stream position stays right.
    """
    if charset_policy not in ("strict", "lenient"):
        raise ValueError(f"charset_policy must be 'strict' or 'lenient', not {charset_policy!r}")
    tok = _Tokenizer(_as_stream(source), filename, chunk_size, max_segment_bytes)
    first = True
    while True:
        inter = _read_header(tok, charset_policy, single=False, first=first)
        if inter is None:
            return
        first = False
        yield inter
        if not inter.finished:
            for _ in inter.iter_messages() if not inter._started else ():
                pass
            if not inter.finished:
                raise RuntimeError("the previous interchange was only partly read; finish "
                                   "iter_messages() before asking for the next interchange")


def parse_interchange(source: Union[bytes, BinaryIO], filename: str = "<bytes>",
                      charset_policy: CharsetPolicy = "lenient", *, chunk_size: int = CHUNK_SIZE,
                      max_segment_bytes: int = MAX_SEGMENT_BYTES) -> Interchange:
    """The first interchange of ``source`` (bytes or a binary stream read in chunks).

    The header (UNA, UNB) is read now, so ``MISSING_UNB``/``SYNTAX_ERROR`` for a non-EDIFACT
    file are raised here; messages are read by ``iter_messages()``. Data after UNZ is
    reported as ``EXTRA_INTERCHANGE`` in ``errors`` rather than silently ignored.
    """
    if charset_policy not in ("strict", "lenient"):
        raise ValueError(f"charset_policy must be 'strict' or 'lenient', not {charset_policy!r}")
    tok = _Tokenizer(_as_stream(source), filename, chunk_size, max_segment_bytes)
    inter = _read_header(tok, charset_policy, single=True, first=True)
    assert inter is not None
    return inter
