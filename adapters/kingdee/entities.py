"""What each ERP entity is in Kingdee (form, field keys, change dates) and how query rows become records.

ExecuteBillQuery returns one flat row per entry line, header values repeated (§4.1). Ordered by
``FID`` and the entry id, the rows of one bill arrive together, so :func:`records` folds them
into one :class:`hub.erp.ErpRecord` per bill as soon as the next bill starts: memory holds one
bill, never the result. Keys stay Kingdee's own (``FSupplierId.FNumber``); the only additions
are ``hub_*`` keys for values the mapping engine cannot compute (it has no arithmetic and no
concatenation), computed here from Kingdee fields and documented per entity.

Field keys marked INFERRED in the protocol notes (ENG_BOM, STK_Inventory, PRD_MO entry ``FSeq``)
are named in ``adapters/kingdee/README.md``; a site that spells them differently fails loudly
with ``KINGDEE_SCHEMA`` naming the key.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Iterator, Optional

from adapters.kingdee.translate import KINGDEE_TZ, PO_ENTRY, PO_ENTRY_KEYS, PO_FORM, PO_HEADER_KEYS
from hub.erp import ErpRecord

AUDITED = "FDocumentStatus='C'"


@dataclass(frozen=True)
class EntitySpec:
    entity: str
    form_id: str
    header_keys: tuple[str, ...]
    #: the record's own number (``FBillNo`` / ``FNumber``); ErpRecord.key
    number_key: str = "FBillNo"
    #: the list the entry lines go into (``FPOOrderEntry``); None: one row = one record
    entry_key: Optional[str] = None
    entry_keys: tuple[str, ...] = ()
    #: identifies an entry line within its bill (dedupe of repeated rows)
    entry_id_key: Optional[str] = None
    #: a change sets one of these; empty: no change date, every pull is a full snapshot
    date_keys: tuple[str, ...] = ("FModifyDate", "FApproveDate")
    #: fixed conditions of every pull
    conditions: tuple[str, ...] = (AUDITED,)
    #: one record per entry line (PRD_MO: each entry is one production order)
    per_entry: bool = False
    #: fields joined by "|" into ErpRecord.key when no single number names the record (stock)
    key_keys: tuple[str, ...] = ()

    @property
    def field_keys(self) -> list[str]:
        return list(self.header_keys) + list(self.entry_keys)

    @property
    def unique_key(self) -> list[str]:
        return ["FID", self.entry_id_key] if self.entry_id_key else ["FID"]

    @property
    def order_string(self) -> str:
        # a total order: offset paging is only stable over one
        return ",".join(f"{key} ASC" for key in self.unique_key)

    def filter_string(self, since: Optional[dt.datetime]) -> str:
        conditions = list(self.conditions)
        if since is not None and self.date_keys:
            literal = filter_literal(since)
            # Audit does not touch FModifyDate: a bill saved before the watermark and audited after it
            # is only found through FApproveDate
            conditions.append("(" + " or ".join(f"{key}>='{literal}'" for key in self.date_keys) + ")")
        return " and ".join(conditions)


_MASTER_HEADER = ("FID", "FNumber", "FName", "FDocumentStatus", "FForbidStatus", "FModifyDate", "FApproveDate",
                  "FUseOrgId.FNumber")

SPECS: dict[str, EntitySpec] = {spec.entity: spec for spec in (
    EntitySpec("suppliers", "BD_Supplier", _MASTER_HEADER + ("FShortName",), number_key="FNumber"),
    EntitySpec("materials", "BD_MATERIAL", _MASTER_HEADER + ("FSpecification", "FBaseUnitId.FNumber"),
               number_key="FNumber"),
    EntitySpec(
        "boms", "ENG_BOM",
        ("FID", "FNumber", "FDocumentStatus", "FForbidStatus", "FModifyDate", "FApproveDate", "FMaterialId.FNumber",
         "FUnitId.FNumber"),
        number_key="FNumber", entry_key="FTreeEntity",
        entry_keys=("FTreeEntity_FEntryId", "FTreeEntity_FSeq", "FMaterialIdChild.FNumber", "FChildUnitId.FNumber",
                    "FNumerator", "FDenominator", "FScrapRate", "FEffectDate", "FExpireDate"),
        entry_id_key="FTreeEntity_FEntryId",
    ),
    EntitySpec("purchase_orders", PO_FORM, tuple(PO_HEADER_KEYS), entry_key=PO_ENTRY,
               entry_keys=tuple(PO_ENTRY_KEYS), entry_id_key="FPOOrderEntry_FEntryID"),
    EntitySpec(
        "production_orders", "PRD_MO",
        ("FID", "FBillNo", "FDate", "FDocumentStatus", "FModifyDate", "FApproveDate", "FPrdOrgId.FNumber"),
        entry_key="FTreeEntity",
        entry_keys=("FTreeEntity_FEntryId", "FTreeEntity_FSeq", "FMaterialId.FNumber", "FUnitId.FNumber", "FQty",
                    "FPlanStartDate", "FPlanFinishDate", "FWorkShopID.FNumber", "FStatus"),
        entry_id_key="FTreeEntity_FEntryId", per_entry=True,
    ),
    # STK_Inventory is a live view without a modification date on many sites: a full snapshot
    # every pull (the flow's content hash makes unchanged rows cheap); no status to filter on
    EntitySpec(
        "stock", "STK_Inventory",
        ("FID", "FMaterialId.FNumber", "FStockId.FNumber", "FLot.FNumber", "FBaseQty", "FBaseUnitId.FNumber",
         "FStockOrgId.FNumber", "FStockStatusId.FNumber"),
        number_key="FID", date_keys=(), conditions=(),
        key_keys=("FMaterialId.FNumber", "FStockId.FNumber", "FLot.FNumber"),
    ),
)}


def filter_literal(when: dt.datetime) -> str:
    """A FilterString date literal in Kingdee local time, floored to the second (>= stays inclusive)."""
    if when.tzinfo is not None:
        when = when.astimezone(KINGDEE_TZ).replace(tzinfo=None)
    return when.replace(microsecond=0).isoformat()


def parse_modified(values: Iterable[Any]) -> Optional[dt.datetime]:
    """The latest of a record's change dates (naive Kingdee local time); None when it has none."""
    latest = None
    for value in values:
        if not isinstance(value, str) or not value.strip():
            continue
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            continue  # a garbled date must not stop the pull; the record still maps or quarantines
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(KINGDEE_TZ).replace(tzinfo=None)
        latest = parsed if latest is None or parsed > latest else latest
    return latest


