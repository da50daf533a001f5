"""What the read-only CLI commands share: aligned tables, the plan date option and one way to report a
store failure."""
from __future__ import annotations

import datetime as dt
import unicodedata
from contextlib import contextmanager
from typing import Iterator, Optional, Sequence

import typer


def display_width(text: str) -> int:
    # Chinese names take two terminal columns per character; pad by display width, not len()
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, a dashed rule under the headers."""
    cells = [tuple(map(str, headers))] + [tuple(map(str, r)) for r in rows]
    widths = [max(display_width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c + " " * (w - display_width(c)) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@contextmanager
def reading_store() -> Iterator[None]:
    """Exit 1 with the hub's ``WHERE: CODE message`` line, or STORE_UNAVAILABLE for a database error."""
    from sqlalchemy.exc import SQLAlchemyError

    from hub.errors import HubError

    try:
        yield
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(1)
    except SQLAlchemyError as exc:
        # the class name only: a driver message may quote the database URL with its password
        typer.echo(f"store: STORE_UNAVAILABLE {type(exc).__name__}; check HUB_DATABASE_URL", err=True)
        raise typer.Exit(1)


def plan_day(text: Optional[str], command: str) -> dt.date:
    """``--plan-date YYYY-MM-DD`` (default: today); a malformed one exits 2 naming the command."""
    try:
        return dt.date.fromisoformat(text) if text else dt.date.today()
    except ValueError:
        typer.echo(f"{command}: --plan-date {text!r} is not YYYY-MM-DD", err=True)
        raise typer.Exit(2)
