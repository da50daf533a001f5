"""The ``hub`` command line. Heavy modules are imported inside commands so ``--help`` is fast."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from hub.cli_edi import app as edi_app
from hub.cli_b2mml import app as b2mml_app
from hub.cli_erp import app as erp_app
from hub.cli_serve import serve as serve_command
from hub.cli_whatif import whatif as whatif_command
from hub.cli_alerts import app as alerts_app
from hub.cli_audit import audit as audit_command
from hub.cli_doctor import doctor as doctor_command
from hub.cli_forecast import forecast as forecast_command
from hub.cli_report import report as report_command
from hub.cli_scorecard import scorecard as scorecard_command
from hub.cli_trace import trace as trace_command
from hub.cli_partner import app as partner_app

app = typer.Typer(help="mes-hub: the MES-centred supplier integration hub.", no_args_is_help=True,
                  add_completion=False)
mapping_app = typer.Typer(help="Declarative mappings: run their golden tests.", no_args_is_help=True)
quarantine_app = typer.Typer(help="What could not be processed: list, inspect, replay.", no_args_is_help=True)
app.add_typer(mapping_app, name="mapping")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(edi_app, name="edi")
app.add_typer(partner_app, name="partner")
app.add_typer(erp_app, name="erp")
app.add_typer(b2mml_app, name="b2mml")
app.add_typer(alerts_app, name="alerts")
app.command("serve")(serve_command)
app.command(name="whatif")(whatif_command)
app.command(name="audit")(audit_command)
app.command(name="doctor")(doctor_command)
app.command(name="forecast")(forecast_command)
app.command(name="trace")(trace_command)
app.command(name="scorecard")(scorecard_command)
app.command(name="report")(report_command)
app.command(name="show")(__import__("hub.cli_show", fromlist=["show"]).show)


@app.callback()
def _configure_logging() -> None:
    # every command logs through the hub's handler: HUB_LOG_FORMAT / HUB_LOG_LEVEL, secrets masked
    from hub.logs import configure_logging

    configure_logging()


def _store():
    from canonical_model.store import open_store

    return open_store()


@app.command()
def demo(executor: str = typer.Option("embedded", help="embedded (SQLite, one DAG runner process) or celery "
                                      "(scheduler + Celery workers on PostgreSQL and Redis: hub/cluster.py)")) -> None:
    """Run the whole demo story through Airflow on the embedded default and print the stage table."""
    from hub import demo as demo_story
    from hub.errors import HubError
    from hub.report import render

    try:
        rows = demo_story.run(echo=lambda line: typer.echo(line, err=True), executor=executor)
    except demo_story.DemoFailed as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1)
    except HubError as exc:
        typer.echo(f"demo failed: {exc.as_line()}", err=True)
        raise typer.Exit(1)
    typer.echo(render(rows, ("stage", "count", "detail")))
    try:
        typer.echo("\n" + demo_story.epilogue())
    except demo_story.DemoFailed as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1)


@app.command()
def up() -> None:
    """Start Airflow (standalone) with the simulators and the SFTP server; Ctrl-C stops everything."""
    from hub import up as up_command

    raise typer.Exit(up_command.run())


@app.command()
def translate(
    file: Path = typer.Argument(..., help="EDIFACT file to translate"),
    partner: Optional[str] = typer.Option(None, "--partner", help="partner id (default: UNB sender)"),
) -> None:
    """Translate FILE to canonical documents, one JSON per line (NDJSON) on stdout.

    Exit 0: every document valid. Exit 1: some part rejected (valid documents still printed;
    each error on stderr as FILE:SEGMENT_OR_LINE: CODE message). Exit 2: usage or unreadable file.
    """
    from hub.errors import HubError
    from hub.translate import iter_translate
    from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

    charset_policy = "lenient"
    if partner:
        from hub.partners import load_partners

        profile = load_partners().get(partner)
        charset_policy = profile.edi.charset_policy if profile else charset_policy
    try:
        fh = file.open("rb")
    except OSError as exc:
        typer.echo(f"{file}: UNREADABLE_FILE {exc.strerror or exc}", err=True)
        raise typer.Exit(2)
    ctx = ValidationContext(open_po_lines=None, known_uoms=DEFAULT_KNOWN_UOMS)
    errors: list[str] = []
    failures: list[str] = []
    batch: list = []

    def flush() -> None:
        # documents are validated (pandera) in batches: per document the frame set-up would
        # dominate, all at once would keep the whole file's documents in memory
        if not batch:
            return
        checked = validate(batch, ctx)
        for doc in checked.valid:
            typer.echo(json.dumps(doc.model_dump(mode="json"), ensure_ascii=False))
        failures.extend(f"{file}:{f.to_error().as_line()}" for f in checked.failures)
        batch.clear()

    with fh:
        # streamed: documents go to stdout as their messages are read, so memory stays flat
        # whatever the file size; errors and warnings (few) are printed at the end as before
        stream = iter_translate(fh, str(file), partner=partner, charset_policy=charset_policy)
        try:
            for item in stream:
                if isinstance(item, HubError):
                    errors.append(item.as_line())
                    continue
                batch.append(item)
                if len(batch) >= _VALIDATE_BATCH:
                    flush()
        except OSError as exc:
            typer.echo(f"{file}: UNREADABLE_FILE {exc.strerror or exc}", err=True)
            raise typer.Exit(2)
        flush()
    for warning in stream.warnings:
        typer.echo(f"{file}: WARNING {warning}", err=True)
    for line in errors + failures:
        typer.echo(line, err=True)
    raise typer.Exit(1 if errors or failures else 0)


#: documents validated together by `hub translate` (bounded memory, pandera cost amortised)
_VALIDATE_BATCH = 200


@mapping_app.command("test")
def mapping_test(path: Optional[Path] = typer.Argument(None, help="a mapping file or folder (default: all)")) -> None:
    """Run the golden tests of the mappings; show a diff for each failure."""
    from mappings.golden import discover, run_case

    cases = discover(path)
    failed = 0
    for case in cases:
        result = run_case(case)
        typer.echo(f"{'ok  ' if result.ok else 'FAIL'} {case.mapping.name} <- {case.input.name}")
        if not result.ok:
            failed += 1
            typer.echo(result.diff)
    typer.echo(f"{len(cases) - failed} passed, {failed} failed")
    raise typer.Exit(1 if failed or not cases else 0)


@app.command()
def status() -> None:
    """Row counts per store table; per partner: documents in, quarantined open, pushed; alerts open."""
    from hub.metrics import ALERTS_OPEN, collect, partner_summary
    from hub.report import render, table_counts

    store = _store()
    try:
        typer.echo(render(table_counts(store), ("table", "rows")))
        with store.session() as s:
            samples = collect(s)
    finally:
        store.dispose()
    typer.echo("")
    typer.echo(render(partner_summary(samples), ("partner", "in", "quarantined open", "pushed")))
    typer.echo(f"alerts open: {sum(int(x.value) for x in samples if x.name == ALERTS_OPEN)}")


@quarantine_app.command("list")
def quarantine_list(all_rows: bool = typer.Option(False, "--all", help="also replayed/discarded rows")) -> None:
    """Open quarantine rows: id, reason code, where, message."""
    from canonical_model.store import quarantine
    from hub.report import render

    store = _store()
    with store.session() as s:
        rows = [(r.id, r.reason_code, r.status, r.location, r.message[:100])
                for r in quarantine.list_rows(s, None if all_rows else "open")]
    store.dispose()
    typer.echo(render(rows, ("id", "reason", "status", "where", "message")))


@quarantine_app.command("show")
def quarantine_show(row_id: int = typer.Argument(..., metavar="ID")) -> None:
    """One quarantine row with its evidence, as JSON."""
    from canonical_model.store.tables import QuarantineRow

    store = _store()
    with store.session() as s:
        row = s.get(QuarantineRow, row_id)
        if row is None:
            typer.echo(f"no quarantine row {row_id}", err=True)
            raise typer.Exit(2)
        typer.echo(json.dumps({c.name: getattr(row, c.name) for c in QuarantineRow.__table__.columns},
                              default=str, ensure_ascii=False, indent=2))
    store.dispose()


@quarantine_app.command("replay")
def quarantine_replay(row_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Process the raw payload behind a quarantine row again (after fixing mapping, crosswalk or ERP data)."""
    from hub.replay import replay

    store = _store()
    try:
        outcome = replay(store, row_id)
    except LookupError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2)
    finally:
        store.dispose()
    typer.echo(outcome)


