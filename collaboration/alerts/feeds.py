"""Feeds that go quiet: FEED_QUIET raised when a partner or a system has not been heard for too long,
resolved by the rules once it speaks again.

What is watched, and what counts as hearing from it:

* a partner's inbound message (``asn``, ``order_response``, ...) per its profile (``expect.max_quiet_hours``,
  default ``hub.partners.DEFAULT_MAX_QUIET_HOURS``): a stored document of that message's canonical type
  from the partner, a quarantined one (it spoke, badly), an inbound EDI interchange carrying that message
  (even one that never mapped) or, for ASNs, a JSON ASN the partner posted to the ingress API;
* a system (``erp``, ``mes``, ``wms``) per mappings/alerting.yaml ``feed_quiet_hours``: the last pull that
  ended without error (``record_heard``, called by hub/tasks.py) or an event the system pushed.

A feed nobody has heard yet is measured from the first sweep that watched it (kept in ``hub_state``), so
adding a partner or starting a fresh hub never alerts at once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canonical_model.documents import Alert
from canonical_model.store import documents, state
from canonical_model.store.tables import DocumentRow, EventRow, InterchangeRow, QuarantineRow, StateRow
from collaboration.alerts.config import SYSTEM_FEEDS, AlertingConfig
from collaboration.alerts.lifecycle import ACTIVE, raise_alert, resolve, utc
from collaboration.alerts.rules import FEED_QUIET, IT_OPS, feed_quiet

#: ingress event sources that are the system speaking (hub/api); the ERP pushes nothing
SYSTEM_EVENT_SOURCES: dict[str, tuple[str, ...]] = {"erp": (), "mes": ("opcenter",), "wms": ("wms",)}
#: an event the ingress refused (bad signature, unknown sender) is not the system speaking
_REFUSED = "refused"
ACTOR = "rules"


@dataclass(frozen=True)
class Feed:
    key: str                 # "SUP-001/asn" or "erp": the alert's subject, one alert per feed
    label: str               # what the alert says is missing
    party: str               # the supplier, or it_ops for a system
    max_quiet: dt.timedelta
    partner: Optional[str] = None       # partner feeds: whose message
    message: Optional[str] = None       # ... which profile message (asn, order_response, ...)
    doc_type: Optional[str] = None      # ... the canonical document it becomes
    edi_message: Optional[str] = None   # ... its EDI name (DESADV, 856) when it comes as EDI
    system: Optional[str] = None        # system feeds: erp | mes | wms


def partner_feeds(profiles: Iterable) -> list[Feed]:
    """One feed per partner and declared inbound message with a quiet limit (``PartnerProfile.quiet_limits``)."""
    from hub.partners import MESSAGE_DOCUMENTS

    feeds = []
    for profile in sorted(profiles, key=lambda p: p.partner_id):
        for message, limit in sorted(profile.quiet_limits().items()):
            settings = profile.messages[message]
            feeds.append(Feed(
                key=f"{profile.partner_id}/{message}", party=profile.supplier_id, max_quiet=limit,
                label=f"{message} ({settings.describe()}) from supplier {profile.partner_id}",
                partner=profile.partner_id, message=message, doc_type=MESSAGE_DOCUMENTS[message],
                edi_message=settings.message if settings.format in ("edifact", "x12") else None))
    return feeds


def system_feeds(config: AlertingConfig, erp_system: str) -> list[Feed]:
    """The watched systems; ``erp_system`` (kingdee, u9, u9cloud) only names the ERP in the message."""
    names = {"erp": f"successful pull from the ERP ({erp_system})", "mes": "successful pull from the MES (Opcenter)",
             "wms": "successful pull from or event of the WMS"}
    feeds = []
    for system in SYSTEM_FEEDS:
        limit = config.feed_quiet(system)
        if limit is not None:
            feeds.append(Feed(key=system, label=names[system], party=IT_OPS, max_quiet=limit, system=system))
    return feeds


# ----------------------------------------------------------------------------- evidence
def _state_name(feed_key: str, what: str) -> str:
    return f"feed:{feed_key}:{what}"


def _stamp(session: Session, name: str) -> Optional[dt.datetime]:
    value = state.get(session, name)
    return utc(dt.datetime.fromisoformat(value)) if value else None


def record_heard(session: Session, system: str, pull: str, at: dt.datetime) -> None:
    """A pull (``pull``: the entity or kind, e.g. ``purchase_orders``) from ``system`` ended without error
    at ``at``. One row per pull: tasks pulling in parallel never write the same row."""
    if system not in SYSTEM_FEEDS:
        raise ValueError(f"unknown system feed {system!r}; known: {', '.join(SYSTEM_FEEDS)}")
    name = _state_name(system, f"heard:{pull}")
    known = _stamp(session, name)
    if known is None or known < utc(at):
        state.put(session, name, utc(at).isoformat())


def _newest(*moments: Optional[dt.datetime]) -> Optional[dt.datetime]:
    present = [utc(m) for m in moments if m is not None]
    return max(present) if present else None


def _partner_heard(session: Session, feed: Feed) -> Optional[dt.datetime]:
    stored = session.scalar(select(func.max(DocumentRow.created_at)).where(
        DocumentRow.doc_type == feed.doc_type, DocumentRow.source["partner"].as_string() == feed.partner))
    quarantined = session.scalar(select(func.max(QuarantineRow.created_at)).where(
        QuarantineRow.partner == feed.partner, QuarantineRow.doc_type == feed.doc_type))
    interchange = None
    if feed.edi_message:
        # message_types is a JSON list: newest first, the first one carrying the message is the answer
        rows = session.execute(select(InterchangeRow.created_at, InterchangeRow.message_types).where(
            InterchangeRow.partner == feed.partner, InterchangeRow.direction == "in")
            .order_by(InterchangeRow.created_at.desc()))
        interchange = next((at for at, types in rows if feed.edi_message in (types or [])), None)
    posted = None
    if feed.message == "asn":
        posted = session.scalar(select(func.max(EventRow.received_at)).where(
            EventRow.source == "supplier", EventRow.partner == feed.partner, EventRow.kind != _REFUSED))
    return _newest(stored, quarantined, interchange, posted)


def _system_heard(session: Session, feed: Feed) -> Optional[dt.datetime]:
    prefix = _state_name(feed.key, "heard:")
    stamps = session.scalars(select(StateRow.value).where(StateRow.name.startswith(prefix, autoescape=True)))
    pulled = _newest(*(dt.datetime.fromisoformat(value) for value in stamps))
    sources = SYSTEM_EVENT_SOURCES.get(feed.system or "", ())
    pushed = session.scalar(select(func.max(EventRow.received_at)).where(
        EventRow.source.in_(sources), EventRow.kind != _REFUSED)) if sources else None
    return _newest(pulled, pushed)


def last_heard(session: Session, feed: Feed) -> Optional[dt.datetime]:
    return _partner_heard(session, feed) if feed.partner else _system_heard(session, feed)


def watched_since(session: Session, feed: Feed, now: dt.datetime) -> dt.datetime:
    """When the hub began watching ``feed``: the first call for it sets it to ``now``."""
    name = _state_name(feed.key, "watched_since")
    since = _stamp(session, name)
    if since is None:
        since = utc(now)
        state.put(session, name, since.isoformat())
    return since


# ----------------------------------------------------------------------------- the sweep
def sweep_feeds(session: Session, feeds: Iterable[Feed], *, now: dt.datetime,
                config: AlertingConfig) -> dict[str, int]:
    """FEED_QUIET for every quiet feed (once per feed); open ones whose feed spoke again, or is no
    longer watched, are resolved by the rules. Returns ``{"opened", "resolved"}``."""
    now = utc(now)
    quiet: dict[str, Alert] = {}
    heard_at: dict[str, Optional[dt.datetime]] = {}
    for feed in feeds:
        heard = heard_at[feed.key] = last_heard(session, feed)
        alert = feed_quiet(feed.key, label=feed.label, party=feed.party, last_heard=heard,
                           watched_since=watched_since(session, feed, now), max_quiet=feed.max_quiet, now=now)
        if alert is not None:
            quiet[alert.alert_id] = alert
    opened = sum(raise_alert(session, alert, now=now, actor=ACTOR, config=config)[1] for alert in quiet.values())
    resolved = 0
    for alert in list(documents.current(session, "Alert")):
        if not isinstance(alert, Alert) or alert.alert_type != FEED_QUIET or alert.status not in ACTIVE:
            continue
        if alert.alert_id in quiet:
            continue
        feed_key = next((s.key for s in alert.subjects if s.type == "Feed"), "?")
        heard = heard_at.get(feed_key)
        cause = (f"the feed spoke again ({heard:%Y-%m-%d %H:%M} UTC)" if heard is not None
                 else "within its quiet limit again (the limit was raised)" if feed_key in heard_at
                 else "the feed is no longer watched (profile or alerting file changed)")
        resolve(session, alert.alert_id, by=ACTOR, root_cause=cause, now=now)
        resolved += 1
    return {"opened": opened, "resolved": resolved}


def feeds_for(partners: Mapping, config: AlertingConfig, erp_system: str) -> list[Feed]:
    """Every watched feed: the partners' (their profiles) and the systems' (the alerting file)."""
    return partner_feeds(partners.values()) + system_feeds(config, erp_system)
