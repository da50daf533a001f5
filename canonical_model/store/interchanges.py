"""The interchange register: every EDI interchange sent or received, with its ack state.

(partner, direction, control_ref) is unique, so registering the same interchange twice keeps
one row (a rerun is a no-op) and an inbound control reference seen again is recognisable.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store.tables import InterchangeRow

#: ack states that still wait for the partner's CONTRL/997 (overdue ones may still get one late)
WAITING = ("pending", "overdue")


def aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """SQLite hands back naive datetimes for timezone columns; they were written as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def get(session: Session, partner: str, direction: str, control_ref: str) -> Optional[InterchangeRow]:
    return session.scalars(select(InterchangeRow).where(
        InterchangeRow.partner == partner, InterchangeRow.direction == direction,
        InterchangeRow.control_ref == control_ref)).first()


def register(session: Session, *, partner: str, direction: str, standard: str, control_ref: str,
             message_refs: Optional[Iterable[Any]] = None, message_types: Optional[Iterable[str]] = None,
             outbox_id: Optional[int] = None, inbox_id: Optional[int] = None, ack_status: str = "none",
             ack_due: Optional[dt.datetime] = None, ack_detail: Optional[dict[str, Any]] = None,
             ) -> tuple[InterchangeRow, bool]:
    """Record an interchange; returns ``(row, created)``. An existing row is left as it is."""
    if direction not in ("in", "out"):
        raise ValueError(f"direction must be 'in' or 'out', not {direction!r}")
    existing = get(session, partner, direction, control_ref)
    if existing is not None:
        return existing, False
    row = InterchangeRow(partner=partner, direction=direction, standard=standard, control_ref=control_ref,
                         message_refs=list(message_refs) if message_refs is not None else None,
                         message_types=sorted(set(message_types)) if message_types is not None else None,
                         outbox_id=outbox_id, inbox_id=inbox_id, ack_status=ack_status, ack_due=ack_due,
                         ack_detail=ack_detail)
    session.add(row)
    session.flush()
    return row, True


def outbound(session: Session, partner: str, standard: Optional[str] = None) -> list[InterchangeRow]:
    query = select(InterchangeRow).where(InterchangeRow.partner == partner, InterchangeRow.direction == "out")
    if standard is not None:
        query = query.where(InterchangeRow.standard == standard)
    return list(session.scalars(query.order_by(InterchangeRow.id)))


def overdue(session: Session, now: dt.datetime) -> list[InterchangeRow]:
    """Outbound interchanges still ``pending`` whose ack deadline has passed at ``now``."""
    rows = session.scalars(select(InterchangeRow).where(
        InterchangeRow.direction == "out", InterchangeRow.ack_status == "pending",
        InterchangeRow.ack_due.is_not(None)).order_by(InterchangeRow.id))
    return [row for row in rows if aware(row.ack_due) <= now]


def record_ack(row: InterchangeRow, status: str, detail: dict[str, Any], at: dt.datetime) -> None:
    row.ack_status = status
    row.ack_detail = detail
    row.acked_at = at
