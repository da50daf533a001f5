"""Translate one inbound file into canonical documents, collecting every problem as data.

``translate`` is the pure core behind ``hub translate`` and the inbound DAG: bytes in,
documents + errors + warnings out. It never stops at the first bad message: each message is
mapped on its own, so one broken message is quarantined while its neighbours go on
(ARCHITECTURE.md invariant 1 and STYLE.md habit 6). Envelope errors (MISSING_UNZ, count
mismatches) are reported too, but documents from messages that mapped fine are kept; the
caller decides (the CLI exits 1 when ``errors`` is not empty).

``iter_translate`` is the streaming form ``translate`` is built on: a binary stream in,
documents and errors out message by message, so a file of any size is translated in the
memory of one read chunk plus one message (``hub translate`` and the inbound worker use it).
"""
from __future__ import annotations

import gc
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator, Optional, Union

from adapters.edi.edifact import detect_format, parse_interchanges
from adapters.edi.segments import Segment
from canonical_model.documents import CanonicalDocument, Source
from hub.errors import FatalError, HubError, SkippableError
from mappings.engine import MAPPINGS_DIR, CompiledMapping, load_mapping

EDIFACT_MAPPINGS = MAPPINGS_DIR / "edifact"
# enough to see past a BOM and leading blank lines to UNA/UNB/ISA
_HEAD_BYTES = 512
#: the collector's oldest-generation threshold while translate() collects its result: never reached
_FULL_COLLECTIONS_HELD = 1 << 30


