"""``hub alerts``: list alerts, move them through their lifecycle, run the escalation sweep.

Register in hub/cli.py with ``app.add_typer(alerts_app, name="alerts")``
(``from hub.cli_alerts import app as alerts_app``). The store is ``HUB_DATABASE_URL``; the
alerting file mappings/alerting.yaml (or ``HUB_ALERTING_FILE``).

Exit 0: done. Exit 1: the store refused the step (``WHERE: CODE message`` on stderr, e.g.
``Alert X: ALERT_TRANSITION cannot go from resolved to acknowledged ...``). Exit 2: usage
(unknown status, a time that is not ISO 8601).
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Optional

import typer

app = typer.Typer(help="Alerts: list, acknowledge, resolve, close, escalate.", no_args_is_help=True)

STATUSES = ("open", "acknowledged", "resolved", "closed")


def _now(value: Optional[str]) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.timezone.utc)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"--now {value!r} is not an ISO 8601 date/time (e.g. 2026-12-01T08:00:00+00:00)", err=True)
        raise typer.Exit(2)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _fail(error) -> None:
    typer.echo(f"{error.as_line()} ({error.kind})", err=True)
    raise typer.Exit(1)


def _store():
    from canonical_model.store import open_store

    return open_store()


@app.command("list")
def list_alerts(status: Optional[str] = typer.Option(None, "--status", help=f"one of {', '.join(STATUSES)}"),
                as_json: bool = typer.Option(False, "--json", help="one JSON array of the alerts")) -> None:
    """Current alerts (all, or those with --status), newest content of each."""
    from canonical_model.store import documents
    from hub.report import render

    if status is not None and status not in STATUSES:
        typer.echo(f"--status {status!r} is not one of {', '.join(STATUSES)}", err=True)
        raise typer.Exit(2)
    store = _store()
    try:
        with store.session() as session:
            alerts = [a for a in documents.current(session, "Alert") if status is None or a.status == status]
    finally:
        store.dispose()
    if as_json:
        typer.echo(json.dumps([a.content() for a in alerts], ensure_ascii=False, indent=2))
        return
    rows = [(a.alert_id, a.alert_type, a.severity, a.status, a.responsible_party,
             f"{a.due:%Y-%m-%d %H:%M}" if a.due else "-") for a in alerts]
    typer.echo(render(rows, ("alert_id", "type", "severity", "status", "responsible", "due")))


@app.command("show")
def show(alert_id: str = typer.Argument(..., metavar="ID")) -> None:
    """One alert and its history (who opened, acknowledged, escalated, resolved it, and why), as JSON."""
    from collaboration.alerts.lifecycle import get_alert, lifecycle_history
    from hub.errors import HubError

    store = _store()
    try:
        with store.session() as session:
            alert = get_alert(session, alert_id)
            body = {"alert": alert.content(), "history": lifecycle_history(session, alert_id)}
    except HubError as error:
        _fail(error)
    finally:
        store.dispose()
    typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))


def _step(action, alert_id: str, now: Optional[str], **kwargs) -> None:
    from hub.errors import HubError

    moment = _now(now)
    store = _store()
    try:
        with store.session() as session:
            alert = action(session, alert_id, now=moment, **kwargs)
    except HubError as error:
        _fail(error)
    finally:
        store.dispose()
    typer.echo(f"{alert.alert_id}: {alert.status}")


@app.command("ack")
def ack(alert_id: str = typer.Argument(..., metavar="ID"),
        by: str = typer.Option(..., "--by", help="who acknowledges (user name)"),
        now: Optional[str] = typer.Option(None, "--now", help="ISO time to record (default: now)")) -> None:
    """Acknowledge an open alert: its owner has seen it, escalation stops."""
    from collaboration.alerts.lifecycle import acknowledge

    _step(acknowledge, alert_id, now, by=by)


@app.command("resolve")
def resolve(alert_id: str = typer.Argument(..., metavar="ID"),
            by: str = typer.Option(..., "--by", help="who resolved it"),
            root_cause: str = typer.Option(..., "--root-cause", help="why it happened"),
            now: Optional[str] = typer.Option(None, "--now", help="ISO time to record (default: now)")) -> None:
    """Resolve an open or acknowledged alert with its root cause (it reopens if the condition returns)."""
    from collaboration.alerts.lifecycle import resolve as resolve_alert

    _step(resolve_alert, alert_id, now, by=by, root_cause=root_cause)


@app.command("close")
def close(alert_id: str = typer.Argument(..., metavar="ID"),
          by: str = typer.Option(..., "--by", help="who closes it"),
          root_cause: str = typer.Option(..., "--root-cause", help="why it needs no (more) action"),
          now: Optional[str] = typer.Option(None, "--now", help="ISO time to record (default: now)")) -> None:
    """Close an alert for good (also a resolved one), with the reason; the same condition stays closed."""
    from collaboration.alerts.lifecycle import close as close_alert

    _step(close_alert, alert_id, now, by=by, root_cause=root_cause)


@app.command("escalate")
def escalate(now: Optional[str] = typer.Option(None, "--now", help="ISO time of the sweep (default: now)")) -> None:
    """The sweep: overdue open alerts up their chain, then every alert not yet notified at its level.

    Prints ``escalated=N notified=M failed_notifications=K`` (M alerts sent, K channel sends that
    failed); each result is in the audit log (``hub alerts show ID``).
    """
    from collaboration.alerts.config import load_config
    from collaboration.alerts.escalation import default_notifier, escalate_overdue, notify_pending
    from hub.errors import HubError

    moment = _now(now)
    sent = failed = 0
    try:
        config = load_config()
        send = default_notifier(config)

        def counting(alert, level):
            nonlocal sent, failed
            results = send(alert, level)
            sent += 1
            failed += sum(1 for r in results if not r.ok)
            return results

        store = _store()
        try:
            with store.session() as session:
                escalated = escalate_overdue(session, now=moment, config=config, notifier=counting)
                notify_pending(session, now=moment, config=config, notifier=counting)
        finally:
            store.dispose()
    except HubError as error:
        _fail(error)
    typer.echo(f"escalated={len(escalated)} notified={sent} failed_notifications={failed}")
