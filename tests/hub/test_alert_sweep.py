"""The alerts DAG's task: ASN and push rules on the clock, escalation, notification, each once."""
from __future__ import annotations

import datetime as dt

from canonical_model.documents import Alert, PurchaseOrder
from canonical_model.store import audit, documents, open_store, outbox
from hub import tasks


def test_sweep_raises_missing_asns_and_failing_pushes_escalates_and_notifies_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    store = open_store()
    two_hours_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
    with store.session() as s:
        row, _ = outbox.enqueue(s, target="wms", operation="create_inbound", idempotency_key="wms:1", payload={})
        s.flush()
        outbox.mark_retry(row, "HTTP 503", dt.timedelta(minutes=5))
        row.created_at = two_hours_ago  # the WMS SLA is 30 minutes (mappings/alerting.yaml)
        # an alert of another rule, due an hour ago and never acknowledged
        documents.upsert(s, Alert(alert_id="SHORT_SHIPMENT:ASN-1:1", alert_type="SHORT_SHIPMENT", message="short",
                                  responsible_party="buyer", due=two_hours_ago + dt.timedelta(hours=1)))
        # a PO line due yesterday that no ASN announced
        documents.upsert(s, PurchaseOrder(po_number="PO-9", supplier_id="SUP-002", order_date=dt.date(2026, 11, 1),
                                          lines=[{"line_no": 1, "material_id": "1.03.0100", "quantity": "10",
                                                  "uom": "H87", "delivery_date": dt.date.today() - dt.timedelta(days=1)}]))
    first = tasks.alert_sweep()
    assert first["opened"] == 2 and first["escalated"] == 1
    again = tasks.alert_sweep()
    assert again == {"opened": 0, "escalated": 0, "notified": 0}
    with store.session() as s:
        pushes = documents.get(s, "Alert", "PUSH_FAILING:wms")
        (missing,) = [a for a in documents.current(s, "Alert") if a.alert_type == "ASN_MISSING"]
        assert missing.responsible_party == "SUP-002" and "PO-9" in missing.alert_id
        short = documents.get(s, "Alert", "SHORT_SHIPMENT:ASN-1:1")
        trail = [r.action for r in audit.history(s, "Alert", "SHORT_SHIPMENT:ASN-1:1")]
    assert pushes.responsible_party == "it_ops" and "HTTP 503" in pushes.message
    # buyer -> purchasing_manager (the default chain), and told so once
    assert short.responsible_party == "purchasing_manager"
    assert trail.count("alert_escalated") == 1 and trail.count("alert_notified") == 1
    store.dispose()
