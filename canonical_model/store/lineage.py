"""Lineage: what each stored document version was made from, and what made it.

``documents.upsert`` records both on every new version (columns of ``documents``, migration 0005):

* the raw evidence (:class:`Evidence`), given by the flow that read it: the archive entry (sha256)
  and the inbox row that carried it (supplier files, ERP and MES records: each is archived and
  ledgered before mapping) or the pushed event (ingress API). Data pulled without an archived
  payload (the WMS polls) has its ``source`` (system, request) as its only evidence; documents the
  hub derives itself (schedules, alerts) have none.
* the producer (:class:`Producer`, found by :func:`current_producer`): the Airflow task instance,
  from the ``AIRFLOW_CTX_*`` variables Airflow's task runner exports into ``os.environ`` before it
  runs a task (airflow/sdk/execution_time/task_runner.py ``_execute_task``, for ``dag.test()`` as
  for a scheduler's worker); outside Airflow the ``hub`` command that ran (``cli:hub quarantine
  replay``), else the program (``process:<name>``). The ingress API writes no document (it stores
  events and asks Airflow to run the ``events`` DAG), so an event's documents name that DAG's run
  and the event id.

:func:`chain` reads a document's whole lineage back for ``hub show``.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import sys
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from canonical_model.store.interchanges import aware
from canonical_model.store.tables import (ArchiveRow, AuditRow, DocumentRow, EventRow, InboxRow, InterchangeRow,
                                          OutboxRow, QuarantineRow)

#: Airflow's own limit on dag, run and task ids (airflow.models.base.ID_LEN); the columns' width
ID_LEN = 250
#: width of the producer column
LABEL_LEN = 255


@dataclass(frozen=True)
class Evidence:
    """The raw payload a document version was made from."""

    raw_sha256: Optional[str] = None
    inbox_id: Optional[int] = None
    event_id: Optional[int] = None

    @classmethod
    def of_inbox(cls, row: InboxRow) -> "Evidence":
        return cls(raw_sha256=row.sha256, inbox_id=row.id)

    @classmethod
    def of_event(cls, row: EventRow) -> "Evidence":
        return cls(raw_sha256=row.raw_sha256, event_id=row.id)


@dataclass(frozen=True)
class Producer:
    """What wrote a version: a label, and the Airflow task instance when it ran in one."""

    label: str
    dag_id: Optional[str] = None
    dag_run_id: Optional[str] = None
    task_id: Optional[str] = None


def current_producer() -> Producer:
    """The Airflow task instance running now, else the ``hub`` command, else the program.

    Airflow wins over the command line: a task that runs ``hub ...`` (a BashOperator) is that
    task, and a worker started by a click command (``celery worker``) is not that command."""
    dag_id = os.environ.get("AIRFLOW_CTX_DAG_ID")
    if dag_id:
        return Producer("airflow", _clip(dag_id), _clip(os.environ.get("AIRFLOW_CTX_DAG_RUN_ID")),
                        _clip(os.environ.get("AIRFLOW_CTX_TASK_ID")))
    command = _click_command_path()
    if command:
        return Producer(f"cli:{command}"[:LABEL_LEN])
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    return Producer(f"process:{program}"[:LABEL_LEN])


#: where the command line's context lives: typer's own copy of click (the ``hub`` CLI), and click
_CLICK_GLOBALS = ("typer._click.globals", "click.globals")


def _click_command_path() -> Optional[str]:
    # only modules something already imported are looked at: a process that never did runs no command
    for name in _CLICK_GLOBALS:
        module = sys.modules.get(name)
        context = module.get_current_context(silent=True) if module is not None else None
        if context is not None:
            return context.command_path
    return None


def _clip(value: Optional[str]) -> Optional[str]:
    # a value longer than its column would fail the write on PostgreSQL: lineage never stops a document
    return value[:ID_LEN] if value else None


def lineage_columns(evidence: Optional[Evidence], producer: Producer) -> dict[str, Any]:
    """The ``DocumentRow`` column values of one version's lineage."""
    evidence = evidence or Evidence()
    return {"raw_sha256": evidence.raw_sha256, "inbox_id": evidence.inbox_id, "event_id": evidence.event_id,
            "producer": producer.label, "dag_id": producer.dag_id, "dag_run_id": producer.dag_run_id,
            "task_id": producer.task_id}


# ------------------------------------------------------------------------------ finding documents


