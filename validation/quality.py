"""Data quality of the canonical store, as a Great Expectations suite with Data Docs.

pandera (``validation/schemas.py``) guards the ingest path one batch at a time; this module looks
at the whole store after the fact, once a day (``dags/data_quality.py``) or by hand:

* completeness: required columns filled (``mostly`` where some gaps are normal);
* referential integrity PO <-> ASN <-> receipt, and PO -> supplier / material master data;
* freshness per feed: hours since each inbox partner, event source and ERP entity last delivered;
* value ranges: quantities, prices, lead times.

The store is read into one pandas frame per table (``build_frames``, pure), the expectations are
built in code from ``quality_rules.yaml`` (``build_expectations``), and GX runs them through a
file context under ``out_dir`` so every run is kept as a validation result and rendered as HTML
Data Docs. Great Expectations and pandas are imported inside the functions: importing this module
stays cheap (DAG parse time, the ingest path never imports it at all).

Referential integrity is expressed as "the column of unmatched references is empty"
(``expect_column_values_to_be_null``) rather than ``expect_column_values_to_be_in_set``: the set
would be every PO line of the store, copied into the suite and into Data Docs on every run. The
unmatched column holds the dangling reference itself, so GX's unexpected examples name it.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

from hub.errors import FatalError

RULES_FILE = Path(__file__).with_name("quality_rules.yaml")
#: the expectation suites' names start with this (one suite per table)
SUITE_PREFIX = "hub_quality_"
#: unexpected values kept per failed expectation (the Data Docs page has the rest)
EXAMPLES_KEPT = 5

PO_LINE_COLUMNS = ("po_number", "supplier_id", "status", "order_date", "line_no", "material_id", "quantity", "uom",
                   "unit_price", "delivery_date", "lead_time_days", "unknown_supplier", "unknown_material")
ASN_LINE_COLUMNS = ("asn_number", "supplier_id", "status", "line_no", "po_number", "po_line_no", "material_id",
                    "quantity", "batch_number", "unmatched_po_line")
RECEIPT_LINE_COLUMNS = ("receipt_id", "asn_number", "supplier_id", "received_at", "line_no", "po_number",
                        "po_line_no", "material_id", "quantity", "batch_id", "unmatched_asn", "unmatched_po_line")
#: the unique business key of each line table
LINE_KEYS = {
    "purchase_order_lines": ["po_number", "line_no"],
    "shipment_notice_lines": ["supplier_id", "asn_number", "line_no"],
    "receipt_lines": ["receipt_id", "line_no"],
}
#: (table, column of dangling references, what it means): referential integrity
REFERENCES = (
    ("purchase_order_lines", "unknown_supplier", "every PO names a supplier known as a Party (role supplier)"),
    ("purchase_order_lines", "unknown_material", "every PO line names a known Material"),
    ("shipment_notice_lines", "unmatched_po_line", "every ASN line that names a PO points to an existing PO (line)"),
    ("receipt_lines", "unmatched_asn", "every receipt that names an ASN points to an existing ASN"),
    ("receipt_lines", "unmatched_po_line", "every receipt line that names a PO points to an existing PO (line)"),
)


# ---------------------------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class QualityRules:
    default_sla_hours: Mapping[str, float]
    feed_sla_hours: Mapping[str, float]
    completeness: Mapping[str, Mapping[str, float]]
    ranges: Mapping[str, Mapping[str, Mapping[str, Any]]]

    def sla_for(self, feed: str) -> Optional[float]:
        if feed in self.feed_sla_hours:
            return float(self.feed_sla_hours[feed])
        kind = feed.split(":", 1)[0]
        sla = self.default_sla_hours.get(kind)
        return None if sla is None else float(sla)


def load_rules(path: Path = RULES_FILE) -> QualityRules:
    """Read ``quality_rules.yaml``; a broken file is a FatalError naming the file and the key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FatalError("QUALITY_RULES_UNREADABLE", str(exc), str(path)) from exc
    if not isinstance(raw, dict):
        raise FatalError("QUALITY_RULES_INVALID", "the top level must be a mapping", str(path))
    freshness = raw.get("freshness") or {}
    rules = QualityRules(
        default_sla_hours=dict(freshness.get("default_sla_hours") or {}),
        feed_sla_hours=dict(freshness.get("feeds") or {}),
        completeness={t: dict(cols or {}) for t, cols in (raw.get("completeness") or {}).items()},
        ranges={t: {c: dict(r or {}) for c, r in (cols or {}).items()} for t, cols in (raw.get("ranges") or {}).items()},
    )
    for where, values in (("freshness.default_sla_hours", rules.default_sla_hours),
                          ("freshness.feeds", rules.feed_sla_hours)):
        for key, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise FatalError("QUALITY_RULES_INVALID", f"{value!r} is not a positive number of hours",
                                 f"{path}:{where}.{key}")
    for table, cols in rules.completeness.items():
        for column, mostly in cols.items():
            if not isinstance(mostly, (int, float)) or isinstance(mostly, bool) or not 0 < mostly <= 1:
                raise FatalError("QUALITY_RULES_INVALID", f"{mostly!r} is not a share in (0, 1]",
                                 f"{path}:completeness.{table}.{column}")
    return rules


