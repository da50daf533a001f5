"""Named values: sync watermarks and control-number counters that are never reused."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store.tables import StateRow


def get(session: Session, name: str) -> str | None:
    row = session.get(StateRow, name)
    return row.value if row else None


def put(session: Session, name: str, value: str) -> None:
    row = session.get(StateRow, name)
    if row is None:
        session.add(StateRow(name=name, value=value))
    else:
        row.value = value


def next_counter(session: Session, name: str) -> int:
    """Increment and return a counter; the row lock keeps two writers from taking one number."""
    row = session.scalars(select(StateRow).where(StateRow.name == name).with_for_update()).first()
    value = (int(row.value) if row else 0) + 1
    if row is None:
        session.add(StateRow(name=name, value=str(value)))
    else:
        row.value = str(value)
    session.flush()
    return value
