"""Audit log: who did what to which subject, with details (e.g. the diff of a new version)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store.tables import AuditRow


def record(session: Session, *, actor: str, action: str, subject_type: str, subject_key: str,
           details: dict[str, Any] | None = None) -> None:
    session.add(AuditRow(actor=actor, action=action, subject_type=subject_type,
                         subject_key=subject_key, details=details))


def history(session: Session, subject_type: str, subject_key: str) -> list[AuditRow]:
    return list(session.scalars(
        select(AuditRow).where(AuditRow.subject_type == subject_type, AuditRow.subject_key == subject_key)
        .order_by(AuditRow.id)))