# --------------------------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class StoreSnapshot:
    """What the suite looks at, as plain data (JSON bodies of the current documents)."""

    purchase_orders: list[dict[str, Any]] = field(default_factory=list)
    shipment_notices: list[dict[str, Any]] = field(default_factory=list)
    receipts: list[dict[str, Any]] = field(default_factory=list)
    supplier_ids: frozenset[str] = frozenset()
    material_ids: frozenset[str] = frozenset()
    #: feed name -> when it last delivered (aware UTC)
    arrivals: Mapping[str, dt.datetime] = field(default_factory=dict)


def _num(value: Any) -> float:
    """A canonical quantity (a JSON string) as a float; unreadable -> NaN, which completeness catches."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _date(value: Any) -> Optional[dt.date]:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands timezone-aware columns back naive; the store writes UTC
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def build_frames(snapshot: StoreSnapshot, rules: QualityRules, now: dt.datetime) -> dict[str, Any]:
    """One DataFrame per table the suite checks; ``feed_freshness`` has one column per feed (hours)."""
    import pandas as pd

    po_lines: set[tuple[str, int]] = set()
    po_numbers: set[str] = set()
    po_rows = []
    for po in snapshot.purchase_orders:
        number, supplier = po.get("po_number"), po.get("supplier_id")
        po_numbers.add(number)
        order_date = _date(po.get("order_date"))
        for line in po.get("lines") or []:
            po_lines.add((number, line.get("line_no")))
            delivery = _date(line.get("delivery_date"))
            po_rows.append({
                "po_number": number, "supplier_id": supplier, "status": po.get("status"),
                "order_date": order_date, "line_no": line.get("line_no"), "material_id": line.get("material_id"),
                "quantity": _num(line.get("quantity")), "uom": line.get("uom"),
                "unit_price": _num(line.get("unit_price")) if line.get("unit_price") is not None else None,
                "delivery_date": delivery,
                "lead_time_days": (delivery - order_date).days if delivery and order_date else None,
                "unknown_supplier": supplier if supplier and supplier not in snapshot.supplier_ids else None,
                "unknown_material": (line.get("material_id")
                                     if line.get("material_id") and line.get("material_id") not in snapshot.material_ids
                                     else None),
            })

    def unmatched_po(po_number: Any, po_line_no: Any) -> Optional[str]:
        if not po_number:
            return None
        if po_line_no is None:
            return None if po_number in po_numbers else f"{po_number}"
        return None if (po_number, po_line_no) in po_lines else f"{po_number} line {po_line_no}"

    asn_keys: set[tuple[str, str]] = set()
    asn_numbers: set[str] = set()
    asn_rows = []
    for asn in snapshot.shipment_notices:
        supplier, number = asn.get("supplier_id"), asn.get("asn_number")
        asn_keys.add((supplier, number))
        asn_numbers.add(number)
        for line in asn.get("lines") or []:
            asn_rows.append({
                "asn_number": number, "supplier_id": supplier, "status": asn.get("status"),
                "line_no": line.get("line_no"), "po_number": line.get("po_number"),
                "po_line_no": line.get("po_line_no"), "material_id": line.get("material_id"),
                "quantity": _num(line.get("quantity")), "batch_number": line.get("batch_number"),
                "unmatched_po_line": unmatched_po(line.get("po_number"), line.get("po_line_no")),
            })

    receipt_rows = []
    for receipt in snapshot.receipts:
        asn_number, supplier = receipt.get("asn_number"), receipt.get("supplier_id")
        if not asn_number:
            unmatched_asn = None
        elif supplier:
            unmatched_asn = None if (supplier, asn_number) in asn_keys else f"{supplier}/{asn_number}"
        else:
            unmatched_asn = None if asn_number in asn_numbers else asn_number
        for line in receipt.get("lines") or []:
            receipt_rows.append({
                "receipt_id": receipt.get("receipt_id"), "asn_number": asn_number, "supplier_id": supplier,
                "received_at": receipt.get("received_at"), "line_no": line.get("line_no"),
                "po_number": line.get("po_number"), "po_line_no": line.get("po_line_no"),
                "material_id": line.get("material_id"), "quantity": _num(line.get("quantity")),
                "batch_id": line.get("batch_id"), "unmatched_asn": unmatched_asn,
                "unmatched_po_line": unmatched_po(line.get("po_number"), line.get("po_line_no")),
            })

    now = _utc(now)
    ages: dict[str, float] = {}
    for feed in sorted(set(snapshot.arrivals) | set(rules.feed_sla_hours)):
        last = snapshot.arrivals.get(feed)
        # never delivered: NaN, so the feed's max is undefined and its freshness expectation fails
        ages[feed] = round((now - _utc(last)).total_seconds() / 3600, 2) if last else math.nan
    freshness = pd.DataFrame({feed: [age] for feed, age in ages.items()}, dtype="float64")

    return {
        "purchase_order_lines": pd.DataFrame(po_rows, columns=list(PO_LINE_COLUMNS)),
        "shipment_notice_lines": pd.DataFrame(asn_rows, columns=list(ASN_LINE_COLUMNS)),
        "receipt_lines": pd.DataFrame(receipt_rows, columns=list(RECEIPT_LINE_COLUMNS)),
        "feed_freshness": freshness,
    }


def snapshot_from_session(session: Any) -> StoreSnapshot:
    """Read the current documents and each feed's last delivery from the store."""
    from sqlalchemy import func, select

    from canonical_model.store.tables import DocumentRow, EventRow, InboxRow, StateRow

    def bodies(doc_type: str) -> list[dict[str, Any]]:
        return list(session.scalars(select(DocumentRow.body).where(
            DocumentRow.doc_type == doc_type, DocumentRow.is_current.is_(True)).order_by(DocumentRow.business_key)))

    arrivals: dict[str, dt.datetime] = {}
    for channel, partner, last in session.execute(select(InboxRow.channel, InboxRow.partner,
                                                         func.max(InboxRow.received_at))
                                                  .group_by(InboxRow.channel, InboxRow.partner)):
        arrivals[f"inbox:{channel}:{partner}"] = _as_datetime(last)
    for source, last in session.execute(select(EventRow.source, func.max(EventRow.received_at))
                                        .group_by(EventRow.source)):
        arrivals[f"events:{source}"] = _as_datetime(last)
    for name, value in session.execute(select(StateRow.name, StateRow.value).where(StateRow.name.like("erp:%:modified"))):
        try:
            arrivals[name[:-len(":modified")]] = _utc(dt.datetime.fromisoformat(value))
        except ValueError:
            continue  # not a timestamp: the ERP sync owns this value, nothing to judge here
    return StoreSnapshot(
        purchase_orders=bodies("PurchaseOrder"),
        shipment_notices=bodies("ShipmentNotice"),
        receipts=bodies("Receipt"),
        supplier_ids=frozenset(b["party_id"] for b in bodies("Party") if b.get("role") == "supplier"),
        material_ids=frozenset(b["material_id"] for b in bodies("Material")),
        arrivals={k: v for k, v in arrivals.items() if v is not None},
    )


