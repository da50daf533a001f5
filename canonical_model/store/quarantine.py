"""Quarantine: every failure ends here with its raw evidence, reason code and location.

A fingerprint over (evidence, reason, location, key) makes re-running the same input a no-op
instead of a second quarantine row.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from canonical_model.store.tables import QuarantineRow


def add(session: Session, *, reason_code: str, location: str, message: str,
        evidence: dict[str, Any] | None = None, inbox_id: int | None = None, raw_sha256: str | None = None,
        partner: str | None = None, doc_type: str | None = None, business_key: str | None = None,
        ) -> tuple[QuarantineRow, bool]:
    fingerprint = hashlib.sha256(json.dumps(
        [raw_sha256 or json.dumps(evidence, sort_keys=True, default=str), reason_code, location, business_key],
    ).encode()).hexdigest()
    existing = session.scalars(select(QuarantineRow).where(QuarantineRow.fingerprint == fingerprint)).first()
    if existing is not None:
        if existing.status != "open":
            # a replay that fails the same way puts the row back in front of a human
            existing.status = "open"
            return existing, True
        return existing, False
    row = QuarantineRow(reason_code=reason_code, location=location, message=message, evidence=evidence,
                        inbox_id=inbox_id, raw_sha256=raw_sha256, partner=partner, doc_type=doc_type,
                        business_key=business_key, fingerprint=fingerprint)
    session.add(row)
    session.flush()
    return row, True


def list_rows(session: Session, status: str | None = "open") -> list[QuarantineRow]:
    query = select(QuarantineRow).order_by(QuarantineRow.id)
    if status:
        query = query.where(QuarantineRow.status == status)
    return list(session.scalars(query))
