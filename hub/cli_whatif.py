"""``hub whatif``: which production orders lose material coverage in a scenario; nothing is stored.

Register in hub/cli.py as a plain command (its help then shows no COMMAND placeholder):
``from hub.cli_whatif import whatif as whatif_command`` and
``app.command(name="whatif")(whatif_command)``. ``app.add_typer(whatif_app, name="whatif")`` with
``from hub.cli_whatif import app as whatif_app`` works as well: the options sit on the group's
callback. Either way the command line is ``hub whatif --late SUP-001 --days 5``.

Scenarios (one or more, applied together):

* ``--late SUPPLIER --days N``: every open PO line and in-transit ASN of the supplier arrives N days later;
* ``--demand MATERIAL --pct P``: demand for the material changes by P % (20 = +20 %);
* ``--reject-batch BATCH``: the batch (hub batch id, supplier lot or ERP lot) is not usable.

MRP runs on the current store documents as they are and with the scenario applied; the output
lists the active production orders whose earliest feasible start moves later (or becomes
impossible), with the purchased materials that cause it. ``--json``: one JSON object per line.
The store is only read (``documents.current``); planning parameters and unit conversions come
from ``mappings/sourcing/`` and ``mappings/crosswalks/unit_conversions.csv``.

Exit 0: printed (also when nothing is affected). Exit 1: the planning data is broken (a BOM cycle,
a missing conversion...: the ``WHERE: CODE message`` line says where). Exit 2: usage (no scenario,
an option without its partner, a supplier, material or batch the store does not know).
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Optional

import typer

from hub.cli_common import plan_day, reading_store, table

app = typer.Typer(help="What-if scenarios on the material plan: late supplier, demand change, rejected batch.",
                  add_completion=False)


def _usage(message: str) -> None:
    typer.echo(f"whatif: {message}", err=True)
    raise typer.Exit(2)



def _load_input(plan_date: dt.date):
    from canonical_model.store import documents, open_store
    from hub.flows.schedules import load_plan_input

    store = open_store()
    try:
        with store.session() as session:
            return load_plan_input(session, plan_date), {p.party_id for p in documents.current(session, "Party")}
    finally:
        store.dispose()


@app.callback(invoke_without_command=True)
def whatif(
    late: Optional[str] = typer.Option(None, "--late", metavar="SUPPLIER", help="supplier whose deliveries are late"),
    days: Optional[int] = typer.Option(None, "--days", help="days late (with --late)"),
    demand: Optional[str] = typer.Option(None, "--demand", metavar="MATERIAL", help="material whose demand changes"),
    pct: Optional[str] = typer.Option(None, "--pct", help="demand change in percent (with --demand), e.g. 20"),
    reject_batch: Optional[str] = typer.Option(None, "--reject-batch", metavar="BATCH", help="batch rejected"),
    plan_date: Optional[str] = typer.Option(None, "--plan-date", help="plan date YYYY-MM-DD (default: today)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per affected order"),
) -> None:
    """Print the production orders and dates a scenario affects, without changing stored data."""
    from collaboration import coverage
    from hub.errors import HubError

    if (late is None) != (days is None):
        _usage("--late and --days go together")
    if (demand is None) != (pct is None):
        _usage("--demand and --pct go together")
    if late is None and demand is None and reject_batch is None:
        _usage("name a scenario: --late SUPPLIER --days N, --demand MATERIAL --pct P or --reject-batch BATCH")
    if days is not None and days < 1:
        _usage(f"--days {days}: a delay is at least 1 day")
    percent = None
    if pct is not None:
        try:
            percent = Decimal(pct)
            if not percent.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            _usage(f"--pct {pct!r} is not a number")
        if percent <= -100:
            _usage(f"--pct {pct}: demand cannot drop by 100 % or more")
    day = plan_day(plan_date, "whatif")

    with reading_store():
        inp, parties = _load_input(day)

    scenarios, titles = [], []
    if late is not None:
        known = parties | {p.supplier_id for p in inp.purchase_orders} | {a.supplier_id for a in inp.shipment_notices}
        if late not in known:
            _usage(f"supplier {late!r} is not in the store (no Party, purchase order or shipment notice)")
        scenarios.append(lambda i: coverage.late_supplier(i, late, days))
        titles.append(f"{late} delivers {days} days late")
    if demand is not None:
        if demand not in {m.material_id for m in inp.materials}:
            _usage(f"material {demand!r} is not in the store")
        scenarios.append(lambda i: coverage.demand_change(i, demand, percent))
        titles.append(f"demand for {demand} {'+' if percent >= 0 else ''}{pct} %")
    if reject_batch is not None:
        known = coverage.batch_names(inp.batches) | {s.batch_number for s in inp.stock if s.batch_number} \
            | {line.batch_number for a in inp.shipment_notices for line in a.lines if line.batch_number}
        if reject_batch not in known:
            _usage(f"batch {reject_batch!r} is not in the store (no Batch, stock row or ASN line names it)")
        scenarios.append(lambda i: coverage.reject_batch(i, reject_batch))
        titles.append(f"batch {reject_batch} rejected")

    try:
        result = coverage.what_if(inp, *scenarios)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(1)

    if as_json:
        for c in result.changes:
            typer.echo(json.dumps({"order_id": c.order_id, "material_id": c.material_id,
                                   "planned_start": c.planned_start.isoformat(),
                                   "earliest_start_before": c.before.isoformat() if c.before else None,
                                   "earliest_start_after": c.after.isoformat() if c.after else None,
                                   "delay_days": c.delay_days, "materials": list(c.materials)}, ensure_ascii=False))
        return
    typer.echo(f"what-if: {'; '.join(titles)} (plan date {day.isoformat()})")
    if result.changes:
        rows = [(c.order_id, c.material_id, c.planned_start.isoformat(), c.before.isoformat() if c.before else "-",
                 c.after.isoformat() if c.after else "no firm supply",
                 f"+{c.delay_days} d" if c.delay_days is not None else "-", ", ".join(c.materials))
                for c in result.changes]
        typer.echo(table(("order", "material", "planned start", "earliest before", "earliest after", "delay",
                           "short of"), rows))
    n = len(result.changes)
    typer.echo(f"{n} production order{'s' if n != 1 else ''} affected" if n else "no production order affected")
    if result.already_uncovered:
        typer.echo(f"({len(result.already_uncovered)} orders lacked firm supply before the scenario already and are "
                   f"not listed: MRP plans purchases for them)")
    typer.echo("stored data unchanged (what-if only)")
