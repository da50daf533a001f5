"""Translate one inbound file into canonical documents, collecting every problem as data.

``translate`` is the pure core behind ``hub translate`` and the inbound DAG: bytes in,
documents + errors + warnings out. It never stops at the first bad message: each message is
mapped on its own, so one broken message is quarantined while its neighbours go on
(ARCHITECTURE.md invariant 1 and STYLE.md habit 6). Envelope errors (MISSING_UNZ, count
mismatches) are reported too, but documents from messages that mapped fine are kept; the
caller decides (the CLI exits 1 when ``errors`` is not empty).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from adapters.edi.edifact import detect_format, parse_interchanges
from canonical_model.documents import CanonicalDocument, Source
from hub.errors import FatalError, HubError, SkippableError
from mappings.engine import MAPPINGS_DIR, CompiledMapping, load_mapping

EDIFACT_MAPPINGS = MAPPINGS_DIR / "edifact"
# enough to see past a BOM and leading blank lines to UNA/UNB/ISA
_HEAD_BYTES = 512


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
              charset_policy: str = "lenient", mappings_dir: Path = EDIFACT_MAPPINGS) -> TranslateResult:
    """Detect the format of ``data``, parse it and map every message to canonical documents."""
    result = TranslateResult()
    head = data[:_HEAD_BYTES]
    fmt = detect_format(head)
    if fmt == "x12":
        result.errors.append(FatalError(
            "UNSUPPORTED_FORMAT", "X12 arrives with the supplier-channel issue; this file is X12 (ISA)",
            f"{filename}:line 1"))
        return result
    if fmt != "edifact":
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n\x00"):
            result.errors.append(SkippableError("EMPTY_FILE", "the file has no content; ask the sender to resend",
                                                f"{filename}:line 1"))
        else:
            result.errors.append(SkippableError(
                "UNKNOWN_FORMAT", f"neither EDIFACT (UNA/UNB) nor X12 (ISA); starts with {data[:12]!r}",
                f"{filename}:line 1"))
        return result
    _translate_edifact(data, filename, partner, charset_policy, mappings_dir, result)
    return result


def _translate_edifact(data: bytes, filename: str, partner: Optional[str], charset_policy: str,
                       mappings_dir: Path, result: TranslateResult) -> None:
    try:
        # a file may hold several UNB..UNZ; each has its own control reference and sender
        for interchange in parse_interchanges(data, filename, charset_policy):
            if result.control_ref is None:
                result.control_ref = interchange.control_ref or None
            try:
                for message in interchange.iter_messages():
                    doc = _translate_message(message, interchange, filename, partner, mappings_dir, result)
                    if doc is not None:
                        result.documents.append(doc)
            finally:
                # the parser's message errors (UNT_*) are also in interchange.errors: report once
                result.errors.extend(interchange.errors)
                result.warnings.extend(interchange.warnings)
    except HubError as exc:
        # header problems (no UNB, not EDIFACT after all, runaway segment): nothing further is readable
        result.errors.append(exc if exc.where.startswith(filename) else exc.located(filename))


def _translate_message(message, interchange, filename: str, partner: Optional[str], mappings_dir: Path,
                       result: TranslateResult) -> Optional[CanonicalDocument]:
    unh = message.segments[0]
    if message.errors:
        # the envelope says segments are missing or extra: mapping it would publish a
        # document we cannot vouch for, so it goes to quarantine with the parser's error
        return None
    where = f"{filename}:segment {unh.index} ({unh.tag}, line {unh.line})"
    try:
        mapping = _pick_mapping(message, mappings_dir, where, result.warnings)
        source = Source(
            system="edifact",
            partner=partner or interchange.sender or None,
            file=filename,
            interchange_ref=interchange.control_ref or None,
            message_ref=message.ref or None,
        )
        return mapping.apply(message.segments, source)
    except HubError as exc:
        result.errors.append(exc if exc.where.startswith(f"{filename}:") else exc.located(filename))
        return None


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
