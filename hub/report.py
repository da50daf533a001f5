"""The per-stage table the demo prints: totals from the store, so a rerun shows the same."""
from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select

from canonical_model.store import Store, documents
from canonical_model.store.tables import AuditRow, DocumentRow, EventRow, InboxRow, OutboxRow, QuarantineRow


def stage_table(store: Store) -> list[tuple[str, int, str]]:
    """The demo's stage table; the ERP rows count the plant's ERP (``HUB_ERP``), whichever it is."""
    from hub.erp import configured_system

    erp = configured_system()
    with store.session() as s:
        def outbox_count(target: str, operation: str | None, sent: bool) -> int:
            query = select(func.count()).select_from(OutboxRow).where(
                OutboxRow.target == target, (OutboxRow.status == "sent") if sent else (OutboxRow.status != "sent"))
            if operation:
                query = query.where(OutboxRow.operation == operation)
            return s.scalar(query) or 0

        def sent(target: str, operation: str | None = None) -> int:
            return outbox_count(target, operation, sent=True)

        def waiting(target: str, operation: str | None = None) -> str:
            n = outbox_count(target, operation, sent=False)
            return f"{n} waiting in outbox" if n else ""

        files = s.scalar(select(func.count()).select_from(InboxRow).where(InboxRow.channel == "sftp")) or 0
        dup_files = s.scalar(select(func.count()).select_from(AuditRow).where(
            AuditRow.action == "duplicate_payload", AuditRow.actor == "sftp")) or 0
        reasons = Counter(s.scalars(select(QuarantineRow.reason_code).where(QuarantineRow.status == "open")))
        alert_types = Counter(a.alert_type for a in documents.current(s, "Alert") if a.status == "open")
        # the batches receiving created (the MES may report other lots it consumed; not counted here)
        batches = len({line.batch_id for r in documents.current(s, "Receipt") for line in r.lines if line.batch_id})
        suppliers = sum(1 for p in documents.current(s, "Party") if p.role == "supplier")
        materials = documents.count_current(s, "Material")
        boms = documents.count_current(s, "BillOfMaterials")
        masters = suppliers + materials + boms
        portal_answers = sum(1 for r in documents.current(s, "OrderResponse")
                             if r.source is not None and r.source.system == "jiandaoyun")
        event_sources = Counter(s.scalars(select(EventRow.source)))
        batches_now = list(documents.current(s, "Batch"))
        consumed = [f"{b.batch_id} -> {', '.join(l.ref for l in b.links if l.relation == 'consumed_by')}"
                    for b in batches_now if any(l.relation == "consumed_by" for l in b.links)]
        finished = [f"{', '.join(l.ref for l in b.links if l.relation == 'produced')} -> {b.batch_id}"
                    for b in batches_now if any(l.relation == "produced" for l in b.links)]
        return [
            ("master data pulled (ERP)", masters, f"{suppliers} supplier(s), {materials} material(s), {boms} BOM(s)"),
            ("POs pulled (ERP)", documents.count_current(s, "PurchaseOrder"), ""),
            ("production orders (MES)", documents.count_current(s, "ProductionOrder"), ""),
            *_planning_rows(s),
            ("supplier answers (portal webhook)", portal_answers, ""),
            ("ORDERS sent (SFTP)", sent("supplier_sftp", "ORDERS"), waiting("supplier_sftp", "ORDERS")),
            ("supplier files in", files, f"{dup_files} duplicate drop(s) ignored" if dup_files else ""),
            ("ASNs stored", documents.count_current(s, "ShipmentNotice"), ""),
            ("acknowledgements sent (CONTRL/997)", sent("supplier_sftp", "ACK"), waiting("supplier_sftp", "ACK")),
            ("quarantined", sum(reasons.values()), _detail(reasons)),
            ("expected receipts pushed (WMS)", sent("wms"), waiting("wms")),
            ("receipts stored", documents.count_current(s, "Receipt"), f"{batches} batch record(s)"),
            ("receipts posted (ERP)", sent(erp), waiting(erp)),
            ("events in (ingress API)", sum(event_sources.values()), _detail(event_sources)),
            ("batches consumed by production orders", len(consumed), ", ".join(consumed)),
            ("finished lots (MES)", len(finished), ", ".join(finished)),
            ("alerts open", sum(alert_types.values()), _detail(alert_types)),
        ]


def _planning_rows(s) -> list[tuple[str, int, str]]:
    """Plan run: purchase tasks of the current schedules, versions sent, approvals, acknowledgements."""
    from hub.flows.schedules import SUBJECT

    trail = list(s.scalars(select(AuditRow).where(AuditRow.subject_type == SUBJECT).order_by(AuditRow.id)))
    current = {d.schedule_id: d.version for d in documents.current(s, SUBJECT)}
    tasks = {r.subject_key: len(r.details.get("purchase_tasks", [])) for r in trail
             if r.action == "schedule_proposed" and r.details.get("version") == current.get(r.subject_key)}
    sent = [r for r in trail if r.action == "schedule_sent"]
    approved = [r for r in trail if r.action == "schedule_approved"]
    acknowledged = [r for r in trail if r.action == "schedule_acknowledged"]

    def versions(rows: list[AuditRow], with_channel: bool = False) -> str:
        by_subject: dict[str, list[str]] = {}
        for r in rows:
            label = f"v{r.details['version']}" + (f" {r.details['channel']}" if with_channel else "")
            by_subject.setdefault(r.subject_key, []).append(label)
        return "; ".join(f"{k} {', '.join(v)}" for k, v in sorted(by_subject.items()))

    proposals = s.scalar(select(func.count()).select_from(AuditRow).where(
        AuditRow.action == "schedule_change_proposed")) or 0
    return [
        ("purchase tasks proposed (MRP)", sum(tasks.values()), _detail(Counter(tasks))),
        ("delivery schedules sent", len(sent), versions(sent, with_channel=True)),
        ("plan changes approved (Airflow)", len(approved),
         ", ".join(sorted({f"by {r.actor}" for r in approved}))),
        ("schedule acknowledgements", len(acknowledged), versions(acknowledged)),
        ("schedule-change proposals (MES)", proposals, ""),
    ]


def _detail(counter: Counter) -> str:
    return ", ".join(f"{key} {n}" for key, n in sorted(counter.items()))


def table_counts(store: Store) -> list[tuple[str, int]]:
    """Rows per store table (``hub status``)."""
    from canonical_model.store.tables import Base

    with store.session() as s:
        rows = [(name, s.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in sorted(Base.metadata.tables.items()) if name != "alembic_version"]
        rows.insert(1, ("documents (current)", s.scalar(select(func.count()).select_from(DocumentRow)
                                                         .where(DocumentRow.is_current.is_(True))) or 0))
    return rows


def render(rows: list[tuple], headers: tuple[str, ...]) -> str:
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) if i != 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
