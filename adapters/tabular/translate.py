"""Supplier CSV/XLSX sheets -> canonical documents, one row = one line, bad rows as data.

Which message a sheet holds is decided by its header row: every spec in mappings/tabular/ is
scored by how many of its columns the header names (all its required columns first); the
best wins and a tie is an error naming the candidates, because guessing would file an
inventory report as an ASN. Each data row is read on its own; a bad row (number, date,
missing field, non-positive quantity, unknown unit) becomes a ``SkippableError`` located at
``FILE:row N`` (N as the user sees it in Excel) and the other rows go on. Rows are grouped
into documents by the spec's ``document_key``; a document whose rows are all bad is not
produced. A sheet has no control number, so re-delivery is recognised by content hash only.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

from pydantic import ValidationError

from adapters.tabular import reader
from adapters.tabular.spec import SPEC_DIR, Column, TableSpec, header_parts, load_specs
from canonical_model.documents import CanonicalDocument, Source
from hub.errors import HubError, SkippableError
from mappings import crosswalk as cw

TABULAR_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls")
#: the header row is looked for in this many first rows (titles, logos, blank rows above it)
HEADER_SCAN_ROWS = 30
#: a header must name at least this many columns of a spec to count as one
MIN_HEADER_MATCHES = 2
SYSTEM = "tabular"  # crosswalk source key, after the partner's own entries


@dataclass
class TableTranslation:
    documents: list[CanonicalDocument] = field(default_factory=list)
    errors: list[HubError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    message: Optional[str] = None
    format: Optional[str] = None  # csv | xlsx
    encoding: Optional[str] = None
    delimiter: Optional[str] = None
    header_row: Optional[int] = None
    rows: int = 0  # data rows read (blank rows not counted)
    bad_rows: int = 0


# --------------------------------------------------------------------------- detection


def looks_tabular(data: bytes, filename: str, spec_dir: Path = SPEC_DIR) -> bool:
    """True for a file the tabular reader should take: by name, by XLSX container, or by a
    delimited header row that names the columns of a known message."""
    if filename.lower().endswith(TABULAR_SUFFIXES) or reader.is_xlsx(data):
        return True
    if not data.strip() or reader.looks_binary(data):
        return False
    specs = list(load_specs(spec_dir).values())
    encoding, _ = reader.detect_encoding(data[:65536])
    sample = reader._sample_text(data, encoding)
    label_sets = [set().union(*(c.labels for c in s.columns)) for s in specs]
    delimiter = reader.choose_delimiter(sample, filename, label_sets)
    rows = reader._sample_rows(sample, delimiter, HEADER_SCAN_ROWS)
    return any(len(s.match_header(row)) >= MIN_HEADER_MATCHES for s in specs for row in rows)


# --------------------------------------------------------------------------- translate


def translate_table(data: bytes, filename: str, partner: Optional[str] = None, *, message: Optional[str] = None,
                    sheet: Optional[str] = None, spec_dir: Path = SPEC_DIR) -> TableTranslation:
    """Translate one CSV/XLSX file; ``message`` forces the spec (e.g. from the partner profile)."""
    out = TableTranslation()
    first = f"{filename}:row 1"
    if not data.lstrip(b"\xef\xbb\xbf\xff\xfe \t\r\n\x00"):
        out.errors.append(SkippableError("EMPTY_FILE", "the file has no content; ask the sender to resend", first))
        return out
    specs = load_specs(spec_dir)
    if message is not None:
        if message not in specs:
            out.errors.append(SkippableError("UNKNOWN_MESSAGE", f"no column spec for {message!r}; known: "
                                             f"{sorted(specs)}", first))
            return out
        specs = {message: specs[message]}
    try:
        source = _open(data, filename, sheet, specs)
    except HubError as exc:
        out.errors.append(exc)
        return out
    out.format, out.encoding, out.delimiter = source.kind, source.encoding, source.delimiter
    out.warnings.extend(source.warnings)
    rows = iter(source)
    tables = _TABLES.set({})
    try:
        picked = _find_header(rows, specs, filename, out)
        if picked is None:
            return out
        spec, columns, header_number = picked
        out.message, out.header_row = spec.message, header_number
        _translate_rows(rows, spec, columns, source, filename, partner, out)
    except HubError as exc:  # BAD_CSV mid-file: rows before it are already translated
        out.errors.append(exc)
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # releases the XLSX archive even when we stop early
        _TABLES.reset(tables)
    return out


def _open(data: bytes, filename: str, sheet: Optional[str], specs: dict[str, TableSpec]) -> reader.RowSource:
    first = f"{filename}:row 1"
    if reader.is_legacy_xls(data):
        raise SkippableError("UNSUPPORTED_FORMAT", "legacy Excel 97-2003 (.xls) workbook: ask the supplier to save "
                                                   "it as .xlsx or .csv", first)
    if reader.is_xlsx(data):
        return reader.open_xlsx(data, filename, sheet)
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        raise SkippableError("BAD_XLSX", "named or zipped like an Excel workbook but has no xl/workbook.xml", first)
    if reader.looks_binary(data):
        raise SkippableError("UNKNOWN_FORMAT", f"binary content, not a CSV text file; starts with {data[:12]!r}",
                             first)
    label_sets = [set().union(*(c.labels for c in s.columns)) for s in specs.values()]
    return reader.open_csv(data, filename, label_sets)


def _find_header(rows: Iterator[tuple[int, list[Any]]], specs: dict[str, TableSpec], filename: str,
                 out: TableTranslation) -> Optional[tuple[TableSpec, dict[int, Column], int]]:
    best: Optional[tuple[tuple[int, int], int, list[tuple[TableSpec, dict[int, Column]]]]] = None
    seen = 0
    for number, cells in rows:
        seen += 1
        scored = []
        for spec in specs.values():
            matched = spec.match_header(cells)
            if len(matched) >= MIN_HEADER_MATCHES:
                scored.append(((0 if spec.missing_required(matched) else 1, len(matched)), spec, matched))
        if scored:
            top = max(s[0] for s in scored)
            if best is None or top > best[0]:
                best = (top, number, [(s, m) for score, s, m in scored if score == top])
            # the header is the first row that names columns; data rows never score higher
            break
        if seen >= HEADER_SCAN_ROWS:
            break
    if best is None:
        if seen == 0:
            out.errors.append(SkippableError("EMPTY_FILE", "the sheet has no rows", f"{filename}:row 1"))
            return None
        known = "; ".join(f"{s.message}: {', '.join(c.label() for c in s.columns if c.required)}"
                          for s in specs.values())
        out.errors.append(SkippableError(
            "NO_HEADER_ROW", f"none of the first {min(seen, HEADER_SCAN_ROWS)} rows is a header row naming the "
            f"columns of a known message ({known}); use `hub partner template` for the layout", f"{filename}:row 1"))
        return None
    (complete, _), number, candidates = best
    where = f"{filename}:row {number}"
    if len(candidates) > 1:
        names = ", ".join(s.message for s, _ in candidates)
        out.errors.append(SkippableError(
            "AMBIGUOUS_MESSAGE", f"the header row fits {names} equally well; add the distinguishing columns "
            f"(e.g. the document number) or set the message in the partner profile", where))
        return None
    spec, matched = candidates[0]
    if not complete:
        missing = ", ".join(c.label() for c in spec.missing_required(matched))
        out.errors.append(SkippableError(
            "MISSING_COLUMN", f"the header row of this {spec.title_en} has no column {missing}", where))
        return None
    return spec, matched, number


def _translate_rows(rows: Iterator[tuple[int, list[Any]]], spec: TableSpec, columns: dict[int, Column],
                    source: reader.RowSource, filename: str, partner: Optional[str], out: TableTranslation) -> None:
    by_key: dict[tuple, dict[str, Any]] = {}
    letters = {index: _column_letter(index) for index in columns}
    for number, cells in _stop_at_broken_csv(rows, out):
        if all(reader.is_blank(c) for c in cells):
            continue  # spacer rows between blocks are not data
        out.rows += 1
        where = f"{filename}:row {number}"
        try:
            document, line = _read_row(cells, spec, columns, letters, partner, source.decimal_comma, where)
        except SkippableError as exc:
            out.bad_rows += 1
            out.errors.append(exc)
            continue
        key = tuple(document.get(k) for k in spec.document_key)
        group = by_key.get(key)
        if group is None:
            by_key[key] = {"document": document, "lines": [line], "row": number}
            continue
        for name, value in document.items():
            if group["document"].get(name) != value:
                out.warnings.append(f"{where}: {spec.column(name).label('en')} {value} differs from "
                                    f"{group['document'].get(name)} on row {group['row']} of the same document; "
                                    f"the first row's value is kept")
        group["lines"].append(line)
    if out.rows == 0:
        out.errors.append(SkippableError("NO_DATA_ROWS", "the header row is there but no data rows follow",
                                         f"{filename}:row {out.header_row}"))
        return
    for group in by_key.values():
        lines = group["lines"]
        if "line_no" in spec.line_model.model_fields and "line_no" not in {c.name for c in spec.columns}:
            for index, line in enumerate(lines, start=1):
                line["line_no"] = index
        document = dict(group["document"], lines=lines)
        document["source"] = Source(system=source.kind, partner=partner, file=filename)
        try:
            out.documents.append(spec.target.model_validate(document))
        except ValidationError as exc:
            first = exc.errors()[0]
            out.errors.append(SkippableError(
                "SCHEMA_VIOLATION", f"{spec.target.__name__}.{'.'.join(map(str, first['loc']))}: {first['msg']}",
                f"{filename}:row {group['row']}"))


def _stop_at_broken_csv(rows: Iterator[tuple[int, list[Any]]], out: TableTranslation
                        ) -> Iterator[tuple[int, list[Any]]]:
    # BAD_CSV ends the reading, not the rows already read: they still become documents
    try:
        yield from rows
    except HubError as exc:
        out.errors.append(exc)


def _read_row(cells: list[Any], spec: TableSpec, columns: dict[int, Column], letters: dict[int, str],
              partner: Optional[str], decimal_comma: bool, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    document: dict[str, Any] = {}
    line: dict[str, Any] = {}
    for index, col in columns.items():
        raw = cells[index] if index < len(cells) else None
        if reader.is_blank(raw):
            continue
        what = f"{col.label()} (column {letters[index]})"
        try:
            value = _convert(col, raw, partner, decimal_comma)
        except reader.ValueProblem as exc:
            raise SkippableError(exc.code, f"{what}: {exc}", where) from None
        except SkippableError as exc:
            raise SkippableError(exc.code, f"{what}: {exc.message}", where) from None
        if col.positive and value <= 0:
            raise SkippableError("QTY_NOT_POSITIVE", f"{what}: {value} must be greater than 0", where)
        if col.non_negative and value < 0:
            raise SkippableError("QTY_NEGATIVE", f"{what}: {value} must not be negative", where)
        (document if col.level == "document" else line)[col.name] = value
    for col in spec.columns:
        target = document if col.level == "document" else line
        if col.name in target:
            continue
        if col.from_partner and partner:
            target[col.name] = partner
        elif col.required or (col.from_partner and col.name in spec.document_key):
            raise SkippableError("MISSING_FIELD", f"{col.label()} is required but empty", where)
    if partner:
        for col in spec.columns:
            if col.from_partner and document.get(col.name) not in (None, partner):
                # a supplier may only announce for itself: another party's id in its file is
                # a mistake or a spoof, never something to store under that other party
                raise SkippableError("SUPPLIER_MISMATCH", f"{col.label()} is {document[col.name]!r} but the file "
                                     f"came from partner {partner}", where)
    try:
        numbered = "line_no" in spec.line_model.model_fields and "line_no" not in line
        spec.line_model.model_validate(dict(line, line_no=1) if numbered else line)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SkippableError("SCHEMA_VIOLATION", f"{'.'.join(map(str, first['loc']))}: {first['msg']}", where) from None
    return document, line


def _convert(col: Column, raw: Any, partner: Optional[str], decimal_comma: bool) -> Any:
    if col.type == "decimal":
        return reader.to_decimal(raw, col.scale, decimal_comma)
    if col.type == "int":
        return reader.to_int(raw)
    if col.type == "date":
        return reader.to_date(raw)
    if col.type == "datetime":
        return reader.to_datetime(raw)
    text = reader.to_text(raw)
    if col.type == "choice":
        wanted = {n for n in header_parts(text)}
        for canonical, aliases in col.choices.items():
            if wanted & {p for a in (canonical, *aliases) for p in header_parts(a)}:
                return canonical
        allowed = ", ".join(f"{aliases[0] if aliases else canonical}" for canonical, aliases in col.choices.items())
        raise reader.ValueProblem("BAD_VALUE", f"{text!r} is not one of {allowed}")
    if col.crosswalk:
        return _crosswalk(col, text, partner)
    return text


def _crosswalk(col: Column, code: str, partner: Optional[str]) -> str:
    table = _table(col.crosswalk)
    sources = (partner, SYSTEM)
    # units come typed by hand: "pcs" and "PCS" are the same unit, codes are upper case in the tables
    hit = table.lookup(code, sources) or table.lookup(code.upper(), sources)
    if hit is not None:
        return hit
    if col.from_partner:
        return code  # a supplier id not in the table is checked against the partner instead
    raise SkippableError(cw.error_code(col.crosswalk), f"code {code!r} is not in crosswalk {col.crosswalk} "
                         f"(partner {partner or '-'}); add it to mappings/crosswalks/{col.crosswalk}.csv")


def _table(name: str) -> cw.Crosswalk:
    # one stat per table per file, not per cell: the table does not change within a file
    cache = _TABLES.get()
    if name not in cache:
        cache[name] = cw.load_crosswalk(name)
    return cache[name]


_TABLES: ContextVar[dict[str, cw.Crosswalk]] = ContextVar("tabular_crosswalks")


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
