"""Store tables. Changes go through an Alembic migration (canonical_model/migrations)."""
from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class DocumentRow(Base):
    """Every version of every canonical document; ``is_current`` marks the newest."""

    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("doc_type", "business_key", "version", name="uq_documents_key_version"),
        Index("ix_documents_current", "doc_type", "business_key", "is_current"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_type: Mapped[str] = mapped_column(String(64))
    business_key: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(default=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Lineage of this version (canonical_model/store/lineage.py); empty on rows older than 0005.
    #: the raw payload it was made from: archive entry, and the inbox row or pushed event that carried it
    raw_sha256: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    inbox_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    event_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    #: what wrote it: ``airflow``, ``cli:hub quarantine replay``, ``process:<program>``
    producer: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    #: the Airflow task instance that wrote it (Airflow's ids are at most 250 characters)
    dag_id: Mapped[Optional[str]] = mapped_column(String(250), nullable=True)
    dag_run_id: Mapped[Optional[str]] = mapped_column(String(250), nullable=True)
    task_id: Mapped[Optional[str]] = mapped_column(String(250), nullable=True)


class InboxRow(Base):
    """Inbound ledger: one row per payload received, keyed by content hash per partner and channel."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("channel", "partner", "sha256", name="uq_inbox_payload"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    partner: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    #: where it was picked up (e.g. the SFTP path) and its server mtime, for the ledger
    remote_path: Mapped[Optional[str]] = mapped_column(String(1024), nullable=True)
    remote_mtime: Mapped[Optional[float]] = mapped_column(Float, nullable=True)
    control_ref: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    #: received -> processed | partially_processed | quarantined | duplicate
    status: Mapped[str] = mapped_column(String(32), default="received")
    detail: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class ArchiveRow(Base):
    """Raw payloads, stored once under their sha256: small ones inline, the others as files.

    An ERP sync archives one small record at a time (hundreds per second): a file each would
    cost more than everything else the sync does, so payloads up to ``INLINE_MAX`` bytes live in
    ``content``; files (EDI interchanges, spreadsheets) in the content-addressed folder, ``path``.
    """

    __tablename__ = "raw_archive"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    path: Mapped[Optional[str]] = mapped_column(String(1024), nullable=True)
    content: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True)
    first_name: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class QuarantineRow(Base):
    """What could not be processed, with its raw evidence, reason code and location."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    inbox_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    raw_sha256: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    partner: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    doc_type: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    business_key: Mapped[Optional[str]] = mapped_column(String(255), nullable=True)
    reason_code: Mapped[str] = mapped_column(String(64))
    location: Mapped[str] = mapped_column(String(512))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    #: open -> replayed | discarded
    status: Mapped[str] = mapped_column(String(32), default="open")
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxRow(Base):
    """Outbound pushes; the idempotency key makes a rerun a no-op."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(64))
    operation: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: pending -> sent | failed (permanent; needs a human)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    result: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class InterchangeRow(Base):
    """EDI interchanges sent and received, with their acknowledgement state.

    Outbound rows wait for the partner's CONTRL/997 until ``ack_due``; inbound rows record the
    ack we generated. (partner, direction, control_ref) is unique: a control number is never
    reused outbound, and a repeated inbound one is a duplicate interchange.
    """

    __tablename__ = "interchanges"
    __table_args__ = (UniqueConstraint("partner", "direction", "control_ref", name="uq_interchange_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    partner: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(8))  # "out" | "in"
    standard: Mapped[str] = mapped_column(String(16))  # "edifact" | "x12"
    control_ref: Mapped[str] = mapped_column(String(64))
    message_refs: Mapped[Optional[list[Any]]] = mapped_column(JSON, nullable=True)
    message_types: Mapped[Optional[list[Any]]] = mapped_column(JSON, nullable=True)
    #: outbox row (outbound) or inbox row (inbound) that carried it
    outbox_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    inbox_id: Mapped[Optional[int]] = mapped_column(Integer, nullable=True)
    #: none -> pending -> accepted | partially_accepted | rejected | overdue
    ack_status: Mapped[str] = mapped_column(String(32), default="none")
    ack_due: Mapped[Optional[dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    ack_detail: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    acked_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditRow(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_subject", "subject_type", "subject_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(255))
    details: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON, nullable=True)


class StateRow(Base):
    """Small named values: sync watermarks and per-partner control-number counters."""

    __tablename__ = "hub_state"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class EventRow(Base):
    """Pushed events (the ingress API): stored before the sender is answered, processed later.

    ``(source, delivery_id)`` is unique: a delivery seen again is a no-op answered with the first
    row's id. The raw body is archived under ``raw_sha256`` (raw_archive); ``payload`` is the
    parsed JSON, kept for people and queries (processing reads the raw bytes).
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "delivery_id", name="uq_events_delivery"),
        Index("ix_events_status", "status", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: jiandaoyun | wms | opcenter | supplier
    source: Mapped[str] = mapped_column(String(32))
    #: what the event is about, per source (e.g. ``asn:data_update``, ``receipt``, ``consumption``)
    kind: Mapped[str] = mapped_column(String(64))
    #: the supplier who posted it (source ``supplier``), else None
    partner: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    delivery_id: Mapped[str] = mapped_column(String(255))
    raw_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    payload: Mapped[Optional[Any]] = mapped_column(JSON, nullable=True)
    #: received -> processed | failed | quarantined
    status: Mapped[str] = mapped_column(String(32), default="received")
    detail: Mapped[Optional[str]] = mapped_column(Text, nullable=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    processed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookNonceRow(Base):
    """Webhook nonces already accepted (replay guard): one INSERT per delivery, a conflict is a replay.

    Keyed by (source, nonce, timestamp), the pair Jiandaoyun signs: a replay repeats both, while a
    random 8-hex nonce that recurs by chance on another day is a new delivery. Rows older than
    the staleness window are useless (stale deliveries are refused before the guard is asked)
    and are purged.
    """

    __tablename__ = "webhook_nonces"
    __table_args__ = (
        UniqueConstraint("source", "nonce", "timestamp", name="uq_webhook_nonce"),
        Index("ix_webhook_nonces_timestamp", "source", "timestamp"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    nonce: Mapped[str] = mapped_column(String(64))
    #: the delivery's signed unix timestamp (seconds)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
