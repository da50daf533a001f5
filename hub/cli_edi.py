"""``hub edi ...``: look inside EDI files (envelope, segments) and the acknowledgements we send."""
from __future__ import annotations

import typer

app = typer.Typer(help="EDI tools: parse a file, show the acknowledgement the hub would send.",
                  no_args_is_help=True)
