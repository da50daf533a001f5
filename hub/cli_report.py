"""`hub report`: write the HTML report (scorecards, alerts, exceptions, genealogy, pipeline health)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def report(
    out: Optional[Path] = typer.Option(None, "--out", help="folder for index.html (default: var/report)"),
) -> None:
    """Write the report page OUT/index.html from the store; prints its path.

    Exit 0: written. Exit 2: the folder cannot be written or the store cannot be read.
    """
    from canonical_model.store import open_store
    from canonical_model.store.db import var_dir
    from hub.errors import HubError
    from hub.report_html import write_report

    target_dir = out or var_dir() / "report"
    store = open_store()
    try:
        path = write_report(store, target_dir, quality_dir=var_dir() / "gx")
    except OSError as exc:
        typer.echo(f"{target_dir}: REPORT_NOT_WRITTEN {exc.strerror or exc}", err=True)
        raise typer.Exit(2)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2)
    finally:
        store.dispose()
    typer.echo(str(path))
