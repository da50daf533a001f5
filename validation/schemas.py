"""pandera schemas over flattened canonical line tables, one per entity.

Each canonical document is flattened into one row per line (``flatten``), carrying the
document's position in the batch (``document_index``), its ``business_key``, the line's
position (``line_index``) and the header fields a rule needs. The schemas then check every
row at once with ``lazy=True`` so a batch reports *all* its failures, never the first only.

Every data rule is a custom check whose ``name`` and ``error`` are the reason code
(``QTY_NOT_POSITIVE`` ...). pandera puts ``error`` (falling back to ``name``) into the
``check`` column of ``SchemaErrors.failure_cases``, so each failure case maps straight back
to a code and, through the ``index`` column, to its row. ``error`` is set as well as ``name``
because pandera 0.35 ``CheckInfo.to_check`` *pops* ``name`` from the check kwargs: a check
inherited by a second subclass silently loses its name, but keeps ``error``.

Quantities stay ``Decimal`` in an ``object`` column and are compared as ``Decimal`` inside
the checks; converting to float would make ``0.1 + 0.2`` differ from ``0.3``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Optional, Sequence

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors
from pandera.typing import Series

from canonical_model.documents import (
    Batch,
    CanonicalDocument,
    PurchaseOrder,
    Receipt,
    ShipmentNotice,
)
from hub.errors import FatalError

# Reason codes checked by the schemas (row-level data rules).
QTY_NOT_POSITIVE = "QTY_NOT_POSITIVE"
QTY_NOT_DECIMAL = "QTY_NOT_DECIMAL"
UNKNOWN_UOM = "UNKNOWN_UOM"
BATCH_REQUIRED = "BATCH_REQUIRED"
DATE_ORDER = "DATE_ORDER"
DUPLICATE_LINE = "DUPLICATE_LINE"

SCHEMA_CODES = frozenset(
    {QTY_NOT_POSITIVE, QTY_NOT_DECIMAL, UNKNOWN_UOM, BATCH_REQUIRED, DATE_ORDER, DUPLICATE_LINE}
)

#: Codes about the document header: one failure per document, and the document fails whole
#: (every line carries the same header value, so no line could be passed on).
DOCUMENT_LEVEL_CODES = frozenset({DATE_ORDER})

#: Canonical units are UN/ECE Rec 20 codes *after* the partner crosswalk, so a partner's
#: local "PCE" or "件" must have been mapped already; seeing one here means the crosswalk
#: is missing an entry.
DEFAULT_KNOWN_UOMS: frozenset[str] = frozenset(
    {"H87", "C62", "KGM", "GRM", "MTR", "LTR", "SET", "BX", "PK", "MTK"}
)


def _is_positive_decimal(q: Any) -> bool:
    if not isinstance(q, Decimal):
        return True  # not this rule's call: QTY_NOT_DECIMAL reports it, once
    # Decimal NaN/Infinity would raise (or mislead) on ">", so only finite values count.
    return q.is_finite() and q > 0


def _code(code: str) -> dict[str, str]:
    # name and error both carry the code; see the module docstring for why both.
    return {"name": code, "error": code}


class _QuantityTable(pa.DataFrameModel):
    """Columns and rules of anything that carries a material quantity (lines and batches)."""

    document_index: Series[int]
    business_key: Series[str]
    material_id: Series[str]
    quantity: Series[object]
    uom: Series[str]

    class Config:
        # strict: a column the flattener did not declare is a contract break, not data.
        strict = True
        coerce = True

    @pa.check("quantity", element_wise=True, **_code(QTY_NOT_DECIMAL))
    def quantity_is_decimal(cls, q: Any) -> bool:
        # Guards the contract that nobody feeds floats in; pydantic-built frames always pass.
        return isinstance(q, Decimal) and not isinstance(q, bool)

    @pa.check("quantity", element_wise=True, **_code(QTY_NOT_POSITIVE))
    def quantity_positive(cls, q: Any) -> bool:
        return _is_positive_decimal(q)

    @pa.check("uom", **_code(UNKNOWN_UOM))
    def uom_known(cls, uom: pd.Series) -> pd.Series:
        return uom.isin(DEFAULT_KNOWN_UOMS)


class _LineTable(_QuantityTable):
    """Columns and rules shared by every line table."""

    line_index: Series[int] = pa.Field(ge=0)
    line_no: Series[int]

    @pa.dataframe_check(**_code(DUPLICATE_LINE))
    def line_no_unique(cls, df: pd.DataFrame) -> pd.Series:
        # keep=False flags *every* line sharing the number: we cannot tell which one the
        # partner meant, and later references by line_no would be ambiguous for all of them.
        return ~df.duplicated(["document_index", "line_no"], keep=False)


class PurchaseOrderLineSchema(_LineTable):
    """One row per ``PurchaseOrder.lines[i]``."""

    delivery_date: Series[pa.DateTime] = pa.Field(nullable=True)


class ShipmentNoticeLineSchema(_LineTable):
    """One row per ``ShipmentNotice.lines[i]`` with the ASN header dates and supplier."""

    supplier_id: Series[str]
    po_number: Series[str] = pa.Field(nullable=True)
    po_line_no: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    batch_number: Series[str] = pa.Field(nullable=True)
    # Repeated per row because it comes from the partner profile, which is per document.
    batch_required: Series[bool]
    ship_date: Series[pa.DateTime] = pa.Field(nullable=True)
    expected_arrival: Series[pa.DateTime] = pa.Field(nullable=True)

    @pa.dataframe_check(**_code(BATCH_REQUIRED))
    def batch_present_when_required(cls, df: pd.DataFrame) -> pd.Series:
        # A blank batch number is as useless for traceability as a missing one.
        present = df["batch_number"].notna() & (df["batch_number"].fillna("").str.strip() != "")
        return ~df["batch_required"] | present

    @pa.dataframe_check(**_code(DATE_ORDER))
    def arrival_not_before_ship_date(cls, df: pd.DataFrame) -> pd.Series:
        # Either date may be absent (not every format carries both); only a known pair can
        # be out of order.
        ship, arrival = df["ship_date"], df["expected_arrival"]
        return ship.isna() | arrival.isna() | (arrival >= ship)


class ReceiptLineSchema(_LineTable):
    """One row per ``Receipt.lines[i]``."""

    po_number: Series[str] = pa.Field(nullable=True)
    po_line_no: Series[pd.Int64Dtype] = pa.Field(nullable=True)
    batch_id: Series[str] = pa.Field(nullable=True)


class BatchSchema(_QuantityTable):
    """One row per ``Batch`` document (a batch has no lines)."""


#: Which schema validates which document type; other types have no line rules yet.
SCHEMA_BY_DOCUMENT_TYPE: dict[str, type[pa.DataFrameModel]] = {
    "PurchaseOrder": PurchaseOrderLineSchema,
    "ShipmentNotice": ShipmentNoticeLineSchema,
    "Receipt": ReceiptLineSchema,
    "Batch": BatchSchema,
}


def schema_for(
    model: type[pa.DataFrameModel], known_uoms: Iterable[str] = DEFAULT_KNOWN_UOMS
) -> pa.DataFrameSchema:
    """The model's schema with the UNKNOWN_UOM check bound to ``known_uoms``.

    The allowed units come from configuration, so they are swapped in on a copy of the
    schema (``update_column`` never mutates the cached model schema).
    """
    schema = model.to_schema()
    allowed = frozenset(known_uoms)
    if allowed == DEFAULT_KNOWN_UOMS:
        return schema
    column = schema.columns["uom"]
    checks = [c for c in column.checks if c.error != UNKNOWN_UOM]
    checks.append(pa.Check(lambda s: s.isin(allowed), **_code(UNKNOWN_UOM)))
    return schema.update_column("uom", checks=checks)


# --------------------------------------------------------------------------- flattening


def _dates(values: list[Optional[dt.date]]) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype=object))


def _nullable_ints(values: list[Optional[int]]) -> pd.arrays.IntegerArray:
    # Plain lists with None would become float64 and print "3.0" in messages.
    return pd.array(values, dtype="Int64")


def flatten(
    documents: Sequence[tuple[int, CanonicalDocument]], *, batch_required: bool = False
) -> pd.DataFrame:
    """Flatten documents of ONE type into the frame its schema expects.

    ``documents`` are ``(document_index, document)`` pairs so that rows can be traced back to
    the caller's batch position. Columns are built as lists (not row dicts) to keep a 10k-line
    document cheap.
    """
    if not documents:
        raise ValueError("flatten needs at least one document to know its type")
    doc_type = documents[0][1].type  # type: ignore[attr-defined]
    if any(d.type != doc_type for _, d in documents):  # type: ignore[attr-defined]
        raise ValueError("flatten takes documents of one type at a time")

    if doc_type == "Batch":
        batches: list[tuple[int, Batch]] = documents  # type: ignore[assignment]
        return pd.DataFrame(
            {
                "document_index": [i for i, _ in batches],
                "business_key": [d.business_key for _, d in batches],
                "material_id": [d.material_id for _, d in batches],
                "quantity": pd.Series([d.quantity for _, d in batches], dtype=object),
                "uom": [d.uom for _, d in batches],
            }
        )

    cols: dict[str, list[Any]] = {
        k: []
        for k in ("document_index", "business_key", "line_index", "line_no", "material_id", "quantity", "uom")
    }
    extra: dict[str, list[Any]] = {}

    def add(name: str, value: Any) -> None:
        extra.setdefault(name, []).append(value)

    for doc_index, doc in documents:
        key = doc.business_key
        for line_index, line in enumerate(doc.lines):  # type: ignore[attr-defined]
            cols["document_index"].append(doc_index)
            cols["business_key"].append(key)
            cols["line_index"].append(line_index)
            cols["line_no"].append(line.line_no)
            cols["material_id"].append(line.material_id)
            cols["quantity"].append(line.quantity)
            cols["uom"].append(line.uom)
            if isinstance(doc, PurchaseOrder):
                add("delivery_date", line.delivery_date)
            elif isinstance(doc, ShipmentNotice):
                add("supplier_id", doc.supplier_id)
                add("po_number", line.po_number)
                add("po_line_no", line.po_line_no)
                add("batch_number", line.batch_number)
                add("batch_required", batch_required)
                add("ship_date", doc.ship_date)
                add("expected_arrival", doc.expected_arrival)
            elif isinstance(doc, Receipt):
                add("po_number", line.po_number)
                add("po_line_no", line.po_line_no)
                add("batch_id", line.batch_id)
            else:  # pragma: no cover - guarded by SCHEMA_BY_DOCUMENT_TYPE
                raise ValueError(f"no line table for document type {doc_type}")

    frame: dict[str, Any] = dict(cols)
    frame["quantity"] = pd.Series(cols["quantity"], dtype=object)
    for name, values in extra.items():
        if name in ("delivery_date", "ship_date", "expected_arrival"):
            frame[name] = _dates(values)
        elif name == "po_line_no":
            frame[name] = _nullable_ints(values)
        elif name == "batch_required":
            frame[name] = pd.Series(values, dtype=bool)
        else:
            frame[name] = values
    if not extra:
        # A document type whose lines add no columns still needs the schema's optional ones.
        if doc_type == "PurchaseOrder":
            frame["delivery_date"] = _dates([])
    return pd.DataFrame(frame)


# --------------------------------------------------------------------------- failures


@dataclass(frozen=True)
class Issue:
    """One rule broken by one line (``line_index`` set) or by the whole document (None)."""

    document_index: int
    line_index: Optional[int]
    code: str
    message: str
    field: str = ""


def _fmt_date(value: Any) -> str:
    return value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value)


def _message(code: str, row: dict[str, Any], known_uoms: frozenset[str], doc_type: str) -> tuple[str, str]:
    """(field, message) for one failing row: what is wrong and what to do about it."""
    what = "a Batch" if doc_type == "Batch" else f"a {doc_type} line"
    if code == QTY_NOT_POSITIVE:
        return "quantity", (
            f"quantity {row['quantity']} is not positive; {what} must carry a quantity greater "
            "than 0: ask the sender to correct it"
        )
    if code == QTY_NOT_DECIMAL:
        return "quantity", (
            f"quantity {row['quantity']!r} is not a Decimal; quantities must stay exact decimals: "
            "fix the mapping that produced it"
        )
    if code == UNKNOWN_UOM:
        return "uom", (
            f"unit {row['uom']!r} is not a known UN/ECE Rec 20 unit ({', '.join(sorted(known_uoms))}); "
            "add the partner's unit to the uom crosswalk or ask the sender to use a Rec 20 code"
        )
    if code == DUPLICATE_LINE:
        return "line_no", (
            f"line_no {row['line_no']} appears more than once in {doc_type} {row['business_key']}; "
            "ask the sender to number lines uniquely"
        )
    if code == BATCH_REQUIRED:
        return "batch_number", (
            f"batch_number is missing for material {row['material_id']} but the partner profile "
            "requires batches; ask the supplier to resend the ASN with batch numbers"
        )
    if code == DATE_ORDER:
        return "expected_arrival", (
            f"expected_arrival {_fmt_date(row['expected_arrival'])} is before ship_date "
            f"{_fmt_date(row['ship_date'])}; ask the supplier to correct the dates"
        )
    raise FatalError("UNKNOWN_RULE", f"no message for rule {code}", "validation.schemas")


def collect_issues(
    frame: pd.DataFrame,
    model: type[pa.DataFrameModel],
    doc_type: str,
    known_uoms: Iterable[str] = DEFAULT_KNOWN_UOMS,
) -> list[Issue]:
    """Validate ``frame`` lazily and turn every failure case into an ``Issue``.

    Failures that are not reason codes (missing column, wrong dtype, coercion) mean the frame
    does not match its schema: that is our flattening broken, not partner data, so it is
    raised as ``FatalError`` rather than quarantined line by line.
    """
    allowed = frozenset(known_uoms)
    schema = schema_for(model, allowed)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []

    contract = cases[~cases["check"].isin(SCHEMA_CODES) | cases["index"].isna()]
    if len(contract):
        raise FatalError(
            "SCHEMA_CONTRACT",
            f"{model.__name__} frame breaks its contract: "
            + "; ".join(f"{r.column}: {r.check}" for r in contract.itertuples()),
            "validation.schemas",
        )

    # A dataframe check reports one case per column of a failing row: one issue per row.
    pairs = cases[["index", "check"]].drop_duplicates()
    issues: list[Issue] = []
    has_lines = "line_index" in frame.columns
    seen_document_level: set[tuple[int, str]] = set()
    # One .loc for all failing rows; per-case .loc would crawl on a 10k-line document.
    rows = frame.loc[pairs["index"].astype(int).unique()].to_dict("index")
    for index, code in pairs.itertuples(index=False):
        row = rows[int(index)]
        doc_index = int(row["document_index"])
        field, message = _message(code, row, allowed, doc_type)
        if code in DOCUMENT_LEVEL_CODES or not has_lines:
            if (doc_index, code) in seen_document_level:
                continue
            seen_document_level.add((doc_index, code))
            issues.append(Issue(doc_index, None, code, message, field))
        else:
            issues.append(Issue(doc_index, int(row["line_index"]), code, message, field))
    return issues
