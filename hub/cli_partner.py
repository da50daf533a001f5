"""``hub partner ...``: onboarding suppliers through profiles, templates and certification."""
from __future__ import annotations

import typer

app = typer.Typer(help="Partner profiles: add, check, list, templates, certification.", no_args_is_help=True)