def _as_datetime(value: Any) -> Optional[dt.datetime]:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return _utc(value)


# ------------------------------------------------------------------------------------- expectations


def build_expectations(frames: Mapping[str, Any], rules: QualityRules) -> dict[str, list[Any]]:
    """The suite, table by table, as GX expectation objects (each with a description for Data Docs)."""
    import great_expectations as gx

    E = gx.expectations
    suites: dict[str, list[Any]] = {table: [] for table in frames}
    for table, columns in rules.completeness.items():
        for column, mostly in columns.items():
            share = "" if mostly >= 1 else f" in at least {mostly:.0%} of rows"
            suites.setdefault(table, []).append(E.ExpectColumnValuesToNotBeNull(
                column=column, mostly=float(mostly), description=f"completeness: {column} is filled{share}"))
    for table, key in LINE_KEYS.items():
        suites.setdefault(table, []).append(E.ExpectCompoundColumnsToBeUnique(
            column_list=key, description=f"no duplicate lines: ({', '.join(key)}) is unique"))
    for table, column, meaning in REFERENCES:
        suites.setdefault(table, []).append(E.ExpectColumnValuesToBeNull(
            column=column, description=f"referential integrity: {meaning}"))
    for table, columns in rules.ranges.items():
        for column, bounds in columns.items():
            suites.setdefault(table, []).append(E.ExpectColumnValuesToBeBetween(
                column=column, min_value=bounds.get("min"), max_value=bounds.get("max"),
                strict_min=bool(bounds.get("strict_min", False)), strict_max=bool(bounds.get("strict_max", False)),
                description=f"value range: {column} {_range_text(bounds)}"))
    freshness = frames.get("feed_freshness")
    for feed in ([] if freshness is None else list(freshness.columns)):
        sla = rules.sla_for(feed)
        if sla is None:
            continue  # a kind of feed without a default SLA is not judged
        suites.setdefault("feed_freshness", []).append(E.ExpectColumnMaxToBeBetween(
            column=feed, min_value=0, max_value=sla,
            description=f"freshness: {feed} delivered within the last {sla:g} h"))
    return {table: expectations for table, expectations in suites.items() if expectations}


