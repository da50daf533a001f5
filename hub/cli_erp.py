"""``hub erp pull|push``: one ERP entity into the store, or the ERP's outbox out (issue 5 contract).

Output is one line of counts on stdout; exit 0 on success, 1 with ``WHERE: CODE message`` and
the error class on stderr (the system and call are in WHERE), 2 for usage errors.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

import typer

from hub.erp import ENTITIES, SYSTEMS

app = typer.Typer(help="ERP sync: pull master data and orders, push receipts and responses.", no_args_is_help=True)


def _system(system: str) -> str:
    if system not in SYSTEMS:
        typer.echo(f"{system!r} is not an ERP system; use one of {', '.join(SYSTEMS)}", err=True)
        raise typer.Exit(2)
    return system


def _fail(error) -> None:
    typer.echo(f"{error.as_line()} ({error.kind})", err=True)
    raise typer.Exit(1)


@app.command()
def pull(system: str = typer.Argument(..., help=f"one of {', '.join(SYSTEMS)}"),
         entity: str = typer.Argument(..., help=f"one of {', '.join(ENTITIES)}"),
         since: Optional[str] = typer.Option(None, help="ISO datetime (ERP local time); default: the watermark")) -> None:
    """Pull ENTITY from SYSTEM (Connection <SYSTEM>_default) into the store at HUB_DATABASE_URL."""
    from canonical_model.store import open_store
    from hub.erp import open_erp
    from hub.errors import HubError
    from hub.flows.erp_sync import sync_entity

    _system(system)
    if entity not in ENTITIES:
        typer.echo(f"{entity!r} is not an ERP entity; use one of {', '.join(ENTITIES)}", err=True)
        raise typer.Exit(2)
    try:
        start = dt.datetime.fromisoformat(since) if since else None
    except ValueError:
        typer.echo(f"--since {since!r} is not an ISO 8601 date/time", err=True)
        raise typer.Exit(2)
    if start is not None and start.tzinfo is not None:
        start = start.replace(tzinfo=None)  # ERPs keep local times without offset; compare as given
    try:
        client = open_erp(system)
        try:
            counts = sync_entity(open_store(), client, entity, since=start)
        finally:
            client.close()
    except HubError as error:
        _fail(error)
    typer.echo(counts.line())


@app.command()
def push(system: str = typer.Argument(..., help=f"one of {', '.join(SYSTEMS)}")) -> None:
    """Drain SYSTEM's outbox (receipts, inspections, order responses) through Connection <SYSTEM>_default."""
    from canonical_model.store import open_store
    from hub.erp import open_erp
    from hub.errors import HubError
    from hub.flows.erp_push import drain

    _system(system)
    try:
        client = open_erp(system)
        try:
            counts = drain(open_store(), client)
        finally:
            client.close()
    except HubError as error:
        _fail(error)
    typer.echo(counts.line())
