"""Read supplier CSV and XLSX files row by row, and read their cells as typed values.

Small suppliers' files come from Excel, WPS and home-grown exports, so the reader is forgiving
about the container and strict about the values:

* encoding: UTF-16 with BOM (Excel "Unicode text"), UTF-8 with or without BOM, then GB18030
  (a superset of the GBK many Chinese desktop tools write), and only if all fail latin-1 with
  a warning, so no byte is ever refused for its encoding alone;
* delimiter: comma, semicolon, tab or pipe; chosen by which one yields a header row the
  column specs recognise, then by ``csv.Sniffer``, then by column-count consistency;
* XLSX: openpyxl in read-only mode (bounded memory), merged cells filled from their top-left
  cell, formulas read as their text and never evaluated (``data_only=False``);
* rows are numbered as the user sees them: the CSV record number or the sheet row number.

Values: numbers become ``Decimal`` (Excel floats through ``repr`` and the column's scale, so
``500.0`` is 500 and ``0.30000000000000004`` is 0.3, but real extra decimals are refused),
dates from Excel dates or ``YYYY-MM-DD``, ``YYYY/MM/DD``, ``YYYYMMDD`` (and 2026年11月26日).
"""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Iterator, Optional

from lxml import etree

from hub.errors import SkippableError

DELIMITERS = (",", ";", "\t", "|")
_DETECT_CHUNK = 1 << 20
_SAMPLE_BYTES = 64 * 1024
# Excel date serials and our own date range sanity: a 4-digit year outside this is a typo
_MIN_YEAR, _MAX_YEAR = 1900, 2199
_XLSX_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (BIFF) and other OLE files