def find(session: Session, key: str, doc_type: Optional[str] = None) -> list[tuple[str, str]]:
    """``(doc_type, business_key)`` of the documents ``key`` names, sorted.

    The exact business key first; failing that, documents whose key ends with ``/<key>`` (an
    ASN number without its supplier, ``DS-SUP-001`` for ``SUP-001/DS-SUP-001``)."""
    query = select(DocumentRow.doc_type, DocumentRow.business_key).distinct()
    if doc_type is not None:
        query = query.where(DocumentRow.doc_type == doc_type)
    exact = session.execute(query.where(DocumentRow.business_key == key)).all()
    if exact:
        return sorted((t, k) for t, k in exact)
    tail = session.execute(query.where(DocumentRow.business_key.endswith(f"/{key}", autoescape=True))).all()
    return sorted((t, k) for t, k in tail)


def similar(session: Session, key: str, doc_type: Optional[str] = None, limit: int = 5) -> list[tuple[str, str]]:
    """Current documents whose key looks like ``key`` (for an unknown key's message), best first."""
    query = select(DocumentRow.doc_type, DocumentRow.business_key).where(DocumentRow.is_current.is_(True))
    if doc_type is not None:
        query = query.where(DocumentRow.doc_type == doc_type)
    types: dict[str, list[str]] = {}
    for found_type, found_key in session.execute(query):
        types.setdefault(found_key, []).append(found_type)
    close = get_close_matches(key, list(types), n=limit, cutoff=0.6)
    return [(t, k) for k in close for t in sorted(types[k])][:limit]


# ------------------------------------------------------------------------------ reading the chain


def _when(value: Optional[dt.datetime]) -> Optional[str]:
    return aware(value).isoformat() if value is not None else None


def chain(session: Session, doc_type: str, key: str) -> Optional[dict[str, Any]]:
    """Everything the store knows about where a document came from and went, as JSON-ready data;
    None when the store has no such document."""
    versions = list(session.scalars(select(DocumentRow).where(
        DocumentRow.doc_type == doc_type, DocumentRow.business_key == key).order_by(DocumentRow.version)))
    if not versions:
        return None
    current = next((v for v in versions if v.is_current), versions[-1])
    inbox_ids = sorted({v.inbox_id for v in versions if v.inbox_id is not None})
    event_ids = sorted({v.event_id for v in versions if v.event_id is not None})
    inbox = list(session.scalars(select(InboxRow).where(InboxRow.id.in_(inbox_ids)).order_by(InboxRow.id)))
    events = list(session.scalars(select(EventRow).where(EventRow.id.in_(event_ids)).order_by(EventRow.id)))
    digests = sorted({v.raw_sha256 for v in versions if v.raw_sha256}
                     | {r.sha256 for r in inbox} | {e.raw_sha256 for e in events})
    received = {r.sha256: r for r in inbox} | {e.raw_sha256: e for e in events}
    # INFERRED from the flows: some subjects are audited and pushed under the last part of their
    # business key (a delivery schedule as DS-SUP-001, not SUP-001/DS-SUP-001)
    own_id = key.rsplit("/", 1)[-1]
    outbox = _outbox_rows(session, key, own_id)
    return {
        "document": {"type": doc_type, "key": key, "version": current.version,
                     "status": current.body.get("status"), "source": current.source},
        "versions": [_version(v) for v in versions],
        "archive": [_archive(row, received.get(row.sha256)) for row in session.scalars(
            select(ArchiveRow).where(ArchiveRow.sha256.in_(digests)).order_by(ArchiveRow.created_at))],
        "inbox": [_inbox(row) for row in inbox],
        "interchanges": [_interchange(row) for row in session.scalars(select(InterchangeRow).where(
            InterchangeRow.direction == "in", InterchangeRow.inbox_id.in_(inbox_ids)).order_by(InterchangeRow.id))],
        "events": [_event(row) for row in events],
        "quarantine": _quarantine(session, doc_type, key, digests),
        "outbox": [_outbox(row) for row in outbox],
        "audit": _audit(session, doc_type, key, own_id, inbox_ids, [row.idempotency_key for row in outbox]),
    }


def _version(row: DocumentRow) -> dict[str, Any]:
    return {"version": row.version, "current": row.is_current, "created_at": _when(row.created_at),
            "content_hash": row.content_hash, "source": row.source,
            "evidence": {"raw_sha256": row.raw_sha256, "inbox_id": row.inbox_id, "event_id": row.event_id},
            "run": {"producer": row.producer, "dag_id": row.dag_id, "run_id": row.dag_run_id,
                    "task_id": row.task_id}}


