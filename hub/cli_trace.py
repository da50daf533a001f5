"""``hub trace BATCH``: where a batch went (forward) or came from (backward); the store is only read.

Register in hub/cli.py as a plain command: ``from hub.cli_trace import trace as trace_command`` and
``app.command("trace")(trace_command)``. Command line::

    hub trace SUP-001:L33-2611A                 # forward tree (default)
    hub trace L33-2611A --backward              # a supplier lot works when one batch has it
    hub trace SUP-001:L33-2611A --format json   # one JSON object

BATCH is a hub batch id, ``<supplier_id>:<supplier batch number>`` or a supplier lot number that
only one batch has (collaboration.trace.Genealogy.resolve_batch). The tree is
collaboration.trace.trace over the store's current Batch, Receipt, Inspection, ProductionOrder and
ShipmentNotice documents. A forward trace ends with the production orders and finished lots the
batch reached (``affected``) and its failed inspections, if any.

JSON (``--format json``): ``{"batch": <resolved id>, "query": <BATCH as given>, "direction",
"trace": <TraceNode.as_dict()>, "failed_inspections": [...], "affected": {"production_orders": [...],
"finished_lots": [...]} (null for --backward)}``.

Exit 0: printed. Exit 1: the store cannot be read or holds a document that does not validate
(``WHERE: CODE message`` on stderr). Exit 2: usage, an unknown or ambiguous batch
(``trace: unknown batch X; known examples: ...``).
"""
from __future__ import annotations

import enum
import json

import typer

from hub.cli_common import reading_store


class TraceFormat(str, enum.Enum):
    tree = "tree"
    json = "json"


def _load():
    from canonical_model.store import open_store
    from collaboration.trace import Genealogy

    store = open_store()
    try:
        with store.session() as session:
            return Genealogy.from_store(session)
    finally:
        store.dispose()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def trace(
    batch: str = typer.Argument(..., metavar="BATCH", help="hub batch id, SUPPLIER:LOT or a supplier lot number"),
    forward: bool = typer.Option(True, "--forward/--backward",
                                 help="forward: what the batch went into; backward: what it came from"),
    output_format: TraceFormat = typer.Option(TraceFormat.tree, "--format", case_sensitive=False,
                                              help="tree (text) or json"),
) -> None:
    """Trace a batch through receipts, inspections, production orders, finished lots and shipments."""
    from collaboration import trace as genealogy_trace

    with reading_store():
        genealogy = _load()

    direction = "forward" if forward else "backward"
    try:
        root = genealogy_trace.trace(genealogy, batch, direction)
        failed = genealogy_trace.failed_inspections(genealogy, root.id)
        affected = genealogy_trace.affected_by_batch(genealogy, root.id) if forward else None
    except genealogy_trace.BatchLookupError as exc:
        typer.echo(f"trace: {exc.message}", err=True)
        raise typer.Exit(2)

    if output_format is TraceFormat.json:
        typer.echo(json.dumps({"batch": root.id, "query": batch, "direction": direction, "trace": root.as_dict(),
                               "failed_inspections": failed, "affected": affected}, ensure_ascii=False))
        return
    typer.echo(root.render_tree())
    if failed:
        typer.echo(f"failed inspection{'s' if len(failed) > 1 else ''}: {', '.join(failed)}")
    if affected is not None:
        orders, lots = affected["production_orders"], affected["finished_lots"]
        typer.echo(f"affected: {_plural(len(orders), 'production order')}"
                   + (f" ({', '.join(orders)})" if orders else "")
                   + f", {_plural(len(lots), 'finished lot')}" + (f" ({', '.join(lots)})" if lots else ""))