def _range_text(bounds: Mapping[str, Any]) -> str:
    parts = []
    if bounds.get("min") is not None:
        parts.append(f"{'>' if bounds.get('strict_min') else '>='} {bounds['min']}")
    if bounds.get("max") is not None:
        parts.append(f"{'<' if bounds.get('strict_max') else '<='} {bounds['max']}")
    return " and ".join(parts) or "any"


# -------------------------------------------------------------------------------------------- running


@dataclass(frozen=True)
class QualityResult:
    success: bool
    #: one dict per expectation: expectation, table, column, description, success, observed,
    #: unexpected_count, unexpected_examples
    results: list[dict[str, Any]]
    #: the Data Docs page of this context (every run so far)
    docs_index: Path

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.results if not r["success"]]

    def failure_summary(self, limit: int = 10) -> str:
        """The failed expectations (the first ``limit``): table, column, rule, what was seen."""
        failed = self.failed
        more = f"; and {len(failed) - limit} more" if len(failed) > limit else ""
        return "; ".join(describe(r) for r in failed[:limit]) + more


def describe(result: Mapping[str, Any]) -> str:
    where = f"{result['table']}.{result['column']}" if result.get("column") else result["table"]
    seen = (f"{result['unexpected_count']} unexpected, e.g. {', '.join(map(str, result['unexpected_examples']))}"
            if result.get("unexpected_examples") else f"observed {result.get('observed')}")
    return f"{where} {result['expectation']} ({seen})"


def _open_context(out_dir: Path) -> Any:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(out_dir))
    bars = context.variables.progress_bars
    # a ProgressBarsConfig when just set, a plain mapping once read back from great_expectations.yml
    enabled = True if bars is None else (bars.get("globally", True) if isinstance(bars, dict) else bars.globally)
    if enabled:
        # tqdm bars in Airflow task logs are noise
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        context.variables.save()
    return context


