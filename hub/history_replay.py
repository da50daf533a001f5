"""Replay a partner's archived inbound files through the *current* mappings (``hub replay``).

A mapping or crosswalk change is tried on real history before it goes live: every inbox row
of the partner received since a date is translated again from its raw bytes in the archive
(never fetched from the partner again), validated as the inbound flow would, and each
resulting document is compared with what that file stored.
A partner's day (``hub replay --day``) is the rows received between that day's two midnights on
the partner's clock.

Dry run by default: nothing is written at all (the session is rolled back, never committed).
With ``apply`` the changed documents are stored as new versions through ``documents.upsert``
(which audits the diff), and one audit row records the replay itself.

What a file's re-translation is compared with (``baseline``): the newest stored version whose
``source.file`` is this file. Only if that version is still current may ``apply`` replace it:
a later file (a DESADV replacement, say) superseded it, and re-storing the old file's content
would roll the document back. A document the file never stored (it was quarantined, or the
old mapping could not produce it) is ``new`` and is applied only if no other file stored that
business key since; otherwise it is reported as ``other_source`` and left alone.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.documents import CanonicalDocument
from canonical_model.store import Store, audit, documents, ledger
from canonical_model.store.tables import DocumentRow, InboxRow
from hub.errors import FatalError
from hub.partners import PartnerProfile, get_partner

Status = Literal["unchanged", "changed", "new", "superseded", "other_source", "rejected"]

#: statuses whose new content may be stored by --apply
APPLICABLE = frozenset({"changed", "new"})


@dataclass
class DocumentReplay:
    doc_type: str
    business_key: str
    status: Status
    #: field-level changes ``{path, old, new}`` from the baseline to the re-translation
    diff: list[dict[str, Any]] = field(default_factory=list)
    baseline_version: Optional[int] = None
    #: what validation says now (rejected documents are never applied)
    failures: list[str] = field(default_factory=list)
    #: the version stored by --apply, else None
    applied_version: Optional[int] = None


@dataclass
class FileReplay:
    inbox_id: int
    name: str
    received_at: dt.datetime
    documents: list[DocumentReplay] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class ReplayReport:
    partner_id: str
    since: dt.datetime
    applied: bool
    files: list[FileReplay] = field(default_factory=list)
    #: end of the window (exclusive); None = up to now
    until: Optional[dt.datetime] = None

    def count(self, status: str) -> int:
        return sum(d.status == status for f in self.files for d in f.documents)

    @property
    def applied_count(self) -> int:
        return sum(d.applied_version is not None for f in self.files for d in f.documents)

    def summary(self) -> dict[str, int]:
        statuses = ("unchanged", "changed", "new", "superseded", "other_source", "rejected")
        out = {"files": len(self.files), **{s: self.count(s) for s in statuses}}
        out["file_errors"] = sum(bool(f.errors) for f in self.files)
        out["applied"] = self.applied_count
        return out


def replay_history(store: Store, partner_id: str, since: dt.datetime | dt.date, *, apply: bool = False,
                   profile: Optional[PartnerProfile] = None, actor: Optional[str] = None,
                   until: dt.datetime | dt.date | None = None) -> ReplayReport:
    """Re-translate the partner's inbox received from ``since`` (before ``until``, if given) and
    compare (and with ``apply`` store)."""
    profile = profile or get_partner(partner_id)
    since_dt = _as_utc(since)
    until_dt = _as_utc(until) if until is not None else None
    report = ReplayReport(partner_id=partner_id, since=since_dt, applied=apply, until=until_dt)
    actor = actor or f"replay:{partner_id}"
    # Not store.session(): that commits on exit, and a dry run must not write a single row.
    session = Session(store.engine, expire_on_commit=False)
    try:
        window = [InboxRow.received_at >= since_dt] + ([InboxRow.received_at < until_dt] if until_dt else [])
        rows = list(session.scalars(select(InboxRow).where(
            InboxRow.partner == partner_id, *window,
            # a duplicate was never processed (same bytes, or a reused interchange number); a
            # received one is still waiting for the inbound flow, which owns its first processing
            InboxRow.status.not_in(("duplicate", "received"))).order_by(InboxRow.id)))
        for inbox in rows:
            report.files.append(_replay_file(store, session, inbox, profile, apply, actor))
        if apply:
            window_details = {"since": since_dt.isoformat(), **({"until": until_dt.isoformat()} if until_dt else {})}
            audit.record(session, actor=actor, action="history_replay", subject_type="partner",
                         subject_key=partner_id, details={**window_details, **report.summary()})
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return report


def _replay_file(store: Store, session: Session, inbox: InboxRow, profile: PartnerProfile, apply: bool,
                 actor: str) -> FileReplay:
    from hub.flows.common import open_po_lines
    from hub.translate import translate
    from validation import DEFAULT_KNOWN_UOMS, ValidationContext, validate

    out = FileReplay(inbox_id=inbox.id, name=inbox.name, received_at=inbox.received_at)
    try:
        data = ledger.read_raw(store, session, inbox.sha256)
    except (KeyError, OSError) as exc:
        out.errors.append(FatalError("ARCHIVE_MISSING", f"raw payload {inbox.sha256} not readable from the archive "
                                                        f"({exc})", inbox.name).as_line())
        return out
    result = translate(data, inbox.name, partner=profile.partner_id, charset_policy=profile.edi.charset_policy)
    out.errors.extend(e.as_line() for e in result.errors)
    for doc in result.documents:
        ctx = ValidationContext(
            open_po_lines=open_po_lines(session, exclude_asn_key=doc.business_key),
            known_uoms=DEFAULT_KNOWN_UOMS, over_ship_tolerance_pct=profile.inbound.over_ship_tolerance_pct,
            batch_required=profile.inbound.batch_required, all_or_nothing=profile.inbound.all_or_nothing)
        checked = validate([doc], ctx)
        # validation may keep a document minus its bad lines: compare (and store) what the flow would store
        kept = checked.valid[0] if checked.valid else doc
        entry = _compare(session, inbox.name, kept)
        entry.failures = [f"{f.where}: {f.code} {f.message}" for f in checked.failures]
        if not checked.valid:
            entry.status = "rejected"
        elif apply and entry.status in APPLICABLE:
            entry.applied_version = documents.upsert(session, kept, actor=actor).version
            session.flush()
        out.documents.append(entry)
    return out


def _compare(session: Session, filename: str, doc: CanonicalDocument) -> DocumentReplay:
    doc_type = doc.type  # type: ignore[attr-defined]
    key = doc.business_key
    versions = list(session.scalars(select(DocumentRow).where(
        DocumentRow.doc_type == doc_type, DocumentRow.business_key == key).order_by(DocumentRow.version.desc())))
    baseline = next((row for row in versions if (row.source or {}).get("file") == filename), None)
    current = next((row for row in versions if row.is_current), None)
    new_body = doc.content()
    if baseline is None:
        if current is None:
            return DocumentReplay(doc_type, key, "new", documents.diff({}, new_body))
        return DocumentReplay(doc_type, key, "other_source", documents.diff(current.body, new_body),
                              baseline_version=current.version)
    changes = documents.diff(baseline.body, new_body)
    if not baseline.is_current:
        return DocumentReplay(doc_type, key, "superseded", changes, baseline_version=baseline.version)
    return DocumentReplay(doc_type, key, "changed" if changes else "unchanged", changes,
                          baseline_version=baseline.version)


def _as_utc(since: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(since, dt.datetime):
        return since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
    return dt.datetime.combine(since, dt.time(), tzinfo=dt.timezone.utc)


def parse_since(text: str, tz: Optional[dt.tzinfo] = None) -> dt.datetime:
    """``2026-11-01`` or ``2026-11-01T08:00[+08:00]``; a date/time without a zone is on ``tz``'s clock."""
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise FatalError("BAD_DATE", f"--since {text!r} is not an ISO date (2026-11-01 or 2026-11-01T08:00)",
                         "--since") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz or dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def day_window(text: str, tz: Optional[dt.tzinfo] = None) -> tuple[dt.datetime, dt.datetime]:
    """``--day 2026-11-26``: from that midnight to the next on ``tz``'s clock (the partner's), in UTC."""
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise FatalError("BAD_DATE", f"--day {text!r} is not a date (YYYY-MM-DD, e.g. 2026-11-26)", "--day") from None
    zone = tz or dt.timezone.utc
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    # the next midnight by the calendar, not start + 24 h: a DST day is 23 or 25 hours long
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def render(report: ReplayReport, show_unchanged: bool = False) -> str:
    """The report as text: per file, per document its status and field diff."""
    until = f" until {report.until.isoformat()}" if report.until else ""
    lines = [f"replay of {report.partner_id} since {report.since.isoformat()}{until} "
             f"({'APPLIED' if report.applied else 'dry run: nothing stored'})"]
    for f in report.files:
        lines.append(f"== {f.name} (inbox {f.inbox_id}, received {f.received_at:%Y-%m-%d %H:%M})")
        for error in f.errors:
            lines.append(f"  error {error}")
        for d in f.documents:
            if d.status == "unchanged" and not show_unchanged:
                continue
            version = f" v{d.baseline_version}" if d.baseline_version else ""
            applied = f" -> stored v{d.applied_version}" if d.applied_version else ""
            lines.append(f"  {d.status:<12} {d.doc_type} {d.business_key}{version}{applied}")
            for change in d.diff:
                lines.append(f"    {change['path']}: {_show(change['old'])} -> {_show(change['new'])}")
            for failure in d.failures:
                lines.append(f"    rejected now: {failure}")
    lines.append(" ".join(f"{k}={v}" for k, v in report.summary().items()))
    return "\n".join(lines)


def _show(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, default=str)


__all__ = ["APPLICABLE", "DocumentReplay", "FileReplay", "ReplayReport", "day_window", "parse_since", "render",
           "replay_history"]
