"""EDIFACT serialiser: envelopes with correct counts and references, data escaped.

The writer is the mirror of :mod:`adapters.edi.edifact`: whatever it writes, the parser reads
back to the same strings (tests/adapters/edi/test_writer.py checks that round trip).
"""
from __future__ import annotations

import datetime as dt
from typing import Optional, Sequence, Union

from adapters.edi.edifact import CHARSETS, Delimiters
from hub.errors import SkippableError

#: an element is a simple value, or a list of components; None / "" mean "empty"
Component = Optional[str]
Element = Union[Component, Sequence[Component]]


class EdifactWriter:
    """Build one interchange: ``add_message(...)`` any number of times, then ``to_bytes()``.

    ``sender`` / ``recipient`` are an id or ``[id, qualifier]`` (e.g. ``["4012345000009", "14"]``
    for a GLN). ``prepared`` defaults to now (UTC); pass it to get byte-identical output for
    the same input, which the outbox relies on for idempotency keys.
    """

    def __init__(
        self,
        sender: Element,
        recipient: Element,
        control_ref: str,
        syntax: str = "UNOC",
        syntax_version: str = "3",
        delimiters: Optional[Delimiters] = None,
        *,
        prepared: Optional[dt.datetime] = None,
        una: bool = True,
        newline: bool = True,
        application_ref: Optional[str] = None,
        test: bool = False,
    ) -> None:
        if syntax not in CHARSETS:
            raise ValueError(f"unknown syntax identifier {syntax!r}; one of {sorted(CHARSETS)}")
        if not control_ref or len(control_ref) > 14:
            # 0020 is an..14; longer references are cut by some VANs, so refuse them here
            raise ValueError("control_ref must be 1..14 characters")
        if delimiters is None:
            delimiters = Delimiters(repetition="*" if syntax_version == "4" else None)
        self.d = delimiters
        self.sender = sender
        self.recipient = recipient
        self.control_ref = control_ref
        self.syntax = syntax
        self.syntax_version = syntax_version
        self.prepared = prepared or dt.datetime.now(dt.timezone.utc)
        self.una = una
        self.newline = newline
        self.application_ref = application_ref
        self.test = test
        self._messages: list[list[str]] = []
        # characters that must be released in data
        self._special = {c for c in (self.d.component, self.d.element, self.d.release,
                                     self.d.terminator) if c}
        if syntax_version == "4" and self.d.repetition:
            self._special.add(self.d.repetition)

    # -- escaping ---------------------------------------------------------------------
    def escape(self, value: str) -> str:
        if not any(c in self._special for c in value):
            return value
        if self.d.release is None:
            raise ValueError(f"{value!r} contains a delimiter and no release character is defined")
        return "".join(self.d.release + c if c in self._special else c for c in value)

    def _element(self, el: Element) -> str:
        if el is None:
            return ""
        if isinstance(el, str):
            return self.escape(el)
        comps = ["" if c is None else self.escape(str(c)) for c in el]
        while comps and comps[-1] == "":  # trailing empty components are omitted (ISO 9735)
            comps.pop()
        return self.d.component.join(comps)

    def segment(self, tag: str, elements: Sequence[Element] = ()) -> str:
        """One segment as text, terminator included; trailing empty elements omitted."""
        parts = [self._element(e) for e in elements]
        while parts and parts[-1] == "":
            parts.pop()
        return self.d.element.join([tag, *parts]) + self.d.terminator

    # -- building ---------------------------------------------------------------------
    def add_message(self, type: str, version: str, release: str, agency: str, assoc: Optional[str],
                    segments: Sequence[tuple[str, Sequence[Element]]], ref: Optional[str] = None) -> str:
        """Append a message (UNH and UNT are added here, with the right count); returns its ref."""
        ref = ref or str(len(self._messages) + 1)
        body = [self.segment("UNH", [ref, [type, version, release, agency, assoc]])]
        body.extend(self.segment(tag, els) for tag, els in segments)
        body.append(self.segment("UNT", [str(len(body) + 1), ref]))
        self._messages.append(body)
        return ref

    def to_text(self) -> str:
        if self.syntax_version == "4":
            date = self.prepared.strftime("%Y%m%d")  # syntax 4 uses CCYYMMDD in UNB
        else:
            date = self.prepared.strftime("%y%m%d")
        unb = [[self.syntax, self.syntax_version], self.sender, self.recipient,
               [date, self.prepared.strftime("%H%M")], self.control_ref,
               None, self.application_ref, None, None, None, "1" if self.test else None]
        lines: list[str] = []
        if self.una:
            lines.append(self.d.una())
        lines.append(self.segment("UNB", unb))
        for body in self._messages:
            lines.extend(body)
        lines.append(self.segment("UNZ", [str(len(self._messages)), self.control_ref]))
        sep = "\n" if self.newline else ""
        return sep.join(lines) + sep

    def to_bytes(self) -> bytes:
        """The interchange encoded in the charset the syntax identifier declares."""
        text = self.to_text()
        try:
            return text.encode(CHARSETS[self.syntax])
        except UnicodeEncodeError as exc:
            bad = text[exc.start:exc.end]
            raise SkippableError(
                "CHARSET_MISMATCH",
                f"{bad!r} cannot be written in {self.syntax} ({CHARSETS[self.syntax]}); use a wider "
                "syntax identifier such as UNOC or UNOW if the partner accepts it",
                f"interchange {self.control_ref}",
            ) from None