def _json_safe(value: Any) -> Any:
    """GX results hold numpy scalars, NaN and dates: make them plain JSON values."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalar
    if callable(item):
        try:
            return _json_safe(item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _result_row(table: str, expectation_result: Any) -> dict[str, Any]:
    config = expectation_result.expectation_config
    result = expectation_result.result or {}
    kwargs = config.kwargs
    column = kwargs.get("column") or (",".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
    observed = result.get("observed_value")
    if observed is None and "unexpected_count" in result:
        observed = f"{result.get('unexpected_count')} of {result.get('element_count')} rows unexpected"
    return {
        "expectation": config.type,
        "table": table,
        "column": column,
        "description": config.description,
        "success": bool(expectation_result.success),
        "observed": _json_safe(observed),
        "unexpected_count": _json_safe(result.get("unexpected_count")),
        "unexpected_examples": _json_safe(list(result.get("partial_unexpected_list") or [])[:EXAMPLES_KEPT]),
    }


def run_quality(store_or_session: Any, *, out_dir: Path, now: dt.datetime,
                rules: Optional[QualityRules] = None) -> QualityResult:
    """Validate the store with the suite; write the validation results and Data Docs under ``out_dir``.

    ``store_or_session``: a ``canonical_model.store.Store`` (a read-only session is opened) or a
    SQLAlchemy session. ``now`` is the reference time for freshness (the DAG's logical date).
    """
    rules = rules or load_rules()
    if hasattr(store_or_session, "session") and callable(store_or_session.session):
        with store_or_session.session() as session:
            snapshot = snapshot_from_session(session)
    else:
        snapshot = snapshot_from_session(store_or_session)
    return validate_snapshot(snapshot, out_dir=out_dir, now=now, rules=rules)


def validate_snapshot(snapshot: StoreSnapshot, *, out_dir: Path, now: dt.datetime,
                      rules: Optional[QualityRules] = None) -> QualityResult:
    """``run_quality`` on data already read from the store."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier

    rules = rules or load_rules()
    frames = build_frames(snapshot, rules, now)
    suites = build_expectations(frames, rules)
    context = _open_context(Path(out_dir))
    datasource = context.data_sources.add_or_update_pandas("canonical_store")
    # one run id for all tables, so Data Docs shows them as one run
    run_id = RunIdentifier(run_name=f"hub_quality_{_utc(now):%Y%m%dT%H%M%SZ}", run_time=_utc(now))
    rows: list[dict[str, Any]] = []
    for table, expectations in suites.items():
        asset_names = {asset.name for asset in datasource.assets}
        asset = datasource.get_asset(table) if table in asset_names else datasource.add_dataframe_asset(table)
        batch_names = {b.name for b in asset.batch_definitions}
        batch = (asset.get_batch_definition("whole_table") if "whole_table" in batch_names
                 else asset.add_batch_definition_whole_dataframe("whole_table"))
        name = f"{SUITE_PREFIX}{table}"
        # rebuilt every run: the suite is code plus quality_rules.yaml, never edited in the store
        suite = gx.ExpectationSuite(name=name, expectations=expectations)
        suite = context.suites.add_or_update(suite)
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=batch, suite=suite))
        checkpoint = context.checkpoints.add_or_update(gx.Checkpoint(
            name=name, validation_definitions=[definition], result_format={"result_format": "SUMMARY"}))
        outcome = checkpoint.run(batch_parameters={"dataframe": frames[table]}, run_id=run_id)
        for suite_result in outcome.run_results.values():
            rows.extend(_result_row(table, r) for r in suite_result.results)
    sites = context.build_data_docs()
    docs_index = Path(out_dir) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    local = sites.get("local_site")
    if isinstance(local, str) and local.startswith("file://"):
        from urllib.parse import unquote, urlparse

        docs_index = Path(unquote(urlparse(local).path))
    return QualityResult(success=all(r["success"] for r in rows), results=rows, docs_index=docs_index)


def run_quality_task(now: Optional[dt.datetime] = None, out_dir: Optional[Path] = None) -> dict[str, Any]:
    """The DAG's task: run the suite on the hub's store; a failed expectation is a FatalError naming it.

    Returns what XCom may carry: counts and the Data Docs path (never the data).
    """
    from canonical_model.store import open_store
    from canonical_model.store.db import var_dir

    now = now or dt.datetime.now(dt.timezone.utc)
    out_dir = out_dir or var_dir() / "gx"
    store = open_store()
    try:
        result = run_quality(store, out_dir=out_dir, now=now)
    finally:
        store.dispose()
    summary_file = Path(out_dir) / "last_run.json"
    summary_file.write_text(json.dumps({
        "at": _utc(now).isoformat(), "success": result.success, "docs_index": str(result.docs_index),
        "results": result.results}, ensure_ascii=False, indent=1), encoding="utf-8")
    if not result.success:
        raise FatalError("DATA_QUALITY_FAILED",
                         f"{len(result.failed)} of {len(result.results)} expectations failed: "
                         f"{result.failure_summary()}. Details: {result.docs_index}",
                         "validation/quality_rules.yaml")
    return {"expectations": len(result.results), "failed": 0, "docs_index": str(result.docs_index)}

