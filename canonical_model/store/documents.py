"""Canonical documents by business key: same content is a no-op, changed content a new version."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Literal, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from canonical_model.documents import DOCUMENT_TYPES, CanonicalDocument
from canonical_model.store import audit, lineage
from canonical_model.store.tables import DocumentRow

Outcome = Literal["created", "unchanged", "updated"]


@dataclass(frozen=True)
class UpsertResult:
    outcome: Outcome
    version: int


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Field-level differences between two JSON values, as ``{path, old, new}`` entries."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            changes += diff(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for i in range(max(len(old), len(new))):
            changes += diff(old[i] if i < len(old) else None, new[i] if i < len(new) else None, f"{path}[{i}]")
        return changes
    return [] if old == new else [{"path": path, "old": old, "new": new}]


def upsert(session: Session, doc: CanonicalDocument, actor: str = "hub",
           evidence: Optional[lineage.Evidence] = None) -> UpsertResult:
    return upsert_many(session, [doc], actor, [evidence])[0]


#: business keys per IN (...) query: far below every backend's bound-parameter limit
_KEYS_PER_QUERY = 500


def upsert_many(session: Session, docs: list[CanonicalDocument], actor: str = "hub",
                evidence: Optional[Sequence[Optional[lineage.Evidence]]] = None) -> list[UpsertResult]:
    """Upsert a batch with one lookup query per document type (bulk syncs), results in input order.

    Same rules as one by one: equal content is a no-op, changed content a new version with its
    diff audited; a key repeated inside the batch is versioned in input order. A new version
    records its lineage: ``evidence[i]`` (the raw payload of ``docs[i]``, if the caller read one)
    and the producer running now (store/lineage.py).
    """
    if evidence is not None and len(evidence) != len(docs):
        raise ValueError(f"{len(evidence)} evidence entries for {len(docs)} documents")
    producer = lineage.current_producer()
    current: dict[tuple[str, str], DocumentRow] = {}
    wanted: dict[str, set[str]] = {}
    for doc in docs:
        wanted.setdefault(doc.type, set()).add(doc.business_key)  # type: ignore[attr-defined]
    for doc_type, keys in wanted.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), _KEYS_PER_QUERY):
            rows = session.scalars(
                select(DocumentRow).where(DocumentRow.doc_type == doc_type,
                                          DocumentRow.business_key.in_(ordered[start:start + _KEYS_PER_QUERY]),
                                          DocumentRow.is_current.is_(True))
                .with_for_update())
            current.update(((row.doc_type, row.business_key), row) for row in rows)
    results = []
    for i, doc in enumerate(docs):
        doc_type, key = doc.type, doc.business_key  # type: ignore[attr-defined]
        previous = current.get((doc_type, key))
        content_hash = doc.content_hash
        if previous is not None and previous.content_hash == content_hash:
            results.append(UpsertResult("unchanged", previous.version))
            continue
        body = doc.content()
        source = doc.source.model_dump(mode="json", exclude_none=True) if doc.source else None
        version = 1 if previous is None else previous.version + 1
        if previous is not None:
            previous.is_current = False
            session.flush()
        row = DocumentRow(doc_type=doc_type, business_key=key, version=version, content_hash=content_hash,
                          source=source, body=body, is_current=True,
                          **lineage.lineage_columns(evidence[i] if evidence is not None else None, producer))
        session.add(row)
        current[(doc_type, key)] = row
        changes = diff(previous.body, body) if previous is not None else None
        audit.record(session, actor=actor, action="created" if previous is None else "new_version",
                     subject_type=doc_type, subject_key=key,
                     details={"version": version, "source": source, **({"diff": changes} if changes else {})})
        results.append(UpsertResult("created" if previous is None else "updated", version))
    return results


def get(session: Session, doc_type: str, key: str) -> CanonicalDocument | None:
    row = session.scalars(select(DocumentRow).where(
        DocumentRow.doc_type == doc_type, DocumentRow.business_key == key, DocumentRow.is_current.is_(True))).first()
    return _to_model(row) if row else None


def current(session: Session, doc_type: str) -> Iterator[CanonicalDocument]:
    rows = session.scalars(select(DocumentRow).where(
        DocumentRow.doc_type == doc_type, DocumentRow.is_current.is_(True)).order_by(DocumentRow.business_key))
    for row in rows:
        yield _to_model(row)


def current_version(session: Session, doc_type: str, key: str) -> int | None:
    return session.scalar(select(DocumentRow.version).where(
        DocumentRow.doc_type == doc_type, DocumentRow.business_key == key, DocumentRow.is_current.is_(True)))


def count_current(session: Session, doc_type: str) -> int:
    return session.scalar(select(func.count()).select_from(DocumentRow).where(
        DocumentRow.doc_type == doc_type, DocumentRow.is_current.is_(True))) or 0


def _to_model(row: DocumentRow) -> CanonicalDocument:
    model = DOCUMENT_TYPES[row.doc_type]
    return model.model_validate({**row.body, "source": row.source})
