"""Acknowledgements in the supplier flows, and the interchange register behind them.

* Outbound: every interchange we deliver is registered (direction ``out``); if the partner
  acknowledges (profile ``acks.expect``) it waits as ``pending`` until ``ack_due`` = sent +
  ``acks.deadline_hours``. :func:`check_overdue_acks` marks late ones ``overdue`` and raises
  ``EDI_NOT_ACKNOWLEDGED`` (responsible: the partner).
* Inbound acks: a CONTRL/997/999 file is matched to our outbound interchange (partner +
  control reference) and sets its ack state; nothing else is stored from it.
* Inbound business interchanges are registered (direction ``in``) and, per profile
  (``acks.send``), answered with our CONTRL / 997 / 999 through the outbox (operation
  ``ACK``, one per inbound control reference), delivered to the partner's SFTP by
  :func:`hub.flows.supplier_orders.deliver_outbox`.

The profile's ``acks`` section (hub/partners.py ``AckPolicy``) is read defensively, so a
profile without it gets the defaults below.
"""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy.orm import Session

from adapters.edi import acks as edi_acks
from adapters.edi.edifact import UTF8_BOM, detect_format, parse_interchanges
from canonical_model.store import Store, documents, interchanges, outbox, state
from canonical_model.store.tables import InboxRow, InterchangeRow, OutboxRow, utcnow
from collaboration import edi_alerts
from hub.errors import HubError, SkippableError
from hub.flows.common import quarantine_error, raise_alerts

#: deadline for the partner's CONTRL/997 when the profile does not say
DEFAULT_ACK_DEADLINE = dt.timedelta(hours=24)
TARGET = "supplier_sftp"  # same outbox target as ORDERS: one delivery path per partner
ACK_OPERATION = "ACK"


@dataclass(frozen=True)
class AckSettings:
    send: bool = True                  # we acknowledge what the partner sends
    expect: bool = True                # the partner acknowledges what we send
    deadline: dt.timedelta = DEFAULT_ACK_DEADLINE
    x12_kind: str = "997"              # 997 or 999 for inbound X12