@dataclass
class TranslateResult:
    documents: list[CanonicalDocument] = field(default_factory=list)
    errors: list[HubError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: UNB control reference of the (first) interchange, for dedupe by (partner, control number)
    control_ref: Optional[str] = None

    @property
    def ok(self) -> bool:
        return not self.errors


def translate(data: bytes, filename: str, partner: Optional[str] = None, *,
              charset_policy: str = "lenient", mappings_dir: Path = EDIFACT_MAPPINGS,
              x12_mappings_dir: Optional[Path] = None) -> TranslateResult:
    """Detect the format of ``data``, parse it and map every message to canonical documents.

    The whole result in memory: for big files use :func:`iter_translate`, which this wraps."""
    result = TranslateResult()
    stream = iter_translate(data, filename, partner, charset_policy=charset_policy, mappings_dir=mappings_dir,
                            x12_mappings_dir=x12_mappings_dir)
    # The collector's full collections are held back while the documents pile up. Each one
    # re-scans every object alive, and the growing list of documents set them off again and
    # again (8 times on a 10 MB file, a third of translate()); they can free none of it: what
    # is kept (pydantic models of dicts, lists, str, Decimal, date) is alive and holds no
    # reference cycle (tests/hub/test_translate.py checks). The young collections go on as
    # usual, so the cycles a broken message leaves (an X12 HL tree, an error's traceback) are
    # still freed as they come, and memory stays what the result needs. The one full
    # collection the grown heap calls for comes after, as for any program holding that many
    # objects. The threshold is process-wide: it is restored only if this call raised it and
    # nobody changed it since, so a concurrent or nested translate() never leaves it raised
    # (at worst a full collection runs early: slower, never wrong).
    young, middle, full = gc.get_threshold()
    raised = full != _FULL_COLLECTIONS_HELD
    if raised:
        gc.set_threshold(young, middle, _FULL_COLLECTIONS_HELD)
    try:
        for item in stream:
            if isinstance(item, HubError):
                result.errors.append(item)
            else:
                result.documents.append(item)
    finally:
        if raised:
            now = gc.get_threshold()
            if now[2] == _FULL_COLLECTIONS_HELD:
                gc.set_threshold(now[0], now[1], full)
    result.warnings = stream.warnings
    result.control_ref = stream.control_ref
    return result


class _Prepended(io.RawIOBase):
    """A binary stream whose first bytes were already read (to detect the format)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            return out
        return self._rest.read(size)


class TranslateStream:
    """What :func:`iter_translate` returns: iterate it for documents and errors in file order.

    Items are ``CanonicalDocument`` (a message that mapped and validated) or ``HubError`` (a
    message or envelope problem, located). ``warnings`` and ``control_ref`` fill up while it
    is iterated and are complete once it is exhausted. Memory is one read chunk plus one
    message (and its document) whatever the file size, as long as the caller does not keep
    the items.
    """

    def __init__(self, source: Union[bytes, bytearray, memoryview, BinaryIO], filename: str,
                 partner: Optional[str], charset_policy: str, mappings_dir: Path,
                 x12_mappings_dir: Optional[Path]) -> None:
        self.source = source
        self.filename = filename
        self.partner = partner
        self.charset_policy = charset_policy
        self.mappings_dir = mappings_dir
        self.x12_mappings_dir = x12_mappings_dir
        self.warnings: list[str] = []
        #: UNB/ISA control reference of the (first) interchange, for dedupe by (partner, control number)
        self.control_ref: Optional[str] = None
        self._started = False
        # the mapping picked per (message type, version, release): finding it stats the mapping
        # folder and the crosswalk tables, which cost more than mapping a small message; one
        # file is translated with one set of mappings
        self._mappings: dict[tuple, tuple[CompiledMapping, list[str]]] = {}

    def _mapping(self, pick, message, mappings_dir: Path, first: Segment, key: tuple) -> CompiledMapping:
        """The mapping for ``message``, whose UNH/ST is ``first``; its location is only formatted
        when something is said about it (a warning, or the error of an unsupported type)."""
        hit = self._mappings.get(key)
        if hit is None:
            where = self._where(first)
            notes: list[str] = []
            mapping = pick(message, mappings_dir, where, notes)  # raises for an unsupported type: not cached
            hit = self._mappings[key] = (mapping, [n[len(where) + 2:] for n in notes])
        mapping, notes = hit
        if notes:
            # the nearest-release warning names every message it applies to, as before
            where = self._where(first)
            self.warnings.extend(f"{where}: {note}" for note in notes)
        return mapping

    def _where(self, first: Segment) -> str:
        return f"{self.filename}:segment {first.index} ({first.tag}, line {first.line})"

    def __iter__(self) -> Iterator[Union[CanonicalDocument, HubError]]:
        if self._started:
            raise RuntimeError("a TranslateStream reads its source once; call iter_translate() again")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[Union[CanonicalDocument, HubError]]:
        source, filename = self.source, self.filename
        if isinstance(source, (bytes, bytearray, memoryview)):
            data: Optional[bytes] = bytes(source)
            head = data[:_HEAD_BYTES]
            body: Union[bytes, BinaryIO] = data
        else:
            data = None
            head = source.read(_HEAD_BYTES)
            body = _Prepended(head, source)
        fmt = detect_format(head)
        if fmt == "x12":
            yield from self._x12(body)
            return
        if fmt == "edifact":
            yield from self._edifact(body)
            return
        if data is None:
            # CSV/XLSX from small suppliers: a sheet is read whole by its reader anyway
            data = body.read()
        # imported here so EDI-only callers never load openpyxl and the column specs
        from adapters.tabular.translate import looks_tabular, translate_table
        if looks_tabular(data, filename):
            table = translate_table(data, filename, self.partner)
            # control_ref stays None: a sheet has no control number, dedupe is by content hash
            self.warnings.extend(table.warnings)
            yield from table.documents
            yield from table.errors
            return
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n\x00"):
            yield SkippableError("EMPTY_FILE", "the file has no content; ask the sender to resend",
                                 f"{filename}:line 1")
        else:
            yield SkippableError("UNKNOWN_FORMAT", f"neither EDIFACT (UNA/UNB) nor X12 (ISA); starts with {data[:12]!r}",
                                 f"{filename}:line 1")

    def _located(self, exc: HubError, prefix: str) -> HubError:
        return exc if exc.where.startswith(prefix) else exc.located(self.filename)

    def _edifact(self, body: Union[bytes, BinaryIO]) -> Iterator[Union[CanonicalDocument, HubError]]:
        filename = self.filename
        try:
            # a file may hold several UNB..UNZ; each has its own control reference and sender
            for interchange in parse_interchanges(body, filename, self.charset_policy):
                if self.control_ref is None:
                    self.control_ref = interchange.control_ref or None
                try:
                    for message in interchange.iter_messages():
                        item = self._edifact_message(message, interchange)
                        if item is not None:
                            yield item
                except HubError:
                    # what the interchange found before it broke still comes out, then the cause
                    yield from self._interchange_tail(interchange)
                    raise
                # the parser's message errors (UNT_*) are also in interchange.errors: report once
                yield from self._interchange_tail(interchange)
        except HubError as exc:
            # header problems (no UNB, not EDIFACT after all, runaway segment): nothing further is readable
            yield self._located(exc, filename)

    def _interchange_tail(self, interchange) -> list[HubError]:
        self.warnings.extend(interchange.warnings)
        return list(interchange.errors)

    def _edifact_message(self, message, interchange) -> Optional[Union[CanonicalDocument, HubError]]:
        filename = self.filename
        unh = message.segments[0]
        if message.errors:
            # the envelope says segments are missing or extra: mapping it would publish a
            # document we cannot vouch for, so it goes to quarantine with the parser's error
            return None
        try:
            mapping = self._mapping(_pick_mapping, message, self.mappings_dir, unh,
                                    ("edifact", message.type, message.version, message.release))
            source = Source(
                system="edifact",
                partner=self.partner or interchange.sender.strip() or None,
                file=filename,
                interchange_ref=interchange.control_ref or None,
                message_ref=message.ref or None,
            )
            return mapping.apply(message.segments, source)
        except HubError as exc:
            return self._located(exc, f"{filename}:")

    def _x12(self, body: Union[bytes, BinaryIO]) -> Iterator[Union[CanonicalDocument, HubError]]:
        """ISA..IEA interchanges -> one document per transaction set; ``control_ref`` is ISA13."""
        from adapters.edi.x12 import parse_interchanges as parse_x12  # EDIFACT-only callers skip it

        filename = self.filename
        mappings_dir = self.x12_mappings_dir or X12_MAPPINGS
        try:
            for interchange in parse_x12(body, filename):
                if self.control_ref is None:
                    self.control_ref = interchange.control_ref or None
                partner = self.partner or interchange.sender.strip() or None
                interchange_ref = interchange.control_ref or None
                try:
                    for txn in interchange.iter_transactions():
                        if txn.errors:
                            continue  # its envelope is wrong: quarantined with the parser's error, reported below
                        try:
                            mapping = self._mapping(_pick_x12_mapping, txn, mappings_dir, txn.segments[0],
                                                    ("x12", txn.set_id, txn.version))
                            source = Source(system="x12", partner=partner, file=filename,
                                            interchange_ref=interchange_ref, message_ref=txn.control or None)
                            doc = mapping.apply(txn.segments, source)
                        except HubError as exc:
                            yield self._located(exc, f"{filename}:")
                            continue
                        yield doc
                except HubError:
                    yield from self._interchange_tail(interchange)
                    raise
                yield from self._interchange_tail(interchange)
        except HubError as exc:
            yield self._located(exc, filename)


def iter_translate(source: Union[bytes, bytearray, memoryview, BinaryIO], filename: str,
                   partner: Optional[str] = None, *, charset_policy: str = "lenient",
                   mappings_dir: Path = EDIFACT_MAPPINGS, x12_mappings_dir: Optional[Path] = None) -> TranslateStream:
    """Translate ``source`` (a binary stream, read in chunks, or bytes) message by message.

    Iterating the returned :class:`TranslateStream` yields each message's ``CanonicalDocument``
    as soon as its UNT/SE has been read, and every ``HubError`` where :func:`translate` would
    have collected it (in the same order); ``.warnings`` and ``.control_ref`` are complete once
    it is exhausted.
    """
    return TranslateStream(source, filename, partner, charset_policy, mappings_dir, x12_mappings_dir)


def _release_key(release: str) -> Optional[tuple[int, str]]:
    """``96A`` -> (1996, "A"), ``01B`` -> (2001, "B"); directories are two per year."""
    m = re.fullmatch(r"(\d{2})([A-Z])", release)
    if not m:
        return None
    yy = int(m.group(1))
    return (1900 + yy if yy >= 90 else 2000 + yy, m.group(2))


def _ordinal(key: tuple[int, str]) -> int:
    return key[0] * 26 + (ord(key[1]) - ord("A"))


def _pick_mapping(message, mappings_dir: Path, where: str, warnings: list[str]) -> CompiledMapping:
    mtype = message.type
    if not re.fullmatch(r"[A-Z0-9]{1,6}", mtype or ""):
        raise SkippableError("UNSUPPORTED_MESSAGE", f"UNH names no usable message type ({mtype!r})", where)
    if mtype in ("CONTRL", "APERAK"):
        raise SkippableError("UNSUPPORTED_MESSAGE", f"{mtype} is an acknowledgement, not a business document: "
                             "the inbound flow matches it to what we sent (see `hub edi parse`)", where)
    exact = mappings_dir / f"{mtype}_{message.version}{message.release}.yaml"
    if exact.is_file():
        return load_mapping(exact)
    candidates = sorted(mappings_dir.glob(f"{mtype}_D*.yaml"))
    if not candidates:
        raise SkippableError(
            "UNSUPPORTED_MESSAGE",
            f"no mapping for message type {mtype} ({message.version}:{message.release}); "
            f"add mappings/edifact/{mtype}_D{message.release}.yaml",
            where,
        )
    wanted = _release_key(message.release)

    def distance(path: Path) -> tuple[int, int]:
        key = _release_key(path.stem.split("_D", 1)[1])
        if key is None or wanted is None:
            return (10**6, 0)
        d = _ordinal(key) - _ordinal(wanted)
        # on a tie prefer the older directory: partners add segments over time, rarely remove
        return (abs(d), 0 if d < 0 else 1)

    chosen = min(candidates, key=distance)
    warnings.append(
        f"{where}: no mapping for {mtype} {message.version}:{message.release}; "
        f"used {chosen.stem} (nearest release)"
    )
    return load_mapping(chosen)


# --------------------------------------------------------------------------- X12

X12_MAPPINGS = MAPPINGS_DIR / "x12"


def _pick_x12_mapping(txn, mappings_dir: Path, where: str, warnings: list[str]) -> CompiledMapping:
    """``<ST01>_<GS08>.yaml`` (e.g. 855_004010UCS), then ``<ST01>_<first 6 of GS08>``, then the
    nearest numeric version of the same set with a warning."""
    set_id, version = txn.set_id, (txn.version or "").strip()
    if not re.fullmatch(r"\d{3}", set_id or ""):
        raise SkippableError("UNSUPPORTED_MESSAGE", f"ST01 names no transaction set ({set_id!r})", where)
    if set_id in ("997", "999"):
        raise SkippableError("UNSUPPORTED_MESSAGE", f"{set_id} is an acknowledgement, not a business document: "
                             "the inbound flow matches it to what we sent (see `hub edi parse`)", where)
    for name in dict.fromkeys((f"{set_id}_{version}", f"{set_id}_{version[:6]}")):
        if re.fullmatch(r"\d{3}_[0-9A-Z]+", name) and (mappings_dir / f"{name}.yaml").is_file():
            return load_mapping(mappings_dir / f"{name}.yaml")
    candidates = sorted(mappings_dir.glob(f"{set_id}_*.yaml"))
    if not candidates:
        raise SkippableError("UNSUPPORTED_MESSAGE", f"no mapping for transaction set {set_id} ({version or 'no GS08'}); "
                             f"add mappings/x12/{set_id}_{version[:6] or '004010'}.yaml", where)
    wanted = int(version[:6]) if version[:6].isdigit() else None

    def distance(path: Path) -> tuple[int, int]:
        have = path.stem.split("_", 1)[1][:6]
        if wanted is None or not have.isdigit():
            return (10**9, 0)
        d = int(have) - wanted
        return (abs(d), 0 if d < 0 else 1)  # on a tie the older version: partners add, rarely remove

    chosen = min(candidates, key=distance)
    warnings.append(f"{where}: no mapping for {set_id} {version or '(no GS08)'}; used {chosen.stem} (nearest version)")
    return load_mapping(chosen)