class ValueProblem(ValueError):
    """A cell that does not read as its column's type; ``code`` is the quarantine reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- container sniffing


def is_xlsx(data: bytes) -> bool:
    """A ZIP holding ``xl/workbook.xml`` (XLSX/XLSM), whatever the file is called."""
    if not data.startswith(_XLSX_MAGIC):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False


def is_legacy_xls(data: bytes) -> bool:
    return data.startswith(_OLE_MAGIC)


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the head: not a text table (UTF-16 aside)."""
    head = data[:_SAMPLE_BYTES]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return controls > max(8, len(head) // 100)


# --------------------------------------------------------------------------- encoding


def detect_encoding(data: bytes) -> tuple[str, Optional[str]]:
    """(codec name, warning or None) for the whole of ``data``, checked chunk by chunk."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", None
    for encoding in ("utf-8-sig", "gb18030"):
        if _decodes(data, encoding):
            return encoding, None
    return "latin-1", ("the file is neither UTF-8 nor GB18030/GBK; read as latin-1, so non-ASCII text may be "
                       "garbled: ask the supplier to save as UTF-8 or GBK")


def _decodes(data: bytes, encoding: str) -> bool:
    # incremental so a big file is checked without a second full copy in memory
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    view = memoryview(data)
    try:
        for start in range(0, len(view), _DETECT_CHUNK):
            decoder.decode(view[start:start + _DETECT_CHUNK], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# --------------------------------------------------------------------------- rows


@dataclass
class RowSource:
    """Rows of one table as ``(row_number, [cell, ...])``; cells are str (CSV) or typed (XLSX)."""

    kind: str  # "csv" | "xlsx"
    filename: str
    encoding: Optional[str] = None
    delimiter: Optional[str] = None
    sheet: Optional[str] = None
    warnings: list[str] = field(default_factory=list)
    _rows: Optional[Iterator[tuple[int, list[Any]]]] = None

    def __iter__(self) -> Iterator[tuple[int, list[Any]]]:
        assert self._rows is not None
        return self._rows

    @property
    def decimal_comma(self) -> bool:
        # semicolon-separated files come from locales that write 12,5 for twelve and a half
        return self.delimiter == ";"


def open_csv(data: bytes, filename: str, label_sets: list[set[str]] | None = None) -> RowSource:
    """Stream the records of a delimited text file; ``label_sets`` (normalised header labels of
    the known messages) help choose the delimiter."""
    encoding, warning = detect_encoding(data)
    source = RowSource(kind="csv", filename=filename, encoding=encoding)
    if warning:
        source.warnings.append(f"{filename}: {warning}")
    sample = _sample_text(data, encoding)
    source.delimiter = choose_delimiter(sample, filename, label_sets or [])
    source._rows = _csv_rows(data, encoding, source.delimiter, filename)
    return source


def _sample_text(data: bytes, encoding: str) -> str:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = decoder.decode(data[:_SAMPLE_BYTES], final=len(data) <= _SAMPLE_BYTES)
    if len(data) > _SAMPLE_BYTES and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # never judge a delimiter on a cut-off line
    return text


def _sample_rows(sample: str, delimiter: str, limit: int = 30) -> list[list[str]]:
    rows: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(sample), delimiter=delimiter):
            rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def choose_delimiter(sample: str, filename: str, label_sets: list[set[str]]) -> str:
    from adapters.tabular.spec import header_parts  # the spec module knows what a label is

    if label_sets:
        best, best_score = None, 0
        for delimiter in DELIMITERS:
            score = 0
            for row in _sample_rows(sample, delimiter):
                if len(row) < 2:
                    continue  # a delimiter that does not split the line cannot be the one
                labels = {p for cell in row for p in header_parts(cell)}
                score = max(score, max(len(labels & known) for known in label_sets))
            if score > best_score:
                best, best_score = delimiter, score
        if best is not None and best_score >= 2:
            return best
    if filename.lower().endswith(".tsv"):
        return "\t"
    try:
        return csv.Sniffer().sniff(sample[:16384], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        pass
    # the Sniffer gives up on ragged files: take the delimiter that splits most lines alike
    best, best_consistency = ",", 0
    for delimiter in DELIMITERS:
        counts = [len(r) for r in _sample_rows(sample, delimiter) if r]
        if counts and max(counts) > 1:
            consistency = max(counts.count(n) for n in set(counts) if n > 1)
            if consistency > best_consistency:
                best, best_consistency = delimiter, consistency
    return best


def _csv_rows(data: bytes, encoding: str, delimiter: str, filename: str) -> Iterator[tuple[int, list[Any]]]:
    text = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    reader = csv.reader(text, delimiter=delimiter)
    number = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # a broken quote or a runaway field: the rows before are kept, the rest is evidence
            raise SkippableError("BAD_CSV", f"cannot read the CSV on from here: {exc}", f"{filename}:row {number + 1}")
        number += 1
        yield number, row


def open_xlsx(data: bytes, filename: str, sheet: Optional[str] = None) -> RowSource:
    """Stream the rows of a sheet (the first unless ``sheet`` names one)."""
    import openpyxl  # only XLSX files pay for the import

    where = f"{filename}:row 1"
    try:
        # data_only=False: a formula comes back as its text (=cmd|...), never as a computed or
        # cached result, so nothing in the workbook decides what we store but literal values
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception as exc:  # openpyxl raises many types for a damaged archive
        raise SkippableError("BAD_XLSX", f"not a readable XLSX workbook ({type(exc).__name__}: {exc})", where) from None
    if sheet is not None and sheet not in workbook.sheetnames:
        raise SkippableError("BAD_XLSX", f"no sheet {sheet!r}; the workbook has {workbook.sheetnames}", where)
    worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
    if not hasattr(worksheet, "reset_dimensions"):
        raise SkippableError("BAD_XLSX", f"sheet {worksheet.title!r} is a chart sheet, not a table", where)
    # many generators write a wrong <dimension>; ignore it and read what is there
    worksheet.reset_dimensions()
    source = RowSource(kind="xlsx", filename=filename, sheet=worksheet.title)
    merged = _merged_ranges(worksheet, filename, source.warnings)
    source._rows = _xlsx_rows(workbook, worksheet, merged)
    return source


def _merged_ranges(worksheet, filename: str, warnings: list[str]) -> list[tuple[int, int, int, int]]:
    """(min_row, min_col, max_row, max_col) of each merged range; read-only sheets do not expose
    them, so they are read from the sheet XML (entities off, no network)."""
    from openpyxl.utils.cell import range_boundaries

    ranges = []
    parser_args = dict(events=("end",), resolve_entities=False, no_network=True, huge_tree=False)
    try:
        with worksheet._get_source() as xml:
            for _, element in etree.iterparse(xml, tag="{*}mergeCell", **parser_args):
                ref = element.get("ref") or ""
                try:
                    min_col, min_row, max_col, max_row = range_boundaries(ref)
                except (ValueError, TypeError):
                    continue
                ranges.append((min_row, min_col, max_row, max_col))
                element.clear()
    except etree.XMLSyntaxError as exc:
        warnings.append(f"{filename}: merged cells could not be read ({exc}); merged values are not filled down")
    return ranges


def _xlsx_rows(workbook, worksheet, merged: list[tuple[int, int, int, int]]) -> Iterator[tuple[int, list[Any]]]:
    anchors: dict[tuple[int, int], Any] = {}
    try:
        for number, cells in enumerate(worksheet.iter_rows(values_only=True), start=1):
            row = list(cells)
            if all(is_blank(c) for c in row):
                # a spacer row inside a merged block stays a spacer, not a copy of the block's values
                yield number, row
                continue
            for min_row, min_col, max_row, max_col in merged:
                if not min_row <= number <= max_row:
                    continue
                if number == min_row:
                    anchors[(min_row, min_col)] = row[min_col - 1] if min_col <= len(row) else None
                value = anchors.get((min_row, min_col))
                if len(row) < max_col:
                    row.extend([None] * (max_col - len(row)))
                for col in range(min_col, max_col + 1):
                    if row[col - 1] in (None, ""):
                        row[col - 1] = value
            yield number, row
    finally:
        workbook.close()


# --------------------------------------------------------------------------- cell values


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def to_text(value: Any) -> str:
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value).strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        # a code typed into a numeric cell: 10023.0 is the code 10023, never "10023.0"
        return format(Decimal(repr(value)).normalize(), "f") if value == value and abs(value) != float("inf") \
            else repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


_THOUSANDS = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def to_decimal(value: Any, scale: Optional[int] = None, decimal_comma: bool = False) -> Decimal:
    """A finite Decimal; Excel float noise is rounded to ``scale``, real extra decimals refused."""
    if isinstance(value, bool):
        raise ValueProblem("BAD_NUMBER", f"{value!r} is not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueProblem("BAD_NUMBER", f"{value!r} is not a finite number")
        number = Decimal(repr(value))  # shortest round-trip text: 0.1 is 0.1, not 0.1000000000000000055...
        if scale is not None and -number.as_tuple().exponent > scale:
            rounded = number.quantize(Decimal(1).scaleb(-scale))
            # binary noise sits ~15 significant digits down; anything bigger was typed on purpose
            if abs(number - rounded) > abs(number) * Decimal("1e-12"):
                raise ValueProblem("BAD_NUMBER", f"{value!r} has more than {scale} decimals")
            number = rounded
        return _normal(number)
    if isinstance(value, (dt.date, dt.datetime)):
        raise ValueProblem("BAD_NUMBER", f"{to_text(value)!r} is a date, not a number")
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "")
    if text.startswith("="):
        raise ValueProblem("BAD_NUMBER", f"{text!r} is a formula; formulas are not evaluated, paste the value")
    if _THOUSANDS.fullmatch(text) and not (decimal_comma and _DECIMAL_COMMA.fullmatch(text)):
        text = text.replace(",", "")
    elif decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(",", ".")
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
        raise ValueProblem("BAD_NUMBER", f"{str(value).strip()!r} is not a number")
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern above only lets numbers through
        raise ValueProblem("BAD_NUMBER", f"{text!r} is not a number") from None
    if scale is not None and -number.as_tuple().exponent > scale and number != number.quantize(
            Decimal(1).scaleb(-scale)):
        raise ValueProblem("BAD_NUMBER", f"{text!r} has more than {scale} decimals")
    return _normal(number)


def _normal(number: Decimal) -> Decimal:
    # 500.000 -> 500, but never 5E+2: quantities travel as plain strings
    normal = number.normalize()
    return normal.quantize(Decimal(1)) if normal == normal.to_integral_value() else normal


def to_int(value: Any) -> int:
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise ValueProblem("BAD_NUMBER", f"{to_text(value)!r} is not a whole number")
    return int(number)


_DATE_RE = re.compile(
    r"(?P<y>\d{4})(?:[-/.年](?P<m>\d{1,2})[-/.月](?P<d>\d{1,2})日?|(?P<m2>\d{2})(?P<d2>\d{2}))"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?")


def to_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, bool):
        raise ValueProblem("BAD_DATE", f"{value!r} is not a date")
    if isinstance(value, float) and value == int(value):
        value = int(value)
    text = unicodedata.normalize("NFKC", str(value)).strip()
    match = _DATE_RE.fullmatch(text)
    if match is None:
        raise ValueProblem("BAD_DATE", f"{text!r} is not a date (use YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)")
    year = int(match["y"])
    month, day = int(match["m"] or match["m2"]), int(match["d"] or match["d2"])
    hour, minute, second = int(match["H"] or 0), int(match["M"] or 0), int(match["S"] or 0)
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValueProblem("BAD_DATE", f"{text!r}: year {year} is out of range")
    try:
        return dt.datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise ValueProblem("BAD_DATE", f"{text!r} is not a valid date ({exc})") from None


def to_date(value: Any) -> dt.date:
    return to_datetime(value).date()