@app.command("replay")
def history_replay(
    partner: str = typer.Option(..., "--partner", help="partner id whose archived inbound files to replay"),
    since: Optional[str] = typer.Option(None, "--since", help="ISO date or date-time (partner's timezone if no offset)"),
    day: Optional[str] = typer.Option(None, "--day", help="YYYY-MM-DD: only the files received that day (partner's "
                                                          "timezone); instead of --since"),
    apply: bool = typer.Option(False, "--apply", help="store the changed documents as new versions (audited)"),
    show_unchanged: bool = typer.Option(False, "--show-unchanged", help="also list documents that did not change"),
) -> None:
    """Re-run a partner's archived raw files through the current mappings; print the canonical diff.

    Dry run by default (nothing is written). Exit 0: no difference (or applied). Exit 1: differences
    found in a dry run, or files/documents that fail now. Exit 2: usage (unknown partner, bad date,
    not exactly one of --since and --day).
    """
    from hub import history_replay as hr
    from hub.errors import HubError
    from hub.partners import get_partner

    if (since is None) == (day is None):
        typer.echo("replay: give either --since DATE or --day YYYY-MM-DD", err=True)
        raise typer.Exit(2)
    try:
        profile = get_partner(partner)
        since_utc, until_utc = hr.day_window(day, profile.tz) if day else (hr.parse_since(since, profile.tz), None)
    except HubError as exc:
        typer.echo(exc.as_line(), err=True)
        raise typer.Exit(2)
    store = _store()
    try:
        report = hr.replay_history(store, partner, since_utc, apply=apply, profile=profile, until=until_utc)
    finally:
        store.dispose()
    typer.echo(hr.render(report, show_unchanged=show_unchanged))
    summary = report.summary()
    pending = 0 if apply else summary["changed"] + summary["new"]
    raise typer.Exit(1 if pending or summary["rejected"] or summary["file_errors"] else 0)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
