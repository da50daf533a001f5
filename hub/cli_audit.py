"""``hub audit --subject KEY``: the audit trail of one subject (a delivery schedule, a purchase task,
an alert...), oldest first. The store is only read.

Columns: when (UTC), actor, action, subject type, version (when the entry names one) and a one-line
summary of the details; ``--json`` prints one JSON object per entry with the full details.

Exit 0: printed. Exit 1: the store cannot be read. Exit 2: usage, or no entry for the subject
(the message lists subjects of the same type that do have a trail, so a typo is easy to see).
"""
from __future__ import annotations

import json
from typing import Any, Optional

import typer

SUMMARY_KEYS = ("plan_date", "requires_approval", "comment", "channel", "filename", "source", "reason", "at")


def _summary(action: str, details: dict[str, Any]) -> str:
    parts = []
    changes = details.get("changes")
    if isinstance(changes, list):
        firm = sum(1 for c in changes if isinstance(c, dict) and c.get("requires_approval"))
        parts.append(f"{len(changes)} change(s), {firm} in the firm zone")
    for key in SUMMARY_KEYS:
        value = details.get(key)
        if value not in (None, "", []):
            parts.append(f"{key}={value}")
    return "; ".join(parts)


def audit(
    subject: str = typer.Option(..., "--subject", metavar="KEY", help="subject key, e.g. DS-SUP-001"),
    subject_type: Optional[str] = typer.Option(None, "--type", help="only this subject type, e.g. DeliverySchedule"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per entry"),
) -> None:
    """Print the audit trail of one subject (who did what, when)."""
    from sqlalchemy import select

    from canonical_model.store import open_store
    from canonical_model.store.tables import AuditRow
    from hub.cli_common import reading_store, table

    if not subject.strip():
        typer.echo("audit: --subject is empty", err=True)
        raise typer.Exit(2)
    with reading_store():
        store = open_store()
        try:
            with store.session() as session:
                query = select(AuditRow).where(AuditRow.subject_key == subject)
                if subject_type:
                    query = query.where(AuditRow.subject_type == subject_type)
                rows = [(r.at, r.actor, r.action, r.subject_type, r.details or {})
                        for r in session.scalars(query.order_by(AuditRow.id))]
                known = [] if rows else sorted(session.scalars(
                    select(AuditRow.subject_key).where(AuditRow.subject_type == (subject_type or "DeliverySchedule"))
                    .distinct().limit(10)))
        finally:
            store.dispose()
    if not rows:
        hint = f"; subjects with a trail: {', '.join(known)}" if known else ""
        typer.echo(f"audit: no entries for subject {subject!r}{hint}", err=True)
        raise typer.Exit(2)
    if as_json:
        for at, actor, action, kind, details in rows:
            typer.echo(json.dumps({"at": at.isoformat(), "actor": actor, "action": action, "subject_type": kind,
                                   "subject_key": subject, "details": details}, ensure_ascii=False, default=str))
        return
    lines = [(at.strftime("%Y-%m-%d %H:%M:%S"), actor, action, kind,
              str(details["version"]) if "version" in details else "", _summary(action, details))
             for at, actor, action, kind, details in rows]
    typer.echo(table(("when", "actor", "action", "type", "version", "details"), lines))
