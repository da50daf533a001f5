"""``hub scorecard``: supplier scorecards per month (OTIF, quality, responsiveness, ASN accuracy).

Register in hub/cli.py as a plain command:
``from hub.cli_scorecard import scorecard as scorecard_command`` and
``app.command("scorecard")(scorecard_command)``.

``hub scorecard [--supplier S] [--month YYYY-MM] [--json]`` prints one row per supplier and month
(supplier, month, OTIF %, lot acc %, PPM, resp h, ASN acc %, score, grade; ``-`` where a metric
has no data), the notes of those rows, and one trend line per supplier over all its months.
``--json``: one JSON object per row (``SupplierScore.as_dict()``), nothing else. Definitions
and settings: collaboration/scorecard.py and mappings/scorecard.yaml. The store is only read.

Exit 0: printed (also "no data"). Exit 1: the store or the config is broken (``WHERE: CODE
message`` on stderr). Exit 2: usage (a month not ``YYYY-MM``, a supplier the store does not know).
"""
from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Optional

import typer

from hub.cli_common import reading_store, table


def _usage(message: str) -> None:
    typer.echo(f"scorecard: {message}", err=True)
    raise typer.Exit(2)



def _cell(value: Optional[Decimal], percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        value = (value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return format(value, "f")


def _trend_line(supplier: str, points: list[tuple[str, Optional[Decimal]]]) -> str:
    steps = ", ".join(f"{month} {_cell(score)}" for month, score in points)
    scored = [score for _, score in points if score is not None]
    change = ""
    if len(scored) >= 2:
        delta = scored[-1] - scored[-2]
        change = f" ({'+' if delta >= 0 else ''}{format(delta, 'f')} on the month before)"
    return f"trend {supplier}: {steps}{change}"


def _load(supplier_known: Optional[str]):
    """All scorecards and whether ``supplier_known`` is a supplier the store knows."""
    from canonical_model.store import documents, open_store
    from collaboration.scorecard import load_config, scorecards_from_store

    config = load_config()
    store = open_store()
    try:
        with store.session() as session:
            scores = scorecards_from_store(session, config=config)
            known = {s.supplier_id for s in scores}
            if supplier_known is not None and supplier_known not in known:
                known |= {p.party_id for p in documents.current(session, "Party")}
                known |= {p.supplier_id for p in documents.current(session, "PurchaseOrder")}
    finally:
        store.dispose()
    return scores, supplier_known is None or supplier_known in known


def scorecard(
    supplier: Optional[str] = typer.Option(None, "--supplier", metavar="SUPPLIER", help="only this supplier"),
    month: Optional[str] = typer.Option(None, "--month", metavar="YYYY-MM", help="only this month"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per supplier and month"),
) -> None:
    """Print supplier scorecards per month with their grades and the score trend."""
    from collaboration.scorecard import MONTH_PATTERN, trend

    if month is not None and not MONTH_PATTERN.match(month):
        _usage(f"--month {month!r} is not YYYY-MM")
    with reading_store():
        scores, known = _load(supplier)
    if not known:
        _usage(f"supplier {supplier!r} is not in the store (no Party, purchase order or scored document)")

    mine = [s for s in scores if supplier is None or s.supplier_id == supplier]
    shown = [s for s in mine if month is None or s.month == month]
    if as_json:
        for s in shown:
            typer.echo(json.dumps(s.as_dict(), ensure_ascii=False))
        return
    if not shown:
        typer.echo("no data" + (f" for {supplier}" if supplier else "") + (f" in {month}" if month else ""))
        return
    typer.echo(table(
        ("supplier", "month", "OTIF %", "lot acc %", "PPM", "resp h", "ASN acc %", "score", "grade"),
        [(s.supplier_id, s.month, _cell(s.otif, True), _cell(s.lot_acceptance, True), _cell(s.ppm),
          _cell(s.response_hours_median), _cell(s.asn_accuracy, True), _cell(s.score), s.grade or "-")
         for s in shown]))
    notes = [f"  {s.supplier_id} {s.month}: {note}" for s in shown for note in s.notes]
    if notes:
        typer.echo("notes:")
        typer.echo("\n".join(notes))
    shown_suppliers = {s.supplier_id for s in shown}
    for name, points in trend(s for s in mine if s.supplier_id in shown_suppliers).items():
        typer.echo(_trend_line(name, points))