def _archive(row: ArchiveRow, carrier: InboxRow | EventRow | None) -> dict[str, Any]:
    partner = received_at = control_ref = None
    if isinstance(carrier, InboxRow):
        partner, received_at, control_ref = carrier.partner, carrier.received_at, carrier.control_ref
    elif isinstance(carrier, EventRow):
        partner, received_at = carrier.partner or carrier.source, carrier.received_at
    return {"sha256": row.sha256, "size": row.size, "path": row.path, "inline": row.content is not None,
            "first_name": row.first_name, "archived_at": _when(row.created_at), "partner": partner,
            "received_at": _when(received_at), "control_ref": control_ref}


def _inbox(row: InboxRow) -> dict[str, Any]:
    return {"id": row.id, "channel": row.channel, "partner": row.partner, "name": row.name, "sha256": row.sha256,
            "size": row.size, "remote_path": row.remote_path, "control_ref": row.control_ref,
            "status": row.status, "detail": row.detail, "received_at": _when(row.received_at),
            "processed_at": _when(row.processed_at)}


def _interchange(row: InterchangeRow) -> dict[str, Any]:
    return {"id": row.id, "partner": row.partner, "standard": row.standard, "control_ref": row.control_ref,
            "message_types": row.message_types, "ack_status": row.ack_status, "inbox_id": row.inbox_id}


def _event(row: EventRow) -> dict[str, Any]:
    return {"id": row.id, "source": row.source, "kind": row.kind, "partner": row.partner,
            "delivery_id": row.delivery_id, "raw_sha256": row.raw_sha256, "status": row.status,
            "detail": row.detail, "received_at": _when(row.received_at), "processed_at": _when(row.processed_at)}


def _quarantine(session: Session, doc_type: str, key: str, digests: list[str]) -> list[dict[str, Any]]:
    """Rows about this document, and rows about the payloads it came from (a sibling message of
    the same file that failed, a duplicate interchange)."""
    about_key = (QuarantineRow.business_key == key) & or_(QuarantineRow.doc_type == doc_type,
                                                           QuarantineRow.doc_type.is_(None))
    rows = session.scalars(select(QuarantineRow).where(or_(about_key, QuarantineRow.raw_sha256.in_(digests)))
                           .order_by(QuarantineRow.id))
    return [{"id": row.id, "reason_code": row.reason_code, "status": row.status, "location": row.location,
             "message": row.message, "created_at": _when(row.created_at),
             "mentions": "document" if row.business_key == key else "raw payload"} for row in rows]


def _outbox_rows(session: Session, key: str, own_id: str) -> list[OutboxRow]:
    # INFERRED from the flows' idempotency keys: a document is pushed as ``<target>:<operation>:<key>``
    # (WMS, ERP) or as a version, ``...:<id>:v<n>`` (ORDERS, delivery schedules)
    versioned = re.compile(rf":{re.escape(own_id)}:v\d+$")
    rows = session.scalars(select(OutboxRow).where(OutboxRow.idempotency_key.contains(own_id, autoescape=True))
                           .order_by(OutboxRow.id))
    return [row for row in rows if row.idempotency_key.endswith(f":{key}") or versioned.search(row.idempotency_key)]


def _outbox(row: OutboxRow) -> dict[str, Any]:
    return {"id": row.id, "target": row.target, "operation": row.operation, "idempotency_key": row.idempotency_key,
            "status": row.status, "attempts": row.attempts, "last_error": row.last_error,
            "created_at": _when(row.created_at), "sent_at": _when(row.sent_at)}


def _audit(session: Session, doc_type: str, key: str, own_id: str, inbox_ids: list[int],
           outbox_keys: list[str]) -> list[dict[str, Any]]:
    subjects = [(AuditRow.subject_type == doc_type) & AuditRow.subject_key.in_(sorted({key, own_id}))]
    if inbox_ids:  # duplicate drops of the same bytes are audited on the inbox row they repeat
        subjects.append((AuditRow.subject_type == "inbox") & AuditRow.subject_key.in_([str(i) for i in inbox_ids]))
    if outbox_keys:
        subjects.append((AuditRow.subject_type == "outbox") & AuditRow.subject_key.in_(outbox_keys))
    rows = session.scalars(select(AuditRow).where(or_(*subjects)).order_by(AuditRow.id))
    return [{"at": _when(row.at), "actor": row.actor, "action": row.action, "subject_type": row.subject_type,
             "subject_key": row.subject_key, "details": row.details} for row in rows]