def records(rows: Iterable[dict[str, Any]], spec: EntitySpec) -> Iterator[ErpRecord]:
    """Stream query rows (ordered by ``spec.order_string``) as records, one bill at a time.

    Rows a misbehaving server repeats are dropped: an entry id already in the bill, or (integer
    FIDs, which Kingdee orders numerically) a row of a bill that is already finished.
    """
    if spec.entry_key is None:
        for row in rows:
            yield _record(spec, row, row)
        return
    header: Optional[dict[str, Any]] = None
    entries: list[dict[str, Any]] = []
    seen: set[Any] = set()
    for row in rows:
        fid = row.get("FID")
        if header is not None and fid != header["FID"]:
            if _before(fid, header["FID"]):
                continue  # a repeat of a bill we already gave out
            yield from _finish(spec, header, entries)
            header = None
        if header is None:
            header = {key: row.get(key) for key in spec.header_keys}
            entries, seen = [], set()
        entry = {key: row.get(key) for key in spec.entry_keys}
        if all(value is None for value in entry.values()):
            continue  # the left join's row of a bill without lines
        entry_id = entry.get(spec.entry_id_key) if spec.entry_id_key else None
        if entry_id is not None:
            if entry_id in seen:
                continue
            seen.add(entry_id)
        entries.append(entry)
    if header is not None:
        yield from _finish(spec, header, entries)


def _before(fid: Any, current: Any) -> bool:
    return (isinstance(fid, int) and isinstance(current, int) and not isinstance(fid, bool)
            and not isinstance(current, bool) and fid < current)


def _finish(spec: EntitySpec, header: dict[str, Any], entries: list[dict[str, Any]]) -> Iterator[ErpRecord]:
    if spec.per_entry:
        for position, entry in enumerate(entries, start=1):
            data = {**header, **entry}
            seq = entry.get("FTreeEntity_FSeq")
            data["hub_order_id"] = f"{header.get('FBillNo')}-{_seq_text(seq if seq is not None else position)}"
            yield ErpRecord(key=data["hub_order_id"], modified=parse_modified(header.get(k) for k in spec.date_keys),
                            data=data)
        return
    data = {**header, spec.entry_key: entries}
    if spec.entity == "boms":
        _bom_quantities(data, spec.entry_key)
    yield _record(spec, header, data)


def _record(spec: EntitySpec, header: dict[str, Any], data: dict[str, Any]) -> ErpRecord:
    if spec.key_keys:
        key = "|".join(str(header.get(k) or "") for k in spec.key_keys)
    else:
        key = str(header.get(spec.number_key) if header.get(spec.number_key) is not None else header.get("FID"))
    return ErpRecord(key=key, modified=parse_modified(header.get(k) for k in spec.date_keys), data=data)


def _seq_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _decimal(value: Any) -> Optional[Decimal]:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _bom_quantities(bill: dict[str, Any], entry_key: str) -> None:
    """``hub_base_quantity`` (header) and ``hub_quantity_per`` (entries) from FNumerator/FDenominator.

    Kingdee's usage is numerator child per denominator parent, per line; the canonical BOM has one
    base quantity for all components. Equal denominators become the base quantity unchanged;
    different whole denominators their least common multiple (numerators scaled, exact); anything
    else base 1 and the quotient. A line with a missing or non-positive value gets no
    ``hub_quantity_per``, so the mapping quarantines the BOM naming that field.
    """
    entries = bill.get(entry_key) or []
    pairs = [(_decimal(e.get("FNumerator")), _decimal(e.get("FDenominator"))) for e in entries]
    valid = [(n, d) for n, d in pairs if n is not None and d is not None and n > 0 and d > 0]
    denominators = {d for _, d in valid}
    base = Decimal(1)
    if len(denominators) == 1:
        base = next(iter(denominators))
    elif denominators and all(d == d.to_integral_value() for d in denominators):
        base = Decimal(math.lcm(*(int(d) for d in denominators)))
    bill["hub_base_quantity"] = _text(base)
    for entry, (numerator, denominator) in zip(entries, pairs):
        if numerator is None or denominator is None or numerator <= 0 or denominator <= 0:
            entry["hub_quantity_per"] = None
            continue
        entry["hub_quantity_per"] = _text(numerator * base / denominator)


def _text(number: Decimal) -> str:
    """Plain decimal text without exponent or trailing zeros (``2``, ``0.5``)."""
    if number == number.to_integral_value():
        return str(number.quantize(Decimal(1)))
    return format(number.normalize(), "f")