def ack_settings(profile: Any) -> AckSettings:
    """The partner's ack policy; profiles without an ``acks`` section get the defaults."""
    policy = getattr(profile, "acks", None) or getattr(profile, "ack", None)
    if policy is None:
        return AckSettings()
    hours = getattr(policy, "deadline_hours", None)
    standard = getattr(policy, "standard", None)
    return AckSettings(
        send=bool(getattr(policy, "send", True)),
        expect=bool(getattr(policy, "expect", True)),
        deadline=dt.timedelta(hours=hours) if hours else DEFAULT_ACK_DEADLINE,
        x12_kind=standard if standard in ("997", "999") else "997",
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


# ------------------------------------------------------------------------------ outbound
def describe_interchange(data: bytes, filename: str = "<outbound>") -> Optional[tuple[str, str, list, list]]:
    """``(standard, control_ref, message_refs, message_types)`` of the first interchange of an
    EDI payload we are about to send, or None when it is not EDI (e.g. a CSV)."""
    fmt = detect_format(data[:512].removeprefix(UTF8_BOM))
    if fmt == "edifact":
        for inter in parse_interchanges(data, filename):
            messages = inter.messages()
            return "edifact", inter.control_ref, [m.ref for m in messages], [m.type for m in messages]
    if fmt == "x12":
        from adapters.edi import x12

        inter = x12.parse_interchange(data, filename)
        refs, types = [], []
        for txn in inter.iter_transactions():
            # a 997 answers per group (AK1-02 = GS06): keep the group with each set
            refs.append([txn.group.control if txn.group else "", txn.control])
            types.append(txn.set_id)
        return "x12", inter.control_ref, refs, types
    return None


def register_sent(session: Session, row: OutboxRow, profile: Any, sent_at: dt.datetime) -> Optional[InterchangeRow]:
    """Register the interchange an outbox row just delivered (called inside the delivery
    transaction, so "sent" and "registered" commit together)."""
    data = base64.b64decode(row.payload["content_b64"])
    described = describe_interchange(data, row.payload.get("filename", "<outbound>"))
    if described is None:
        return None
    standard, control_ref, refs, types = described
    settings = ack_settings(profile)
    # acks are never acknowledged, so an ACK row waits for nothing
    expects = settings.expect and row.operation != ACK_OPERATION
    registered, _ = interchanges.register(
        session, partner=row.payload["partner"], direction="out", standard=standard, control_ref=control_ref,
        message_refs=refs, message_types=types, outbox_id=row.id,
        ack_status="pending" if expects else "none", ack_due=sent_at + settings.deadline if expects else None)
    return registered


def check_overdue_acks(store: Store, now: Optional[dt.datetime] = None) -> dict[str, int]:
    """Mark outbound interchanges without ack after ``ack_due`` as overdue and alert the partner.

    Idempotent: an overdue row is not alerted again (its Alert stays open until the ack comes).
    """
    now = _aware(now or utcnow())
    counts = {"overdue": 0, "alerts": 0}
    with store.session() as session:
        for row in interchanges.overdue(session, now):
            row.ack_status = "overdue"
            counts["overdue"] += 1
            alert = edi_alerts.not_acknowledged(row.partner, row.control_ref, row.standard, row.message_types,
                                                interchanges.aware(row.created_at), interchanges.aware(row.ack_due),
                                                now)
            counts["alerts"] += raise_alerts(session, [alert], now)
    return counts


# ------------------------------------------------------------------------------ inbound acks
def is_ack(data: bytes) -> bool:
    return edi_acks.is_ack_file(data) is not None


def apply_inbound_acks(session: Session, partner: str, data: bytes, inbox: InboxRow,
                       now: Optional[dt.datetime] = None) -> Optional[dict[str, int]]:
    """Match a partner's CONTRL/997/999 file to our outbound interchanges and record the result.

    A matched ack updates the register only (no document, no quarantine). An unreadable ack or
    one that names an interchange we never sent is quarantined (``ACK_UNREADABLE`` /
    ``ACK_UNMATCHED``): someone must look at it, and nothing is lost. Returns None when the
    file holds business messages besides acks: the caller then processes it as a normal file.
    """
    now = _aware(now or utcnow())
    counts = {"acks": 0, "matched": 0, "quarantined": 0}
    try:
        acks = edi_acks.read_acks(data, inbox.name)
    except HubError as exc:
        if exc.code == "NOT_AN_ACK":
            return None
        error = exc if exc.where.startswith(inbox.name) else exc.located(inbox.name)
        counts["quarantined"] += quarantine_error(session, SkippableError(
            "ACK_UNREADABLE", f"acknowledgement could not be read: {error.code} {error.message}", error.where),
            inbox=inbox)
        return counts
    for ack in acks:
        counts["acks"] += 1
        row = _match(session, partner, ack)
        if row is None:
            ref = ack.group_ref if ack.kind != "CONTRL" else ack.interchange_ref
            counts["quarantined"] += quarantine_error(session, SkippableError(
                "ACK_UNMATCHED", f"{ack.kind} from {partner} acknowledges {ref}, which we never sent to "
                f"{partner}; check the partner's reference or our outbox", inbox.name), inbox=inbox)
            continue
        was_overdue = row.ack_status == "overdue"
        interchanges.record_ack(row, _status(ack, row), {**ack.summary(), "file": inbox.name, "inbox_id": inbox.id},
                                now)
        counts["matched"] += 1
        if was_overdue:
            # the late ack resolves the open EDI_NOT_ACKNOWLEDGED alert instead of leaving it to a human
            _resolve_late_ack_alert(session, row, ack.kind, now)
    return counts


def _resolve_late_ack_alert(session: Session, row: InterchangeRow, kind: str, now: dt.datetime) -> None:
    from collaboration.alerts import resolve

    alert_id = edi_alerts.not_acknowledged(row.partner, row.control_ref, row.standard, row.message_types, None,
                                           interchanges.aware(row.ack_due), now).alert_id
    current = documents.get(session, "Alert", alert_id)
    if current is not None and current.status in ("open", "acknowledged"):
        resolve(session, alert_id, by="rules", root_cause=f"{kind} received after the deadline", now=now)


def _status(ack: edi_acks.Ack, row: InterchangeRow) -> str:
    # "received" (UCI 8) confirms delivery only; the syntax verdict may follow in a second CONTRL
    if ack.result == "received":
        return "accepted" if row.ack_status in ("pending", "overdue") else row.ack_status
    return ack.result


def _match(session: Session, partner: str, ack: edi_acks.Ack) -> Optional[InterchangeRow]:
    if ack.kind == "CONTRL":
        return interchanges.get(session, partner, "out", ack.interchange_ref)
    # a 997/999 names the functional group (AK1-02, GS06), not the interchange: find the
    # outbound interchange that carried that group (numbers compared without leading zeros)
    wanted = (ack.group_ref or "").lstrip("0")
    for row in reversed(interchanges.outbound(session, partner, "x12")):
        groups = {str(ref[0]).lstrip("0") for ref in row.message_refs or [] if isinstance(ref, list) and ref}
        if wanted and (wanted in groups or row.control_ref.lstrip("0") == wanted):
            return row
    return None


# ------------------------------------------------------------------------------ our acks
def acknowledge_inbound(session: Session, profile: Any, data: bytes, inbox: InboxRow,
                        now: Optional[dt.datetime] = None) -> dict[str, int]:
    """Register each inbound interchange of ``data`` and queue our CONTRL/997/999 for it.

    The idempotency key is per inbound control reference, so the same interchange is answered
    once however often the file is processed. A file whose envelope cannot be read at all gets
    no ack (there is no reference to answer); its quarantine row is the signal.
    """
    partner = profile.partner_id
    settings = ack_settings(profile)
    counts = {"registered": 0, "acks_planned": 0}
    try:
        acks = edi_acks.acks_for(data, inbox.name, getattr(getattr(profile, "edi", None), "charset_policy", "lenient"),
                                 x12_kind=settings.x12_kind)
    except HubError:
        return counts
    by_interchange: dict[tuple[str, str], list[edi_acks.Ack]] = {}
    for ack in acks:
        if ack.interchange_ref:  # an X12 ack is per group: one reply per subject interchange
            by_interchange.setdefault((ack.kind, ack.interchange_ref), []).append(ack)
    for (kind, subject_ref), group in by_interchange.items():
        standard = "edifact" if kind == "CONTRL" else "x12"
        messages = [m for ack in group for m in ack.messages]
        result = edi_acks.merge(group)
        detail = {"result": result, "acks": [ack.summary() for ack in group]}
        row, created = interchanges.register(
            session, partner=partner, direction="in", standard=standard, control_ref=subject_ref,
            message_refs=[[m.group_ref, m.ref] if standard == "x12" else m.ref for m in messages],
            message_types=[m.type for m in messages], inbox_id=inbox.id, ack_status="none", ack_detail=detail)
        counts["registered"] += created
        if not settings.send or not created:
            continue
        key = f"{TARGET}:{ACK_OPERATION}:{partner}:{standard}:{subject_ref}"
        # the same counter as ORDERS: a control number is never reused for anything we send
        control_ref = str(state.next_counter(session, f"{standard}:{partner}:out"))
        content = edi_acks.write_acks(group, control_ref, **_our_ids(profile, standard), prepared=now)
        name = f"{kind}_{subject_ref}_{control_ref}.{'edi' if standard == 'edifact' else 'x12'}"
        _, planned = outbox.enqueue(session, target=TARGET, operation=ACK_OPERATION, idempotency_key=key, payload={
            "partner": partner, "control_ref": control_ref, "acknowledges": subject_ref,
            "kind": kind, "result": result, "filename": name,
            "content_b64": base64.b64encode(content).decode("ascii")})
        counts["acks_planned"] += planned
        row.ack_status = result
        row.acked_at = _aware(now or utcnow())
    return counts


def _our_ids(profile: Any, standard: str) -> dict[str, Any]:
    edi = getattr(profile, "edi", None)
    if edi is None:
        return {}
    if standard == "x12":
        ids = getattr(edi, "x12", None)
        if ids is None:
            return {}
        return {"our_id": ids.our_id, "their_id": ids.their_id,
                "our_qualifier": getattr(ids, "our_qualifier", None),
                "their_qualifier": getattr(ids, "their_qualifier", None)}
    return {"our_id": edi.our_id, "their_id": edi.their_id, "syntax": getattr(edi, "syntax", None),
            "our_qualifier": getattr(edi, "our_qualifier", None),
            "their_qualifier": getattr(edi, "their_qualifier", None)}


def duplicate_alert(session: Session, partner: str, control_ref: str, earlier: InboxRow, inbox: InboxRow) -> int:
    """Raise DUPLICATE_INTERCHANGE for a reused control reference; 1 if the alert is new/changed."""
    alert = edi_alerts.duplicate_interchange(partner, control_ref, earlier.name, inbox.name, inbox.sha256)
    return raise_alerts(session, [alert])


# ------------------------------------------------------------------------------ DAG edges
